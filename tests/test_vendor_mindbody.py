"""Mindbody exports as studios download them (issue 15): the XHTML appointments report (no
`<html>`/`<body>`, header cells in `<td>`, the staff name in `<span class="staffName">`, several
tables per staff member, subtotal and total tables, `Appt. Time`, long dates, `3:00&nbsp;pm`),
and Schedule at a Glance still read as before. Invented people only."""

from __future__ import annotations

import csv
from datetime import datetime, time
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from tests.hostile import PEAK_MB, SECONDS, run_cli
from tests.test_load import query

FIXTURES = Path(__file__).parent / "fixtures" / "vendors"
REPORT = FIXTURES / "StaffAppointments.xls"
GLANCE = FIXTURES / "ScheduleAtAGlance.xls"
SALT = "test-salt-not-secret"
DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    '<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />\n'
)


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pii.SALT_ENV, SALT)


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "mindbody.toml"
    path.write_text('[source]\nlocation = "L01"\n', encoding="utf-8")
    return path


def stored(db: Path) -> list[tuple]:
    """(start, end, therapist, service, status) of every stored booking, by start."""
    return query(
        db,
        "select start_at::varchar, end_at::varchar, therapist_id, service, status "
        "from raw_bookings order by start_at, therapist_id",
    )


def rejected(db: Path) -> list[tuple]:
    return query(db, "select line_number, reason from rejected_rows order by 1")


def report(*parts: str) -> str:
    return DOCTYPE + "\n".join(parts) + "\n"


def staff_header(name: str, detail: str = "Ashiatsu Sessions-- Eastside Pay rate: $40") -> str:
    return (
        f'<div class="staffHeader"><span class="staffName">{name}</span>\n'
        f'  <span class="staffDetail">{detail}</span></div>'
    )


def table(header: list[str], *rows: list[str]) -> str:
    lines = ["<table>", "<tr>" + "".join(f"<td>{h}</td>" for h in header) + "</tr>"]
    lines += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join([*lines, "</table>"])


PLAIN = ["Date", "Start Time", "End Time", "Client", "Appointment Type", "Status"]
ROW = ["7/18/2019", "9:00 AM", "10:00 AM", "Okafor, Maya", "Ashiatsu 60", "Completed"]


def load(tmp_path: Path, mapping: Path, text: str, name: str = "report.xls"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    return db, result


# --- the appointments report, whole -----------------------------------------------------------


def test_the_appointments_report_loads_as_the_studio_wrote_it(
    tmp_path: Path, mapping: Path
) -> None:
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [REPORT], mapping=mapping)
    assert result.outcome == "loaded", result.summary()
    assert result.format == "mindbody-html"
    # Worked out from the fixture by hand: Elena Novak has two appointments in her first table
    # and one in her second (no name div: still hers), Marcus Silva two; the Subtotal row,
    # the two "Total for ..." tables and the Grand Total are not appointments, so 5 rows read.
    # Ends are start + Duration; "Monday, July 29, 2019" + "3:00 pm" is 2019-07-29 15:00.
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 5, 0)
    assert stored(db) == [
        ("2019-07-02 16:00:00", "2019-07-02 17:30:00", "Marcus Silva", "Hot Stone 90", "cancelled"),
        ("2019-07-18 10:30:00", "2019-07-18 12:00:00", "Elena Novak", "Ashiatsu Deep Feet 90",
         "no_show"),
        ("2019-07-29 15:00:00", "2019-07-29 16:00:00", "Elena Novak", "Ashiatsu 60", "completed"),
        ("2019-07-30 13:15:00", "2019-07-30 14:15:00", "Elena Novak", "Swedish 60",
         "late_cancelled"),
        ("2019-07-31 09:00:00", "2019-07-31 10:00:00", "Marcus Silva", "Swedish 60", "completed"),
    ]  # fmt: skip
    assert rejected(db) == []


