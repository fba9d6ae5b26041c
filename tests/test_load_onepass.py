"""A native CSV read in one pass: DuckDB's parser streams its cells into the checks, and the
checked rows are numbered by their place in the file (no table of text cells in between).

These tests pin what that pass must keep: every stored and rejected row's line, on a file big
enough for DuckDB to read it in several pieces in parallel; the status words' lookup; and the
client ids that are emails or phones, hashed in the rejected rows' text as in the stored rows.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files

SALT = "test-salt-not-secret"
HEADER = "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status,price,notes"


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pii.SALT_ENV, SALT)
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)


def rows(db, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def line(n: int, status: str = "completed", client: str | None = None, end: str | None = None):
    """Booking B<n> (written on line n), with a padding cell the native reader ignores: it
    makes the file tens of MB with few rows, so DuckDB splits it between its threads."""
    day = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}"
    hour = 8 + n % 10
    end = end or f"{day} {hour:02d}:50"
    client = client or f"C{n % 997}"
    start = f"{day} {hour:02d}:00"
    return f"B{n},L01,T{n % 7},{client},Ashiatsu 60,{start},{end},{status},95.00,{'x' * 700}"


def test_every_row_keeps_its_line_in_a_file_read_in_parallel_pieces(tmp_path) -> None:
    bad = {3: "unknown status 'maybe'", 2051: None, 31_337: None, 60_000: None}
    total = 60_001  # lines, the header included: about 43 MB
    with open(tmp_path / "bookings.csv", "w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for n in range(2, total + 1):
            if n == 3:
                out.write(line(n, status="maybe") + "\n")
            elif n in bad:  # ends before it starts
                out.write(line(n, end="2026-01-01 00:00") + "\n")
            else:
                # the status words as exports spell them: each must find its canonical word
                status = ("completed", "No-Show", "CANCELLED", "Late Cancel")[n % 4]
                out.write(line(n, status=status) + "\n")
    assert (tmp_path / "bookings.csv").stat().st_size > 40_000_000
    db = tmp_path / "w.duckdb"

    [result] = load_files(db, [tmp_path / "bookings.csv"])

    assert (result.outcome, result.format) == ("loaded", "native-csv")
    assert (result.rows_read, result.rows_rejected) == (total - 1, len(bad))
    # every stored booking sits on the line its id names, and none is missing
    assert rows(
        db,
        "select count(*), count(*) filter (line_number = cast(substr(booking_id, 2) as int)) "
        "from raw_bookings",
    ) == [(total - 1 - len(bad), total - 1 - len(bad))]
    rejected = rows(db, "select line_number, reason, raw_row from rejected_rows order by 1")
    assert [r[0] for r in rejected] == sorted(bad)
    assert rejected[0][1] == bad[3]
    assert all(r[1].startswith("end_at '2026-01-01 00:00' is not after") for r in rejected[1:])
    assert all(r[2].startswith(f"B{r[0]},L01,") for r in rejected)  # its own row's text
    canonical = ("completed", "no_show", "cancelled", "late_cancelled")
    expected = [(canonical[n % 4], n) for n in range(2, total + 1) if n not in bad]
    assert rows(db, "select status, line_number from raw_bookings order by 2") == expected


def test_an_email_client_id_only_in_a_rejected_row_is_hashed_there_too(tmp_path) -> None:
    # The streamed read learns that the file needs the salt once it is checked; the one
    # contact-shaped id here is in a row that is rejected, and must not reach the warehouse.
    path = tmp_path / "bookings.csv"
    lines = [HEADER, line(2), line(3, status="maybe", client="maya@example.com"), line(4)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"

    [result] = load_files(db, [path])

    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    [(raw,)] = rows(db, "select raw_row from rejected_rows")
    assert "maya@example.com" not in raw
    assert pii.client_key(SALT, "maya@example.com", None, None) in raw
    assert rows(db, "select client_id from raw_bookings order by line_number") == [
        ("C2",),
        ("C4",),
    ]


def test_cells_are_trimmed_of_ascii_and_unicode_spaces_and_prices_read_as_written(
    tmp_path,
) -> None:
    # The one pass trims only the rows where a cell may start or end with a space (ASCII
    # or Unicode) and reads a price of digits and a point without its two replacements:
    # each row here stores what trimming and stripping every cell would store.
    nbsp, ideographic = "\u00a0", "\u3000"
    lines = [
        HEADER,
        # line 2: nothing to trim
        "B2,L01,T1,C2,Ashiatsu 60,2026-01-05 10:00,2026-01-05 11:00,completed,95.00,",
        # line 3: ASCII spaces around cells, the last cell read included
        " B3 , L01,T1 ,C3,  Ashiatsu 60 ,2026-01-05 12:00 ,2026-01-05 13:00,completed, 95.50 , ",
        # line 4: Unicode spaces around ids (no ASCII space anywhere on the line)
        f"B4,L01,{nbsp}T2,C4{ideographic},Ashiatsu 90,2026-01-05 14:00,2026-01-05 15:30,"
        "booked,120.00,",
        # line 5: a blank cell of one space is missing; a price with a symbol and a
        # thousands separator takes the replacements
        'B5,L01,T1,C5,Ashiatsu 60,2026-01-06 10:00,2026-01-06 11:00,completed,"$1,250.00", ',
        # line 6: a cell with a comma and a space inside is not trimmed inside
        'B6,L01,T1,C6,"Ashiatsu, 60",2026-01-06 12:00,2026-01-06 13:00,completed, ,',
        # line 7: a decimal comma is still refused
        'B7,L01,T1,C7,Ashiatsu 60,2026-01-06 14:00,2026-01-06 15:00,completed,"95,50",',
    ]
    path = tmp_path / "bookings.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"

    [result] = load_files(db, [path])

    assert (result.format, result.rows_loaded, result.rows_rejected) == ("native-csv", 5, 1)
    assert rows(
        db,
        "select booking_id, location_id, therapist_id, client_id, service, start_at, "
        "price::varchar from raw_bookings order by line_number",
    ) == [
        ("B2", "L01", "T1", "C2", "Ashiatsu 60", datetime(2026, 1, 5, 10), "95.00"),
        ("B3", "L01", "T1", "C3", "Ashiatsu 60", datetime(2026, 1, 5, 12), "95.50"),
        ("B4", "L01", "T2", "C4", "Ashiatsu 90", datetime(2026, 1, 5, 14), "120.00"),
        ("B5", "L01", "T1", "C5", "Ashiatsu 60", datetime(2026, 1, 6, 10), "1250.00"),
        ("B6", "L01", "T1", "C6", "Ashiatsu, 60", datetime(2026, 1, 6, 12), None),
    ]
    assert rows(db, "select line_number, reason from rejected_rows") == [
        (7, "price '95,50' has a decimal comma; use a point (95.50)")
    ]


def test_a_bare_number_client_ref_is_kept_up_to_nine_digits(tmp_path) -> None:
    # The one pass keeps a bare number of up to 9 digits without the phone rules; 10 digits
    # and more go through them and read as a phone (not kept), as before.
    header = (
        "booking_id,location_id,therapist_id,client_id,client_ref,service,start_at,end_at,status"
    )
    refs = {2: "7", 3: "1234567", 4: "123456789", 5: "1234567890", 6: "+123456789", 7: "12 34"}
    lines = [header] + [
        f"B{n},L01,T1,C{n},{ref},Ashiatsu 60,2026-01-05 1{n}:00,2026-01-05 1{n}:50,completed"
        for n, ref in refs.items()
    ]
    path = tmp_path / "bookings.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"

    [result] = load_files(db, [path])

    assert (result.rows_loaded, result.rows_rejected) == (6, 0)
    assert rows(db, "select booking_id, client_ref from raw_bookings order by line_number") == [
        ("B2", "7"),
        ("B3", "1234567"),
        ("B4", "123456789"),
        ("B5", None),
        ("B6", None),
        ("B7", None),
    ]
