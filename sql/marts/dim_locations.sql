-- One row per location named by any export: display name and time zone (from
-- the locations export when there is one), rooms and bar rooms (latest), and
-- the first and last day with data. History start (int_location_history):
-- the day of the first booking, the day the studio profile says it opened, and
-- new_clients_from, the day first visits start counting as new clients.
-- reads: dim_rooms, fct_location_days, int_location_history,
--     stg_exports__locations

create or replace table dim_locations as

with

locations as (
    select * from stg_exports__locations
),

rooms as (
    select * from dim_rooms
),

location_days as (
    select * from fct_location_days
),

history_start as (
    select * from int_location_history
),

room_counts as (
    select
        location_id,
        count(*) as rooms,
        count(*) filter (where has_bars) as bar_rooms,
    from rooms
    group by location_id
),

day_range as (
    select
        location_id,
        min(date) as first_date,
        max(date) as last_date,
    from location_days
    group by location_id
),

final as (
    select
        -- ids
        locations.location_id,
        locations.name,
        -- the name every page shows: one definition (a location without one shows its id)
        coalesce(nullif(locations.name, ''), locations.location_id) as display_name,
        locations.timezone,

        -- capacity (latest)
        cast(coalesce(room_counts.rooms, 0) as integer) as rooms,
        cast(coalesce(room_counts.bar_rooms, 0) as integer) as bar_rooms,

        -- data range
        day_range.first_date,
        day_range.last_date,

        -- history start
        locations.opened_on,
        history_start.first_booking_date,
        history_start.new_clients_from,
    from locations
    left join room_counts
        on locations.location_id = room_counts.location_id
    left join day_range
        on locations.location_id = day_range.location_id
    left join history_start
        on locations.location_id = history_start.location_id
)

select * from final
