-- One row per held booking per room-day whose opening hours it touches: the
-- part of the booking inside [open_at, close_at) and the part of that which no
-- earlier booking of the room-day already covers (the "new" part). New parts
-- are disjoint, so summing them gives the union of intervals without expanding
-- minutes: sort by start; new part = [max(start, running max of earlier ends),
-- end). bar_new_* does the same over bookings with uses_bars only. Opening
-- hours past midnight and bookings past midnight are split at midnight
-- (piece_date is the calendar day of the piece, date the room-day it belongs
-- to). overlaps_earlier marks a booking that starts while an earlier one still
-- runs. A build intermediate: a temporary table (not published), read by the
-- marts.

create or replace temp table int_room_booking_segments as

with

room_days as (
    select * from stg_exports__rooms
    --incremental: semi join scope_input_days using (location_id, date)
),

bookings as (
    select * from fct_bookings
    --incremental: semi join scope_input_days as scope
    --incremental:     on
    --incremental:         fct_bookings.location_id = scope.location_id
    --incremental:         and fct_bookings.booking_date = scope.date
    where is_held and room_id is not null and end_at > start_at
),

-- opening hours cut at midnight: nearly always one piece
window_pieces as (
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
),

-- bookings cut at midnight: the fast path keeps bookings within one day
booking_pieces as (
    select
        source,
        booking_id,
        location_id,
        room_id,
        uses_bars,
        booking_date,
        minutes,
        booking_date as piece_date,
        start_at as piece_start,
        end_at as piece_end,
    from bookings
    where end_at <= booking_date + interval 1 day

    union all

    select
        source,
        booking_id,
        location_id,
        room_id,
        uses_bars,
        booking_date,
        minutes,
        cast(day_start as date) as piece_date,
        greatest(start_at, day_start) as piece_start,
        least(end_at, day_start + interval 1 day) as piece_end,
    from (
        select
            *,
            unnest(
                range(
                    cast(booking_date as timestamp),
                    end_at,
                    interval 1 day
                )
            ) as day_start,
        from bookings
        where end_at > booking_date + interval 1 day
    )
),

-- a booking piece that touches no opening hours is kept once, as an empty
-- segment with date NULL (in_opening_hours false), for the data-quality report
clipped as (
    select
        booking_pieces.location_id,
        booking_pieces.room_id,
        window_pieces.date,
        booking_pieces.piece_date,
        window_pieces.has_bars,
        booking_pieces.source,
        booking_pieces.booking_id,
        booking_pieces.uses_bars,
        booking_pieces.booking_date,
        booking_pieces.minutes,
        window_pieces.date is not null as in_opening_hours,
        case
            when window_pieces.date is null then booking_pieces.piece_start
            else greatest(booking_pieces.piece_start, window_pieces.piece_start)
        end as segment_start,
        case
            when window_pieces.date is null then booking_pieces.piece_start
            else least(booking_pieces.piece_end, window_pieces.piece_end)
        end as segment_end,
    from booking_pieces
    left join window_pieces
        on
            booking_pieces.location_id = window_pieces.location_id
            and booking_pieces.room_id = window_pieces.room_id
            and booking_pieces.piece_date = window_pieces.piece_date
            and booking_pieces.piece_start < window_pieces.piece_end
            and booking_pieces.piece_end > window_pieces.piece_start
),

covered_before as (
    select
        *,
        max(segment_end) over earlier as covered_until,
        max(segment_end) filter (where uses_bars) over earlier
            as bar_covered_until,
    from clipped
    window earlier as (
        partition by location_id, room_id, date
        order by segment_start, segment_end, booking_id, source
        rows between unbounded preceding and 1 preceding
    )
),

new_parts as (
    select
        *,
        greatest(segment_start, coalesce(covered_until, segment_start))
            as new_start,
        case
            when uses_bars
                then
                    greatest(
                        segment_start,
                        coalesce(bar_covered_until, segment_start)
                    )
        end as bar_new_start,
    from covered_before
),

final as (
    select
        -- ids
        location_id,
        room_id,
        date,
        piece_date,
        source,
        booking_id,
        booking_date,

        -- what
        has_bars,
        uses_bars,

        -- the booking inside opening hours
        in_opening_hours,
        minutes,
        segment_start,
        segment_end,
        date_diff('minute', segment_start, segment_end) as segment_minutes,

        -- double bookings: an earlier booking of the room-day still runs
        in_opening_hours
        and segment_start < coalesce(covered_until, segment_start)
            as overlaps_earlier,
        covered_until as earlier_end_at,

        -- the part no earlier booking covers (empty: new_start = new_end)
        least(new_start, segment_end) as new_start,
        segment_end as new_end,
        greatest(date_diff('minute', new_start, segment_end), 0)
            as new_minutes,
        coalesce(
            greatest(date_diff('minute', bar_new_start, segment_end), 0), 0
        ) as bar_new_minutes,
    from new_parts
)

select * from final
