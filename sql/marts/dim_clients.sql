-- One row per client with at least one completed visit (metric dictionary,
-- dim_clients). next_booking_at: the earliest booked (not yet closed)
-- appointment on or after the as-of date. It is the one column that moves with
-- the as-of date, so an incremental build refreshes the changed clients plus
-- those whose next booking the new as-of date passed (scope_clients_as_of);
-- figures relative to the as-of date (days since the last visit) live in the
-- win-back report and the dashboard's queries, not here. is_new_client: the
-- first visit fell on or after its location's new_clients_from; a client known
-- at history start (false) is in no cohort but in the client lists. client_ref,
-- client_ref_system: the booking system's own id of the client and that system
-- (NULL: no export of the client carries one); booking_system: the source of
-- the client's latest booking.
-- reads: fct_bookings, int_client_visits, rpt_as_of

create or replace table dim_clients as

with

-- an incremental build reads the changed clients' bookings as the refresh left
-- them (fct_bookings__fresh), and searches fct_bookings only for the clients the
-- as-of date adds (usually none: an empty search reads nothing), by row id first
-- (testing the client on every column of every booking costs more).
-- Read by each step below rather than materialized with every column: at 10M
-- bookings the copy costs more than the reads.
bookings as not materialized (
    select * from fct_bookings
    --incremental: where rowid in (
    --incremental:     select rowid from fct_bookings
    --incremental:     semi join (
    --incremental:         from scope_clients_as_of anti join scope_clients using (client_id)
    --incremental:     ) as added using (client_id)
    --incremental: )
    --incremental: union all
    --incremental: select * from fct_bookings__fresh
),

as_of as (
    select * from rpt_as_of
),

-- an incremental build reads the changed clients' rows as the refresh left
-- them (int_client_visits__fresh) and searches the table only for the clients
-- the as-of date adds, as for the bookings above
clients as (
    select * from int_client_visits
    --incremental: semi join (
    --incremental:     from scope_clients_as_of anti join scope_clients using (client_id)
    --incremental: ) as added using (client_id)
    --incremental: union all
    --incremental: select * from int_client_visits__fresh
    --incremental: semi join scope_clients using (client_id)
),

-- the booking system's own reference of the client (fct_bookings.client_ref) and
-- which system it belongs to: those of the client's latest booking that has one;
-- and the system of the client's latest booking of all (ties by source, then
-- booking_id), the one to look them up in when no export gives a reference.
-- The latest start comes from a plain max per client; only the bookings at that
-- start are then ranked by (source, booking_id). Ranking every booking by a
-- struct key took most of this model's time (10M: CPU 27 -> 19 s).
latest_starts as (
    select
        client_id,
        max(start_at) as latest_start_at,
        max(start_at) filter (where client_ref is not null) as latest_ref_start_at,
    from bookings
    group by client_id
),

client_refs as (
    select
        bookings.client_id,
        -- (source, booking_id) is the key, so the greatest struct led by it is the
        -- booking that ranks first, with its reference; and the system of the
        -- booking that ranks first is the greatest source. Plain max, not arg_max
        -- keyed by a struct: 10M CPU 17.8 -> 14.4 s.
        max({
            'system': bookings.source,
            'booking_id': bookings.booking_id,
            'ref': bookings.client_ref
        }) filter (
            where
                bookings.client_ref is not null
                and bookings.start_at = latest_starts.latest_ref_start_at
        ) as latest,
        max(bookings.source) filter (
            where bookings.start_at = latest_starts.latest_start_at
        ) as booking_system,
    from bookings
    inner join latest_starts
        on
            bookings.client_id = latest_starts.client_id
            and bookings.start_at in (
                latest_starts.latest_start_at, latest_starts.latest_ref_start_at
            )
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
        clients.client_id,
        client_refs.latest.ref as client_ref,
        client_refs.latest.system as client_ref_system,
        client_refs.booking_system,

        -- first visit
        clients.first_visit_date,
        clients.first_location_id,
        clients.first_therapist_id,
        clients.first_service,
        clients.is_new_client,

        -- since then
        cast(clients.completed_visits as integer) as completed_visits,
        clients.last_visit_date,
        next_bookings.next_booking_at,

        -- extras
        clients.second_visit_date,
        clients.completed_revenue,
        cast(date_trunc('month', clients.first_visit_date) as date)
            as cohort_month,
    from clients
    left join next_bookings
        on clients.client_id = next_bookings.client_id
    left join client_refs
        on clients.client_id = client_refs.client_id
)

select * from final
