"""Hardening (issue 13, items 2 and 16): no client PII in rejected rows, from any format, and a
rejected row's raw text capped.

Every format the loader reads gets a small generated export holding one valid booking and
rejected rows that carry a fake client's name, email and phone: a wrong number of fields, a bad
date, an unknown status. Nothing of that client may reach any table or the warehouse bytes.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pytest
import streamlit as st

from pipelines.demo import vendor_writers
from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from pipelines.ingest.validate import RAW_ROW_LIMIT
from pipelines.settings import Settings
from tests.hostile import PEAK_MB, SECONDS, run_cli
from tests.test_load import BOOKING_HEADER, booking, write_csv
from tests.test_security import assert_no_needles

SALT = "hardening-pii-salt"
# The fake client of the rejected rows, and every piece of it that must never be stored.
NAME, EMAIL, PHONE = "Zebulon Quillfeather", "zeb.quill@example.net", "+1 (303) 555-0147"
NEEDLES = ["Zebulon", "Quillfeather", "zeb.quill", "555-0147", "5550147", "3035550147"]
# vendor_writers makes a client's name and email from its id: "<First> <Last> Quillfeather7"
# and "quillfeather7@example.com", so the needle "Quillfeather" covers both.
CLIENT = "Quillfeather7"
VENDOR_MAPPING = """
[source]
location = "L01"
[acuity]
calendar = "therapist"
[fresha]
rooms = ["L01-R1"]
[ics]
location_is = "room"
"""


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(pii.SALT_ENV, SALT)
    return SALT


def stored(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def rejected(db: Path) -> dict[int, tuple[str, str]]:
    """line -> (reason, raw_row) of every rejected row."""
    rows = stored(db, "select line_number, reason, raw_row from rejected_rows")
    return {line: (reason, raw) for line, reason, raw in rows}


# --- native exports ---------------------------------------------------------------------------

NATIVE_HEADER = [*BOOKING_HEADER, "client_name", "client_phone"]


def native_rows() -> list[dict[str, str]]:
    """Line 2 valid (client_id an email), line 3 a bad date (client_id a phone), line 4 an
    unknown status (client_id an email): all three carry the client in ignored columns too."""
    pii_cells = {"client_name": NAME, "client_phone": PHONE}
    return [
        {**booking(booking_id="B1", client_id=EMAIL), **pii_cells},
        {**booking(booking_id="B2", client_id=PHONE, start_at="02/03/2026"), **pii_cells},
        {**booking(booking_id="B3", client_id=EMAIL.upper(), status="vanished"), **pii_cells},
    ]


def test_native_csv_hashes_a_contact_client_id_and_keeps_none_in_rejected_rows(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    export = write_csv(tmp_path / "a.csv", NATIVE_HEADER, native_rows())  # the fast path
    [result] = load_files(db, [export], Settings())
    assert (result.rows_loaded, result.rows_rejected) == (1, 2)
    # stored as the key of that email (sha256 of salt + "e:" + the lowercased address)
    assert stored(db, "select client_id from raw_bookings") == [
        (pii.client_key(SALT, EMAIL, None, None),)
    ]
    rows = rejected(db)
    assert set(rows) == {3, 4}
    # the client_id cell of a rejected row is its key too: the phone's digits, the email
    # lowercased (so B3's upper-case address gives the same key as B1's)
    assert pii.client_key(SALT, None, PHONE, None) in rows[3][1]
    assert pii.client_key(SALT, EMAIL, None, None) in rows[4][1]
    assert_no_needles(db, NEEDLES)


def test_native_wrong_width_rows_are_masked_in_every_container(tmp_path: Path) -> None:
    """CSV (careful path), xlsx and parquet: rows rejected before the columns are known."""
    header = NATIVE_HEADER
    rows = native_rows()
    # CSV: line 5 has three extra cells (name, email, phone), so the fast read gives way to
    # the careful one, which rejects that row alone.
    csv_path = write_csv(tmp_path / "a.csv", header, rows)
    with open(csv_path, "a", newline="", encoding="utf-8") as handle:
        cells = [booking(booking_id="B4", client_id=EMAIL).get(c, "") for c in header]
        csv.writer(handle).writerow([*cells, NAME, EMAIL, PHONE])
    # xlsx: the same rows; row 5 has the extra cells
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(c, "") for c in header])
    sheet.append([*cells, NAME, EMAIL, PHONE])
    book.save(tmp_path / "b.xlsx")
    # parquet has no wrong-width rows: the bad-date and unknown-status rows only
    with duckdb.connect() as con:
        frame_rows = [[row.get(c, "") for c in header] for row in rows]
        con.execute(
            "create table t as select * from (values "
            + ", ".join("(" + ", ".join("?" * len(header)) + ")" for _ in frame_rows)
            + ") as v(" + ", ".join(header) + ")",
            [cell for row in frame_rows for cell in row],
        )  # fmt: skip
        con.execute(f"copy t to '{tmp_path / 'c.parquet'}' (format parquet)")

    db = tmp_path / "w.duckdb"
    results = load_files(db, [csv_path, tmp_path / "b.xlsx", tmp_path / "c.parquet"], Settings())
    assert [(r.format, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("native-csv", 1, 3),
        ("native-xlsx", 1, 3),
        ("native-parquet", 1, 2),
    ]
    wide = stored(db, "select raw_row from rejected_rows where reason like 'expected%'")
    assert len(wide) == 2
    for (raw,) in wide:
        # the cells are kept where they are plainly not a person (ids, dates, prices), the
        # rest masked: the email and phone by their shape, the name and service as text
        assert raw.startswith("B4,L01,L01-R1,L01-T01,[email],[text],true,2024-03-04 10:00")
        assert raw.endswith(",[text],[email],[phone]")
    assert_no_needles(db, NEEDLES)


# --- vendor exports ---------------------------------------------------------------------------


def vendor_rows() -> list[dict[str, str]]:
    """Three bookings of the fake client on different days, for vendor_writers."""
    rows = []
    for number, day in enumerate((2, 9, 16), start=1):
        rows.append(
            {
                "booking_id": f"90{number}",
                "location_id": "L01",
                "room_id": "L01-R1",
                "therapist_id": "L01-T01",
                "client_id": CLIENT,
                "service": "Ashiatsu 60",
                "start_at": f"2026-03-{day:02d} 10:00:00",
                "end_at": f"2026-03-{day:02d} 11:00:00",
                "status": "completed",
                "created_at": "2026-02-01 09:00:00",
                "price": "95.00",
            }
        )
    return rows


# For each CSV vendor: the file the writer makes, its start column, its status column (None:
# the export has none) and its phone column (None: none).
CSV_VENDORS = {
    "acuity": ("schedule.csv", "Start Time", None, "Phone"),
    "calendly": ("events.csv", "Start Date & Time", None, "Text Reminder Number"),
    "fresha": ("appointments.csv", "Scheduled date", "Status", None),
    "square": ("appointments-history.csv", "Date", "Status", None),
    "jane": ("appointments-report.csv", "Date", "State", None),
}


def spoil_csv(path: Path, start: str, status: str | None, phone: str | None) -> None:
    """Row 2 gets a bad start date, row 3 an unknown status (or a bad date), and a fourth row
    with three extra cells (the client's name, email and phone) is added."""
    with open(path, encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    if phone:
        for row in rows:
            row[header.index(phone)] = PHONE
    rows[1][header.index(start)] = "not a date"
    if status:
        rows[2][header.index(status)] = "Vanished"
    else:
        rows[2][header.index(start)] = "31/31/2026"
    rows.append([*rows[0], NAME, EMAIL, PHONE])
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])


