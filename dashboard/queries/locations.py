"""The Locations page's figures: every location side by side, with its N-day return, its
change against the previous period and its targets, ready to rank, colour and download.

The KPIs themselves are kpis.py's (one definition for every page); return is kpis.returns.
What this module adds is the page's shape: which columns the table shows by default, which
sit behind the column picker, which metrics the ranking offers, and the pandas work of
putting the previous period and the targets beside each row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from dashboard import format as fmt
from dashboard.queries import kpis
from dashboard.queries.snapshot import Locations, settings_in_force

# The window the page ranks on: 90 days, the one the owners ask about, else the longest
# configured window (a studio that set 30 and 60 only gets 60).
RANKED_WINDOW = 90


def return_window() -> int:
    """The return window (days) the page ranks on."""
    windows = tuple(settings_in_force().retention_windows_days)
    return RANKED_WINDOW if RANKED_WINDOW in windows or not windows else max(windows)


@dataclass(frozen=True)
class Metric:
    """A metric the ranking offers: its column, how it is shown, and whether a target applies."""

    title: str
    column: str
    kind: str  # 'rate' | 'money'
    has_target: bool


def metrics(window: int) -> tuple[Metric, ...]:
    """The metrics the page ranks on, in the order the picker offers them."""
    return (
        Metric("Room utilization", "room_utilization", "rate", True),
        Metric("Bar utilization", "bar_utilization", "rate", True),
        Metric("Therapist utilization", "therapist_utilization", "rate", True),
        Metric("RevPATH", "revpath", "money", False),
        Metric(f"{window}-day return", f"return_{window}", "rate", True),
        Metric("Rebooking", "rebooking_rate", "rate", True),
    )


def default_columns(window: int) -> list[str]:
    """The columns the table always shows: few enough to fit 1280 px with the sidebar open."""
    return [
        "location_name",
        "room_utilization",
        "bar_utilization",
        "therapist_utilization",
        "revpath",
        f"return_{window}",
        "rebooking_rate",
    ]


# Headers short enough for the default columns to fit 1280 px with the sidebar open (the full
# name is the header's tooltip and the CSV's header); a long location name is cut with "…"
# at 170 px rather than pushing the table sideways (tables.show_table columns=).
GRID_COLUMNS = {
    "location_name": {"width": 170, "pinned": True},
    "room_utilization": {"label": "Room util. %"},
    "bar_utilization": {"label": "Bar util. %"},
    "therapist_utilization": {"label": "Therapist util. %"},
    "rebooking_rate": {"label": "Rebooking %"},
}


def more_columns(window: int) -> list[str]:
    """The columns behind the "More columns" picker (and always in the CSV), in table order."""
    return [
        "bookings",
        "completed",
        "no_shows",
        "no_show_rate",
        "cancellations",
        "late_cancellations",
        "revenue",
        "new_clients",
        "rebooked_visits",
        f"eligible_{window}",
        f"returned_{window}",
        "bar_fit",
        "available_hours",
        "occupied_hours",
    ]


def side_by_side(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """One row per location plus "All locations" (kpis_by_location), with eligible_N,
    returned_N and return_N for every configured window N (kpis.returns)."""
    return _with_returns(
        kpis.kpis_by_location(locations, start, end),
        lambda: kpis.returns(locations, start, end),
    )


def side_by_side_over(
    locations: Locations, periods: kpis.Periods
) -> dict[str, pd.DataFrame | None]:
    """`side_by_side` for each of the page's periods (None for a period that is None), from the
    same two queries as the tiles' `totals_over` (results are cached, so the page runs each
    once)."""
    frames = kpis.kpis_by_location_over(locations, periods)
    returned = kpis.returns_over(locations, periods)
    return {
        name: None if frame is None else _with_returns(frame, lambda name=name: returned[name])
        for name, frame in frames.items()
    }


def _with_returns(frame: pd.DataFrame, returns: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    if frame.empty:
        return frame
    returned = returns()
    keys = ["location_id", "is_total"]
    counts = [c for c in returned.columns if c.startswith(("eligible_", "returned_"))]
    frame = frame.merge(returned, on=keys, how="left")
    # a location none of whose clients' windows closed in the period has 0 eligible, and no
    # rate (the rate stays empty: nobody could have come back yet)
    frame[counts] = frame[counts].fillna(0).astype("int64")
    return frame


def totals(locations: Locations, start: dt.date, end: dt.date) -> dict[str, object] | None:
    """The "All locations" figures (kpis.kpi_totals) with return_N per window; None without
    data."""
    return totals_over(locations, {"now": (start, end)})["now"]


def totals_over(
    locations: Locations, periods: kpis.Periods | Mapping[str, kpis.Span | None]
) -> dict[str, dict[str, object] | None]:
    """`totals` for each period, what the tile row compares period with period: one KPI query
    and one return query for all of them."""
    figures = kpis.kpi_totals_over(locations, periods)
    returned = kpis.returns_total_over(locations, periods)
    return {
        name: None if found is None else found | returned[name] for name, found in figures.items()
    }


def earlier(now: pd.DataFrame, before: pd.DataFrame, column: str) -> pd.Series:
    """Each row's `column` in an earlier period (matched by location; "All locations" with
    "All locations"), aligned with `now`; NaN where that period has no figure."""
    if before.empty or column not in before:
        return pd.Series(float("nan"), index=now.index)
    # the "All locations" row has no location id: "*" stands for it on both sides
    lookup = before.set_index(before["location_id"].where(~before["is_total"], "*"))[column]
    mine = now["location_id"].where(~now["is_total"], "*")
    return pd.to_numeric(mine.map(lookup), errors="coerce").astype("float64")


def change_text(
    now: pd.DataFrame, before: pd.DataFrame, metric: Metric, symbol: str = "$"
) -> pd.Series:
    """Each row's change in `metric` since the earlier period, in words ("+3.2 pts", "-$4");
    None where either period has no figure."""
    then = earlier(now, before, metric.column)
    pairs = zip(now[metric.column], then, strict=True)
    return pd.Series(
        [fmt.change(value, old, metric.kind, symbol) for value, old in pairs],
        index=now.index,
        dtype=object,
    )


def below_target(
    frame: pd.DataFrame, targets: pd.DataFrame | None, columns: list[str]
) -> pd.DataFrame:
    """True for each cell of `columns` whose value is below its location's target (a target
    not set, or a value not known, is never below). Same index as `frame`."""
    mask = pd.DataFrame(False, index=frame.index, columns=columns)
    if targets is None or targets.empty:
        return mask
    by_location = targets.set_index("location_id")
    for column in columns:
        if column not in by_location:
            continue
        target = frame["location_id"].map(by_location[column]).astype("float64")
        value = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        mask[column] = (value < target).fillna(False).astype(bool)
    return mask
