"""How much of each week or month a trend row covers, so a partial period is never drawn as a
full one.

A trend row stands for a day, a Monday-to-Sunday week or a calendar month. The selection (the
sidebar's dates) and the data (a location's first to last day in the warehouse) may cover only
part of it: a selection from Wednesday 4 March starts with a week of five days, a location whose
data ends on a Monday ends with a week of one. Its figure then counts only those days, and the
charts mark it as partial ("partial: 5 of 7 days").
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

# The SQL a trend query adds per row (its data's first and last day, for that line): with
# fct_location_days read as `d`, grouped per period and line. Kept here so every trend says it
# the same way; mark_coverage turns the two days into the coverage columns.
DATA_BOUNDS = """
    min(b.first_day) as first_day,
    max(b.last_day) as last_day
"""
BOUNDS_CTE = """
    bounds as (
        select location_id, min("date") as first_day, max("date") as last_day
        from fct_location_days
        where list_contains(?, location_id)
        group by location_id
    )
"""


def period_last_days(periods: pd.Series, grain: str) -> pd.Series:
    """The last day of each day, week (Monday to Sunday) or month starting on `periods`, in
    one step (a call per row took 0.1 s for the Therapists page's 13,000 therapist-weeks at
    300 locations)."""
    if grain == "day":
        return periods.copy()
    if grain == "week":
        return periods + pd.Timedelta(days=6)
    return periods + pd.offsets.MonthEnd(0)


def mark_coverage(
    frame: pd.DataFrame, grain: str, start: dt.date, end: dt.date, period: str = "period"
) -> pd.DataFrame:
    """`frame` with, per row, `days_in_period` (1, 7 or the month's days), `days_covered` (the
    days of it inside both the selection `start`..`end` and the row's data, its `first_day`
    to `last_day`), `covered_from`, `covered_to` and `is_partial`. The data bounds columns are
    dropped; without them the selection alone decides."""
    out = frame.copy()
    starts = pd.to_datetime(out[period])
    lasts = period_last_days(starts, grain)
    first = pd.Series(pd.Timestamp(start), index=out.index)
    last = pd.Series(pd.Timestamp(end), index=out.index)
    if "first_day" in out:
        first = pd.concat([first, pd.to_datetime(out["first_day"])], axis=1).max(axis=1)
        last = pd.concat([last, pd.to_datetime(out["last_day"])], axis=1).min(axis=1)
    covered_from = pd.concat([starts, first], axis=1).max(axis=1)
    covered_to = pd.concat([lasts, last], axis=1).min(axis=1)
    out[period] = starts
    out["days_in_period"] = ((lasts - starts).dt.days + 1).astype("int64")
    out["days_covered"] = ((covered_to - covered_from).dt.days + 1).clip(lower=0).astype("int64")
    out["covered_from"] = covered_from
    out["covered_to"] = covered_to
    out["is_partial"] = out["days_covered"] < out["days_in_period"]
    return out.drop(columns=[c for c in ("first_day", "last_day") if c in out])
