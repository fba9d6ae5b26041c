-- One row per location per day with a room-calendar row, a shift or a booking
-- (metric dictionary, fct_location_days). Rates are NULL when their denominator is 0.
-- Revenue is NULL, never 0, when no completed booking of the day has a known
-- price (the export has no prices), and RevPATH with it. new_clients counts
-- new clients only (is_new_client: first visits from the location's
-- new_clients_from on). The rebooking rate is over the visits whose rebooking
-- is known, NULL when none is.
-- reads: fct_bookings, fct_room_days, fct_therapist_days

create or replace table fct_location_days as

with

room_days as (
    select * from fct_room_days
    --incremental: semi join scope_days using (location_id, date)
),

therapist_days as (
    select * from fct_therapist_days
    --incremental: semi join scope_days using (location_id, date)
),

bookings as (
    select * from fct_bookings
    --incremental: semi join scope_days as scope
    --incremental:     on
    --incremental:         fct_bookings.location_id = scope.location_id
    --incremental:         and fct_bookings.booking_date = scope.date
),

rooms as (
    select
        location_id,
        date,
        count(*) as rooms,
        sum(available_minutes) as available_minutes,
        sum(occupied_minutes) as occupied_minutes,
        count(*) filter (where has_bars) as bar_rooms,
        coalesce(sum(available_minutes) filter (where has_bars), 0)
            as bar_room_available_minutes,
        coalesce(sum(occupied_minutes) filter (where has_bars), 0)
            as bar_room_occupied_minutes,
        coalesce(sum(bar_minutes) filter (where has_bars), 0)
            as bar_room_bar_minutes,
        sum(open_minutes) as open_minutes,
        sum(blocked_minutes) as blocked_minutes,
        sum(bar_minutes) as bar_minutes,
    from room_days
    group by location_id, date
),

therapists as (
    select
        location_id,
        date,
        sum(scheduled_minutes) as scheduled_minutes,
        sum(booked_minutes) as booked_minutes,
        count(*) filter (where scheduled_minutes > 0) as therapists_scheduled,
        sum(outside_shift_minutes) as outside_shift_minutes,
        sum(sessions) as sessions,
        sum(hands_on_minutes) as hands_on_minutes,
        sum(bar_sessions) as bar_sessions,
    from therapist_days
    group by location_id, date
),

booking_counts as (
    select
        location_id,
        booking_date as date,
        count(*) as bookings,
        count(*) filter (where status = 'completed') as completed,
        count(*) filter (where status = 'no_show') as no_shows,
        count(*) filter (
            where status in ('cancelled', 'late_cancelled')
        ) as cancellations,
        count(*) filter (where is_late_cancel) as late_cancellations,
        sum(price) filter (where status = 'completed') as revenue,
        count(*) filter (where is_new_client) as new_clients,
        count(*) filter (where is_rebooked) as rebooked_visits,
        count(*) filter (where is_rebooked is not null) as rebooking_known,
    from bookings
    group by location_id, booking_date
),

location_days as (
    select location_id, date from rooms
    union
    select location_id, date from therapists
    union
    select location_id, date from booking_counts
),