def test_loading_the_report_twice_adds_nothing(tmp_path: Path, mapping: Path) -> None:
    # No appointment id in this report: the key is a hash of staff, start and client, so a
    # copy of the file (different bytes: one more blank line) stores the same 5 bookings.
    db = tmp_path / "w.duckdb"
    copy = tmp_path / "StaffAppointments-again.xls"
    copy.write_text(REPORT.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    load_files(db, [REPORT], mapping=mapping)
    [again] = load_files(db, [copy], mapping=mapping)
    assert again.rows_loaded == 5
    assert len(stored(db)) == 5


# --- one finding each ---------------------------------------------------------------------------


def test_staff_name_is_read_from_its_element_not_the_text_around_it(
    tmp_path: Path, mapping: Path
) -> None:
    # Before: the text before the table was collapsed into one line and split on a double
    # space that could never be there, so the therapist was the whole staff header
    # ("Novak, Elena Ashiatsu Sessions-- Eastside Pay rate: $40").
    text = report(
        '<div class="reportTitle">Appointments by Staff</div>',
        staff_header("Novak, <b>Elena</b>"),
        table(PLAIN, ROW),
    )  # fmt: skip
    db, result = load(tmp_path, mapping, text)
    assert result.rows_loaded == 1, result.summary()
    # "Last, First" becomes "First Last"; the <b> inside the name is part of it.
    assert [r[2] for r in stored(db)] == ["Elena Novak"]


def test_later_tables_belong_to_the_last_named_staff_member(tmp_path: Path, mapping: Path) -> None:
    # Elena's second table has only a group heading before it: it is still hers, and the next
    # staff header starts Marcus's tables. Before: the second table's staff was the group
    # heading's text.
    text = report(
        staff_header("Novak, Elena"),
        table(PLAIN, ROW),
        '<div class="groupHeader">Swedish Sessions-- Eastside</div>',
        table(PLAIN, ["7/19/2019", "9:00 AM", "10:00 AM", "Kim, Ava", "Swedish 60", "Completed"]),
        staff_header("Silva, Marcus"),
        table(PLAIN, ["7/19/2019", "11:00 AM", "12:00 PM", "Brooks, Theo", "Swedish 60", "Booked"]),
        table(PLAIN, ["7/20/2019", "11:00 AM", "12:00 PM", "Garcia, Noah", "Swedish 60", "Booked"]),
    )  # fmt: skip
    db, result = load(tmp_path, mapping, text)
    assert (result.rows_read, result.rows_loaded) == (4, 4), result.summary()
    # By start: Elena 18th 9:00, Elena 19th 9:00, Marcus 19th 11:00, Marcus 20th 11:00.
    assert [r[2] for r in stored(db)] == [
        "Elena Novak", "Elena Novak", "Marcus Silva", "Marcus Silva"
    ]  # fmt: skip


def test_appt_time_is_the_start_time(tmp_path: Path, mapping: Path) -> None:
    # Before: "Appt. Time" matched no field (its dot), so every start was missing and the
    # file was refused.
    header = ["Appointment Date", "Appt. Time", "Duration", "Client Name", "Service", "Status"]
    text = report(
        staff_header("Novak, Elena"),
        table(header, ["7/18/2019", "3:00 PM", "90", "Okafor, Maya", "Ashiatsu 90", "Completed"]),
    )
    db, result = load(tmp_path, mapping, text)
    assert result.rows_loaded == 1, result.summary()
    # 3:00 PM + 90 minutes = 16:30
    assert stored(db)[0][:2] == ("2019-07-18 15:00:00", "2019-07-18 16:30:00")


def test_long_dates_and_times_with_a_non_breaking_space(tmp_path: Path, mapping: Path) -> None:
    # Before: "Monday, July 29, 2019" was no accepted date form, so the row was rejected.
    text = report(
        staff_header("Novak, Elena"),
        table(
            PLAIN,
            ["Monday, July 29, 2019", "3:00&nbsp;pm", "4:00&nbsp;pm", "Okafor, Maya", "A 60",
             "Completed"],
            ["July 30, 2019", "11:15&nbsp;am", "12:45&nbsp;pm", "Kim, Ava", "A 90", "Completed"],
        ),
    )  # fmt: skip
    db, result = load(tmp_path, mapping, text)
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    assert [r[:2] for r in stored(db)] == [
        ("2019-07-29 15:00:00", "2019-07-29 16:00:00"),
        ("2019-07-30 11:15:00", "2019-07-30 12:45:00"),
    ]


def test_a_time_cell_holding_the_slot_gives_start_and_end(tmp_path: Path, mapping: Path) -> None:
    header = ["Appointment Date", "Appt. Time", "Client Name", "Service", "Status"]
    slot = "3:00&nbsp;pm - 4:30&nbsp;pm"
    text = report(
        staff_header("Novak, Elena"),
        table(header, ["7/18/2019", slot, "Okafor, Maya", "Ashiatsu 90", "Completed"]),
    )
    db, result = load(tmp_path, mapping, text)
    assert result.rows_loaded == 1, result.summary()
    assert stored(db)[0][:2] == ("2019-07-18 15:00:00", "2019-07-18 16:30:00")


def test_subtotal_and_total_lines_are_not_appointments(tmp_path: Path, mapping: Path) -> None:
    # Before: a "Subtotal" row, a total row whose label sits in the second cell, and the row
    # of a "Total for" table that repeats the header's words were read as appointments and
    # rejected: 4 read, 1 loaded, 3 rejected. Now only the appointment is read.
    row = ["7/18/2019", "9:00 AM", "10:00 AM", "Okafor, Maya", "Ashiatsu 60", "Completed"]
    text = report(
        staff_header("Novak, Elena"),
        table(PLAIN, row, ["Subtotal", "", "", "1 appointment", "", ""],
              ["", "Total for Novak, Elena", "", "1", "", ""]),
        table(["Total for Novak, Elena"], PLAIN, ["7/18/2019", "", "", "1", "", "Completed"]),
        table(["Grand Total", "", "1 appointment"]),
    )  # fmt: skip
    db, result = load(tmp_path, mapping, text)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (1, 1, 0), (
        result.summary()
    )
    assert rejected(db) == []


def test_a_heading_names_the_table_under_it_not_the_page_title(
    tmp_path: Path, mapping: Path
) -> None:
    # Schedule at a Glance variants with no staffName element: the heading just before the
    # table names its staff. Before: every word since the last table, the title too.
    text = report(
        "<h2>Schedule at a Glance: 7/1/2019 - 7/31/2019</h2>",
        "<h3>Staff: Novak, Elena</h3>",
        table(PLAIN, ROW),
        "<h3>Silva, Marcus</h3>",
        table(PLAIN, ["7/18/2019", "11:00 AM", "12:00 PM", "Kim, Ava", "Swedish 60", "Booked"]),
    )  # fmt: skip
    db, _ = load(tmp_path, mapping, text)
    assert [r[2] for r in stored(db)] == ["Elena Novak", "Marcus Silva"]


def test_schedule_at_a_glance_still_reads(tmp_path: Path, mapping: Path) -> None:
    # The fixture: Elena's 3 and Marcus's 3 appointments under "Staff: Last, First" rows; the
    # "Total appointments" row is no appointment; "Rescheduled Online" is an unknown status.
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [GLANCE], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 5, 1)
    assert {r[2] for r in stored(db)} == {"Elena Novak", "Marcus Silva"}


