"""The next 7 days: overload warnings from booked appointments, and the page that shows them.

A hand-made week at one location, loaded with the real pipeline (load_files) from native CSVs
written here. The week runs Monday 2026-09-07 to Sunday 2026-09-13; the data is complete
through Tuesday 09-08 (completed bookings), and Wednesday on is booked ahead. Every expected
figure is worked out by hand in the comments next to the rows.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.queries import ahead
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.apptest import show_every_table
from tests.test_load import write_csv
from tests.test_partial_states import column_values, shown

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
LOCATION, NAME = "L01", "Eastside Ashiatsu"
MONDAY = dt.date(2026, 9, 7)
AS_OF = MONDAY + dt.timedelta(days=1)  # Tuesday: the last day with completed bookings
TOMORROW = AS_OF + dt.timedelta(days=1)  # Wednesday 09-09


def day(offset: int) -> dt.date:
    return MONDAY + dt.timedelta(days=offset)


def session(
    number: str,
    therapist: str,
    when: dt.date,
    start: str,
    end: str,
    *,
    bars: bool = False,
    room: str = "",
    status: str = "",
) -> dict[str, str]:
    """One booking row; completed up to AS_OF, booked after it, unless `status` says."""
    return {
        "booking_id": number,
        "location_id": LOCATION,
        "room_id": room,
        "therapist_id": therapist,
        "client_id": f"C-{number}",
        "service": "Ashiatsu 60" if bars else "Swedish 60",
        "uses_bars": "yes" if bars else "no",
        "start_at": f"{when} {start}",
        "end_at": f"{when} {end}",
        "status": status or ("completed" if when <= AS_OF else "booked"),
    }


def shift(therapist: str, when: dt.date, start: str, end: str, trained: str) -> dict[str, str]:
    return {
        "date": f"{when}",
        "location_id": LOCATION,
        "therapist_id": therapist,
        "therapist_name": therapist.title(),
        "bar_trained": trained,
        "shift_start": start,
        "shift_end": end,
        "break_minutes": "0",
    }


def room(room_id: str, when: dt.date, bars: bool) -> dict[str, str]:
    return {
        "date": f"{when}",
        "location_id": LOCATION,
        "room_id": room_id,
        "room_name": room_id,
        "has_bars": "yes" if bars else "no",
        "opens_at": "08:00",
        "closes_at": "20:00",
    }


BOOKING_COLUMNS = ["booking_id", "location_id", "room_id", "therapist_id", "client_id"]
BOOKING_COLUMNS += ["service", "uses_bars", "start_at", "end_at", "status"]
SHIFT_COLUMNS = ["date", "location_id", "therapist_id", "therapist_name", "bar_trained"]
SHIFT_COLUMNS += ["shift_start", "shift_end", "break_minutes"]
ROOM_COLUMNS = ["date", "location_id", "room_id", "room_name", "has_bars", "opens_at"]
ROOM_COLUMNS += ["closes_at"]


def build(
    folder: Path,
    bookings: list[dict[str, str]],
    shifts: list[dict[str, str]] = (),
    rooms: list[dict[str, str]] = (),
) -> Path:
    """A warehouse in `folder` loaded by the real pipeline from these rows."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        write_csv(
            folder / "locations.csv",
            ["location_id", "name", "timezone"],
            [{"location_id": LOCATION, "name": NAME, "timezone": "America/Chicago"}],
        ),
        write_csv(folder / "bookings.csv", BOOKING_COLUMNS, bookings),
    ]
    if shifts:
        files.append(write_csv(folder / "shifts.csv", SHIFT_COLUMNS, list(shifts)))
    if rooms:
        files.append(write_csv(folder / "rooms.csv", ROOM_COLUMNS, list(rooms)))
    db = folder / "studio.duckdb"
    results = load_files(db, files, Settings())
    assert all(r.rows_rejected == 0 for r in results), [r for r in results if r.rows_rejected]
    return db


def spread(
    prefix: str,
    therapist: str,
    when: dt.date,
    hours: int,
    *,
    bars: bool = False,
    room: str = "",
    first: int = 9,
) -> list[dict[str, str]]:
    """`hours` one-hour sessions from `first` o'clock, 30 minutes apart (never back-to-back):
    09:00, 10:30, 12:00, 13:30, 15:00, 16:30, ..."""
    rows = []
    for n in range(hours):
        start = dt.datetime.combine(when, dt.time(first)) + dt.timedelta(minutes=90 * n)
        end = start + dt.timedelta(hours=1)
        rows.append(
            session(
                f"{prefix}{n}",
                therapist,
                when,
                f"{start:%H:%M}",
                f"{end:%H:%M}",
                bars=bars,
                room=room,
            )
        )
    return rows


