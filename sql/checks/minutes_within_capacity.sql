-- Arithmetic invariants of the minute columns. Returns (mart, key, rule
-- broken).

with

-- the bookings to check: after an incremental build only the rows it
-- refreshed, which the build keeps aside (fct_bookings__fresh)
checked_bookings as (
    select * from fct_bookings
    --incremental: where false
    --incremental: union all
    --incremental: select * from fct_bookings__fresh
),

room_days as (
    select
        'fct_room_days' as mart,
        location_id || '/' || room_id || '/' || date as mart_key,
        case
            when occupied_minutes > open_minutes then 'occupied > open'
            when bar_minutes > occupied_minutes then 'bar > occupied'
            when available_minutes <> greatest(open_minutes - blocked_minutes, 0)
                then 'available <> open - blocked'
            when occupied_minutes < 0 or bar_minutes < 0 then 'negative'
        end as rule,
    from fct_room_days
    --incremental: semi join scope_days using (location_id, date)
),

therapist_days as (
    select
        'fct_therapist_days' as mart,
        location_id || '/' || therapist_id || '/' || date as mart_key,
        case
            when outside_shift_minutes > booked_minutes
                then 'outside shift > booked'
            when outside_shift_minutes < 0 then 'negative outside shift'
            when booked_minutes > 1440 then 'booked > a day'
            when bar_sessions > sessions then 'bar sessions > sessions'
            when back_to_back_pairs > greatest(sessions - 1, 0)
                then 'back-to-back pairs > sessions - 1'
        end as rule,
    from fct_therapist_days
    --incremental: semi join scope_days using (location_id, date)
),

hours as (
    select
        'fct_hourly_capacity' as mart,
        location_id || '/' || date || '/' || hour as mart_key,
        case
            when room_occupied_minutes > room_available_minutes
                then 'occupied > available'
            when bar_room_occupied_minutes > bar_room_available_minutes
                then 'bar room occupied > available'
            when bar_rooms_full_minutes > 60 then 'bar rooms full > 60'
            when bar_rooms_full_minutes > bar_room_available_minutes
                then 'bar rooms full > bar room available'
        end as rule,
    from fct_hourly_capacity
    --incremental: semi join scope_days using (location_id, date)
),

bookings as (
    select
        'fct_bookings' as mart,
        source || '/' || booking_id as mart_key,
        case
            when minutes <> date_diff('minute', start_at, end_at)
                then 'minutes <> end - start'
            when booking_date <> cast(start_at as date)
                then 'booking_date <> date(start_at)'
        end as rule,
    from checked_bookings
),

retention as (
    select
        'rpt_retention_long' as mart,
        cohort_month || '/' || location_id || '/' || window_days as mart_key,
        'returned <= eligible <= new_clients' as rule,
    from rpt_retention_long
    where not (returned <= eligible and eligible <= new_clients)
),

final as (
    select * from room_days where rule is not null
    union all
    select * from therapist_days where rule is not null
    union all
    select * from hours where rule is not null
    union all
    select * from bookings where rule is not null
    union all
    select * from retention
)

select * from final
