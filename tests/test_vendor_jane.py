"""Jane App's appointments report as clinics outside North America write it (issue 24): dates
in numbers (`13/03/2026`), whose day and month order is never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest.load import load_files
from tests.hostile import fingerprint
from tests.test_load import query, write

SALT = "test-salt-not-secret"
# invented people; a clinic in Australia: day first, 12-hour times
NUMERIC = """\
ID,Date,Start Time,End Time,Patient Name,Practitioner Name,Treatment Name,Status
J-1,02/03/2026,9:00 AM,10:30 AM,Hazel Quint,Bea Ortiz,Ashiatsu 90,Arrived
J-2,13/03/2026,1:00 PM,2:00 PM,Ivo Strand,Bea Ortiz,Ashiatsu 60,No Show
"""


@pytest.fixture(autouse=True)
def _salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_OPS_SALT", SALT)


def test_numeric_dates_are_refused_in_one_line_saying_what_to_add(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = write(tmp_path / "appointments.csv", NUMERIC)
    seed = write(
        tmp_path / "bookings.csv",
        "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status\n"
        "n1,L01,t1,c1,Swedish 60,2026-03-01 10:00,2026-03-01 11:00,completed\n",
    )
    assert load_files(db, [seed])[0].outcome == "loaded"
    before = fingerprint(db)
    [result] = load_files(db, [path], location="L01")
    assert result.outcome == "failed"
    # 02/03/2026 could be either order: the studio says which (was: every row rejected as
    # "not a date-time (expected YYYY-MM-DD HH:MM)", which Jane cannot be made to write)
    assert result.message == (
        "line 2: the date '02/03/2026' is written in numbers, and which of them is the day is "
        'never guessed: add [formats] datetime = "%d/%m/%Y %I:%M %p" (day first) or '
        '"%m/%d/%Y %I:%M %p" (month first) to the mapping'
    )
    assert fingerprint(db) == before


def test_numeric_dates_in_a_column_renamed_by_the_mapping_are_refused_too(
    tmp_path: Path,
) -> None:
    # The clinic's report calls its date column 'Visit Day', which the mapping's [headers]
    # names (Jane's 'Date'). The refusal reads the columns as the mapping names them: before,
    # it looked for 'Date' by Jane's own names only, found none, and every row was rejected
    # as "not a date-time" instead.
    path = write(tmp_path / "appointments.csv", NUMERIC.replace(",Date,", ",Visit Day,", 1))
    mapping = write(tmp_path / "jane.toml", '[headers]\n"Visit Day" = "Date"\n')
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], location="L01", mapping=mapping)
    assert result.outcome == "failed", result.summary()
    assert result.message == (
        "line 2: the date '02/03/2026' is written in numbers, and which of them is the day is "
        'never guessed: add [formats] datetime = "%d/%m/%Y %I:%M %p" (day first) or '
        '"%m/%d/%Y %I:%M %p" (month first) to the mapping'
    )


def test_numeric_dates_load_with_the_format_the_mapping_gives(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = write(tmp_path / "appointments.csv", NUMERIC)
    mapping = write(tmp_path / "jane.toml", '[formats]\ndatetime = "%d/%m/%Y %I:%M %p"\n')
    [result] = load_files(db, [path], location="L01", mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    rows = query(
        db,
        "select booking_id, start_at::varchar, end_at::varchar, status from raw_bookings "
        "order by booking_id",
    )
    assert rows == [
        # day first: 2 March; Arrived is completed
        ("J-1", "2026-03-02 09:00:00", "2026-03-02 10:30:00", "completed"),
        ("J-2", "2026-03-13 13:00:00", "2026-03-13 14:00:00", "no_show"),
    ]


def test_an_xlsx_report_with_date_cells(tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["ID", "Date", "Start", "End", "Patient", "Practitioner", "Treatment", "State"])
    sheet.append(["J-9", dt.datetime(2026, 3, 2), "9:00 AM", "10:30 AM", "Hazel Quint",
                  "Bea Ortiz", "Ashiatsu 90", "Arrived"])  # fmt: skip
    path = tmp_path / "appointments.xlsx"
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], location="L01")
    assert (result.rows_loaded, result.rows_rejected) == (1, 0), result.summary()
    rows = query(db, "select start_at::varchar, end_at::varchar from raw_bookings")
    # was: '2026-03-02 00:00:00 9:00 AM' is not a date-time
    assert rows == [("2026-03-02 09:00:00", "2026-03-02 10:30:00")]
