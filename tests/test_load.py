"""Loading native exports: validation rules, idempotency, atomicity, concurrent readers."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.load import load_files
from pipelines.settings import Settings

BOOKING_HEADER = [
    "booking_id",
    "location_id",
    "room_id",
    "therapist_id",
    "client_id",
    "service",
    "uses_bars",
    "start_at",
    "end_at",
    "status",
    "created_at",
    "cancelled_at",
    "price",
]
GOOD_BOOKING = {
    "booking_id": "B1",
    "location_id": "L01",
    "room_id": "L01-R1",
    "therapist_id": "L01-T01",
    "client_id": "C1",
    "service": "Ashiatsu 60",
    "uses_bars": "true",
    "start_at": "2024-03-04 10:00",
    "end_at": "2024-03-04 11:00",
    "status": "completed",
    "created_at": "2024-03-01 09:00",
    "cancelled_at": "",
    "price": "95.00",
}


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    """Write rows as a CSV with the given header (missing cells blank)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])
    return path


def write(path: Path, text: str) -> Path:
    """Write a text file (an export, a mapping, a profile) as UTF-8, its folder made first;
    its line ends are the text's own (a vendor's CRLF stays CRLF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def booking(**changes: str) -> dict[str, str]:
    """A valid booking row with some fields changed."""
    return {**GOOD_BOOKING, **changes}


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Run a query on the published warehouse, read-only, and close it."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A warehouse path in tmp_path, not yet created."""
    return tmp_path / "studio.duckdb"


@pytest.fixture
def seeded_db(tmp_path: Path, db: Path) -> Path:
    """A warehouse that already holds one good booking (B1)."""
    load_files(db, [write_csv(tmp_path / "seed.csv", BOOKING_HEADER, [booking()])], Settings())
    return db


# --- validation: each rule rejects the row with its reason, the rest of the file loads --------

REJECTIONS = [
    ({"booking_id": ""}, "booking_id is missing"),
    ({"location_id": ""}, "location_id is missing"),
    ({"therapist_id": ""}, "therapist_id is missing"),
    ({"client_id": ""}, "client_id is missing"),
    ({"service": ""}, "service is missing"),
    ({"start_at": ""}, "start_at is missing"),
    # Day/month order is never guessed: 03/04/2024 is rejected, not read as 3 April.
    ({"start_at": "03/04/2024 10:00"}, "start_at '03/04/2024 10:00' is not a date-time"),
    ({"start_at": "2024-02-31 10:00"}, "start_at '2024-02-31 10:00' is not a date-time"),
    ({"start_at": "2024-03-04 25:61"}, "start_at '2024-03-04 25:61' is not a date-time"),
    ({"end_at": "2024-03-04 09:00"}, "end_at '2024-03-04 09:00' is not after start_at"),
    ({"end_at": "2024-03-04 10:00"}, "end_at '2024-03-04 10:00' is not after start_at"),
    ({"end_at": "tomorrow"}, "end_at 'tomorrow' is not a date-time"),
    ({"status": "frobbed"}, "unknown status 'frobbed'"),
    ({"status": ""}, "status is missing"),
    ({"uses_bars": "maybe"}, "uses_bars 'maybe' is not a yes/no value"),
    ({"created_at": "last week"}, "created_at 'last week' is not a date-time"),
    ({"cancelled_at": "2024/03/01"}, "cancelled_at '2024/03/01' is not a date-time"),
    ({"price": "abc"}, "price 'abc' is not a number"),
    ({"price": "-5"}, "price '-5' is negative"),
    ({"price": "95,50"}, "price '95,50' has a decimal comma"),
]


@pytest.mark.parametrize(("changes", "reason"), REJECTIONS, ids=[r[1] for r in REJECTIONS])
def test_invalid_row_is_rejected_with_reason_and_the_rest_loads(
    tmp_path: Path, db: Path, changes: dict[str, str], reason: str
) -> None:
    bad_row = booking(**{"booking_id": "B2", **changes})
    rows = [booking(), bad_row, booking(booking_id="B3")]
    path = write_csv(tmp_path / "bookings.csv", BOOKING_HEADER, rows)

    [result] = load_files(db, [path], Settings())

    assert (result.outcome, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "loaded",
        3,
        2,
        1,
    )
    # The bad row is line 3: line 1 is the header, B1 is line 2.
    rejected = query(db, "select file_name, line_number, reason, raw_row from rejected_rows")
    assert len(rejected) == 1
    file_name, line, why, raw = rejected[0]
    assert (file_name, line) == (str(path), 3)
    assert why.startswith(reason), why
    assert raw == ",".join(bad_row[column] for column in BOOKING_HEADER)
    assert query(db, "select booking_id from raw_bookings order by 1") == [("B1",), ("B3",)]


