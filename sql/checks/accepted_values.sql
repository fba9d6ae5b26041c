-- Status words are canonical (metric dictionary), flags agree with status, clock hours
-- are 0..23. Returns the offending bookings or hours.

with

-- the bookings to check: after an incremental build only the rows it
-- refreshed, which the build keeps aside (fct_bookings__fresh)
checked_bookings as (
    select * from fct_bookings
    --incremental: where false
    --incremental: union all
    --incremental: select * from fct_bookings__fresh
),

bad_bookings as (
    select
        'fct_bookings' as mart,
        source || '/' || booking_id || ': ' || status as offending,
    from checked_bookings
    where
        status not in (
            'completed', 'booked', 'no_show', 'cancelled', 'late_cancelled'
        )
        or is_held <> (status in ('completed', 'booked', 'no_show'))
        or (status = 'late_cancelled' and not is_late_cancel)
        or (is_late_cancel and status not in ('cancelled', 'late_cancelled'))
        or (is_first_visit and status <> 'completed')
        or (is_new_client and not is_first_visit)
        or (is_rebooked is not null and status <> 'completed')
),

bad_hours as (
    select
        'fct_hourly_capacity' as mart,
        location_id || '/' || date || '/' || hour as offending,
    from fct_hourly_capacity
    --incremental: semi join scope_days using (location_id, date)
    where hour not between 0 and 23
),

final as (
    select * from bad_bookings
    union all
    select * from bad_hours
)

select * from final
