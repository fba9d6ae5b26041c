"""The Ceiling-bar rooms page's queries."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries.capacity import WEEKDAY
from dashboard.queries.snapshot import Locations, query, scope


def bar_rooms_full(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Hours per weekday and clock hour in which every bar room was occupied."""
    return query(
        f"""
        select
            isodow(h."date") as weekday_number,
            {WEEKDAY} as weekday,
            h.hour,
            sum(h.bar_rooms_full_minutes) / 60.0 as full_hours,
            sum(h.bar_rooms_full_minutes) / nullif(count(*) * 60.0, 0) as full_share
        from fct_hourly_capacity as h
        where list_contains(?, h.location_id) and h."date" between ? and ?
            and h.bar_room_available_minutes > 0
        group by all
        order by weekday_number, h.hour
        """,
        scope(locations),
        start,
        end,
    )


def bar_room_totals(locations: Locations, start: dt.date, end: dt.date) -> dict[str, object]:
    """For the page's tiles: bar sessions (worked bookings that used the bars, as therapists'
    days count them), the hours in which every open bar room was occupied, and bar-room hours
    booked for work that needs no bars (occupied minus bar minutes of bar rooms)."""
    frame = query(
        """
        select
            (
                select sum(bar_sessions)
                from fct_therapist_days
                where list_contains(?, location_id) and "date" between ? and ?
            ) as bar_sessions,
            (
                select sum(bar_rooms_full_minutes) / 60.0
                from fct_hourly_capacity
                where list_contains(?, location_id) and "date" between ? and ?
                    and bar_room_available_minutes > 0
            ) as full_hours,
            (
                select sum(bar_room_occupied_minutes - bar_room_bar_minutes) / 60.0
                from fct_location_days
                where list_contains(?, location_id) and "date" between ? and ?
            ) as non_bar_hours_in_bar_room
        """,
        scope(locations),
        start,
        end,
        scope(locations),
        start,
        end,
        scope(locations),
        start,
        end,
    )
    return frame.iloc[0].to_dict()
