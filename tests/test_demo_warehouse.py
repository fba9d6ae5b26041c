"""Data tests on the real demo warehouse: keys, relationships, and marts that say something.

The demo is what a new user sees first (`make run`), so every mart must be non-trivial there:
bar rooms that fill up at peak hours, therapists over the bar limit on some days, cohorts with
returns, and each kind of data-quality finding the generator plants.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

# (child table, columns, parent table): every child key must exist in the parent.
RELATIONSHIPS = [
    ("fct_bookings", ("location_id",), "dim_locations"),
    ("fct_bookings", ("location_id", "room_id"), "dim_rooms"),
    ("fct_bookings", ("location_id", "therapist_id"), "dim_therapists"),
    ("fct_room_days", ("location_id", "room_id"), "dim_rooms"),
    ("fct_therapist_days", ("location_id", "therapist_id"), "dim_therapists"),
    ("fct_location_days", ("location_id",), "dim_locations"),
    ("dim_clients", ("client_id",), "fct_bookings"),
    ("rpt_retention", ("location_id",), "dim_locations"),
]

UNIQUE_KEYS = [
    ("fct_bookings", ("source", "booking_id")),
    ("fct_room_days", ("location_id", "room_id", "date")),
    ("fct_therapist_days", ("location_id", "therapist_id", "date")),
    ("fct_location_days", ("location_id", "date")),
    ("fct_hourly_capacity", ("location_id", "date", "hour")),
    ("dim_clients", ("client_id",)),
    ("rpt_retention", ("cohort_month", "location_id")),
]


@pytest.fixture(scope="module")
def demo(demo_warehouse: Path):
    """A read-only connection to the session's demo warehouse."""
    con = duckdb.connect(str(demo_warehouse), read_only=True)
    yield con
    con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


@pytest.mark.parametrize(("child", "columns", "parent"), RELATIONSHIPS)
def test_relationships(demo, child: str, columns: tuple[str, ...], parent: str) -> None:
    keys = ", ".join(columns)
    # NULL room ids are bookings without a room: they count for therapists, not rooms.
    not_null = " and ".join(f"{c} is not null" for c in columns)
    orphans = scalar(
        demo,
        f"select count(*) from (select distinct {keys} from {child} where {not_null}) "
        f"anti join (select distinct {keys} from {parent}) using ({keys})",
    )
    assert orphans == 0


@pytest.mark.parametrize(("table", "key"), UNIQUE_KEYS)
def test_unique_keys(demo, table: str, key: tuple[str, ...]) -> None:
    columns = ", ".join(key)
    duplicates = scalar(
        demo,
        f"select count(*) from (select {columns} from {table} group by all having count(*) > 1)",
    )
    assert duplicates == 0


def test_statuses_are_canonical(demo) -> None:
    statuses = {
        row[0] for row in demo.execute("select distinct status from fct_bookings").fetchall()
    }
    assert statuses <= {"completed", "booked", "no_show", "cancelled", "late_cancelled"}
    assert {"completed", "booked", "no_show", "cancelled"} <= statuses


def test_bookings_on_location_days_equal_fct_bookings(demo) -> None:
    # fct_location_days counts every booking on its booking_date: the totals must agree.
    assert scalar(demo, "select sum(bookings) from fct_location_days") == scalar(
        demo, "select count(*) from fct_bookings"
    )


def test_every_mart_says_something_on_the_demo(demo) -> None:
    # Bar rooms fill up at peak hours: some minutes with every open bar room occupied.
    assert scalar(demo, "select sum(bar_rooms_full_minutes) from fct_hourly_capacity") > 0
    # Some therapist-days break the daily bar limit (the generator's busy bar specialist).
    assert scalar(demo, "select count(*) from fct_therapist_days where over_bar_limit") > 0
    # Cohorts with returns, and a return rate in the generator's realistic band.
    returned, eligible = demo.execute(
        "select sum(returned_90), sum(eligible_90) from rpt_retention"
    ).fetchone()
    assert eligible > 0 and 0.25 <= returned / eligible <= 0.6
    # Rebooking at checkout happens.
    assert scalar(demo, "select sum(rebooked_visits) from fct_location_days") > 0
    # Every problem the generator plants shows up as a finding.
    kinds = {row[0] for row in demo.execute("select distinct kind from dq_issues").fetchall()}
    assert {
        "room_double_booked",
        "booking_outside_shift",
        "bar_service_in_non_bar_room",
        "bar_session_by_untrained_therapist",
    } <= kinds
    # Future bookings exist for the pacing view (next 14 days after the as-of date).
    assert (
        scalar(
            demo,
            "select count(*) from fct_bookings, rpt_as_of "
            "where booking_date > as_of_date and status = 'booked'",
        )
        > 0
    )
