-- The room calendar, typed: one row per room per day. Rows come from room-calendar
-- exports (the latest load wins: the loader replaces a key's row; the unique_keys
-- check guards the marts) and from the studio profile (profile_rooms, re-made on
-- every load); an export row for the same (location, room, date) replaces the
-- profile's. A closing time before the opening time means the room closes after
-- midnight.
-- reads: profile_rooms, raw_rooms

create or replace view stg_exports__rooms as

with

-- read where it is used (the rows, and the keys the profile's rows give way
-- to), not materialized: a copy of every export row cost the dims that read
-- the whole calendar most of their time (at 10M bookings, dim_therapists and
-- dim_rooms 0.40 -> 0.29 and 0.40 -> 0.23 s of CPU); an incremental build's
-- shadow of a few days materializes it
export_rows as not materialized (
    select * from raw_rooms
    --incremental: semi join scope_input_days using (location_id, date)
),

-- a room's place in the profile's list orders rooms (room inference, pages),
-- also on days an export describes
profile_order as (
    select location_id, room_id, min(room_order) as room_order
    from profile_rooms
    group by location_id, room_id
),

profile_rows as (
    select * from profile_rooms
    anti join export_rows using (location_id, room_id, date)
    --incremental: semi join scope_input_days using (location_id, date)
),

unioned as (
    select
        export_rows.date,
        export_rows.location_id,
        export_rows.room_id,
        export_rows.room_name,
        export_rows.has_bars,
        export_rows.opens_at,
        export_rows.closes_at,
        export_rows.blocked_minutes,
        profile_order.room_order,
        'export' as source,
        export_rows.load_id,
        export_rows.line_number,
    from export_rows
    left join profile_order
        on
            export_rows.location_id = profile_order.location_id
            and export_rows.room_id = profile_order.room_id

    union all

    select
        date,
        location_id,
        room_id,
        room_name,
        has_bars,
        opens_at,
        closes_at,
        blocked_minutes,
        room_order,
        'profile' as source,
        cast(null as bigint) as load_id,
        cast(null as bigint) as line_number,
    from profile_rows
),

final as (
    select
        -- ids
        location_id,
        room_id,
        date,
        nullif(trim(room_name), '') as room_name,

        -- equipment
        has_bars,

        -- opening hours
        opens_at,
        closes_at,
        date + opens_at as open_at,
        date + closes_at
        + case
            when closes_at < opens_at then interval 1 day
            else interval 0 day
        end as close_at,
        greatest(blocked_minutes, 0) as blocked_minutes,

        -- where the row came from: 'export' or 'profile'; the profile's room order
        -- (NULL: order by room_id)
        source,
        room_order,

        -- lineage (NULL for profile rows)
        load_id,
        line_number,
    from unioned
)

select * from final
