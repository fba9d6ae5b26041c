-- The room calendar's opening hours cut at midnight: one row per room-day per
-- calendar day its hours touch (nearly always one piece; hours past midnight
-- give a second piece on the next day). date is the room-day, piece_date the
-- calendar day of the piece. The one place the cut is written: the room
-- segments and the hourly capacity read it. A build intermediate: a temporary
-- view (not published), expanded where it is read.
-- reads: stg_exports__rooms

create or replace temp view int_opening_pieces as

with

room_days as (
    select * from stg_exports__rooms
    --incremental: semi join scope_input_days using (location_id, date)
),

final as (
    select
        location_id,
        room_id,
        date,
        has_bars,
        date as piece_date,
        open_at as piece_start,
        least(close_at, date + interval 1 day) as piece_end,
    from room_days
    where close_at > open_at

    union all

    select
        location_id,
        room_id,
        date,
        has_bars,
        date + 1 as piece_date,
        date + interval 1 day as piece_start,
        close_at as piece_end,
    from room_days
    where close_at > date + interval 1 day
)

select * from final