# --- hostile ---------------------------------------------------------------------------------


def test_an_endless_staff_name_is_read_in_bounded_time_and_memory(tmp_path: Path) -> None:
    # 300,000 inline elements (4.2 MB) inside the second staffName span: its text is kept to
    # 240 characters as it streams by, and each element is dropped once read.
    path = tmp_path / "report.xls"
    endless = '<span class="staffName">' + "<b>Silva</b>, " * 300_000 + "</span>"
    row = ["7/18/2019", "9:00 AM", "10:00 AM", "Okafor, Maya", "Ashiatsu 60", "Completed"]
    text = report(
        staff_header("Novak, Elena"),
        table(PLAIN, row),
        f'<div class="staffHeader">{endless}</div>',
        table(PLAIN, row),
    )
    path.write_text(text)
    db = tmp_path / "w.duckdb"
    run = run_cli("load", str(path), "--db", str(db), "--location", "L01")
    assert run.returncode == 0, run.lines
    assert run.lines[0].endswith("2 rows read, 2 loaded, 0 rejected"), run.lines
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB, (run.seconds, run.peak_mb)
    print(f"{run.seconds:.2f} s, {run.peak_mb:.0f} MB")
    therapists = query(db, "select therapist_id from raw_bookings order by 1")
    assert therapists[0] == ("Elena Novak",)
    assert len(therapists[1][0]) <= 240


