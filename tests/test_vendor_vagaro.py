"""Vagaro's Appointments Summary workbooks as studios keep them, and what any vendor workbook
can be: a folder with Excel's lock file of an open workbook beside it, an empty first sheet
before the report, merged cells. Invented people only; the expected rows are worked out by
hand in each test."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import expand_paths, load_files
from tests.test_load import query
from tests.test_vendor_statuses import VAGARO_HEADER

SALT = "test-salt-not-secret"
HEADER = [*VAGARO_HEADER, "Service Price"]
# Excel's owner file of an open workbook: the user's name as a length-prefixed byte string,
# padding, then the name again in UTF-16 (165 bytes in all).
LOCK_BYTES = bytes([6]) + b"RTXLS1" + b"\x20" * 47 + "RTXLS1".encode("utf-16-le") + b"\x00" * 99


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pii.SALT_ENV, SALT)


def summary_book(path: Path, rows: list[list], sheet: openpyxl.Workbook | None = None) -> Path:
    """An Appointments Summary: a title, a preamble down to row 22, the header on row 23, the
    rows, a totals row."""
    book = sheet or openpyxl.Workbook()
    report = book.worksheets[-1] if sheet else book.active
    report.append(["Appointments Summary"])
    report.merge_cells("A1:I1")
    for n in range(2, 23):
        report.append([f"Filter {n}: All"] if n % 3 else [])
    report.append(HEADER)
    for row in rows:
        report.append(row)
    report.append(["Total", None, None, None, None, None, None, None, len(rows)])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


ROWS = [
    # a real Excel date and real times, a number id and price
    [datetime(2026, 3, 4), time(13, 0), time(14, 30), "Hazel Quint", "Novak, Elena",
     "Ashiatsu 90", "Show", 5001, 135.0],
    # text cells, numbers stored as text
    ["3/4/2026", "3:00 PM", "4:00 PM", "Orin Vale", "Elena Novak", "Ashiatsu 60", "No-Show",
     "5002", "$95.00"],
]  # fmt: skip
# Both rows by hand: 5001 is 4 March 13:00-14:30, Show = completed, 135.00; 5002 is 4 March
# 15:00-16:00, No-Show = no_show, 95.00. "Novak, Elena" is "Elena Novak".
EXPECTED = [
    ("5001", "Elena Novak", "2026-03-04 13:00:00", "2026-03-04 14:30:00", "completed", 135),
    ("5002", "Elena Novak", "2026-03-04 15:00:00", "2026-03-04 16:00:00", "no_show", 95),
]


def stored(db: Path) -> list[tuple]:
    return query(
        db,
        "select booking_id, therapist_id, start_at::varchar, end_at::varchar, status, "
        "price::integer from raw_bookings order by booking_id",
    )


def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "vagaro.toml"
    path.write_text('[source]\nlocation = "L01"\n', encoding="utf-8")
    return path


# --- a workbook open in Excel ------------------------------------------------------------------


def test_a_folder_with_the_lock_file_of_an_open_workbook_loads_the_workbook(
    tmp_path: Path,
) -> None:
    # The manager exports, opens the file in Excel to look at it, and loads the folder with it
    # still open: Excel keeps "~$AppointmentSummary.xlsx" beside it. Before: the lock file was
    # read as an export and failed ("this is not a text export (it contains NUL bytes)"), so
    # the load exited 1. Now it is not an export of the folder.
    folder = tmp_path / "exports"
    summary_book(folder / "AppointmentSummary.xlsx", ROWS)
    (folder / "~$AppointmentSummary.xlsx").write_bytes(LOCK_BYTES)
    assert expand_paths([folder]) == [folder / "AppointmentSummary.xlsx"]
    db = tmp_path / "w.duckdb"
    results = load_files(db, [folder], mapping=mapping(tmp_path))
    assert [(r.file_name, r.outcome) for r in results] == [
        (str(folder / "AppointmentSummary.xlsx"), "loaded")
    ]
    assert stored(db) == EXPECTED


def test_the_lock_file_named_on_its_own_says_which_workbook_to_load(tmp_path: Path) -> None:
    lock = tmp_path / "~$AppointmentSummary.xlsx"
    lock.write_bytes(LOCK_BYTES)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [lock], mapping=mapping(tmp_path))
    assert result.outcome == "failed"
    assert result.message == (
        "this is the lock file Excel keeps while a workbook is open, not an export: load "
        "'AppointmentSummary.xlsx' itself (close it in Excel first if it has unsaved changes)"
    )


def test_a_real_workbook_whose_name_starts_like_a_lock_file_still_loads(tmp_path: Path) -> None:
    # The name alone never decides: a workbook (zip bytes) called "~$..." is read as one.
    path = summary_book(tmp_path / "in" / "~$AppointmentSummary.xlsx", ROWS)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path.parent], mapping=mapping(tmp_path))
    assert result.outcome == "loaded", result.summary()
    assert stored(db) == EXPECTED


# --- sheets --------------------------------------------------------------------------------------


def test_the_report_on_the_second_sheet_after_an_empty_first_one_loads(tmp_path: Path) -> None:
    # A workbook whose first sheet ("Sheet1") was left empty and whose report is the second
    # sheet. Before: only the first sheet was read, and the load said "the first line is
    # empty; expected a header row". A third sheet (a summary by status) is not read: the
    # first sheet that holds anything is the export.
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.create_sheet("Appointments")
    path = summary_book(tmp_path / "AppointmentSummary.xlsx", ROWS, sheet=book)
    book = openpyxl.load_workbook(path)
    book.create_sheet("By status").append(["Show", 1])
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    # 2 appointments; the totals row is not one.
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0), (
        result.summary()
    )
    assert stored(db) == EXPECTED


def test_a_hidden_sheet_before_the_report_is_not_the_export(tmp_path: Path) -> None:
    # A hidden first sheet holding a lookup list: the visible report is read.
    book = openpyxl.Workbook()
    lookup = book.active
    lookup.title = "codes"
    lookup.append(["code", "meaning"])
    lookup.sheet_state = "hidden"
    book.create_sheet("Appointments")
    path = summary_book(tmp_path / "AppointmentSummary.xlsx", ROWS, sheet=book)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    assert result.outcome == "loaded", result.summary()
    assert stored(db) == EXPECTED


def test_a_workbook_with_nothing_in_any_sheet_says_so(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.create_sheet("Second")
    path = tmp_path / "AppointmentSummary.xlsx"
    book.save(path)
    [result] = load_files(tmp_path / "w.duckdb", [path], mapping=mapping(tmp_path))
    assert (result.outcome, result.message) == ("failed", "every sheet of the workbook is empty")


# --- merged cells ------------------------------------------------------------------------------


def test_a_date_merged_down_over_the_days_appointments_gives_each_its_date(
    tmp_path: Path,
) -> None:
    # A report laid out for reading: each day's date merged down over its appointments
    # (A24:A26), the provider merged over the first two (E24:E25), the title across the
    # columns. Excel stores the value in the top cell only. Before: the two later rows of the
    # day were rejected ("start_at is missing") although Excel shows them dated.
    rows = [
        ["3/6/2026", "9:00 AM", "10:00 AM", "Ann Aalto", "Elena Novak", "Ashiatsu 60", "Show",
         "6001", "95"],
        [None, "11:00 AM", "12:00 PM", "Bo Berg", None, "Ashiatsu 60", "Show", "6002", "95"],
        [None, "1:00 PM", "2:30 PM", "Cy Cole", "Marcus Silva", "Ashiatsu 90", "No-Show",
         "6003", "135"],
        ["3/7/2026", "9:00 AM", "10:00 AM", "Di Dahl", "Marcus Silva", "Swedish 60",
         "Confirmed", "6004", "95"],
    ]  # fmt: skip
    path = summary_book(tmp_path / "AppointmentSummary.xlsx", rows)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet["A24"].value == "3/6/2026" and sheet["D27"].value == "Di Dahl"  # the layout
    sheet.merge_cells("A24:A26")
    sheet.merge_cells("E24:E25")
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0), (
        result.summary()
    )
    # By hand: 6001-6003 on 6 March (the merged date), 6002 Elena's (the merged provider),
    # 6004 on 7 March; Show completed, No-Show no_show, Confirmed booked.
    assert stored(db) == [
        ("6001", "Elena Novak", "2026-03-06 09:00:00", "2026-03-06 10:00:00", "completed", 95),
        ("6002", "Elena Novak", "2026-03-06 11:00:00", "2026-03-06 12:00:00", "completed", 95),
        ("6003", "Marcus Silva", "2026-03-06 13:00:00", "2026-03-06 14:30:00", "no_show", 135),
        ("6004", "Marcus Silva", "2026-03-07 09:00:00", "2026-03-07 10:00:00", "booked", 95),
    ]


# --- date and time cells -------------------------------------------------------------------------


def test_a_time_cell_holding_the_whole_date_time_is_the_start(tmp_path: Path) -> None:
    # A workbook whose Start and End Time cells hold whole date-times shown as times (Excel's
    # "h:mm AM/PM" over 4 March 2026 13:00), beside a real date cell. Before: the date was put
    # in front of the date-time ('2026-03-04 2026-03-04 13:00:00') and the row rejected.
    rows = [
        [datetime(2026, 3, 4), datetime(2026, 3, 4, 13, 0), datetime(2026, 3, 4, 14, 30),
         "Hazel Quint", "Novak, Elena", "Ashiatsu 90", "Show", 5001, 135.0],
        ["3/4/2026", "3:00 PM", "4:00 PM", "Orin Vale", "Elena Novak", "Ashiatsu 60", "No-Show",
         "5002", "$95.00"],
    ]  # fmt: skip
    path = summary_book(tmp_path / "AppointmentSummary.xlsx", rows)
    book = openpyxl.load_workbook(path)
    for cell in ("B24", "C24"):
        book.active[cell].number_format = "h:mm AM/PM"
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    assert stored(db) == EXPECTED


def test_a_duration_cell_of_a_workbook_is_its_minutes(tmp_path: Path) -> None:
    # Durations as Excel keeps them: a time cell (1:30 -> '01:30:00') and an [h]:mm cell
    # (a timedelta -> '1:00:00'), beside the text '1h 30m'. Before: both cells were rejected,
    # "duration_minutes '01:30:00' is not a whole number > 0".
    header = ["Appointment Date", "Start Time", "Duration", "Customer", "Service Provider",
              "Service", "Status", "Appointment ID"]  # fmt: skip
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    sheet.append([datetime(2026, 3, 4), time(13, 0), time(1, 30), "Hazel Quint",
                  "Elena Novak", "Ashiatsu 90", "Show", 8001])  # fmt: skip
    sheet.append([datetime(2026, 3, 4), time(15, 0), timedelta(hours=1), "Orin Vale",
                  "Elena Novak", "Ashiatsu 60", "Show", 8002])  # fmt: skip
    sheet["C3"].number_format = "[h]:mm"
    sheet.append([datetime(2026, 3, 4), time(17, 0), "1h 30m", "Pia Lund", "Elena Novak",
                  "Ashiatsu 90", "Show", 8003])  # fmt: skip
    path = tmp_path / "AppointmentSummary.xlsx"
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    assert (result.rows_loaded, result.rows_rejected) == (3, 0), result.summary()
    # By hand: 13:00 + 90 = 14:30; 15:00 + 60 = 16:00; 17:00 + 90 = 18:30.
    assert [r[2:4] for r in query(db, "select booking_id, therapist_id, start_at::varchar, "
                                      "end_at::varchar from raw_bookings order by 1")] == [
        ("2026-03-04 13:00:00", "2026-03-04 14:30:00"),
        ("2026-03-04 15:00:00", "2026-03-04 16:00:00"),
        ("2026-03-04 17:00:00", "2026-03-04 18:30:00"),
    ]  # fmt: skip


def test_the_header_repeated_on_each_printed_page_is_no_appointment(tmp_path: Path) -> None:
    # A report laid out for printing repeats its header on each page. Before: the repeated
    # header was read as an appointment and rejected ("start_at 'Appointment Date Start
    # Time' is not a date-time"), one rejected row per page.
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Appointments Summary"])
    sheet.append(HEADER)
    sheet.append(ROWS[0])
    sheet.append(HEADER)  # page 2
    sheet.append(ROWS[1])
    sheet.append([None, None, None, None, None, None, "Total:", "2"])
    path = tmp_path / "AppointmentSummary.xlsx"
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping(tmp_path))
    # 2 appointments read: the repeated header and the totals row are neither.
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0), (
        result.summary()
    )
    assert stored(db) == EXPECTED
