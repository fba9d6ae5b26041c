-- One row per client with at least one completed visit: the facts that depend
-- on the client's own bookings only (first visit, visit counts, revenue). The
-- client dimension adds the as-of dependent columns, so an incremental build
-- refreshes this table for the changed clients only and the dimension stays a
-- cheap join. A build intermediate kept in the warehouse.
-- reads: fct_bookings

create or replace table int_client_visits as

with

-- in an incremental build the changed clients' bookings as refreshed, which
-- the build keeps aside (fct_bookings__fresh), so the 10M-row table is not
-- scanned for them
bookings as (
    select * from fct_bookings
    --incremental: where false
    --incremental: union all
    --incremental: select * from fct_bookings__fresh
),

first_visits as (
    select
        client_id,
        booking_date as first_visit_date,
        location_id as first_location_id,
        therapist_id as first_therapist_id,
        service as first_service,
        is_new_client,
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
        -- NULL, never 0, when none of the visits has a known price
        sum(bookings.price) as completed_revenue,
    from bookings
    inner join first_visits
        on bookings.client_id = first_visits.client_id
    where bookings.status = 'completed'
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
        first_visits.is_new_client,

        -- since then
        visits.completed_visits,
        visits.last_visit_date,
        visits.second_visit_date,
        visits.completed_revenue,
    from first_visits
    inner join visits
        on first_visits.client_id = visits.client_id
)

select * from final
