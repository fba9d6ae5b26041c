"""Every question the dashboard asks the warehouse: cached, location-scoped, parameterised.

Rules (readers never block the loader, scoping lives here, SQL takes parameters):
- Each query function takes the set of locations the viewer picked and filters on it in SQL,
  after intersecting it with the locations the signed-in user may see (dashboard.auth), so a
  location named in the URL that the user may not see returns nothing.
- All values reach DuckDB as bound parameters; no user text is ever formatted into SQL.
- The published snapshot is read through one shared read-only connection per snapshot
  (pipelines.warehouse.SnapshotReader), which a new publish replaces on the next query.
- Results are cached by the snapshot's path, mtime and size, so a newly published load shows
  up on the next rerun without restarting the app.
- Aggregation happens in DuckDB; only the aggregated rows come back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboard import auth
from pipelines.ingest.load import IS_DEMO_SQL
from pipelines.profile import Profile, parse_profile
from pipelines.settings import Settings, load_settings, shown_db_path
from pipelines.warehouse import SnapshotReader, WarehouseError

Locations = tuple[str, ...]

GRAINS = ("day", "week", "month")
HELD = ("completed", "booked", "no_show")


@dataclass(frozen=True)
class Snapshot:
    """The published warehouse file, as a cache key: a new publish gives a new key."""

    path: str
    inode: int
    mtime_ns: int
    size: int


def snapshot() -> Snapshot:
    """The published warehouse as it is now (raises WarehouseError when there is none).

    The studio's own warehouse once it exists, else the demo (pipelines.settings.shown_db_path):
    `studio-ops init` switches the app to the studio's data on the next rerun."""
    path = shown_db_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise WarehouseError(
            f"{path}: no warehouse yet (start one with `studio-ops init`)"
        ) from None
    return Snapshot(str(Path(path).resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_size)


@st.cache_resource(show_spinner=False)
def _reader() -> SnapshotReader:
    """The process's one reader of published snapshots (shared by every session)."""
    return SnapshotReader()


@st.cache_data(show_spinner=False, max_entries=512)
def _frame(snap: Snapshot, sql: str, params: tuple) -> pd.DataFrame:
    bound = [list(p) if isinstance(p, tuple) else p for p in params]
    try:
        return _reader().query(snap.path, snap, sql, bound)
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WarehouseError(f"{Path(snap.path).name}: {first}") from None


def _query(sql: str, *params: object) -> pd.DataFrame:
    return _frame(snapshot(), sql, tuple(params))


def _scope(locations: Locations) -> tuple[str, ...]:
    """What the viewer picked, intersected with what the signed-in user may see."""
    chosen = {x for x in locations if isinstance(x, str)}
    allowed = auth.allowed_locations()
    if allowed is not None:
        chosen &= set(allowed)
    return tuple(sorted(chosen))


def _everything_allowed() -> bool:
    return auth.allowed_locations() is None


# ---------------------------------------------------------------- warehouse facts


def locations() -> pd.DataFrame:
    """The locations the viewer may see: location_id and a display name."""
    allowed = auth.allowed_locations()
    return _query(
        """
        select location_id, coalesce(nullif(name, ''), location_id) as location_name
        from dim_locations
        where ? or list_contains(?, location_id)
        order by location_name, location_id
        """,
        allowed is None,
        tuple(sorted(allowed or ())),
    )


def as_of_date() -> dt.date | None:
    """The day the data is complete through (rpt_as_of.as_of_date), or None when empty."""
    frame = _query("select as_of_date from rpt_as_of")
    if frame.empty or pd.isna(frame.iloc[0, 0]):
        return None
    return pd.Timestamp(frame.iloc[0, 0]).date()


def date_bounds() -> tuple[dt.date, dt.date] | None:
    """The first and last day of the viewer's locations' location-day rows, or None."""
    allowed = auth.allowed_locations()
    frame = _query(
        """
        select min("date") as first_day, max("date") as last_day
        from fct_location_days
        where ? or list_contains(?, location_id)
        """,
        allowed is None,
        tuple(sorted(allowed or ())),
    )
    if frame.empty or pd.isna(frame.iloc[0, 0]):
        return None
    return pd.Timestamp(frame.iloc[0, 0]).date(), pd.Timestamp(frame.iloc[0, 1]).date()


def is_demo() -> bool:
    """True when the warehouse holds the generated demo chain and nothing loaded since."""
    return bool(_query(IS_DEMO_SQL).iloc[0, 0])


def settings_in_force() -> Settings:
    """The settings the marts were built with (the warehouse `settings` table), else the file."""
    base = load_settings()
    try:
        frame = _query("select * from settings limit 1")
        windows = _query("select window_days from settings_retention_windows order by 1")
    except WarehouseError:
        return base
    if frame.empty:
        return base
    row = frame.iloc[0].to_dict()
    values: dict[str, object] = {}
    for name in base.as_rows():
        if name in row and not pd.isna(row[name]):
            values[name] = int(row[name])
    if isinstance(row.get("currency_symbol"), str):
        values["currency_symbol"] = row["currency_symbol"]
    if len(windows):
        values["retention_windows_days"] = tuple(int(v) for v in windows["window_days"])
    return dataclasses.replace(base, **values)


# ---------------------------------------------------------------- location KPIs

# Ratios of sums over fct_location_days (metric dictionary), once for every location and once for
# all of them together (grouping sets), so the "All locations" row uses identical definitions.
# Rebooking needs its denominator (completed visits whose is_rebooked is known), which the
# location-day mart does not carry, so it is counted from fct_bookings with the same scope.
_KPI_SQL = """
with priced as (
    -- locations whose exports give prices: revenue and RevPATH are empty (not $0) without
    -- them, and the "All locations" RevPATH divides by the open hours of these only
    select location_id, count(price) > 0 as has_prices
    from fct_bookings
    where list_contains(?, location_id)
        and booking_date between ? and ?
        and status = 'completed'
    group by location_id
),
day_totals as (
    select
        location_id,
        grouping(location_id) = 1 as is_total,
        coalesce(bool_or(p.has_prices), false) as has_prices,
        sum(available_minutes) filter (where p.has_prices) as priced_available_minutes,
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
        sum(new_clients) as new_clients
    from fct_location_days
    left join priced as p using (location_id)
    where list_contains(?, location_id) and "date" between ? and ?
    group by grouping sets ((location_id), ())
),
rebooking as (
    select
        location_id,
        grouping(location_id) = 1 as is_total,
        count(*) filter (where is_rebooked) as rebooked_visits,
        count(is_rebooked) as rebook_known_visits
    from fct_bookings
    where list_contains(?, location_id)
        and booking_date between ? and ?
        and status = 'completed'
    group by grouping sets ((location_id), ())
)
select
    d.location_id,
    d.is_total,
    case when d.is_total then 'All locations'
        else coalesce(nullif(l.name, ''), d.location_id) end as location_name,
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
    coalesce(r.rebooked_visits, 0) as rebooked_visits,
    r.rebooked_visits / nullif(r.rebook_known_visits, 0) as rebooking_rate,
    d.available_minutes / 60.0 as available_hours,
    d.occupied_minutes / 60.0 as occupied_hours
from day_totals as d
left join rebooking as r
    on d.is_total = r.is_total and d.location_id is not distinct from r.location_id
left join dim_locations as l on l.location_id = d.location_id
order by d.is_total, location_name
"""


def _kpis(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    scope = _scope(locations)
    return _query(_KPI_SQL, scope, start, end, scope, start, end, scope, start, end)


def kpi_totals(locations: Locations, start: dt.date, end: dt.date) -> dict[str, object] | None:
    """KPIs over all the given locations and days together; None when there is no data."""
    frame = _kpis(locations, start, end)
    total = frame[frame["is_total"]]
    if total.empty or not total.iloc[0]["days"]:
        return None
    return total.iloc[0].to_dict()


def kpis_by_location(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """One KPI row per location plus an "All locations" row (ratios of sums, same definitions)."""
    frame = _kpis(locations, start, end)
    if frame[~frame["is_total"]].empty:
        return frame.iloc[0:0]
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------- today


def room_timeline(locations: Locations, day: dt.date) -> pd.DataFrame:
    """The day's held bookings by room (start, end, bar work or not) for the timeline."""
    return _query(
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
        _scope(locations),
        day,
    )


def rooms(locations: Locations) -> pd.DataFrame:
    """The rooms of the given locations, bar rooms marked."""
    return _query(
        """
        select location_id, room_id, coalesce(room_name, room_id) as room, has_bars
        from dim_rooms
        where list_contains(?, location_id)
        order by location_id, room
        """,
        _scope(locations),
    )


def pacing(locations: Locations, after: dt.date, days: int = 14) -> pd.DataFrame:
    """Booked share of room capacity for each of the next `days` days after `after`."""
    return _query(
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
        _scope(locations),
        after,
        after + dt.timedelta(days=days),
    )


# ---------------------------------------------------------------- capacity


def utilization_trend(
    locations: Locations,
    start: dt.date,
    end: dt.date,
    grain: str = "week",
    together: str | None = None,
) -> pd.DataFrame:
    """Room, bar and therapist utilization plus RevPATH per location and day/week/month; with
    `together` (a label), one row per period for all the locations (ratios of the sums)."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}")
    return _query(
        """
        select
            date_trunc(?, d."date")::date as period,
            coalesce(?, nullif(l.name, ''), d.location_id) as location_name,
            sum(d.occupied_minutes) / nullif(sum(d.available_minutes), 0) as room_utilization,
            sum(d.bar_room_bar_minutes) / nullif(sum(d.bar_room_available_minutes), 0)
                as bar_utilization,
            sum(d.booked_minutes) / nullif(sum(d.scheduled_minutes), 0)
                as therapist_utilization,
            sum(d.revenue)::double / nullif(sum(d.available_minutes) / 60.0, 0) as revpath,
            sum(d.revenue)::double as revenue
        from fct_location_days as d
        left join dim_locations as l using (location_id)
        where list_contains(?, d.location_id) and d."date" between ? and ?
        group by all
        order by period, location_name
        """,
        grain,
        together,
        _scope(locations),
        start,
        end,
    )


_WEEKDAY = "strftime(h.\"date\", '%a')"


def hourly_heatmap(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Room and therapist utilization by weekday and clock hour (ratios of sums)."""
    return _query(
        f"""
        select
            isodow(h."date") as weekday_number,
            {_WEEKDAY} as weekday,
            h.hour,
            sum(h.room_occupied_minutes) / nullif(sum(h.room_available_minutes), 0)
                as room_utilization,
            sum(h.therapist_booked_minutes) / nullif(sum(h.therapist_scheduled_minutes), 0)
                as therapist_utilization
        from fct_hourly_capacity as h
        where list_contains(?, h.location_id) and h."date" between ? and ?
        group by all
        having sum(h.room_available_minutes) > 0 or sum(h.therapist_scheduled_minutes) > 0
        order by weekday_number, h.hour
        """,
        _scope(locations),
        start,
        end,
    )


def room_use(
    locations: Locations, start: dt.date, end: dt.date, bar_rooms_only: bool = False
) -> pd.DataFrame:
    """Per room: available, occupied and bar hours, utilization, bar utilization and bar fit."""
    return _query(
        """
        select
            coalesce(nullif(l.name, ''), d.location_id) as location_name,
            coalesce(r.room_name, d.room_id) as room,
            bool_or(d.has_bars) as has_bars,
            sum(d.available_minutes) / 60.0 as available_hours,
            sum(d.occupied_minutes) / 60.0 as occupied_hours,
            sum(d.bar_minutes) / 60.0 as bar_hours,
            sum(d.occupied_minutes - d.bar_minutes) filter (where d.has_bars) / 60.0
                as non_bar_hours_in_bar_room,
            sum(d.occupied_minutes) / nullif(sum(d.available_minutes), 0) as utilization,
            sum(d.bar_minutes) filter (where d.has_bars)
                / nullif(sum(d.available_minutes) filter (where d.has_bars), 0)
                as bar_utilization,
            sum(d.bar_minutes) filter (where d.has_bars)
                / nullif(sum(d.occupied_minutes) filter (where d.has_bars), 0) as bar_fit
        from fct_room_days as d
        left join dim_rooms as r on r.location_id = d.location_id and r.room_id = d.room_id
        left join dim_locations as l on l.location_id = d.location_id
        where list_contains(?, d.location_id) and d."date" between ? and ?
            and (not ? or d.has_bars)
        group by all
        order by location_name, room
        """,
        _scope(locations),
        start,
        end,
        bar_rooms_only,
    )


def bottlenecks(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per location, weekday and hour: which resource runs out first, and hours left unsold.

    Method (kept simple, shown in the UI): the resource with the highest utilization in that
    weekday-hour is the one that runs out first. An extra bar room would have sold the minutes
    when every bar room was full. An extra bar-trained shift would have sold, in hours when the
    therapists on shift were fully booked (or nobody was on shift), the room time left empty,
    at most one hour per clock hour.
    """
    return _query(
        f"""
        with {_STAFFED},
        hours as (
            select
                h.location_id,
                h.location_id in (select location_id from staffed) as staffed,
                isodow(h."date") as weekday_number,
                {_WEEKDAY} as weekday,
                h.hour,
                h.room_available_minutes,
                h.room_occupied_minutes,
                h.bar_room_available_minutes,
                h.bar_room_occupied_minutes,
                h.bar_rooms_full_minutes,
                h.therapist_scheduled_minutes,
                h.therapist_booked_minutes,
                case
                    when h.therapist_booked_minutes >= h.therapist_scheduled_minutes
                        then least(
                            60,
                            greatest(h.room_available_minutes - h.room_occupied_minutes, 0)
                        )
                    else 0
                end as room_minutes_without_therapist
            from fct_hourly_capacity as h
            where list_contains(?, h.location_id) and h."date" between ? and ?
                and h.room_available_minutes > 0
        ),
        by_slot as (
            select
                location_id,
                weekday_number,
                weekday,
                hour,
                sum(bar_room_occupied_minutes) / nullif(sum(bar_room_available_minutes), 0)
                    as bar_room_utilization,
                sum(room_occupied_minutes) / nullif(sum(room_available_minutes), 0)
                    as room_utilization,
                sum(therapist_booked_minutes) / nullif(sum(therapist_scheduled_minutes), 0)
                    as therapist_utilization,
                sum(bar_rooms_full_minutes) / 60.0 as extra_bar_room_hours,
                sum(room_minutes_without_therapist) / 60.0 as extra_bar_shift_hours,
                bool_or(staffed) as staffed
            from hours
            group by location_id, weekday_number, weekday, hour
        )
        select
            coalesce(nullif(l.name, ''), s.location_id) as location_name,
            s.weekday_number,
            s.weekday,
            s.hour,
            s.bar_room_utilization,
            s.room_utilization,
            s.therapist_utilization,
            -- no therapist on shift while rooms are open: therapists ran out (at a location
            -- whose shifts are known at all; without any, only the rooms are compared)
            case
                when s.staffed and coalesce(s.therapist_utilization, 9) >= greatest(
                    coalesce(s.bar_room_utilization, 0), coalesce(s.room_utilization, 0)
                ) then 'Therapists on shift'
                when coalesce(s.bar_room_utilization, -1) >= coalesce(s.room_utilization, 0)
                    then 'Bar rooms'
                else 'All rooms'
            end as runs_out_first,
            greatest(
                coalesce(s.bar_room_utilization, 0),
                coalesce(s.room_utilization, 0),
                case when s.staffed then coalesce(s.therapist_utilization, 1) else 0 end
            ) as tightest_utilization,
            case when s.bar_room_utilization is not null then s.extra_bar_room_hours end
                as extra_bar_room_hours,
            case when s.staffed then s.extra_bar_shift_hours end as extra_bar_shift_hours
        from by_slot as s
        left join dim_locations as l on l.location_id = s.location_id
        order by location_name, s.weekday_number, s.hour
        """,
        _scope(locations),
        start,
        end,
        _scope(locations),
        start,
        end,
    )


# Locations with any shift time in the chosen days (parameters: locations, first, last day).
# Without shifts nobody knows when therapists were free, so the bottleneck view leaves the
# therapists out rather than counting every hour as "no one on shift".
_STAFFED = """staffed as (
            select location_id
            from fct_hourly_capacity
            where list_contains(?, location_id) and "date" between ? and ?
            group by location_id
            having sum(therapist_scheduled_minutes) > 0
        )"""


def bottleneck_summary(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per location: hours an extra bar room or an extra bar-trained shift would have sold."""
    return _query(
        f"""
        with {_STAFFED},
        hours as (
            select
                location_id,
                location_id in (select location_id from staffed) as staffed,
                bar_room_available_minutes,
                bar_rooms_full_minutes,
                case
                    when therapist_booked_minutes >= therapist_scheduled_minutes
                        then least(
                            60, greatest(room_available_minutes - room_occupied_minutes, 0)
                        )
                    else 0
                end as room_minutes_without_therapist
            from fct_hourly_capacity
            where list_contains(?, location_id) and "date" between ? and ?
                and room_available_minutes > 0
        )
        select
            coalesce(nullif(l.name, ''), h.location_id) as location_name,
            -- empty, not 0 h, when the location has no bar room or no shifts to go by
            case when sum(h.bar_room_available_minutes) > 0
                then sum(h.bar_rooms_full_minutes) / 60.0 end as extra_bar_room_hours,
            case when bool_or(h.staffed)
                then sum(h.room_minutes_without_therapist) / 60.0 end as extra_bar_shift_hours
        from hours as h
        left join dim_locations as l on l.location_id = h.location_id
        group by all
        order by location_name
        """,
        _scope(locations),
        start,
        end,
        _scope(locations),
        start,
        end,
    )


# ---------------------------------------------------------------- ceiling-bar rooms


def bar_rooms_full(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Hours per weekday and clock hour in which every bar room was occupied."""
    return _query(
        f"""
        select
            isodow(h."date") as weekday_number,
            {_WEEKDAY} as weekday,
            h.hour,
            sum(h.bar_rooms_full_minutes) / 60.0 as full_hours,
            sum(h.bar_rooms_full_minutes) / nullif(count(*) * 60.0, 0) as full_share
        from fct_hourly_capacity as h
        where list_contains(?, h.location_id) and h."date" between ? and ?
            and h.bar_room_available_minutes > 0
        group by all
        order by weekday_number, h.hour
        """,
        _scope(locations),
        start,
        end,
    )


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
    return _query(
        """
        select
            q."date",
            coalesce(nullif(l.name, ''), q.location_id) as location_name,
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
        _scope(locations),
        start,
        end,
        kinds is None,
        tuple(kinds or ()),
    )


def dq_counts(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Number of data-quality findings per kind."""
    return _query(
        """
        select kind, count(*) as findings
        from dq_issues
        where (location_id is null or list_contains(?, location_id))
            and ("date" is null or "date" between ? and ?)
        group by kind
        order by findings desc, kind
        """,
        _scope(locations),
        start,
        end,
    )


# ---------------------------------------------------------------- therapists


def therapist_summary(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per therapist and location: utilization, hands-on hours, bar sessions, flags."""
    return _query(
        """
        select
            coalesce(nullif(l.name, ''), d.location_id) as location_name,
            coalesce(t.therapist_name, d.therapist_id) as therapist,
            case when ? then therapist || ' (' || location_name || ')' else therapist end
                as therapist_label,
            -- no shift export or profile says: unknown, never "no"
            case
                when bool_or(t.bar_trained) then 'yes'
                when not bool_or(t.bar_trained) then 'no'
                else 'unknown'
            end as bar_trained,
            count(*) filter (where d.scheduled_minutes > 0) as shift_days,
            sum(d.scheduled_minutes) / 60.0 as scheduled_hours,
            sum(d.booked_minutes) / 60.0 as booked_hours,
            sum(d.booked_minutes) / nullif(sum(d.scheduled_minutes), 0) as utilization,
            sum(d.sessions) as sessions,
            sum(d.hands_on_minutes) / 60.0 as hands_on_hours,
            sum(d.bar_sessions) as bar_sessions,
            max(d.bar_sessions) as most_bar_sessions_in_a_day,
            sum(d.back_to_back_pairs) as back_to_back_pairs,
            count(*) filter (where d.over_bar_limit) as days_over_bar_limit,
            count(*) filter (where d.over_hands_on_limit) as days_over_hands_on_limit,
            sum(d.outside_shift_minutes) / 60.0 as hours_booked_outside_shift
        from fct_therapist_days as d
        left join dim_therapists as t
            on t.location_id = d.location_id and t.therapist_id = d.therapist_id
        left join dim_locations as l on l.location_id = d.location_id
        where list_contains(?, d.location_id) and d."date" between ? and ?
        group by all
        order by location_name, utilization desc nulls last, therapist
        """,
        len(set(locations)) > 1,
        _scope(locations),
        start,
        end,
    )


def therapist_weeks(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per therapist and week: hands-on hours and the most bar sessions on one day."""
    return _query(
        """
        select
            date_trunc('week', d."date")::date as week,
            case when ?
                then coalesce(t.therapist_name, d.therapist_id)
                    || ' (' || coalesce(nullif(l.name, ''), d.location_id) || ')'
                else coalesce(t.therapist_name, d.therapist_id)
            end as therapist,
            sum(d.hands_on_minutes) / 60.0 as hands_on_hours,
            max(d.bar_sessions) as most_bar_sessions_in_a_day,
            sum(d.back_to_back_pairs) as back_to_back_pairs
        from fct_therapist_days as d
        left join dim_therapists as t
            on t.location_id = d.location_id and t.therapist_id = d.therapist_id
        left join dim_locations as l on l.location_id = d.location_id
        where list_contains(?, d.location_id) and d."date" between ? and ?
        group by all
        order by therapist, week
        """,
        len(set(locations)) > 1,
        _scope(locations),
        start,
        end,
    )


def therapist_flags(
    locations: Locations, start: dt.date, end: dt.date, weekly_limit_hours: float
) -> pd.DataFrame:
    """Days over the bar or hands-on limit, and weeks over the weekly hands-on limit."""
    return _query(
        """
        with days as (
            select
                d."date" as day_or_week_start,
                d.location_id,
                d.therapist_id,
                'day' as period,
                d.bar_sessions,
                d.hands_on_minutes / 60.0 as hands_on_hours,
                d.back_to_back_pairs,
                concat_ws(', ',
                    case when d.over_bar_limit then 'too many bar sessions' end,
                    case when d.over_hands_on_limit then 'too many hands-on hours' end
                ) as flag
            from fct_therapist_days as d
            where list_contains(?, d.location_id) and d."date" between ? and ?
                and (d.over_bar_limit or d.over_hands_on_limit)
        ),
        weeks as (
            select
                date_trunc('week', d."date")::date as day_or_week_start,
                d.location_id,
                d.therapist_id,
                'week' as period,
                sum(d.bar_sessions) as bar_sessions,
                sum(d.hands_on_minutes) / 60.0 as hands_on_hours,
                sum(d.back_to_back_pairs) as back_to_back_pairs,
                'over the weekly hands-on limit' as flag
            from fct_therapist_days as d
            where list_contains(?, d.location_id) and d."date" between ? and ?
            group by all
            having sum(d.hands_on_minutes) / 60.0 > ?
        ),
        flagged as (select * from days union all select * from weeks)
        select
            f.day_or_week_start,
            f.period,
            coalesce(nullif(l.name, ''), f.location_id) as location_name,
            coalesce(t.therapist_name, f.therapist_id) as therapist,
            f.flag,
            f.bar_sessions,
            f.hands_on_hours,
            f.back_to_back_pairs
        from flagged as f
        left join dim_therapists as t
            on t.location_id = f.location_id and t.therapist_id = f.therapist_id
        left join dim_locations as l on l.location_id = f.location_id
        order by f.day_or_week_start desc, location_name, therapist
        """,
        _scope(locations),
        start,
        end,
        _scope(locations),
        start,
        end,
        weekly_limit_hours,
    )


def rebalancing_hints(
    locations: Locations, start: dt.date, end: dt.date, min_slack_minutes: int = 60
) -> pd.DataFrame:
    """For each therapist-day over a limit: colleagues on shift that day with slack and training.

    A colleague qualifies when they work at the same location the same day, have at least
    `min_slack_minutes` of unbooked shift time, and are bar-trained when the overload is bar work.
    """
    return _query(
        """
        with days as (
            select
                d.*,
                coalesce(t.therapist_name, d.therapist_id) as therapist,
                t.bar_trained  -- NULL: unknown
            from fct_therapist_days as d
            left join dim_therapists as t
                on t.location_id = d.location_id and t.therapist_id = d.therapist_id
            where list_contains(?, d.location_id) and d."date" between ? and ?
        ),
        over as (
            select * from days where over_bar_limit or over_hands_on_limit
        ),
        helpers as (
            select
                o.location_id,
                o."date",
                o.therapist_id,
                string_agg(
                    h.therapist || ' (' || round(
                        (h.scheduled_minutes - coalesce(h.booked_minutes, 0)) / 60.0, 1
                    ) || ' h free'
                    || case when o.over_bar_limit and h.bar_trained is null
                        then ', bar training unknown' else '' end
                    || ')',
                    ', ' order by h.scheduled_minutes - coalesce(h.booked_minutes, 0) desc
                ) as could_take_over
            from over as o
            join days as h
                on h.location_id = o.location_id
                and h."date" = o."date"
                and h.therapist_id <> o.therapist_id
                and h.scheduled_minutes - coalesce(h.booked_minutes, 0) >= ?
                and not h.over_bar_limit
                and not h.over_hands_on_limit
                and (h.bar_trained is not false or not o.over_bar_limit)
            group by all
        ),
        staffed_days as (
            select location_id, "date" from days group by all having sum(scheduled_minutes) > 0
        )
        select
            o."date",
            coalesce(nullif(l.name, ''), o.location_id) as location_name,
            o.therapist as over_limit,
            concat_ws(', ',
                case when o.over_bar_limit then o.bar_sessions || ' bar sessions' end,
                case when o.over_hands_on_limit
                    then round(o.hands_on_minutes / 60.0, 1) || ' h hands-on' end
            ) as load,
            coalesce(
                h.could_take_over,
                case when s."date" is null then 'no shifts known for this day'
                    else 'nobody free with the right training' end
            ) as could_take_over
        from over as o
        left join staffed_days as s on s.location_id = o.location_id and s."date" = o."date"
        left join helpers as h
            on h.location_id = o.location_id
            and h."date" = o."date"
            and h.therapist_id = o.therapist_id
        left join dim_locations as l on l.location_id = o.location_id
        order by o."date" desc, location_name, over_limit
        """,
        _scope(locations),
        start,
        end,
        min_slack_minutes,
    )


# ---------------------------------------------------------------- clients & retention


def retention_windows() -> tuple[int, ...]:
    """The return windows (days) rpt_retention carries, from its eligible_N columns."""
    frame = _query(
        """
        select column_name
        from information_schema.columns
        where table_name = 'rpt_retention' and column_name like 'eligible_%'
        """
    )
    found = []
    for name in frame["column_name"]:
        match = re.fullmatch(r"eligible_(\d+)", name)
        if match:
            found.append(int(match.group(1)))
    return tuple(sorted(found))


def retention_cohorts(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per first-visit month: new clients, and eligible and returned counts per window."""
    windows = retention_windows()
    # Column names come from the warehouse's own schema (validated digits), never from users.
    sums = ",\n".join(
        f"sum(eligible_{n}) as eligible_{n}, sum(returned_{n}) as returned_{n}" for n in windows
    )
    return _query(
        f"""
        select
            cohort_month::date as cohort_month,
            sum(new_clients) as new_clients{"," if sums else ""}
            {sums}
        from rpt_retention
        where list_contains(?, location_id)
            and cohort_month::date between date_trunc('month', ?::date) and ?
        group by cohort_month
        order by cohort_month
        """,
        _scope(locations),
        start,
        end,
    )


def cohort_activity(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Share of each first-visit month's clients with a completed visit N months later.

    Read from rpt_cohort_activity (counts per cohort month, first-visit location and month
    after), never from the bookings. Cohorts are whole months, from the month of `start` to
    the month of `end`, as in retention_cohorts (rpt_retention).
    """
    return _query(
        """
        with cells as (
            select cohort_month, months_after, sum(active_clients)::bigint as active_clients
            from rpt_cohort_activity
            where list_contains(?, location_id)
                and cohort_month between date_trunc('month', ?::date) and ?
            group by cohort_month, months_after
        ),
        -- months_after 0 counts the first visits: every client of the cohort
        sizes as (
            select cohort_month, active_clients as clients from cells where months_after = 0
        )
        select
            c.cohort_month,
            c.months_after::bigint as months_after,
            c.active_clients,
            c.active_clients / s.clients as active_share
        from cells as c
        join sizes as s using (cohort_month)
        where c.months_after > 0
        order by c.cohort_month, c.months_after
        """,
        _scope(locations),
        start,
        end,
    )


def rebooking_trend(
    locations: Locations, start: dt.date, end: dt.date, grain: str = "week"
) -> pd.DataFrame:
    """Rebooking rate per period: completed visits rebooked the same day / visits known."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}")
    # fct_location_days counts per day what this needs: rebooked visits and the visits whose
    # answer is known (is_rebooked not NULL, completed visits only), by booking_date.
    return _query(
        """
        select
            date_trunc(?, "date")::date as period,
            sum(rebooking_known_visits)::bigint as visits,
            sum(rebooked_visits)::bigint as rebooked_visits,
            sum(rebooked_visits) / nullif(sum(rebooking_known_visits), 0) as rebooking_rate
        from fct_location_days
        where list_contains(?, location_id) and "date" between ? and ?
        group by period
        having sum(rebooking_known_visits) > 0
        order by period
        """,
        grain,
        _scope(locations),
        start,
        end,
    )


def retention_by_first(
    locations: Locations, start: dt.date, end: dt.date, by: str, window_days: int
) -> pd.DataFrame:
    """Return within `window_days` by the client's first therapist or first service."""
    if by not in ("therapist", "service"):
        raise ValueError("by must be 'therapist' or 'service'")
    # One query answers both: the page asks for therapist and service with the same
    # parameters, so the second ask is served from the cache, and dim_clients is read once.
    # Cohorts hold new clients only; a warehouse built before is_new_client counts them all.
    sql = _RETENTION_BY_FIRST_SQL
    if not _has_column("dim_clients", "is_new_client"):
        sql = sql.replace("and c.is_new_client", "")
    frame = _query(sql, window_days, _scope(locations), start, end)
    return frame[frame["breakdown"] == by].drop(columns="breakdown").reset_index(drop=True)


# A return is the client's next completed visit on a later date (dim_clients
# .second_visit_date), the same definition rpt_retention uses. Counted per first-visit location,
# therapist and service first; therapist names are joined to those counts. Parameters: the
# window in days, the locations, the first-visit dates. New clients only: clients known at a
# location's history start are in no cohort, as in rpt_retention.
_RETENTION_BY_FIRST_SQL = """
    with cohort as (
        select
            c.first_location_id,
            c.first_therapist_id,
            c.first_service,
            count(*) as new_clients,
            count(*) filter (where c.first_visit_date + w.days <= a.as_of_date) as eligible,
            count(*) filter (
                where c.first_visit_date + w.days <= a.as_of_date
                    and c.second_visit_date <= c.first_visit_date + w.days
            ) as returned
        from dim_clients as c
        cross join rpt_as_of as a
        cross join (select ?::integer as days) as w
        where list_contains(?, c.first_location_id)
            and c.first_visit_date between ? and ?
            and c.is_new_client
        group by all
    ),
    firsts as (
        select
            'therapist' as breakdown,
            coalesce(t.therapist_name, c.first_therapist_id) as first_by,
            c.new_clients,
            c.eligible,
            c.returned
        from cohort as c
        left join dim_therapists as t
            on t.location_id = c.first_location_id
            and t.therapist_id = c.first_therapist_id
        union all
        select 'service', first_service, new_clients, eligible, returned
        from cohort
    )
    select
        breakdown,
        first_by,
        sum(new_clients)::bigint as new_clients,
        sum(eligible)::bigint as eligible,
        sum(returned)::bigint as returned,
        sum(returned) / nullif(sum(eligible), 0) as return_rate
    from firsts
    group by breakdown, first_by
    order by breakdown, eligible desc, first_by
"""


CLIENT_LIST_ROWS = 1000


def client_lists(
    locations: Locations, at_risk_days: int, lapsed_days: int, limit: int = CLIENT_LIST_ROWS
) -> pd.DataFrame:
    """At-risk and lapsed clients (no future booking), by the location of their first visit.

    The most recently seen first (the likeliest to come back), at most `limit` rows: a large
    chain has hundreds of thousands of lapsed clients, which no page should carry. Only the
    clients last seen on the most recent days that hold `limit` of them are read from
    dim_clients; rpt_win_back tells which days those are.
    """
    return _query(
        f"""
        {_WIN_BACK_DAYS},
        -- the latest last-visit days that hold the `limit` most recently seen clients
        recent_days as (
            select last_visit_date
            from (
                select
                    last_visit_date,
                    sum(clients) over (order by last_visit_date desc) - clients
                        as seen_before
                from (
                    select last_visit_date, sum(clients) as clients
                    from win_back
                    group by last_visit_date
                )
            )
            where seen_before < ?
        ),
        clients as (
            select c.*, datediff('day', c.last_visit_date, a.as_of_date) as days_since_last_visit
            from dim_clients as c
            inner join recent_days as d on d.last_visit_date = c.last_visit_date
            cross join rpt_as_of as a
            where list_contains(?, c.first_location_id) and c.next_booking_at is null
        )
        select
            c.client_id,
            case when c.days_since_last_visit >= ? then 'lapsed' else 'at risk' end
                as client_status,
            coalesce(nullif(l.name, ''), c.first_location_id) as first_location,
            c.first_visit_date,
            c.last_visit_date,
            c.days_since_last_visit,
            c.completed_visits
        from clients as c
        left join dim_locations as l on l.location_id = c.first_location_id
        order by c.days_since_last_visit, c.client_id
        limit ?
        """,
        _scope(locations),
        at_risk_days,
        limit,
        _scope(locations),
        lapsed_days,
        limit,
    )


def client_list_counts(locations: Locations, at_risk_days: int, lapsed_days: int) -> dict[str, int]:
    """How many clients are at risk and how many lapsed (all of them, not only those listed)."""
    frame = _query(
        f"""
        {_WIN_BACK_DAYS}
        select
            coalesce(sum(clients) filter (where days_since_last_visit < ?), 0) as at_risk,
            coalesce(sum(clients) filter (where days_since_last_visit >= ?), 0) as lapsed
        from win_back
        """,
        _scope(locations),
        at_risk_days,
        lapsed_days,
        lapsed_days,
    )
    return {"at risk": int(frame["at_risk"].iloc[0]), "lapsed": int(frame["lapsed"].iloc[0])}


# Clients with no future booking whose last visit is at least at_risk_days before the as-of
# date, counted per first-visit location and last-visit day (rpt_win_back). Parameters: the
# locations, at_risk_days.
_WIN_BACK_DAYS = """
        with win_back as (
            select
                w.location_id,
                w.last_visit_date,
                w.clients,
                datediff('day', w.last_visit_date, a.as_of_date) as days_since_last_visit
            from rpt_win_back as w
            cross join rpt_as_of as a
            where list_contains(?, w.location_id)
                and datediff('day', w.last_visit_date, a.as_of_date) >= ?
        )"""


# ---------------------------------------------------------------- data


# Load history and rejected rows belong to files, not locations (a file can hold several), so
# only viewers who see every location see them; others get the same columns and no rows.


def load_runs() -> pd.DataFrame:
    """Every file load, newest first (load_runs); owners only."""
    return _query(
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
        _everything_allowed(),
    )


def rejected_rows(limit: int = 5000) -> pd.DataFrame:
    """Rows the loads refused, with file, line and reason (newest load first); owners only."""
    return _query(
        """
        select file_name, line_number, reason, raw_row
        from rejected_rows
        where ?
        order by load_id desc, file_name, line_number
        limit ?
        """,
        _everything_allowed(),
        limit,
    )


def rejected_reasons() -> pd.DataFrame:
    """How many rows were rejected for each reason; owners only."""
    return _query(
        """
        select reason, count(*) as rows_rejected
        from rejected_rows
        where ?
        group by reason
        order by rows_rejected desc, reason
        """,
        _everything_allowed(),
    )


# ---------------------------------------------------------------- partial states (issue 14)

# What a page's figures need and the selection lacks: rooms, shifts, prices, when bookings
# were made, rooms the export named, bar training. The pages turn these counts into one line
# each (dashboard.gaps), instead of a 0%, a $0 or an empty chart.


def _has_column(table: str, column: str) -> bool:
    """Whether the published warehouse has `table.column` (columns other engineers add land
    one load at a time: a warehouse built before them has none)."""
    frame = _query(
        """
        select count(*) as found
        from information_schema.columns
        where table_name = ? and column_name = ?
        """,
        table,
        column,
    )
    return bool(frame.iloc[0, 0])


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
        if _has_column("fct_bookings", "room_source")
        else "0"
    )
    scope = _scope(locations)
    return _query(
        f"""
        with chosen as (
            select location_id, coalesce(nullif(name, ''), location_id) as location_name
            from dim_locations
            where list_contains(?, location_id)
        ),
        room_calendar as (
            select
                location_id,
                count(*) filter (where "date" between ? and ?) as room_days,
                count(*) filter (where "date" between ? and ? and has_bars) as bar_room_days,
                count(*) as room_days_ever,
                min("date") as room_calendar_from,
                max("date") as room_calendar_to
            from fct_room_days
            where list_contains(?, location_id)
            group by location_id
        ),
        shifts as (
            select
                location_id,
                count(*) filter (where "date" between ? and ? and scheduled_minutes > 0)
                    as shift_days,
                count(*) filter (where scheduled_minutes > 0) as shift_days_ever
            from fct_therapist_days
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
            coalesce(s.shift_days, 0) as shift_days,
            coalesce(s.shift_days_ever, 0) as shift_days_ever,
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
        left join room_calendar as r using (location_id)
        left join shifts as s using (location_id)
        left join bookings as b using (location_id)
        left join training as t using (location_id)
        order by c.location_name, c.location_id
        """,
        scope,
        start,
        end,
        start,
        end,
        scope,
        start,
        end,
        scope,
        scope,
        start,
        end,
        scope,
        start,
        end,
    )


def history_start(locations: Locations) -> pd.DataFrame:
    """Per location whose new clients are counted from later than its data starts: the first
    booking day and new_clients_from (dim_locations; no rows before those columns exist)."""
    if not (
        _has_column("dim_locations", "new_clients_from")
        and _has_column("dim_locations", "first_booking_date")
    ):
        return pd.DataFrame(columns=["location_name", "first_booking_date", "new_clients_from"])
    return _query(
        """
        select
            coalesce(nullif(name, ''), location_id) as location_name,
            first_booking_date,
            new_clients_from
        from dim_locations
        where list_contains(?, location_id) and new_clients_from > first_booking_date
        order by location_name
        """,
        _scope(locations),
    )


# ---------------------------------------------------------------- studio profile (Setup page)


def warehouse_path() -> Path:
    """The warehouse the dashboard shows (the Setup page keeps the profile file beside it)."""
    return Path(snapshot().path)


def stored_profile() -> Profile | None:
    """The studio profile loaded last (table studio_profile, the latest row wins), or None.

    Owners only (the Setup page): a profile describes every location. A warehouse built before
    profiles existed has no such table, which is the same as no profile.
    """
    exists = _query(
        "select count(*) from duckdb_tables() where table_name = 'studio_profile' "
        "and not temporary and ?",
        _everything_allowed(),
    )
    if not exists.iloc[0, 0]:
        return None
    frame = _query(
        """
        select profile_toml, file_name
        from studio_profile
        order by loaded_at desc, rowid desc
        limit 1
        """
    )
    if frame.empty:
        return None
    return parse_profile(frame.iloc[0, 0], frame.iloc[0, 1])


def profile_suggestion() -> str:
    """A profile proposed from the loaded data, as TOML with comments saying what was guessed
    (pipelines.profile.suggest, like `studio-ops profile suggest`); owners only. ProfileError
    when nothing is loaded yet."""
    from pipelines.profile import suggest
    from pipelines.warehouse import open_snapshot

    if not _everything_allowed():
        raise WarehouseError("a suggested profile describes every location: owners only")
    con = open_snapshot(warehouse_path())  # read-only, closed at once: one click, no cache
    try:
        return suggest(con)
    finally:
        con.close()
