"""A row of KPI tiles: each figure with its change against the days just before and a year
earlier, and its target when one is set (dashboard.queries.kpis: comparison_periods, targets).

A tile is a bordered box: st.metric with the change against the previous period as its delta
(coloured; a rise that is bad, such as days over a limit, is red), then one small line with the
change against a year earlier and the target. Labels stay short (at most five tiles a row, so
st.metric never cuts them at 1280 px with the sidebar open); the long meaning is in `help`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard import format as fmt

PER_ROW = 5  # more columns than this cut st.metric's labels at 1280 px with the sidebar open
KINDS = ("rate", "count", "money", "hours")


@dataclass(frozen=True)
class Tile:
    """One KPI: its short label, the key of its value in the totals, how it reads ("rate" 0-1,
    "count", "money" or "hours"), whether a rise is bad, and the meaning shown as help."""

    label: str
    metric: str
    kind: str = "rate"
    rise_is_bad: bool = False
    help: str | None = None


# The Day page's tiles, in its order; the daily digest shows the same ones
DAY_TILES: tuple[Tile, ...] = (
    Tile("Room utilization", "room_utilization"),
    Tile("Bar utilization", "bar_utilization"),
    Tile("Shifts booked", "therapist_utilization"),
    Tile("Bookings", "bookings", "count"),
    Tile("No-shows", "no_shows", "count", rise_is_bad=True),
    Tile("Late cancels", "late_cancellations", "count", rise_is_bad=True),
    Tile("Revenue", "revenue", "money"),
    Tile("RevPATH", "revpath", "money"),
    Tile("New clients", "new_clients", "count"),
    Tile("Rebooking rate", "rebooking_rate"),
)


def value_text(value: object, kind: str, symbol: str = "$") -> str:
    """The tile's figure: 72%, 1,234, $5,678, 12.5 h; "–" when missing."""
    if kind == "rate":
        return fmt.pct(value, 1)
    if kind == "money":
        return fmt.money(value, symbol)
    if kind == "hours":
        # whole hours from 100 on, thousands as "k" from 10,000: the figure fits a fifth of
        # the page at 1280 px
        if fmt.is_finite(value) and abs(float(value)) >= 10_000:
            return f"{float(value) / 1000:,.1f}k h"
        return fmt.hours(value, 0 if fmt.is_finite(value) and abs(float(value)) >= 100 else 1)
    if kind == "count" and fmt.is_finite(value) and abs(float(value)) >= 100_000:
        return f"{float(value) / 1000:,.0f}k"
    return fmt.count(value)


def change_text(now: object, before: object, kind: str, symbol: str = "$") -> str | None:
    """The change from `before` to `now` ("+3.1 pts", "+12", "+$340", "+2.5 h"), None when a
    side has no figure. Rates change in percentage points, the rest by their difference."""
    if kind == "hours":
        if not (fmt.is_finite(now) and fmt.is_finite(before)):
            return None
        return f"{float(now) - float(before):+,.1f} h"
    if not (fmt.is_finite(now) and fmt.is_finite(before)):
        return None
    return fmt.change(now, before, kind, symbol)


def common_target(targets: pd.DataFrame | Mapping[str, object] | None, metric: str) -> float | None:
    """The target of `metric` for the selection: the one value every selected location shares
    (a DataFrame from kpis.targets, one row per location), else None (none set, or they differ,
    so no single figure can be said)."""
    if targets is None:
        return None
    if isinstance(targets, Mapping):
        value = targets.get(metric)
        return float(value) if fmt.is_finite(value) else None
    if metric not in targets or targets.empty:
        return None
    values = targets[metric]
    if values.isna().any() or values.nunique() != 1:
        return None
    return float(values.iloc[0])


def _signed(text: str) -> str:
    # a typographic minus: a caption starting with "-" could read as a markdown list item
    return "\u2212" + text[1:] if text.startswith("-") else text


def _span(first: dt.date, last: dt.date) -> str:
    if first == last:
        return f"{first:%d %b %Y}"
    if first.year == last.year:
        return f"{first:%d %b} – {last:%d %b %Y}"
    return f"{first:%d %b %Y} – {last:%d %b %Y}"


