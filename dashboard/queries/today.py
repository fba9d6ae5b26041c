"""The Today page's queries: the room timeline, the rooms, pacing."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries.snapshot import Locations, query, scope


def room_timeline(locations: Locations, day: dt.date) -> pd.DataFrame:
    """The day's held bookings by room (start, end, bar work or not) for the timeline."""
    return query(
        """
        select
            coalesce(r.room_name, b.room_id, 'No room') as room,
            coalesce(r.has_bars, false) as room_has_bars,
            b.start_at,
            b.end_at,
            b.service,
            coalesce(t.therapist_name, b.therapist_id) as therapist,
            case
                when b.status = 'no_show' then 'No-show'
                when b.uses_bars then 'Bar session'
                else 'Other treatment'
            end as booking_kind
        from fct_bookings as b
        left join dim_rooms as r on r.location_id = b.location_id and r.room_id = b.room_id
        left join dim_therapists as t
            on t.location_id = b.location_id and t.therapist_id = b.therapist_id
        where list_contains(?, b.location_id) and b.booking_date = ? and b.is_held
        order by room, b.start_at
        """,
        scope(locations),
        day,
    )


def rooms(locations: Locations) -> pd.DataFrame:
    """The rooms of the given locations, bar rooms marked."""
    return query(
        """
        select location_id, room_id, coalesce(room_name, room_id) as room, has_bars
        from dim_rooms
        where list_contains(?, location_id)
        order by location_id, room
        """,
        scope(locations),
    )


def pacing(locations: Locations, after: dt.date, days: int = 14) -> pd.DataFrame:
    """Booked share of room capacity for each of the next `days` days after `after`."""
    return query(
        """
        select
            "date",
            sum(occupied_minutes) / 60.0 as booked_hours,
            sum(available_minutes) / 60.0 as available_hours,
            sum(occupied_minutes) / nullif(sum(available_minutes), 0) as booked_share
        from fct_room_days
        where list_contains(?, location_id) and "date" > ? and "date" <= ?
        group by "date"
        order by "date"
        """,
        scope(locations),
        after,
        after + dt.timedelta(days=days),
    )
