"""At-risk and lapsed client lists: counts cover every client, the list stays page-sized."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit as st

from dashboard import data


@pytest.fixture
def demo_data(demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    """The data layer pointed at the demo warehouse, with no access file and empty caches."""
    monkeypatch.setenv("STUDIO_OPS_DB", str(demo_warehouse))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield demo_warehouse
    st.cache_data.clear()


def test_counts_cover_every_client_and_the_list_is_capped(demo_data: Path) -> None:
    locations = tuple(data.locations()["location_id"])
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

    counts = data.client_list_counts(locations, at_risk_days, lapsed_days)
    assert counts == {"at risk": at_risk, "lapsed": lapsed}

    listed = data.client_lists(locations, at_risk_days, lapsed_days, limit=50)
    assert len(listed) == 50
    # Most recently seen first: the 50 smallest gaps, all at least at_risk_days.
    gaps = list(listed["days_since_last_visit"])
    assert gaps == sorted(gaps) and gaps[0] >= at_risk_days
    # One location's lists hold only its clients.
    first = locations[:1]
    one = data.client_lists(first, at_risk_days, lapsed_days)
    names = set(data.locations().set_index("location_id").loc[list(first), "location_name"])
    assert set(one["first_location"]) <= names


def test_retention_by_first_therapist_and_service_counts_returns_from_the_bookings(
    demo_data: Path,
) -> None:
    locations = tuple(data.locations()["location_id"])
    with duckdb.connect(str(demo_data), read_only=True) as con:
        first, last = con.execute(
            "select min(first_visit_date), max(first_visit_date) from dim_clients"
        ).fetchone()
        # Expected straight from fct_bookings: first-time clients whose 90 days have closed
        # (eligible), and those with another completed visit on a later date within 90 days.
        eligible, returned = con.execute(
            """
            with firsts as (
                select client_id, booking_date as first_date
                from fct_bookings where is_first_visit
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
        table = data.retention_by_first(locations, first, last, by, 90)
        assert table["eligible"].sum() == eligible, by
        assert table["returned"].sum() == returned, by


def test_cohort_activity_counts_clients_back_in_each_later_month(demo_data: Path) -> None:
    locations = tuple(data.locations()["location_id"])
    with duckdb.connect(str(demo_data), read_only=True) as con:
        as_of = con.execute("select as_of_date from rpt_as_of").fetchone()[0]
        cohort = (
            con.execute(
                "select date_trunc('month', min(first_visit_date))::date + interval 2 month "
                "from dim_clients"
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
            where date_trunc('month', c.first_visit_date) = ?
                and b.status = 'completed'
                and date_trunc('month', b.booking_date) = ?::date + interval 1 month
            """,
            [cohort, cohort],
        ).fetchone()[0]
    activity = data.cohort_activity(locations, cohort, as_of)
    months = pd.to_datetime(activity["cohort_month"]).dt.date
    row = activity[(months == cohort) & (activity["months_after"] == 1)]
    assert expected > 0
    assert int(row["active_clients"].iloc[0]) == expected