def test_client_names_never_reach_the_warehouse(tmp_path: Path, mapping: Path) -> None:
    # Every client of the fixture, as written there; the warehouse holds only their keys.
    db = tmp_path / "w.duckdb"
    load_files(db, [REPORT], mapping=mapping)
    con = duckdb.connect(str(db), read_only=True)
    try:
        text = " ".join(
            str(row)
            for table in ("raw_bookings", "rejected_rows", "load_runs")
            for row in con.execute(f"select * from {table}").fetchall()
        )
        clients = con.execute("select distinct client_id from raw_bookings").fetchall()
    finally:
        con.close()
    for name in ("Okafor", "Maya", "Brooks", "Theo", "Kim, Ava", "Garcia", "Noah", "Patel", "Zoe"):
        assert name not in text
    assert len(clients) == 5 and all(c.startswith("c_") for (c,) in clients)


# --- character sets ------------------------------------------------------------------------------

ACCENTED = [
    ["3/2/2026", "9:00 AM", "10:30 AM", "Dupré, Renée", "Ashiatsu 90 &amp; Hot Stone", "Completed"],
    ["3/2/2026", "11:00 AM", "12:00 PM", "O&#39;Brien, Seán", "Ashiatsu 60", "NoShow"],
]


def accented_page(charset: str | None) -> str:
    meta = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        if charset
        else ""
    )
    return f"<html><head>{meta}</head><body>\n" + "\n".join(
        ["<h3>Staff: Müller, Jürgen</h3>", table(PLAIN, *ACCENTED), "</body></html>"]
    )


def bookings_of(db: Path) -> list[tuple]:
    return query(
        db, "select booking_id, therapist_id, client_id, service from raw_bookings order by 1"
    )


@pytest.mark.parametrize("charset", ["windows-1252", "ISO-8859-1"])
def test_a_page_in_its_declared_windows_charset_reads_as_the_utf8_one(
    tmp_path: Path, mapping: Path, charset: str
) -> None:
    # The same report saved by Mindbody as UTF-8 and as Windows-1252 (declared in its meta;
    # browsers and Excel read ISO-8859-1 as Windows-1252 too). Before: the Windows-1252 bytes
    # were decoded as UTF-8 with replacement, so the therapist was 'J\ufffdrgen M\ufffdller' and
    # every client and booking id differed from the UTF-8 export's: one file made two
    # therapists and doubled each booking of the other.
    utf8 = tmp_path / "utf8" / "ScheduleAtAGlance.xls"
    windows = tmp_path / "windows" / "ScheduleAtAGlance.xls"
    utf8.parent.mkdir()
    windows.parent.mkdir()
    utf8.write_bytes(accented_page("utf-8").encode("utf-8"))
    windows.write_bytes(accented_page(charset).encode("cp1252"))
    [one] = load_files(tmp_path / "a.duckdb", [utf8], mapping=mapping)
    [other] = load_files(tmp_path / "b.duckdb", [windows], mapping=mapping)
    assert (one.rows_loaded, other.rows_loaded) == (2, 2), other.summary()
    expected = bookings_of(tmp_path / "a.duckdb")
    # "Müller, Jürgen" is "Jürgen Müller"; &amp; is "&".
    assert {(t, s) for _, t, _, s in expected} == {
        ("Jürgen Müller", "Ashiatsu 90 & Hot Stone"),
        ("Jürgen Müller", "Ashiatsu 60"),
    }
    assert bookings_of(tmp_path / "b.duckdb") == expected


