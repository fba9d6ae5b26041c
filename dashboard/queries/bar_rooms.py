"""The Ceiling-bar rooms page's queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd

from dashboard.queries.capacity import WEEKDAY
from dashboard.queries.kpis import (
    PERIODS_CTE,
    Periods,
    Span,
    in_spans,
    periods_params,
    span_params,
    split_spans,
)
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
    return bar_room_totals_over(locations, {"now": (start, end)})["now"]


def bar_room_totals_over(
    locations: Locations, periods: Periods | Mapping[str, Span | None]
) -> dict[str, dict[str, object] | None]:
    """`bar_room_totals` for each period (None for a period that is None), in one query."""
    spans, given = split_spans(periods)
    if not given:
        return dict.fromkeys(spans)
    chosen = scope(locations)
    frame = query(
        f"""
        with {PERIODS_CTE},
        sessions as (
            select p.period, sum(t.bar_sessions) as bar_sessions
            from fct_therapist_days as t
            join periods as p on t."date" between p.period_start and p.period_end
            where list_contains(?, t.location_id) and {in_spans('t."date"', len(given))}
            group by p.period
        ),
        full_hours as (
            select p.period, sum(h.bar_rooms_full_minutes) / 60.0 as full_hours
            from fct_hourly_capacity as h
            join periods as p on h."date" between p.period_start and p.period_end
            where list_contains(?, h.location_id) and {in_spans('h."date"', len(given))}
                and h.bar_room_available_minutes > 0
            group by p.period
        ),
        non_bar as (
            select
                p.period,
                sum(d.bar_room_occupied_minutes - d.bar_room_bar_minutes) / 60.0
                    as non_bar_hours_in_bar_room
            from fct_location_days as d
            join periods as p on d."date" between p.period_start and p.period_end
            where list_contains(?, d.location_id) and {in_spans('d."date"', len(given))}
            group by p.period
        )
        select p.period, s.bar_sessions, f.full_hours, n.non_bar_hours_in_bar_room
        from periods as p
        left join sessions as s using (period)
        left join full_hours as f using (period)
        left join non_bar as n using (period)
        """,
        *periods_params(given),
        chosen,
        *span_params(given),
        chosen,
        *span_params(given),
        chosen,
        *span_params(given),
    )
    out: dict[str, dict[str, object] | None] = {}
    for name, span in spans.items():
        row = frame[frame["period"] == name].drop(columns="period")
        out[name] = None if span is None else row.iloc[0].to_dict()
    return out
