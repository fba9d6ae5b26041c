"""The Day page: one location's day, its appointments list (no-shows and late cancels on top),
the per-location default day, and one-line banners at 1280x800.

The warehouse is hand-made: two locations loaded with the real pipeline (load_files) from small
native CSVs written here. Eastside's data runs 1-10 Sep 2026, Westside's stops on 4 Sep, so the
chain's latest complete day (10 Sep) is after Westside's data ends.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st

from dashboard.queries import today as queries
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.test_load import write_csv

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT = 60
EAST, WEST = "L01", "L02"
NAMES = {EAST: "Eastside Ashiatsu", WEST: "Westside Ashiatsu"}
FIRST = dt.date(2026, 9, 1)
LAST_DAY = {EAST: dt.date(2026, 9, 10), WEST: dt.date(2026, 9, 4)}
DAY = LAST_DAY[EAST]  # the hand-made day: Thursday 10 Sep 2026


def _days(location: str) -> list[dt.date]:
    count = (LAST_DAY[location] - FIRST).days + 1
    return [FIRST + dt.timedelta(days=n) for n in range(count)]


def _booking(
    ident: str,
    location: str,
    day: dt.date,
    hour: int,
    therapist: str,
    room: str,
    service: str,
    status: str,
    created: str = "",
    cancelled: str = "",
) -> dict:
    start = dt.datetime.combine(day, dt.time(hour))
    return {
        "booking_id": ident, "location_id": location, "room_id": room,
        "therapist_id": therapist, "client_id": f"C-{ident}", "service": service,
        "start_at": f"{start:%Y-%m-%d %H:%M}",
        "end_at": f"{start + dt.timedelta(hours=1):%Y-%m-%d %H:%M}",
        "status": status, "price": "100.00", "created_at": created, "cancelled_at": cancelled,
    }  # fmt: skip


# Eastside on DAY, written out of order on purpose (the list sorts them):
#   B1 09:00 maya Cedar completed           B4 15:00 sam Oak late_cancelled (cancelled 08:00)
#   B2 13:00 sam  Oak   completed           B5 12:00 sam Oak cancelled on 5 Sep (5 days before,
#   B3 11:00 maya Cedar no_show                      beyond the 24 h late_cancel_hours: not late)
DAY_BOOKINGS = [
    _booking("B1", EAST, DAY, 9, "maya", "R1", "Ashiatsu 60", "completed", "2026-09-03 09:00"),
    _booking("B2", EAST, DAY, 13, "sam", "R2", "Swedish 60", "completed", "2026-09-04 10:30"),
    _booking("B3", EAST, DAY, 11, "maya", "R1", "Ashiatsu 60", "no_show", "2026-09-02 18:00"),
    _booking("B4", EAST, DAY, 15, "sam", "R2", "Swedish 60", "late_cancelled",
             "2026-09-01 12:00", "2026-09-10 08:00"),
    _booking("B5", EAST, DAY, 12, "sam", "R2", "Swedish 60", "cancelled",
             "2026-09-01 12:00", "2026-09-05 10:00"),
]  # fmt: skip

# By hand, no-shows first, then late cancels, then the rest by start time:
#   B3 11:00 No-show, B4 15:00 Late cancel, B1 09:00, B5 12:00 Cancelled, B2 13:00
EXPECTED = [
    ("11:00", "Cedar", "Maya", "Ashiatsu 60", "No-show"),
    ("15:00", "Oak", "Sam", "Swedish 60", "Late cancel"),
    ("09:00", "Cedar", "Maya", "Ashiatsu 60", "Completed"),
    ("12:00", "Oak", "Sam", "Swedish 60", "Cancelled"),
    ("13:00", "Oak", "Sam", "Swedish 60", "Completed"),
]


def build(folder: Path) -> Path:
    """The two-location warehouse described above, through the real load."""
    folder.mkdir(parents=True, exist_ok=True)
    bookings = list(DAY_BOOKINGS)
    # one completed 10:00 booking every other day of each location's data, so every day
    # before DAY has something and each location's last day is its latest complete day
    for location in (EAST, WEST):
        for day in _days(location):
            if location == WEST or day != DAY:
                ident = f"F-{location}-{day:%d}"
                bookings.append(
                    _booking(ident, location, day, 10, "maya", "R1", "Ashiatsu 60", "completed")
                )
    header = ["booking_id", "location_id", "room_id", "therapist_id", "client_id", "service",
              "start_at", "end_at", "status", "price", "created_at", "cancelled_at"]  # fmt: skip
    rooms = [
        {"date": f"{day}", "location_id": location, "room_id": room, "room_name": name,
         "has_bars": bars, "opens_at": "09:00", "closes_at": "18:00"}
        for location in (EAST, WEST)
        for day in _days(location)
        for room, name, bars in (("R1", "Cedar", "yes"), ("R2", "Oak", "no"))
    ]  # fmt: skip
    shifts = [
        {"date": f"{day}", "location_id": location, "therapist_id": therapist,
         "therapist_name": therapist.title(), "bar_trained": "yes" if therapist == "maya" else "no",
         "shift_start": "09:00", "shift_end": "17:00", "break_minutes": "0"}
        for location in (EAST, WEST)
        for day in _days(location)
        for therapist in ("maya", "sam")
    ]  # fmt: skip
    files = [
        write_csv(folder / "locations.csv", ["location_id", "name", "timezone"],
                  [{"location_id": x, "name": NAMES[x], "timezone": "America/Chicago"}
                   for x in (EAST, WEST)]),
        write_csv(folder / "bookings.csv", header, bookings),
        write_csv(folder / "rooms.csv", ["date", "location_id", "room_id", "room_name",
                  "has_bars", "opens_at", "closes_at"], rooms),
        write_csv(folder / "shifts.csv", ["date", "location_id", "therapist_id",
                  "therapist_name", "bar_trained", "shift_start", "shift_end",
                  "break_minutes"], shifts),
    ]  # fmt: skip
    db = folder / "studio.duckdb"
    results = load_files(db, files, Settings())
    assert all(r.rows_rejected == 0 for r in results), [r for r in results if r.rows_rejected]
    return db


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("day") / "two")


@pytest.fixture(autouse=True)
def app_env(warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    """The data layer and the app on the hand-made warehouse, open access, empty caches."""
    monkeypatch.setenv("STUDIO_OPS_DB", str(warehouse))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def test_appointments_put_no_shows_and_late_cancels_first_in_the_studios_words() -> None:
    frame = queries.appointments((EAST,), DAY)
    assert list(frame.columns) == [
        "start_at", "end_at", "room", "therapist", "service", "status",
        "booked_at", "cancelled_at", "client_ref", "booking_system",
    ]  # fmt: skip
    got = [
        (f"{row.start_at:%H:%M}", row.room, row.therapist, row.service, row.status)
        for row in frame.itertuples()
    ]
    assert got == EXPECTED
    # booked/cancelled when come from the export: B4 was booked 1 Sep 12:00, cancelled 08:00
    late = frame.iloc[1]
    assert late["booked_at"] == pd.Timestamp("2026-09-01 12:00")
    assert late["cancelled_at"] == pd.Timestamp("2026-09-10 08:00")
    assert pd.isna(frame.iloc[0]["cancelled_at"])
    assert set(frame["booking_system"]) == {"native"}
    # another location's day holds only its own bookings: Westside has one on 4 Sep
    assert len(queries.appointments((WEST,), LAST_DAY[WEST])) == 1
    assert queries.appointments((WEST,), DAY).empty
