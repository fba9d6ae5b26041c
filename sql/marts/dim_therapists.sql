-- One row per therapist per location seen in shifts or bookings. therapist_name
-- and bar_trained are the latest known from shifts: bar_trained NULL means
-- unknown (no shift says, from an export or the studio profile), never "no".
-- reads: fct_bookings, stg_exports__therapist_shifts

create or replace table dim_therapists as

with

shifts as (
    select * from stg_exports__therapist_shifts
),

bookings as (
    select * from fct_bookings
),

from_shifts as (
    select
        location_id,
        therapist_id,
        arg_max(therapist_name, date) filter (where therapist_name is not null)
            as therapist_name,
        -- arg_max skips NULLs: an unknown row never hides an earlier known one
        arg_max(bar_trained, date) as bar_trained,
        min(date) as first_date,
        max(date) as last_date,
    from shifts
    group by location_id, therapist_id
),

from_bookings as (
    select
        location_id,
        therapist_id,
        min(booking_date) as first_date,
        max(booking_date) as last_date,
    from bookings
    group by location_id, therapist_id
),

final as (
    select
        -- ids
        coalesce(from_shifts.location_id, from_bookings.location_id)
            as location_id,
        coalesce(from_shifts.therapist_id, from_bookings.therapist_id)
            as therapist_id,
        coalesce(
            from_shifts.therapist_name,
            from_shifts.therapist_id,
            from_bookings.therapist_id
        ) as therapist_name,

        -- skills
        from_shifts.bar_trained,

        -- extras
        least(from_shifts.first_date, from_bookings.first_date) as first_date,
        greatest(from_shifts.last_date, from_bookings.last_date) as last_date,
    from from_shifts
    full outer join from_bookings
        on
            from_shifts.location_id = from_bookings.location_id
            and from_shifts.therapist_id = from_bookings.therapist_id
)

select * from final
