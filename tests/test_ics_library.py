"""Calendars read by icalendar and expanded by recurring-ical-events (issue 15, well-kept
libraries): what real calendar exports write that the hand-written parser did not read.

Each calendar is generated here with invented people, relative to today so that every
occurrence falls inside the load's window (3,650 days back, 400 ahead by default).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.hostile import fingerprint

START = date.today() - timedelta(days=21)  # a Monday or not: the rules below name no weekday
DAY = f"{START:%Y%m%d}"


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pii.SALT_ENV, "test-salt-not-secret")


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def rows(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select booking_id, strftime(start_at, '%Y-%m-%d %H:%M'), "
            "strftime(end_at, '%Y-%m-%d %H:%M'), status from raw_bookings order by start_at"
        ).fetchall()


def test_an_outlook_time_zone_defined_in_the_file_is_read(tmp_path: Path) -> None:
    # Outlook names its zones the Windows way ("Eastern Standard Time") and defines them in a
    # VTIMEZONE; the old parser knew only Olson names and rejected the event.
    mapping = write(
        tmp_path,
        "outlook.toml",
        ["[ics]", 'timezone = "America/Denver"', 'therapist = "Elena Novak"'],
    )
    path = write(
        tmp_path,
        "outlook.ics",
        [
            "BEGIN:VCALENDAR",
            "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
            "VERSION:2.0",
            "BEGIN:VTIMEZONE",
            "TZID:Eastern Standard Time",
            "BEGIN:STANDARD",
            "DTSTART:16011104T020000",
            "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
            "TZOFFSETFROM:-0400",
            "TZOFFSETTO:-0500",
            "END:STANDARD",
            "BEGIN:DAYLIGHT",
            "DTSTART:16010311T020000",
            "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
            "TZOFFSETFROM:-0500",
            "TZOFFSETTO:-0400",
            "END:DAYLIGHT",
            "END:VTIMEZONE",
            "BEGIN:VEVENT",
            "UID:outlook-1@test",
            'DTSTART;TZID="Eastern Standard Time":20260115T150000',
            'DTEND;TZID="Eastern Standard Time":20260115T160000',
            "SUMMARY:Ashiatsu 60 - Maya Okafor",
            "END:VEVENT",
            "END:VCALENDAR",
        ],
    )
    db = tmp_path / "w.duckdb"

    [result] = load_files(db, [path], Settings(), mapping=mapping, location="L01")

    assert (result.outcome, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 0), (
        result.summary()
    )
    # 15 January is winter in both zones: 15:00 EST (-5) is 20:00 UTC, 13:00 MST (-7) in Denver.
    assert rows(db) == [("outlook-1@test", "2026-01-15 13:00", "2026-01-15 14:00", "completed")]


def calendar(events: list[list[str]]) -> list[str]:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Apple Inc.//macOS 14.0//EN",
             "X-WR-CALNAME:Elena Novak", "X-WR-TIMEZONE:America/Denver"]  # fmt: skip
    for event in events:
        lines += ["BEGIN:VEVENT", *event, "END:VEVENT"]
    return [*lines, "END:VCALENDAR"]


def at(days: int, hour: int) -> str:
    return f"{START + timedelta(days=days):%Y%m%d}T{hour:02d}0000"


def key(days: int, hour: int) -> str:
    """The UTC instant of a Denver wall-clock time, as booking ids spell it."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    local = datetime.combine(START + timedelta(days=days), datetime.min.time()).replace(
        hour=hour, tzinfo=ZoneInfo("America/Denver")
    )
    return local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def day(days: int, hour: int) -> str:
    return f"{START + timedelta(days=days)} {hour:02d}:00"


