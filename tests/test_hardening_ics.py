"""Hardening (issue 13, items 5 and 6): calendars that amplify, and regular expressions that
backtrack.

A calendar is a few lines of text that can describe millions of appointments (a repeating
event), or none after billions of candidate dates (a rule that never matches), and its SUMMARY
is read with a regular expression. Each hostile calendar here is built by a small generator,
loaded by the real CLI in a child process (tests/hostile.py), and must give one line naming the
file, the event's line and the limit with the setting that raises it, within the time and
memory bounds, leaving the warehouse byte-for-byte as it was.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from pipelines.ingest.formats.mapping import load_mapping
from pipelines.ingest.formats.tabular import ExportError
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.hostile import PEAK_MB, SECONDS, fingerprint, run_cli

# Every event starts ten days before today: inside the load's window (3,650 days back, 400
# ahead), so only the caps under test can stop it.
START = date.today() - timedelta(days=10)


def calendar(events: list[tuple[str, ...]]) -> tuple[str, list[int]]:
    """A Google-style calendar of `events` (each its VEVENT's property lines), and the line
    number on which each event begins (its BEGIN:VEVENT)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//studio-ops tests//EN",
        "X-WR-CALNAME:Elena Novak",
        "X-WR-TIMEZONE:America/Denver",
    ]
    begins = []
    for properties in events:
        lines.append("BEGIN:VEVENT")
        begins.append(len(lines))
        lines.extend(properties)
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n", begins


def event(
    uid: str, rule: str | None = None, summary: str = "Ashiatsu 60 - Maya Okafor"
) -> tuple[str, ...]:
    day = START.strftime("%Y%m%d")
    lines = (f"UID:{uid}", f"DTSTART:{day}T100000", f"DTEND:{day}T110000", f"SUMMARY:{summary}")
    return lines + ((f"RRULE:{rule}",) if rule else ())


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A published warehouse holding one calendar appointment of L01."""
    db = tmp_path / "studio.duckdb"
    text, _ = calendar([event("seed-1@test")])
    seed = tmp_path / "seed.ics"
    seed.write_text(text)
    [result] = load_files(db, [seed], Settings(), location="L01")
    assert result.outcome == "loaded", result.summary()
    return db


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An empty settings file: the defaults, whatever studio-ops.toml the working folder has."""
    path = tmp_path / "studio-ops.toml"
    path.write_text("")
    return {"STUDIO_OPS_SETTINGS": str(path)}


def load_hostile(db: Path, path: Path, env: dict[str, str], *extra: str) -> list[str]:
    """Load `path` with the real CLI; assert the bounds, an unchanged warehouse and no
    traceback, and return the lines printed."""
    before = fingerprint(db)
    run = run_cli("load", str(path), "--db", str(db), "--location", "L01", *extra, env=env,
                  timeout=SECONDS + 30)  # fmt: skip
    assert run.returncode == 1, run.lines
    assert "Traceback" not in run.stdout + run.stderr
    assert run.seconds < SECONDS, run.seconds
    assert run.peak_mb < PEAK_MB, run.peak_mb
    assert fingerprint(db) == before
    assert run.lines[-1] == f"nothing loaded; {db} is unchanged"
    return run.lines


def test_a_secondly_rule_is_refused(tmp_path: Path, warehouse: Path, env: dict) -> None:
    # 57 KB of FREQ=SECONDLY events once expanded to 2M bookings; each is now refused.
    text, begins = calendar([event(f"s{n}@test", "FREQ=SECONDLY") for n in range(400)])
    assert 50_000 < len(text) < 64_000
    path = tmp_path / "secondly.ics"
    path.write_text(text)

    lines = load_hostile(warehouse, path, env)

    assert lines[:-1] == [
        f"{path}: not loaded: every row was rejected (first: line {begins[0]}: event: RRULE "
        "'FREQ=SECONDLY' repeats more often than once a minute, the most a calendar event may)"
    ]


def test_a_rule_repeating_within_a_minute_is_refused(tmp_path: Path, warehouse: Path) -> None:
    # MINUTELY with two seconds in each minute is two occurrences 30 s apart.
    text, begins = calendar([event("m1@test", "FREQ=MINUTELY;BYSECOND=0,30;COUNT=10")])
    path = tmp_path / "twice-a-minute.ics"
    path.write_text(text)
    before = fingerprint(warehouse)

    [result] = load_files(warehouse, [path], Settings(), location="L01")

    assert result.outcome == "failed"
    assert result.message == (
        f"every row was rejected (first: line {begins[0]}: event: RRULE "
        "'FREQ=MINUTELY;BYSECOND=0,30;COUNT=10' gives two occurrences less than a minute apart "
        f"({START} 10:00:00 and {START} 10:00:30); a calendar event may repeat at most once a "
        "minute)"
    )
    assert fingerprint(warehouse) == before


