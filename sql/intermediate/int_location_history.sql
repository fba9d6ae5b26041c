-- History start (metric dictionary): one row per location with the day its data
-- starts and the day its first visits start counting as new clients.
-- new_clients_from is the studio profile's opened_on when it is given and no
-- booking of the location is earlier; else the first booking day plus the
-- setting new_client_lookback_days (0: from the first booking). A client whose
-- first visit in the data falls before it was probably a client already.
--
-- Read from raw_bookings, not the staging view: an incremental build shadows
-- that view with the changed clients' bookings, and a location's first booking
-- is a fact about all of them. An incremental build rebuilds this table whole
-- and, when any row moved, rebuilds every mart (pipelines.warehouse.incremental).
-- reads: raw_bookings, settings, stg_exports__locations

create or replace table int_location_history as

with

bookings as (
    select location_id, start_at from raw_bookings
),

locations as (
    select * from stg_exports__locations
),

settings as (
    select * from settings
),

first_bookings as (
    select
        location_id,
        cast(min(start_at) as date) as first_booking_date,
    from bookings
    group by location_id
),

final as (
    select
        -- ids
        locations.location_id,

        -- history start
        first_bookings.first_booking_date,
        locations.opened_on,
        case
            when
                locations.opened_on is not null
                and (
                    first_bookings.first_booking_date is null
                    or locations.opened_on <= first_bookings.first_booking_date
                )
                then locations.opened_on
            else
                first_bookings.first_booking_date
                + cast(settings.new_client_lookback_days as integer)
        end as new_clients_from,
    from locations
    left join first_bookings
        on locations.location_id = first_bookings.location_id
    cross join settings
)

select * from final
