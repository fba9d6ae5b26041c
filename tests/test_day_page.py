"""The Day page: one location's day, its appointments list (no-shows and late cancels on top),
the per-location default day, and one-line banners at 1280x800.

The warehouse is hand-made: two locations loaded with the real pipeline (load_files) from small
native CSVs written here. Eastside's data runs 1-10 Sep 2026, Westside's stops on 4 Sep, so the
chain's latest complete day (10 Sep) is after Westside's data ends.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.queries import snapshot
from dashboard.queries import today as queries
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.apptest import show_every_table
from tests.browser import browser_test, chromium_page, streamlit_app, studio_env, wait_until_idle
from tests.test_load import write_csv
from tests.test_partial_states import everything_shown, plain

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


def open_day(**query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("dashboard/pages/today.py").run()
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    return at


def appointments_table(at: AppTest) -> pd.DataFrame:
    frame = next(f.value for f in at.dataframe if "Status" in f.value.columns)
    return frame.data if hasattr(frame, "data") else frame  # a Styler when rows are shaded


def test_the_page_lists_the_day_with_no_shows_and_late_cancels_on_top() -> None:
    at = open_day()
    # Eastside (the first location) opens on its latest complete day, the hand-made day
    assert at.date_input(key="filter_day").value == DAY
    assert plain(at.title[0].value).startswith(NAMES[EAST])
    table = appointments_table(at)
    got = [
        (t.split("–")[0], room, who, service, status)
        for t, room, who, service, status in zip(
            table["Time"], table["Room"], table["Therapist"], table["Service"],
            table["Status"], strict=True,
        )
    ]  # fmt: skip
    assert got == EXPECTED
    # B4 booked 1 Sep 12:00 and cancelled at 08:00 on the day; B1 never cancelled: "–"
    assert list(table["Booked"])[1] == "01 Sep 12:00"
    assert list(table["Cancelled"])[1] == "10 Sep 08:00"
    assert list(table["Cancelled"])[0] == "–"
    # the client ref column shows once the warehouse keeps the booking system's client id
    assert ("Client ref" in table.columns) == snapshot.has_column("fct_bookings", "client_ref")
    # 1 no-show (B3) and 1 late cancel (B4) of the 5 bookings
    line = "1 no-show and 1 late cancel** out of 5 appointments"
    assert any(line in m.value for m in at.markdown), [m.value for m in at.markdown]
    text = everything_shown(at)
    for word in ("None", "nan", "NaT"):
        assert word not in text.replace("Nov ", ""), word


def test_a_location_whose_data_ends_earlier_opens_on_its_own_last_day() -> None:
    # Westside's data ends on 4 Sep; the chain's latest complete day is 10 Sep
    at = open_day(location=WEST)
    assert at.date_input(key="filter_day").value == LAST_DAY[WEST]
    notes = [plain(c.value) for c in at.caption]
    assert any("Westside Ashiatsu's data ends on 04 Sep 2026." in n for n in notes), notes
    assert len(appointments_table(at)) == 1
    # switching from Eastside (on its default day) to Westside moves to Westside's last day
    at = open_day()
    at.selectbox(key="filter_location").set_value(WEST).run()
    assert at.date_input(key="filter_day").value == LAST_DAY[WEST]
    # Eastside, whose data reaches the chain's latest day, has no such note
    at.selectbox(key="filter_location").set_value(EAST).run()
    assert at.date_input(key="filter_day").value == DAY
    assert not any("data ends" in c.value for c in at.caption)


def test_a_day_outside_the_locations_data_shows_the_nearest_day_and_says_so() -> None:
    at = open_day(location=WEST, day="2026-09-09")
    assert at.date_input(key="filter_day").value == LAST_DAY[WEST]
    notes = " ".join(plain(c.value) for c in at.caption)
    assert "Westside Ashiatsu has no data on 09 Sep 2026" in notes, notes
    assert "showing 04 Sep 2026, the nearest day with data" in notes
    # a day the viewer picked stays when the location changes, inside its data
    at = open_day(location=WEST, day="2026-09-02")
    at.selectbox(key="filter_location").set_value(EAST).run()
    assert at.date_input(key="filter_day").value == dt.date(2026, 9, 2)


# The first tile's top at 1280x800 on the demo (demo line, open-access note, title, one-line
# caption above it): 380 px before this page was reworked, 337 px after. Below 360 px the two
# rows of tiles (about 290 px) end above 650 px, so every tile and the Appointments heading
# show without scrolling.
FIRST_TILE_MAX_Y = 360


@pytest.fixture(scope="module")
def browser_page():
    with chromium_page() as page:
        yield page


@browser_test
def test_in_the_browser_the_tiles_sit_high_and_the_csv_holds_the_list(
    browser_page, demo_warehouse: Path, warehouse: Path, tmp_path: Path
) -> None:
    page = browser_page
    with streamlit_app(tmp_path / "demo.log", studio_env(demo_warehouse), seconds=60) as app:
        page.goto(app.url)
        wait_until_idle(page)
        page.wait_for_selector("[data-testid='stMetric']", timeout=30_000)
        box = page.locator("[data-testid='stMetric']").first.bounding_box()
        assert box["y"] < FIRST_TILE_MAX_Y, box
        # no tile label is cut: each label's text fits its box
        for label in page.locator("[data-testid='stMetricLabel']").all():
            assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), label.inner_text()
    with streamlit_app(tmp_path / "two.log", studio_env(warehouse), seconds=60) as app:
        page.goto(f"{app.url}/?location={EAST}&day={DAY}")
        wait_until_idle(page)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").first.click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    # the hand-made day in the same order, whole date-times, empty cells empty
    assert [(r["Start"][11:], r["Status"]) for r in rows] == [(e[0], e[4]) for e in EXPECTED]
    assert rows[1]["Cancelled at"] == "2026-09-10 08:00"
    assert rows[1]["Booked at"] == "2026-09-01 12:00"
    assert rows[0]["Cancelled at"] == ""
    assert rows[0]["Start"] == "2026-09-10 11:00" and rows[0]["End"] == "2026-09-10 12:00"


# --- one rule for percentages on every page ------------------------------------------------

HALF_DAY = dt.date(2026, 9, 10)


def _half_figures_warehouse(folder: Path) -> Path:
    """Northside on Thursday 10 Sep 2026: Birch (bars) and Elm (no bars) open 10:00-18:00,
    Ana on shift 10:00-18:00, one completed 108-minute bar session in Birch."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [
        write_csv(folder / "locations.csv", ["location_id", "name", "timezone"],
                  [{"location_id": "N1", "name": "Northside", "timezone": "America/Chicago"}]),
        write_csv(folder / "bookings.csv",
                  ["booking_id", "location_id", "room_id", "therapist_id", "client_id",
                   "service", "uses_bars", "start_at", "end_at", "status", "price"],
                  [{"booking_id": "H1", "location_id": "N1", "room_id": "birch",
                    "therapist_id": "ana", "client_id": "C-H1", "service": "Ashiatsu 108",
                    "uses_bars": "true", "start_at": f"{HALF_DAY} 10:00",
                    "end_at": f"{HALF_DAY} 11:48", "status": "completed", "price": "150.00"}]),
        write_csv(folder / "rooms.csv", ["date", "location_id", "room_id", "room_name",
                  "has_bars", "opens_at", "closes_at"],
                  [{"date": f"{HALF_DAY}", "location_id": "N1", "room_id": room,
                    "room_name": room.title(), "has_bars": bars, "opens_at": "10:00",
                    "closes_at": "18:00"} for room, bars in (("birch", "yes"), ("elm", "no"))]),
        write_csv(folder / "shifts.csv", ["date", "location_id", "therapist_id",
                  "therapist_name", "bar_trained", "shift_start", "shift_end",
                  "break_minutes"],
                  [{"date": f"{HALF_DAY}", "location_id": "N1", "therapist_id": "ana",
                    "therapist_name": "Ana", "bar_trained": "yes", "shift_start": "10:00",
                    "shift_end": "18:00", "break_minutes": "0"}]),
    ]  # fmt: skip
    db = folder / "studio.duckdb"
    results = load_files(db, files, Settings())
    assert all(r.outcome == "loaded" and not r.rows_rejected for r in results), results
    return db


