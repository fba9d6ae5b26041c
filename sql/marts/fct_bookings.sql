-- One row per booking (after de-duplication), keyed by (source, booking_id).
-- is_first_visit: the client's earliest completed booking chain-wide (ties by
-- booking_id, then source). is_rebooked (completed bookings only): the client has
-- another booking, any status, created on this booking's date and starting after
-- this booking ends; NULL when no such booking is known but a later booking of the
-- client has an unknown created_at (its source does not export it).

create or replace table fct_bookings as

with

bookings as (
    select * from stg_exports__bookings
),

completed as (
    select * from bookings where status = 'completed'
),

first_visits as (
    select
        client_id,
        min({
            'start_at': start_at, 'booking_id': booking_id, 'source': source
        }) as first_booking,
    from completed
    group by client_id
),

-- bookings created on a completed visit's day that start after it ends
rebooked_on_the_day as (
    select distinct
        completed.source,
        completed.booking_id,
    from completed
    inner join bookings as later
        on
            completed.client_id = later.client_id
            and completed.booking_date = cast(later.created_at as date)
            and later.start_at > completed.end_at
),

-- the latest start of each client's bookings whose creation time is unknown
unknown_creation as (
    select
        client_id,
        max(start_at) as last_unknown_start_at,
    from bookings
    where created_at is null
    group by client_id
),

final as (
    select
        -- ids
        bookings.booking_id,
        bookings.source,
        bookings.location_id,
        bookings.room_id,
        bookings.therapist_id,
        bookings.client_id,

        -- what
        bookings.service,
        bookings.uses_bars,

        -- when
        bookings.start_at,
        bookings.end_at,
        date_diff('minute', bookings.start_at, bookings.end_at) as minutes,
        bookings.booking_date,

        -- status
        bookings.status,
        bookings.is_held,
        bookings.is_late_cancel,
        bookings.created_at,
        bookings.cancelled_at,

        -- money
        bookings.price,

        -- clients
        coalesce(
            first_visits.client_id is not null, false
        ) as is_first_visit,
        case
            when bookings.status <> 'completed' then null
            when rebooked_on_the_day.booking_id is not null then true
            when unknown_creation.last_unknown_start_at > bookings.end_at
                then null
            else false
        end as is_rebooked,

        -- extras
        bookings.is_worked,
    from bookings
    left join first_visits
        on
            bookings.client_id = first_visits.client_id
            and bookings.source = first_visits.first_booking.source
            and bookings.booking_id = first_visits.first_booking.booking_id
    left join rebooked_on_the_day
        on
            bookings.source = rebooked_on_the_day.source
            and bookings.booking_id = rebooked_on_the_day.booking_id
    left join unknown_creation
        on bookings.client_id = unknown_creation.client_id
)

select * from final