def compared_with(start: dt.date, end: dt.date, year_ago: bool) -> str:
    """The line above the tiles that says what the arrows and the small lines compare with."""
    days = (end - start).days + 1
    before_end = start - dt.timedelta(days=1)
    before = _span(before_end - dt.timedelta(days=days - 1), before_end)
    span = "day before" if days == 1 else f"{days} days before"
    year = (
        "the small line with the same dates a year earlier"
        if year_ago
        else "a year earlier is not in the data"
    )
    return f"Arrows compare with the {span} ({before}); {year}."


def show(
    tiles: Sequence[Tile],
    totals: Mapping[str, Mapping[str, object] | None],
    start: dt.date,
    end: dt.date,
    symbol: str = "$",
    targets: pd.DataFrame | Mapping[str, object] | None = None,
    lead: str = "",
) -> None:
    """Draw `tiles` in rows of at most five, under one line saying what they compare with
    (after `lead`, markdown: the page's locations and dates, so the two share one line).
    `totals` holds, under "now", "previous" and "year_ago" (kpis.over_periods), each period's
    figures by metric (None: no data then); start and end are the chosen dates (the previous
    period has as many days). The arrow is the change against the previous period; a small
    line under it gives the change against a year earlier and the target, when one is set."""
    now = totals.get("now") or {}
    previous = totals.get("previous") or {}
    year_ago = totals.get("year_ago") or {}
    compared = compared_with(start, end, "year_ago" in totals and totals["year_ago"] is not None)
    st.caption(f"{lead} · {compared}" if lead else compared)
    for first in range(0, len(tiles), PER_ROW):
        row = tiles[first : first + PER_ROW]
        for column, tile in zip(st.columns(PER_ROW), row, strict=False):
            value = now.get(tile.metric)
            against_previous = change_text(value, previous.get(tile.metric), tile.kind, symbol)
            against_year = change_text(value, year_ago.get(tile.metric), tile.kind, symbol)
            unchanged = against_previous is not None and _is_zero(against_previous)
            flat = against_previous is None or unchanged
            with column.container(border=True):
                st.metric(
                    tile.label,
                    value_text(value, tile.kind, symbol),
                    # a missing side shows as a dash, never as no change
                    delta=against_previous or fmt.DASH,
                    delta_color="off" if flat else "inverse" if tile.rise_is_bad else "normal",
                    delta_arrow="off" if flat else "auto",
                    help=tile.help,
                )
                parts = [f"year ago: {_signed(against_year) if against_year else fmt.DASH}"]
                target = common_target(targets, tile.metric) if tile.kind == "rate" else None
                if target is not None:
                    parts.append(_target_text(value, target))
                # the target on a line of its own
                st.caption("  \n".join(parts))


def _is_zero(text: str) -> bool:
    digits = "".join(c for c in text if c.isdigit())
    return bool(digits) and int(digits) == 0


def _target_text(value: object, target: float) -> str:
    """ "target 75%, met" in green, or "target 75%, below" in red; "target 75%" without a
    figure to judge."""
    text = f"target {fmt.pct(target, 0 if math.isclose(target * 100, round(target * 100)) else 1)}"
    if not fmt.is_finite(value):
        return text
    if float(value) >= target:
        return f":green[{text}, met]"
    return f":red[{text}, below]"


def target_lines(
    targets: pd.DataFrame, metric: str, names: Mapping[str, str], together: bool = False
) -> pd.DataFrame | float | None:
    """What a chart of `metric` draws as its target (charts.target_rules): per location its name
    and target, or, for a chart that draws the locations as one line, the target they share
    (None when they differ or none is set)."""
    if together:
        return common_target(targets, metric)
    if metric not in targets:
        return None
    lines = pd.DataFrame(
        {
            "location_name": [names.get(x, x) for x in targets["location_id"]],
            "target": targets[metric].to_numpy(),
        }
    ).dropna(subset=["target"])
    return lines if len(lines) else None
