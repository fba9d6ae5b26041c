"""The studio profile in the warehouse: loaded by content, expanded to room-calendar and shift
rows on every load (export rows win per day), names matched, refused whole when bad, and
proposed from what is loaded (`studio-ops profile suggest`)."""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from pipelines.profile import parse_profile, room_rows, shift_rows, stored_profile
from tests.hostile import PEAK_MB, SECONDS, fingerprint, run_cli
from tests.test_load import query, write

SALT = "test-salt-not-secret"
TODAY = date.today()
# A Tuesday two to three weeks back: the first booking day, so the profile expands from it.
TUESDAY = TODAY - timedelta(days=14 + (TODAY.weekday() - 1) % 7)
WEDNESDAY, THURSDAY = TUESDAY + timedelta(days=1), TUESDAY + timedelta(days=2)
NEXT_TUESDAY = TUESDAY + timedelta(days=7)

PROFILE = f"""
[[location]]
id = "L01"
name = "Eastside Ashiatsu"
timezone = "America/Chicago"
opening_hours = {{ mon = "09:00-17:00", tue = "09:00-17:00", wed = "09:00-17:00", thu = "09:00-17:00", fri = "09:00-17:00", sat = "09:00-17:00", sun = "10:00-16:00" }}
closed_on = ["{WEDNESDAY}"]
rooms = [
  {{ id = "cedar", name = "Cedar", bars = true }},
  {{ id = "oak", name = "Oak", bars = false }},
]

[[location.therapist]]
id = "maya"
name = "Maya Chen"
also_known_as = ["Chen, Maya"]
bar_trained = true
shifts = {{ tue = "09:00-17:00", wed = "09:00-17:00", thu = ["09:00-12:00", "13:00-17:00"] }}
break_minutes = 30
time_off = ["{THURSDAY}"]
"""  # noqa: E501


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(pii.SALT_ENV, SALT)
    return SALT


