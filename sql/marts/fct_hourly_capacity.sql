-- One row per location, day and clock hour with any opening hours, shift or
-- booked time (metric dictionary, fct_hourly_capacity). Every interval counts by
-- the hour: [hour:00, hour+1:00) of the calendar day. Blocked minutes and breaks
-- have no clock position in the exports, so hourly availability ignores them.
-- This SQL lists the intervals, one row each with its kind and weights; the minutes
-- per hour are summed in numpy by pipelines/warehouse/hourly.py (the model runner
-- hands it this statement): each interval adds to the hours it spans through a
-- difference array (no interval is cut into hour pieces), and
-- bar_rooms_full_minutes is an event sweep per location-day over bar-room opening
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

-- opening hours cut at midnight; rooms sharing them are listed once, with how many
-- rooms (room_available_minutes) and bar rooms (bar_room_available_minutes and
-- the bar sweep's open rooms)
room_open_groups as (
    select
        location_id,
        piece_date,
        piece_start,
        piece_end,
        count(*) as rooms,
        count(*) filter (where has_bars) as bar_rooms,
    from int_opening_pieces
    group by location_id, piece_date, piece_start, piece_end
),

-- shifts cut at midnight, merged per therapist-day so overlaps count once
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
    from int_shift_pieces
),

-- kind: 0 opening hours, 1 a room booking's new part (bar_rooms 1 in a bar room:
-- bar_room_occupied_minutes and the sweep's occupied rooms), 2 a shift's new part,
-- 3 a therapist booking's new part (pipelines/warehouse/hourly.py names them)
final as (
    select
        0 as kind,
        location_id,
        piece_date,
        piece_start as start_at,
        piece_end as end_at,
        rooms,
        bar_rooms,
    from room_open_groups

    union all

    select
        1, location_id, piece_date, new_start, new_end, 1,
        case when has_bars then 1 else 0 end,
    from int_room_booking_segments
    where new_minutes > 0

    union all

    select 2, location_id, piece_date, new_start, new_end, 1, 0,
    from shift_new_parts
    where new_end > new_start

    union all

    select 3, location_id, piece_date, new_start, new_end, 1, 0,
    from int_therapist_booking_segments
    where new_minutes > 0
)

select * from final
