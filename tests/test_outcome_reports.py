"""Outcome reports (a mapping's [outcome]: a no-show or cancellation report updates bookings
already loaded, never creates any) and rows that repeat an id within one file (reported, never
silently collapsed). All against real DuckDB files in tmp_path; people are invented."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from tests.test_load import query

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
    assert result.summary().endswith("1 row read, 1 loaded, 0 rejected")
    assert query(db, "select rows_repeated from load_runs") == [(0,)]


# --- outcome reports: the salon case ---------------------------------------------------------

# A salon's three reports (its booking system writes each as its own CSV): no appointment ids,
# no durations, the date and a 12-hour time in separate columns. Invented people.
BOOK = [
    ["Date", "Time", "Client", "Staff", "Service"],
    ["03/02/2026", "9:00 AM", "Harriet Quill", "Ines Varga", "Ashiatsu 60"],  # 1
    ["03/02/2026", "11:00 AM", "Tobias Fenwick", "Ines Varga", "Ashiatsu 60"],  # 2
    ["03/02/2026", "1:30 PM", "Harriet Quill", "Ines Varga", "Swedish 60"],  # 3
    ["03/03/2026", "10:00 AM", "Odile Marchetti", "Ravi Sundaram", "Ashiatsu 60"],  # 4
    ["03/03/2026", "2:00 PM", "Tobias Fenwick", "Ravi Sundaram", "Ashiatsu 60"],  # 5
    ["03/04/2026", "9:00 AM", "Odile Marchetti", "Ines Varga", "Swedish 60"],  # 6
]
NO_SHOWS = [
    ["No Show Date", "Appt Time", "Client Name", "Employee", "Service Description"],
    ["03/02/2026", "11:00 AM", "Tobias Fenwick", "Ines Varga", "Ashiatsu 60"],  # -> 2
    ["03/03/2026", "10:00 AM", "Odile Marchetti", "Ravi Sundaram", "ashiatsu 60"],  # -> 4
    ["03/05/2026", "9:00 AM", "Wilma Achterberg", "Ines Varga", "Ashiatsu 60"],  # no booking
]
CANCELLATIONS = [  # the appointment's day only, and when it was cancelled
    ["Appt Date", "Client", "Provider", "Service", "Cancelled On"],
    ["03/02/2026", "Harriet Quill", "Ines Varga", "Swedish 60", "03/01/2026 6:15 PM"],  # -> 3
    ["03/04/2026", "Odile Marchetti", "Ines Varga", "Swedish 60", "02/25/2026 10:00 AM"],  # -> 6
]
BOOK_MAPPING = """
[source]
name = "salon"
location = "L01"
[columns]
start_date = "Date"
start_time = "Time"
client_name = "Client"
therapist_id = "Staff"
service = "Service"
[constants]
duration_minutes = 60
status = "completed"
[formats]
datetime = "%m/%d/%Y %I:%M %p"
"""
NO_SHOW_MAPPING = """
[source]
name = "salon"
location = "L01"
[columns]
start_date = "No Show Date"
start_time = "Appt Time"
client_name = "Client Name"
therapist_id = "Employee"
service = "Service Description"
[formats]
datetime = "%m/%d/%Y %I:%M %p"
[outcome]
status = "no_show"
match = ["client", "date", "therapist", "service"]
"""
CANCEL_MAPPING = """
[source]
name = "salon"
location = "L01"
[columns]
start_date = "Appt Date"
client_name = "Client"
therapist_id = "Provider"
service = "Service"
cancelled_at = "Cancelled On"
[formats]
datetime = "%m/%d/%Y %I:%M %p"
[outcome]
status = "cancelled"
match = ["client", "date", "therapist", "service"]
"""


def salon(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    """The three reports and their three mapping files: name -> (export, mapping)."""
    files = {}
    for name, rows, mapping in (
        ("book", BOOK, BOOK_MAPPING),
        ("no-shows", NO_SHOWS, NO_SHOW_MAPPING),
        ("cancellations", CANCELLATIONS, CANCEL_MAPPING),
    ):
        export = write_csv(tmp_path / f"{name}.csv", rows[0], rows[1:])
        toml = tmp_path / f"{name}.toml"
        toml.write_text(mapping, encoding="utf-8")
        files[name] = (export, toml)
    return files


def statuses(db: Path, table: str = "raw_bookings") -> list[tuple]:
    """(start, status, cancelled_at) of every booking, by start."""
    return query(
        db,
        f"select strftime(start_at, '%Y-%m-%d %H:%M'), status, "
        f"strftime(cancelled_at, '%Y-%m-%d %H:%M') from {table} order by start_at",
    )


def test_salon_book_no_show_and_cancellation_reports_load_with_three_mappings(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    files = salon(tmp_path)
    results = [load_files(db, [export], mapping=toml)[0] for export, toml in files.values()]
    book, no_shows, cancellations = results
    assert (book.outcome, book.rows_read, book.rows_loaded) == ("loaded", 6, 6), book.summary()
    # no-shows: lines 2 and 3 match bookings 2 and 4 (the service matched ignoring case);
    # line 4 (5 March) matches nothing: 3 read = 2 loaded + 1 rejected
    assert (no_shows.rows_read, no_shows.rows_loaded, no_shows.rows_rejected) == (3, 2, 1), (
        no_shows.summary()
    )
    assert (cancellations.rows_read, cancellations.rows_loaded) == (2, 2)
    # the reports created no booking: still the book's six, with the statuses they say
    expected = [
        ("2026-03-02 09:00", "completed", None),
        ("2026-03-02 11:00", "no_show", None),
        ("2026-03-02 13:30", "cancelled", "2026-03-01 18:15"),
        ("2026-03-03 10:00", "no_show", None),
        ("2026-03-03 14:00", "completed", None),
        ("2026-03-04 09:00", "cancelled", "2026-02-25 10:00"),
    ]
    assert statuses(db) == expected
    # the incremental refresh saw the changed bookings: the marts say the same
    assert statuses(db, "fct_bookings") == expected
    # booking 3 was cancelled 19 h 15 min before its 13:30 start, under late_cancel_hours
    # (24): a late cancellation; booking 6 six days before: not late
    assert query(
        db, "select strftime(start_at, '%d %H:%M') from fct_bookings where is_late_cancel"
    ) == [("02 13:30",)]
    assert query(
        db,
        "select line_number, reason from rejected_rows where file_name like '%no-shows.csv'",
    ) == [
        (
            4,
            "matches no booking loaded (same location and client, date, therapist, service); "
            "load the appointment book first",
        )
    ]
    assert query(
        db, "select rows_read, rows_loaded, rows_rejected from load_runs order by load_id"
    ) == [(6, 6, 0), (3, 2, 1), (2, 2, 0)]
    # client names never reach the warehouse, not even in the rejected row's raw text
    kept = " ".join(
        str(cell)
        for table in ("raw_bookings", "rejected_rows", "fct_bookings")
        for row in query(db, f"select * from {table}")
        for cell in row
    )
    for surname in ("Quill", "Fenwick", "Marchetti", "Achterberg"):
        assert surname not in kept
    assert query(db, "select raw_row like '%c\\_%' escape '\\' from rejected_rows") == [(True,)]


def load_book(tmp_path: Path, db: Path) -> dict[str, tuple[Path, Path]]:
    files = salon(tmp_path)
    [book] = load_files(db, [files["book"][0]], mapping=files["book"][1])
    assert (book.outcome, book.rows_loaded) == ("loaded", 6), book.summary()
    return files


def test_a_row_matching_several_bookings_is_rejected_with_a_reason(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_book(tmp_path, db)
    report = write_csv(
        tmp_path / "no-shows-by-day.csv",
        ["Date", "Client", "Staff"],
        [
            # Harriet Quill has two bookings with Ines Varga on 2 March (9:00 and 13:30)
            ["03/02/2026", "Harriet Quill", "Ines Varga"],
            # Tobias Fenwick one with Ravi Sundaram on 3 March (14:00)
            ["03/03/2026", "Tobias Fenwick", "Ravi Sundaram"],
        ],
    )
    mapping = tmp_path / "by-day.toml"
    mapping.write_text(
        '[source]\nname = "salon"\nlocation = "L01"\n'
        '[columns]\nstart_date = "Date"\nclient_name = "Client"\ntherapist_id = "Staff"\n'
        '[formats]\ndatetime = "%m/%d/%Y %I:%M %p"\n'
        '[outcome]\nstatus = "no_show"\nmatch = ["client", "date", "therapist"]\n'
    )
    [result] = load_files(db, [report], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    assert query(db, "select line_number, reason from rejected_rows") == [
        (
            2,
            "matches 2 bookings (same location and client, date, therapist); add a field to "
            "[outcome] match to tell them apart",
        )
    ]
    # the book loaded all six as completed; only Tobias's 3 March booking changed (Harriet's
    # two were left as they were)
    assert [status for _, status, _ in statuses(db)] == ["completed"] * 4 + ["no_show", "completed"]


def test_a_manager_cannot_change_another_locations_bookings_by_report(tmp_path: Path) -> None:
    from tests.hostile import fingerprint

    db = tmp_path / "w.duckdb"
    files = load_book(tmp_path, db)
    before = fingerprint(db)
    export, mapping = files["no-shows"]
    [result] = load_files(db, [export], mapping=mapping, allowed_locations=["L02"])
    # lines 2 and 3 match L01 bookings, which a manager of L02 may not change; line 4 matches
    # nothing: every row rejected, so the file is not loaded and nothing changes
    assert result.outcome == "failed"
    assert result.message == (
        "every row was rejected (first: line 2: location_id 'L01' is not one of your locations)"
    )
    assert fingerprint(db) == before


def test_a_report_of_another_location_never_touches_these_bookings(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    files = load_book(tmp_path, db)
    export, _ = files["no-shows"]
    elsewhere = tmp_path / "no-shows-l02.toml"
    elsewhere.write_text(NO_SHOW_MAPPING.replace('location = "L01"', 'location = "L02"'))
    [result] = load_files(db, [export], mapping=elsewhere)
    # the same client, day, therapist and service at L02: no booking there, none moves
    assert result.outcome == "failed"
    assert "line 2: matches no booking loaded (same location and client" in result.message
    assert {status for _, status, _ in statuses(db)} == {"completed"}
    assert query(db, "select distinct location_id from raw_bookings") == [("L01",)]


def test_an_outcome_report_can_update_another_sources_bookings_by_id(tmp_path: Path) -> None:
    """[outcome] source names whose bookings a report updates: here a native export's."""
    db = tmp_path / "w.duckdb"
    book = write_csv(
        tmp_path / "bookings.csv",
        NATIVE_HEADER,
        [native_row("B1", "C1", "10:00", "booked"), native_row("B2", "C2", "12:00", "booked")],
    )
    load_files(db, [book])
    report = write_csv(tmp_path / "missed.csv", ["Ref", "Day"], [["B2", "2026-03-02"]])
    mapping = tmp_path / "missed.toml"
    mapping.write_text(
        '[source]\nlocation = "L01"\n[columns]\nbooking_id = "Ref"\nstart_date = "Day"\n'
        '[outcome]\nstatus = "no_show"\nmatch = ["booking_id", "date"]\nsource = "native"\n'
    )
    [result] = load_files(db, [report], mapping=mapping)
    assert (result.outcome, result.rows_loaded) == ("loaded", 1), result.summary()
    assert query(db, "select source, booking_id, status from raw_bookings order by 2") == [
        ("native", "B1", "booked"),
        ("native", "B2", "no_show"),
    ]


