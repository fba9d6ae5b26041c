-- One row per held booking per room-day whose opening hours it touches: the
-- part of the booking inside [open_at, close_at) and the part of that which no
-- earlier booking of the room-day already covers (the "new" part). New parts
-- are disjoint, so summing them gives the union of intervals without expanding
-- minutes: sort by start; new part = [max(start, running max of earlier ends),
-- end). bar_new_* does the same over bookings with uses_bars only. Opening
-- hours past midnight and bookings past midnight are split at midnight
-- (piece_date is the calendar day of the piece, date the room-day it belongs
-- to). overlaps_earlier marks a booking that starts while an earlier one still
-- runs. The midnight cuts are int_opening_pieces and int_booking_pieces. A
-- build intermediate: a temporary table (not published), read by the marts.
-- reads: int_booking_pieces, int_opening_pieces

create or replace temp table int_room_booking_segments as

with

-- opening hours cut at midnight: nearly always one piece
window_pieces as (
    select * from int_opening_pieces
),

-- bookings cut at midnight, those with a room and a length
booking_pieces as (
    select * from int_booking_pieces
    where room_id is not null and end_at > start_at
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
