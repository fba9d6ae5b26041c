-- Bookings, typed and cleaned: one row per (source, booking_id), the latest
-- load wins (the loader replaces a key's row, so raw_bookings holds one per key;
-- the unique_keys check stops a build that would break this). uses_bars comes from the export when it has it, else from
-- settings_bar_keywords (case-insensitive substring of the service name).
-- is_late_cancel follows the metric dictionary.
-- reads: raw_bookings, settings, settings_bar_keywords

create or replace view stg_exports__bookings as

with

-- an incremental build stages the changed clients' bookings (scope_clients)
-- without searching every booking: this load's rows by their load id (the
-- newest row groups), and below, the clients' other rows as fct_bookings
-- stored them
raw_rows as not materialized (
    select * from raw_bookings
    --incremental: where load_id in (select load_id from changed_booking_loads)
),

settings as (
    select * from settings
),

bar_keywords as (
    select lower(keyword) as keyword from settings_bar_keywords
),

-- the keyword match runs once per distinct service, not once per booking
services as (
    select distinct service from raw_rows
),

bar_services as (
    select
        services.service,
        count(bar_keywords.keyword) > 0 as service_uses_bars,
    from services
    left join bar_keywords
        on contains(lower(services.service), bar_keywords.keyword)
    group by services.service
),

final as (
    select
        -- ids
        raw_rows.source,
        raw_rows.booking_id,
        raw_rows.location_id,
        raw_rows.room_id,
        raw_rows.therapist_id,
        raw_rows.client_id,
        -- the booking system's own client id or code (never a name, email or phone)
        raw_rows.client_ref,

        -- what
        raw_rows.service,
        coalesce(
            raw_rows.uses_bars, bar_services.service_uses_bars, false
        ) as uses_bars,
        raw_rows.status,
        raw_rows.status_word,
        raw_rows.price,

        -- timestamps (whole minutes, location local wall-clock)
        date_trunc('minute', raw_rows.start_at) as start_at,
        date_trunc('minute', raw_rows.end_at) as end_at,
        raw_rows.created_at,
        raw_rows.cancelled_at,
        cast(raw_rows.start_at as date) as booking_date,

        -- status flags
        raw_rows.status in ('completed', 'booked', 'no_show') as is_held,
        raw_rows.status in ('completed', 'booked') as is_worked,
        coalesce(
            raw_rows.status = 'late_cancelled'
            or (
                raw_rows.status = 'cancelled'
                and raw_rows.cancelled_at
                > raw_rows.start_at
                - to_hours(settings.late_cancel_hours)
            ),
            false
        ) as is_late_cancel,

        -- lineage
        raw_rows.load_id,
        raw_rows.line_number,
    from raw_rows
    cross join settings
    left join bar_services
        on raw_rows.service = bar_services.service
)

select * from final
--incremental: semi join scope_clients using (client_id)
--incremental: -- the clients' rows this load did not replace, as the marts were built from
--incremental: -- them (same raw rows, SQL and settings); their status_word and lineage are
--incremental: -- NULL, which no mart reading this view in an incremental build reads
--incremental: union all by name
--incremental: select
--incremental:     source,
--incremental:     booking_id,
--incremental:     location_id,
--incremental:     case when room_source = 'export' then room_id end as room_id,
--incremental:     therapist_id,
--incremental:     client_id,
--incremental:     client_ref,
--incremental:     service,
--incremental:     uses_bars,
--incremental:     status,
--incremental:     price,
--incremental:     start_at,
--incremental:     end_at,
--incremental:     created_at,
--incremental:     cancelled_at,
--incremental:     booking_date,
--incremental:     is_held,
--incremental:     is_worked,
--incremental:     is_late_cancel,
--incremental: from fct_bookings__before
--incremental: anti join raw_rows using (source, booking_id)
