-- The day the data is complete through: the latest booking_date among completed
-- and no-show bookings (one row; NULL before any such booking is loaded).

create or replace view rpt_as_of as

with

closed_bookings as (
    select booking_date
    from fct_bookings
    where status in ('completed', 'no_show')
),

final as (
    select max(booking_date) as as_of_date from closed_bookings
)

select * from final
