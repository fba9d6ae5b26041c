"""Location KPIs (Today, Ceiling-bar rooms, Locations): ratios of sums over fct_location_days;
the periods KPI tiles compare with, targets from the settings, and the return of new clients."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.queries.snapshot import (
    Locations,
    date_bounds,
    has_column,
    query,
    scope,
    settings_in_force,
)
from pipelines.settings import TARGET_METRICS

# A page's tiles compare periods (the chosen dates, the days just before, a year earlier): one
# query serves them all. `periods` is a small table of named spans, each row of a table joins
# every span it falls in (spans may overlap: a half-year before the last one does), and the date
# filter names each span in constants, so DuckDB still skips the row groups outside them.
PERIODS_CTE = """
periods as (
    select
        unnest(?::varchar[]) as period,
        unnest(?::date[]) as period_start,
        unnest(?::date[]) as period_end
)
"""

Span = tuple[dt.date, dt.date]


def in_spans(column: str, count: int) -> str:
    """`column` inside any of `count` spans, each a pair of bound dates (see span_params)."""
    return "(" + " or ".join([f"{column} between ? and ?"] * count) + ")"


def span_params(spans: dict[str, Span]) -> list[object]:
    return [bound for span in spans.values() for bound in span]


def periods_params(spans: dict[str, Span]) -> list[object]:
    return [tuple(spans), tuple(s for s, _ in spans.values()), tuple(e for _, e in spans.values())]


# Ratios of sums over fct_location_days (metric dictionary), once for every location and once for
# all of them together (grouping sets), so the "All locations" row uses identical definitions;
# per period of `periods`. Everything comes from the location-days, rebooking's denominator
# (rebooking_known_visits) and which locations give prices included: fct_bookings is not read.
_KPI_SQL = """
with {periods},
chosen_days as (
    select p.period, d.*
    from fct_location_days as d
    join periods as p on d."date" between p.period_start and p.period_end
    where list_contains(?, d.location_id) and {days_in_spans}
),
days as (
    -- has_prices: locations whose exports give prices in the period (a day's revenue is NULL
    -- when no completed booking of it has a price): revenue and RevPATH are empty (not $0)
    -- without them, and the "All locations" RevPATH divides by the open hours of these only.
    -- Grouped and joined back: a window partitioned by period and location took twice the CPU
    select d.*, priced.has_prices
    from chosen_days as d
    join (
        select period, location_id, bool_or(revenue is not null) as has_prices
        from chosen_days
        group by period, location_id
    ) as priced using (period, location_id)
),
day_totals as (
    select
        period,
        location_id,
        grouping(location_id) = 1 as is_total,
        coalesce(bool_or(has_prices), false) as has_prices,
        sum(available_minutes) filter (where has_prices) as priced_available_minutes,
        count(distinct "date") as days,
        sum(available_minutes) as available_minutes,
        sum(occupied_minutes) as occupied_minutes,
        sum(bar_room_available_minutes) as bar_room_available_minutes,
        sum(bar_room_occupied_minutes) as bar_room_occupied_minutes,
        sum(bar_room_bar_minutes) as bar_room_bar_minutes,
        sum(scheduled_minutes) as scheduled_minutes,
        sum(booked_minutes) as booked_minutes,
        sum(bookings) as bookings,
        sum(completed) as completed,
        sum(no_shows) as no_shows,
        sum(cancellations) as cancellations,
        sum(late_cancellations) as late_cancellations,
        sum(revenue)::double as revenue,
        sum(new_clients) as new_clients,
        -- completed visits rebooked, and those whose rebooking is known (is_rebooked is NULL
        -- on every booking but a completed one)
        sum(rebooked_visits)::bigint as rebooked_visits,
        sum(rebooking_known_visits)::bigint as rebook_known_visits
    from days
    group by grouping sets ((period, location_id), (period))
)
select
    d.period,
    d.location_id,
    d.is_total,
    case when d.is_total then 'All locations'
        else l.display_name end as location_name,
    d.days,
    d.occupied_minutes / nullif(d.available_minutes, 0) as room_utilization,
    d.bar_room_bar_minutes / nullif(d.bar_room_available_minutes, 0) as bar_utilization,
    d.bar_room_bar_minutes / nullif(d.bar_room_occupied_minutes, 0) as bar_fit,
    d.booked_minutes / nullif(d.scheduled_minutes, 0) as therapist_utilization,
    coalesce(d.bookings, 0) as bookings,
    coalesce(d.completed, 0) as completed,
    coalesce(d.no_shows, 0) as no_shows,
    d.no_shows / nullif(d.completed + d.no_shows, 0) as no_show_rate,
    coalesce(d.cancellations, 0) as cancellations,
    coalesce(d.late_cancellations, 0) as late_cancellations,
    case when d.has_prices then coalesce(d.revenue, 0) end as revenue,
    case when d.has_prices
        then coalesce(d.revenue, 0) / nullif(d.priced_available_minutes / 60.0, 0) end as revpath,
    coalesce(d.new_clients, 0) as new_clients,
    coalesce(d.rebooked_visits, 0) as rebooked_visits,
    d.rebooked_visits / nullif(d.rebook_known_visits, 0) as rebooking_rate,
    d.available_minutes / 60.0 as available_hours,
    d.occupied_minutes / 60.0 as occupied_hours
