"""A native CSV read in one pass: DuckDB's parser streams its cells into the checks, and the
checked rows are numbered by their place in the file (no table of text cells in between).

These tests pin what that pass must keep: every stored and rejected row's line, on a file big
enough for DuckDB to read it in several pieces in parallel; the status words' lookup; and the
client ids that are emails or phones, hashed in the rejected rows' text as in the stored rows.
"""

from __future__ import annotations

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
