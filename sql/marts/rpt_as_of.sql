-- The day the data is complete through: the latest booking_date among completed
-- and no-show bookings (one row; NULL before any such booking is loaded). Read
-- from the location-day counts, which hold every booking's location and day,
-- because every dashboard page asks for it: a view over the bookings would
-- scan them all each time.
-- reads: fct_location_days

create or replace view rpt_as_of as

with

location_days as (
    select * from fct_location_days
),

final as (
    select
        max(date) filter (
            where completed > 0 or no_shows > 0
        ) as as_of_date,
    from location_days
)

select * from final
