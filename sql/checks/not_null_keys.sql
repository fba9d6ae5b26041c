-- Keys and never-NULL flags are present. Returns (mart, what is NULL).

with

missing as (
    select 'fct_bookings' as mart, 'key or flag' as what
    from fct_bookings
    --incremental: semi join scope_clients using (client_id)
    where
        source is null or booking_id is null or location_id is null
        or therapist_id is null or client_id is null or start_at is null
        or end_at is null or booking_date is null or status is null
        or uses_bars is null or is_held is null or is_late_cancel is null
        or is_first_visit is null or is_new_client is null

    union all

    select 'fct_room_days', 'key'
    from fct_room_days
    --incremental: semi join scope_days using (location_id, date)
    where location_id is null or room_id is null or date is null

    union all

    select 'fct_therapist_days', 'key'
    from fct_therapist_days
    --incremental: semi join scope_days using (location_id, date)
    where location_id is null or therapist_id is null or date is null

    union all

    select 'fct_location_days', 'key'
    from fct_location_days
    --incremental: semi join scope_days using (location_id, date)
    where location_id is null or date is null

    union all

    select 'fct_hourly_capacity', 'key'
    from fct_hourly_capacity
    --incremental: semi join scope_days using (location_id, date)
    where location_id is null or date is null or hour is null

    union all

    select 'dim_clients', 'key or first visit'
    from dim_clients
    --incremental: semi join scope_clients using (client_id)
    where client_id is null or first_visit_date is null

    union all

    select 'rpt_retention', 'key'
    from rpt_retention
    where cohort_month is null or location_id is null

    union all

    select 'rpt_cohort_activity', 'key'
    from rpt_cohort_activity
    where cohort_month is null or location_id is null or months_after is null

    union all

    select 'rpt_win_back', 'key'
    from rpt_win_back
    where location_id is null or last_visit_date is null
)

select * from missing
