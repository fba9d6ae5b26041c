# ruff: noqa: E501 (the fixtures are export lines, as long as the vendor writes them)
"""Square Appointments exports as studios keep them: the history saved as a workbook, whose
dates and times are real date and time cells. Invented people only; the expected rows are
worked out by hand in each test."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import openpyxl
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from tests.test_load import query

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
    return query(
        db,
        "select booking_id, therapist_id, room_id, start_at::varchar, end_at::varchar, "
        "status from raw_bookings order by booking_id",
    )


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


# --- timecards -----------------------------------------------------------------------------------

TIMECARDS = """Team Member,Team Member ID,Location,Job Title,Clock In Date,Clock In Time,Clock Out Date,Clock Out Time,Regular Hours,Overtime Hours,Paid Break Hours,Unpaid Break Hours,Total Paid Hours
"Novak, Elena",TM1,Eastside Loft,Therapist,03/02/2026,9:00 AM,03/02/2026,5:30 PM,8.00,0.00,0.00,0.50,8.00
Elena Novak,TM1,Eastside Loft,Therapist,03/03/2026,10:00 AM,03/03/2026,8:15 PM,8.00,1.25,0.25,0.50,9.75
Marcus Silva,TM2,Eastside Loft,Therapist,03/03/2026,6:00 PM,03/04/2026,1:00 AM,6.50,0.00,0.00,0.50,6.50
Marcus Silva,TM2,Eastside Loft,Therapist,03/05/2026,9:00 AM,,,,,,,
Marcus Silva,TM2,Eastside Loft,Therapist,03/06/2026,9:00 AM,03/06/2026,1:00 PM,4.00,0.00,n/a,0.00,4.00
"""


def test_timecards_load_as_shifts_with_both_kinds_of_break(tmp_path: Path) -> None:
    # Square's Timecards export: the day and time clocked in and out, the hours split into
    # regular and overtime (for pay), breaks into paid and unpaid hours. Before: the file was
    # refused ("the header matches no known export"), so no Square studio had shifts, and
    # therapist utilization was empty.
    path = tmp_path / "timecards.csv"
    path.write_text(TIMECARDS, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    # One location in the file's Location column: --location says which id it is.
    [result] = load_files(db, [path], location="L01")
    assert result.format == "square-timecards-csv", result.summary()
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    # By hand: 2 March 9:00-17:30 with a 0.50 h unpaid break: 510 - 30 = 480 scheduled
    # minutes (Square's 8.00 paid hours); 3 March 10:00-20:15 with 0.25 h paid and 0.50 h
    # unpaid: 615 - 15 - 30 = 570 (a paid break is no time for a session either). Bar
    # training is unknown (NULL), never "no". "Novak, Elena" is "Elena Novak".
    assert query(
        db,
        "select date::varchar, location_id, therapist_id, shift_start::varchar, "
        "shift_end::varchar, break_minutes, bar_trained from raw_therapist_shifts order by 1",
    ) == [
        ("2026-03-02", "L01", "Elena Novak", "09:00:00", "17:30:00", 30, None),
        ("2026-03-03", "L01", "Elena Novak", "10:00:00", "20:15:00", 45, None),
    ]
    assert query(
        db, "select date::varchar, scheduled_minutes from fct_therapist_days order by 1"
    ) == [("2026-03-02", 480), ("2026-03-03", 570)]
    # The shift past midnight, the open timecard and the break that is no number of hours,
    # each with its reason (the first says what the time is and what to do, never that
    # '01:00 on 2026-03-04' is no time; the second that it is still open).
    assert query(db, "select line_number, reason from rejected_rows order by 1") == [
        (
            4,
            "the shift ends past midnight, at 01:00 on 2026-03-04: a shift is one day's, so "
            "split it at midnight (a row for each day) to load it",
        ),
        # clocked in on 5 March at 9:00, no clock-out cells yet (was: "shift_end '' is not
        # a time (expected HH:MM)")
        (
            5,
            "the timecard has no clock-out yet (still clocked in): it loads once the shift is "
            "clocked out in Square and exported again",
        ),
        (6, "break_minutes 'n/a + 0.00' is not a whole number >= 0"),
    ]


def test_timecards_of_a_location_nothing_knows_are_refused_whole(tmp_path: Path) -> None:
    # Two locations in the Location column and nothing (profile, mapping, warehouse) that
    # says which ids they are: the file is refused in one line naming the first, never a new
    # location.
    path = tmp_path / "timecards.csv"
    path.write_text(
        TIMECARDS + TIMECARDS.splitlines()[1].replace("Eastside Loft", "Westside") + "\n",
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], location="L01")
    assert result.outcome == "failed"
    assert result.message == (
        "location 'Eastside Loft' is not known: add it to the studio profile or to "
        "[locations] in the mapping"
    )


def test_a_blank_bar_training_in_a_shift_file_is_unknown_and_a_wrong_word_rejected(
    tmp_path: Path,
) -> None:
    # What timecards need (they never say), in a native shift file too: a blank bar_trained
    # cell loads as unknown (NULL, as the studio profile's), a word that is no yes/no is
    # still rejected. Before: the blank cell was rejected too, and the shift's minutes lost.
    path = tmp_path / "shifts.csv"
    path.write_text(
        "date,location_id,therapist_id,bar_trained,shift_start,shift_end\n"
        "2026-03-02,L01,Elena Novak,,09:00,17:00\n"
        "2026-03-02,L01,Marcus Silva,maybe,09:00,17:00\n"
        "2026-03-03,L01,Elena Novak,yes,09:00,13:00\n",
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path])
    assert (result.rows_loaded, result.rows_rejected) == (2, 1), result.summary()
    assert query(db, "select date::varchar, bar_trained from raw_therapist_shifts order by 1") == [
        ("2026-03-02", None),
        ("2026-03-03", True),
    ]
    assert query(db, "select line_number, reason from rejected_rows") == [
        (3, "bar_trained 'maybe' is not a yes/no value (true/false, yes/no, y/n, 1/0)")
    ]


# --- UTC times -----------------------------------------------------------------------------------

UTC_EXPORT = """Appointment ID,Start Time,End Time,Team Member,Customer,Service,Status
z-1,2026-03-02T17:00:00Z,2026-03-02T18:30:00Z,Elena Novak,Hazel Quint,Ashiatsu 90,NO_SHOW
z-2,2026-07-01T16:00:00Z,2026-07-01T17:00:00Z,Elena Novak,Orin Vale,Ashiatsu 60,NO_SHOW
z-3,2026-03-03T10:00:00-07:00,2026-03-03T11:00:00-07:00,Elena Novak,Pia Lund,Swedish 60,NO_SHOW
"""


def test_utc_times_become_the_locations_wall_clock(tmp_path: Path) -> None:
    # An export written from Square's API gives UTC ('Z'). Before: the Z was dropped and 17:00
    # UTC stored as 17:00 in the studio, 7 hours late in Denver, with no word said.
    path = tmp_path / "appointments.csv"
    path.write_text(UTC_EXPORT, encoding="utf-8")
    mapping = tmp_path / "square.toml"
    mapping.write_text('[source]\nlocation = "L01"\ntimezone = "America/Denver"\n')
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (3, 0), result.summary()
    # By hand: 2 March is MST (UTC-7): 17:00Z is 10:00, 18:30Z 11:30; 1 July is MDT
    # (UTC-6): 16:00Z is 10:00. A time with its offset is the wall-clock as written.
    assert [r[3:5] for r in stored(db)] == [
        ("2026-03-02 10:00:00", "2026-03-02 11:30:00"),
        ("2026-07-01 10:00:00", "2026-07-01 11:00:00"),
        ("2026-03-03 10:00:00", "2026-03-03 11:00:00"),
    ]


def test_utc_times_written_with_a_space_or_the_word_utc_are_placed_too(tmp_path: Path) -> None:
    # UTC written as a database or a spreadsheet writes it ('2026-03-02 17:00:00Z',
    # '2026-03-02 19:00:00 UTC'), not only as Square's API does ('T'). Before, such a cell was
    # taken for UTC but not read, and its row rejected as 'start_at is missing'.
    path = tmp_path / "appointments.csv"
    path.write_text(
        "Appointment ID,Start Time,End Time,Team Member,Customer,Service,Status\n"
        "s-1,2026-03-02 17:00:00Z,2026-03-02 18:30:00Z,Elena Novak,Hazel Quint,Ashiatsu 90,"
        "NO_SHOW\n"
        "s-2,2026-03-02 19:00:00 UTC,2026-03-02 20:00 UTC,Elena Novak,Orin Vale,Ashiatsu 60,"
        "NO_SHOW\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "square.toml"
    mapping.write_text('[source]\nlocation = "L01"\ntimezone = "America/Denver"\n')
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    # By hand: 2 March is MST (UTC-7): 17:00 UTC is 10:00, 18:30 11:30, 19:00 12:00,
    # 20:00 13:00.
    assert [r[3:5] for r in stored(db)] == [
        ("2026-03-02 10:00:00", "2026-03-02 11:30:00"),
        ("2026-03-02 12:00:00", "2026-03-02 13:00:00"),
    ]


def test_utc_times_of_a_location_without_a_time_zone_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "appointments.csv"
    path.write_text(UTC_EXPORT, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], location="L01")
    # The two UTC rows cannot be placed in a day without the zone; the row with its offset
    # loads as written.
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    assert [r[0] for r in stored(db)] == ["z-3"]
    assert query(db, "select line_number, reason from rejected_rows order by 1") == [
        (line, f"the time '{when}' is in UTC and this location's time zone is unknown (set "
         "timezone in the studio profile, or [source] timezone in the mapping)")
        for line, when in ((2, "2026-03-02T17:00:00Z"), (3, "2026-07-01T16:00:00Z"))
    ]  # fmt: skip


def test_a_utc_time_at_a_location_nothing_knows_is_rejected_for_its_location(
    tmp_path: Path,
) -> None:
    # A Location column naming two locations: 'Eastside' the studio profile knows (in
    # Denver), 'Westside Spa' nothing knows. The second's row is rejected because its
    # location is not known, the reason every export gives such a row; before, it said its
    # time zone was unknown and to set one in the studio profile, which has no such location
    # to set it on.
    path = tmp_path / "appointments.csv"
    path.write_text(
        "Appointment ID,Start Time,End Time,Team Member,Customer,Service,Status,Location\n"
        "w-1,2026-03-02T17:00:00Z,2026-03-02T18:30:00Z,Elena Novak,Hazel Quint,Ashiatsu 90,"
        "NO_SHOW,Eastside\n"
        "w-2,2026-03-02T19:00:00Z,2026-03-02T20:00:00Z,Elena Novak,Orin Vale,Ashiatsu 60,"
        "NO_SHOW,Westside Spa\n",
        encoding="utf-8",
    )
    profile = tmp_path / "studio.toml"
    profile.write_text(
        '[[location]]\nid = "L01"\nname = "Eastside"\ntimezone = "America/Denver"\n',
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    _, result = load_files(db, [profile, path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    # By hand: 2 March is MST (UTC-7): 17:00Z is 10:00 in Denver.
    assert [r[0] + r[3] for r in stored(db)] == ["w-12026-03-02 10:00:00"]
    assert query(db, "select line_number, reason from rejected_rows") == [
        (
            3,
            "location 'Westside Spa' is not known: add it to the studio profile or to "
            "[locations] in the mapping",
        )
    ]


def test_inspect_says_timecards_load_with_bar_training_unknown(tmp_path: Path) -> None:
    # Before: inspect listed "bar_trained: required, and no column holds it" for a file
    # whose rows load.
    from tests.hostile import run_cli

    path = tmp_path / "timecards.csv"
    path.write_text(TIMECARDS, encoding="utf-8")
    run = run_cli("inspect", str(path), "--location", "L01")
    assert run.returncode == 0, run.lines
    assert "read as: therapist_shifts (square-timecards-csv)" in run.lines, run.lines
    assert (
        "  bar_trained: not in this export; bar training stays unknown (the studio profile's "
        "therapists can say it)"
    ) in run.lines, run.lines
    assert not any("required, and no column holds it" in line for line in run.lines)


def test_dates_with_month_names_and_times_with_seconds_load(tmp_path: Path) -> None:
    # Before: 'Mar 2, 2026' and 'Tue, Mar 3, 2026' (+ '10:00 AM'), '9:15:00 AM' and '10:15AM'
    # were no accepted form, and their rows were rejected.
    path = tmp_path / "appointments.csv"
    path.write_text(
        "Appointment ID,Date,Start Time,End Time,Team Member,Customer,Service,Status\n"
        'n-1,"Mar 2, 2026",10:00 AM,11:30 AM,Elena Novak,Hazel Quint,Ashiatsu 90,NO_SHOW\n'
        'n-2,"Tue, Mar 3, 2026",1:00 PM,2:00 PM,Elena Novak,Orin Vale,Ashiatsu 60,NO_SHOW\n'
        "n-3,03/04/2026,9:15:00 AM,10:15AM,Elena Novak,Pia Lund,Swedish 60,NO_SHOW\n",
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], location="L01")
    assert (result.rows_loaded, result.rows_rejected) == (3, 0), result.summary()
    assert [r[3:5] for r in stored(db)] == [
        ("2026-03-02 10:00:00", "2026-03-02 11:30:00"),
        ("2026-03-03 13:00:00", "2026-03-03 14:00:00"),
        ("2026-03-04 09:15:00", "2026-03-04 10:15:00"),
    ]
