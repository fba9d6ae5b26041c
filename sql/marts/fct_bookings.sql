-- One row per booking (after de-duplication), keyed by (source, booking_id).
-- is_first_visit: the client's earliest completed booking chain-wide (ties by
-- booking_id, then source). is_rebooked (completed bookings only): the client
-- has another booking, any status, created on this booking's date and starting
-- after this booking ends; NULL when no such booking is known but a later
-- booking of the client has an unknown created_at (its source does not export
-- it).
--
-- Stored in booking_date order: DuckDB skips row groups whose date range misses
-- a filter, so an incremental build's scans of a few days read a few row groups
-- instead of every booking.

create or replace table fct_bookings as

with

-- read by each step below rather than materialized once: each reads only the
-- columns it needs, which costs less than keeping every column of every booking
bookings as not materialized (
    select * from stg_exports__bookings
),

-- per client: the earliest completed booking (ties by booking_id, then source)
-- and the latest start among bookings whose creation time is unknown
client_facts as (
    select
        client_id,
        min({
            'start_at': start_at, 'booking_id': booking_id, 'source': source
        }) filter (where status = 'completed') as first_completed,
        max(start_at) filter (where created_at is null) as last_unknown_start_at,
    from bookings
    group by client_id
),

-- per client and creation day: the latest start among bookings made that day
created_on_day as (
    select
        client_id,
        cast(created_at as date) as created_date,
        max(start_at) as last_start_at,
    from bookings
    where created_at is not null
    group by client_id, cast(created_at as date)
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
            bookings.status = 'completed'
            and bookings.start_at = client_facts.first_completed.start_at
            and bookings.booking_id = client_facts.first_completed.booking_id
            and bookings.source = client_facts.first_completed.source,
            false
        ) as is_first_visit,
        case
            when bookings.status <> 'completed' then null
            when created_on_day.last_start_at > bookings.end_at then true
            when client_facts.last_unknown_start_at > bookings.end_at then null
            else false
        end as is_rebooked,

        -- extras
        bookings.is_worked,
    from bookings
    left join client_facts
        on bookings.client_id = client_facts.client_id
    left join created_on_day
        on
            bookings.client_id = created_on_day.client_id
            and bookings.booking_date = created_on_day.created_date
)

select * from final
order by booking_date