def bookings_csv(path: Path, rows: list[tuple]) -> Path:
    """Native bookings: (id, location, room, therapist, client, start, end, status)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["booking_id", "location_id", "room_id", "therapist_id", "client_id", "service"]
            + ["start_at", "end_at", "status"]
        )
        for b, loc, room, therapist, client, start, end, status in rows:
            out.writerow([b, loc, room, therapist, client, "Swedish 60", start, end, status])
    return path


def room_minutes(db: Path, day: date) -> dict[str, int]:
    rows = query(db, "select room_id, available_minutes from fct_room_days where date = ?", [day])
    return dict(rows)


def scheduled(db: Path, day: date) -> int | None:
    rows = query(
        db,
        "select scheduled_minutes from fct_therapist_days where therapist_id = 'maya' and date = ?",
        [day],
    )
    return rows[0][0] if rows else None


@pytest.fixture
def studio(tmp_path: Path) -> Path:
    """A warehouse with the profile and one booking on TUESDAY (10:00-11:00 in cedar)."""
    db = tmp_path / "studio.duckdb"
    profile = write(tmp_path / "studio.toml", PROFILE)
    first = bookings_csv(
        tmp_path / "bookings.csv",
        [("b1", "L01", "cedar", "maya", "c1", f"{TUESDAY} 10:00", f"{TUESDAY} 11:00", "completed")],
    )
    results = load_files(db, [first, profile])
    assert [r.outcome for r in results] == ["loaded", "loaded"], [r.summary() for r in results]
    assert results[0].kind == "profile"  # profiles load first, whatever the order given
    return db


def test_an_ordinary_day_from_the_profile(studio: Path) -> None:
    # Tuesday 09:00-17:00 = 480 min per room, nothing blocked; cedar holds the 60-min booking.
    assert room_minutes(studio, TUESDAY) == {"cedar": 480, "oak": 480}
    assert query(
        studio,
        "select occupied_minutes from fct_room_days where room_id = 'cedar' and date = ?",
        [TUESDAY],
    ) == [(60,)]
    # Maya: 09:00-17:00 less a 30-min break = 450 scheduled, 60 booked.
    assert scheduled(studio, TUESDAY) == 450
    assert query(
        studio,
        "select booked_minutes from fct_therapist_days where therapist_id = 'maya' and date = ?",
        [TUESDAY],
    ) == [(60,)]
    # The rows carry where they came from and the profile's room order.
    assert query(
        studio,
        "select room_id, source, room_order from stg_exports__rooms where date = ? order by 1",
        [TUESDAY],
    ) == [("cedar", "profile", 0), ("oak", "profile", 1)]
    # Sunday hours are 10:00-16:00: 360 min a room.
    sunday = TUESDAY + timedelta(days=5)
    assert room_minutes(studio, sunday) == {"cedar": 360, "oak": 360}


def test_a_closed_day_and_time_off(studio: Path) -> None:
    # WEDNESDAY is a closed day: no room rows and no shift, though Maya works Wednesdays.
    assert room_minutes(studio, WEDNESDAY) == {}
    assert scheduled(studio, WEDNESDAY) is None
    # THURSDAY is open (480 a room) but Maya's time off: no shift.
    assert room_minutes(studio, THURSDAY) == {"cedar": 480, "oak": 480}
    assert scheduled(studio, THURSDAY) is None
    # The Thursday after: her two pieces, (3 h + 4 h) - 30 min = 390 scheduled.
    assert scheduled(studio, THURSDAY + timedelta(days=7)) == 390


def test_the_rows_reach_from_the_first_booking_to_the_days_ahead(studio: Path) -> None:
    first, last = query(studio, "select min(date), max(date) from profile_rooms")[0]
    # open every day but the closed Wednesday, so the last day is today + 28 (the default)
    assert (first, last) == (TUESDAY, TODAY + timedelta(days=28))
    # the SQL expansion gives exactly the rows of room_rows / shift_rows
    location = parse_profile(PROFILE).locations[0]
    expected = sorted(tuple(r.values()) for r in room_rows(location, TUESDAY, last))
    assert sorted(query(studio, "select * from profile_rooms")) == expected
    expected = sorted(tuple(r.values()) for r in shift_rows(location, TUESDAY, last))
    assert sorted(query(studio, "select * from profile_shifts")) == expected


def test_a_per_day_export_row_overrides_the_profile(studio: Path, tmp_path: Path) -> None:
    rooms = write(
        tmp_path / "rooms.csv",
        "date,location_id,room_id,has_bars,opens_at,closes_at,blocked_minutes\n"
        f"{NEXT_TUESDAY},L01,cedar,true,12:00,14:00,0\n",
    )
    shifts = write(
        tmp_path / "shifts.csv",
        "date,location_id,therapist_id,bar_trained,shift_start,shift_end,break_minutes\n"
        f"{NEXT_TUESDAY},L01,maya,true,10:00,12:00,0\n",
    )
    results = load_files(studio, [rooms, shifts])
    assert [r.outcome for r in results] == ["loaded", "loaded"]
    # cedar: the export's 12:00-14:00 = 120 min; oak keeps the profile's 480
    assert room_minutes(studio, NEXT_TUESDAY) == {"cedar": 120, "oak": 480}
    # Maya: the export's 10:00-12:00, no break = 120 (not 450 + 120)
    assert scheduled(studio, NEXT_TUESDAY) == 120
    sources = query(
        studio,
        "select room_id, source, room_order from stg_exports__rooms where date = ? order by 1",
        [NEXT_TUESDAY],
    )
    assert sources == [("cedar", "export", 0), ("oak", "profile", 1)]


def test_an_edited_profile_changes_the_marts_on_the_next_load(studio: Path, tmp_path: Path) -> None:
    edited = PROFILE.replace('tue = "09:00-17:00", wed', 'tue = "09:00-13:00", wed').replace(
        'mon = "09:00-17:00", tue = "09:00-17:00"', 'mon = "09:00-17:00", tue = "09:00-13:00"'
    )
    assert edited != PROFILE
    results = load_files(studio, [write(tmp_path / "studio-v2.toml", edited)])
    assert [r.outcome for r in results] == ["loaded"]
    # Tuesday now 09:00-13:00: 240 a room; Maya 4 h - 30 min = 210
    assert room_minutes(studio, TUESDAY) == {"cedar": 240, "oak": 240}
    assert scheduled(studio, TUESDAY) == 210
    con = duckdb.connect(str(studio), read_only=True)
    assert stored_profile(con).source.endswith("studio-v2.toml")  # the profile in force
    con.close()
    # loading the first profile again makes it the profile in force again
    load_files(studio, [write(tmp_path / "again.toml", PROFILE)])
    assert room_minutes(studio, TUESDAY) == {"cedar": 480, "oak": 480}


def test_a_booking_load_moves_the_days_ahead_and_keeps_the_refresh_equal_to_a_rebuild(
    studio: Path, tmp_path: Path
) -> None:
    # Remove the last days, as if the profile had been expanded days ago; the next load of
    # bookings only must bring them back (and refresh just those days).
    con = duckdb.connect(str(studio))
    con.execute("delete from profile_rooms where date > ?", [TODAY])
    con.execute("delete from profile_shifts where date > ?", [TODAY])
    con.close()
    later = bookings_csv(
        tmp_path / "later.csv",
        [("b2", "L01", "oak", "maya", "c2", f"{TODAY} 10:00", f"{TODAY} 11:00", "booked")],
    )
    assert [r.outcome for r in load_files(studio, [later])] == ["loaded"]
    assert query(studio, "select max(date) from fct_room_days")[0][0] == TODAY + timedelta(28)
    refreshed = query(studio, "select * from fct_room_days order by all")
    # a full rebuild of the same warehouse gives the same rows
    from pipelines.settings import Settings
    from pipelines.warehouse import build

    con = duckdb.connect(str(studio))
    con.execute("drop table mart_build_state")
    build.build_marts(con, Settings())
    assert con.execute("select * from fct_room_days order by all").fetchall() == refreshed
    con.close()


ACUITY_HEADER = [
    "Start Time", "End Time", "Timezone", "First Name", "Last Name", "Phone", "Email", "Type",
    "Calendar", "Appointment Price", "Paid?", "Amount Paid Online", "Certificate Code", "Notes",
    "Date Scheduled", "Label", "Scheduled By", "Date Rescheduled", "Appointment ID",
]  # fmt: skip


def acuity_time(moment: datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment.year} {moment.hour % 12 or 12}:{moment:%M} " + (
        "am" if moment.hour < 12 else "pm"
    )


def test_acuity_calendar_names_match_the_profile(studio: Path, tmp_path: Path) -> None:
    path = tmp_path / "schedule.csv"
    start = datetime.combine(NEXT_TUESDAY, datetime.min.time()).replace(hour=13)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, quoting=csv.QUOTE_ALL)
        out.writerow(ACUITY_HEADER)
        for number, calendar in enumerate(["Maya Chen", "  CHEN,  maya ", "Sam Ortiz"]):
            begin = start + timedelta(hours=number)
            out.writerow(
                [acuity_time(begin), acuity_time(begin + timedelta(minutes=60))]
                + ["", "Ava", f"Kim{number}", "", f"ava{number}@example.com", "Swedish 60"]
                + [calendar, "95.00", "no", "0.00", "", "", str(TODAY), "", "", ""]
                + [str(900 + number)]
            )
    # the mapping gives the location by its display name; the profile turns it into L01
    mapping = write(
        tmp_path / "acuity.toml",
        '[source]\nlocation = "eastside ashiatsu"\n[acuity]\ncalendar = "therapist"\n',
    )
    results = load_files(studio, [path], mapping=mapping)
    assert [r.outcome for r in results] == ["loaded"], results[0].summary()
    rows = query(
        studio,
        "select booking_id, location_id, therapist_id from raw_bookings "
        "where source = 'acuity' order by booking_id",
    )
    # "Maya Chen" is her name, "CHEN, maya" her also_known_as; Sam is not in the profile
    assert rows == [("900", "L01", "maya"), ("901", "L01", "maya"), ("902", "L01", "Sam Ortiz")]


BAD_PROFILES = [
    ('opening_hours = { tue = "20:00-09:00" }', "location L01: opening_hours.tue: '20:00-09:00' "),
    ('rooms = [{ id = "a" }, { id = "a" }]', "location L01: room id 'a' is used twice"),
    ('timezone = "Mars/Olympus"', "location L01: timezone 'Mars/Olympus' is not a known"),
    ('opening_hours = { tues = "09:00-17:00" }', "unknown weekday 'tues'"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_PROFILES)
def test_a_bad_profile_is_one_line_and_changes_nothing(
    studio: Path, tmp_path: Path, line: str, problem: str
) -> None:
    bad = write(tmp_path / "bad.toml", f'[[location]]\nid = "L01"\n{line}\n')
    before = fingerprint(studio)
    run = run_cli("load", str(bad), "--db", str(studio))
    assert run.returncode == 1
    # the file's one line, then the CLI's "nothing loaded; ... unchanged"
    assert run.lines[0].startswith(f"{bad}: not loaded: "), run.lines
    assert problem in run.lines[0]
    assert "\n" not in run.lines[0] and "Traceback" not in run.stdout + run.stderr
    assert run.lines[1:] == [f"nothing loaded; {studio} is unchanged"]
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(studio) == before


def test_a_huge_profile_is_refused_by_its_size(studio: Path, tmp_path: Path) -> None:
    # 2 MB of rooms, past the 1,024 KB default of max_profile_kb: refused before parsing
    rooms = ", ".join(f'{{ id = "r{n}" }}' for n in range(120_000))
    bad = write(tmp_path / "huge.toml", f'[[location]]\nid = "L01"\nrooms = [{rooms}]\n')
    assert bad.stat().st_size > 1024 * 1024
    before = fingerprint(studio)
    run = run_cli("load", str(bad), "--db", str(studio))
    assert run.returncode == 1
    assert run.lines == [
        f"{bad}: not loaded: the profile is larger than 1,024 KB, the limit "
        "(the max_profile_kb setting raises it)",
        f"nothing loaded; {studio} is unchanged",
    ]
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(studio) == before


def test_a_profile_in_an_export_folder_loads_and_mapping_files_do_not(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write(folder / "studio.toml", PROFILE)
    write(folder / "acuity.toml", '[source]\nlocation = "L01"\n[acuity]\ncalendar = "therapist"\n')
    bookings_csv(
        folder / "a.csv",
        [("b1", "Eastside Ashiatsu", "", "Chen, Maya", "c1", f"{TUESDAY} 10:00",
          f"{TUESDAY} 11:00", "completed")],
    )  # fmt: skip
    db = tmp_path / "studio.duckdb"
    results = load_files(db, [folder])
    assert [(Path(r.file_name).name, r.outcome) for r in results] == [
        ("studio.toml", "loaded"),
        ("a.csv", "loaded"),
    ]
    assert query(db, "select location_id, therapist_id from raw_bookings") == [("L01", "maya")]
    assert query(db, "select name, timezone from dim_locations") == [
        ("Eastside Ashiatsu", "America/Chicago")
    ]


def test_suggest_proposes_a_profile_that_reads_back(studio: Path, tmp_path: Path) -> None:
    later = bookings_csv(
        tmp_path / "more.csv",
        [
            # Tuesday: 08:30-10:00 and 15:00-18:15 -> tue = "08:30-18:15" (earliest, latest)
            ("b7", "L01", "cedar", "MAYA", "c3", f"{NEXT_TUESDAY} 08:30", f"{NEXT_TUESDAY} 10:00",
             "completed"),
            ("b8", "L01", "birch", "maya", "c4", f"{NEXT_TUESDAY} 15:00", f"{NEXT_TUESDAY} 18:15",
             "completed"),
        ],
    )  # fmt: skip
    assert [r.outcome for r in load_files(studio, [later])] == ["loaded"]
    run = run_cli("profile", "suggest", "--db", str(studio))
    assert run.returncode == 0, run.stderr
    profile = parse_profile(run.stdout, "suggested.toml")  # it reads back
    (location,) = profile.locations
    assert (location.id, location.name, location.timezone) == (
        "L01", "Eastside Ashiatsu", "America/Chicago"
    )  # fmt: skip
    # the first Tuesday's booking is 10:00-11:00, the next one's 08:30-10:00 and 15:00-18:15
    assert location.opening_hours == {1: (time(8, 30), time(18, 15))}
    # rooms named by bookings, bars unknown to any calendar: none had bar work booked
    assert [(r.id, r.bars) for r in location.rooms] == [("birch", False), ("cedar", False)]
    # "MAYA" became maya through the profile's names: one therapist; no shift file: unknown
    (maya,) = location.therapists
    assert maya.id == "maya" and maya.bar_trained is None
    assert "bar_trained: unknown" in run.stdout  # the comments say what was guessed


def test_bookings_loaded_before_the_profile_take_its_ids(tmp_path: Path) -> None:
    db = tmp_path / "studio.duckdb"
    first = bookings_csv(
        tmp_path / "a.csv",
        [("b1", "Eastside Ashiatsu", "cedar", "Chen, Maya", "c1", f"{TUESDAY} 10:00",
          f"{TUESDAY} 11:00", "completed")],
    )  # fmt: skip
    assert [r.outcome for r in load_files(db, [first])] == ["loaded"]
    assert [r.outcome for r in load_files(db, [write(tmp_path / "s.toml", PROFILE)])] == ["loaded"]
    assert query(db, "select location_id, therapist_id from raw_bookings") == [("L01", "maya")]
    # so the booking meets Maya's profile shift: 450 scheduled, 60 booked that Tuesday
    assert query(
        db,
        "select scheduled_minutes, booked_minutes from fct_therapist_days where date = ?",
        [TUESDAY],
    ) == [(450, 60)]


def test_a_therapist_the_profile_does_not_list_is_a_finding(studio: Path, tmp_path: Path) -> None:
    # Two bookings of "ghost" on NEXT_TUESDAY and one of "Chen, Maya" (Maya's alias): the
    # profile lists only maya at L01, so one finding for ghost that day (count 2), none for
    # Maya; the first load's booking by maya gave none either.
    assert query(
        studio, "select count(*) from dq_issues where kind = 'therapist_not_in_profile'"
    ) == [(0,)]
    day = NEXT_TUESDAY
    more = bookings_csv(
        tmp_path / "more.csv",
        [
            ("g1", "L01", "oak", "ghost", "c2", f"{day} 10:00", f"{day} 11:00", "completed"),
            ("g2", "L01", "oak", "ghost", "c3", f"{day} 12:00", f"{day} 13:00", "booked"),
            ("m2", "L01", "cedar", "Chen, Maya", "c4", f"{day} 10:00", f"{day} 11:00", "booked"),
        ],
    )
    [result] = load_files(studio, [more])
    assert result.outcome == "loaded", result.summary()
    assert query(
        studio,
        "select entity_id, date, detail from dq_issues where kind = 'therapist_not_in_profile'",
    ) == [
        (
            "ghost",
            day,
            "2 booking(s) with therapist ghost, who is not in the studio profile of L01",
        )
    ]