def test_a_percentage_reads_the_same_on_the_day_and_capacity_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same day's room use read 11% on the Day page and 11.2% on the Capacity page (no
    decimals on one, one decimal rounded half to even on the other): every page shows a
    percentage with one decimal, a half rounded up, as people round."""
    db = _half_figures_warehouse(tmp_path / "half")
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    # By hand: 2 rooms x 480 minutes open = 960; 108 booked: room use 108 / 960 = 11.25%,
    # shown 11.3%. Birch alone has bars: 108 bar minutes of its 480 = 22.5%; Ana's shift is
    # 480 minutes, 108 booked = 22.5%.
    expected = {
        "Room utilization": "11.3%",
        "Bar utilization": "22.5%",
        "Shifts booked": "22.5%",
    }
    pages = {"Day": open_day(location="N1", day=f"{HALF_DAY}")}
    for page in ("capacity", "locations"):
        st.cache_data.clear()
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.query_params.update({"from": f"{HALF_DAY}", "to": f"{HALF_DAY}"})
        at.run()
        at.switch_page(f"dashboard/pages/{page}.py").run()
        show_every_table(at)
        assert not at.exception, at.exception
        pages[page] = at
    for page, at in pages.items():
        shown = {m.label: m.value for m in at.metric if m.label in expected}
        assert shown == {k: v for k, v in expected.items() if k in shown}, page
        assert len(shown) >= 2, page
    # the Locations table's column reads as its tile (it read 11.2, pandas' half to even)
    table = next(f.value for f in pages["locations"].dataframe if "Room utilization %" in f.value)
    assert set(table["Room utilization %"]) == {11.3}


def test_chart_tooltips_write_a_rate_as_the_tiles_do() -> None:
    """A chart's hover text read 11.2% (Python's half to even) or 11% beside an 11.3% tile."""
    from dashboard import charts

    # by hand: 108 of 960 minutes = 0.1125 -> 11.25% -> 11.3% (a half up); 0.225 -> 22.5%
    assert charts.value_text(0.1125) == "11.3%"
    assert charts.value_text(0.225) == "22.5%"
    bars = pd.DataFrame({"location_name": ["North"], "room_utilization": [0.1125]})
    spec = charts.ranked_bars(bars, "location_name", "room_utilization", "Room use").to_dict()
    formats = {
        tip.get("format")
        for layer in spec["layer"]
        for tip in layer.get("encoding", {}).get("tooltip", [])
        if tip.get("field") == "room_utilization"
    }
    assert formats == {".1%"}
