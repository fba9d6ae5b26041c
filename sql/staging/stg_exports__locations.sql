-- Locations: every location any export or the studio profile names.
-- raw_locations (a locations export, or the profile's locations) adds a display
-- name, a time zone and the day it opened (the profile's opened_on); a location
-- without one is named by its id.
-- reads: raw_bookings, raw_locations, raw_rooms, raw_therapist_shifts

create or replace view stg_exports__locations as

with

raw_rows as (
    select * from raw_locations
),

-- the loader already de-duplicates; this guards against a key loaded twice
-- without sorting every row: only keys seen more than once are ranked
duplicate_keys as (
    select location_id
    from raw_rows
    group by location_id
    having count(*) > 1
),

superseded_rows as (
    select location_id, load_id, line_number
    from raw_rows
    semi join duplicate_keys using (location_id)
    qualify row_number() over (
        partition by location_id
        order by load_id desc, line_number desc
    ) > 1
),

latest_rows as (
    select *
    from raw_rows
    anti join superseded_rows using (location_id, load_id, line_number)
),

named_anywhere as (
    select location_id from raw_locations
    union
    select location_id from raw_rooms
    union
    select location_id from raw_therapist_shifts
    union
    select location_id from raw_bookings
),

final as (
    select
        named_anywhere.location_id,
        coalesce(
            nullif(trim(latest_rows.name), ''), named_anywhere.location_id
        ) as name,
        nullif(trim(latest_rows.timezone), '') as timezone,
        latest_rows.opened_on,
    from named_anywhere
    left join latest_rows
        on named_anywhere.location_id = latest_rows.location_id
)

select * from final