@pytest.mark.parametrize("frequency", ["DAILY", "YEARLY"])
def test_rules_that_never_match_cost_bounded_time(
    tmp_path: Path, warehouse: Path, env: dict, frequency: str
) -> None:
    # 30 February never comes: dateutil used to look for it until the year 9999 (DAILY: ~6 s
    # of CPU an event, 20 events ~2 min). An event is given up at its 100,001st candidate date
    # (one per day looked at; the limit is 20 x calendar_max_per_event = 100,000), and the file
    # at its 1,000,001st (10 x calendar_max_per_file). Nine events use 9 x 100,001 = 900,009,
    # so the file's budget runs out 99,992 dates into the 10th event, before that event's own.
    never = f"FREQ={frequency};BYMONTH=2;BYMONTHDAY=30"
    text, begins = calendar([event(f"n{n}@test", never) for n in range(20)])
    path = tmp_path / "never.ics"
    path.write_text(text)

    lines = load_hostile(warehouse, path, env)

    assert lines[:-1] == [
        f"{path}: not loaded: line {begins[9]}: expanding the calendar's repeating events took "
        "more than 1,000,000 candidate dates, the limit for one file (10 x "
        "calendar_max_per_file; that setting raises it)"
    ]


def test_one_rule_that_never_matches_is_a_rejected_row(tmp_path: Path, warehouse: Path) -> None:
    # One impossible rule beside an ordinary appointment: the rule becomes a rejected row
    # naming its limit (20 x 5,000 candidate dates), the appointment loads.
    never = "FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31"  # 31 April never comes either
    text, begins = calendar([event("n1@test", never), event("ok1@test")])
    path = tmp_path / "never-one.ics"
    path.write_text(text)
    started = time.monotonic()

    [result] = load_files(warehouse, [path], Settings(), location="L01")

    assert time.monotonic() - started < SECONDS
    assert (result.outcome, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rejected = con.execute(
            "select line_number, reason from rejected_rows where file_name = ?", [str(path)]
        ).fetchall()
    assert rejected == [
        (
            begins[0],
            f"event: RRULE '{never}' was given up after 100,000 candidate dates: it never or "
            "rarely matches (20 x calendar_max_per_event; that setting raises it)",
        )
    ]


def test_a_file_over_the_appointment_cap_is_refused(
    tmp_path: Path, warehouse: Path, env: dict
) -> None:
    # 400 events of 5,000 one-minute occurrences each (the most one event may give) would be
    # 2,000,000 bookings; the 100,000th appointment is the last of the 20th event, so the
    # 21st event's first occurrence is over calendar_max_per_file.
    text, begins = calendar(
        [event(f"b{n}@test", "FREQ=MINUTELY;INTERVAL=1;COUNT=5000") for n in range(400)]
    )
    path = tmp_path / "big.ics"
    path.write_text(text)

    lines = load_hostile(warehouse, path, env)

    assert lines[:-1] == [
        f"{path}: not loaded: line {begins[20]}: the calendar holds more than 100,000 "
        "appointments, the limit for one file (the calendar_max_per_file setting raises it)"
    ]


def test_the_caps_are_settings(tmp_path: Path, warehouse: Path) -> None:
    # The window is today .. today + 20 (back 0, ahead 20). A daily rule of 40 from ten days
    # ago: its first ten days are before the window, 21 days are in it, 9 after it. An hourly
    # rule of 800 from ten days ago at 10:00: its hours 230 .. 733 fall in the window (504),
    # more than calendar_max_per_event = 30, so it is a rejected row.
    settings_file = tmp_path / "limits.toml"
    settings_file.write_text(
        "calendar_max_per_event = 30\ncalendar_days_back = 0\ncalendar_days_ahead = 20\n"
    )
    from pipelines.settings import load_settings

    limits = load_settings(settings_file)
    text, begins = calendar(
        [event("d40@test", "FREQ=DAILY;COUNT=40"), event("h800@test", "FREQ=HOURLY;COUNT=800")]
    )
    path = tmp_path / "window.ics"
    path.write_text(text)

    [result] = load_files(warehouse, [path], limits, location="L01")

    assert (result.outcome, result.rows_loaded, result.rows_rejected) == ("loaded", 21, 1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        first, last = con.execute(
            "select min(start_at)::date, max(start_at)::date from raw_bookings "
            "where booking_id like 'd40@%'"
        ).fetchone()
        [(reason,)] = con.execute(
            "select reason from rejected_rows where file_name = ?", [str(path)]
        ).fetchall()
    assert (first, last) == (date.today(), date.today() + timedelta(days=20))
    assert reason == (
        "event: RRULE 'FREQ=HOURLY;COUNT=800' gives more than 30 occurrences from "
        f"{date.today()} to {date.today() + timedelta(days=20)}, the limit for one event (the "
        "calendar_max_per_event setting raises it)"
    )


# --- quadratic regular expressions ---------------------------------------------------------

# 20 KB of spaces before a word, with no separator: the old default pattern tried every split
# of the spaces between its `\s*`, `.+?` and `\s+` (a few seconds at 1,000 spaces, growing with
# the cube), once per occurrence of a repeating event.
HOSTILE_SUMMARY = " " * 20_000 + "x"


def test_a_hostile_summary_against_the_default_pattern(
    tmp_path: Path, warehouse: Path, env: dict
) -> None:
    text, begins = calendar([event("h1@test", "FREQ=DAILY;COUNT=200", HOSTILE_SUMMARY)])
    path = tmp_path / "summary.ics"
    path.write_text(text)

    lines = load_hostile(warehouse, path, env)

    assert lines[:-1] == [
        f"{path}: not loaded: every row was rejected (first: line {begins[0]}: SUMMARY does not "
        "match the [ics] summary pattern)"
    ]


def test_a_nested_quantifier_in_the_mapping_runs_in_linear_time(
    tmp_path: Path, warehouse: Path, env: dict
) -> None:
    # (\w+\s?)+ before a separator that never comes: Python's re tries every way of cutting
    # 20,000 letters into words (exponential); RE2 reads the text once.
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[ics]\nsummary = "^(?P<service>(\\\\w+\\\\s?)+) - (?P<client>.+)$"\n'
        'therapist = "Elena Novak"\n'
    )
    assert load_mapping(mapping).ics_summary == r"^(?P<service>(\w+\s?)+) - (?P<client>.+)$"
    text, begins = calendar([event("q1@test", "FREQ=DAILY;COUNT=200", "a" * 20_000 + "!")])
    path = tmp_path / "nested.ics"
    path.write_text(text)

    lines = load_hostile(warehouse, path, env, "--mapping", str(mapping))

    assert lines[:-1] == [
        f"{path}: not loaded: every row was rejected (first: line {begins[0]}: SUMMARY does not "
        "match the [ics] summary pattern)"
    ]


def test_a_pattern_re2_cannot_run_is_one_line(tmp_path: Path, warehouse: Path, env: dict) -> None:
    # A backreference has no linear-time match: the mapping is refused, in one line (and
    # RE2's own error log stays quiet).
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[ics]\nsummary = "(?P<service>\\\\w+) - (?P<client>\\\\1)"\n')
    with pytest.raises(ExportError) as caught:
        load_mapping(mapping)
    assert str(caught.value) == (
        f"mapping file {mapping}: [ics] summary cannot be used (invalid escape sequence: \\1); "
        "it is run by RE2, which has no backreferences or lookaround"
    )
    text, _ = calendar([event("r1@test")])
    path = tmp_path / "any.ics"
    path.write_text(text)

    lines = load_hostile(warehouse, path, env, "--mapping", str(mapping))

    assert lines[:-1] == [f"{path}: not loaded: {caught.value}"]


def test_each_distinct_summary_is_matched_once(tmp_path: Path, warehouse: Path) -> None:
    # 3 events, 2 distinct summaries, 300 occurrences: the pattern runs twice.
    from pipelines.ingest.formats import ics

    calls = []
    real = ics.summary_pattern

    def counting(text):
        pattern = real(text)

        class Counted:
            groupindex = pattern.groupindex

            def match(self, summary):
                calls.append(summary)
                return pattern.match(summary)

        return Counted()

    text, _ = calendar(
        [
            event("c1@test", "FREQ=DAILY;COUNT=100", "Ashiatsu 60 - Maya Okafor"),
            event("c2@test", "FREQ=DAILY;COUNT=100", "Ashiatsu 60 - Maya Okafor"),
            event("c3@test", "FREQ=DAILY;COUNT=100", "Swedish 60 - Theo Brooks"),
        ]
    )
    path = tmp_path / "repeat.ics"
    path.write_text(text)
    ics.summary_pattern, saved = counting, ics.summary_pattern
    try:
        [result] = load_files(warehouse, [path], Settings(), location="L01")
    finally:
        ics.summary_pattern = saved
    assert (result.outcome, result.rows_loaded) == ("loaded", 300), result.summary()
    assert sorted(calls) == ["Ashiatsu 60 - Maya Okafor", "Swedish 60 - Theo Brooks"]


# --- bounded fuzzing -------------------------------------------------------------------------

FREQUENCIES = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]
RULE_PART = hs.one_of(
    hs.integers(-3, 400).map("INTERVAL={}".format),
    hs.integers(-2, 20_000).map("COUNT={}".format),
    hs.integers(-400, 400).map("BYMONTHDAY={}".format),
    hs.integers(-1, 14).map("BYMONTH={}".format),
    hs.lists(hs.integers(-1, 61), min_size=1, max_size=3).map(
        lambda v: "BYSECOND=" + ",".join(map(str, v))
    ),
    hs.integers(-1, 61).map("BYMINUTE={}".format),
    hs.integers(-1, 25).map("BYHOUR={}".format),
    hs.integers(-400, 400).map("BYYEARDAY={}".format),
    hs.integers(-60, 60).map("BYWEEKNO={}".format),
    hs.sampled_from(["MO", "2TU", "-1FR", "SU,SA", "XX"]).map("BYDAY={}".format),
    hs.integers(-400, 400).map("BYSETPOS={}".format),
    hs.sampled_from(["20000101", "20991231T235959", "1", ""]).map("UNTIL={}".format),
    hs.text(max_size=12),
)
# Mostly well-formed rules (a FREQ, then a few parts), sometimes none at all.
RULES = hs.one_of(
    hs.tuples(hs.sampled_from(FREQUENCIES), hs.lists(RULE_PART, max_size=4)).map(
        lambda t: ";".join([f"FREQ={t[0]}", *t[1]])
    ),
    hs.lists(RULE_PART, max_size=4).map(";".join),
)
SUMMARIES = hs.one_of(
    hs.sampled_from(["Ashiatsu 60 - Maya Okafor", "Swedish 90 – Theo Brooks", "Lunch"]),
    hs.text(max_size=80),
    hs.just(" " * 3000 + "x"),
)


