-- One row per held booking per calendar day it touches (a booking past midnight
-- is cut there), with the part no earlier booking of that therapist-day covers
-- (the "new" part: sort by start; new part = [max(start, running max of earlier
-- ends), end)). New parts are disjoint, so their sum is the union of the
-- therapist's booked intervals without expanding minutes.
-- *_outside_shift_minutes: minutes of the piece / of its new part outside every
-- shift interval that day. The same sort gives double bookings and back-to-back
-- pairs (turnover_minutes). The midnight cuts are int_booking_pieces and
-- int_shift_pieces. A build intermediate: a temporary table (not published),
-- read by the marts.
-- reads: int_booking_pieces, int_shift_pieces, settings

create or replace temp table int_therapist_booking_segments as

with

-- bookings cut at midnight
booking_pieces as (
    select * from int_booking_pieces
),

-- shifts cut at midnight, then merged into disjoint parts per therapist-day
shift_pieces as (
    select location_id, therapist_id, bar_trained, piece_date, piece_start, piece_end
    from int_shift_pieces
),

shift_covered_before as (
    select
        *,
        max(piece_end) over (
            partition by location_id, therapist_id, piece_date
            order by piece_start, piece_end
            rows between unbounded preceding and 1 preceding
        ) as covered_until,
    from shift_pieces
),

shift_lists as (
    select
        location_id,
        therapist_id,
        piece_date,
        list({
            's': epoch(greatest(piece_start, coalesce(covered_until, piece_start)))
            // 60,
            'e': epoch(piece_end) // 60
        }) as shift_parts,
        bool_or(bar_trained) as bar_trained,
    from shift_covered_before
    where piece_end > coalesce(covered_until, piece_start)
    group by location_id, therapist_id, piece_date
),

-- one sort per therapist-day serves the union, double bookings and back-to-back
booking_covered_before as (
    select
        *,
        max(piece_end) over earlier as covered_until,
        lag(
            case when is_worked and piece_date = booking_date then end_at end
            ignore nulls
        ) over in_order as previous_worked_end_at,
    from booking_pieces
    window
        in_order as (
            partition by location_id, therapist_id, piece_date
            order by piece_start, piece_end, booking_id, source
        ),
        earlier as (
            in_order rows between unbounded preceding and 1 preceding
        )
),

new_parts as (
    select
        *,
        least(
            greatest(piece_start, coalesce(covered_until, piece_start)),
            piece_end
        ) as new_start,
    from booking_covered_before
),

in_shift as (
    select
        new_parts.*,
        shift_lists.bar_trained as shift_bar_trained,
        coalesce(list_sum(list_transform(
            shift_lists.shift_parts,
            lambda part: greatest(
                least(epoch(new_parts.piece_end) // 60, part.e)
                - greatest(epoch(new_parts.piece_start) // 60, part.s),
                0
            )
        )), 0) as piece_in_shift_minutes,
        coalesce(list_sum(list_transform(
            shift_lists.shift_parts,
            lambda part: greatest(
                least(epoch(new_parts.piece_end) // 60, part.e)
                - greatest(epoch(new_parts.new_start) // 60, part.s),
                0
            )
        )), 0) as new_in_shift_minutes,
    from new_parts
    left join shift_lists
        on
            new_parts.location_id = shift_lists.location_id
            and new_parts.therapist_id = shift_lists.therapist_id
            and new_parts.piece_date = shift_lists.piece_date
),

final as (
    select
        -- ids
        location_id,
        therapist_id,
        piece_date,
        booking_date,
        source,
        booking_id,

        -- the booking piece
        piece_start,
        piece_end,
        date_diff('minute', piece_start, piece_end) as piece_minutes,

        -- the part no earlier booking covers (empty: new_start = new_end)
        new_start,
        piece_end as new_end,
        date_diff('minute', new_start, piece_end) as new_minutes,

        -- double bookings: an earlier booking of the day still runs
        piece_start < coalesce(covered_until, piece_start) as overlaps_earlier,
        covered_until as earlier_end_at,

        -- back-to-back: worked, on its own booking_date, and the previous
        -- worked booking (by start) ended less than turnover_minutes before it
        -- started
        is_worked,
        uses_bars,
        start_at,
        end_at,
        coalesce(
            is_worked
            and piece_date = booking_date
            and date_diff('minute', previous_worked_end_at, start_at)
            < (select turnover_minutes from settings),
            false
        ) as is_back_to_back,

        -- bar training on that day's shifts (NULL without a shift)
        shift_bar_trained,

        -- outside every shift
        date_diff('minute', piece_start, piece_end)
        - cast(piece_in_shift_minutes as integer) as piece_outside_shift_minutes,
        date_diff('minute', new_start, piece_end)
        - cast(new_in_shift_minutes as integer) as new_outside_shift_minutes,
    from in_shift
)

select * from final
