"""Rebalancing hints: the session to move off a therapist over a limit, and who may take it.

Hand-made weeks at one location (Monday 2026-09-07 to Sunday 09-13), loaded by the real
pipeline. Limits are the defaults: 5 bar sessions a day, 6 h (360 min) hands-on a day, 25 h a
week, 15 minutes' turnover. Rooms every day 08:00-20:00: Cedar and Birch with bars, Oak without.
Every booking names its room, so none is inferred.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import streamlit as st

from dashboard.queries import therapists
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.test_week_ahead import LOCATION, build, day, room, session, shift, spread

WEEK = [day(n) for n in range(7)]
ROOMS = [
    room(r, d, bars) for d in WEEK for r, bars in (("Cedar", True), ("Birch", True), ("Oak", False))
]
WEDNESDAY, SATURDAY = day(2), day(5)


@pytest.fixture(autouse=True)
def clear_caches(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def hints(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bookings: list[dict[str, str]],
    shifts: list[dict[str, str]],
) -> pd.DataFrame:
    db = build(tmp_path / "w", bookings, shifts, ROOMS)
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    st.cache_data.clear()
    return therapists.rebalancing_hints((LOCATION,), WEEK[0], WEEK[-1])


def maya_over_the_bar_limit(room_of_last: str = "Cedar") -> list[dict[str, str]]:
    """Maya on Wednesday: 6 one-hour bar sessions (09:00, 10:30, 12:00, 13:30, 15:00, 16:30),
    one over the limit of 5; 6 h hands-on (360 min: at the limit, not over); her week is 6 h.
    The one session to move is the latest, 16:30-17:30, in `room_of_last`."""
    rows = spread("M", "maya", WEDNESDAY, 6, bars=True, room="Cedar")
    rows[-1]["room_id"] = room_of_last
    return rows


def on_wednesday(therapist: str, trained: str, start: str = "08:00", end: str = "18:00"):
    return shift(therapist, WEDNESDAY, start, end, trained)


def only_row(found: pd.DataFrame) -> pd.Series:
    assert len(found) == 1, found
    return found.iloc[0]


def test_a_free_trained_colleague_within_every_limit_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kai: bar-trained, on shift 08:00-18:00, nothing booked: 0 bar sessions + 1 <= 5,
    # 0 + 60 min <= 360, week 0 + 1 h <= 25 h; Cedar, the session's own room, has bars.
    row = only_row(
        hints(tmp_path, monkeypatch, maya_over_the_bar_limit(), [on_wednesday("kai", "yes")])
    )
    assert (row["date"], row["therapist"], row["time"], row["room"]) == (
        WEDNESDAY,
        "maya",
        "16:30–17:30",
        "Cedar",
    )
    assert row["over_limit"] == "6 bar sessions (limit 5)"
    assert row["could_take_over"] == "Kai (0 h this week)"


# Ria's bar training is unknown: a shift file always says yes or no, so she comes from a studio
# profile that leaves bar_trained out. Its rooms are the ones the room file gives (which win).
RIA_PROFILE = """
[[location]]
id = "L01"
name = "Eastside Ashiatsu"
timezone = "America/Chicago"
opening_hours = { wed = "08:00-20:00" }
rooms = [
  { id = "Cedar", name = "Cedar", bars = true },
  { id = "Birch", name = "Birch", bars = true },
  { id = "Oak", name = "Oak", bars = false },
]

