"""The Data page's queries: load runs, rejected rows, data-quality findings."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries.snapshot import Locations, everything_allowed, query, scope

DQ_KIND_LABELS = {
    "room_double_booked": "Room double-booked",
    "therapist_double_booked": "Therapist double-booked",
    "booking_outside_room_calendar": "Booking outside room hours",
    "booking_outside_shift": "Booking outside therapist shift",
    "bar_service_in_non_bar_room": "Bar service in a room without bars",
    "bar_session_by_untrained_therapist": "Bar session by a therapist not bar-trained",
    "blocked_time_conflict": "Booking during blocked room time",
    "more_bookings_than_rooms": "Booking with no free room",
    "therapist_not_in_profile": "Therapist not in the studio profile",
}


def dq_findings(
    locations: Locations,
    start: dt.date,
    end: dt.date,
    kinds: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Data-quality findings (dq_issues) for the locations and days, optionally of some kinds."""
    return query(
        """
        select
            q."date",
            l.display_name as location_name,
            q.kind,
            q.entity_id,
            q.detail
        from dq_issues as q
        left join dim_locations as l on l.location_id = q.location_id
        where (q.location_id is null or list_contains(?, q.location_id))
            and (q."date" is null or q."date" between ? and ?)
            and (? or list_contains(?, q.kind))
        order by q."date" desc nulls last, location_name, q.kind
        """,
        scope(locations),
        start,
        end,
        kinds is None,
        tuple(kinds or ()),
    )


def dq_counts(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Number of data-quality findings per kind."""
    return query(
        """
        select kind, count(*) as findings
        from dq_issues
        where (location_id is null or list_contains(?, location_id))
            and ("date" is null or "date" between ? and ?)
        group by kind
        order by findings desc, kind
        """,
        scope(locations),
        start,
        end,
    )


def load_runs() -> pd.DataFrame:
    """Every file load, newest first (load_runs); owners only."""
    return query(
        """
        select
            started_at,
            regexp_extract(file_name, '[^/\\\\]+$') as file_name,
            kind as contents,
            format,
            outcome,
            rows_read, rows_loaded, rows_rejected
        from load_runs
        where ?
        order by started_at desc, load_id desc
        """,
        everything_allowed(),
    )


def rejected_rows(limit: int = 5000) -> pd.DataFrame:
    """Rows the loads refused, with file, line and reason (newest load first); owners only."""
    return query(
        """
        select file_name, line_number, reason, raw_row
        from rejected_rows
        where ?
        order by load_id desc, file_name, line_number
        limit ?
        """,
        everything_allowed(),
        limit,
    )


def rejected_reasons() -> pd.DataFrame:
    """How many rows were rejected for each reason; owners only."""
    return query(
        """
        select reason, count(*) as rows_rejected
        from rejected_rows
        where ?
        group by reason
        order by rows_rejected desc, reason
        """,
        everything_allowed(),
    )
