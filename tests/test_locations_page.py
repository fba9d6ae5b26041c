"""The Locations page: locations ranked by 90-day return (cohorts whose window closed in the
dates) and the other metrics, the table that fits 1280 px with the rest behind "More columns"
(kept in the URL), a CSV with every column, and cells below a location's target shaded.

The warehouse is hand-made (tests.test_marts.Chain: raw rows written here, the real marts
built on them) with two locations; every expected figure is worked out by hand in the comments:

  Eastside (L1)  A1 first visit 10 Mar, back 1 Apr (22 days)   -> returned within 90
                 A2 first visit 10 Mar, back 20 May (71 days)  -> returned within 90
                 A3 first visit 10 Mar, never back             -> not returned
                 A5 first visit 20 Feb, never back (window closes 20 May: the period before)
  Westside (L2)  B1, B2 first visit 15 Mar, back 15 Apr        -> both returned within 90
                 B3 first visit 20 Apr, never back (window closes 19 Jul: after June)
                 B4 booked for 31 Jul (not a visit: the data is complete through 30 Jun)

  30 Jun, one room R1 at each location, 09:00-17:00 (480 min): Eastside A1 10-11 (60 min,
  12.5%), Westside B1 10-11 and B2 13-14 (120 min, 25%).

June (1-30 Jun): a 90-day window closes in June for first visits 3 Mar - 1 Apr: A1-A3 and
B1-B2. Eastside 2 of 3 = 66.7%, Westside 2 of 2 = 100%, all 4 of 5 = 80%.
The 30 days before (2-31 May): only A5's window closes (20 May): Eastside 0 of 1 = 0%.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.queries import gaps, kpis
from dashboard.queries.snapshot import acting_for
from dashboard.tables import MARK
from tests.apptest import show_every_table
from tests.browser import browser_test, chromium_page, streamlit_app, studio_env, wait_until_idle
from tests.test_marts import Chain

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT = 60
EAST, WEST = "Eastside Ashiatsu Studio", "Westside Ashiatsu Studio"
JUNE = {"from": "2024-06-01", "to": "2024-06-30"}
RETURN = "90-day return %"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("locations") / "studio.duckdb"
    chain = Chain(db)
    for number, (location, name) in enumerate((("L1", EAST), ("L2", WEST)), start=1):
        chain.con.execute(
            "insert into raw_locations (location_id, name, timezone, load_id, line_number)"
            " values (?, ?, 'America/Chicago', 1, ?)",
            [location, name, number],
        )
        chain.room("R1", date="2024-06-30", location=location)

    def visit(ident: str, day: str, client: str, location: str) -> None:
        # before June no room calendar: the visit occupies no room
        chain.visit(ident, day, client, location=location, room=None)

    visit("A1a", "2024-03-10", "A1", "L1")
    visit("A1b", "2024-04-01", "A1", "L1")
    chain.booking("A1c", "2024-06-30 10:00", "2024-06-30 11:00", client="A1", location="L1")
    visit("A2a", "2024-03-10", "A2", "L1")
    visit("A2b", "2024-05-20", "A2", "L1")
    visit("A3a", "2024-03-10", "A3", "L1")
    visit("A5a", "2024-02-20", "A5", "L1")
    visit("B1a", "2024-03-15", "B1", "L2")
    visit("B1b", "2024-04-15", "B1", "L2")
    chain.booking("B1c", "2024-06-30 10:00", "2024-06-30 11:00", client="B1", location="L2")
    visit("B2a", "2024-03-15", "B2", "L2")
    visit("B2b", "2024-04-15", "B2", "L2")
    chain.booking("B2c", "2024-06-30 13:00", "2024-06-30 14:00", client="B2", location="L2")
    visit("B3a", "2024-04-20", "B3", "L2")
    chain.booking(
        "B4a", "2024-07-31 10:00", "2024-07-31 11:00", client="B4", location="L2",
        room=None, status="booked",
    )  # fmt: skip
    chain.build()
    chain.con.close()
    return db


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    """A settings file with a room-utilization target of 20% for every location."""
    path = tmp_path / "studio-ops.toml"
    path.write_text("[targets]\nroom_utilization = 20\n")
    return path


@pytest.fixture(autouse=True)
def clear_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_locations(db: Path, monkeypatch: pytest.MonkeyPatch, **query: object) -> AppTest:
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    # set after the first run: the default page (the Day page) rewrites the URL with its own
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page("dashboard/pages/locations.py").run()
    show_every_table(at)
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    return at


def url_list(at: AppTest, key: str) -> list[str]:
    """A repeated URL parameter as a list (AppTest gives one value as a plain string)."""
    value = at.query_params[key]
    return [value] if isinstance(value, str) else list(value)


def table(at: AppTest) -> pd.DataFrame:
    frame = at.dataframe[0].value
    assert "Location" in frame.columns, frame.columns
    return frame


def test_locations_rank_by_90_day_return_of_the_windows_closed_in_the_dates(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_locations(warehouse, monkeypatch, rank="90-day return", **JUNE)
    shown = table(at)
    # Westside 2 of 2 = 100% above Eastside 2 of 3 = 66.7%; all: 4 of 5 = 80%
    assert list(shown["Location"]) == [WEST, EAST, "All locations"]
    assert list(shown[RETURN]) == pytest.approx([100.0, 66.7, 80.0])
    # the change against 2-31 May: Eastside 0 of 1 then (A5), so +66.7 pts; Westside had none
    assert list(shown["vs prev."]) == ["–", "+66.7 pts", "+80.0 pts"]
    # the chart ranks the same way
    spec = at.get("vega_lite_chart")[0].proto.spec
    assert spec.index(WEST) < spec.index(EAST)
    assert any(
        "90-day return" in c.value and "first visit + 90 days" in c.value for c in at.caption
    )


def test_a_window_the_data_has_not_closed_is_not_counted(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1 Jun - 31 Jul: B3's window closes on 19 Jul, inside the dates but after 30 Jun, the day
    # the data is complete through, so Westside still has 2 clients whose window closed, not 3
    at = open_locations(
        warehouse, monkeypatch, rank="90-day return", more=["eligible_90", "returned_90"],
        **{"from": "2024-06-01", "to": "2024-07-31"},
    )  # fmt: skip
    shown = table(at).set_index("Location")
    assert shown.loc[WEST, "90-day window closed"] == 2
    assert shown.loc[WEST, "Back within 90 days"] == 2
    assert shown.loc[EAST, "90-day window closed"] == 3
    assert shown.loc[WEST, RETURN] == pytest.approx(100.0)


def test_more_columns_come_from_the_url_and_go_back_into_it(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = table(open_locations(warehouse, monkeypatch, **JUNE))
    assert "Bookings" not in plain.columns and "No-shows" not in plain.columns
    # 7 columns and the ranked metric's change: what fits 1280 px
    assert len(plain.columns) == 8

    at = open_locations(warehouse, monkeypatch, more=["bookings", "no_shows"], **JUNE)
    shown = table(at).set_index("Location")
    # bookings on 1-30 Jun: Eastside A1c, Westside B1c and B2c
    assert shown["Bookings"].to_dict() == {EAST: 1, WEST: 2, "All locations": 3}
    assert shown["No-shows"].to_dict() == {EAST: 0, WEST: 0, "All locations": 0}
    assert url_list(at, "more") == ["bookings", "no_shows"]
    # the picker changes the URL too, so a bookmark keeps it
    at.multiselect(key="more_columns").set_value(["revenue"]).run()
    assert url_list(at, "more") == ["revenue"]
    assert "Revenue ($)" in table(at).columns and "Bookings" not in table(at).columns


def test_a_cell_below_its_locations_target_is_shaded(
    warehouse: Path, settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_OPS_SETTINGS", str(settings_file))
    at = open_locations(warehouse, monkeypatch, rank="Room utilization", **JUNE)
    shown = table(at)
    # room utilization on 30 Jun: Westside 120/480 = 25%, Eastside 60/480 = 12.5%, target 20%
    assert list(shown["Location"]) == [WEST, EAST, "All locations"]
    assert list(shown["Room utilization %"]) == pytest.approx([25.0, 12.5, 18.8])
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    # one shaded cell: Eastside's (row 1) room utilization (column 1, after Location)
    shaded = [rule for rule in styles.split("}") if MARK in rule]
    assert len(shaded) == 1, styles
    assert "row1_col1" in shaded[0], styles
    assert any("shaded red is below that location's target" in c.value for c in at.caption)


def test_without_targets_no_cell_is_shaded(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_locations(warehouse, monkeypatch, **JUNE)
    assert MARK not in at.dataframe[0].proto.arrow_data.styler.styles
    assert not any("shaded red" in c.value for c in at.caption)


@browser_test
def test_in_the_browser_the_table_fits_1280_px_and_the_csv_holds_every_column(
    warehouse: Path, tmp_path: Path
) -> None:
    with (
        chromium_page() as page,
        streamlit_app(tmp_path / "app.log", studio_env(warehouse), seconds=60) as app,
    ):
        # the table shown (tables=), to measure it
        page.goto(f"{app.url}/locations?from=2024-06-01&to=2024-06-30&tables=locations")
        wait_until_idle(page)
        grid = page.locator("[data-testid='stDataFrame'] .dvn-scroller").first
        grid.wait_for(timeout=30_000)
        grid.scroll_into_view_if_needed()
        widths = grid.evaluate("e => [e.scrollWidth, e.clientWidth]")
        page.screenshot(path=str(tmp_path / "locations.png"))
        # no sideways scroll with the sidebar open
        assert widths[0] <= widths[1], widths
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").first.click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    # every column, shown or not: the 7 shown, the change, and the 14 behind "More columns"
    for header in (
        *("Location", "Room utilization %", "vs prev.", RETURN, "Bookings", "No-shows"),
        *("Revenue ($)", "90-day window closed", "Back within 90 days", "Bar fit %"),
    ):
        assert header in rows[0], (header, list(rows[0]))
    assert len(rows[0]) == 22
    # ranked on room utilization (the default): Westside 25%, Eastside 12.5%
    assert [r["Location"] for r in rows] == [WEST, EAST, "All locations"]


def test_return_windows_frame_per_period_worked_by_hand(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_OPS_DB", str(warehouse))
    may, june = (
        (dt.date(2024, 5, 2), dt.date(2024, 5, 31)),
        (dt.date(2024, 6, 1), dt.date(2024, 6, 30)),
    )
    with acting_for(None):
        # L9 has no clients at all: its row is there, with nothing closed and no rate
        frames = kpis.returns_over(("L1", "L2", "L9"), {"now": june, "before": may, "none": None})
    assert frames["none"] is None
    nan = float("nan")

    def expected(rows: list[tuple[int, int, float]]) -> pd.DataFrame:
        # rows: (eligible, returned, return) per window 30, 60, 90 for L1, L2, L9, all
        columns: dict[str, list[object]] = {
            "location_id": ["L1", "L2", "L9", None],
            "is_total": [False, False, False, True],
        }
        for number, days in enumerate((30, 60, 90)):
            columns[f"eligible_{days}"] = [r[number][0] for r in rows]
            columns[f"returned_{days}"] = [r[number][1] for r in rows]
            columns[f"return_{days}"] = [r[number][2] for r in rows]
        frame = pd.DataFrame(columns)
        return frame.astype({c: "int64" for c in frame if c.startswith(("eligible", "returned"))})

    # June: 30 days closes for first visits 2-31 May (none); 60 days for 2 Apr - 1 May (B3, never
    # back); 90 days for 3 Mar - 1 Apr: A1 (back in 22 days), A2 (71), A3 (never); B1, B2 (31)
    none = (0, 0, nan)
    june_rows = [
        [none, none, (3, 2, 2 / 3)],
        [none, (1, 0, 0.0), (2, 2, 1.0)],
        [none, none, none],
        [none, (1, 0, 0.0), (5, 4, 0.8)],
    ]
    pd.testing.assert_frame_equal(frames["now"], expected(june_rows), check_exact=True)
    # 2-31 May: 30 days closes for 2 Apr - 1 May (B3); 60 days for 2 Mar - 1 Apr: A1 (22, within),
    # A2 (71, not), A3, B1 and B2 (31, within); 90 days for 2 Feb - 2 Mar: A5 (never back)
    may_rows = [
        [none, (3, 1, 1 / 3), (1, 0, 0.0)],
        [(1, 0, 0.0), (2, 2, 1.0), none],
        [none, none, none],
        [(1, 0, 0.0), (5, 3, 0.6), (1, 0, 0.0)],
    ]
    pd.testing.assert_frame_equal(frames["before"], expected(may_rows), check_exact=True)


def test_data_gaps_count_the_room_calendar_in_the_dates_and_ever(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_OPS_DB", str(warehouse))
    columns = ["location_id", "room_days", "bar_room_days", "room_days_ever"]
    columns += ["room_calendar_from", "room_calendar_to", "shift_days", "shift_days_ever"]
    with acting_for(None):
        june = gaps.data_gaps(("L1", "L2"), dt.date(2024, 6, 1), dt.date(2024, 6, 30))
        may = gaps.data_gaps(("L1", "L2"), dt.date(2024, 5, 2), dt.date(2024, 5, 31))
    # each location has one bar room, R1, on 30 Jun only, and no shifts at all
    last = pd.Timestamp("2024-06-30")
    assert june[columns].values.tolist() == [
        ["L1", 1, 1, 1, last, last, 0, 0],
        ["L2", 1, 1, 1, last, last, 0, 0],
    ]
    # in May no room day, but the calendar has one (30 Jun); bookings: A2b on 20 May (Eastside)
    assert may[columns].values.tolist() == [
        ["L1", 0, 0, 1, last, last, 0, 0],
        ["L2", 0, 0, 1, last, last, 0, 0],
    ]
    assert may["bookings"].tolist() == [1, 0]
