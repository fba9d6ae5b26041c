-- One row per room per day of the room calendar (metric dictionary, fct_room_days).
-- occupied_minutes / bar_minutes: union of held (bar) bookings inside opening
-- hours, summed from the disjoint new parts in int_room_booking_segments.
-- Stored in date order, as fct_bookings: DuckDB skips row groups whose date range
-- misses a filter, so a page's few weeks read a few row groups. An incremental day
-- re-inserts its refreshed days at the end; they are mostly the newest, so the order
-- roughly holds (a corrected older day only widens the last row group's range).
-- reads: int_room_booking_segments, stg_exports__rooms

create or replace table fct_room_days as

with

room_days as (
    select * from stg_exports__rooms
    --incremental: semi join scope_days using (location_id, date)
),

segments as (
    select * from int_room_booking_segments
),

occupancy as (
    select
        location_id,
        room_id,
        date,
        sum(new_minutes) as occupied_minutes,
        sum(bar_new_minutes) as bar_minutes,
    from segments
    group by location_id, room_id, date
),

joined as (
    select
        room_days.location_id,
        room_days.room_id,
        room_days.date,
        room_days.has_bars,
        greatest(date_diff('minute', room_days.open_at, room_days.close_at), 0)
            as open_minutes,
        room_days.blocked_minutes,
        coalesce(occupancy.occupied_minutes, 0) as occupied_minutes,
        coalesce(occupancy.bar_minutes, 0) as bar_minutes,
        room_days.room_name,
        room_days.opens_at,
        room_days.closes_at,
    from room_days
    left join occupancy
        on
            room_days.location_id = occupancy.location_id
            and room_days.room_id = occupancy.room_id
            and room_days.date = occupancy.date
),

final as (
    select
        -- ids
        location_id,
        room_id,
        date,

        -- equipment
        has_bars,

        -- capacity
        open_minutes,
        blocked_minutes,
        greatest(open_minutes - blocked_minutes, 0) as available_minutes,

        -- use
        cast(occupied_minutes as integer) as occupied_minutes,
        cast(bar_minutes as integer) as bar_minutes,
        cast(occupied_minutes as double)
        / nullif(greatest(open_minutes - blocked_minutes, 0), 0) as utilization,

        -- extras
        room_name,
        opens_at,
        closes_at,
    from joined
)

select * from final
order by date
