-- One row per data-quality finding: kind, location_id, entity_id (the room,
-- therapist or booking concerned), date and a readable detail. Findings are
-- shown to users; they never stop a build (sql/checks does that).
-- reads: dim_rooms, dim_therapists, fct_bookings, fct_room_days,
--     int_booking_rooms, int_room_booking_segments,
--     int_therapist_booking_segments, profile_therapists

create or replace table dq_issues as

with

-- the inputs read several times below are scanned each time, each scan keeping
-- only the few rows and columns it needs (materialized once, the therapist
-- segments were copied whole: 9M rows at 10M bookings)
room_days as not materialized (
    select * from fct_room_days
    --incremental: semi join scope_input_days using (location_id, date)
),

rooms as (
    select * from dim_rooms
),

therapists as (
    select * from dim_therapists
),

room_segments as not materialized (
    select * from int_room_booking_segments
),

therapist_segments as not materialized (
    select * from int_therapist_booking_segments
),

-- held bookings whose export names no room, placed by the room rule
inferred_rooms as (
    select * from int_booking_rooms
    --incremental: semi join scope_days as scope
    --incremental:     on
    --incremental:         int_booking_rooms.location_id = scope.location_id
    --incremental:         and int_booking_rooms.booking_date = scope.date
),

-- bookings of the day at locations the studio profile describes, and the
-- therapists the profile lists there (a location listing nobody has one NULL row)
bookings as (
    select location_id, therapist_id, booking_date
    from fct_bookings
    --incremental: semi join scope_days as scope
    --incremental:     on
    --incremental:         fct_bookings.location_id = scope.location_id
    --incremental:         and fct_bookings.booking_date = scope.date
),

profile_therapists as (
    select * from profile_therapists
),

-- double bookings come from the sorted segments: a booking that starts while an
-- earlier held booking of the same room (inside opening hours) or therapist
-- (that day) still runs
room_double_booked as (
    select
        'room_double_booked' as kind,
        location_id,
        room_id as entity_id,
        date,
        format(
            'booking {} starts at {} in room {} while an earlier booking runs until {}',
            booking_id,
            strftime(segment_start, '%H:%M'),
            room_id,
            strftime(earlier_end_at, '%H:%M')
        ) as detail,
    from room_segments
    where overlaps_earlier
),

therapist_double_booked as (
    select
        'therapist_double_booked' as kind,
        location_id,
        therapist_id as entity_id,
        piece_date as date,
        format(
            'booking {} starts at {} for therapist {} while an earlier booking runs until {}',
            booking_id,
            strftime(piece_start, '%H:%M'),
            therapist_id,
            strftime(earlier_end_at, '%H:%M')
        ) as detail,
    from therapist_segments
    where overlaps_earlier
),

-- bookings with minutes outside their room's opening hours: only segments
-- shorter than their booking are summed (a booking touching no opening hours
-- has one empty segment)
outside_hours as (
    select
        location_id,
        room_id,
        booking_date,
        booking_id,
        any_value(minutes) as minutes,
        sum(segment_minutes) as inside_minutes,
    from room_segments
    where segment_minutes < minutes
    group by location_id, room_id, booking_date, source, booking_id
    having sum(segment_minutes) < any_value(minutes)
),

booking_outside_room_calendar as (
    select
        'booking_outside_room_calendar' as kind,
        outside_hours.location_id,
        outside_hours.booking_id as entity_id,
        outside_hours.booking_date as date,
        case
            when room_days.room_id is null
                then format(
                    'booking {}: room {} has no calendar row for {}',
                    outside_hours.booking_id,
                    outside_hours.room_id,
                    outside_hours.booking_date
                )
            else format(
                '{} of {} minutes of booking {} fall outside the opening '
                || 'hours of room {}',
                outside_hours.minutes - outside_hours.inside_minutes,
                outside_hours.minutes,
                outside_hours.booking_id,
                outside_hours.room_id
            )
        end as detail,
    from outside_hours
    left join room_days
        on
            outside_hours.location_id = room_days.location_id
            and outside_hours.room_id = room_days.room_id
            and outside_hours.booking_date = room_days.date
),

-- a booking with a piece outside its shifts, summed over all its pieces (one
-- unless it runs past midnight); the few such bookings are found first, so the
-- sums do not group every booking
outside_shift_keys as (
    select distinct location_id, therapist_id, booking_date, source, booking_id,
    from therapist_segments
    where piece_outside_shift_minutes > 0
),

outside_shift_bookings as (
    select
        location_id,
        therapist_id,
        booking_date,
        booking_id,
        sum(piece_outside_shift_minutes) as outside_minutes,
        sum(piece_minutes) as minutes,
    from therapist_segments
    semi join outside_shift_keys
        using (location_id, therapist_id, booking_date, source, booking_id)
    group by location_id, therapist_id, booking_date, source, booking_id
),

