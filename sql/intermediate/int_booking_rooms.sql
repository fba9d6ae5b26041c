-- Rooms an export does not name: one row per held booking without a room on a
-- location-day that has rooms on its room calendar, with the room it is given
-- (room_id NULL: no room was free, a more_bookings_than_rooms finding).
--
-- Per location and day, the bookings that name their room are placed first;
-- then the others, by start (ties: longer first, then booking id): a booking
-- that uses the bars takes the first free room with bars, any other the first
-- free room without bars, else the first free bar room. "Free": no held booking
-- already placed there overlaps it; "first": the room calendar's order (the
-- studio profile's, else room id). The placement is sequential, so each day's
-- bookings go through assign_rooms (pipelines/warehouse/rooms.py) as lists.
--
-- A day's rooms depend on every booking of that location-day, so an
-- incremental build recomputes the changed location-days (scope_booking_days,
-- before any client-scoped mart), and the clients whose booking got another
-- room are refreshed with the changed ones (pipelines.warehouse.incremental).
-- It reads those days' bookings without scanning every booking: the load's
-- changed clients' rows from the staging view (shadowed by those clients), and
-- the other clients' rows as fct_bookings stored them before this build (in
-- date order, so other days' row groups are skipped). A booking the load added
-- or replaced has its client, before and after, among the changed clients, so
-- it is read in its new form only; the others are as they were staged.
-- reads: stg_exports__bookings, stg_exports__rooms

create or replace table int_booking_rooms as

with

held_bookings as (
    select
        source,
        booking_id,
        client_id,
        location_id,
        booking_date,
        room_id,
        uses_bars,
        start_at,
        end_at,
    from stg_exports__bookings
    --incremental: semi join scope_booking_days using (location_id, booking_date)
    where is_held
    --incremental: union all
    --incremental: select
    --incremental:     source,
    --incremental:     booking_id,
    --incremental:     client_id,
    --incremental:     location_id,
    --incremental:     booking_date,
    --incremental:     -- the export's room (an inferred one is placed again)
    --incremental:     case when room_source = 'export' then room_id end as room_id,
    --incremental:     uses_bars,
    --incremental:     start_at,
    --incremental:     end_at,
    --incremental: from fct_bookings
    --incremental: semi join scope_booking_days using (location_id, booking_date)
    --incremental: anti join scope_clients using (client_id)
    --incremental: where is_held
),

held as (
    select
        *,
        -- minutes from the day's midnight (a booking past midnight runs past 1440)
        date_diff('minute', cast(booking_date as timestamp), start_at)
            as start_minute,
        date_diff('minute', cast(booking_date as timestamp), end_at)
            as end_minute,
    from held_bookings
),

room_days as (
    select * from stg_exports__rooms
    --incremental: semi join scope_booking_days as scope
    --incremental:     on
    --incremental:         stg_exports__rooms.location_id = scope.location_id
    --incremental:         and stg_exports__rooms.date = scope.booking_date
),

-- the day's rooms in calendar order: the profile's order, else room id
day_rooms as (
    select
        location_id,
        date as booking_date,
        list(
            {'room_id': room_id, 'has_bars': has_bars}
            order by room_order nulls last, room_id
        ) as rooms,
    from room_days
    group by location_id, date
),

-- the bookings to place, in placement order: list_sort orders the structs field
-- by field (start, then longer first through the negated end, then booking id,
-- then source); at 1M bookings without rooms this took the model from 2.5 to
-- 1.5 s of CPU against an ordered list() of the same structs
queued as (
    select
        held.location_id,
        held.booking_date,
        list_sort(list({
            'start_minute': held.start_minute,
            'longer_first': -held.end_minute,
            'booking_id': held.booking_id,
            'source': held.source,
            'end_minute': held.end_minute,
            'uses_bars': held.uses_bars,
            'client_id': held.client_id,
            'start_at': held.start_at,
            'end_at': held.end_at,
        })) as bookings,
    from held
    semi join day_rooms
        on
            held.location_id = day_rooms.location_id
            and held.booking_date = day_rooms.booking_date
    where held.room_id is null
    group by held.location_id, held.booking_date
),

-- the bookings that name their room, placed before the others
named as (
    select
        held.location_id,
        held.booking_date,
        list(held.room_id) as rooms,
        list(held.start_minute) as start_minutes,
        list(held.end_minute) as end_minutes,
    from held
    semi join queued
        on
            held.location_id = queued.location_id
            and held.booking_date = queued.booking_date
    where held.room_id is not null
    group by held.location_id, held.booking_date
),

placed as (
    select
        queued.location_id,
        queued.booking_date,
        queued.bookings,
        assign_rooms(
            list_transform(day_rooms.rooms, lambda room: room.room_id),
            list_transform(day_rooms.rooms, lambda room: room.has_bars),
            coalesce(named.rooms, []),
            coalesce(named.start_minutes, []),
            coalesce(named.end_minutes, []),
            list_transform(queued.bookings, lambda booking: booking.start_minute),
            list_transform(queued.bookings, lambda booking: booking.end_minute),
            list_transform(queued.bookings, lambda booking: booking.uses_bars)
        ) as room_ids,
    from queued
    inner join day_rooms
        on
            queued.location_id = day_rooms.location_id
            and queued.booking_date = day_rooms.booking_date
    left join named
        on
            queued.location_id = named.location_id
            and queued.booking_date = named.booking_date
),

unnested as (
    select
        location_id,
        booking_date,
        unnest(bookings) as booking,
        unnest(room_ids) as room_id,
    from placed
),

final as (
    select
        -- ids
        booking.source,
        booking.booking_id,
        booking.client_id,
        location_id,
        booking_date,

        -- the booking
        booking.start_at,
        booking.end_at,
        booking.uses_bars,

        -- the room given (NULL: none was free)
        room_id,
    from unnested
)

select * from final
