-- Therapist shifts, typed: one row per therapist, location, day and shift start.
-- Rows come from shift exports (the latest load wins: the loader replaces a key's
-- row; the unique_keys check guards the marts) and from the studio profile
-- (profile_shifts, re-made on every load); export rows for the same (location,
-- therapist, date) replace all of the profile's rows of that day. A shift ending
-- before it starts ends after midnight. bar_trained NULL: unknown.
-- reads: profile_shifts, raw_therapist_shifts

create or replace view stg_exports__therapist_shifts as

with

-- read where it is used (the rows, and the keys the profile's rows give way
-- to), not materialized: a copy of every export row cost the dims that read
-- the whole calendar most of their time (at 10M bookings, dim_therapists and
-- dim_rooms 0.40 -> 0.29 and 0.40 -> 0.23 s of CPU); an incremental build's
-- shadow of a few days materializes it
export_rows as not materialized (
    select * from raw_therapist_shifts
    --incremental: semi join scope_input_days using (location_id, date)
),

profile_rows as (
    select * from profile_shifts
    anti join export_rows using (location_id, therapist_id, date)
    --incremental: semi join scope_input_days using (location_id, date)
),

unioned as (
    select
        date,
        location_id,
        therapist_id,
        therapist_name,
        bar_trained,
        shift_start,
        shift_end,
        break_minutes,
        'export' as source,
        load_id,
        line_number,
    from export_rows

    union all

    select
        date,
        location_id,
        therapist_id,
        therapist_name,
        bar_trained,
        shift_start,
        shift_end,
        break_minutes,
        'profile' as source,
        cast(null as bigint) as load_id,
        cast(null as bigint) as line_number,
    from profile_rows
),

final as (
    select
        -- ids
        location_id,
        therapist_id,
        date,
        nullif(trim(therapist_name), '') as therapist_name,

        -- skills (NULL: unknown)
        bar_trained,

        -- the shift
        shift_start,
        shift_end,
        date + shift_start as shift_start_at,
        date + shift_end
        + case
            when shift_end < shift_start then interval 1 day
            else interval 0 day
        end as shift_end_at,
        greatest(break_minutes, 0) as break_minutes,

        -- where the row came from: 'export' or 'profile'
        source,

        -- lineage (NULL for profile rows)
        load_id,
        line_number,
    from unioned
)

select * from final
