-- One row per client with at least one completed visit (METRICS.md
-- dim_clients). next_booking_at: the earliest booked (not yet closed)
-- appointment on or after the as-of date. client_status, for the at-risk and
-- lapsed lists: 'booked' (has a next booking), else 'lapsed'
-- (days_since_last_visit >= lapsed_days), else 'at_risk' (>= at_risk_days),
-- else 'active'.

create or replace table dim_clients as

with

bookings as (
    select * from fct_bookings
),

as_of as (
    select * from rpt_as_of
),

settings as (
    select * from settings
),

clients as (
    select * from int_client_visits
    --incremental: semi join scope_clients using (client_id)
),

next_bookings as (
    select
        bookings.client_id,
        min(bookings.start_at) as next_booking_at,
    from bookings
    cross join as_of
    where
        bookings.status = 'booked'
        and bookings.booking_date >= as_of.as_of_date
    group by bookings.client_id
),

final as (
    select
        -- ids
        clients.client_id,

        -- first visit
        clients.first_visit_date,
        clients.first_location_id,
        clients.first_therapist_id,
        clients.first_service,

        -- since then
        cast(clients.completed_visits as integer) as completed_visits,
        clients.last_visit_date,
        next_bookings.next_booking_at,

        -- extras
        clients.second_visit_date,
        clients.completed_revenue,
        cast(date_trunc('month', clients.first_visit_date) as date)
            as cohort_month,
        as_of.as_of_date - clients.last_visit_date as days_since_last_visit,
        case
            when next_bookings.next_booking_at is not null then 'booked'
            when as_of.as_of_date - clients.last_visit_date >= settings.lapsed_days
                then 'lapsed'
            when
                as_of.as_of_date - clients.last_visit_date
                >= settings.at_risk_days
                then 'at_risk'
            else 'active'
        end as client_status,
    from clients
    left join next_bookings
        on clients.client_id = next_bookings.client_id
    cross join as_of
    cross join settings
)

select * from final
