-- First-visit cohorts month by month: one row per cohort month, first-visit
-- location and months_after (calendar months after the cohort month) in which
-- at least one of the cohort's clients completed a visit, at any location.
-- Cohorts as in rpt_retention: the month and location of a new client's first
-- completed visit (is_new_client; clients known at history start belong to no
-- cohort). months_after 0 holds the first visits themselves, so its
-- active_clients is the cohort's size. The Clients page
-- reads this instead of joining its cohorts to every booking.
--
-- The counts are sums over clients, so an incremental build adjusts the table
-- as it was (`--incremental:` lines): it adds the changed clients' rows as
-- they are now and subtracts the same clients' rows as they were before the
-- load (the bookings the build kept aside), then drops cells that reach 0.
-- reads: fct_bookings

create or replace table rpt_cohort_activity as

with

-- every booking; in an incremental build only the changed clients' rows as
-- they are now, which the build keeps aside (fct_bookings__fresh), so the
-- 10M-row table is not scanned for them
bookings as (
    select * from fct_bookings
    --incremental: where false
    --incremental: union all
    --incremental: select * from fct_bookings__fresh
),

-- completed bookings, +1 as they are (an incremental build: the changed
-- clients' only, and -1 for the same clients' bookings before the load)
completed as not materialized (
    select
        1 as sign,
        client_id,
        location_id,
        booking_date,
        is_new_client,
    from bookings
    where status = 'completed'
    --incremental: union all
    --incremental: select -1, client_id, location_id, booking_date, is_new_client,
    --incremental: from fct_bookings__before
    --incremental: where status = 'completed'
),

-- each client once per month with a completed visit
client_months as (
    select distinct
        sign,
        client_id,
        cast(date_trunc('month', booking_date) as date) as visit_month,
    from completed
),

-- a new client's first visit, its month and location: fct_bookings marks only the
-- first visit is_new_client, so one row per client (and sign). Read from the
-- bookings rather than from client_months: carrying the location through that
-- grouping cost more (10M, the model alone: CPU 4.9 -> 4.4 s)
cohorts as (
    select
        sign,
        client_id,
        cast(date_trunc('month', booking_date) as date) as cohort_month,
        location_id,
    from completed
    where is_new_client
),

-- the first visit is the earliest completed one, so months_after >= 0
cohort_months as (
    select
        cohorts.sign,
        cohorts.cohort_month,
        cohorts.location_id,
        date_diff('month', cohorts.cohort_month, client_months.visit_month)
            as months_after,
    from client_months
    inner join cohorts
        on
            client_months.client_id = cohorts.client_id
            and client_months.sign = cohorts.sign
),

-- per cell
deltas as (
    select
        cohort_month,
        location_id,
        months_after,
        sum(sign) as active_clients,
    from cohort_months
    group by cohort_month, location_id, months_after
),

-- an incremental build: plus the cells the changes touch as they were; the
-- others are copied as they are (final), not summed again
changes as (
    select * from deltas
    --incremental: union all
    --incremental: select cohort_month, location_id, months_after, active_clients,
    --incremental: from rpt_cohort_activity
    --incremental: semi join deltas using (cohort_month, location_id, months_after)
),

final as (
    select
        -- ids
        cohort_month,
        location_id,
        cast(months_after as integer) as months_after,

        -- counts
        cast(sum(active_clients) as integer) as active_clients,
    from changes
    group by cohort_month, location_id, months_after
    having sum(active_clients) <> 0
    --incremental: union all
    --incremental: select * from rpt_cohort_activity
    --incremental: anti join deltas using (cohort_month, location_id, months_after)
)

select * from final
