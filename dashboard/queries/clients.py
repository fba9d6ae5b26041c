"""The Clients & retention page's queries: cohorts, rebooking, return by first, client lists."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from dashboard.queries import periods
from dashboard.queries.snapshot import GRAINS, Locations, has_column, query, scope


def retention_windows() -> tuple[int, ...]:
    """The return windows (days) rpt_retention carries, from its eligible_N columns."""
    frame = query(
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
    return query(
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
        scope(locations),
        start,
        end,
    )


def cohort_activity(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Share of each first-visit month's clients with a completed visit N months later.

    Read from rpt_cohort_activity (counts per cohort month, first-visit location and month
    after), never from the bookings. Cohorts are whole months, from the month of `start` to
    the month of `end`, as in retention_cohorts (rpt_retention).
    """
    return query(
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
        scope(locations),
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
    # A period the dates or the data cover in part is marked (periods.mark_coverage).
    frame = query(
        f"""
        with {periods.BOUNDS_CTE}
        select
            date_trunc(?, "date")::date as period,
            sum(rebooking_known_visits)::bigint as visits,
            sum(rebooked_visits)::bigint as rebooked_visits,
            sum(rebooked_visits) / nullif(sum(rebooking_known_visits), 0) as rebooking_rate,
            {periods.DATA_BOUNDS}
        from fct_location_days
        join bounds as b using (location_id)
        where list_contains(?, location_id) and "date" between ? and ?
        group by period
        having sum(rebooking_known_visits) > 0
        order by period
        """,
        scope(locations),
        grain,
        scope(locations),
        start,
        end,
    )
    return periods.mark_coverage(frame, grain, start, end)


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
    if not has_column("dim_clients", "is_new_client"):
        sql = sql.replace("and c.is_new_client", "")
    frame = query(sql, window_days, scope(locations), start, end)
    return frame[frame["breakdown"] == by].drop(columns="breakdown").reset_index(drop=True)


# A return is the client's next completed visit on a later date (dim_clients
# .second_visit_date), the same definition rpt_retention uses. The new clients are read once and
# counted twice: per first-visit location and therapist (therapist names are joined to those
# counts), and per first service. Grouping once by location, therapist and service, then again
# for each breakdown, hashed the long service names of every client (10M, all locations, a
# year: 0.7-1.0M clients, CPU about 95 -> 60 ms). Parameters: the window in days, the
# locations, the first-visit dates. New clients only: clients known at a location's history
# start are in no cohort, as in rpt_retention.
_RETENTION_BY_FIRST_SQL = """
    with new_clients as materialized (
        select
            c.first_location_id,
            c.first_therapist_id,
            c.first_service,
            c.first_visit_date + w.days <= a.as_of_date as is_eligible,
            c.first_visit_date + w.days <= a.as_of_date
                and c.second_visit_date <= c.first_visit_date + w.days as has_returned
        from dim_clients as c
        cross join rpt_as_of as a
        cross join (select ?::integer as days) as w
        where list_contains(?, c.first_location_id)
            and c.first_visit_date between ? and ?
            and c.is_new_client
    ),
    firsts as (
        select
            'therapist' as breakdown,
            coalesce(t.therapist_name, c.first_therapist_id) as first_by,
            c.new_clients,
            c.eligible,
            c.returned
        from (
            select
                first_location_id,
                first_therapist_id,
                count(*) as new_clients,
                count(*) filter (where is_eligible) as eligible,
                count(*) filter (where has_returned) as returned
            from new_clients
            group by first_location_id, first_therapist_id
        ) as c
        left join dim_therapists as t
            on t.location_id = c.first_location_id
            and t.therapist_id = c.first_therapist_id
        union all
        select
            'service',
            first_service,
            count(*),
            count(*) filter (where is_eligible),
            count(*) filter (where has_returned)
        from new_clients
        group by first_service
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

    `client_ref` is the booking system's own id of the client (NULL: no export gives one) and
    `booking_system` the system it belongs to, else the one of the client's latest booking.
    """
    # a warehouse whose marts were built before client references: the columns are empty
    refs = (
        "c.client_ref, coalesce(c.client_ref_system, c.booking_system) as booking_system"
        if has_column("dim_clients", "booking_system")
        else "cast(null as varchar) as client_ref, cast(null as varchar) as booking_system"
    )
    return query(
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
            {refs},
            case when c.days_since_last_visit >= ? then 'lapsed' else 'at risk' end
                as client_status,
            l.display_name as first_location,
            c.first_visit_date,
            c.last_visit_date,
            c.days_since_last_visit,
            c.completed_visits
        from clients as c
        left join dim_locations as l on l.location_id = c.first_location_id
        order by c.days_since_last_visit, c.client_id
        limit ?
        """,
        scope(locations),
        at_risk_days,
        limit,
        scope(locations),
        lapsed_days,
        limit,
    )


def client_list_counts(locations: Locations, at_risk_days: int, lapsed_days: int) -> dict[str, int]:
    """How many clients are at risk and how many lapsed (all of them, not only those listed)."""
    frame = query(
        f"""
        {_WIN_BACK_DAYS}
        select
            coalesce(sum(clients) filter (where days_since_last_visit < ?), 0) as at_risk,
            coalesce(sum(clients) filter (where days_since_last_visit >= ?), 0) as lapsed
        from win_back
        """,
        scope(locations),
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
