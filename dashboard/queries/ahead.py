"""The next days' overload warnings, from booked appointments (the "Next 7 days" page, the digest).

A future booked appointment is a worked booking (status booked), so the marts already count it:
fct_therapist_days holds a row for every therapist-day with a shift or a booking, past or
future, and its bar sessions, hands-on minutes and back-to-back pairs are the ones the
Therapists page's flags read. The warnings are read from there, so each limit has one
definition; the weekly one adds up the week's days (Monday to Sunday) as fct_therapist_weeks
does, hours already worked earlier in that week included.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries import snapshot, therapists
from dashboard.queries.snapshot import Locations, query, scope

COLUMNS = ["date", "location_name", "therapist", "warning", "kind"]
# the worst first: what the grid colours a therapist-day by when it has several warnings
KINDS = ("weekly", "hands_on", "bar_sessions", "back_to_back")


def warnings(locations: Locations, after: dt.date, days: int = 7) -> pd.DataFrame:
    """overload_ahead's warnings with the ids and figures behind them (for the page's grid,
    its sessions and its hints): location_id, therapist_id, date, kind, value."""
    settings = snapshot.settings_in_force()
    first, last = window(after, days)
    frame = query(
        """
        with days as (
            select
                d.location_id,
                d.therapist_id,
                d."date",
                d.bar_sessions,
                d.hands_on_minutes,
                d.back_to_back_pairs,
                d.over_bar_limit,
                d.over_hands_on_limit,
                -- the week so far (Monday to this day): earlier days' hours count
                sum(d.hands_on_minutes) over (
                    partition by d.location_id, d.therapist_id, date_trunc('week', d."date")
                    order by d."date"
                ) as week_minutes_so_far
            from fct_therapist_days as d
            where list_contains(?, d.location_id)
                and d."date" between date_trunc('week', ?::date) and ?
        ),
        window_days as (select * from days where "date" between ? and ?),
        -- the first day of the window on which the week is over the limit and work is booked
        weekly as (
            select
                w.location_id,
                w.therapist_id,
                min(w."date") as "date"
            from window_days as w
            cross join settings as s
            where w.week_minutes_so_far > s.weekly_hands_on_hours_limit * 60
                and w.hands_on_minutes > 0
            group by w.location_id, w.therapist_id, date_trunc('week', w."date")
        ),
        flagged as (
            select location_id, therapist_id, "date", 'bar_sessions' as kind,
                bar_sessions as value
            from window_days where over_bar_limit
            union all
            select location_id, therapist_id, "date", 'hands_on', hands_on_minutes
            from window_days where over_hands_on_limit
            union all
            select location_id, therapist_id, "date", 'back_to_back', back_to_back_pairs
            from window_days where back_to_back_pairs > 0
            union all
            -- the whole week's hands-on minutes, as fct_therapist_weeks counts them
            select w.location_id, w.therapist_id, w."date", 'weekly', wk.hands_on_minutes
            from weekly as w
            join fct_therapist_weeks as wk
                on wk.location_id = w.location_id
                and wk.therapist_id = w.therapist_id
                and wk.week_start = date_trunc('week', w."date")
        )
        select
            f."date",
            f.location_id,
            l.display_name as location_name,
            f.therapist_id,
            coalesce(t.therapist_name, f.therapist_id) as therapist,
            f.kind,
            f.value
        from flagged as f
        left join dim_therapists as t
            on t.location_id = f.location_id and t.therapist_id = f.therapist_id
        left join dim_locations as l on l.location_id = f.location_id
        order by f."date", location_name, therapist, f.kind
        """,
        scope(locations),
        first,
        last,
        first,
        last,
    )
    frame = frame.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame["warning"] = [
        therapists.limit_words(kind, float(value), settings)
        for kind, value in zip(frame["kind"], frame["value"], strict=True)
    ]
    return frame


def overload_ahead(locations: Locations, after: dt.date, days: int = 7) -> pd.DataFrame:
    """One row per warning for the `days` days after `after`, from booked appointments.

    Columns: date (for a weekly warning, the first of those days on which the Monday-Sunday
    week is over the limit with work booked), location_name, therapist, warning (plain words:
    "6 bar sessions (limit 5)", "7.5 h hands-on (limit 6 h)", "26.5 h this week (limit 25 h)",
    "3 back-to-back pairs (turnover 15 min)") and kind ('bar_sessions' | 'hands_on' |
    'weekly' | 'back_to_back'). Ordered by day, location, therapist."""
    return warnings(locations, after, days)[COLUMNS].reset_index(drop=True)


def window(after: dt.date, days: int = 7) -> tuple[dt.date, dt.date]:
    """The first and last day of the `days` days after `after`."""
    return after + dt.timedelta(days=1), after + dt.timedelta(days=days)


def sessions_ahead(locations: Locations, after: dt.date, days: int = 7) -> pd.DataFrame:
    """The booked sessions of each therapist-day with a warning in the days after `after`: date,
    location_name, therapist, time, service, room, bars ('yes'/'no'), warnings (that day's, in
    words). A weekly warning lists the sessions of the day the week goes over."""
    found = warnings(locations, after, days)
    first, last = window(after, days)
    sessions = query(
        """
        select
            b.booking_date as "date",
            b.location_id,
            b.therapist_id,
            strftime(b.start_at, '%H:%M') || '–' || strftime(b.end_at, '%H:%M') as "time",
            b.service,
            coalesce(r.room_name, b.room_id) as room,
            case when b.uses_bars then 'yes' else 'no' end as bars,
            b.start_at
        from fct_bookings as b
        left join fct_room_days as r
            on r.location_id = b.location_id and r.room_id = b.room_id
            and r."date" = b.booking_date
        where b.is_worked and list_contains(?, b.location_id)
            and b.booking_date between ? and ?
        """,
        scope(locations),
        first,
        last,
    )
    columns = ["date", "location_name", "therapist", "time", "service", "room", "bars"]
    if found.empty or sessions.empty:
        return pd.DataFrame(columns=[*columns, "warnings"])
    sessions = sessions.copy()
    sessions["date"] = pd.to_datetime(sessions["date"]).dt.date
    keys = ["location_id", "therapist_id", "date"]
    per_day = (
        found.groupby(keys + ["location_name", "therapist"], as_index=False)["warning"]
        .agg("; ".join)
        .rename(columns={"warning": "warnings"})
    )
    joined = per_day.merge(sessions, on=keys).sort_values(
        ["date", "location_name", "therapist", "start_at"]
    )
    return joined[[*columns, "warnings"]].reset_index(drop=True)


def hints_ahead(locations: Locations, after: dt.date, days: int = 7) -> pd.DataFrame:
    """The Therapists page's rebalancing hints for the days after `after`: the sessions still to
    come to move off a day over a limit, or off a week that goes over in those days, and who could
    take each (the same rules). Back-to-back pairs have no session to move: they are not here."""
    first, last = window(after, days)
    hints = therapists.rebalancing_hints(locations, first, last, movable_from=first)
    found = warnings(locations, after, days)
    if hints.empty:
        return hints[therapists.HINT_COLUMNS]
    # a week over the limit only after these days has no warning yet: its hints wait
    weekly = found[found["kind"] == "weekly"]
    warned_weeks = {
        (loc, who, day - dt.timedelta(days=day.weekday()))
        for loc, who, day in zip(
            weekly["location_id"], weekly["therapist_id"], weekly["date"], strict=True
        )
    }
    keep = [
        kinds != "weekly" or (loc, who, day - dt.timedelta(days=day.weekday())) in warned_weeks
        for kinds, loc, who, day in zip(
            hints["kinds"], hints["location_id"], hints["therapist_id"], hints["date"], strict=True
        )
    ]
    return (
        hints[keep][therapists.HINT_COLUMNS]
        .sort_values(["date", "therapist"])
        .reset_index(drop=True)
    )
