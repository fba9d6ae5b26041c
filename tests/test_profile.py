"""The studio profile: parsing, one-line errors for bad profiles, expansion to rows, names."""

from __future__ import annotations

from datetime import date, time

import pytest

from pipelines.profile import (
    ProfileError,
    location_names,
    looks_like_profile,
    name_key,
    parse_profile,
    room_rows,
    shift_rows,
    therapist_names,
)

EASTSIDE = """
[[location]]
id = "L01"
name = "Eastside Ashiatsu"
timezone = "America/Chicago"
opened_on = "2024-03-01"
opening_hours = { tue = "09:00-20:00", wed = "09:00-20:00", sat = "09:00-18:00" }
closed_on = ["2026-12-26"]
rooms = [
  { id = "cedar", name = "Cedar", bars = true },
  { id = "birch", name = "Birch", bars = true },
  { id = "oak", name = "Oak", bars = false },
]

[[location.therapist]]
id = "maya"
name = "Maya Chen"
also_known_as = ["Chen, Maya", "Maya C."]
bar_trained = true
shifts = { tue = "09:00-17:00", wed = ["09:00-12:00", "13:00-18:00"] }
break_minutes = 30
time_off = ["2026-12-23"]

[[location.therapist]]
id = "jo"
name = "Jo Park"
shifts = { sat = "10:00-16:00" }
"""


def test_a_profile_is_recognised_by_its_content() -> None:
    assert looks_like_profile(EASTSIDE)
    assert not looks_like_profile("[source]\nname = 'acuity'\n")  # a mapping file
    assert not looks_like_profile("booking_id,location_id\n")


def test_the_profile_expands_to_room_rows_on_open_days_only() -> None:
    location = parse_profile(EASTSIDE).locations[0]
    # 2026-12-21 is a Monday; the week to Sunday 12-27 has Tue 22, Wed 23 and Sat 26 open by
    # the hours, and Sat 26 is a closed day: 2 open days x 3 rooms = 6 rows.
    rows = list(room_rows(location, date(2026, 12, 21), date(2026, 12, 27)))
    assert len(rows) == 6
    assert {r["date"] for r in rows} == {date(2026, 12, 22), date(2026, 12, 23)}
    tuesday = [r for r in rows if r["date"] == date(2026, 12, 22)]
    assert [r["room_id"] for r in tuesday] == ["cedar", "birch", "oak"]  # profile order
    assert [r["has_bars"] for r in tuesday] == [True, True, False]
    assert (tuesday[0]["opens_at"], tuesday[0]["closes_at"]) == (time(9), time(20))
    # 09:00-20:00 is 11 h = 660 min a room, none blocked
    assert all(r["blocked_minutes"] == 0 for r in rows)


def test_the_profile_expands_to_shift_rows_without_time_off_or_closed_days() -> None:
    location = parse_profile(EASTSIDE).locations[0]
    rows = list(shift_rows(location, date(2026, 12, 21), date(2026, 12, 27)))
    # Maya: Tue 22 (one piece), Wed 23 is time off; Jo: Sat 26 is a closed day. So one row.
    assert [(r["therapist_id"], r["date"]) for r in rows] == [("maya", date(2026, 12, 22))]
    # The next week: Maya Tue 29 (1 piece) and Wed 30 (2 pieces), Jo Sat Jan 2: 4 rows.
    rows = list(shift_rows(location, date(2026, 12, 28), date(2027, 1, 3)))
    assert len(rows) == 4
    wednesday = [r for r in rows if r["date"] == date(2026, 12, 30)]
    assert [(r["shift_start"], r["shift_end"]) for r in wednesday] == [
        (time(9), time(12)),
        (time(13), time(18)),
    ]
    # the day's break is on its first piece only: (3 h + 5 h) - 30 min = 450 scheduled minutes
    assert [r["break_minutes"] for r in wednesday] == [30, 0]
    jo = [r for r in rows if r["therapist_id"] == "jo"]
    assert jo[0]["bar_trained"] is None  # not said: unknown, never "no"


def test_display_names_match_ids_ignoring_case_and_spacing() -> None:
    profile = parse_profile(EASTSIDE)
    names = therapist_names(profile)
    for spelling in ("Maya Chen", "  maya   chen ", "Chen, Maya", "MAYA C.", "maya"):
        assert names[("L01", name_key(spelling))] == "maya"
    assert location_names(profile)[name_key("eastside  ASHIATSU")] == "L01"


BAD = [
    ("opening_hours = { tues = '09:00-17:00' }", "unknown weekday 'tues'"),
    ("opening_hours = { tue = '20:00-09:00' }", "ends before it starts"),
    ("opening_hours = { tue = '9am-5pm' }", "is not a time range"),
    ("timezone = 'Mars/Olympus'", "is not a known time zone"),
    ("rooms = [{ id = 'a' }, { id = 'A' }]", "room id 'A' is used twice"),
    ("rooms = [{ id = 'a', bars = 'yes' }]", "bars must be true or false"),
    ("closed_on = ['25/12/2026']", "is not a date"),
    ("colour = 'blue'", "unknown key 'colour'"),
]


@pytest.mark.parametrize(("line", "problem"), BAD)
def test_a_bad_location_key_is_one_line_naming_the_key(line: str, problem: str) -> None:
    text = f'[[location]]\nid = "L01"\n{line}\n'
    with pytest.raises(ProfileError) as raised:
        parse_profile(text, "studio.toml")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("studio.toml: location L01")
    assert problem in message


def test_overlapping_shift_pieces_are_refused() -> None:
    text = """
[[location]]
id = "L01"
[[location.therapist]]
id = "maya"
shifts = { tue = ["09:00-13:00", "12:00-17:00"] }
"""
    with pytest.raises(ProfileError, match=r"therapist maya: shifts.tue: shift pieces overlap"):
        parse_profile(text, "studio.toml")


def test_a_therapist_at_two_locations_at_overlapping_hours_is_refused() -> None:
    text = """
[[location]]
id = "L01"
[[location.therapist]]
id = "maya"
shifts = { tue = "09:00-13:00" }
[[location]]
id = "L02"
[[location.therapist]]
id = "maya"
shifts = { tue = "12:00-17:00", wed = "09:00-17:00" }
"""
    with pytest.raises(ProfileError, match="maya works at L01 and L02 at overlapping hours on tue"):
        parse_profile(text, "studio.toml")
    # the same therapist on different days is fine
    parse_profile(text.replace('tue = "12:00-17:00", ', ""), "studio.toml")


def test_a_profile_written_as_toml_reads_back_equal() -> None:
    from pipelines.profile import to_toml

    profile = parse_profile(EASTSIDE, "studio.toml")
    text = to_toml(profile, notes={"L01": "guessed from 8 weeks", "L01/jo": "training unknown"})
    assert "# guessed from 8 weeks" in text
    assert parse_profile(text, "again.toml") == profile
    # names with quotes and backslashes survive the round trip
    odd = EASTSIDE.replace('"Maya Chen"', '"Maya \\"Mo\\" Chen \\\\ Jr"')
    assert parse_profile(to_toml(parse_profile(odd))) == parse_profile(odd)