def test_extra_dates_without_a_rule_are_occurrences(tmp_path: Path) -> None:
    # Apple Calendar writes a few extra dates as RDATE, with no RRULE: the start and two
    # more days are three appointments (the old parser loaded the first only).
    path = write(
        tmp_path,
        "rdate.ics",
        calendar(
            [
                [
                    "UID:rdate-1@test",
                    f"DTSTART;TZID=America/Denver:{at(0, 10)}",
                    f"DTEND;TZID=America/Denver:{at(0, 11)}",
                    f"RDATE;TZID=America/Denver:{at(2, 10)},{at(9, 10)}",
                    "SUMMARY:Ashiatsu 60 - Theo Brooks",
                ]
            ]
        ),
    )
    db = tmp_path / "w.duckdb"

    [result] = load_files(db, [path], Settings(), location="L01")

    assert (result.outcome, result.rows_loaded) == ("loaded", 3), result.summary()
    # Each occurrence is id'd by its original start; all are in the past, so completed.
    assert rows(db) == [
        (f"rdate-1@test@{key(d, 10)}", day(d, 10), day(d, 11), "completed") for d in (0, 2, 9)
    ]


def test_a_change_to_this_and_future_occurrences_moves_them_all(tmp_path: Path) -> None:
    # Four weekly sessions at 10:00; the third is moved to 12:00 "for this and all future"
    # (RANGE=THISANDFUTURE): the third and fourth start at 12:00 and keep their ids (the
    # original starts). The old parser moved only the third.
    path = write(
        tmp_path,
        "future.ics",
        calendar(
            [
                [
                    "UID:weekly-1@test",
                    f"DTSTART;TZID=America/Denver:{at(0, 10)}",
                    f"DTEND;TZID=America/Denver:{at(0, 11)}",
                    "RRULE:FREQ=WEEKLY;COUNT=4",
                    "SUMMARY:Ashiatsu 60 - Theo Brooks",
                ],
                [
                    "UID:weekly-1@test",
                    f"RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=America/Denver:{at(14, 10)}",
                    f"DTSTART;TZID=America/Denver:{at(14, 12)}",
                    f"DTEND;TZID=America/Denver:{at(14, 13)}",
                    "SUMMARY:Ashiatsu 60 - Theo Brooks",
                ],
            ]
        ),
    )
    db = tmp_path / "w.duckdb"

    [result] = load_files(db, [path], Settings(), location="L01")

    assert (result.outcome, result.rows_loaded) == ("loaded", 4), result.summary()
    # Week 3 (day 14) is in the past and week 4 (day 21) is today: booked.
    assert rows(db) == [
        (f"weekly-1@test@{key(0, 10)}", day(0, 10), day(0, 11), "completed"),
        (f"weekly-1@test@{key(7, 10)}", day(7, 10), day(7, 11), "completed"),
        (f"weekly-1@test@{key(14, 10)}", day(14, 12), day(14, 13), "completed"),
        (f"weekly-1@test@{key(21, 10)}", day(21, 12), day(21, 13), "booked"),
    ]


def test_a_calendar_cut_short_is_not_loaded(tmp_path: Path) -> None:
    # A download cut off in its second event: loading the first alone would lose the rest in
    # silence (the old parser loaded it). The file is refused in one line; nothing changes.
    lines = calendar(
        [
            [
                "UID:a@test",
                f"DTSTART:{at(0, 10)}",
                f"DTEND:{at(0, 11)}",
                "SUMMARY:Ashiatsu 60 - Ava Kim",
            ],
            [
                "UID:b@test",
                f"DTSTART:{at(1, 10)}",
                f"DTEND:{at(1, 11)}",
                "SUMMARY:Ashiatsu 60 - Ava Kim",
            ],
        ]
    )
    path = write(tmp_path, "cut.ics", lines[:-4])  # ends after the second event's DTSTART
    db = tmp_path / "w.duckdb"
    before = fingerprint(db)

    [result] = load_files(db, [path], Settings(), location="L01")

    assert result.outcome == "failed"
    assert result.message.startswith("the calendar cannot be read ("), result.message
    assert "\n" not in result.message
    assert fingerprint(db) == before
