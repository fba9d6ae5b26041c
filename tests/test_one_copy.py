"""fct_bookings: the stored, date-ordered copy of the bookings the marts and pages read.

Issue 18 asked whether fct_bookings could be a view over raw_bookings plus a narrow table of
the client-derived columns (one 10M-row copy instead of two). Measured, the view made every
page query that reads bookings 10-20x slower at 10M (the Day page's appointments 14 -> 850
ms, each Capacity query about 100 ms -> 9 s) and the 1M load no faster, so fct_bookings stays a
table (README, Performance). These tests hold what that table gives: each stored booking once,
in step with raw_bookings after a refresh, stored in booking-date order whatever order the
export came in (DuckDB then skips the row groups a date filter misses).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.demo.generate import write_chain
from pipelines.ingest.load import load_files
from pipelines.warehouse.store import connect

START = date(2024, 1, 1)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-location chain whose bookings file runs from the latest day back to the first."""
    root = tmp_path_factory.mktemp("one_copy")
    write_chain(root / "all", locations=2, days=40, seed=5, start=START)
    folder = root / "exports"
    folder.mkdir()
    with duckdb.connect() as con:
        for kind in ("rooms", "therapist_shifts"):
            con.execute(
                f"copy (select * from read_csv(?, all_varchar = true)) "
                f"to '{folder / (kind + '.csv')}' (header, delimiter ',')",
                [str(root / "all" / f"{kind}.csv")],
            )
        con.execute(
            f"""
            copy (
                select * from read_csv(?, all_varchar = true) order by start_at desc, booking_id
            ) to '{folder / "bookings.csv"}' (header, delimiter ',')
            """,
            [str(root / "all" / "bookings.csv")],
        )
    return folder


def test_bookings_are_a_table_in_booking_date_order(exports: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [exports])
    with connect(db, read_only=True) as con:
        kind = con.execute(
            "select 'table' from duckdb_tables() where table_name = 'fct_bookings' "
            "union all select 'view' from duckdb_views() where view_name = 'fct_bookings'"
        ).fetchall()
        assert kind == [("table",)]
        # the export is in reverse date order, so is raw_bookings; fct_bookings is not
        raw_days = con.execute(
            "select cast(start_at as date) from raw_bookings order by rowid"
        ).fetchall()
        assert raw_days[0] > raw_days[-1]
        days = con.execute("select booking_date from fct_bookings order by rowid").fetchall()
        assert len(days) == len(raw_days) > 1000
        assert days == sorted(days)


def test_a_reloaded_booking_is_kept_once_with_its_new_status(exports: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [exports])
    with connect(db, read_only=True) as con:
        booking_id, status = con.execute(
            "select booking_id, status from fct_bookings where status = 'booked' "
            "order by booking_date desc, booking_id limit 1"
        ).fetchone()
    day = tmp_path / "day"
    day.mkdir()
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select * replace ('No Show' as status)
                from read_csv(?, all_varchar = true) where booking_id = ?
            ) to '{day / "bookings.csv"}' (header, delimiter ',')
            """,
            [str(exports / "bookings.csv"), booking_id],
        )
    load_files(db, [day])
    with connect(db, read_only=True) as con:
        assert con.execute("select mode from mart_build_state").fetchone() == ("incremental",)
        assert con.execute(
            "select status, is_held from fct_bookings where booking_id = ?", [booking_id]
        ).fetchall() == [("no_show", True)]
        stored, booked = con.execute(
            "select (select count(*) from fct_bookings), (select count(*) from raw_bookings)"
        ).fetchone()
        assert stored == booked
        assert not con.execute(
            """
            select source, booking_id, location_id, therapist_id, client_id, status, price
            from raw_bookings
            except all
            select source, booking_id, location_id, therapist_id, client_id, status, price
            from fct_bookings
            """
        ).fetchall()
