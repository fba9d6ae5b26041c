-- One row per data-quality finding: kind, location_id, entity_id (the room,
-- therapist or booking concerned), date and a readable detail. Findings are
-- shown to users; they never stop a build (sql/checks does that).

create or replace table dq_issues as

with

bookings as (
    select * from fct_bookings
    where is_held and end_at > start_at
),

room_days as (
    select * from fct_room_days
),

rooms as (
    select * from dim_rooms
),

therapist_days as (
    select * from fct_therapist_days
),

therapists as (
    select * from dim_therapists
),

room_segments as (
    select * from int_room_booking_segments
),

therapist_segments as (
    select * from int_therapist_booking_segments
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

-- bookings partly outside opening hours: only their segments are summed
partly_outside_hours as (
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

-- bookings with no minute inside their room's opening hours
wholly_outside_hours as (
    select
        bookings.location_id,
        bookings.room_id,
        bookings.booking_date,
        bookings.booking_id,
        bookings.minutes,
    from bookings
    anti join room_segments
        on
            bookings.source = room_segments.source
            and bookings.booking_id = room_segments.booking_id
    where bookings.room_id is not null
),

booking_outside_room_calendar as (
    select
        'booking_outside_room_calendar' as kind,
        location_id,
        booking_id as entity_id,
        booking_date as date,
        format(
            '{} of {} minutes of booking {} fall outside the opening hours of room {}',
            minutes - inside_minutes, minutes, booking_id, room_id
        ) as detail,
    from partly_outside_hours

    union all

    select
        'booking_outside_room_calendar' as kind,
        wholly_outside_hours.location_id,
        wholly_outside_hours.booking_id as entity_id,
        wholly_outside_hours.booking_date as date,
        case
            when room_days.room_id is null
                then format(
                    'booking {}: room {} has no calendar row for {}',
                    wholly_outside_hours.booking_id,
                    wholly_outside_hours.room_id,
                    wholly_outside_hours.booking_date
                )
            else format(
                'booking {} falls wholly outside the opening hours of room {}',
                wholly_outside_hours.booking_id,
                wholly_outside_hours.room_id
            )
        end as detail,
    from wholly_outside_hours
    left join room_days
        on
            wholly_outside_hours.location_id = room_days.location_id
            and wholly_outside_hours.room_id = room_days.room_id
            and wholly_outside_hours.booking_date = room_days.date
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
    group by location_id, therapist_id, booking_date, source, booking_id
    having sum(piece_outside_shift_minutes) > 0
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

bar_service_in_non_bar_room as (
    select
        'bar_service_in_non_bar_room' as kind,
        bookings.location_id,
        bookings.booking_id as entity_id,
        bookings.booking_date as date,
        format(
            'bar service ''{}'' (booking {}) in room {}, which has no bars',
            bookings.service, bookings.booking_id, bookings.room_id
        ) as detail,
    from bookings
    left join room_days
        on
            bookings.location_id = room_days.location_id
            and bookings.room_id = room_days.room_id
            and bookings.booking_date = room_days.date
    left join rooms
        on
            bookings.location_id = rooms.location_id
            and bookings.room_id = rooms.room_id
    where
        bookings.uses_bars
        and bookings.room_id is not null
        and not coalesce(room_days.has_bars, rooms.has_bars, true)
),

bar_session_by_untrained_therapist as (
    select
        'bar_session_by_untrained_therapist' as kind,
        bookings.location_id,
        bookings.booking_id as entity_id,
        bookings.booking_date as date,
        format(
            'bar service ''{}'' (booking {}) by therapist {}, not bar-trained',
            bookings.service, bookings.booking_id, bookings.therapist_id
        ) as detail,
    from bookings
    left join therapist_days
        on
            bookings.location_id = therapist_days.location_id
            and bookings.therapist_id = therapist_days.therapist_id
            and bookings.booking_date = therapist_days.date
    left join therapists
        on
            bookings.location_id = therapists.location_id
            and bookings.therapist_id = therapists.therapist_id
    where
        bookings.uses_bars
        and not coalesce(therapist_days.bar_trained, therapists.bar_trained, true)
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
)

select * from final
