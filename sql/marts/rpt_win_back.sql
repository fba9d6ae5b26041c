-- Clients with nothing booked, by first-visit location and the day they were
-- last seen: one row per location and last-visit date with how many clients of
-- dim_clients have no next booking. The Clients page's at-risk and lapsed
-- counts add these up by days since the last visit (the thresholds are the
-- page's), and its list of clients to win back reads only the clients last
-- seen on the most recent of these days. next_booking_at moves with the as-of
-- date, as does days_since_last_visit (as_of_date - last_visit_date), so every
-- build rebuilds this whole (it is small: at most one row per location and day).
-- reads: dim_clients, rpt_as_of

create or replace table rpt_win_back as

with

clients as (
    select * from dim_clients
),

as_of as (
    select * from rpt_as_of
),

last_seen as (
    select
        first_location_id as location_id,
        last_visit_date,
        cast(count(*) as integer) as clients,
    from clients
    where next_booking_at is null
    group by first_location_id, last_visit_date
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