joined as (
    select
        location_days.location_id,
        location_days.date,
        coalesce(rooms.rooms, 0) as rooms,
        coalesce(rooms.available_minutes, 0) as available_minutes,
        coalesce(rooms.occupied_minutes, 0) as occupied_minutes,
        coalesce(rooms.bar_rooms, 0) as bar_rooms,
        coalesce(rooms.bar_room_available_minutes, 0)
            as bar_room_available_minutes,
        coalesce(rooms.bar_room_occupied_minutes, 0)
            as bar_room_occupied_minutes,
        coalesce(rooms.bar_room_bar_minutes, 0) as bar_room_bar_minutes,
        coalesce(rooms.open_minutes, 0) as open_minutes,
        coalesce(rooms.blocked_minutes, 0) as blocked_minutes,
        coalesce(rooms.bar_minutes, 0) as bar_minutes,
        coalesce(therapists.scheduled_minutes, 0) as scheduled_minutes,
        coalesce(therapists.booked_minutes, 0) as booked_minutes,
        coalesce(therapists.therapists_scheduled, 0) as therapists_scheduled,
        coalesce(therapists.outside_shift_minutes, 0) as outside_shift_minutes,
        coalesce(therapists.sessions, 0) as sessions,
        coalesce(therapists.hands_on_minutes, 0) as hands_on_minutes,
        coalesce(therapists.bar_sessions, 0) as bar_sessions,
        coalesce(booking_counts.bookings, 0) as bookings,
        coalesce(booking_counts.completed, 0) as completed,
        coalesce(booking_counts.no_shows, 0) as no_shows,
        coalesce(booking_counts.cancellations, 0) as cancellations,
        coalesce(booking_counts.late_cancellations, 0) as late_cancellations,
        booking_counts.revenue,
        coalesce(booking_counts.new_clients, 0) as new_clients,
        coalesce(booking_counts.rebooked_visits, 0) as rebooked_visits,
        coalesce(booking_counts.rebooking_known, 0) as rebooking_known,
    from location_days
    left join rooms
        on
            location_days.location_id = rooms.location_id
            and location_days.date = rooms.date
    left join therapists
        on
            location_days.location_id = therapists.location_id
            and location_days.date = therapists.date
    left join booking_counts
        on
            location_days.location_id = booking_counts.location_id
            and location_days.date = booking_counts.date
),

final as (
    select
        -- ids
        location_id,
        date,
        isodow(date) as weekday,

        -- rooms
        cast(rooms as integer) as rooms,
        cast(available_minutes as bigint) as available_minutes,
        cast(occupied_minutes as bigint) as occupied_minutes,
        occupied_minutes / nullif(available_minutes, 0) as room_utilization,

        -- ceiling bars
        cast(bar_rooms as integer) as bar_rooms,
        cast(bar_room_available_minutes as bigint)
            as bar_room_available_minutes,
        cast(bar_room_occupied_minutes as bigint) as bar_room_occupied_minutes,
        cast(bar_room_bar_minutes as bigint) as bar_room_bar_minutes,
        bar_room_bar_minutes / nullif(bar_room_available_minutes, 0)
            as bar_utilization,
        bar_room_bar_minutes / nullif(bar_room_occupied_minutes, 0) as bar_fit,

        -- therapists
        cast(scheduled_minutes as bigint) as scheduled_minutes,
        cast(booked_minutes as bigint) as booked_minutes,
        booked_minutes / nullif(scheduled_minutes, 0) as therapist_utilization,

        -- bookings
        cast(bookings as integer) as bookings,
        cast(completed as integer) as completed,
        cast(no_shows as integer) as no_shows,
        cast(cancellations as integer) as cancellations,
        cast(late_cancellations as integer) as late_cancellations,
        no_shows / nullif(completed + no_shows, 0) as no_show_rate,
        cancellations / nullif(bookings, 0) as cancellation_rate,

        -- money and clients
        revenue,
        cast(revenue as double) / nullif(available_minutes / 60, 0) as revpath,
        cast(new_clients as integer) as new_clients,
        cast(rebooked_visits as integer) as rebooked_visits,
        rebooked_visits / nullif(rebooking_known, 0) as rebooking_rate,

        -- extras
        cast(rebooking_known as integer) as rebooking_known_visits,
        cast(open_minutes as bigint) as open_minutes,
        cast(blocked_minutes as bigint) as blocked_minutes,
        cast(bar_minutes as bigint) as bar_minutes,
        cast(therapists_scheduled as integer) as therapists_scheduled,
        cast(outside_shift_minutes as bigint) as outside_shift_minutes,
        cast(sessions as integer) as sessions,
        cast(hands_on_minutes as bigint) as hands_on_minutes,
        cast(bar_sessions as integer) as bar_sessions,
    from joined
)

select * from final
