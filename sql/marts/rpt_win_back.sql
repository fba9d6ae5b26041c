-- Clients with nothing booked, by first-visit location and the day they were
-- last seen: one row per location and last-visit date with how many clients of
-- dim_clients have no next booking. The Clients page's at-risk and lapsed
-- counts add these up by days since the last visit (the thresholds are the
-- page's), and its list of clients to win back reads only the clients last
-- seen on the most recent of these days. next_booking_at moves with the as-of
-- date, as does days_since_last_visit (as_of_date - last_visit_date).
--
-- The counts are sums over clients, so an incremental build adjusts the table
-- as it was (`--incremental:` lines) instead of reading all of dim_clients:
-- +1 for the clients dim_clients refreshed as they are now
-- (dim_clients__fresh, which holds every client whose next booking the as-of
-- date passed) and -1 as they were (dim_clients__before); days since the last
-- visit are worked out again for every row (the table is small: at most one
-- row per location and day).
-- reads: dim_clients, rpt_as_of

create or replace table rpt_win_back as

with

-- every client, +1 (an incremental build: the refreshed clients, +1 now and
-- -1 before)
clients as (
    select 1 as sign, first_location_id, last_visit_date, next_booking_at,
    from dim_clients
    --incremental: where false
    --incremental: union all
    --incremental: select 1, first_location_id, last_visit_date, next_booking_at,
    --incremental: from dim_clients__fresh
    --incremental: semi join scope_clients_as_of using (client_id)
    --incremental: union all
    --incremental: select -1, first_location_id, last_visit_date, next_booking_at,
    --incremental: from dim_clients__before
),

as_of as (
    select * from rpt_as_of
),

-- per location and day
deltas as (
    select
        first_location_id as location_id,
        last_visit_date,
        sum(sign) as clients,
    from clients
    where next_booking_at is null
    group by first_location_id, last_visit_date
),

-- an incremental build: plus the rows the changes touch as they were; the
-- others are copied as they are (last_seen), not summed again
changes as (
    select * from deltas
    --incremental: union all
    --incremental: select location_id, last_visit_date, clients,
    --incremental: from rpt_win_back
    --incremental: semi join deltas using (location_id, last_visit_date)
),

last_seen as (
    select
        location_id,
        last_visit_date,
        cast(sum(clients) as integer) as clients,
    from changes
    group by location_id, last_visit_date
    having sum(clients) <> 0
    --incremental: union all
    --incremental: select location_id, last_visit_date, clients,
    --incremental: from rpt_win_back
    --incremental: anti join deltas using (location_id, last_visit_date)
),

final as (
    select
        -- ids
        last_seen.location_id,
        last_seen.last_visit_date,

        -- counts
        last_seen.clients,

        -- since then
        cast(as_of.as_of_date - last_seen.last_visit_date as integer)
            as days_since_last_visit,
    from last_seen
    cross join as_of
)

select * from final
