-- Clients with nothing booked, by first-visit location and the day they were
-- last seen: one row per location and last-visit date with how many clients of
-- dim_clients have no next booking. The Clients page's at-risk and lapsed
-- counts add these up by days since the last visit (the thresholds are the
-- page's), and its list of clients to win back reads only the clients last
-- seen on the most recent of these days. next_booking_at moves with the as-of
-- date, so every build rebuilds this whole (it is small: at most one row per
-- location and day).

create or replace table rpt_win_back as

with

clients as (
    select * from dim_clients
),

final as (
    select
        -- ids
        first_location_id as location_id,
        last_visit_date,

        -- counts
        cast(count(*) as integer) as clients,
    from clients
    where next_booking_at is null
    group by first_location_id, last_visit_date
)

select * from final
