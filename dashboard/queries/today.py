"""The Day page's queries: the appointments, the room timeline, the rooms, pacing."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries import snapshot
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


# the order of the appointments list: the ones to act on first
_ACT_ON_FIRST = """
    case when b.status = 'no_show' then 0 when b.is_late_cancel then 1 else 2 end
"""


def appointments(locations: Locations, day: dt.date) -> pd.DataFrame:
    """Every booking of the location-day, whatever its status: no-shows first, then late
    cancels (the ones a manager acts on), then the rest, each by start time.

    Columns: start_at, end_at, room, therapist, service, status (the studio's words),
    booked_at (created_at; NULL where the booking system does not say), cancelled_at,
    client_ref (the booking system's own client id, NULL on a warehouse built before it was
    kept) and booking_system (fct_bookings.source)."""
    # a warehouse built before client_ref existed has no such column: NULL, not an error
    client_ref = (
        "b.client_ref"
        if snapshot.has_column("fct_bookings", "client_ref")
        else "cast(null as varchar)"
    )
    return query(
        f"""
        select
            b.start_at,
            b.end_at,
            coalesce(r.room_name, b.room_id) as room,
            coalesce(t.therapist_name, b.therapist_id) as therapist,
            b.service,
            case
                when b.status = 'no_show' then 'No-show'
                -- a cancellation inside late_cancel_hours counts as late (is_late_cancel)
                when b.is_late_cancel then 'Late cancel'
                when b.status = 'cancelled' then 'Cancelled'
                when b.status = 'completed' then 'Completed'
                when b.status = 'booked' then 'Booked'
                else b.status
            end as status,
            b.created_at as booked_at,
            b.cancelled_at,
            {client_ref} as client_ref,
            b.source as booking_system
        from fct_bookings as b
        left join dim_rooms as r on r.location_id = b.location_id and r.room_id = b.room_id
        left join dim_therapists as t
            on t.location_id = b.location_id and t.therapist_id = b.therapist_id
        where list_contains(?, b.location_id) and b.booking_date = ?
        order by {_ACT_ON_FIRST}, b.start_at, room, therapist, b.booking_id
        """,
        scope(locations),
        day,
    )


def location_span(location: str) -> tuple[dt.date, dt.date, dt.date | None] | None:
    """One location's first and last day of data (its location-day rows) and its latest
    complete day (the last with a completed or no-show booking, as rpt_as_of is for the
    chain); None when the location has no data or the viewer may not see it."""
    frame = query(
        """
        select
            min("date") as first_day,
            max("date") as last_day,
            max("date") filter (where completed > 0 or no_shows > 0) as latest_complete
        from fct_location_days
        where list_contains(?, location_id)
        """,
        scope((location,)),
    )
    if frame.empty or pd.isna(frame.iloc[0, 0]):
        return None
    first, last, latest = (None if pd.isna(v) else pd.Timestamp(v).date() for v in frame.iloc[0])
    return first, last, latest