def test_a_page_not_in_utf8_that_declares_no_charset_is_refused_with_its_line(
    tmp_path: Path, mapping: Path
) -> None:
    # No meta charset and a Windows-1252 byte (ü = 0xfc) on the page's second line ("<h3>Staff:
    # Müller..."): a guess could load wrong names, so the file is refused, naming the byte.
    path = tmp_path / "ScheduleAtAGlance.xls"
    path.write_bytes(accented_page(None).encode("cp1252"))
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert result.outcome == "failed"
    assert result.message == (
        "line 2: not UTF-8 text and the page declares no character set (byte 0xfc, perhaps "
        "Windows-1252 for 'ü'); export the report again, or open it in Excel and save it as "
        ".xlsx"
    )
    assert not db.exists() or stored(db) == []


# --- the report opened in Excel and saved as a workbook or CSV -----------------------------------

GLANCE_HEADER = ["Date", "Start Time", "End Time", "Client", "Appointment Type", "Room", "Status"]
# (staff row above the table or None, [(date, start, end, client, service, room, status)])
GLANCE_TABLES = [
    ("Staff: Novak, Elena", [
        ((2026, 3, 2), (9, 0), (10, 30), "Okafor, Maya", "Ashiatsu 90", "Willow", "Completed"),
        ((2026, 3, 2), (11, 0), (12, 0), "Brooks, Theo", "Ashiatsu Deep Feet 60", "Willow",
         "NoShow"),
    ]),
    ("Silva, Marcus", [
        ((2026, 3, 2), (9, 0), (10, 0), "Garcia, Noah", "Swedish 60", "Cedar", "Late Cancel"),
    ]),
    # a group heading, no staff row: still Marcus's table
    ("Swedish Sessions-- Eastside", [
        ((2026, 3, 3), (13, 15), (14, 15), "Kim, Ava", "Swedish 60", "Cedar", "Arrived"),
    ]),
]  # fmt: skip
# By hand: Elena 2 Mar 9:00-10:30 completed and 11:00-12:00 no_show; Marcus 2 Mar 9:00-10:00
# late_cancelled and 3 Mar 13:15-14:15 completed ("Arrived"); the totals are no appointments.
GLANCE_EXPECTED = [
    ("2026-03-02 09:00:00", "2026-03-02 10:30:00", "Elena Novak", "Ashiatsu 90", "completed"),
    ("2026-03-02 09:00:00", "2026-03-02 10:00:00", "Marcus Silva", "Swedish 60", "late_cancelled"),
    ("2026-03-02 11:00:00", "2026-03-02 12:00:00", "Elena Novak", "Ashiatsu Deep Feet 60",
     "no_show"),
    ("2026-03-03 13:15:00", "2026-03-03 14:15:00", "Marcus Silva", "Swedish 60", "completed"),
]  # fmt: skip


def glance_page() -> str:
    """The same appointments as Mindbody writes the report (HTML, text dates and times, the
    staff name in its staffName element, a group heading before a staff member's later
    table)."""
    parts = ["<h2>Schedule at a Glance: 3/1/2026 - 3/31/2026</h2>"]
    for above, rows in GLANCE_TABLES:
        cells = [
            [f"{m}/{d}/{y}", f"{a % 12 or 12}:{b:02d} {'PM' if a >= 12 else 'AM'}",
             f"{c % 12 or 12}:{e:02d} {'PM' if c >= 12 else 'AM'}", *rest]
            for (y, m, d), (a, b), (c, e), *rest in rows
        ]  # fmt: skip
        name = above.removeprefix("Staff: ")
        heading = f'<div class="groupHeader">{above}</div>' if "--" in above else staff_header(name)
        parts += [heading, table(GLANCE_HEADER, *cells)]
    return report(*parts)