def test_line_numbers_hold_when_duckdb_parses_a_large_file_in_parallel(
    tmp_path: Path, db: Path
) -> None:
    # ~40 MB: DuckDB's CSV reader splits it into several buffers parsed on both threads, and
    # the loader numbers lines by the order rows land in (rowid + 2). Bad rows near the start,
    # the middle and the end must keep their exact line numbers.
    rows = [booking(booking_id=f"B{i:07d}") for i in range(300_000)]
    bad = {2: "2024-13-01 09:00", 150_001: "tomorrow", 300_001: "03/04/2024 09:00"}
    for line, start_at in bad.items():
        rows[line - 2] = booking(booking_id=f"BAD{line}", start_at=start_at)
    path = write_csv(tmp_path / "bookings.csv", BOOKING_HEADER, rows)

    [result] = load_files(db, [path], Settings())

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (300_000, 299_997, 3)
    rejected = query(db, "select line_number, raw_row from rejected_rows order by 1")
    assert [line for line, _ in rejected] == sorted(bad)
    for line, raw in rejected:
        assert raw.startswith(f"BAD{line},"), (line, raw)
    # a good row's stored line is its place in the file too: B0123456 is row 123457, line 123458
    assert query(db, "select line_number from raw_bookings where booking_id = 'B0123456'") == [
        (123_458,)
    ]


def test_duration_minutes_stands_in_for_end_at(tmp_path: Path, db: Path) -> None:
    header = [c for c in BOOKING_HEADER if c != "end_at"] + ["duration_minutes"]
    rows = [booking(duration_minutes="90"), booking(booking_id="B2", duration_minutes="-30")]
    load_files(db, [write_csv(tmp_path / "b.csv", header, rows)], Settings())

    assert query(db, "select end_at::varchar from raw_bookings") == [("2024-03-04 11:30:00",)]
    [(reason,)] = query(db, "select reason from rejected_rows")
    assert reason == "duration_minutes '-30' is not a whole number > 0"


def test_vendor_words_spellings_and_prices_are_normalised(tmp_path: Path, db: Path) -> None:
    rows = [
        booking(booking_id="B1", status="Checked out", uses_bars="YES", price="$1,234.50"),
        booking(booking_id="B2", status="No-Show", uses_bars="n", price="€ 95"),
        booking(booking_id="B3", status="Late Cancel", uses_bars="0", price=""),
        booking(booking_id="B4", status="Canceled", uses_bars="", price="USD 120.00"),
        booking(booking_id="B5", status="Confirmed", uses_bars="Y", price="0"),
    ]
    load_files(db, [write_csv(tmp_path / "b.csv", BOOKING_HEADER, rows)], Settings())

    assert query(
        db, "select booking_id, status, status_word, uses_bars, price from raw_bookings order by 1"
    ) == [
        ("B1", "completed", "Checked out", True, pytest.approx(1234.50)),
        ("B2", "no_show", "No-Show", False, pytest.approx(95)),
        ("B3", "late_cancelled", "Late Cancel", False, None),
        ("B4", "cancelled", "Canceled", None, pytest.approx(120)),
        ("B5", "booked", "Confirmed", True, pytest.approx(0)),
    ]


def test_header_matching_ignores_case_spaces_underscores_and_bom(tmp_path: Path, db: Path) -> None:
    header = ["Booking ID", "LOCATION_ID", "Room Id", "therapistid", "Client_ID", "Service"]
    header += ["Uses Bars", "Start At", "End At", "Status", "Created At", "Cancelled At", "Price"]
    path = tmp_path / "b.csv"
    row = ",".join(GOOD_BOOKING[c] for c in BOOKING_HEADER)
    path.write_bytes(("\ufeff" + ",".join(header) + "\r\n" + row + "\r\n").encode("utf-8"))

    [result] = load_files(db, [path], Settings())

    assert (result.kind, result.rows_loaded) == ("bookings", 1)


def test_rows_with_wrong_field_count_and_quoted_newlines_keep_true_line_numbers(
    tmp_path: Path, db: Path
) -> None:
    path = tmp_path / "b.csv"
    good = ",".join(GOOD_BOOKING[c] for c in BOOKING_HEADER)
    # Line 2: service with a quoted newline spans lines 2-3; line 4 is blank; line 5 is short.
    path.write_text(
        ",".join(BOOKING_HEADER)
        + "\n"
        + good.replace("Ashiatsu 60", '"Ashiatsu\n60"')
        + "\n\nB9,L01,short\n"
        + good.replace("B1,", "B2,", 1)
        + "\n"
    )
    [result] = load_files(db, [path], Settings())

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert query(db, "select line_number, reason from rejected_rows") == [
        (5, "expected 13 fields, found 3")
    ]
    assert query(db, "select booking_id, line_number from raw_bookings order by 1") == [
        ("B1", 2),
        ("B2", 6),
    ]


