-- One row per location, day and clock hour with any opening hours, shift or
-- booked time (metric dictionary, fct_hourly_capacity). Every interval is cut at the
-- hour: [hour:00, hour+1:00) of the calendar day. Blocked minutes and breaks
-- have no clock position in the exports, so hourly availability ignores them.
-- bar_rooms_full_minutes: an event sweep per location-day over bar-room opening
-- hours (+1/-1 open) and bar-room occupied parts (+1/-1 occupied); the room bar
-- capacity is full while at least one bar room is open and every open one is
-- occupied (by any held booking). The midnight cuts are int_opening_pieces and
-- int_shift_pieces.
-- reads: int_opening_pieces, int_room_booking_segments, int_shift_pieces,
--     int_therapist_booking_segments

create or replace table fct_hourly_capacity as

with

room_segments as (
    select * from int_room_booking_segments
    where new_minutes > 0
),

therapist_segments as (
    select * from int_therapist_booking_segments
    where new_minutes > 0
),

-- opening hours cut at midnight
room_open as (
    select location_id, room_id, has_bars, piece_date, piece_start, piece_end
    from int_opening_pieces
),

-- rooms sharing opening hours are cut into hours once
room_open_groups as (
    select
        location_id,
        piece_date,
        piece_start,
        piece_end,
        count(*) as rooms,
        count(*) filter (where has_bars) as bar_rooms,
    from room_open
    group by location_id, piece_date, piece_start, piece_end
),

-- shifts cut at midnight, merged per therapist-day so overlaps count once
shift_pieces as (
    select location_id, therapist_id, piece_date, piece_start, piece_end
    from int_shift_pieces
),

shift_new_parts as (
    select
        location_id,
        piece_date,
        greatest(
            piece_start,
            coalesce(
                max(piece_end) over (
                    partition by location_id, therapist_id, piece_date
                    order by piece_start, piece_end
                    rows between unbounded preceding and 1 preceding
                ),
                piece_start
            )
        ) as new_start,
        piece_end as new_end,
    from shift_pieces
),

-- the bar bottleneck: sweep bar-room open and occupied events in time order
bar_events as (
    select
        location_id,
        piece_date,
        piece_start as event_at,
        1 as d_open,
        0 as d_occ,
    from room_open
    where has_bars

    union all

    select
        location_id,
        piece_date,
        piece_end as event_at,
        -1 as d_open,
        0 as d_occ,
    from room_open
    where has_bars

    union all

    select
        location_id,
        piece_date,
        new_start as event_at,
        0 as d_open,
        1 as d_occ,
    from room_segments
    where has_bars

    union all

    select
        location_id,
        piece_date,
        new_end as event_at,
        0 as d_open,
        -1 as d_occ,
    from room_segments
    where has_bars
),

-- the running sums include every event at the same instant (range frame), so
-- the last event of an instant carries the state until the next instant
bar_states as (
    select
        location_id,
        piece_date,
        event_at,
        sum(d_open) over running as open_rooms,
        sum(d_occ) over running as occupied_rooms,
        lead(event_at) over in_order as next_event_at,
    from bar_events
    window
        in_order as (partition by location_id, piece_date order by event_at),
        running as (
            in_order range between unbounded preceding and current row
        )
),

