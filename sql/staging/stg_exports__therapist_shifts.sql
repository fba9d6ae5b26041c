-- Therapist shifts, typed: one row per therapist, location, day and shift
-- start, the latest load wins. A shift ending before it starts ends after
-- midnight.

create or replace view stg_exports__therapist_shifts as

with

raw_rows as (
    select * from raw_therapist_shifts
    --incremental: semi join scope_input_days using (location_id, date)
),

-- the loader already de-duplicates; this guards against a key loaded twice
-- without sorting every row: only keys seen more than once are ranked
duplicate_keys as (
    select location_id, therapist_id, date, shift_start
    from raw_rows
    group by location_id, therapist_id, date, shift_start
    having count(*) > 1
),

superseded_rows as (
    select location_id, therapist_id, date, shift_start, load_id, line_number
    from raw_rows
    semi join duplicate_keys
        using (location_id, therapist_id, date, shift_start)
    qualify row_number() over (
        partition by location_id, therapist_id, date, shift_start
        order by load_id desc, line_number desc
    ) > 1
),

latest_rows as (
    select *
    from raw_rows
    anti join superseded_rows using (
        location_id, therapist_id, date, shift_start, load_id, line_number
    )
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
    from latest_rows
)

select * from final