def test_rooms_shifts_and_locations_load_with_defaults_and_location_flag(
    tmp_path: Path, db: Path
) -> None:
    rooms = write_csv(
        tmp_path / "rooms.csv",
        ["date", "room_id", "room_name", "has_bars", "opens_at", "closes_at", "blocked_minutes"],
        [
            {"date": "2024-03-04", "room_id": "R1", "has_bars": "yes", "opens_at": "09:00",
             "closes_at": "18:00", "blocked_minutes": ""},
            {"date": "2024-03-04", "room_id": "R2", "has_bars": "no", "opens_at": "18:00",
             "closes_at": "09:00"},
        ],
    )  # fmt: skip
    shifts = write_csv(
        tmp_path / "shifts.csv",
        ["date", "location_id", "therapist_id", "bar_trained", "shift_start", "shift_end",
         "break_minutes"],
        [{"date": "2024-03-04", "location_id": "L02", "therapist_id": "T1", "bar_trained": "1",
          "shift_start": "09:00", "shift_end": "17:30", "break_minutes": "30"}],
    )  # fmt: skip

    results = load_files(db, [rooms, shifts], Settings(), location="L01")

    assert [r.kind for r in results] == ["rooms", "therapist_shifts"]
    # --location fills the missing column; a blank blocked_minutes defaults to 0.
    assert query(db, "select location_id, room_id, blocked_minutes from raw_rooms") == [
        ("L01", "R1", 0)
    ]
    assert query(db, "select reason from rejected_rows") == [
        ("closes_at '09:00' is not after opens_at '18:00'",)
    ]
    # A file that names its location keeps it.
    assert query(db, "select location_id, break_minutes from raw_therapist_shifts") == [("L02", 30)]