def glance_book(path: Path) -> Path:
    """The same report opened in Excel and saved as .xlsx: a title row, each staff row merged
    across the table, dates and times made real date and time cells, a total row per table."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Schedule at a Glance: 3/1/2026 - 3/31/2026"])
    for above, rows in GLANCE_TABLES:
        sheet.append([])
        sheet.append([above])
        sheet.merge_cells(start_row=sheet.max_row, end_row=sheet.max_row, start_column=1,
                          end_column=len(GLANCE_HEADER))  # fmt: skip
        sheet.append(GLANCE_HEADER)
        for day, start, end, *rest in rows:
            sheet.append([datetime(*day), time(*start), time(*end), *rest])
        sheet.append([f"Total appointments: {len(rows)}"])
    sheet.append(["Grand Total: 4"])
    book.save(path)
    return path


def booking_rows(db: Path) -> list[tuple]:
    return query(db, "select booking_id, client_id, start_at from raw_bookings order by 1")


def test_the_report_saved_from_excel_as_xlsx_loads_as_the_html_one(
    tmp_path: Path, mapping: Path
) -> None:
    # A binary .xls is refused with "open it and save it as .xlsx or CSV"; the HTML report
    # opened in Excel and saved as .xlsx is one sheet: staff rows ("Staff: Novak, Elena", or
    # "Silva, Marcus" alone), a header row per table, real date and time cells, totals.
    # Before: its title row was taken for a header, and the file was refused ("the header
    # matches no known export"). Now it is read as the report, and its bookings are the HTML
    # report's, ids and client keys included (so a month saved as .xlsx and a year as HTML
    # overlap without duplicates).
    book = glance_book(tmp_path / "ScheduleAtAGlance.xlsx")
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [book], mapping=mapping)
    assert result.format == "mindbody-xlsx", result.summary()
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    assert stored(db) == GLANCE_EXPECTED
    page = tmp_path / "ScheduleAtAGlance.xls"
    page.write_text(glance_page(), encoding="utf-8")
    html_db = tmp_path / "html.duckdb"
    [html] = load_files(html_db, [page], mapping=mapping)
    assert html.rows_loaded == 4, html.summary()
    assert booking_rows(db) == booking_rows(html_db)
    # the HTML report loaded on top of its .xlsx copy adds nothing
    load_files(db, [page], mapping=mapping)
    assert len(stored(db)) == 4


def glance_csv(path: Path, tables: list = GLANCE_TABLES) -> Path:
    """The report opened in Excel and saved as CSV: a title row, each table under its staff
    row (or group heading), text dates and 24-hour times, a total row per table."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["Schedule at a Glance: 3/1/2026 - 3/31/2026", "", ""])
        for above, rows in tables:
            out.writerow([above, "", ""])
            out.writerow(GLANCE_HEADER)
            for (y, m, d), (a, b), (c, e), *rest in rows:
                out.writerow([f"{m}/{d}/{y}", f"{a}:{b:02d}", f"{c}:{e:02d}", *rest])
            out.writerow([f"Total appointments: {len(rows)}", "", ""])
    return path


def test_the_report_saved_from_excel_as_csv_loads_too(tmp_path: Path, mapping: Path) -> None:
    path = glance_csv(tmp_path / "ScheduleAtAGlance.csv")
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert result.format == "mindbody-csv", result.summary()
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    assert stored(db) == GLANCE_EXPECTED


def test_a_group_heading_with_a_comma_names_nobody(tmp_path: Path, mapping: Path) -> None:
    # A group heading whose session type has a comma ("Massage, Bodywork-- Eastside", in
    # Mindbody's "type-- location" form) reads like "Last, First" but names nobody: its table
    # is still Marcus's. Before, "Bodywork-- Eastside Massage" became the therapist of the
    # 3 March appointment, in silence.
    tables = [*GLANCE_TABLES[:2], ("Massage, Bodywork-- Eastside", GLANCE_TABLES[2][1])]
    path = glance_csv(tmp_path / "ScheduleAtAGlance.csv", tables)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    # By hand: the same four appointments as GLANCE_EXPECTED, 3 March 13:15 Marcus's.
    assert stored(db) == GLANCE_EXPECTED


# --- a day's date once over its appointments -----------------------------------------------------


