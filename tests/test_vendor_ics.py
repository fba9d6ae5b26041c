"""Calendar files (ICS) as real calendar programs write them: lines folded at 75 octets, also
inside a character of several bytes, and files holding several VCALENDARs. Invented people;
every expected figure is worked out by hand in its comment."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.hostile import fingerprint
from tests.test_load import query

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


def test_a_file_of_several_calendars_loads_each_with_its_own_zone_and_name(
    tmp_path: Path,
) -> None:
    # Some programs export several calendars into one file, one VCALENDAR after another, each
    # with its own name (the therapist) and time zone. Every event loads, read in its own
    # calendar's zone; the file was refused whole ("Found multiple components").
    first = calendar(
        [
            [
                "UID:a@test",
                "DTSTART:20261103T160000Z",  # 16:00Z is 09:00 in Denver (MST, UTC-7)
                "DTEND:20261103T173000Z",  # 90 minutes
                "SUMMARY:Ashiatsu 90 - Kira Vale",
            ],
            # a repeating event and its moved occurrence, in the same calendar
            [
                "UID:weekly@test",
                "DTSTART;TZID=America/Denver:20261104T100000",
                "DTEND;TZID=America/Denver:20261104T110000",
                "RRULE:FREQ=WEEKLY;COUNT=2",
                "SUMMARY:Swedish 60 - Jon Fakeman",
            ],
            [
                "UID:weekly@test",
                "RECURRENCE-ID;TZID=America/Denver:20261111T100000",
                "DTSTART;TZID=America/Denver:20261111T150000",
                "DTEND;TZID=America/Denver:20261111T160000",
                "SUMMARY:Swedish 60 - Jon Fakeman",
            ],
        ]
    )
    second = calendar(
        [
            [
                "UID:b@test",
                "DTSTART:20261103T160000Z",  # 16:00Z is 11:00 in New York (EST, UTC-5)
                "DTEND:20261103T170000Z",
                "SUMMARY:Ashiatsu 60 - Kira Vale",
            ]
        ],
        name="Marcus Silva",
    ).replace("America/Denver", "America/New_York")
    path = tmp_path / "calendars.ics"
    path.write_text(first + second, newline="")
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], Settings(), location="L01")
    assert result.outcome == "loaded", result.summary()
    # 1 + 2 occurrences (the second moved to 15:00) + 1 = 4 appointments
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    assert query(
        db,
        "select booking_id, therapist_id, strftime(start_at, '%Y-%m-%d %H:%M'), minutes "
        "from fct_bookings order by booking_id",
    ) == [
        ("a@test", "Elena Novak", "2026-11-03 09:00", 90),
        ("b@test", "Marcus Silva", "2026-11-03 11:00", 60),
        ("weekly@test@20261104T170000Z", "Elena Novak", "2026-11-04 10:00", 60),
        ("weekly@test@20261111T170000Z", "Elena Novak", "2026-11-11 15:00", 60),
    ]


def test_several_calendars_the_last_cut_short_are_not_loaded(tmp_path: Path) -> None:
    # Two calendars, the second cut off before its END:VCALENDAR: the first alone would load
    # in silence without the rest, so the file is refused in one line.
    whole = calendar(
        [["UID:a@test", "DTSTART:20261103T160000Z", "DTEND:20261103T170000Z", "SUMMARY:A - B"]]
    )
    cut = whole.replace("UID:a@", "UID:c@").split("END:VEVENT")[0] + "END:VEVENT\r\n"
    path = tmp_path / "calendars.ics"
    path.write_text(whole + cut, newline="")
    [result] = load_files(tmp_path / "w.duckdb", [path], Settings(), location="L01")
    assert result.outcome == "failed"
    assert result.message.startswith("the calendar cannot be read ("), result.message
    assert "\n" not in result.message


def test_a_vendor_prefixed_zone_is_read_without_a_warning_on_the_terminal(
    tmp_path: Path,
) -> None:
    # Thunderbird writes zones as "/mozilla.org/20070129_1/Europe/London" and may leave out
    # their VTIMEZONE; icalendar reads it as Europe/London but warned on stderr, with the path
    # of its own source file: the load's output is its lines and nothing else.
    from tests.hostile import run_cli

    zone = "TZID=/mozilla.org/20070129_1/Europe/London"
    path = tmp_path / "thunderbird.ics"
    path.write_text(
        calendar(
            [
                [
                    "UID:tb-1@test",
                    f"DTSTART;{zone}:20261102T090000",  # kept as written: no X-WR-TIMEZONE
                    f"DTEND;{zone}:20261102T100000",
                    "SUMMARY:Swedish 60 - Jon Fakeman",
                ]
            ]
        ).replace("X-WR-TIMEZONE:America/Denver\r\n", ""),
        newline="",
    )
    db = tmp_path / "w.duckdb"
    run = run_cli("load", str(path), "--db", str(db), "--location", "L01")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ""
    assert run.stdout.splitlines() == [
        f"{path}: bookings (ics): 1 row read, 1 loaded, 0 rejected",
        f"published {db}",
    ]
    assert query(db, "select strftime(start_at, '%H:%M'), minutes from fct_bookings") == [
        ("09:00", 60)
    ]


def test_a_calendar_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    # A calendar is UTF-8 (RFC 5545). An old program's Windows-1252 "Zoë" was read as
    # "Zo\ufffd": loaded as another client than the same name in every other file, in
    # silence. The file is refused in one line instead, and nothing changes.
    text = calendar(
        [
            [
                "UID:cp-1@test",
                "DTSTART:20261102T160000Z",
                "DTEND:20261102T170000Z",
                "SUMMARY:Ashiatsu 60 - Zoë Quill",  # line 10 (5 calendar lines before)
            ]
        ]
    )
    path = tmp_path / "old.ics"
    path.write_bytes(text.encode("cp1252"))
    db = tmp_path / "w.duckdb"
    before = fingerprint(db)
    [result] = load_files(db, [path], Settings(), location="L01")
    assert result.outcome == "failed"
    assert result.message == (
        "line 10: not UTF-8 text (byte 0xeb, perhaps Windows-1252 or Latin-1 for 'ë'); a "
        "calendar file is UTF-8: export it again, or open it in a text editor and save it as "
        "UTF-8"
    )
    assert fingerprint(db) == before


def test_google_calendar_s_zip_export_says_to_unzip_it(tmp_path: Path) -> None:
    # Google Calendar's Export downloads a .zip with one .ics per calendar. Taken for a
    # workbook (both are zip files), it failed with "cannot open the workbook (KeyError:
    # "There is no item named '[Content_Types].xml' in the archive")". It now says what to do.
    import zipfile

    event = ["UID:z1@test", "DTSTART:20261102T160000Z", "DTEND:20261102T170000Z", "SUMMARY:A - B"]
    path = tmp_path / "calendars.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("elena@example.test.ics", calendar([event]))
        archive.writestr("Marcus Silva_abc@group.calendar.google.com.ics", calendar([event]))
    db = tmp_path / "w.duckdb"
    before = fingerprint(db)
    [result] = load_files(db, [path], Settings(), location="L01")
    assert result.outcome == "failed"
    assert result.message == (
        "this is a zip archive of 2 files (2 calendars, .ics), not a workbook: unzip it and "
        "load the files inside"
    )
    assert fingerprint(db) == before


def test_a_zip_of_one_calendar_is_named_in_the_singular(tmp_path: Path) -> None:
    # a one-calendar Google export: "1 file (1 calendar, .ics)", never "1 files (1 calendars"
    import zipfile

    event = ["UID:z1@test", "DTSTART:20261102T160000Z", "DTEND:20261102T170000Z", "SUMMARY:A - B"]
    path = tmp_path / "calendar.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("elena@example.test.ics", calendar([event]))
    [result] = load_files(tmp_path / "w.duckdb", [path], Settings(), location="L01")
    assert result.message == (
        "this is a zip archive of 1 file (1 calendar, .ics), not a workbook: unzip it and "
        "load the file inside"
    )


def test_utc_times_take_the_location_s_time_zone_when_the_calendar_names_none(
    tmp_path: Path,
) -> None:
    # A booking tool's calendar feed writes UTC times (`Z`) and no X-WR-TIMEZONE. The studio
    # already said its location's zone (a locations file, or the studio profile): the times
    # become that wall-clock. Every row was rejected, asking for [ics] timezone.
    db = tmp_path / "w.duckdb"
    locations = tmp_path / "locations.csv"
    locations.write_text("location_id,name,timezone\nL01,Boulder Studio,America/Denver\n")
    [first] = load_files(db, [locations], Settings())
    assert first.outcome == "loaded", first.summary()
    path = tmp_path / "feed.ics"
    text = calendar(
        [
            [
                "UID:feed-1@test",
                "DTSTART:20261102T160000Z",  # 16:00Z is 09:00 in Denver (MST, UTC-7)
                "DTEND:20261102T173000Z",  # 90 minutes
                "SUMMARY:Ashiatsu 90 - Kira Vale",
            ],
            [
                "UID:feed-2@test",
                "DTSTART:20261030T160000Z",  # before the DST change: 10:00 MDT (UTC-6)
                "DTEND:20261030T170000Z",
                "SUMMARY:Ashiatsu 60 - Kira Vale",
            ],
        ]
    )
    path.write_text(text.replace("X-WR-TIMEZONE:America/Denver\r\n", ""), newline="")
    [result] = load_files(db, [path], Settings(), location="L01")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0), (
        result.summary()
    )
    assert query(
        db,
        "select booking_id, strftime(start_at, '%Y-%m-%d %H:%M'), minutes from fct_bookings "
        "order by booking_id",
    ) == [("feed-1@test", "2026-11-02 09:00", 90), ("feed-2@test", "2026-10-30 10:00", 60)]


def test_repeating_events_across_the_autumn_clock_change_as_google_writes_them(
    tmp_path: Path,
) -> None:
    # Denver leaves daylight time on 1 November 2026 at 02:00 (UTC-6 -> UTC-7). LF line ends.
    events = [
        # Mondays and Wednesdays at 09:00 local from 26 October until 4 November (UTC):
        # 26 Oct, 28 Oct (EXDATE, written in UTC: 15:00Z = 09:00 MDT), 2 Nov, 4 Nov
        [
            "UID:mw@test",
            "DTSTART;TZID=America/Denver:20261026T090000",
            "DTEND;TZID=America/Denver:20261026T100000",
            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261104T235959Z",
            "EXDATE:20261028T150000Z",
            "SUMMARY:Ashiatsu 60 - Kira Vale",
        ],
        # 2 Nov moved to 11:00 and marked tentative (still a held booking)
        [
            "UID:mw@test",
            "RECURRENCE-ID;TZID=America/Denver:20261102T090000",
            "DTSTART;TZID=America/Denver:20261102T110000",
            "DTEND;TZID=America/Denver:20261102T120000",
            "STATUS:TENTATIVE",
            "SUMMARY:Ashiatsu 60 - Kira Vale",
        ],
        # 4 Nov cancelled, its RECURRENCE-ID in UTC (16:00Z = 09:00 MST)
        [
            "UID:mw@test",
            "RECURRENCE-ID:20261104T160000Z",
            "DTSTART;TZID=America/Denver:20261104T090000",
            "DTEND;TZID=America/Denver:20261104T100000",
            "STATUS:CANCELLED",
            "SUMMARY:Ashiatsu 60 - Kira Vale",
        ],
        # a UTC series keeps its instant: 16:00Z is 10:00 MDT, then 09:00 MST
        [
            "UID:utc@test",
            "DTSTART:20261031T160000Z",
            "DTEND:20261031T170000Z",
            "RRULE:FREQ=DAILY;COUNT=2",
            "SUMMARY:Swedish 60 - Jon Fakeman",
        ],
        # 23:30 for 90 minutes (DURATION): ends at 01:00 the next day
        [
            "UID:late@test",
            "DTSTART;TZID=America/Denver:20261105T233000",
            "DURATION:PT90M",
            "SUMMARY:Swedish 90 - Jon Fakeman",
        ],
    ]
    path = tmp_path / "google.ics"
    path.write_text(calendar(events).replace("\r\n", "\n"), newline="")
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], Settings(), location="L01")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 6, 0)
    assert query(
        db,
        "select booking_id, strftime(start_at, '%Y-%m-%d %H:%M'), minutes, status, is_held "
        "from fct_bookings order by start_at",
    ) == [
        ("mw@test@20261026T150000Z", "2026-10-26 09:00", 60, "completed", True),
        ("utc@test@20261031T160000Z", "2026-10-31 10:00", 60, "completed", True),
        ("utc@test@20261101T160000Z", "2026-11-01 09:00", 60, "completed", True),
        ("mw@test@20261102T160000Z", "2026-11-02 11:00", 60, "completed", True),
        ("mw@test@20261104T160000Z", "2026-11-04 09:00", 60, "cancelled", False),
        ("late@test", "2026-11-05 23:30", 90, "completed", True),
    ]


def test_a_repeating_event_that_ends_before_it_starts_is_rejected_not_moved(
    tmp_path: Path,
) -> None:
    # DURATION:-PT1H (or a DTEND before DTSTART) on a repeating event: the expanding library
    # swapped start and end, loading every occurrence an hour early (08:00-09:00) in silence.
    # A single event that does so was already rejected by the end-after-start check.
    series = [
        "DTSTART;TZID=America/Denver:20261026T090000",
        "RRULE:FREQ=DAILY;COUNT=2",
        "SUMMARY:Swedish 60 - Jon Fakeman",
    ]
    path = tmp_path / "odd.ics"
    path.write_text(
        calendar(
            [
                ["UID:neg@test", *series, "DURATION:-PT1H"],  # begins on line 6
                ["UID:back@test", *series, "DTEND;TZID=America/Denver:20261026T080000"],  # 12
            ]
        ),
        newline="",
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], Settings(), location="L01")
    assert result.outcome == "failed"  # every row rejected: nothing loads
    assert "line 6: event: the event ends before it starts (DURATION -PT1H)" in result.message


def test_a_change_without_a_start_is_rejected_on_its_own_line(tmp_path: Path) -> None:
    # A change to one occurrence (RECURRENCE-ID) must say where it now starts. Without a
    # DTSTART the whole series was rejected as "event: 'DTSTART'"; now that change alone is,
    # saying why, and the series' 3 occurrences load as scheduled.
    path = tmp_path / "change.ics"
    path.write_text(
        calendar(
            [
                [
                    "UID:daily@test",
                    "DTSTART;TZID=America/Denver:20261026T090000",
                    "DTEND;TZID=America/Denver:20261026T100000",
                    "RRULE:FREQ=DAILY;COUNT=3",
                    "SUMMARY:Swedish 60 - Jon Fakeman",
                ],
                [  # begins on line 13 (5 calendar lines, 7 of the first event)
                    "UID:daily@test",
                    "RECURRENCE-ID;TZID=America/Denver:20261027T090000",
                    "SUMMARY:Swedish 60 - Jon Fakeman",
                ],
            ]
        ),
        newline="",
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], Settings(), location="L01")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 3, 1)
    assert query(db, "select line_number, reason from rejected_rows") == [
        (13, "event: a change to one occurrence (RECURRENCE-ID) has no DTSTART")
    ]
    # 26, 27 and 28 October at 09:00 MDT (15:00Z), 60 minutes each
    assert query(
        db, "select strftime(start_at, '%d %H:%M'), minutes from fct_bookings order by start_at"
    ) == [("26 09:00", 60), ("27 09:00", 60), ("28 09:00", 60)]


def test_an_event_s_location_that_is_the_studio_resolves_through_the_mapping(
    tmp_path: Path,
) -> None:
    # [ics] location_is = "location": an event's LOCATION is the studio's display name, never
    # our id. It resolves through [locations] (and the profile); a name nothing knows is a
    # rejected row, never a new location (it became location "Boulder Studio" in silence).
    mapping = tmp_path / "calendar.toml"
    mapping.write_text('[ics]\nlocation_is = "location"\n[locations]\n"Boulder Studio" = "L01"\n')
    event = ["DTSTART:20261102T160000Z", "DTEND:20261102T170000Z", "SUMMARY:A 60 - Kira Vale"]
    path = tmp_path / "cal.ics"
    path.write_text(
        calendar(
            [
                ["UID:in@test", *event, "LOCATION:Boulder Studio"],
                ["UID:out@test", *event, "LOCATION:Denver Loft"],  # begins on line 13
            ]
        ),
        newline="",
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], Settings(), mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    assert query(db, "select booking_id, location_id from fct_bookings") == [("in@test", "L01")]
    assert query(db, "select line_number, reason from rejected_rows") == [
        (
            13,
            "location 'Denver Loft' is not known: add it to the studio profile or to "
            "[locations] in the mapping",
        )
    ]
