-- Every mart's grain: no key appears twice. Returns (mart, key) of duplicates.
-- Also the shifts' key, which no mart's grain repeats (staging relies on the
-- loader keeping one row per key; a duplicate shift would count its minutes twice).

with

-- after an incremental build only the bookings it refreshed (kept aside as
-- fct_bookings__fresh); a refreshed booking whose old row was left outside the
-- scope would still show below, as one row more than raw_bookings holds
checked_bookings as (
    select source, booking_id from fct_bookings
    --incremental: where false
    --incremental: union all
    --incremental: select source, booking_id from fct_bookings__fresh
),

-- after an incremental build only the clients it refreshed (kept aside as
-- dim_clients__fresh, all of them when it rebuilt the mart whole): their rows
-- before were deleted by row id, so these are every row of those clients
checked_clients as (
    select client_id from dim_clients
    --incremental: where false
    --incremental: union all
    --incremental: select client_id from dim_clients__fresh
),

row_counts as (
    select
        (select count(*) from fct_bookings) as bookings,
        (select count(*) from raw_bookings) as raw_bookings,
),

duplicates as (
    select 'fct_bookings' as mart, source || '/' || booking_id as mart_key
    from checked_bookings
    group by source, booking_id
    having count(*) > 1

    union all

    -- one row per raw booking (the loader keeps one raw row per key)
    select 'fct_bookings', bookings || ' rows for ' || raw_bookings || ' raw bookings'
    from row_counts
    where bookings <> raw_bookings

    union all

    select
        'raw_therapist_shifts',
        location_id || '/' || therapist_id || '/' || date || '/' || shift_start
    from raw_therapist_shifts
    --incremental: semi join scope_days using (location_id, date)
    group by location_id, therapist_id, date, shift_start
    having count(*) > 1

    union all

    select 'fct_room_days', location_id || '/' || room_id || '/' || date
    from fct_room_days
    --incremental: semi join scope_days using (location_id, date)
    group by location_id, room_id, date
    having count(*) > 1

    union all

    select 'fct_therapist_days', location_id || '/' || therapist_id || '/' || date
    from fct_therapist_days
    --incremental: semi join scope_days using (location_id, date)
    group by location_id, therapist_id, date
    having count(*) > 1

    union all

    select 'fct_location_days', location_id || '/' || date
    from fct_location_days
    --incremental: semi join scope_days using (location_id, date)
    group by location_id, date
    having count(*) > 1

    union all

    select 'fct_hourly_capacity', location_id || '/' || date || '/' || hour
    from fct_hourly_capacity
    --incremental: semi join scope_days using (location_id, date)
    group by location_id, date, hour
    having count(*) > 1

    union all

    select 'dim_clients', client_id
    from checked_clients
    group by client_id
    having count(*) > 1

    union all

    select 'rpt_retention', cohort_month || '/' || location_id
    from rpt_retention
    group by cohort_month, location_id
    having count(*) > 1

    union all

    select 'dim_locations', location_id
    from dim_locations
    group by location_id
    having count(*) > 1

    union all

    select 'dim_rooms', location_id || '/' || room_id
    from dim_rooms
    group by location_id, room_id
    having count(*) > 1

    union all

    select 'dim_therapists', location_id || '/' || therapist_id
    from dim_therapists
    group by location_id, therapist_id
    having count(*) > 1

    union all

    select 'fct_therapist_weeks', location_id || '/' || therapist_id || '/' || week_start
    from fct_therapist_weeks
    --incremental: semi join scope_weeks using (location_id, week_start)
    group by location_id, therapist_id, week_start
    having count(*) > 1

    union all

    select
        'rpt_cohort_activity',
        cohort_month || '/' || location_id || '/' || months_after
    from rpt_cohort_activity
    group by cohort_month, location_id, months_after
    having count(*) > 1

    union all

    select 'rpt_win_back', location_id || '/' || last_visit_date
    from rpt_win_back
    group by location_id, last_visit_date
    having count(*) > 1

    union all

    select 'rpt_as_of', cast(count(*) as varchar)
    from rpt_as_of
    having count(*) <> 1
)

select * from duplicates
