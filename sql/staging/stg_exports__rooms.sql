-- The room calendar, typed: one row per room per day, the latest load wins.
-- A closing time before the opening time means the room closes after midnight.

create or replace view stg_exports__rooms as

with

raw_rows as (
    select * from raw_rooms
    --incremental: semi join scope_input_days using (location_id, date)
),

-- the loader already de-duplicates; this guards against a key loaded twice
-- without sorting every row: only keys seen more than once are ranked
duplicate_keys as (
    select location_id, room_id, date
    from raw_rows
    group by location_id, room_id, date
    having count(*) > 1
),

superseded_rows as (
    select location_id, room_id, date, load_id, line_number
    from raw_rows
    semi join duplicate_keys using (location_id, room_id, date)
    qualify row_number() over (
        partition by location_id, room_id, date
        order by load_id desc, line_number desc
    ) > 1
),

latest_rows as (
    select *
    from raw_rows
    anti join superseded_rows
        using (location_id, room_id, date, load_id, line_number)
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
    from latest_rows
)

select * from final