from day_totals as d
left join dim_locations as l on l.location_id = d.location_id
order by d.period, d.is_total, location_name
"""


def _kpis(locations: Locations, spans: dict[str, Span]) -> pd.DataFrame:
    """The KPI rows (per location and "All locations") of every span, with a `period` column."""
    chosen = scope(locations)
    sql = _KPI_SQL.format(periods=PERIODS_CTE, days_in_spans=in_spans('d."date"', len(spans)))
    return query(sql, *periods_params(spans), chosen, *span_params(spans))


def _total_of(frame: pd.DataFrame, period: str) -> dict[str, object] | None:
    total = frame[(frame["period"] == period) & frame["is_total"]]
    if total.empty or not total.iloc[0]["days"]:
        return None
    return total.drop(columns="period").iloc[0].to_dict()


def kpi_totals(locations: Locations, start: dt.date, end: dt.date) -> dict[str, object] | None:
    """KPIs over all the given locations and days together; None when there is no data."""
    return kpi_totals_over(locations, {"now": (start, end)})["now"]


def kpi_totals_over(
    locations: Locations, periods: Periods | Mapping[str, Span | None]
) -> dict[str, dict[str, object] | None]:
    """kpi_totals for each period (e.g. comparison_periods, or any named spans), in one query:
    None for a period that is None or has no data."""
    spans, given = split_spans(periods)
    if not given:
        return dict.fromkeys(spans)
    frame = _kpis(locations, given)
    return {name: None if span is None else _total_of(frame, name) for name, span in spans.items()}


def kpis_by_location(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """One KPI row per location plus an "All locations" row (ratios of sums, same definitions)."""
    return kpis_by_location_over(locations, {"now": (start, end)})["now"]


def kpis_by_location_over(
    locations: Locations, periods: Periods | Mapping[str, Span | None]
) -> dict[str, pd.DataFrame | None]:
    """kpis_by_location for each period (None for a period that is None), from the same query
    as kpi_totals_over (a page asking both runs it once: results are cached)."""
    spans, given = split_spans(periods)
    if not given:
        return dict.fromkeys(spans)
    every = _kpis(locations, given)
    out: dict[str, pd.DataFrame | None] = {}
    for name, span in spans.items():
        if span is None:
            out[name] = None
            continue
        frame = every[every["period"] == name].drop(columns="period")
        if frame[~frame["is_total"]].empty:
            # no rows at all come back as object columns: names stay text, as with rows
            out[name] = frame.iloc[0:0].astype({"location_name": "str"}).reset_index(drop=True)
        else:
            out[name] = frame.reset_index(drop=True)
    return out


# --- Comparisons: the same KPI over the chosen dates, the days just before, a year earlier ---


@dataclass(frozen=True)
class Periods:
    """The chosen dates and what they are compared with, each an inclusive (start, end).

    `previous`: the same number of days just before `now`. `year_ago`: the same dates a year
    earlier (29 Feb becomes 28 Feb), None when the viewer's data does not reach back that far.
    """

    now: tuple[dt.date, dt.date]
    previous: tuple[dt.date, dt.date]
    year_ago: tuple[dt.date, dt.date] | None

    @property
    def days(self) -> int:
        return (self.now[1] - self.now[0]).days + 1


def _year_earlier(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 Feb: the year before has no such day
        return day.replace(year=day.year - 1, day=28)


_FROM_DATA = object()


def comparison_periods(start: dt.date, end: dt.date, first_day: object = _FROM_DATA) -> Periods:
    """The chosen dates, the same number of days just before, and the same dates a year earlier.

    The year-ago period is None when it starts before the viewer's data (`first_day`, by
    default the first day of snapshot.date_bounds()): a year whose first weeks are missing
    would compare with part of a period.
    """
    if first_day is _FROM_DATA:
        bounds = date_bounds()
        first_day = bounds[0] if bounds else None
    length = end - start
    previous_end = start - dt.timedelta(days=1)
    previous = (previous_end - length, previous_end)
    year_ago: tuple[dt.date, dt.date] | None = (_year_earlier(start), _year_earlier(end))
    if first_day is None or year_ago[0] < first_day:
        year_ago = None
    return Periods((start, end), previous, year_ago)


PERIOD_NAMES = ("now", "previous", "year_ago")


def over_periods(
    fetch: Callable[[dt.date, dt.date], dict[str, object] | None], periods: Periods
) -> dict[str, dict[str, object] | None]:
    """`fetch(start, end)` (a dict of KPIs, or None for no data) for each of the periods."""
    out: dict[str, dict[str, object] | None] = {}
    for name in PERIOD_NAMES:
        span = getattr(periods, name)
        out[name] = fetch(*span) if span is not None else None
    return out


def named_spans(periods: Periods | Mapping[str, Span | None]) -> dict[str, Span | None]:
    """The spans by name: a Periods' now, previous and year_ago, or the mapping as given."""
    if isinstance(periods, Periods):
        return {name: getattr(periods, name) for name in PERIOD_NAMES}
    return dict(periods)


