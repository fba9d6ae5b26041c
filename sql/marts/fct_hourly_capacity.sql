-- One row per location, day and clock hour with any opening hours, shift or
-- booked time (metric dictionary, fct_hourly_capacity). Every interval is cut at the
-- hour: [hour:00, hour+1:00) of the calendar day. Blocked minutes and breaks
-- have no clock position in the exports, so hourly availability ignores them.
-- bar_rooms_full_minutes: an event sweep per location-day over bar-room opening
-- hours (+1/-1 open) and bar-room occupied parts (+1/-1 occupied); the room bar
-- capacity is full while at least one bar room is open and every open one is
-- occupied (by any held booking). The midnight cuts are int_opening_pieces and
-- int_shift_pieces.
-- Stored in date order, as fct_bookings: DuckDB skips row groups whose date range
-- misses a filter, so a page's few weeks read a few row groups. An incremental day
-- re-inserts its refreshed days at the end; they are mostly the newest, so the order
-- roughly holds (a corrected older day only widens the last row group's range).
-- reads: int_opening_pieces, int_room_booking_segments, int_shift_pieces,
--     int_therapist_booking_segments

create or replace table fct_hourly_capacity as

with

-- read where needed rather than materialized: each reader takes a few columns
room_segments as not materialized (
    select * from int_room_booking_segments
    where new_minutes > 0
),

therapist_segments as (
    select * from int_therapist_booking_segments
    where new_minutes > 0
),

-- opening hours cut at midnight
room_open as not materialized (
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

-- each interval cut into clock hours by integer arithmetic: hours since the
-- epoch (from the hour holding its start to the one holding its last instant)
-- and whole minutes, the same as date_diff('minute') on the hour-clipped ends.
-- Each kind of interval is cut and summed into location-hours on its own, with
-- only the measures it adds to.
room_open_hours as (
    select
        location_id,
        hour_key,
        sum(minutes * rooms) as room_available,
        sum(minutes * bar_rooms) as bar_room_available,
    from (
        select
            location_id,
            rooms,
            bar_rooms,
            least(end_minute, (hour_key + 1) * 60)
            - greatest(start_minute, hour_key * 60) as minutes,
            hour_key,
        from (
            select
                location_id,
                rooms,
                bar_rooms,
                epoch_us(piece_start) // 60000000 as start_minute,
                epoch_us(piece_end) // 60000000 as end_minute,
                unnest(range(
                    epoch_us(piece_start) // 3600000000,
                    (epoch_us(piece_end) - 1) // 3600000000 + 1
                )) as hour_key,
            from room_open_groups
        )
    )
    group by location_id, hour_key
),

room_occupied_hours as (
    select
        location_id,
        hour_key,
        sum(minutes) as room_occupied,
        sum(minutes) filter (where has_bars) as bar_room_occupied,
    from (
        select
            location_id,
            has_bars,
            least(end_minute, (hour_key + 1) * 60)
            - greatest(start_minute, hour_key * 60) as minutes,
            hour_key,
        from (
            select
                location_id,
                has_bars,
                epoch_us(new_start) // 60000000 as start_minute,
                epoch_us(new_end) // 60000000 as end_minute,
                unnest(range(
                    epoch_us(new_start) // 3600000000,
                    (epoch_us(new_end) - 1) // 3600000000 + 1
                )) as hour_key,
            from room_segments
        )
    )
    group by location_id, hour_key
),

bar_full_hours as (
    select
        location_id,
        hour_key,
        sum(minutes) as bar_rooms_full,
    from (
        select
            location_id,
            least(end_minute, (hour_key + 1) * 60)
            - greatest(start_minute, hour_key * 60) as minutes,
            hour_key,
        from (
            select
                location_id,
                epoch_us(event_at) // 60000000 as start_minute,
                epoch_us(next_event_at) // 60000000 as end_minute,
                unnest(range(
                    epoch_us(event_at) // 3600000000,
                    (epoch_us(next_event_at) - 1) // 3600000000 + 1
                )) as hour_key,
            from bar_states
            where
                open_rooms > 0
                and occupied_rooms >= open_rooms
                and next_event_at > event_at
        )
    )
    group by location_id, hour_key
),

scheduled_hours as (
    select
        location_id,
        hour_key,
        sum(minutes) as therapist_scheduled,
    from (
        select
            location_id,
            least(end_minute, (hour_key + 1) * 60)
            - greatest(start_minute, hour_key * 60) as minutes,
            hour_key,
        from (
            select
                location_id,
                epoch_us(new_start) // 60000000 as start_minute,
                epoch_us(new_end) // 60000000 as end_minute,
                unnest(range(
                    epoch_us(new_start) // 3600000000,
                    (epoch_us(new_end) - 1) // 3600000000 + 1
                )) as hour_key,
            from shift_new_parts
            where new_end > new_start
        )
    )
    group by location_id, hour_key
),

booked_hours as (
    select
        location_id,
        hour_key,
        sum(minutes) as therapist_booked,
    from (
        select
            location_id,
            least(end_minute, (hour_key + 1) * 60)
            - greatest(start_minute, hour_key * 60) as minutes,
            hour_key,
        from (
            select
                location_id,
                epoch_us(new_start) // 60000000 as start_minute,
                epoch_us(new_end) // 60000000 as end_minute,
                unnest(range(
                    epoch_us(new_start) // 3600000000,
                    (epoch_us(new_end) - 1) // 3600000000 + 1
                )) as hour_key,
            from therapist_segments
        )
    )
    group by location_id, hour_key
),

-- every location-hour any kind of interval touches, with each kind's minutes
-- (0 where it has none). Identical intervals are no longer merged before the
-- cut: that aggregation over every interval, carrying all seven measures,
-- spilled 5.8 GB at 10M bookings.
hours as (
    select
        location_id,
        hour_key,
        cast(sum(room_available) as bigint) as room_available_minutes,
        cast(sum(room_occupied) as bigint) as room_occupied_minutes,
        cast(sum(bar_room_available) as bigint) as bar_room_available_minutes,
        cast(coalesce(sum(bar_room_occupied), 0) as bigint) as bar_room_occupied_minutes,
        cast(sum(bar_rooms_full) as bigint) as bar_rooms_full_minutes,
        cast(sum(therapist_scheduled) as bigint) as therapist_scheduled_minutes,
        cast(sum(therapist_booked) as bigint) as therapist_booked_minutes,
    from (
        select
            location_id, hour_key, room_available, 0 as room_occupied,
            bar_room_available, 0 as bar_room_occupied, 0 as bar_rooms_full,
            0 as therapist_scheduled, 0 as therapist_booked,
        from room_open_hours
        union all
        select
            location_id, hour_key, 0, room_occupied, 0, bar_room_occupied, 0, 0, 0,
        from room_occupied_hours
        union all
        select location_id, hour_key, 0, 0, 0, 0, bar_rooms_full, 0, 0,
        from bar_full_hours
        union all
        select location_id, hour_key, 0, 0, 0, 0, 0, therapist_scheduled, 0,
        from scheduled_hours
        union all
        select location_id, hour_key, 0, 0, 0, 0, 0, 0, therapist_booked,
        from booked_hours
    )
    group by location_id, hour_key
),

final as (
    select
        -- ids
        location_id,
        cast(timestamp '1970-01-01' + to_hours(hour_key) as date) as date,
        cast(hour(timestamp '1970-01-01' + to_hours(hour_key)) as integer) as hour,

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
order by date
