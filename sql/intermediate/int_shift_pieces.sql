-- Therapist shifts cut at midnight: one row per shift per calendar day it
-- touches (a shift past midnight gives a second piece on the next day). date is
-- the shift's day, piece_date the calendar day of the piece. The one place the
-- cut is written: the therapist segments and the hourly capacity read it. A
-- build intermediate: a temporary view (not published), expanded where it is
-- read.
-- reads: stg_exports__therapist_shifts

create or replace temp view int_shift_pieces as

with

shifts as (
    select * from stg_exports__therapist_shifts
    --incremental: semi join scope_input_days using (location_id, date)
),

final as (
    select
        location_id,
        therapist_id,
        date,
        bar_trained,
        date as piece_date,
        shift_start_at as piece_start,
        least(shift_end_at, date + interval 1 day) as piece_end,
    from shifts
    where shift_end_at > shift_start_at

    union all

    select
        location_id,
        therapist_id,
        date,
        bar_trained,
        date + 1 as piece_date,
        date + interval 1 day as piece_start,
        shift_end_at as piece_end,
    from shifts
    where shift_end_at > date + interval 1 day
)

select * from final