[[location.therapist]]
id = "ria"
name = "Ria"
shifts = { wed = "08:00-18:00" }
"""


def test_an_untrained_colleague_is_not_named_for_a_bar_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sam has all the slack Kai had, but is not bar-trained; Ria's training is unknown
    profile = tmp_path / "studio.toml"
    profile.write_text(RIA_PROFILE, encoding="utf-8")
    db = build(tmp_path / "w", maya_over_the_bar_limit(), [on_wednesday("sam", "no")], ROOMS)
    assert all(r.rows_rejected == 0 for r in load_files(db, [profile], Settings()))
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    st.cache_data.clear()
    row = only_row(therapists.rebalancing_hints((LOCATION,), WEEK[0], WEEK[-1]))
    assert "Sam" not in row["could_take_over"]
    assert row["could_take_over"] == "bar training unknown for Ria"


def test_a_colleague_the_session_would_put_over_the_daily_bar_limit_is_not_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kai already has 5 bar sessions on Wednesday (08:00, 09:30, 11:00, 12:30, 14:00, in
    # Birch; the last ends 15:00, 90 minutes before Maya's 16:30): 5 + 1 = 6 > 5. His
    # hands-on (5 h + 1 h = 6 h <= 6 h) and week (6 h) would stay within their limits.
    bookings = maya_over_the_bar_limit() + spread(
        "K", "kai", WEDNESDAY, 5, bars=True, room="Birch", first=8
    )
    row = only_row(hints(tmp_path, monkeypatch, bookings, [on_wednesday("kai", "yes")]))
    assert "Kai" not in row["could_take_over"]
    assert row["could_take_over"] == "no colleague free then and within every limit"


def test_no_colleague_is_named_when_no_bar_room_is_free_then(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Maya's last bar session is in Oak (no bars), so it needs another bar room for
    # 16:30-17:30; Cedar and Birch are taken 16:00-18:00 by two therapists with no shift.
    bookings = maya_over_the_bar_limit(room_of_last="Oak") + [
        session("X1", "lee", WEDNESDAY, "16:00", "18:00", bars=True, room="Cedar"),
        session("X2", "ana", WEDNESDAY, "16:00", "18:00", bars=True, room="Birch"),
    ]
    row = only_row(hints(tmp_path, monkeypatch, bookings, [on_wednesday("kai", "yes")]))
    assert row["room"] == "Oak"
    assert "Kai" not in row["could_take_over"]
    assert row["could_take_over"] == "no bar room free then"


def test_a_bar_room_that_frees_up_makes_the_colleague_count_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As above, but the booking in Birch ends at 16:30, when Maya's session starts: Birch is
    # free for 16:30-17:30, so Kai is named
    bookings = maya_over_the_bar_limit(room_of_last="Oak") + [
        session("X1", "lee", WEDNESDAY, "16:00", "18:00", bars=True, room="Cedar"),
        session("X2", "ana", WEDNESDAY, "15:30", "16:30", bars=True, room="Birch"),
    ]
    row = only_row(hints(tmp_path, monkeypatch, bookings, [on_wednesday("kai", "yes")]))
    assert row["could_take_over"] == "Kai (0 h this week)"


@pytest.mark.parametrize(
    ("kai_shift", "kai_booking", "why"),
    [
        # his shift ends at 17:00, before the session does
        (("08:00", "17:00"), None, "shift"),
        # booked 16:00-17:00, during the session
        (("08:00", "18:00"), ("16:00", "17:00"), "busy"),
        # booked 15:00-16:20: the gap to 16:30 is 10 minutes, under the 15-minute turnover,
        # so taking it would make a back-to-back pair
        (("08:00", "18:00"), ("15:00", "16:20"), "turnover"),
    ],
)
def test_a_colleague_not_on_shift_or_busy_then_is_not_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kai_shift: tuple[str, str],
    kai_booking: tuple[str, str] | None,
    why: str,
) -> None:
    bookings = maya_over_the_bar_limit()
    if kai_booking:
        bookings.append(session("K1", "kai", WEDNESDAY, *kai_booking, room="Oak"))
    row = only_row(hints(tmp_path, monkeypatch, bookings, [on_wednesday("kai", "yes", *kai_shift)]))
    assert "Kai" not in row["could_take_over"], why


def over_the_week() -> list[dict[str, str]]:
    """Maya: 5 h of Swedish (Oak) each day Monday to Friday = 25 h, and one more hour on
    Saturday 09:00-10:00 = 26 h > 25 h. Moving the latest session (Saturday's hour) leaves
    25 h, not over (the rule is "more than 25 h"): one session to move.
    Sam: 5 h Monday to Thursday = 20 h and 6 h on Friday (at the daily limit, not over) =
    26 h: over the weekly limit himself, and free all Saturday."""
    maya = [row for n in range(5) for row in spread(f"M{n}-", "maya", day(n), 5, room="Oak")]
    maya += spread("MSAT", "maya", SATURDAY, 1, room="Oak")
    sam = [row for n in range(4) for row in spread(f"S{n}-", "sam", day(n), 5, room="Cedar")]
    sam += spread("SFRI", "sam", day(4), 6, room="Cedar")
    return maya + sam


def test_the_only_free_colleague_over_the_weekly_limit_is_not_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shifts = [shift("sam", SATURDAY, "08:00", "18:00", "yes")]
    found = hints(tmp_path, monkeypatch, over_the_week(), shifts)
    # Sam, over the week himself, has his latest session (Friday 16:30) to move too
    assert list(found.loc[found["therapist"] == "Sam", "time"]) == ["16:30–17:30"]
    # a weekly overrun gives a hint row of its own: Maya's Saturday session
    row = only_row(found[found["therapist"] == "maya"])
    assert (row["date"], row["therapist"], row["time"]) == (SATURDAY, "maya", "09:00–10:00")
    assert row["over_limit"] == "26 h this week (limit 25 h)"
    assert "Sam" not in row["could_take_over"]
    assert row["could_take_over"] == "no colleague free then and within every limit"


def test_a_weekly_overrun_names_a_colleague_with_room_in_their_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Kai works only Saturday, nothing booked: his week would be 1 h; Sam (26 h) is still out
    shifts = [
        shift("sam", SATURDAY, "08:00", "18:00", "yes"),
        shift("kai", SATURDAY, "08:00", "18:00", "no"),  # a Swedish session needs no bars
    ]
    found = hints(tmp_path, monkeypatch, over_the_week(), shifts)
    row = only_row(found[found["therapist"] == "maya"])
    assert row["could_take_over"] == "Kai (0 h this week)"


def test_moving_off_a_long_day_takes_the_latest_sessions_until_under(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Maya on Wednesday: 8 one-hour Swedish sessions from 08:00, 90 minutes apart (the eighth
    # starts 08:00 + 7 x 90 min = 18:30) = 8 h, 2 h over 6 h: the two latest sessions (17:00
    # and 18:30) are to move; without them 6 h is left, not over. One alone would leave 7 h.
    bookings = spread("M", "maya", WEDNESDAY, 8, room="Oak", first=8)
    found = hints(tmp_path, monkeypatch, bookings, [on_wednesday("kai", "yes", "08:00", "21:00")])
    assert list(found["time"]) == ["17:00–18:00", "18:30–19:30"]
    assert set(found["over_limit"]) == {"8 h hands-on (limit 6 h)"}
