"""Calendar files (ICS) as real calendar programs write them: lines folded at 75 octets, also
inside a character of several bytes, and files holding several VCALENDARs. Invented people;
every expected figure is worked out by hand in its comment."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.load import load_files
from pipelines.settings import Settings

SALT = "test-salt-not-secret"


@pytest.fixture(autouse=True)
def _salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_OPS_SALT", SALT)


def calendar(events: list[list[str]], name: str = "Elena Novak") -> str:
    """A Google-style calendar (Denver) of `events`, each its VEVENT's property lines."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        f"X-WR-CALNAME:{name}",
        "X-WR-TIMEZONE:America/Denver",
    ]
    for properties in events:
        lines += ["BEGIN:VEVENT", *properties, "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def fold_inside(line: str, character: str, after: int) -> bytes:
    """`line` as UTF-8, folded (CRLF + space) `after` bytes into `character`: an octet-counting
    writer folds at 75 octets wherever that falls, even inside a character."""
    data = line.encode()
    at = data.index(character.encode()) + after
    return data[:at] + b"\r\n " + data[at:]


@pytest.mark.parametrize(
    "character, after",
    [("ë", 1), ("€", 1), ("€", 2), ("🦶", 3)],  # 2-, 3- and 4-byte characters, cut anywhere
)
def test_a_fold_inside_a_character_keeps_the_client(
    tmp_path: Path, character: str, after: int
) -> None:
    summary = f"SUMMARY:Ashiatsu 60 - Zoë Ñúñez {character}"
    event = ["UID:{uid}", "DTSTART:20261102T160000Z", "DTEND:20261102T170000Z", "@SUMMARY@"]
    whole = calendar([[p.format(uid="whole@test") for p in event]])
    folded = calendar([[p.format(uid="folded@test") for p in event]])
    (tmp_path / "whole.ics").write_bytes(whole.replace("@SUMMARY@", summary).encode())
    (tmp_path / "folded.ics").write_bytes(
        folded.encode().replace(b"@SUMMARY@", fold_inside(summary, character, after))
    )
    db = tmp_path / "w.duckdb"
    results = load_files(
        db, [tmp_path / "whole.ics", tmp_path / "folded.ics"], Settings(), location="L01"
    )
    assert [r.rows_loaded for r in results] == [1, 1], [r.summary() for r in results]
    # The same client in both files: one client key (a broken character would give another).
    # 16:00Z on 2 November 2026 is 09:00 in Denver (MST, UTC-7): 60 minutes.
    rows = query(
        db,
        "select booking_id, client_id, strftime(start_at, '%H:%M'), minutes "
        "from fct_bookings order by booking_id",
    )
    assert [r[0] for r in rows] == ["folded@test", "whole@test"]
    assert rows[0][1] == rows[1][1]
    assert [r[2:] for r in rows] == [("09:00", 60), ("09:00", 60)]
