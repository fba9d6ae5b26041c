# ruff: noqa: E501 (the fixtures are export lines, as long as the vendor writes them)
"""Issue 15, vendor statuses and headers: Jane's skipped states, Rescheduled and cancellation
dates; every Vagaro per-status file and its staff blocks; Acuity's cancelled and no-show rows;
Square and Jane headers matched tolerantly, with a one-line [headers] fix for a renamed column.

Every fixture is written here in the vendor's layout with invented people; the expected rows
are worked out by hand in each test.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from tests.hostile import PEAK_MB, SECONDS, fingerprint, run_cli
from tests.test_load import query, write

SALT = "test-salt-not-secret"


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(pii.SALT_ENV, SALT)
    return SALT


def mapping(tmp_path: Path, extra: str = "") -> Path:
    return write(
        tmp_path / "map.toml",
        '[source]\nlocation = "L01"\n[acuity]\ncalendar = "therapist"\n' + extra,
    )


def statuses(db: Path, source: str) -> dict[str, str]:
    rows = query(db, "select booking_id, status from raw_bookings where source = ?", [source])
    return dict(rows)


def reasons(db: Path) -> list[str]:
    return [r[0] for r in query(db, "select reason from rejected_rows order by line_number")]


# --- Jane ------------------------------------------------------------------------------------

JANE = """ID,Date,Start,End,Patient,Patient Email,Practitioner,Treatment,State,Price,Cancelled At
J-601,2026-03-02,9:00 AM,10:30 AM,Hazel Quint,hazel.q@example.org,"Novak, Elena",Ashiatsu 90,Arrived,135.00,
J-602,2026-03-02,11:00 AM,12:00 PM,Orin Vale,,"Silva, Marcus",Swedish 60,Rescheduled,95.00,
J-603,2026-03-03,11:00 AM,12:00 PM,Orin Vale,,"Silva, Marcus",Swedish 60,Cancelled,95.00,2026-03-03 8:00 AM
J-604,2026-03-04,11:00 AM,12:00 PM,Hazel Quint,,"Silva, Marcus",Swedish 60,Cancelled,95.00,2026-03-01 9:00 AM
J-605,2026-03-05,9:00 AM,10:00 AM,Pia Lund,,"Novak, Elena",Ashiatsu 60,Never Booked,95.00,
J-606,2026-03-05,10:00 AM,11:00 AM,Pia Lund,,"Novak, Elena",Ashiatsu 60,Archived,95.00,
J-607,2026-03-05,11:00 AM,12:00 PM,Pia Lund,,"Novak, Elena",Ashiatsu 60,Deleted (Archived),95.00,
J-608,2026-03-06,11:00 AM,12:00 PM,Pia Lund,,"Novak, Elena",Ashiatsu 60,Frobnicated,95.00,
"""


def test_jane_skipped_states_are_counted_not_rejected(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = write(tmp_path / "in" / "jane.csv", JANE)
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    # 8 rows: J-601..J-604 load, J-605..J-607 are not appointments (skipped), J-608's word is
    # unknown (rejected): 8 = 4 + 1 + 3.
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (8, 4, 1)
    assert result.rows_skipped == 3
    assert result.summary().endswith(
        "jane.csv: bookings (jane-csv): 8 rows read, 4 loaded, 1 rejected, 3 skipped "
        "(1 Never Booked, 1 Archived, 1 Deleted (Archived): not appointments)"
    )
    assert reasons(db) == ["unknown status 'Frobnicated'"]
    assert query(
        db, "select rows_read, rows_loaded, rows_rejected, rows_skipped from load_runs"
    ) == [(8, 4, 1, 3)]


def test_jane_rescheduled_is_cancelled_and_cancellation_dates_give_late_cancels(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    path = write(tmp_path / "in" / "jane.csv", JANE)
    load_files(db, [path], mapping=mapping(tmp_path))
    assert statuses(db, "jane") == {
        "J-601": "completed",
        "J-602": "cancelled",  # Rescheduled: the old slot of a moved appointment
        "J-603": "cancelled",
        "J-604": "cancelled",
    }
    rows = query(
        db,
        "select booking_id, cancelled_at::varchar, is_late_cancel from stg_exports__bookings "
        "where source = 'jane' order by booking_id",
    )
    # J-603 was cancelled at 08:00 for 11:00 the same day: 3 hours before, inside the 24-hour
    # late_cancel_hours, so late. J-604 was cancelled three days ahead: not late.
    assert rows == [
        ("J-601", None, False),
        ("J-602", None, False),
        ("J-603", "2026-03-03 08:00:00", True),
        ("J-604", "2026-03-01 09:00:00", False),
    ]


def test_jane_file_of_only_skipped_rows_loads_nothing_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    head, *rows = JANE.splitlines()
    path = write(tmp_path / "in" / "jane.csv", "\n".join([head, *rows[4:7]]) + "\n")
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    # rows 5 to 7 of the file: Never Booked, Archived, Deleted (Archived): 3 read, 3 skipped
    assert result.outcome == "loaded", result.summary()
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 0, 0)
    assert result.rows_skipped == 3
    assert query(db, "select count(*) from raw_bookings") == [(0,)]


# --- Vagaro ----------------------------------------------------------------------------------

VAGARO_WORDS = {
    "Accepted": "booked",
    "Awaiting Confirmation": "booked",
    "Confirmed": "booked",
    "Cancelled": "cancelled",
    "Show": "completed",
    "No Show": "no_show",
    "Ready to Start": "completed",
    "In Progress": "completed",
    "Service Completed": "completed",
    "Complete": "completed",
    "Requested": "booked",
    "Denied": "cancelled",
}
VAGARO_HEADER = [
    "Appointment Date",
    "Start Time",
    "End Time",
    "Customer",
    "Service Provider",
    "Service",
    "Status",
    "Appointment ID",
]


def vagaro_file(path: Path, rows: list[list[str]]) -> Path:
    """An Appointments Summary workbook: a preamble, the header, rows, a totals row."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Appointments Summary"])
    sheet.append(["Business: Invented Ashiatsu Loft"])
    sheet.append([])
    sheet.append(VAGARO_HEADER)
    for row in rows:
        sheet.append(row)
    sheet.append(["Total", "", "", "", "", "", "", str(len(rows))])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def test_vagaro_every_status_file_maps_and_personal_off_is_skipped(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    files = []
    # One file per status, as Vagaro exports them: AppointmentSummary.xlsx, (1), (2), ...
    for n, word in enumerate(VAGARO_WORDS):
        name = "AppointmentSummary.xlsx" if n == 0 else f"AppointmentSummary ({n}).xlsx"
        row = ["3/4/2026", f"{1 + n % 8}:00 PM", f"{2 + n % 8}:00 PM", f"Client {n}"]
        files.append(
            vagaro_file(
                tmp_path / "in" / name, [[*row, "Elena Novak", "Ashiatsu 60", word, f"V-{n}"]]
            )
        )
    # Staff blocks: "Personal Off" as the status, and as the service of a confirmed entry.
    files.append(
        vagaro_file(
            tmp_path / "in" / "AppointmentSummary (12).xlsx",
            [
                ["3/5/2026", "12:00 PM", "1:00 PM", "", "Elena Novak", "", "Personal Off", "V-90"],
                ["3/5/2026", "2:00 PM", "3:00 PM", "", "Elena Novak", "Personal Off", "Confirmed",
                 "V-91"],
                ["3/5/2026", "4:00 PM", "5:00 PM", "Client 99", "Elena Novak", "Ashiatsu 60",
                 "Show", "V-92"],
            ],
        )
    )  # fmt: skip
    results = load_files(db, files, mapping=mapping(tmp_path))
    assert all(r.outcome == "loaded" for r in results), [r.summary() for r in results]
    expected = {f"V-{n}": canonical for n, canonical in enumerate(VAGARO_WORDS.values())}
    expected["V-92"] = "completed"
    assert statuses(db, "vagaro") == expected
    assert reasons(db) == []
    last = results[-1]
    # 3 rows (the totals row is no booking): V-92 loads, the two staff blocks are skipped.
    assert (last.rows_read, last.rows_loaded, last.rows_rejected, last.rows_skipped) == (3, 1, 0, 2)
    assert "2 skipped (2 Personal Off: staff blocks, not bookings)" in last.summary()


# --- Acuity ----------------------------------------------------------------------------------

ACUITY_HEADER = (
    '"Start Time","End Time","Timezone","First Name","Last Name","Phone","Email","Type",'
    '"Calendar","Appointment Price","Paid?","Amount Paid Online","Certificate Code","Notes",'
    '"Date Scheduled","Label","Scheduled By","Date Rescheduled","Canceled","No Show",'
    '"Appointment ID"'
)


def acuity_row(n: int, label: str = "", canceled: str = "", no_show: str = "") -> str:
    cells = [
        f"March {n}, 2026 9:00 am",
        f"March {n}, 2026 10:00 am",
        "America/Denver",
        "Wren",
        f"Tester{n}",
        "",
        f"wren{n}@example.org",
        "Ashiatsu 60",
        "Elena Novak",
        "95.00",
        "no",
        "0",
        "",
        "",
        "2026-02-01",
        label,
        "",
        "",
        canceled,
        no_show,
        f"{9000 + n}",
    ]
    return ",".join(f'"{c}"' for c in cells)


def test_acuity_cancelled_and_no_show_rows_never_load_as_completed(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    lines = [
        ACUITY_HEADER,
        acuity_row(2),  # nothing says otherwise, in the past: completed
        acuity_row(3, canceled="yes"),
        acuity_row(4, canceled="Canceled"),  # the word instead of yes
        acuity_row(5, canceled="March 4, 2026 8:15 pm"),  # when it was cancelled
        acuity_row(6, label="Canceled"),
        acuity_row(7, no_show="yes"),  # a no-show flag
        acuity_row(8, label="No-Show"),  # a no-show label
        acuity_row(9, canceled="no", no_show="no"),  # flags saying no: completed
    ]
    path = write(tmp_path / "in" / "acuity.csv", "\r\n".join(lines) + "\r\n")
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (8, 8, 0)
    assert statuses(db, "acuity") == {
        "9002": "completed",
        "9003": "cancelled",
        "9004": "cancelled",
        "9005": "cancelled",
        "9006": "cancelled",
        "9007": "no_show",
        "9008": "no_show",
        "9009": "completed",
    }
    # The cancellation time, when the Canceled column gives one, is kept: 20:15 the evening
    # before a 09:00 appointment is 12 h 45 min ahead, inside 24 hours: a late cancel.
    rows = query(
        db,
        "select cancelled_at::varchar, is_late_cancel from stg_exports__bookings "
        "where booking_id = '9005'",
    )
    assert rows == [("2026-03-04 20:15:00", True)]


# --- Square and Jane headers ------------------------------------------------------------------

SQUARE_RENAMED = """APPOINTMENT ID,date,start time,end time,Customer name,Customer e-mail,Service(s),Team member,Resource,Appointment status,Price
sq_1,03/02/2026,9:00 AM,10:30 AM,Hazel Quint,hazel.q@example.org,Ashiatsu 90,Elena Novak,Willow,NO_SHOW,$135.00
sq_2,03/02/2026,11:00 AM,12:00 PM,Orin Vale,,Swedish 60,Marcus Silva,Cedar,CANCELLED_BY_CUSTOMER,$95.00
"""
JANE_RENAMED = """Appointment Id,Start Date,Start Time,End Time,Patient Name,Practitioner Name,Treatment Type,Appointment State,Cancellation Date
J-1,2026-03-02,9:00 AM,10:00 AM,Hazel Quint,Elena Novak,Ashiatsu 60,No Show,
J-2,2026-03-03,9:00 AM,10:00 AM,Orin Vale,Elena Novak,Ashiatsu 60,Cancelled,2026-03-03 7:00 AM
"""


def test_square_and_jane_headers_match_tolerantly(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    square = write(tmp_path / "in" / "square.csv", SQUARE_RENAMED)
    jane = write(tmp_path / "in" / "jane.csv", JANE_RENAMED)
    results = load_files(db, [square, jane], mapping=mapping(tmp_path))
    assert [r.format for r in results] == ["square-csv", "jane-csv"], [r.summary() for r in results]
    assert [(r.rows_loaded, r.rows_rejected) for r in results] == [(2, 0), (2, 0)]
    rows = query(
        db,
        "select source, booking_id, status, start_at::varchar, end_at::varchar, therapist_id, "
        "service, cancelled_at::varchar from raw_bookings order by source, booking_id",
    )
    assert rows == [
        ("jane", "J-1", "no_show", "2026-03-02 09:00:00", "2026-03-02 10:00:00", "Elena Novak",
         "Ashiatsu 60", None),
        ("jane", "J-2", "cancelled", "2026-03-03 09:00:00", "2026-03-03 10:00:00", "Elena Novak",
         "Ashiatsu 60", "2026-03-03 07:00:00"),
        ("square", "sq_1", "no_show", "2026-03-02 09:00:00", "2026-03-02 10:30:00", "Elena Novak",
         "Ashiatsu 90", None),
        ("square", "sq_2", "cancelled", "2026-03-02 11:00:00", "2026-03-02 12:00:00",
         "Marcus Silva", "Swedish 60", None),
    ]  # fmt: skip


JANE_CLINICIAN = """ID,Date,Start,End,Patient,Clinician,Treatment,State
J-1,2026-03-02,9:00 AM,10:00 AM,Hazel Quint,Elena Novak,Ashiatsu 60,Arrived
"""


def test_a_renamed_column_is_a_one_line_mapping_fix(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = write(tmp_path / "in" / "jane.csv", JANE_CLINICIAN)
    before = fingerprint(db)
    run = run_cli("load", str(path), "--db", str(db), "--mapping", str(mapping(tmp_path)))
    # "Clinician" is no name Jane's practitioner column is known by: one line, nothing changed
    assert run.returncode == 1
    assert len(run.lines) == 2, run.lines
    assert run.lines[0] == (
        f"{path}: not loaded: the header matches no known export: a booking system's "
        "appointments the loader does not know (or whose headers are not in English) load "
        "through a mapping that names their columns (the Data page asks for them; studio-ops "
        "inspect FILE --write-mapping mapping.toml drafts one)"
    )
    assert run.lines[1] == f"nothing loaded; {db} is unchanged"
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(db) == before
    # The fix: one line under [headers] naming the column as the adapter knows it.
    fixed = mapping(tmp_path, '[headers]\n"Clinician" = "Practitioner"\n')
    [result] = load_files(db, [path], mapping=fixed)
    assert result.format == "jane-csv", result.summary()
    assert query(db, "select therapist_id, status from raw_bookings") == [
        ("Elena Novak", "completed")
    ]
