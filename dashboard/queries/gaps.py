"""What each location's data lacks (partial states): counts that dashboard.gaps turns into lines."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries.snapshot import Locations, has_column, query, scope


def data_gaps(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per location of the selection: what its figures rest on, counted in the chosen days.

    Columns: location_id, location_name; room_days, bar_room_days (room-calendar rows),
    room_days_ever and the room calendar's first and last day (any date); shift_days (therapist
    days with shift time) and shift_days_ever; bookings, held, completed, priced (completed
    with a known price), rebooking_known (completed whose rebooking is known), created_known
    (bookings with a created_at); inferred_rooms (held bookings whose room was inferred);
    therapists seen in the days and how many of them have unknown bar training.
    """
    inferred = (
        "count(*) filter (where is_held and room_source = 'inferred')"
        if has_column("fct_bookings", "room_source")
        else "0"
    )
    chosen = scope(locations)
    return query(
        f"""
        with chosen as (
            select location_id, display_name as location_name
            from dim_locations
            where list_contains(?, location_id)
        ),
        -- the room calendar's and the shifts' rows counted from the location-days (each has
        -- its rooms and its therapists with shift time): a tenth of the rows to read
        location_days as (
            select
                location_id,
                sum(rooms) filter (where "date" between ? and ?)::bigint as room_days,
                sum(bar_rooms) filter (where "date" between ? and ?)::bigint as bar_room_days,
                sum(rooms)::bigint as room_days_ever,
                min("date") filter (where rooms > 0) as room_calendar_from,
                max("date") filter (where rooms > 0) as room_calendar_to,
                sum(therapists_scheduled) filter (where "date" between ? and ?)::bigint
                    as shift_days,
                sum(therapists_scheduled)::bigint as shift_days_ever
            from fct_location_days
            where list_contains(?, location_id)
            group by location_id
        ),
        bookings as (
            select
                location_id,
                count(*) as bookings,
                count(*) filter (where is_held) as held,
                count(*) filter (where status = 'completed') as completed,
                count(price) filter (where status = 'completed') as priced,
                count(is_rebooked) filter (where status = 'completed') as rebooking_known,
                count(created_at) as created_known,
                {inferred} as inferred_rooms
            from fct_bookings
            where list_contains(?, location_id) and booking_date between ? and ?
            group by location_id
        ),
        training as (
            select
                t.location_id,
                count(*) as therapists,
                count(*) filter (where t.bar_trained is null) as training_unknown
            from dim_therapists as t
            where list_contains(?, t.location_id)
                and exists (
                    select 1 from fct_therapist_days as d
                    where d.location_id = t.location_id and d.therapist_id = t.therapist_id
                        and d."date" between ? and ?
                )
            group by t.location_id
        )
        select
            c.location_id,
            c.location_name,
            coalesce(r.room_days, 0) as room_days,
            coalesce(r.bar_room_days, 0) as bar_room_days,
            coalesce(r.room_days_ever, 0) as room_days_ever,
            r.room_calendar_from,
            r.room_calendar_to,
            coalesce(r.shift_days, 0) as shift_days,
            coalesce(r.shift_days_ever, 0) as shift_days_ever,
            coalesce(b.bookings, 0) as bookings,
            coalesce(b.held, 0) as held,
            coalesce(b.completed, 0) as completed,
            coalesce(b.priced, 0) as priced,
            coalesce(b.rebooking_known, 0) as rebooking_known,
            coalesce(b.created_known, 0) as created_known,
            coalesce(b.inferred_rooms, 0) as inferred_rooms,
            coalesce(t.therapists, 0) as therapists,
            coalesce(t.training_unknown, 0) as training_unknown
        from chosen as c
        left join location_days as r using (location_id)
        left join bookings as b using (location_id)
        left join training as t using (location_id)
        order by c.location_name, c.location_id
        """,
        chosen,
        start,
        end,
        start,
        end,
        start,
        end,
        chosen,
        chosen,
        start,
        end,
        chosen,
        start,
        end,
    )
