"""Acuity's appointments export as real accounts write it: every field quoted, CRLF, a BOM,
long-form local times in 12- and 24-hour form, intake-form columns, and the accounts whose
Calendars are locations or rooms rather than therapists. Invented people throughout; every
expected figure is worked out by hand in its comment."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipelines.ingest.load import load_files
from tests.test_load import query, write

SALT = "test-salt-not-secret"
# Acuity's literal header, without `Timezone` (older exports), plus one intake question
HEADER = [
    "Start Time", "End Time", "First Name", "Last Name", "Phone", "Email", "Type", "Calendar",
    "Appointment Price", "Paid?", "Amount Paid Online", "Certificate Code", "Notes",
    "Date Scheduled", "Label", "Scheduled By", "Date Rescheduled", "Any injuries? ",
    "Appointment ID",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_OPS_SALT", SALT)


def row(start: str, end: str, calendar: str, appointment_id: str, **cells: str) -> dict:
    """One appointment of an invented client; `cells` sets other columns by header name."""
    values: dict[str, str] = {}
    values.update(
        {
            "Start Time": start,
            "End Time": end,
            "First Name": "Kira",
            "Last Name": "Valeska",
            "Phone": "'+15555550123",  # Acuity's Excel guard apostrophe
            "Email": "kira.valeska@example.test",
            "Type": "Ashiatsu 60",
            "Calendar": calendar,
            "Appointment Price": "95.00",
            "Date Scheduled": "2020-11-20",
            "Appointment ID": appointment_id,
        }
    )
    values.update(cells)
    return values


def write_export(path: Path, rows: list[dict], header: list[str] = HEADER) -> Path:
    """As Acuity writes it: a BOM, every field quoted, CRLF line ends (empty cells for the
    columns a row does not set)."""
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        out.writerow(header)
        out.writerows([r.get(name, "") for name in header] for r in rows)
    return path


def test_calendars_that_are_locations_load_with_the_one_therapist(tmp_path: Path) -> None:
    # An account with one Calendar per studio location: the Calendar cell is the location's
    # display name, resolved through [locations]; the therapist is [acuity] therapist.
    mapping = write(
        tmp_path / "acuity.toml",
        '[acuity]\ncalendar = "location"\ntherapist = "Elena Novak"\n'
        '[locations]\n"Downtown Studio" = "L01"\n"Eastside Studio" = "L02"\n',
    )
    path = write_export(
        tmp_path / "export.csv",
        [
            row("December 2, 2020 9:00 am", "December 2, 2020 10:00 am", "Downtown Studio", "1"),
            row("December 3, 2020 14:00", "December 3, 2020 15:30", "Eastside Studio", "2"),
            row("December 4, 2020 9:00 am", "December 4, 2020 10:00 am", "Uptown Studio", "3"),
        ],
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert result.outcome == "loaded", result.summary()
    # 3 rows: 2 in named locations load; "Uptown Studio" resolves to nothing -> rejected
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert query(
        db,
        "select booking_id, location_id, therapist_id, strftime(start_at, '%Y-%m-%d %H:%M'), "
        "minutes, status from fct_bookings order by booking_id",
    ) == [
        # 9:00 am - 10:00 am = 60 min; a day long past with no label: completed
        ("1", "L01", "Elena Novak", "2020-12-02 09:00", 60, "completed"),
        # 24-hour form: 14:00 - 15:30 = 90 min
        ("2", "L02", "Elena Novak", "2020-12-03 14:00", 90, "completed"),
    ]
    [(line, reason)] = query(db, "select line_number, reason from rejected_rows")
    assert line == 4
    assert reason == (
        "location 'Uptown Studio' is not known: add it to the studio profile or to "
        "[locations] in the mapping"
    )


def test_a_no_show_marked_when_cancelling_is_a_no_show(tmp_path: Path) -> None:
    # Acuity records a no-show by cancelling the appointment with "mark as no-show" ticked,
    # so an export with cancelled appointments included shows both flags on a no-show. The
    # client did not come and the slot was held: a no-show (held), never a cancellation.
    header = HEADER[:-1] + ["Canceled", "No Show", "Appointment ID"]
    rows = [
        row(*times, "Elena Novak", appointment_id, **{"Canceled": canceled, "No Show": no_show})
        for times, appointment_id, canceled, no_show in [
            (("December 2, 2020 9:00 am", "December 2, 2020 10:00 am"), "11", "yes", "yes"),
            (("December 2, 2020 11:00 am", "December 2, 2020 12:00 pm"), "12", "yes", "no"),
            (("December 2, 2020 1:00 pm", "December 2, 2020 2:00 pm"), "13", "", ""),
        ]
    ]
    rows.append(
        row(
            "December 2, 2020 3:00 pm",
            "December 2, 2020 4:00 pm",
            "Elena Novak",
            "14",
            **{"Canceled": "yes", "Label": "No Show"},
        )
    )
    path = write_export(tmp_path / "export.csv", rows, header=header)
    mapping = write(
        tmp_path / "acuity.toml", '[source]\nlocation = "L01"\n[acuity]\ncalendar = "therapist"\n'
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    assert query(
        db, "select booking_id, status, is_held from fct_bookings order by booking_id"
    ) == [
        ("11", "no_show", True),  # cancelled with the no-show flag
        ("12", "cancelled", False),  # cancelled, no-show flag "no"
        ("13", "completed", True),  # neither, a day long past
        ("14", "no_show", True),  # cancelled, and labelled No Show
    ]


THERAPIST_CALENDARS = '[source]\nlocation = "L01"\n[acuity]\ncalendar = "therapist"\n'


def test_a_24_hour_account_s_date_scheduled_with_its_time(tmp_path: Path) -> None:
    # A 24-hour account writes the booking time in Date Scheduled the same way as its start
    # times: the row loads with it as created_at (it was rejected for created_at).
    path = write_export(
        tmp_path / "export.csv",
        [
            row(
                "December 2, 2020 10:15",
                "December 2, 2020 11:15",
                "Elena Novak",
                "21",
                **{"Date Scheduled": "November 20, 2020 15:42"},
            )
        ],
    )
    mapping = write(tmp_path / "acuity.toml", THERAPIST_CALENDARS)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (1, 1, 0)
    assert query(
        db, "select strftime(created_at, '%Y-%m-%d %H:%M'), minutes from fct_bookings"
    ) == [("2020-11-20 15:42", 60)]  # 10:15 - 11:15


# Opened in Excel and saved: the long-form times became Excel's numeric dates, the phone's
# guard apostrophe is gone; 2 December, month first (a US Excel).
SAVED_BY_EXCEL = {"Date Scheduled": "11/20/2020", "Phone": "+15555550123"}
EXCEL_ROWS = [
    row("12/2/2020 9:00", "12/2/2020 10:30", "Elena Novak", "31", **SAVED_BY_EXCEL),
    row("12/3/2020 14:00", "12/3/2020 15:00", "Elena Novak", "32", **SAVED_BY_EXCEL),
]


def test_an_export_saved_again_by_excel_is_refused_with_what_to_do(tmp_path: Path) -> None:
    # Acuity never writes 12/2/2020: guessing day or month would be wrong for half the
    # world, and rejecting each row as "not a date-time" does not say why. One line does.
    path = write_export(tmp_path / "export.csv", EXCEL_ROWS)
    mapping = write(tmp_path / "acuity.toml", THERAPIST_CALENDARS)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert result.outcome == "failed"
    assert result.message == (
        "line 2: Start Time '12/2/2020 9:00' is not how Acuity writes a time ('December 2, "
        "2020 9:00 am'): the file was opened and saved by a spreadsheet. Export it again from "
        'Acuity, or say how it is written: add [formats] datetime = "%m/%d/%Y %H:%M" '
        '(month first) or "%d/%m/%Y %H:%M" (day first) to the mapping'
    )


def test_an_export_saved_again_by_excel_loads_with_its_format(tmp_path: Path) -> None:
    path = write_export(tmp_path / "export.csv", EXCEL_ROWS)
    mapping = write(
        tmp_path / "acuity.toml", THERAPIST_CALENDARS + '[formats]\ndatetime = "%m/%d/%Y %H:%M"\n'
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    assert query(
        db,
        "select booking_id, strftime(start_at, '%Y-%m-%d %H:%M'), minutes, "
        "strftime(created_at, '%Y-%m-%d') from fct_bookings order by booking_id",
    ) == [
        ("31", "2020-12-02 09:00", 90, "2020-11-20"),  # month first: 2 December; 9:00-10:30
        ("32", "2020-12-03 14:00", 60, "2020-11-20"),  # the date-only Date Scheduled too
    ]


# --- walk-ins: a placeholder name is no client (as Fresha's Walk-In) -------------------------
WALK_IN_REASON = (
    "the client is a walk-in (no name, email or phone): a booking without a client is not "
    "loaded; give the appointment its client in Acuity to count it"
)
NO_CONTACT = {"Phone": "", "Email": ""}


def test_walk_ins_are_bookings_without_a_client_never_one_client(tmp_path: Path) -> None:
    # Two walk-ins written as a name only (First Name "Walk-in", no Last Name; "WALKIN" and
    # "Client"), then a client named Walker Inman, none with an email or phone
    rows = [
        row("December 2, 2020 9:00 am", "December 2, 2020 10:00 am", "Elena Novak", "31",
            **NO_CONTACT, **{"First Name": "Walk-in", "Last Name": ""}),
        row("December 3, 2020 9:00 am", "December 3, 2020 10:00 am", "Elena Novak", "32",
            **NO_CONTACT, **{"First Name": "WALKIN", "Last Name": "Client"}),
        row("December 4, 2020 9:00 am", "December 4, 2020 10:00 am", "Elena Novak", "33",
            **NO_CONTACT, **{"First Name": "Walker", "Last Name": "Inman"}),
    ]  # fmt: skip
    path = write_export(tmp_path / "export.csv", rows)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=write(tmp_path / "a.toml", THERAPIST_CALENDARS))
    # by hand: lines 2 and 3 (header on line 1) are walk-ins, rejected saying so; Walker
    # Inman's visit (line 4) loads (before: both walk-ins one client with two visits)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    assert query(db, "select line_number, reason from rejected_rows order by 1") == [
        (2, WALK_IN_REASON),
        (3, WALK_IN_REASON),
    ]
    assert query(db, "select count(distinct client_id), max(booking_id) from fct_bookings") == [
        (1, "33")
    ]
    assert query(db, "select count(*) from dim_clients") == [(1,)]


def test_a_walk_in_with_an_email_or_phone_is_that_client(tmp_path: Path) -> None:
    # "Walk-in" with an email (twice: the same client) and "Walk In" with a phone: each is
    # identified by its contact, so all three load, as two clients
    rows = [
        row("December 2, 2020 9:00 am", "December 2, 2020 10:00 am", "Elena Novak", "41",
            **{"First Name": "Walk-in", "Last Name": "", "Phone": ""}),
        row("December 3, 2020 9:00 am", "December 3, 2020 10:00 am", "Elena Novak", "42",
            **{"First Name": "Walk-in", "Last Name": "", "Phone": ""}),
        row("December 4, 2020 9:00 am", "December 4, 2020 10:00 am", "Elena Novak", "43",
            **{"First Name": "Walk", "Last Name": "In", "Email": "", "Phone": "'+15555550188"}),
    ]  # fmt: skip
    path = write_export(tmp_path / "export.csv", rows)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=write(tmp_path / "a.toml", THERAPIST_CALENDARS))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 3, 0)
    # by hand: 41 and 42 share kira.valeska@example.test, 43 has its own phone: 2 clients
    assert query(db, "select count(distinct client_id) from fct_bookings") == [(2,)]
