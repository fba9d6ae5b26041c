-- One row per therapist per location per day with a shift or a booking
-- (metric dictionary, fct_therapist_days). booked_minutes and outside_shift_minutes
-- come from the disjoint new parts in int_therapist_booking_segments; sessions,
-- hands-on minutes, bar sessions and back-to-back pairs count worked bookings
-- by booking_date (the segments carry them, sorted once).
-- Stored in date order, as fct_bookings: DuckDB skips row groups whose date range
-- misses a filter, so a page's few weeks read a few row groups. An incremental day
-- re-inserts its refreshed days at the end; they are mostly the newest, so the order
-- roughly holds (a corrected older day only widens the last row group's range).
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

-- every row that makes a therapist-day, with what it adds: shifts their
-- scheduled minutes, booking pieces their booked time (on the calendar day of
-- each piece) and their work (on the booking_date, the first piece), a day with
-- only cancelled bookings nothing. One aggregation then gives each
-- therapist-day, instead of a union of three key sets joined to two aggregates.
day_rows as (
    select
        location_id,
        therapist_id,
        date,
        date_diff('minute', shift_start_at, shift_end_at) - break_minutes
            as scheduled_minutes,
        true as is_shift,
        bar_trained,
        null::bigint as new_minutes,
        null::bigint as new_outside_shift_minutes,
        null::bigint as session_minutes,
        null::boolean as is_session,
        null::boolean as is_bar_session,
        null::boolean as is_back_to_back,
    from shifts

    union all

    select
        location_id,
        therapist_id,
        piece_date as date,
        null as scheduled_minutes,
        false as is_shift,
        null as bar_trained,
        new_minutes,
        new_outside_shift_minutes,
        date_diff('minute', start_at, end_at) as session_minutes,
        is_worked and piece_date = booking_date as is_session,
        is_worked and uses_bars and piece_date = booking_date
            as is_bar_session,
        is_back_to_back,
    from segments

    -- days with only cancelled bookings still get a row
    union all

    select
        location_id,
        therapist_id,
        booking_date as date,
        null as scheduled_minutes,
        false as is_shift,
        null as bar_trained,
        null as new_minutes,
        null as new_outside_shift_minutes,
        null as session_minutes,
        null as is_session,
        null as is_bar_session,
        null as is_back_to_back,
    from bookings
    where not is_held
),

joined as (
    select
        location_id,
        therapist_id,
        date,
        coalesce(sum(scheduled_minutes), 0) as scheduled_minutes,
        coalesce(sum(new_minutes), 0) as booked_minutes,
        coalesce(sum(new_outside_shift_minutes), 0) as outside_shift_minutes,
        count(*) filter (where is_session) as sessions,
        coalesce(sum(session_minutes) filter (where is_session), 0)
            as hands_on_minutes,
        count(*) filter (where is_bar_session) as bar_sessions,
        count(*) filter (where is_back_to_back) as back_to_back_pairs,
        count(*) filter (where is_shift) as shifts,
        bool_or(bar_trained) as bar_trained,
    from day_rows
    group by location_id, therapist_id, date
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
order by date
