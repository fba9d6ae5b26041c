-- One row per booking (after de-duplication), keyed by (source, booking_id).
-- is_first_visit: the client's earliest completed booking chain-wide (ties by
-- booking_id, then source). is_new_client: a first visit on or after its
-- location's new_clients_from (int_location_history): an earlier first visit
-- is a client known at history start, not a new one. is_rebooked (completed
-- bookings only): the client has another booking, any status, created on this
-- booking's date and starting after this booking ends. It is NULL for every
-- booking of a source that never records created_at (int_booking_sources), and
-- NULL when no such booking is known but a later booking of the client comes
-- from such a source (it may have been made that day).
--
-- Stored in booking_date order: DuckDB skips row groups whose date range misses
-- a filter, so an incremental build's scans of a few days read a few row groups
-- instead of every booking.
-- reads: int_booking_rooms, int_booking_sources, int_location_history,
--     stg_exports__bookings

create or replace table fct_bookings as

with

-- read by each step below rather than materialized once: each reads only the
-- columns it needs, which costs less than keeping every column of every booking
bookings as not materialized (
    select * from stg_exports__bookings
),

-- whether each source records created_at (a handful of rows)
sources as (
    select * from int_booking_sources
),

-- rooms given to held bookings whose export names none (int_booking_rooms)
inferred_rooms as (
    select source, booking_id, room_id from int_booking_rooms
    --incremental: semi join scope_clients using (client_id)
    where room_id is not null
),

-- per location: the day its first visits start counting as new clients
history_start as (
    select * from int_location_history
),

-- per client: the earliest completed booking (ties by booking_id, then source)
-- and the latest start among bookings of sources that never record created_at
client_facts as (
    select
        bookings.client_id,
        min({
            'start_at': bookings.start_at,
            'booking_id': bookings.booking_id,
            'source': bookings.source
        }) filter (where bookings.status = 'completed') as first_completed,
        max(bookings.start_at) filter (
            where not sources.records_created_at
        ) as last_unknown_start_at,
    from bookings
    inner join sources
        on bookings.source = sources.source
    group by bookings.client_id
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
        -- the export's room, else the one inferred; room_source says which (NULL:
        -- no room, the booking occupies none)
        coalesce(bookings.room_id, inferred_rooms.room_id) as room_id,
        case
            when bookings.room_id is not null then 'export'
            when inferred_rooms.room_id is not null then 'inferred'
        end as room_source,
        bookings.therapist_id,
        bookings.client_id,
        -- the booking system's own client id or code from this booking's export
        -- (NULL: the export carries none); which system: source
        bookings.client_ref,

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
        coalesce(
            bookings.status = 'completed'
            and bookings.start_at = client_facts.first_completed.start_at
            and bookings.booking_id = client_facts.first_completed.booking_id
            and bookings.source = client_facts.first_completed.source
            and bookings.booking_date >= history_start.new_clients_from,
            false
        ) as is_new_client,
        case
            when bookings.status <> 'completed' then null
            when not sources.records_created_at then null
            when created_on_day.last_start_at > bookings.end_at then true
            when client_facts.last_unknown_start_at > bookings.end_at then null
            else false
        end as is_rebooked,

        -- extras
        bookings.is_worked,
    from bookings
    left join client_facts
        on bookings.client_id = client_facts.client_id
    left join sources
        on bookings.source = sources.source
    left join inferred_rooms
        on
            bookings.source = inferred_rooms.source
            and bookings.booking_id = inferred_rooms.booking_id
    left join history_start
        on bookings.location_id = history_start.location_id
    left join created_on_day
        on
            bookings.client_id = created_on_day.client_id
            and bookings.booking_date = created_on_day.created_date
)

select * from final
order by booking_date