def overload_week() -> list[dict[str, str]]:
    """Maya's week (limits: 5 bar sessions a day, 6 h hands-on a day, 25 h a week, 15 min
    turnover):
    - Mon and Tue (worked, completed): 6 h each = 12 h, 30-minute gaps.
    - Wed (tomorrow, booked): 6 one-hour bar sessions = 6 h (360 min: at the daily limit, not
      over it); gaps 5, 25, 30, 20, 5 min: two gaps under 15 min = 2 back-to-back pairs.
      Week so far 18 h.
    - Thu: 5 h (week 23 h). Fri: 4 h (week 27 h > 25 h: the week goes over on Friday). The
      whole week is 6 + 6 + 6 + 5 + 4 = 27 h. Without Mon and Tue it would be 15 h: no warning.
    - Next Monday 09-14: 1 h, a new week (1 h: no weekly warning).
    Sam, the control, on Wednesday: 5 bar sessions (at the limit, not over), gaps of exactly 15
    minutes (not under the turnover: no pair), 5 h.
    """
    wednesday = day(2)
    maya_wed = [
        ("W1", "09:00", "10:00"),
        ("W2", "10:05", "11:05"),  # 5 min after W1: pair 1
        ("W3", "11:30", "12:30"),
        ("W4", "13:00", "14:00"),
        ("W5", "14:20", "15:20"),
        ("W6", "15:25", "16:25"),  # 5 min after W5: pair 2
    ]
    sam_wed = [
        ("S1", "09:00", "10:00"),
        ("S2", "10:15", "11:15"),
        ("S3", "11:30", "12:30"),
        ("S4", "12:45", "13:45"),
        ("S5", "14:00", "15:00"),
    ]
    return [
        *spread("MON", "maya", day(0), 6),
        *spread("TUE", "maya", day(1), 6),
        *(session(n, "maya", wednesday, s, e, bars=True) for n, s, e in maya_wed),
        *(session(n, "sam", wednesday, s, e, bars=True) for n, s, e in sam_wed),
        *spread("THU", "maya", day(3), 5),
        *spread("FRI", "maya", day(4), 4),
        *spread("NEXT", "maya", day(7), 1),
    ]


@pytest.fixture(autouse=True)
def clear_caches(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture(scope="module")
def overloaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("overloaded"), overload_week())


def test_overload_ahead_warns_of_tomorrows_bar_sessions_pairs_and_the_week(
    overloaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_OPS_DB", str(overloaded))
    found = ahead.overload_ahead((LOCATION,), AS_OF)
    assert list(found.columns) == ["date", "location_name", "therapist", "warning", "kind"]
    got = sorted(
        zip(found["date"], found["therapist"], found["kind"], found["warning"], strict=True)
    )
    # no shift file names her: the therapist is shown by her id
    assert got == sorted(
        [
            (TOMORROW, "maya", "bar_sessions", "6 bar sessions (limit 5)"),
            (TOMORROW, "maya", "back_to_back", "2 back-to-back pairs (turnover 15 min)"),
            # the week went over on Friday, counting Monday's and Tuesday's 12 h worked
            (day(4), "maya", "weekly", "27 h this week (limit 25 h)"),
        ]
    )
    assert set(found["location_name"]) == {NAME}


def test_overload_ahead_covers_only_the_days_asked_for(
    overloaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_OPS_DB", str(overloaded))
    # the two days after Wednesday: Thursday and Friday; only the week goes over in them
    found = ahead.overload_ahead((LOCATION,), TOMORROW, days=2)
    assert list(found["kind"]) == ["weekly"]
    # a location the viewer did not pick gives nothing
    assert ahead.overload_ahead(("L99",), AS_OF).empty


def open_week_ahead(db: Path, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    """The Next 7 days page on `db`, opened from the app's router as a viewer would."""
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("dashboard/pages/week_ahead.py").run()
    # the warnings and the day-by-day tables sit behind their toggles
    show_every_table(at)
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    return at


def test_the_page_shows_the_warnings_the_sessions_to_move_and_the_days_it_covers(
    overloaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_week_ahead(overloaded, monkeypatch)
    text = shown(at)
    # it opens on the location's latest complete day, Tuesday, and covers the 7 days after it
    assert "Wed 09 Sep – Tue 15 Sep 2026, the 7 days after Tue 08 Sep" in text
    warnings = column_values(at, "Warning")
    assert sorted(warnings) == sorted(
        [
            "6 bar sessions (limit 5)",
            "2 back-to-back pairs (turnover 15 min)",
            "27 h this week (limit 25 h)",
        ]
    )
    # the sessions to move: Wednesday's last bar session (6 - 5 = 1); Friday's latest sessions
    # until the week is under: 27 h - 1 h (13:30) = 26 h, still over; - 1 h (12:00) = 25 h.
    # No shift file: nobody is known to be on shift.
    assert sorted(column_values(at, "Time")) == sorted(
        ["15:25–16:25", "12:00–13:00", "13:30–14:30"]
        # the day-by-day tables: Wednesday's 6 sessions and Friday's 4
        + ["09:00–10:00", "10:05–11:05", "11:30–12:30", "13:00–14:00", "14:20–15:20"]
        + ["15:25–16:25", "09:00–10:00", "10:30–11:30", "12:00–13:00", "13:30–14:30"]
    )
    assert set(column_values(at, "Could take it over")) == {
        "no colleague on shift for the whole session"
    }
    assert "None" not in text and "nan" not in text.lower().split()
    # the day x therapist grid: 7 day columns; Wednesday's worst is the bar sessions (over the
    # back-to-back pairs), Friday's the week
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert spec["encoding"]["x"]["scale"]["domain"] == [f"{day(n):%a %d %b}" for n in range(2, 9)]
    assert spec["encoding"]["color"]["scale"]["domain"] == [
        "Over the weekly limit",
        "Over the bar-session limit",
    ]


def test_the_page_says_so_in_one_line_when_no_one_is_over_a_limit(
    overloaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the 7 days after Friday 09-11: Saturday to Friday, 1 h on the next Monday only
    at = open_week_ahead(overloaded, monkeypatch, location=LOCATION, day=f"{day(4)}")
    assert [s.value for s in at.success] == ["No one is booked over a limit in the next 7 days."]
    assert not at.dataframe
