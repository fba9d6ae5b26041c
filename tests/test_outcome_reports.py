"""Outcome reports (a mapping's [outcome]: a no-show or cancellation report updates bookings
already loaded, never creates any) and rows that repeat an id within one file (reported, never
silently collapsed). All against real DuckDB files in tmp_path; people are invented."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from pipelines import pii
from pipelines.load import load_files

SALT = "test-salt-not-secret"
NATIVE_HEADER = [
    "booking_id",
    "location_id",
    "therapist_id",
    "client_id",
    "service",
    "start_at",
    "end_at",
    "status",
]


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(pii.SALT_ENV, SALT)
    return SALT


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def native_row(booking_id: str, client: str, start: str, status: str) -> list[str]:
    """A one-hour native booking at L01 on 2 March 2026."""
    end = f"{int(start[:2]) + 1:02d}{start[2:]}"
    return [booking_id, "L01", "T1", client, "Ashiatsu 60", f"2026-03-02 {start}",
            f"2026-03-02 {end}", status]  # fmt: skip


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# --- rows that repeat an id within one file -------------------------------------------------


def test_native_rows_repeating_an_id_are_reported_not_collapsed(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    export = write_csv(
        tmp_path / "bookings.csv",
        NATIVE_HEADER,
        [
            native_row("B1", "C1", "10:00", "booked"),
            native_row("B2", "C2", "12:00", "booked"),
            native_row("B1", "C1", "10:00", "no_show"),
            native_row("B1", "C1", "10:00", "completed"),
        ],
    )
    [result] = load_files(db, [export])
    # 4 rows read: B1 three times (lines 2, 4, 5), B2 once. Stored: B1 (line 5) and B2 = 2;
    # the 2 earlier B1 rows repeat an id; 0 rejected. 4 = 2 + 0 + 2.
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 2, 0)
    assert result.rows_repeated == 2
    assert result.summary() == (
        f"{export}: bookings (native-csv): 4 rows read, 2 loaded, 0 rejected "
        "(2 rows repeat an earlier id; the last one was kept)"
    )
    assert query(db, "select booking_id, status, line_number from raw_bookings order by 1") == [
        ("B1", "completed", 5),
        ("B2", "booked", 3),
    ]
    assert query(
        db, "select rows_read, rows_loaded, rows_rejected, rows_repeated from load_runs"
    ) == [(4, 2, 0, 2)]


def test_acuity_rows_repeating_an_appointment_id_are_reported(tmp_path: Path) -> None:
    """A vendor export (Acuity's real header): the same Appointment ID on two rows."""
    db = tmp_path / "w.duckdb"
    mapping = tmp_path / "acuity.toml"
    mapping.write_text('[source]\nlocation = "L01"\n[acuity]\ncalendar = "therapist"\n')
    header = (
        '"Start Time","End Time","Timezone","First Name","Last Name","Phone","Email","Type",'
        '"Calendar","Appointment Price","Paid?","Amount Paid Online","Certificate Code","Notes",'
        '"Date Scheduled","Label","Scheduled By","Date Rescheduled","Appointment ID"'
    )
    row = (
        '"March 2, 2026 9:00 am","March 2, 2026 10:00 am","America/Denver","Wren","Halloway",'
        '"","wren.h@example.com","Ashiatsu 60","Ines Varga","95.00","no","0.00","","",'
        '"2026-02-20","{label}","","","{id}"'
    )
    export = tmp_path / "acuity.csv"
    export.write_text(
        "\r\n".join(
            [
                header,
                row.format(label="", id="5001"),
                row.format(label="Completed", id="5001"),
                row.format(label="Completed", id="5002"),
            ]
        )
        + "\r\n",
        encoding="utf-8",
    )
    [result] = load_files(db, [export], mapping=mapping)
    # 3 rows: 5001 twice (the second kept), 5002 once: 2 stored, 1 repeats; 3 = 2 + 0 + 1
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 0)
    assert "1 row repeats an earlier id; the last one was kept" in result.summary()
    assert query(db, "select rows_repeated from load_runs") == [(1,)]
    assert query(db, "select count(*) from raw_bookings") == [(2,)]


def test_a_file_without_repeats_says_nothing_of_them(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    export = write_csv(
        tmp_path / "bookings.csv",
        NATIVE_HEADER,
        [native_row("B1", "C1", "10:00", "booked")],
    )
    [result] = load_files(db, [export])
    assert result.summary().endswith("1 rows read, 1 loaded, 0 rejected")
    assert query(db, "select rows_repeated from load_runs") == [(0,)]