def _fuzzed_calendars():
    """Calendars of a few events with random rules, starts and summaries, some cut short."""
    day = f"{START:%Y%m%d}"
    # Each start with an end an hour later: how long a booking may be is not the calendar
    # reader's to decide (a 126-year event is a row of any format).
    starts = {
        f"{day}T100000": f"{day}T110000",
        f"{day}T100000Z": f"{day}T110000Z",
        "19000101T000000": "19000101T010000",
        "99991231T120000": "99991231T130000",
    }
    one = hs.tuples(
        hs.sampled_from(sorted(starts)),
        hs.one_of(hs.none(), RULES),
        SUMMARIES,
        hs.sampled_from(["DTEND", "DURATION:PT1H", "DURATION:P", ""]),
    ).map(
        lambda t: (
            "UID:f@test",
            f"DTSTART:{t[0]}",
            *([f"RRULE:{t[1]}"] if t[1] is not None else []),
            f"SUMMARY:{t[2]}",
            f"DTEND:{starts[t[0]]}" if t[3] == "DTEND" else t[3],
        )
    )
    return hs.tuples(hs.lists(one, min_size=1, max_size=4), hs.integers(0, 4000)).map(
        lambda t: (lambda text: text if t[1] < 200 else text[: t[1]])(calendar(t[0])[0]).encode()
    )


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=_fuzzed_calendars())
def test_fuzzed_calendars_never_crash_the_loader(
    tmp_path: Path, warehouse: Path, content: bytes
) -> None:
    path = tmp_path / "fuzz.ics"
    path.write_bytes(content)
    before = fingerprint(warehouse)
    started = time.monotonic()
    [result] = load_files(warehouse, [path], Settings(), location="L01")  # never raises
    assert time.monotonic() - started < SECONDS
    line = result.summary()
    assert "\n" not in line and line.startswith(f"{path}: "), line
    assert not re.search(r"Traceback|\bError\b", line), line
    if result.outcome == "failed":
        assert fingerprint(warehouse) == before