@pytest.mark.parametrize("vendor", sorted(CSV_VENDORS))
def test_csv_vendor_rejected_rows_hold_no_client_details(tmp_path: Path, vendor: str) -> None:
    folder = tmp_path / vendor
    folder.mkdir()
    writer = getattr(vendor_writers, f"_write_{vendor}")
    writer(folder, vendor_rows(), today=date(2026, 4, 1), zone="UTC")
    file_name, start, status, phone = CSV_VENDORS[vendor]
    spoil_csv(folder / file_name, start, status, phone)
    mapping = tmp_path / "m.toml"
    mapping.write_text(VENDOR_MAPPING)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [folder / file_name], Settings(), mapping=mapping)
    assert result.format.startswith(vendor)
    assert (result.rows_loaded, result.rows_rejected) == (1, 3)
    # the wrong-width row (line 5) keeps its plain cells and masks the client's
    [wide] = [raw for reason, raw in rejected(db).values() if reason.startswith("expected")]
    assert "[email]" in wide and "[phone]" in wide and "901" in wide
    assert_no_needles(db, NEEDLES)


def test_vagaro_mindbody_and_calendar_rejected_rows_hold_no_client_details(
    tmp_path: Path,
) -> None:
    rows = vendor_rows()
    # Vagaro: one workbook per status word; rows 25 and 26 get an unknown status and a bad date
    vagaro = tmp_path / "vagaro"
    vagaro.mkdir()
    vendor_writers._write_vagaro(vagaro, rows)
    book = openpyxl.load_workbook(vagaro / "AppointmentSummary.xlsx")
    sheet = book.active
    sheet["I25"], sheet["A26"] = "Vanished", "not a date"  # Status, Appointment Date
    book.save(vagaro / "AppointmentSummary.xlsx")
    # Mindbody: the second row's status becomes unknown, the third's date unreadable
    mindbody = tmp_path / "mindbody"
    mindbody.mkdir()
    vendor_writers._write_mindbody(mindbody, rows)
    page = (mindbody / "ScheduleAtAGlance.xls").read_text(encoding="utf-8")
    first = page.index("<td>Completed</td>")
    second = page.index("<td>Completed</td>", first + 1)
    page = page[:second] + "<td>Vanished</td>" + page[second + len("<td>Completed</td>") :]
    page = page.replace("<td>3/16/2026</td>", "<td>31/31/2026</td>")
    (mindbody / "ScheduleAtAGlance.xls").write_text(page, encoding="utf-8")
    # Calendar: the second event's start is unreadable, the third's SUMMARY has no " - "
    ics = tmp_path / "ics"
    ics.mkdir()
    vendor_writers._write_ics(ics, rows, zone="UTC")
    text = (ics / "L01-T01.ics").read_bytes().decode()
    text = text.replace("DTSTART:20260309T100000Z", "DTSTART:not a date")
    head, tail = text.rsplit("SUMMARY:Ashiatsu 60 - ", 1)
    text = head + f"SUMMARY:{NAME} {PHONE}\r\n" + tail.split("\r\n", 1)[1]
    (ics / "L01-T01.ics").write_bytes(text.encode())
    mapping = tmp_path / "m.toml"
    mapping.write_text(VENDOR_MAPPING)
    db = tmp_path / "w.duckdb"
    files = [vagaro / "AppointmentSummary.xlsx", mindbody / "ScheduleAtAGlance.xls"]
    results = load_files(db, [*files, ics / "L01-T01.ics"], Settings(), mapping=mapping)
    assert [(r.format, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("vagaro-xlsx", 1, 2),
        ("mindbody-html", 1, 2),
        ("ics", 1, 2),
    ]
    assert_no_needles(db, NEEDLES)


def test_a_mapped_export_rejected_rows_hold_no_client_details(tmp_path: Path) -> None:
    export = tmp_path / "legacy.csv"
    export.write_text(
        "Appt #,Day,From,Until,Guest,Guest Mail,Guest Phone,Therapist,Treatment,Result\n"
        f"7001,2026-03-02,09:00,10:30,{NAME},{EMAIL},{PHONE},L01-T01,Ashiatsu 90,Done\n"
        f"7002,2026-13-45,09:00,10:30,{NAME},{EMAIL},{PHONE},L01-T01,Ashiatsu 90,Done\n"
        f"7003,2026-03-03,09:00,10:30,{NAME},{EMAIL},{PHONE},L01-T01,Ashiatsu 90,Vanished\n"
        f'7004,2026-03-04,09:00,10:30,"Quillfeather, Zebulon",{EMAIL},{PHONE},L01-T01,Done\n',
        encoding="utf-8",
    )  # line 5 lacks its Treatment: one field short, and its cells shifted
    mapping = tmp_path / "legacy.toml"
    mapping.write_text(
        '[source]\nname = "legacy"\nlocation = "L01"\n[columns]\nbooking_id = "Appt #"\n'
        'start_date = "Day"\nstart_time = "From"\nend_time = "Until"\nclient_name = "Guest"\n'
        'client_email = "Guest Mail"\nclient_phone = "Guest Phone"\n'
        'therapist_id = "Therapist"\nservice = "Treatment"\nstatus = "Result"\n'
        '[formats]\ndatetime = "%Y-%m-%d %H:%M"\n[status_words]\n"Done" = "completed"\n'
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [export], Settings(), mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (1, 3), result.message
    # line 5: the booking id, date, times and staff id kept; the name (two pieces, as its
    # comma splits it), email and phone masked, and "Done" too: only canonical words are kept
    assert rejected(db)[5][1] == (
        "7004,2026-03-04,09:00,10:30,[text],[text],[email],[phone],L01-T01,[text]"
    )
    assert_no_needles(db, NEEDLES)


# --- a huge rejected row ----------------------------------------------------------------------


def test_a_huge_rejected_row_is_stored_capped_and_the_data_page_still_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parquet has no row-length limit: a 3 MB service cell in a row rejected for its date.
    size = 3_000_000
    rows = [booking(), booking(booking_id="B2", service="x" * size, start_at="not a date")]
    with duckdb.connect() as con:
        con.execute(
            "create table t as select * from (values "
            + ", ".join("(" + ", ".join("?" * len(BOOKING_HEADER)) + ")" for _ in rows)
            + ") as v(" + ", ".join(BOOKING_HEADER) + ")",
            [row[c] for row in rows for c in BOOKING_HEADER],
        )  # fmt: skip
        con.execute(f"copy t to '{tmp_path / 'huge.parquet'}' (format parquet)")
    # CSV: a row of 100,000 extra one-digit cells (200 KB, under the 1 MB row limit), rejected
    # for its field count before validation
    wide = write_csv(tmp_path / "wide.csv", BOOKING_HEADER, [booking()])
    with open(wide, "a", encoding="utf-8") as handle:
        handle.write("B3" + ",7" * 100_000 + "\n")
    db = tmp_path / "w.duckdb"
    run = run_cli("load", str(tmp_path / "huge.parquet"), str(wide), "--db", str(db))
    assert run.returncode == 0, run.lines
    assert run.lines[:2] == [
        f"{tmp_path / 'huge.parquet'}: bookings (native-parquet): 2 rows read, 1 loaded, 1 "
        "rejected",
        f"{wide}: bookings (native-csv): 2 rows read, 1 loaded, 1 rejected",
    ]
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    rows = rejected(db)
    big = rows[2][1]  # parquet rows are numbered from 1, after no header
    # the row's text is the 13 cells joined by commas: 25 characters before the service
    # ("B2,L01,L01-R1,L01-T01,C1,"), the cell, and 67 after (",true,not a date,...,95.00")
    after = ",true,not a date,2024-03-04 11:00,completed,2024-03-01 09:00,,95.00"
    whole = 25 + size + len(after)
    assert big == ("B2,L01,L01-R1,L01-T01,C1," + "x" * size)[:RAW_ROW_LIMIT] + (
        f" [cut: {whole:,} characters in all]"
    )
    # the wide row: "B3" and 100,000 times ",7" = 200,002 characters, kept (no letters) up to
    # the limit
    note = " [cut: 200,002 characters in all]"
    assert rows[3][1] == ("B3" + ",7" * 100_000)[:RAW_ROW_LIMIT] + note

    from dashboard.queries import data as data_queries

    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    frame = data_queries.rejected_rows()
    assert sorted(frame["raw_row"]) == sorted([big, rows[3][1]])


# --- the shapes ---------------------------------------------------------------------------

SHAPES = {
    # cell: is it an email or a phone number?
    "zeb.quill@example.net": True,
    " Zeb.Quill@Example.NET ": True,
    "+1 (303) 555-0147": True,
    "303-555-0147": True,
    "555 0147": True,  # 7 digits with a space
    "'3035550147": True,  # Excel's guard apostrophe, 10 digits
    "+44 7700 900461": True,
    "3035550147": True,  # 10 bare digits
    "1234567": False,  # a numeric client id: bare digits need 10
    "C0042": False,
    "c_1f2e3d4c5b6a7988": False,
    "2026-03-02": False,  # a date, 8 digits
    "02.03.2026": False,
    "1234567890123456": False,  # 16 digits: too many for a phone
    "": False,
}


def test_the_sql_shapes_and_keys_agree_with_python() -> None:
    with duckdb.connect() as con:
        for cell, contact in SHAPES.items():
            assert pii.looks_like_contact(cell) is contact, cell
            shape, key_sql = pii.contact_shaped_sql("$cell"), pii.contact_key_sql("$cell", "$salt")
            sql = f"select {shape}, {key_sql}"
            shaped, key = con.execute(sql, {"cell": cell, "salt": SALT}).fetchone()
            assert shaped is contact, cell
            email = cell if pii.looks_like_email(cell) else None
            expected = pii.client_key(SALT, email, cell, None) if contact else cell
            assert key == expected, cell