@pytest.mark.parametrize(
    "outcome, message",
    [
        (
            'status = "missed"\nmatch = ["client"]',
            "[outcome] status must be the status its rows set, one of completed, booked, "
            "no_show, cancelled, late_cancelled",
        ),
        (
            'status = "no_show"\nmatch = ["client", "colour"]',
            "[outcome] match must list the fields a row shares with its booking, from client, "
            "date, start, therapist, service, room, booking_id",
        ),
    ],
)
def test_a_wrong_outcome_section_is_one_line(tmp_path: Path, outcome: str, message: str) -> None:
    db = tmp_path / "w.duckdb"
    files = load_book(tmp_path, db)
    mapping = tmp_path / "wrong.toml"
    mapping.write_text(NO_SHOW_MAPPING.split("[outcome]")[0] + "[outcome]\n" + outcome + "\n")
    [result] = load_files(db, [files["no-shows"][0]], mapping=mapping)
    assert result.outcome == "failed"
    assert result.message == f"mapping file {mapping}: {message}"


def test_what_an_outcome_mapping_lacks_is_named_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    files = load_book(tmp_path, db)
    mapping = tmp_path / "lacking.toml"
    # matches on the therapist and the room, but names neither column
    mapping.write_text(
        NO_SHOW_MAPPING.replace('therapist_id = "Employee"\n', "").replace(
            '"therapist", "service"', '"therapist", "service", "room"'
        )
    )
    [result] = load_files(db, [files["no-shows"][0]], mapping=mapping)
    assert result.outcome == "failed"
    assert "[columns] therapist_id" in result.message
    assert "[columns] room_id ([outcome] match names room)" in result.message
    assert "[columns] status" not in result.message  # [outcome] status sets it
    assert len(result.message.splitlines()) == 1


def test_one_load_of_the_three_reports_loads_the_outcome_reports_last(tmp_path: Path) -> None:
    """One `studio-ops load` of a folder with the three mapping files: the reports sort before
    the appointment book by name, yet load after it."""
    db = tmp_path / "w.duckdb"
    files = salon(tmp_path)
    folder = tmp_path / "exports"
    folder.mkdir()
    names = {"cancellations": "a-cancel.csv", "no-shows": "b-noshow.csv", "book": "c-book.csv"}
    for name, (export, _) in files.items():
        export.rename(folder / names[name])
    results = load_files(db, [folder], mapping=[toml for _, toml in files.values()])
    # the book first, then the reports in their own order
    assert [(Path(r.file_name).name, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("c-book.csv", 6, 0),
        ("a-cancel.csv", 2, 0),
        ("b-noshow.csv", 2, 1),
    ]
    assert [status for _, status, _ in statuses(db)] == [
        "completed", "no_show", "cancelled", "no_show", "completed", "cancelled"
    ]  # fmt: skip
