-- fct_location_days adds up its parts: room, therapist and booking sums per
-- location-day equal those of fct_room_days, fct_therapist_days and
-- fct_bookings, and no part's location-day is missing. Returns mismatches.

with

-- after an incremental build only the refreshed location-days, which are all the
-- parts below hold (read by each comparison below rather than copied)
location_days as not materialized (
    select * from fct_location_days
    --incremental: semi join scope_days using (location_id, date)
),

room_parts as (
    select
        location_id,
        date,
        count(*) as rooms,
        sum(available_minutes) as available_minutes,
        sum(occupied_minutes) as occupied_minutes,
        count(*) filter (where has_bars) as bar_rooms,
        coalesce(sum(bar_minutes) filter (where has_bars), 0)
            as bar_room_bar_minutes,
    from fct_room_days
    --incremental: semi join scope_days using (location_id, date)
    group by location_id, date
),

therapist_parts as (
    select
        location_id,
        date,
        sum(scheduled_minutes) as scheduled_minutes,
        sum(booked_minutes) as booked_minutes,
    from fct_therapist_days
    --incremental: semi join scope_days using (location_id, date)
    group by location_id, date
),

booking_parts as (
    select
        location_id,
        booking_date as date,
        count(*) as bookings,
        count(*) filter (where status = 'completed') as completed,
        count(*) filter (where is_new_client) as new_clients,
    from fct_bookings
    --incremental: semi join scope_days
    --incremental:     on
    --incremental:         fct_bookings.location_id = scope_days.location_id
    --incremental:         and fct_bookings.booking_date = scope_days.date
    group by location_id, booking_date
),

room_mismatches as (
    select
        'rooms' as part,
        room_parts.location_id,
        room_parts.date,
    from room_parts
    left join location_days
        on
            room_parts.location_id = location_days.location_id
            and room_parts.date = location_days.date
    where
        location_days.location_id is null
        or room_parts.rooms <> location_days.rooms
        or room_parts.available_minutes <> location_days.available_minutes
        or room_parts.occupied_minutes <> location_days.occupied_minutes
        or room_parts.bar_rooms <> location_days.bar_rooms
        or room_parts.bar_room_bar_minutes
        <> location_days.bar_room_bar_minutes
),

therapist_mismatches as (
    select
        'therapists' as part,
        therapist_parts.location_id,
        therapist_parts.date,
    from therapist_parts
    left join location_days
        on
            therapist_parts.location_id = location_days.location_id
            and therapist_parts.date = location_days.date
    where
        location_days.location_id is null
        or therapist_parts.scheduled_minutes <> location_days.scheduled_minutes
        or therapist_parts.booked_minutes <> location_days.booked_minutes
),

booking_mismatches as (
    select
        'bookings' as part,
        booking_parts.location_id,
        booking_parts.date,
    from booking_parts
    left join location_days
        on
            booking_parts.location_id = location_days.location_id
            and booking_parts.date = location_days.date
    where
        location_days.location_id is null
        or booking_parts.bookings <> location_days.bookings
        or booking_parts.completed <> location_days.completed
        or booking_parts.new_clients <> location_days.new_clients
),

final as (
    select * from room_mismatches
    union all
    select * from therapist_mismatches
    union all
    select * from booking_mismatches
)

select * from final
