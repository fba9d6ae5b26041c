-- First-visit cohorts in long form: one row per cohort month, first-visit
-- location, first therapist and configured retention window (settings). The
-- wide rpt_retention (eligible_N / returned_N per window) is pivoted from this
-- table by pipelines/warehouse/retention.py. A client is eligible for window N when
-- first_visit_date + N <= as_of_date (open windows are left out, never counted
-- as lost) and returned when a completed visit on a later date falls no later
-- than first_visit_date + N. Cohorts hold new clients only (is_new_client):
-- a client whose first visit in the data is before its location's
-- new_clients_from was a client already and belongs to no cohort.
-- reads: dim_clients, rpt_as_of, settings_retention_windows

create or replace table rpt_retention_long as

with

clients as (
    select * from dim_clients
    where is_new_client
),

windows as (
    select distinct window_days from settings_retention_windows
),

as_of as (
    select * from rpt_as_of
),

client_windows as (
    select
        clients.cohort_month,
        clients.first_location_id as location_id,
        clients.first_therapist_id,
        windows.window_days,
        clients.first_visit_date + windows.window_days <= as_of.as_of_date
            as is_eligible,
        clients.second_visit_date
        <= clients.first_visit_date + windows.window_days as has_returned,
    from clients
    cross join windows
    cross join as_of
),

final as (
    select
        -- ids
        cohort_month,
        location_id,
        first_therapist_id,
        window_days,

        -- counts
        cast(count(*) as integer) as new_clients,
        cast(count(*) filter (where is_eligible) as integer) as eligible,
        cast(
            count(*) filter (where is_eligible and has_returned) as integer
        ) as returned,
    from client_windows
    group by cohort_month, location_id, first_therapist_id, window_days
)

select * from final
