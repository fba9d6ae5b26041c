-- One row per therapist per location per day with a shift or a booking
-- (metric dictionary, fct_therapist_days). booked_minutes and outside_shift_minutes
-- come from the disjoint new parts in int_therapist_booking_segments; sessions,
-- hands-on minutes, bar sessions and back-to-back pairs count worked bookings
-- by booking_date (the segments carry them, sorted once).
-- reads: fct_bookings, int_therapist_booking_segments, settings,
--     stg_exports__therapist_shifts

create or replace table fct_therapist_days as

with

shifts as (
    select * from stg_exports__therapist_shifts
    --incremental: semi join scope_days using (location_id, date)
),

bookings as (
    select * from fct_bookings
    --incremental: semi join scope_days as scope
    --incremental:     on
    --incremental:         fct_bookings.location_id = scope.location_id
    --incremental:         and fct_bookings.booking_date = scope.date
),

segments as (
    select * from int_therapist_booking_segments
),

settings as (
    select * from settings
),

scheduled as (
    select
        location_id,
        therapist_id,
        date,
        sum(
            date_diff('minute', shift_start_at, shift_end_at) - break_minutes
        ) as scheduled_minutes,
        count(*) as shifts,
        bool_or(bar_trained) as bar_trained,
    from shifts
    group by location_id, therapist_id, date
),

-- one pass over the pieces: a booking's work counts on its booking_date
-- (its first piece); booked time counts on the calendar day of each piece
booked as (
    select
        location_id,
        therapist_id,
        piece_date as date,
        sum(new_minutes) as booked_minutes,
        sum(new_outside_shift_minutes) as outside_shift_minutes,
        count(*) filter (where is_worked and piece_date = booking_date)
            as sessions,
        coalesce(
            sum(date_diff('minute', start_at, end_at)) filter (
                where is_worked and piece_date = booking_date
            ),
            0
        ) as hands_on_minutes,
        count(*) filter (
            where is_worked and uses_bars and piece_date = booking_date
        ) as bar_sessions,
        count(*) filter (where is_back_to_back) as back_to_back_pairs,
    from segments
    group by location_id, therapist_id, piece_date
),

-- days with only cancelled bookings still get a row
booking_days as (
    select distinct
        location_id,
        therapist_id,
        booking_date as date,
    from bookings
    where not is_held
),

therapist_days as (
    select location_id, therapist_id, date from scheduled
    union
    select location_id, therapist_id, date from booked
    union
    select location_id, therapist_id, date from booking_days
),

joined as (
    select
        therapist_days.location_id,
        therapist_days.therapist_id,
        therapist_days.date,
        coalesce(scheduled.scheduled_minutes, 0) as scheduled_minutes,
        coalesce(booked.booked_minutes, 0) as booked_minutes,
        coalesce(booked.outside_shift_minutes, 0) as outside_shift_minutes,
        coalesce(booked.sessions, 0) as sessions,
        coalesce(booked.hands_on_minutes, 0) as hands_on_minutes,
        coalesce(booked.bar_sessions, 0) as bar_sessions,
        coalesce(booked.back_to_back_pairs, 0) as back_to_back_pairs,
        coalesce(scheduled.shifts, 0) as shifts,
        scheduled.bar_trained,
    from therapist_days
    left join scheduled
        on
            therapist_days.location_id = scheduled.location_id
            and therapist_days.therapist_id = scheduled.therapist_id
            and therapist_days.date = scheduled.date
    left join booked
        on
            therapist_days.location_id = booked.location_id
            and therapist_days.therapist_id = booked.therapist_id
            and therapist_days.date = booked.date
),

final as (
    select
        -- ids
        joined.location_id,
        joined.therapist_id,
        joined.date,

        -- time
        cast(joined.scheduled_minutes as integer) as scheduled_minutes,
        cast(joined.booked_minutes as integer) as booked_minutes,
        cast(joined.outside_shift_minutes as integer) as outside_shift_minutes,
        cast(joined.booked_minutes as double)
        / nullif(joined.scheduled_minutes, 0) as utilization,

        -- work
        cast(joined.sessions as integer) as sessions,
        cast(joined.hands_on_minutes as integer) as hands_on_minutes,
        cast(joined.bar_sessions as integer) as bar_sessions,
        cast(joined.back_to_back_pairs as integer) as back_to_back_pairs,

        -- safety flags
        joined.bar_sessions > settings.max_bar_sessions_per_day
            as over_bar_limit,
        joined.hands_on_minutes > settings.max_hands_on_minutes_per_day
            as over_hands_on_limit,

        -- extras
        cast(joined.shifts as integer) as shifts,
        joined.bar_trained,
    from joined
    cross join settings
)

select * from final