def split_spans(
    periods: Periods | Mapping[str, Span | None],
) -> tuple[dict[str, Span | None], dict[str, Span]]:
    """The spans by name (named_spans), and those of them that are not None."""
    spans = named_spans(periods)
    return spans, {n: s for n, s in spans.items() if s is not None}


def targets(locations: Locations) -> pd.DataFrame:
    """One row per location the viewer may see of `locations`: location_id and the targets of
    TARGET_METRICS as fractions 0-1 (NaN where none is set), from the settings file: [targets]
    for every location, [targets.<location id>] overriding it for one."""
    chosen = scope(locations)
    frame = pd.DataFrame(
        {"location_id": list(chosen), **{m: float("nan") for m in TARGET_METRICS}},
        columns=["location_id", *TARGET_METRICS],
    ).astype(dict.fromkeys(TARGET_METRICS, "float64"))
    rows = {location: number for number, location in enumerate(chosen)}
    in_force = settings_in_force().targets
    # every location's first, so a location's own target always wins
    for location, metric, value in sorted(in_force, key=lambda t: t[0] is not None):
        if location is None:
            frame[metric] = value
        elif location in rows:
            frame.loc[rows[location], metric] = value
    return frame


# Return of new clients whose N-day window closed (first visit + N days) inside the dates and by
# the day the data is complete through; a return is the next completed visit on a later date
# within N days, at any location (dim_clients.second_visit_date, as rpt_retention counts it).
# Per first-visit location and for all of them together (ratios of sums), per period: one pass
# over the clients serves every window and period.
_RETURNS_SQL = """
with {periods},
windows as (
    select unnest(?::integer[]) as days, unnest(range(1, len(?::integer[]) + 1)) as number
),
first_days as (
    -- the new clients of each first-visit location and day, and of them how many came back
    -- within each window (in the windows' order): the periods then join days, not clients.
    -- The first visits are those whose windows can close in a period (constants).
    select
        c.first_location_id as location_id,
        c.first_visit_date,
        count(*) as clients,
        [{returned_within}] as returned_within
    from dim_clients as c
    where list_contains(?, c.first_location_id)
        and c.is_new_client
        and {first_visits_in_reach}
    group by c.first_location_id, c.first_visit_date
),
closed as (
    select
        p.period,
        f.location_id,
        grouping(f.location_id) = 1 as is_total,
        w.days,
        sum(f.clients)::bigint as eligible,
        sum(f.returned_within[w.number])::bigint as returned
    from first_days as f
    cross join windows as w
    cross join rpt_as_of as a
    join periods as p
        on f.first_visit_date + w.days between p.period_start and least(p.period_end, a.as_of_date)
    group by grouping sets ((p.period, f.location_id, w.days), (p.period, w.days))
)
select period, location_id, is_total, days, eligible, returned
from closed
order by period, is_total, location_id, days
"""