booking_outside_shift as (
    select
        'booking_outside_shift' as kind,
        location_id,
        booking_id as entity_id,
        booking_date as date,
        format(
            '{} of {} minutes of booking {} fall outside the shifts of therapist {}',
            outside_minutes, minutes, booking_id, therapist_id
        ) as detail,
    from outside_shift_bookings
),

-- bar work in a room without bars that day (the room's latest equipment when
-- the booking touches no calendar day)
bar_pieces_in_rooms as (
    select distinct
        location_id,
        room_id,
        booking_date,
        booking_id,
        has_bars,
    from room_segments
    where uses_bars and not coalesce(has_bars, false)
),

bar_service_in_non_bar_room as (
    select
        'bar_service_in_non_bar_room' as kind,
        bar_pieces_in_rooms.location_id,
        bar_pieces_in_rooms.booking_id as entity_id,
        bar_pieces_in_rooms.booking_date as date,
        format(
            'bar service (booking {}) in room {}, which has no bars',
            bar_pieces_in_rooms.booking_id,
            bar_pieces_in_rooms.room_id
        ) as detail,
    from bar_pieces_in_rooms
    left join rooms
        on
            bar_pieces_in_rooms.location_id = rooms.location_id
            and bar_pieces_in_rooms.room_id = rooms.room_id
    where not coalesce(bar_pieces_in_rooms.has_bars, rooms.has_bars, true)
),

-- bar work by a therapist not bar-trained on that day's shifts (the latest
-- training when there is no shift that day)
bar_pieces_by_therapists as (
    select
        location_id,
        therapist_id,
        booking_date,
        booking_id,
        shift_bar_trained,
    from therapist_segments
    where
        uses_bars
        and piece_date = booking_date
        and not coalesce(shift_bar_trained, false)
),

bar_session_by_untrained_therapist as (
    select
        'bar_session_by_untrained_therapist' as kind,
        bar_pieces_by_therapists.location_id,
        bar_pieces_by_therapists.booking_id as entity_id,
        bar_pieces_by_therapists.booking_date as date,
        format(
            'bar service (booking {}) by therapist {}, who is not bar-trained',
            bar_pieces_by_therapists.booking_id,
            bar_pieces_by_therapists.therapist_id
        ) as detail,
    from bar_pieces_by_therapists
    left join therapists
        on
            bar_pieces_by_therapists.location_id = therapists.location_id
            and bar_pieces_by_therapists.therapist_id = therapists.therapist_id
    where
        not coalesce(
            bar_pieces_by_therapists.shift_bar_trained,
            therapists.bar_trained,
            true
        )
),

-- a booking without a room on a day with rooms, when every room it may use
-- (with bars, for bar work) already held an overlapping booking
more_bookings_than_rooms as (
    select
        'more_bookings_than_rooms' as kind,
        location_id,
        booking_id as entity_id,
        booking_date as date,
        format(
            'booking {} ({}-{}) names no room and no {}room was free then',
            booking_id,
            strftime(start_at, '%H:%M'),
            strftime(end_at, '%H:%M'),
            case when uses_bars then 'bar ' else '' end
        ) as detail,
    from inferred_rooms
    where room_id is null
),

-- bookings with a therapist the studio profile does not list at that location
-- (a typing slip in the export, or someone to add to the profile), one finding
-- per therapist and day
therapist_not_in_profile as (
    select
        'therapist_not_in_profile' as kind,
        location_id,
        therapist_id as entity_id,
        booking_date as date,
        format(
            '{} booking(s) with therapist {}, who is not in the studio profile of {}',
            count(*), therapist_id, location_id
        ) as detail,
    from bookings
    semi join profile_therapists using (location_id)
    anti join profile_therapists as listed
        on
            bookings.location_id = listed.location_id
            and bookings.therapist_id = listed.therapist_id
    group by location_id, therapist_id, booking_date
),

blocked_time_conflict as (
    select
        'blocked_time_conflict' as kind,
        location_id,
        room_id as entity_id,
        date,
        format(
            'room {} occupied {} minutes but only {} of {} open minutes were '
            || 'available ({} blocked)',
            room_id, occupied_minutes, available_minutes, open_minutes,
            blocked_minutes
        ) as detail,
    from room_days
    where occupied_minutes > available_minutes
),

final as (
    select * from room_double_booked
    union all
    select * from therapist_double_booked
    union all
    select * from booking_outside_room_calendar
    union all
    select * from booking_outside_shift
    union all
    select * from bar_service_in_non_bar_room
    union all
    select * from bar_session_by_untrained_therapist
    union all
    select * from blocked_time_conflict
    union all
    select * from more_bookings_than_rooms
    union all
    select * from therapist_not_in_profile
)

select * from final
