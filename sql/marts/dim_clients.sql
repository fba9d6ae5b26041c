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

first_visits as (
    select
        client_id,
        booking_date as first_visit_date,
        location_id as first_location_id,
        therapist_id as first_therapist_id,
        service as first_service,
    from bookings
    where is_first_visit
),

visits as (
    select
        bookings.client_id,
        count(*) as completed_visits,
        max(bookings.booking_date) as last_visit_date,
        min(bookings.booking_date) filter (
            where bookings.booking_date > first_visits.first_visit_date
        ) as second_visit_date,
        coalesce(sum(bookings.price), 0) as completed_revenue,
    from bookings
    inner join first_visits
        on bookings.client_id = first_visits.client_id
    where bookings.status = 'completed'
    group by bookings.client_id
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
        first_visits.client_id,

        -- first visit
        first_visits.first_visit_date,
        first_visits.first_location_id,
        first_visits.first_therapist_id,
        first_visits.first_service,

        -- since then
        cast(visits.completed_visits as integer) as completed_visits,
        visits.last_visit_date,
        next_bookings.next_booking_at,

        -- extras
        visits.second_visit_date,
        visits.completed_revenue,
        cast(date_trunc('month', first_visits.first_visit_date) as date)
            as cohort_month,
        as_of.as_of_date - visits.last_visit_date as days_since_last_visit,
        case
            when next_bookings.next_booking_at is not null then 'booked'
            when as_of.as_of_date - visits.last_visit_date >= settings.lapsed_days
                then 'lapsed'
            when
                as_of.as_of_date - visits.last_visit_date
                >= settings.at_risk_days
                then 'at_risk'
            else 'active'
        end as client_status,
    from first_visits
    inner join visits
        on first_visits.client_id = visits.client_id
    left join next_bookings
        on first_visits.client_id = next_bookings.client_id
    cross join as_of
    cross join settings
)

select * from final