-- every interval with the measure it adds to (a weight per measure)
intervals as (
    select
        location_id,
        piece_date as date,
        piece_start as interval_start,
        piece_end as interval_end,
        rooms as room_available,
        0 as room_occupied,
        bar_rooms as bar_room_available,
        0 as bar_room_occupied,
        0 as bar_rooms_full,
        0 as therapist_scheduled,
        0 as therapist_booked,
    from room_open_groups

    union all

    select
        location_id,
        piece_date as date,
        new_start as interval_start,
        new_end as interval_end,
        0 as room_available,
        1 as room_occupied,
        0 as bar_room_available,
        case when has_bars then 1 else 0 end as bar_room_occupied,
        0 as bar_rooms_full,
        0 as therapist_scheduled,
        0 as therapist_booked,
    from room_segments

    union all

    select
        location_id,
        piece_date as date,
        event_at as interval_start,
        next_event_at as interval_end,
        0 as room_available,
        0 as room_occupied,
        0 as bar_room_available,
        0 as bar_room_occupied,
        1 as bar_rooms_full,
        0 as therapist_scheduled,
        0 as therapist_booked,
    from bar_states
    where
        open_rooms > 0
        and occupied_rooms >= open_rooms
        and next_event_at > event_at

    union all

    select
        location_id,
        piece_date as date,
        new_start as interval_start,
        new_end as interval_end,
        0 as room_available,
        0 as room_occupied,
        0 as bar_room_available,
        0 as bar_room_occupied,
        0 as bar_rooms_full,
        1 as therapist_scheduled,
        0 as therapist_booked,
    from shift_new_parts
    where new_end > new_start

    union all

    select
        location_id,
        piece_date as date,
        new_start as interval_start,
        new_end as interval_end,
        0 as room_available,
        0 as room_occupied,
        0 as bar_room_available,
        0 as bar_room_occupied,
        0 as bar_rooms_full,
        0 as therapist_scheduled,
        1 as therapist_booked,
    from therapist_segments
),

-- identical intervals (bookings on the same slot in several rooms, rooms sharing
-- hours) are cut into hours once, with their weights summed. Here and in `hours`
-- the sums run over doubles: an integer sum keeps a 16-byte HUGEINT per group and
-- measure, which at 10M bookings spills to disk (4 s more). Sums of whole numbers
-- this small (minutes in an hour times rooms) are exact in a double.
distinct_intervals as (
    select
        location_id,
        interval_start,
        interval_end,
        sum(cast(room_available as double)) as room_available,
        sum(cast(room_occupied as double)) as room_occupied,
        sum(cast(bar_room_available as double)) as bar_room_available,
        sum(cast(bar_room_occupied as double)) as bar_room_occupied,
        sum(cast(bar_rooms_full as double)) as bar_rooms_full,
        sum(cast(therapist_scheduled as double)) as therapist_scheduled,
        sum(cast(therapist_booked as double)) as therapist_booked,
    from intervals
    group by location_id, interval_start, interval_end
),

hour_pieces as (
    select
        location_id,
        hour_start,
        room_available,
        room_occupied,
        bar_room_available,
        bar_room_occupied,
        bar_rooms_full,
        therapist_scheduled,
        therapist_booked,
        date_diff(
            'minute',
            greatest(interval_start, hour_start),
            least(interval_end, hour_start + interval 1 hour)
        ) as minutes,
    from (
        select
            *,
            unnest(
                range(
                    date_trunc('hour', interval_start),
                    interval_end,
                    interval 1 hour
                )
            ) as hour_start,
        from distinct_intervals
    )
),

hours as (
    select
        location_id,
        hour_start,

        -- rooms
        cast(sum(cast(minutes * room_available as double)) as bigint)
            as room_available_minutes,
        cast(sum(cast(minutes * room_occupied as double)) as bigint) as room_occupied_minutes,

        -- ceiling bars
        cast(sum(cast(minutes * bar_room_available as double)) as bigint)
            as bar_room_available_minutes,
        cast(sum(cast(minutes * bar_room_occupied as double)) as bigint)
            as bar_room_occupied_minutes,
        cast(sum(cast(minutes * bar_rooms_full as double)) as bigint) as bar_rooms_full_minutes,

        -- therapists
        cast(sum(cast(minutes * therapist_scheduled as double)) as bigint)
            as therapist_scheduled_minutes,
        cast(sum(cast(minutes * therapist_booked as double)) as bigint)
            as therapist_booked_minutes,
    from hour_pieces
    group by location_id, hour_start
),

final as (
    select
        -- ids
        location_id,
        cast(hour_start as date) as date,
        cast(hour(hour_start) as integer) as hour,

        -- rooms
        room_available_minutes,
        room_occupied_minutes,

        -- ceiling bars
        bar_room_available_minutes,
        bar_room_occupied_minutes,
        bar_rooms_full_minutes,

        -- therapists
        therapist_scheduled_minutes,
        therapist_booked_minutes,
    from hours
)

select * from final
