-- First-visit cohorts in long form: one row per cohort month, first-visit
-- location, first therapist and configured retention window (settings). The
-- wide rpt_retention (eligible_N / returned_N per window) is pivoted from this
-- table by pipelines/warehouse/retention.py. A client is eligible for window N when
-- first_visit_date + N <= as_of_date (open windows are left out, never counted
-- as lost) and returned when a completed visit on a later date falls no later
-- than first_visit_date + N. Cohorts hold new clients only (is_new_client):
-- a client whose first visit in the data is before its location's
-- new_clients_from was a client already and belongs to no cohort.
--
-- The counts are sums over clients, so an incremental build adjusts the table
-- as it was (`--incremental:` lines) instead of reading all of dim_clients:
-- +1 for the refreshed clients as they are now (dim_clients__fresh) and -1 as
-- they were (dim_clients__before); and, since the as-of date moved, +1 at the
-- new date and -1 at the old one (rpt_as_of__before) for the other clients
-- one of whose windows ended in between (dim_clients__reached, made by
-- pipelines/warehouse/incremental.py). Cells whose clients all left are dropped.
-- reads: dim_clients, rpt_as_of, settings_retention_windows

create or replace table rpt_retention_long as

with

windows as (
    select distinct window_days from settings_retention_windows
),

as_of as (
    select * from rpt_as_of
),

-- new clients with the as-of date they are counted at, +1 (an incremental
-- build: the clients above, +1 now and -1 before)
clients as (
    select
        1 as sign,
        dim_clients.cohort_month,
        dim_clients.first_location_id,
        dim_clients.first_therapist_id,
        dim_clients.first_visit_date,
        dim_clients.second_visit_date,
        as_of.as_of_date,
    from dim_clients
    cross join as_of
    where
        dim_clients.is_new_client
        --incremental: and false
    --incremental: union all
    --incremental: select 1, cohort_month, first_location_id, first_therapist_id,
    --incremental:     first_visit_date, second_visit_date, as_of.as_of_date,
    --incremental: from dim_clients__fresh cross join as_of
    --incremental: semi join scope_clients_as_of using (client_id)
    --incremental: where is_new_client
    --incremental: union all
    --incremental: select -1, cohort_month, first_location_id, first_therapist_id,
    --incremental:     first_visit_date, second_visit_date, before.as_of_date,
    --incremental: from dim_clients__before cross join rpt_as_of__before as before
    --incremental: where is_new_client
    --incremental: union all
    --incremental: select moved.sign, cohort_month, first_location_id, first_therapist_id,
    --incremental:     first_visit_date, second_visit_date, moved.as_of_date,
    --incremental: from dim_clients__reached
    --incremental: cross join (
    --incremental:     select 1 as sign, as_of_date from as_of
    --incremental:     union all
    --incremental:     select -1, as_of_date from rpt_as_of__before
    --incremental: ) as moved
),

client_windows as (
    select
        clients.sign,
        clients.cohort_month,
        clients.first_location_id as location_id,
        clients.first_therapist_id,
        windows.window_days,
        clients.first_visit_date + windows.window_days <= clients.as_of_date
            as is_eligible,
        clients.second_visit_date
        <= clients.first_visit_date + windows.window_days as has_returned,
    from clients
    cross join windows
),

-- per cell and sign
deltas as (
    select
        cohort_month,
        location_id,
        first_therapist_id,
        window_days,
        sign * count(*) as new_clients,
        sign * count(*) filter (where is_eligible) as eligible,
        sign * count(*) filter (where is_eligible and has_returned) as returned,
    from client_windows
    group by cohort_month, location_id, first_therapist_id, window_days, sign
),

-- an incremental build: plus the cells the changes touch as they were; the
-- others are copied as they are (final), not summed again
changes as (
    select * from deltas
    --incremental: union all
    --incremental: select
    --incremental:     cohort_month, location_id, first_therapist_id, window_days,
    --incremental:     new_clients, eligible, returned,
    --incremental: from rpt_retention_long
    --incremental: semi join deltas
    --incremental:     on
    --incremental:         rpt_retention_long.cohort_month = deltas.cohort_month
    --incremental:         and rpt_retention_long.location_id = deltas.location_id
    --incremental:         and rpt_retention_long.first_therapist_id
    --incremental:         is not distinct from deltas.first_therapist_id
    --incremental:         and rpt_retention_long.window_days = deltas.window_days
),

final as (
    select
        -- ids
        cohort_month,
        location_id,
        first_therapist_id,
        cast(window_days as integer) as window_days,

        -- counts
        cast(sum(new_clients) as integer) as new_clients,
        cast(sum(eligible) as integer) as eligible,
        cast(sum(returned) as integer) as returned,
    from changes
    group by cohort_month, location_id, first_therapist_id, window_days
    having sum(new_clients) <> 0
    --incremental: union all
    --incremental: select * from rpt_retention_long
    --incremental: anti join deltas
    --incremental:     on
    --incremental:         rpt_retention_long.cohort_month = deltas.cohort_month
    --incremental:         and rpt_retention_long.location_id = deltas.location_id
    --incremental:         and rpt_retention_long.first_therapist_id
    --incremental:         is not distinct from deltas.first_therapist_id
    --incremental:         and rpt_retention_long.window_days = deltas.window_days
)

select * from final