def returns(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Return within each retention window (settings, e.g. 30/60/90 days) of the new clients
    whose window closed between start and end: one row per first-visit location plus an "All
    locations" row (is_total), with eligible_N, returned_N and return_N (a fraction, NaN when no
    client's window closed then) per window N."""
    return returns_over(locations, {"now": (start, end)})["now"]


def returns_over(
    locations: Locations, periods: Periods | Mapping[str, Span | None]
) -> dict[str, pd.DataFrame | None]:
    """`returns` for each period (None for a period that is None), in one query."""
    windows = list(settings_in_force().retention_windows_days)
    chosen = scope(locations)
    spans, given = split_spans(periods)
    if not given:
        return dict.fromkeys(spans)
    columns = ["location_id", "is_total"] + [
        f"{part}_{days}" for days in windows for part in ("eligible", "returned", "return")
    ]
    returned_within = (
        "count(*) filter (where c.second_visit_date <= c.first_visit_date + ?::integer)"
    )
    sql = _RETURNS_SQL.format(
        periods=PERIODS_CTE,
        returned_within=", ".join([returned_within] * len(windows)),
        first_visits_in_reach=in_spans("c.first_visit_date", len(given)),
    )
    if not has_column("dim_clients", "is_new_client"):
        sql = sql.replace("and c.is_new_client", "")  # a warehouse built before history start
    # a window closes in a period when the first visit is in it, moved back by the window
    longest, shortest = max(windows, default=0), min(windows, default=0)
    in_reach = {
        name: (start - dt.timedelta(days=longest), end - dt.timedelta(days=shortest))
        for name, (start, end) in given.items()
    }
    long = query(
        sql, *periods_params(given), windows, windows, *windows, chosen, *span_params(in_reach)
    )
    keys = [(location, False) for location in chosen] + [(None, True)]
    names = pd.DataFrame(
        [{"location_id": location, "is_total": total} for location, total in keys],
        columns=["location_id", "is_total"],
    )
    # each row of the query in its place in the frames: its location's row, the last for "All
    # locations" (a lookup per window and part, with pandas, cost 0.1 s of CPU a run at 300
    # locations; numpy arrays take a millisecond)
    row = pd.Index(chosen, dtype=object).get_indexer(long["location_id"].astype(object))
    row[long["is_total"].to_numpy(bool)] = len(chosen)
    period = long["period"].to_numpy(object)
    days_of = long["days"].to_numpy()
    counts = {part: long[part].to_numpy("int64") for part in ("eligible", "returned")}
    out: dict[str, pd.DataFrame | None] = {}
    for name, span in spans.items():
        if span is None:
            out[name] = None
            continue
        figures: dict[str, object] = {}
        for days in windows:
            found = (period == name) & (days_of == days) & (row >= 0)
            for part in ("eligible", "returned"):
                # no row: nobody's window closed (0), not unknown
                figures[f"{part}_{days}"] = np.zeros(len(keys), dtype="int64")
                figures[f"{part}_{days}"][row[found]] = counts[part][found]
            eligible, returned = figures[f"eligible_{days}"], figures[f"returned_{days}"]
            # no client's window closed: no rate (nobody could have come back yet)
            with np.errstate(divide="ignore", invalid="ignore"):
                figures[f"return_{days}"] = np.where(eligible > 0, returned / eligible, np.nan)
        out[name] = names.assign(**{column: figures[column] for column in columns[2:]})
    return out


def returns_total(locations: Locations, start: dt.date, end: dt.date) -> dict[str, object]:
    """The "All locations" row of `returns`, as a dict (return_30, eligible_30, ...)."""
    return returns_total_over(locations, {"now": (start, end)})["now"]


def returns_total_over(
    locations: Locations, periods: Periods | Mapping[str, Span | None]
) -> dict[str, dict[str, object] | None]:
    """`returns_total` for each period (None for a period that is None), in one query."""
    return {
        name: None if frame is None else frame[frame["is_total"]].iloc[0].to_dict()
        for name, frame in returns_over(locations, periods).items()
    }


def therapist_totals(
    locations: Locations, start: dt.date, end: dt.date
) -> dict[str, object] | None:
    """For the Therapists page's tiles, summed over therapists' days (fct_therapist_days):
    utilization (booked / shift minutes, a ratio of sums), hands-on hours, bar sessions, days
    someone went over a daily limit (bar sessions or hands-on time) and back-to-back pairs.
    None when no therapist has a day in the period (nothing to compare, not zero)."""
    return therapist_totals_over(locations, {"now": (start, end)})["now"]


def therapist_totals_over(
    locations: Locations, periods: Periods | Mapping[str, Span | None]
) -> dict[str, dict[str, object] | None]:
    """`therapist_totals` for each period (None for a period that is None), in one query."""
    spans, given = split_spans(periods)
    if not given:
        return dict.fromkeys(spans)
    frame = query(
        f"""
        with {PERIODS_CTE}
        select
            p.period,
            sum(booked_minutes) / nullif(sum(scheduled_minutes), 0) as therapist_utilization,
            sum(hands_on_minutes) / 60.0 as hands_on_hours,
            sum(bar_sessions) as bar_sessions,
            count(*) filter (where over_bar_limit or over_hands_on_limit) as days_over_limit,
            sum(back_to_back_pairs) as back_to_back_pairs,
            count(*) as therapist_days
        from fct_therapist_days as t
        join periods as p on t."date" between p.period_start and p.period_end
        where list_contains(?, t.location_id) and {in_spans('t."date"', len(given))}
        group by p.period
        """,
        *periods_params(given),
        scope(locations),
        *span_params(given),
    )
    out: dict[str, dict[str, object] | None] = {}
    for name, span in spans.items():
        row = frame[frame["period"] == name].drop(columns="period")
        out[name] = None if span is None or row.empty else row.iloc[0].to_dict()
    return out
