-- Therapist shifts, typed: one row per therapist, location, day and shift
-- start, the latest load wins (the loader replaces a key's row; the unique_keys
-- check guards the marts). A shift ending before it starts ends after
-- midnight.

create or replace view stg_exports__therapist_shifts as

with

raw_rows as (
    select * from raw_therapist_shifts
    --incremental: semi join scope_input_days using (location_id, date)
),

final as (
    select
        -- ids
        location_id,
        therapist_id,
        date,
        nullif(trim(therapist_name), '') as therapist_name,

        -- skills
        bar_trained,

        -- the shift
        shift_start,
        shift_end,
        date + shift_start as shift_start_at,
        date + shift_end
        + case
            when shift_end < shift_start then interval 1 day
            else interval 0 day
        end as shift_end_at,
        greatest(break_minutes, 0) as break_minutes,

        -- lineage
        load_id,
        line_number,
    from raw_rows
)

select * from final
