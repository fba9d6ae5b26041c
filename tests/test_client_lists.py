"""At-risk and lapsed client lists: counts cover every client, the list stays page-sized."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit as st

from dashboard import auth
from dashboard.queries import capacity, snapshot
from dashboard.queries import clients as clients_queries
from pipelines import access


@pytest.fixture
def demo_data(demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    """The data layer pointed at the demo warehouse, with no access file and empty caches."""
    monkeypatch.setenv("STUDIO_OPS_DB", str(demo_warehouse))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield demo_warehouse
    st.cache_data.clear()


def test_counts_cover_every_client_and_the_list_is_capped(demo_data: Path) -> None:
    locations = tuple(snapshot.locations()["location_id"])
    at_risk_days, lapsed_days = 45, 90
    # Expected, straight from the marts: clients with no future booking whose last visit is
    # 45-89 days before the as-of date (at risk) or 90+ days (lapsed).
    with duckdb.connect(str(demo_data), read_only=True) as con:
        at_risk, lapsed = con.execute(
            """
            select count(*) filter (where gap between 45 and 89), count(*) filter (where gap >= 90)
            from (
                select datediff('day', last_visit_date, as_of_date) as gap
                from dim_clients, rpt_as_of
                where next_booking_at is null
            )
            """
        ).fetchone()
    assert at_risk > 0 and lapsed > 0

    counts = clients_queries.client_list_counts(locations, at_risk_days, lapsed_days)
    assert counts == {"at risk": at_risk, "lapsed": lapsed}

    listed = clients_queries.client_lists(locations, at_risk_days, lapsed_days, limit=50)
    assert len(listed) == 50
    # Most recently seen first: the 50 smallest gaps, all at least at_risk_days.
    gaps = list(listed["days_since_last_visit"])
    assert gaps == sorted(gaps) and gaps[0] >= at_risk_days
    # One location's lists hold only its clients.
    first = locations[:1]
    one = clients_queries.client_lists(first, at_risk_days, lapsed_days)
    names = set(snapshot.locations().set_index("location_id").loc[list(first), "location_name"])
    assert set(one["first_location"]) <= names


def test_the_list_reads_the_same_clients_as_a_scan_of_dim_clients(demo_data: Path) -> None:
    locations = tuple(snapshot.locations()["location_id"])
    # What client_lists computed before rpt_win_back, straight from dim_clients.
    scan = """
        select
            c.client_id,
            c.client_ref,
            coalesce(c.client_ref_system, c.booking_system) as booking_system,
            case when datediff('day', c.last_visit_date, a.as_of_date) >= ?
                then 'lapsed' else 'at risk' end as client_status,
            coalesce(nullif(l.name, ''), c.first_location_id) as first_location,
            c.first_visit_date,
            c.last_visit_date,
            datediff('day', c.last_visit_date, a.as_of_date) as days_since_last_visit,
            c.completed_visits
        from dim_clients as c
        cross join rpt_as_of as a
        left join dim_locations as l on l.location_id = c.first_location_id
        where list_contains(?, c.first_location_id)
            and c.next_booking_at is null
            and datediff('day', c.last_visit_date, a.as_of_date) >= ?
        order by days_since_last_visit, c.client_id
        limit ?
    """
    # Limits that cut through a day's clients (ties on the last visit), one location, and
    # thresholds other than the settings'.
    cases = [(locations, 45, 90, 1000), (locations, 45, 90, 7), (locations[1:], 30, 60, 50)]
    cases += [(locations[:1], 10, 400, 1000), (locations, 300, 400, 1000)]
    with duckdb.connect(str(demo_data), read_only=True) as con:
        for chosen, at_risk_days, lapsed_days, limit in cases:
            expected = con.execute(scan, [lapsed_days, list(chosen), at_risk_days, limit]).df()
            shown = clients_queries.client_lists(chosen, at_risk_days, lapsed_days, limit)
            assert len(shown), (chosen, at_risk_days, limit)
            pd.testing.assert_frame_equal(shown, expected, obj=f"{chosen} {at_risk_days}")


def test_retention_by_first_therapist_and_service_counts_returns_from_the_bookings(
    demo_data: Path,
) -> None:
    locations = tuple(snapshot.locations()["location_id"])
    with duckdb.connect(str(demo_data), read_only=True) as con:
        first, last = con.execute(
            "select min(first_visit_date), max(first_visit_date) from dim_clients"
        ).fetchone()
        # Expected straight from fct_bookings: new clients whose 90 days have closed
        # (eligible), and those with another completed visit on a later date within 90 days.
        # New clients only (is_new_client): the chain's clients first seen before a location's
        # history start (its first 90 days) belong to no cohort, as in rpt_retention.
        eligible, returned = con.execute(
            """
            with firsts as (
                select client_id, booking_date as first_date
                from fct_bookings where is_new_client
            )
            select
                count(*) filter (where f.first_date + 90 <= a.as_of_date),
                count(*) filter (where f.first_date + 90 <= a.as_of_date and exists (
                    select 1 from fct_bookings as b
                    where b.client_id = f.client_id and b.status = 'completed'
                        and b.booking_date > f.first_date and b.booking_date <= f.first_date + 90
                ))
            from firsts as f, rpt_as_of as a
            """
        ).fetchone()
    for by in ("therapist", "service"):
        table = clients_queries.retention_by_first(locations, first, last, by, 90)
        assert table["eligible"].sum() == eligible, by
        assert table["returned"].sum() == returned, by


def test_cohort_activity_counts_clients_back_in_each_later_month(demo_data: Path) -> None:
    locations = tuple(snapshot.locations()["location_id"])
    with duckdb.connect(str(demo_data), read_only=True) as con:
        as_of = con.execute("select as_of_date from rpt_as_of").fetchone()[0]
        # the third month of new clients (those known at history start are in no cohort)
        cohort = (
            con.execute(
                "select date_trunc('month', min(first_visit_date))::date + interval 2 month "
                "from dim_clients where is_new_client"
            )
            .fetchone()[0]
            .date()
        )
        # Expected: clients whose first visit fell in `cohort` month with a completed visit in
        # the following calendar month, counted from the bookings.
        expected = con.execute(
            """
            select count(distinct c.client_id)
            from dim_clients as c
            join fct_bookings as b using (client_id)
            where c.is_new_client and date_trunc('month', c.first_visit_date) = ?
                and b.status = 'completed'
                and date_trunc('month', b.booking_date) = ?::date + interval 1 month
            """,
            [cohort, cohort],
        ).fetchone()[0]
    activity = clients_queries.cohort_activity(locations, cohort, as_of)
    months = pd.to_datetime(activity["cohort_month"]).dt.date
    row = activity[(months == cohort) & (activity["months_after"] == 1)]
    assert expected > 0
    assert int(row["active_clients"].iloc[0]) == expected


# What cohort_activity computed before rpt_cohort_activity existed: the cohort's clients from
# dim_clients joined to every completed booking. Parameters: locations, start, end. Cohorts
# hold new clients only (clients known at a location's history start are in none).
COHORT_ACTIVITY_FROM_BOOKINGS = """
    with cohort as (
        select client_id, date_trunc('month', first_visit_date)::date as cohort_month
        from dim_clients
        where is_new_client and list_contains(?, first_location_id)
            and first_visit_date between date_trunc('month', ?::date) and ?
    ),
    sizes as (
        select cohort_month, count(*) as clients from cohort group by cohort_month
    ),
    visits as (
        select distinct
            c.cohort_month,
            c.client_id,
            datediff('month', c.cohort_month, date_trunc('month', b.booking_date))
                as months_after
        from cohort as c
        join fct_bookings as b on b.client_id = c.client_id and b.status = 'completed'
        where date_trunc('month', b.booking_date) > c.cohort_month
    )
    select
        v.cohort_month,
        v.months_after,
        count(*) as active_clients,
        count(*) / any_value(s.clients) as active_share
    from visits as v
    join sizes as s using (cohort_month)
    group by all
    order by v.cohort_month, v.months_after
