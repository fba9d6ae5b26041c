"""Square Appointments exports as studios keep them: the history saved as a workbook, whose
dates and times are real date and time cells. Invented people only; the expected rows are
worked out by hand in each test."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files

SALT = "test-salt-not-secret"
HEADER = [
    "Appointment ID",
    "Date",
    "Start Time",
    "End Time",
    "Team Member",
    "Customer",
    "Customer ID",
    "Service",
    "Resource",
    "Status",
]


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pii.SALT_ENV, SALT)


def stored(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select booking_id, therapist_id, room_id, start_at::varchar, end_at::varchar, "
            "status from raw_bookings order by booking_id"
        ).fetchall()
    finally:
        con.close()


def test_a_workbook_with_real_date_and_time_cells_loads(tmp_path: Path) -> None:
    # The history export opened in Excel and saved as .xlsx: Excel made the dates date cells
    # (read as '2026-03-02 00:00:00') and the times time cells or date-times shown as times.
    # Before: the date cell was joined whole to the time ('2026-03-02 00:00:00 10:00:00') and
    # every row was rejected, so nothing loaded.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["sq-1", datetime(2026, 3, 2), time(10, 0), time(11, 30), "Novak, Elena",
                  "Hazel Quint", "CUST8841X", "Ashiatsu 90", "Room 2", "ACCEPTED"])  # fmt: skip
    sheet.append(["sq-2", datetime(2026, 3, 2), "1:00 PM", "2:00 PM", "Elena Novak",
                  "Orin Vale", "CUST8842X", "Ashiatsu 60", "Room 2", "NO_SHOW"])  # fmt: skip
    sheet.append(["sq-3", datetime(2026, 3, 3), datetime(2026, 3, 3, 9, 15),
                  datetime(2026, 3, 3, 10, 15), "Elena Novak", "Pia Lund", "CUST8843X",
                  "Swedish 60", "Room 1", "CANCELLED_BY_CUSTOMER"])  # fmt: skip
    sheet["C4"].number_format = sheet["D4"].number_format = "h:mm AM/PM"
    path = tmp_path / "appointments.xlsx"
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], location="L01")
    assert result.format == "square-xlsx", result.summary()
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 3, 0)
    # By hand: sq-1 2 March 10:00-11:30, ACCEPTED before today = completed; sq-2 13:00-14:00
    # no_show; sq-3 3 March 9:15-10:15 (the date-time cells themselves) cancelled. Resource
    # is the room; "Novak, Elena" is "Elena Novak".
    assert stored(db) == [
        ("sq-1", "Elena Novak", "Room 2", "2026-03-02 10:00:00", "2026-03-02 11:30:00",
         "completed"),
        ("sq-2", "Elena Novak", "Room 2", "2026-03-02 13:00:00", "2026-03-02 14:00:00",
         "no_show"),
        ("sq-3", "Elena Novak", "Room 1", "2026-03-03 09:15:00", "2026-03-03 10:15:00",
         "cancelled"),
    ]  # fmt: skip