def test_xlsx_and_parquet_exports_load_like_csv(tmp_path: Path, db: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(BOOKING_HEADER)
    sheet.append([GOOD_BOOKING[c] for c in BOOKING_HEADER])
    sheet.append([booking(booking_id="B2", status="nope")[c] for c in BOOKING_HEADER])
    xlsx = tmp_path / "export.xls"  # a misleading name: the kind is found from the content
    book.save(xlsx)
    csv_path = write_csv(tmp_path / "b3.csv", BOOKING_HEADER, [booking(booking_id="B3")])
    parquet = tmp_path / "b3.parquet"
    with duckdb.connect() as con:
        con.execute(
            "copy (select * replace ('B4' as booking_id) from read_csv(?, all_varchar = true)) "
            "to '" + str(parquet) + "' (format parquet)",
            [str(csv_path)],
        )

    results = load_files(db, [xlsx, parquet], Settings())

    assert [(r.format, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("native-xlsx", 1, 1),
        ("native-parquet", 1, 0),
    ]
    assert query(db, "select line_number, reason from rejected_rows") == [
        (3, "unknown status 'nope'")
    ]


# --- idempotency -------------------------------------------------------------------------------


def test_loading_the_same_file_twice_is_skipped_and_changes_nothing(
    tmp_path: Path, seeded_db: Path
) -> None:
    before = file_digest(seeded_db)
    again = write_csv(tmp_path / "copy-of-seed.csv", BOOKING_HEADER, [booking()])

    [result] = load_files(seeded_db, [again], Settings())

    assert result.outcome == "skipped"
    assert "already loaded" in result.message
    assert file_digest(seeded_db) == before


def test_overlapping_exports_leave_no_duplicates_and_later_status_wins(
    tmp_path: Path, db: Path
) -> None:
    # March export: B1 completed, B2 still booked. April export overlaps: B2 now completed.
    march = write_csv(
        tmp_path / "march.csv",
        BOOKING_HEADER,
        [booking(), booking(booking_id="B2", status="booked", start_at="2024-03-30 10:00",
                            end_at="2024-03-30 11:00")],
    )  # fmt: skip
    april = write_csv(
        tmp_path / "april.csv",
        BOOKING_HEADER,
        [booking(booking_id="B2", status="completed", start_at="2024-03-30 10:00",
                 end_at="2024-03-30 11:00"),
         booking(booking_id="B3", start_at="2024-04-02 10:00", end_at="2024-04-02 11:00")],
    )  # fmt: skip

    load_files(db, [march], Settings())
    load_files(db, [april], Settings())

    assert query(db, "select booking_id, status from raw_bookings order by 1") == [
        ("B1", "completed"),
        ("B2", "completed"),
        ("B3", "completed"),
    ]


def test_duplicate_key_within_one_file_keeps_the_last_line(tmp_path: Path, db: Path) -> None:
    rows = [booking(status="booked"), booking(status="no_show")]
    load_files(db, [write_csv(tmp_path / "b.csv", BOOKING_HEADER, rows)], Settings())

    assert query(db, "select status, line_number from raw_bookings") == [("no_show", 3)]


# --- atomicity: a file that cannot be loaded changes nothing -----------------------------------

BAD_FILES = {
    "binary garbage": (b"\x00\x01\x02garbage\xff" * 50, "NUL bytes"),
    "empty": (b"", "the file is empty"),
    "latin-1 text": ("booking_id,caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
    "unknown header": (b"name,email,phone\nA,a@x,1\n", "the header matches no known export"),
    "all rows invalid": (
        (
            ",".join(BOOKING_HEADER) + "\nB1,L01,R1,T1,C1,Swedish,no,03/04/2024 10:00,x,done,,,\n"
        ).encode(),
        "every row was rejected (first: line 2: start_at '03/04/2024 10:00'",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_unloadable_file_leaves_warehouse_byte_for_byte_unchanged(
    tmp_path: Path, seeded_db: Path, case: str
) -> None:
    content, message = BAD_FILES[case]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    before = file_digest(seeded_db)

    [result] = load_files(seeded_db, [bad], Settings())

    assert result.outcome == "failed"
    assert message in result.message
    assert "\n" not in result.summary()
    assert file_digest(seeded_db) == before
    assert not seeded_db.with_name(seeded_db.name + ".building").exists()


def test_a_header_only_export_is_a_quiet_day_not_a_failure(tmp_path: Path, seeded_db: Path) -> None:
    # A location closed for the day exports its header alone. The morning's scheduled load
    # must not fail on it (exit 0), must say what it did with it, and must change nothing.
    quiet = write_csv(tmp_path / "closed-day.csv", BOOKING_HEADER, [])
    before = file_digest(seeded_db)
    cli = [sys.executable, "-m", "pipelines.cli", "load", "--db", str(seeded_db)]

    alone = subprocess.run([*cli, str(quiet)], capture_output=True, text=True, check=False)

    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert alone.stdout.splitlines() == [
        f"{quiet}: skipped, the file has a header but no rows: nothing to load",
        f"nothing loaded; {seeded_db} is unchanged",
    ]
    assert "Traceback" not in alone.stderr
    assert file_digest(seeded_db) == before

    # beside a file with a booking (B2), that booking loads: B1 from the seed, then B2
    good = write_csv(tmp_path / "open-day.csv", BOOKING_HEADER, [booking(booking_id="B2")])
    both = subprocess.run(
        [*cli, str(quiet), str(good)], capture_output=True, text=True, check=False
    )

    assert both.returncode == 0, both.stdout + both.stderr
    assert both.stdout.splitlines()[0].startswith(f"{quiet}: skipped, ")
    assert query(seeded_db, "select booking_id from raw_bookings order by 1") == [("B1",), ("B2",)]


def test_a_bad_file_beside_good_ones_fails_alone(tmp_path: Path, db: Path) -> None:
    good = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])
    bad = tmp_path / "b.csv"
    bad.write_bytes(b"\xff\xfe garbage")

    results = load_files(db, [good, bad], Settings())

    assert [r.outcome for r in results] == ["loaded", "failed"]
    assert query(db, "select count(*), count(distinct load_id) from raw_bookings") == [(1, 1)]
    assert query(db, "select file_name, outcome from load_runs") == [(str(good), "loaded")]


# --- readers never block the loader ------------------------------------------------------------


def test_load_succeeds_while_another_process_holds_the_warehouse_open_read_only(
    tmp_path: Path, seeded_db: Path
) -> None:
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys
                con = duckdb.connect({str(seeded_db)!r}, read_only=True)
                print(con.execute('select count(*) from raw_bookings').fetchone()[0], flush=True)
                sys.stdin.readline()  # hold the connection open until told to stop
                print(con.execute('select count(*) from raw_bookings').fetchone()[0], flush=True)
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "1"
        more = write_csv(tmp_path / "more.csv", BOOKING_HEADER, [booking(booking_id="B2")])

        [result] = load_files(seeded_db, [more], Settings())

        assert result.outcome == "loaded"
        assert query(seeded_db, "select count(*) from raw_bookings") == [(2,)]
        # The reader keeps its snapshot: it still sees one booking, consistently.
        out, _ = reader.communicate("\n", timeout=30)
        assert out.strip() == "1"
    finally:
        reader.kill()
