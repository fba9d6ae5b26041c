"""Calendly's scheduled-events export as real accounts write it: 12-hour times, display-name
time zones, Canceled true/false and Marked as No-Show Yes/No, any number of Question/Response
pairs with quoted commas and newlines, and a file a spreadsheet saved again. Invented people;
every expected figure is worked out by hand in its comment."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.load import load_files

SALT = "test-salt-not-secret"
# Calendly's literal header, with three Question/Response pairs instead of one
HEADER = (
    "User Name,Team,Invitee Name,Invitee First Name,Invitee Last Name,Invitee Email,"
    "Invitee Time Zone,Invitee accepted marketing emails,Text Reminder Number,Event Type Name,"
    "Start Date & Time,End Date & Time,Location,Event Created Date & Time,Canceled,Canceled By,"
    "Cancellation reason,Question 1,Response 1,Question 2,Response 2,Question 3,Response 3,"
    "UTM Campaign,UTM Source,UTM Medium,UTM Term,UTM Content,Salesforce UUID,Event Price,"
    "Payment Currency,Guest Email(s),Invitee Reconfirmed,Marked as No-Show,Meeting Notes,Group,"
    "User Email,Event UUID,Invitee UUID,Invitee scheduled by,Scheduling method"
).split(",")


@pytest.fixture(autouse=True)
def _salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_OPS_SALT", SALT)


def row(start: str, end: str, invitee: str, **cells: str) -> dict[str, str]:
    values = {
        "User Name": "Elena Novak",
        "Invitee Name": "Kira Vale",
        "Invitee First Name": "Kira",
        "Invitee Last Name": "Vale",
        "Invitee Email": "kira.vale@example.test",
        "Invitee Time Zone": "Central Time - US & Canada",
        "Event Type Name": "Ashiatsu 60",
        "Start Date & Time": start,
        "End Date & Time": end,
        "Event Created Date & Time": "2025-02-20 9:05 pm",
        "Canceled": "false",
        "Marked as No-Show": "No",
        "Event UUID": f"EV-{invitee}",
        "Invitee UUID": f"INV-{invitee}",
    }
    values.update(cells)
    return values


def write_export(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        out.writerows([r.get(name, "") for name in HEADER] for r in rows)
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# Saved again by a spreadsheet: Calendly's `2025-03-03 11:00 am` became `3/3/2025 11:00`.
CREATED = {"Event Created Date & Time": "2/20/2025 21:05"}
SAVED_BY_EXCEL = [
    row("3/3/2025 11:00", "3/3/2025 12:30", "1", **CREATED),
    row("3/4/2025 14:00", "3/4/2025 15:00", "2", **CREATED),
]


def test_an_export_saved_again_by_a_spreadsheet_is_refused_with_what_to_do(
    tmp_path: Path,
) -> None:
    path = write_export(tmp_path / "events.csv", SAVED_BY_EXCEL)
    [result] = load_files(tmp_path / "w.duckdb", [path], location="L01")
    assert result.outcome == "failed"
    assert result.message == (
        "line 2: Start Date & Time '3/3/2025 11:00' is not how Calendly writes a time "
        "('2025-03-03 11:00 am'): the file was opened and saved by a spreadsheet. Export it "
        'again from Calendly, or say how it is written: add [formats] datetime = "%m/%d/%Y '
        '%H:%M" (month first) or "%d/%m/%Y %H:%M" (day first) to the mapping'
    )


def test_an_export_saved_again_by_a_spreadsheet_loads_with_its_format(tmp_path: Path) -> None:
    path = write_export(tmp_path / "events.csv", SAVED_BY_EXCEL)
    mapping = write(tmp_path / "calendly.toml", '[formats]\ndatetime = "%m/%d/%Y %H:%M"\n')
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping, location="L01")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    assert query(
        db,
        "select booking_id, strftime(start_at, '%Y-%m-%d %H:%M'), minutes, "
        "strftime(created_at, '%Y-%m-%d %H:%M') from fct_bookings order by booking_id",
    ) == [
        ("INV-1", "2025-03-03 11:00", 90, "2025-02-20 21:05"),  # month first: 3 March
        ("INV-2", "2025-03-04 14:00", 60, "2025-02-20 21:05"),
    ]