def test_a_date_spanning_the_days_rows_dates_each_of_them(tmp_path: Path, mapping: Path) -> None:
    # The date cell spans the day's three rows (rowspan="3"), as a report grouped by day
    # lays it out; a note spans two columns (colspan) in the last row. Before: the rows
    # under the first had one cell fewer, so their cells shifted left (the start time read
    # as the date) and both were rejected.
    text = report(
        staff_header("Novak, Elena"),
        "<table>",
        "<tr><th>Date</th><th>Start Time</th><th>End Time</th><th>Client</th>"
        "<th>Appointment Type</th><th>Status</th></tr>",
        '<tr><td rowspan="3">3/2/2026</td><td>9:00 AM</td><td>10:30 AM</td>'
        "<td>Okafor, Maya</td><td>Ashiatsu 90</td><td>Completed</td></tr>",
        "<tr><td>11:00 AM</td><td>12:00 PM</td><td>Brooks, Theo</td><td>Ashiatsu 60</td>"
        "<td>NoShow</td></tr>",
        '<tr><td>1:00 PM</td><td colspan="2">2:00 PM</td><td>Swedish 60</td>'
        "<td>Confirmed</td></tr>",
        "<tr><td>3/3/2026</td><td>9:00 AM</td><td>10:00 AM</td><td>Kim, Ava</td>"
        "<td>Swedish 60</td><td>Late Cancel</td></tr>",
        "</table>",
    )
    db, result = load(tmp_path, mapping, text)
    # By hand: three rows on 2 March (the spanned date), the third with End Time 14:00 and a
    # blank client (its colspan took the Client column: rejected for its missing client),
    # and 3 March's row.
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 3, 1), (
        result.summary()
    )
    assert stored(db) == [
        ("2026-03-02 09:00:00", "2026-03-02 10:30:00", "Elena Novak", "Ashiatsu 90", "completed"),
        ("2026-03-02 11:00:00", "2026-03-02 12:00:00", "Elena Novak", "Ashiatsu 60", "no_show"),
        ("2026-03-03 09:00:00", "2026-03-03 10:00:00", "Elena Novak", "Swedish 60",
         "late_cancelled"),
    ]  # fmt: skip
    [(line, reason)] = rejected(db)
    assert "client" in reason, reason


def test_rows_under_a_days_heading_take_its_date(tmp_path: Path, mapping: Path) -> None:
    # A report with no Date column: each day's appointments sit under a one-cell heading
    # ("Monday, March 2, 2026"). Before: the headings were skipped and every row, having a
    # time and no date, was rejected.
    header = ["Appt. Time", "Duration", "Client Name", "Appointment Type", "Status"]
    text = report(
        staff_header("Novak, Elena"),
        table(
            header,
            ["Monday, March 2, 2026"],
            ["9:00 am", "90", "Okafor, Maya", "Ashiatsu 90", "Completed"],
            ["11:00 am", "60", "Brooks, Theo", "Ashiatsu 60", "Arrived"],
            ["Tuesday, March 3, 2026"],
            ["3:00&nbsp;pm", "60", "Kim, Ava", "Swedish 60", "Cancelled"],
            ["Subtotal", "", "210", "3 appointments", ""],
        ),
    )
    db, result = load(tmp_path, mapping, text)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 3, 0), (
        result.summary()
    )
    # By hand: ends are start + Duration.
    assert stored(db) == [
        ("2026-03-02 09:00:00", "2026-03-02 10:30:00", "Elena Novak", "Ashiatsu 90", "completed"),
        ("2026-03-02 11:00:00", "2026-03-02 12:00:00", "Elena Novak", "Ashiatsu 60", "completed"),
        ("2026-03-03 15:00:00", "2026-03-03 16:00:00", "Elena Novak", "Swedish 60", "cancelled"),
    ]


def test_hostile_spans_are_laid_out_in_bounded_time_and_memory(tmp_path: Path) -> None:
    # 300 rows of 1,000 cells, each spanning 1,000 columns and 65,534 rows: laid out as
    # written, every row would push the next one's cells further right (row k about 1,000 k
    # cells wide). A row is at most 1,000 columns wide, so the file (7 MB) is read in
    # seconds: no client in any of its rows, each is rejected.
    path = tmp_path / "report.xls"
    row = "<tr>" + '<td colspan="1000" rowspan="65534">x</td>' * 1000 + "</tr>\n"
    path.write_text(
        report(staff_header("Novak, Elena"), table(PLAIN), row * 300).replace("</table>\n", "")
        + "</table>",
        encoding="utf-8",
    )
    run = run_cli("load", str(path), "--db", str(tmp_path / "w.duckdb"), "--location", "L01")
    assert run.returncode == 1, run.lines
    assert "every row was rejected" in run.lines[0], run.lines
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB, (run.seconds, run.peak_mb)