"""


def _from_bookings(db: Path, locations: tuple[str, ...], start, end) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(COHORT_ACTIVITY_FROM_BOOKINGS, [list(locations), start, end]).df()


def _month_end(day):
    return (pd.Timestamp(day) + pd.offsets.MonthEnd(0)).date()


def test_cohort_activity_from_the_mart_equals_the_count_from_the_bookings(
    demo_data: Path,
) -> None:
    locations = tuple(snapshot.locations()["location_id"])
    as_of = snapshot.as_of_date()
    with duckdb.connect(str(demo_data), read_only=True) as con:
        first = con.execute("select min(first_visit_date) from dim_clients").fetchone()[0]
    # The page's default (the 12 cohort months up to the as-of date), every location and one;
    # chosen dates starting mid-month and ending on a month's last day; everything.
    last_12 = (as_of.replace(day=1) - pd.DateOffset(months=11)).date()
    mid = first + (as_of - first) / 3
    cases = [
        (locations, last_12, as_of),
        (locations[:1], last_12, as_of),
        (locations[1:], mid, _month_end(mid + (as_of - first) / 3)),
        (locations, first, as_of),
    ]
    for chosen, start, end in cases:
        expected = _from_bookings(demo_data, chosen, start, end)
        assert len(expected) > 10, (chosen, start, end)
        shown = clients_queries.cohort_activity(chosen, start, end)
        pd.testing.assert_frame_equal(shown, expected, obj=f"{chosen} {start} {end}")


def test_cohort_activity_keeps_to_the_managers_locations(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "access.toml"
    access.add_user(path, "maria", "manager", ["L01"], "manager-pass-123")
    monkeypatch.setenv(access.ACCESS_ENV, str(path))
    as_of = snapshot.as_of_date()
    start = (as_of.replace(day=1) - pd.DateOffset(months=11)).date()
    expected = _from_bookings(demo_data, ("L01",), start, as_of)
    st.session_state[auth.SESSION_VIEWER] = auth.Viewer(access.load_users(path)["maria"])
    try:
        asked = clients_queries.cohort_activity(("L01", "L02", "L03"), start, as_of)
        other = clients_queries.cohort_activity(("L02",), start, as_of)
    finally:
        del st.session_state[auth.SESSION_VIEWER]
    assert len(expected)
    pd.testing.assert_frame_equal(asked, expected)
    assert other.empty


def test_cohort_activity_takes_whole_cohort_months_like_the_retention_table(
    demo_data: Path,
) -> None:
    locations = tuple(snapshot.locations()["location_id"])
    as_of = snapshot.as_of_date()
    start = (as_of.replace(day=1) - pd.DateOffset(months=6)).date()
    end = (as_of.replace(day=1) - pd.DateOffset(months=2)).date() + dt.timedelta(days=9)
    # The 10th of a month before the as-of date: that month's cohort counts all its clients,
    # as the retention table above it does (rpt_retention holds whole months too).
    activity = clients_queries.cohort_activity(locations, start, end)
    sizes = (activity["active_clients"] / activity["active_share"]).round().astype(int)
    by_month = dict(zip(pd.to_datetime(activity["cohort_month"]).dt.date, sizes, strict=True))
    cohorts = clients_queries.retention_cohorts(locations, start, end)
    new_clients = dict(
        zip(pd.to_datetime(cohorts["cohort_month"]).dt.date, cohorts["new_clients"], strict=True)
    )
    assert by_month == new_clients
    assert max(by_month) == end.replace(day=1)
    whole = _from_bookings(demo_data, locations, start, _month_end(end))
    pd.testing.assert_frame_equal(activity, whole)


def test_rebooking_trend_from_location_days_equals_the_count_from_the_bookings(
    demo_data: Path,
) -> None:
    locations = tuple(snapshot.locations()["location_id"])
    as_of = snapshot.as_of_date()
    start = as_of - dt.timedelta(days=90)
    for grain in ("day", "week", "month"):
        with duckdb.connect(str(demo_data), read_only=True) as con:
            expected = con.execute(
                """
                select
                    date_trunc(?, booking_date)::date as period,
                    count(is_rebooked) as visits,
                    count(*) filter (where is_rebooked) as rebooked_visits,
                    count(*) filter (where is_rebooked) / count(is_rebooked) as rebooking_rate
                from fct_bookings
                where list_contains(?, location_id) and booking_date between ? and ?
                    and status = 'completed'
                group by period
                having count(is_rebooked) > 0
                order by period
                """,
                [grain, list(locations[:2]), start, as_of],
            ).df()
        shown = clients_queries.rebooking_trend(locations[:2], start, as_of, grain)
        assert len(expected) > 2
        # the trend also says how much of each period the dates cover (partial periods)
        pd.testing.assert_frame_equal(shown[list(expected.columns)], expected, obj=grain)


def test_trend_for_many_locations_together_is_the_ratio_of_their_sums(demo_data: Path) -> None:
    locations = tuple(snapshot.locations()["location_id"])
    first_day = snapshot.date_bounds()[0]
    start = first_day + dt.timedelta(days=7 + (7 - first_day.weekday()) % 7)  # a Monday
    end = start + dt.timedelta(days=13)  # two whole weeks
    each = capacity.utilization_trend(locations, start, end, "week")
    together = capacity.utilization_trend(locations, start, end, "week", "All 3 locations")
    assert len(each) == 2 * len(locations)
    assert list(together["location_name"]) == ["All 3 locations"] * 2
    # by hand from the mart: summed occupied minutes over summed available minutes per week
    with duckdb.connect(str(demo_data), read_only=True) as con:
        expected = con.execute(
            """
            select sum(occupied_minutes) / sum(available_minutes)
            from fct_location_days
            where "date" between ? and ?
            group by date_trunc('week', "date") order by date_trunc('week', "date")
            """,
            [start, end],
        ).fetchall()
    assert list(together["room_utilization"]) == pytest.approx([row[0] for row in expected])
    # not the average of the locations' ratios (which weighs a small studio like a big one)
    assert set(together["period"]) == set(each["period"])
