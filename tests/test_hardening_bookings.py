"""Bounded work for hostile rows: a booking that spans years is a rejected row, not hours of
mart building (the interval marts cut each booking into the minutes of every day it spans)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.hostile import PEAK_MB, SECONDS, fingerprint, run_cli
from tests.test_load import BOOKING_HEADER, booking, write_csv


def long_bookings(path: Path, count: int, years: int) -> Path:
    """`count` bookings, each from 2024-03-04 10:00 to the same moment `years` later."""
    rows = [
        booking(
            booking_id=f"L{n}",
            client_id=f"C{n}",
            start_at="2024-03-04 10:00",
            end_at=f"{2024 + years}-03-04 10:00",
        )
        for n in range(count)
    ]
    return write_csv(path, BOOKING_HEADER, rows)


def test_a_file_of_thirty_year_bookings_is_refused_in_bounded_time(tmp_path: Path) -> None:
    db = tmp_path / "studio.duckdb"
    seed = write_csv(tmp_path / "seed.csv", BOOKING_HEADER, [booking()])
    assert run_cli("load", str(seed), "--db", str(db)).returncode == 0
    before = fingerprint(db)
    # 2,000 bookings of 30 years each: before the limit the mart build ran past 100 s (each
    # booking is cut into ~11,000 days); now every row is rejected, so the file loads nothing.
    run = run_cli("load", str(long_bookings(tmp_path / "long.csv", 2000, 30)), "--db", str(db))
    assert run.returncode == 1
    assert run.lines[0].endswith(
        "every row was rejected (first: line 2: the booking lasts longer than 24 hours, the "
        "limit (the max_booking_hours setting raises it))"
    ), run.lines
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(db) == before


def test_a_long_booking_is_a_rejected_row_and_the_rest_loads(tmp_path: Path) -> None:
    db = tmp_path / "studio.duckdb"
    rows = [
        booking(booking_id="OK", end_at="2024-03-05 09:59"),  # 23 h 59 min: within 24 h
        booking(booking_id="DAY", end_at="2024-03-05 10:00"),  # exactly 24 h: within the limit
        booking(booking_id="LONG", end_at="2024-03-05 10:01"),  # 24 h 1 min: over it
    ]
    run = run_cli("load", str(write_csv(tmp_path / "b.csv", BOOKING_HEADER, rows)), "--db", str(db))
    assert run.returncode == 0, run.lines
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = con.execute("select booking_id from raw_bookings order by 1").fetchall()
        rejected = con.execute("select line_number, reason from rejected_rows").fetchall()
    assert loaded == [("DAY",), ("OK",)]
    assert rejected == [
        (
            4,
            "the booking lasts longer than 24 hours, the limit "
            "(the max_booking_hours setting raises it)",
        )
    ]
