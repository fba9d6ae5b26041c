"""Calendly's scheduled-events export as real accounts write it: 12-hour times, display-name
time zones, Canceled true/false and Marked as No-Show Yes/No, any number of Question/Response
pairs with quoted commas and newlines, and a file a spreadsheet saved again. Invented people;
every expected figure is worked out by hand in its comment."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest.load import load_files
from tests.test_load import query, write, write_csv

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
    return write_csv(path, HEADER, rows)


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


def test_flags_pairs_and_a_group_event_as_calendly_writes_them(tmp_path: Path) -> None:
    # Times as Calendly writes them (`05:00 pm`, a leading zero); three Question/Response
    # pairs, one answer with a quoted comma and two line breaks; a group event (one Event
    # UUID) with two invitees, a booking each; a bad time after the multi-line answer is
    # rejected with its own physical line.
    answer = 'Left knee, "tender"\nno oils\nthanks'
    rows = [
        row("2025-03-03 05:00 pm", "2025-03-03 06:30 pm", "1",
            **{"Question 1": "Injuries?", "Response 1": answer, "Question 2": "Pressure",
               "Response 2": "firm", "Question 3": "Parking?", "Response 3": "yes, please"}),
        row("2025-03-04 11:00 am", "2025-03-04 12:00 pm", "2", Canceled="true"),
        row("2025-03-05 12:00 am", "2025-03-05 01:00 am", "3", **{"Marked as No-Show": "Yes"}),
        row("2025-03-06 09:00 am", "2025-03-06 10:00 am", "4", **{"Event UUID": "EV-GROUP"}),
        row("2025-03-06 09:00 am", "2025-03-06 10:00 am", "5", **{"Event UUID": "EV-GROUP",
            "Invitee Email": "jon.fakeman@example.test", "Invitee Name": "Jon Fakeman"}),
        row("2025-03-07 9:00", "2025-03-07 9:60", "6"),
    ]  # fmt: skip
    path = write_export(tmp_path / "events.csv", rows)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], location="L01")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 5, 1)
    assert query(
        db,
        "select booking_id, strftime(start_at, '%Y-%m-%d %H:%M'), minutes, status, is_held "
        "from fct_bookings order by booking_id",
    ) == [
        ("INV-1", "2025-03-03 17:00", 90, "completed", True),  # 05:00-06:30 pm
        ("INV-2", "2025-03-04 11:00", 60, "cancelled", False),  # Canceled true
        ("INV-3", "2025-03-05 00:00", 60, "no_show", True),  # 12:00 am is midnight
        ("INV-4", "2025-03-06 09:00", 60, "completed", True),
        ("INV-5", "2025-03-06 09:00", 60, "completed", True),  # same group event
    ]
    assert len({r[0] for r in query(db, "select client_id from fct_bookings")}) == 2
    # header 1, INV-1 on lines 2-4 (two line breaks in its answer), then one line each
    [(line, reason)] = query(db, "select line_number, reason from rejected_rows")
    assert line == 9 and reason.startswith("end_at '2025-03-07 9:60'")


def test_one_odd_date_among_calendly_s_own_rejects_that_row_only(tmp_path: Path) -> None:
    # A spreadsheet rewrites every row; one row typed by hand as 3/5/2025 in an export of
    # Calendly's own times is that row's problem: the others load.
    rows = [
        row("2025-03-03 11:00 am", "2025-03-03 12:00 pm", "1"),
        row("3/5/2025 9:00", "3/5/2025 10:00", "2"),
        row("2025-03-06 11:00 am", "2025-03-06 12:00 pm", "3"),
    ]
    path = write_export(tmp_path / "events.csv", rows)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], location="L01")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    [(line, reason)] = query(db, "select line_number, reason from rejected_rows")
    assert line == 3 and reason.startswith("start_at '3/5/2025 9:00'")
