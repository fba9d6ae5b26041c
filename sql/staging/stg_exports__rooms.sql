-- The room calendar, typed: one row per room per day, the latest load wins (the
-- loader replaces a key's row; the unique_keys check guards the marts).
-- A closing time before the opening time means the room closes after midnight.

create or replace view stg_exports__rooms as

with

raw_rows as (
    select * from raw_rooms
    --incremental: semi join scope_input_days using (location_id, date)
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

        -- lineage
        load_id,
        line_number,
    from raw_rows
)

select * from final
