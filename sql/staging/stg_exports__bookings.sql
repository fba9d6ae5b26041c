-- Bookings, typed and cleaned: one row per (source, booking_id), the latest
-- load wins. uses_bars comes from the export when it has it, else from
-- settings_bar_keywords (case-insensitive substring of the service name).
-- is_late_cancel follows METRICS.md.

create or replace view stg_exports__bookings as

with

raw_rows as (
    select * from raw_bookings
    --incremental: semi join scope_clients using (client_id)
),

settings as (
    select * from settings
),

bar_keywords as (
    select lower(keyword) as keyword from settings_bar_keywords
),

-- the loader already de-duplicates; this guards against a key loaded twice
-- without sorting every row: only keys seen more than once are ranked
duplicate_keys as (
    select source, booking_id
    from raw_rows
    group by source, booking_id
    having count(*) > 1
),

superseded_rows as (
    select source, booking_id, load_id, line_number
    from raw_rows
    semi join duplicate_keys using (source, booking_id)
    qualify row_number() over (
        partition by source, booking_id
        order by load_id desc, line_number desc
    ) > 1
),

latest_rows as (
    select *
    from raw_rows
    anti join superseded_rows using (source, booking_id, load_id, line_number)
),

-- the keyword match runs once per distinct service, not once per booking
services as (
    select distinct service from latest_rows
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
        latest_rows.source,
        latest_rows.booking_id,
        latest_rows.location_id,
        latest_rows.room_id,
        latest_rows.therapist_id,
        latest_rows.client_id,

        -- what
        latest_rows.service,
        coalesce(
            latest_rows.uses_bars, bar_services.service_uses_bars, false
        ) as uses_bars,
        latest_rows.status,
        latest_rows.status_word,
        latest_rows.price,

        -- timestamps (whole minutes, location local wall-clock)
        date_trunc('minute', latest_rows.start_at) as start_at,
        date_trunc('minute', latest_rows.end_at) as end_at,
        latest_rows.created_at,
        latest_rows.cancelled_at,
        cast(latest_rows.start_at as date) as booking_date,

        -- status flags
        latest_rows.status in ('completed', 'booked', 'no_show') as is_held,
        latest_rows.status in ('completed', 'booked') as is_worked,
        coalesce(
            latest_rows.status = 'late_cancelled'
            or (
                latest_rows.status = 'cancelled'
                and latest_rows.cancelled_at
                > latest_rows.start_at
                - to_hours(settings.late_cancel_hours)
            ),
            false
        ) as is_late_cancel,

        -- lineage
        latest_rows.load_id,
        latest_rows.line_number,
    from latest_rows
    cross join settings
    left join bar_services
        on latest_rows.service = bar_services.service
)

select * from final
