"""The dashboard in Streamlit's AppTest: every page renders, and the figures follow the marts."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import format as fmt
from dashboard import navigation
from pipelines.warehouse import store
from tests.apptest import show_every_table

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
PAGES = navigation.names()  # every page a signed-in viewer sees (Setup: owners only)
TIMEOUT = 60
DEMO_LINE = "This is the built-in demo chain (made-up data). Start your own with `studio-ops init`"


@pytest.fixture(autouse=True)
def app_env(demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the app at the session demo warehouse and clear Streamlit caches around each test."""
    monkeypatch.setenv("STUDIO_OPS_DB", str(demo_warehouse))
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(page: str, query: dict[str, object] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"dashboard/pages/{page}.py").run()
    # the tables these tests read sit behind their toggles
    return show_every_table(at)


def mart(db: Path, sql: str, *params: object) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def tile(at: AppTest, label: str) -> str:
    matches = [m.value for m in at.metric if m.label == label]
    assert matches, f"no tile {label!r}; tiles: {[m.label for m in at.metric]}"
    return matches[0]


def day_totals(db: Path, location: str, day: dt.date) -> pd.Series:
    frame = mart(
        db,
        """
        select
            sum(occupied_minutes) / sum(available_minutes) as room_utilization,
            sum(booked_minutes) / sum(scheduled_minutes) as therapist_utilization,
            sum(bookings) as bookings,
            sum(no_shows) as no_shows,
            sum(revenue)::double as revenue
        from fct_location_days
        where location_id = ? and "date" = ?
        """,
        location,
        day,
    )
    return frame.iloc[0]


def as_of(db: Path) -> dt.date:
    return mart(db, "select as_of_date from rpt_as_of").iloc[0, 0].date()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_errors(page: str) -> None:
    at = open_page(page)
    assert not at.exception
    assert not [e.value for e in at.error]
    assert at.title, "each page has a title"
    assert any(DEMO_LINE in i.value for i in at.info), "the demo line is visible"


def test_today_defaults_to_latest_complete_day_and_matches_the_mart(demo_warehouse: Path) -> None:
    at = open_page("today")
    location = at.selectbox(key="filter_location").value
    # the chosen location's own latest complete day (its last completed or no-show booking),
    # which may be earlier than the chain's as_of_date when its data ends sooner
    latest = mart(
        demo_warehouse,
        """
        select max(booking_date) from fct_bookings
        where location_id = ? and status in ('completed', 'no_show')
        """,
        location,
    ).iloc[0, 0]
    latest = latest.date() if hasattr(latest, "date") else latest
    assert latest <= as_of(demo_warehouse)
    assert at.date_input(key="filter_day").value == latest
    expected = day_totals(demo_warehouse, location, latest)
    assert tile(at, "Room utilization") == fmt.pct(expected["room_utilization"])
    assert tile(at, "Bookings") == fmt.count(expected["bookings"])
    assert tile(at, "Revenue") == fmt.money(expected["revenue"])


def test_changing_location_and_day_changes_the_tiles_as_the_mart_says(
    demo_warehouse: Path,
) -> None:
    at = open_page("today")
    ids = mart(demo_warehouse, "select location_id from dim_locations order by 1")["location_id"]
    day = as_of(demo_warehouse) - dt.timedelta(days=3)
    seen = set()
    for location_id in ids:
        at.selectbox(key="filter_location").set_value(location_id)
        at.date_input(key="filter_day").set_value(day)
        at.run()
        assert not at.exception
        expected = day_totals(demo_warehouse, location_id, day)
        assert tile(at, "Bookings") == fmt.count(expected["bookings"])
        assert tile(at, "Shifts booked") == fmt.pct(expected["therapist_utilization"])
        assert tile(at, "No-shows") == fmt.count(expected["no_shows"])
        seen.add((tile(at, "Bookings"), tile(at, "Revenue")))
    assert len(seen) > 1, "different locations show different figures"


def test_today_delta_compares_with_same_weekday_a_week_earlier(demo_warehouse: Path) -> None:
    at = open_page("today")
    location = at.selectbox(key="filter_location").value
    day = at.date_input(key="filter_day").value  # the location's latest complete day
    now = day_totals(demo_warehouse, location, day)
    before = day_totals(demo_warehouse, location, day - dt.timedelta(days=7))
    bookings = next(m for m in at.metric if m.label == "Bookings")
    assert bookings.delta == fmt.change(now["bookings"], before["bookings"], "count")


def test_a_link_reproduces_the_view(demo_warehouse: Path) -> None:
    ids = list(
        mart(demo_warehouse, "select location_id from dim_locations order by 1")["location_id"]
    )
    day = as_of(demo_warehouse) - dt.timedelta(days=10)
    at = open_page("today", {"location": ids[-1], "day": day.isoformat()})
    assert at.selectbox(key="filter_location").value == ids[-1]
    assert at.date_input(key="filter_day").value == day
    expected = day_totals(demo_warehouse, ids[-1], day)
    assert tile(at, "Bookings") == fmt.count(expected["bookings"])


def locations_table(at: AppTest) -> pd.DataFrame:
    frame = at.dataframe[0].value
    assert "Location" in frame.columns
    return frame.set_index("Location")


def test_locations_all_row_is_a_ratio_of_sums_and_follows_the_dates(demo_warehouse: Path) -> None:
    at = open_page("locations")
    # bookings sit behind the table's column picker
    at.multiselect(key="more_columns").set_value(["bookings"]).run()
    end = as_of(demo_warehouse)
    for start in (end - dt.timedelta(days=6), end - dt.timedelta(days=60)):
        at.date_input(key="filter_dates").set_value((start, end))
        at.run()
        assert not at.exception
        expected = mart(
            demo_warehouse,
            """
            select
                sum(occupied_minutes) / sum(available_minutes) as room_utilization,
                sum(revenue)::double / (sum(available_minutes) / 60.0) as revpath,
                sum(bookings) as bookings
            from fct_location_days
            where "date" between ? and ?
            """,
            start,
            end,
        ).iloc[0]
        table = locations_table(at)
        total = table.loc["All locations"]
        assert total["Room utilization %"] == pytest.approx(
            expected["room_utilization"] * 100, abs=0.051
        )
        assert total["RevPATH ($)"] == pytest.approx(expected["revpath"], abs=0.006)
        assert total["Bookings"] == expected["bookings"]
        assert len(table) == 4  # three locations and "All locations"


def test_deselecting_a_location_removes_it_everywhere(demo_warehouse: Path) -> None:
    at = open_page("locations")
    box = at.multiselect(key="filter_locations")
    keep = ["L01"]
    box.set_value(keep)
    at.run()
    assert not at.exception
    table = locations_table(at)
    assert len(table) == 2  # the one location and "All locations"
    name = mart(demo_warehouse, "select name from dim_locations where location_id = ?", keep[0])
    assert name.iloc[0, 0] in table.index
    shared = at.query_params["locations"]
    assert ([shared] if isinstance(shared, str) else list(shared)) == keep


def test_no_location_picked_means_every_location(demo_warehouse: Path) -> None:
    at = open_page("locations")
    box = at.multiselect(key="filter_locations")
    assert box.value == []  # the default: every location, without a chip for each
    assert not at.exception
    assert len(locations_table(at)) == 4  # three locations and "All locations"
    assert any("All 3 locations" in c.value for c in at.caption)
    assert "locations" not in at.query_params  # no parameter per location in the link
    box.set_value(["L01", "L02"]).run()
    assert len(locations_table(at)) == 3
    box.set_value([]).run()
    assert not at.exception
    assert len(locations_table(at)) == 4


def test_clients_cohort_cells_still_open_say_open(demo_warehouse: Path) -> None:
    at = open_page("clients")
    assert not at.exception
    cohorts = at.dataframe[0].value
    latest = cohorts.iloc[-1]
    assert latest["Back within 90 days"] == "open"
    closed = cohorts[cohorts["Back within 30 days"] != "open"]
    assert len(closed), "older cohorts show a rate"
    assert closed["Back within 30 days"].str.contains(r"% \(\d[\d,]* of \d", regex=True).all()


def test_a_new_snapshot_shows_on_the_next_rerun(demo_warehouse: Path, tmp_path: Path, monkeypatch):
    db = tmp_path / "studio.duckdb"
    shutil.copyfile(demo_warehouse, db)
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    at = open_page("locations")
    assert "Renamed Studio" not in locations_table(at).index
    with store.building(db) as con:
        # as a rebuild would write it: the name and the display name the pages show
        con.execute(
            "update dim_locations set name = 'Renamed Studio', display_name = 'Renamed Studio' "
            "where location_id = 'L01'"
        )
    at.run()
    assert "Renamed Studio" in locations_table(at).index


def test_first_run_builds_the_demo_in_its_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "fresh" / "studio.duckdb"
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    # the demo goes beside the studio's warehouse, which is left for `studio-ops init`
    assert (db.parent / "demo.duckdb").exists() and not db.exists()
    assert any(DEMO_LINE in i.value for i in at.info)
    assert at.metric, "the Today page shows its tiles"


def test_a_broken_warehouse_shows_one_line_not_a_trace(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "studio.duckdb"
    db.write_text("this is not a database")
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "\n" not in at.error[0].value.strip()
    assert fmt.md_text(str(db)) in at.error[0].value  # escaped: shown as text, not markdown


def test_csv_download_neutralises_formulas() -> None:
    frame = pd.DataFrame({"raw_row": ["=HYPERLINK()", "+1", "-2", "@x", "\tx", "\rx", "ok"]})
    text = fmt.csv_bytes(frame).decode()
    lines = text.splitlines()
    assert lines[1:5] == ["'=HYPERLINK()", "'+1", "'-2", "'@x"]
    assert "ok" in lines
    assert not any(line.startswith(("=", "+", "-", "@")) for line in lines)


def test_capacity_room_table_follows_the_room_mart(demo_warehouse: Path) -> None:
    at = open_page("capacity")
    end = as_of(demo_warehouse)
    start = end - dt.timedelta(days=13)
    at.date_input(key="filter_dates").set_value((start, end))
    at.run()
    assert not at.exception
    expected = mart(
        demo_warehouse,
        """
        select
            coalesce(nullif(l.name, ''), d.location_id) as location_name,
            coalesce(r.room_name, d.room_id) as room,
            sum(d.occupied_minutes) / sum(d.available_minutes) as utilization
        from fct_room_days as d
        join dim_rooms as r using (location_id, room_id)
        join dim_locations as l using (location_id)
        where d."date" between ? and ?
        group by all
        """,
        start,
        end,
    ).set_index(["location_name", "room"])
    rooms = next(d.value for d in at.dataframe if "Room" in d.value.columns)
    assert len(rooms) == len(expected)
    for row in rooms.to_dict("records"):
        share = expected.loc[(row["Location"], row["Room"]), "utilization"]
        assert row["Utilization %"] == pytest.approx(share * 100, abs=0.051)


def test_metric_dictionary_lists_every_metric() -> None:
    from pipelines.metrics import load_dictionary

    at = open_page("metric_dictionary")
    shown = at.dataframe[0].value
    assert len(shown) == len(load_dictionary())
    assert set(shown["Name"]) == {m.name for m in load_dictionary()}


def test_ranked_charts_keep_the_ends_of_a_long_list() -> None:
    import pandas as pd

    from dashboard.charts import ends

    # 40 therapists with utilization 0.00, 0.01, ... 0.39 and one without shifts (NaN)
    frame = pd.DataFrame({"who": [f"T{i}" for i in range(41)], "use": [*range(40), None]})
    frame["use"] = frame["use"] / 100
    shown, note = ends(frame, "use", rows=30)
    # the 15 highest (0.39 .. 0.25) and the 15 lowest (0.14 .. 0.00); 0.15 .. 0.24 left out
    assert sorted(shown["who"]) == sorted([f"T{i}" for i in [*range(25, 40), *range(15)]])
    assert note.startswith("Showing the 15 highest and 15 lowest of 41; the table lists all.")
    _, worded = ends(frame, "use", rows=30, words=("busiest", "quietest"), table=False)
    assert worded.startswith("Showing the 15 busiest and 15 quietest of 41. Pick locations")
    short, nothing = ends(frame.head(30), "use", rows=30)
    assert len(short) == 30 and nothing == ""


def test_week_grids_keep_every_week_of_the_busiest_therapists() -> None:
    import pandas as pd

    from dashboard.charts import most

    # three therapists, two weeks each; peaks: A 50, B 20, C 35 -> with 2 rows, A and C
    weeks = pd.DataFrame(
        {"therapist": list("AABBCC"), "hours": [10, 50, 20, 5, 35, 1], "week": [1, 2] * 3}
    )
    shown, note = most(weeks, "therapist", "hours", rows=2)
    assert list(shown["therapist"]) == ["A", "A", "C", "C"]
    assert "2 of 3" in note
    whole, nothing = most(weeks, "therapist", "hours", rows=3)
    assert len(whole) == 6 and nothing == ""


def test_locations_are_never_drawn_in_the_over_limit_red() -> None:
    import pandas as pd

    from dashboard import charts

    # three locations, the demo's count: Streamlit's own palette drew the third one red
    frame = pd.DataFrame(
        {
            "period": pd.to_datetime(["2026-01-05"] * 3),
            "location_name": ["Atlanta", "Brooklyn", "Denver"],
            "room_utilization": [0.5, 0.6, 0.7],
            "therapist_label": ["A", "B", "C"],
        }
    )
    trend = charts.trend(frame, "room_utilization", "Room utilization").to_dict()
    bars = charts.ranked_bars(
        frame, "therapist_label", "room_utilization", "Utilization", color="location_name"
    ).to_dict()
    for spec in (trend["encoding"], bars["layer"][0]["encoding"]):
        assert spec["color"]["scale"]["range"] == charts.LOCATION_COLORS
    red_like = {charts.OVER_LIMIT, "#e45756", "#ff9da6", "#ff2b2b"}
    assert not red_like & {c.lower() for c in charts.LOCATION_COLORS}
    # every line of a trend chart gets its own colour
    assert len(set(charts.LOCATION_COLORS)) >= charts.TREND_LINES
    # selected toggles and primary buttons are not red either (Streamlit's default is #ff4b4b)
    config = tomllib.loads((Path(__file__).parent.parent / ".streamlit/config.toml").read_text())
    assert config["theme"]["primaryColor"].lower() not in red_like | {"#ff4b4b"}


def test_the_app_watches_no_source_files() -> None:
    # Watching the sources cost every new tab about 0.13 s of the app's CPU (issue 18): the
    # served app reloads nothing on save; a developer turns it on at `streamlit run`.
    config = tomllib.loads((Path(__file__).parent.parent / ".streamlit/config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_the_app_collects_no_garbage_by_force_after_each_run() -> None:
    # A full collection after every run of a page cost 0.06-0.08 s of the app's CPU per page at
    # 10M (issue 18); Python's own collector is left to run when it is due.
    config = tomllib.loads((Path(__file__).parent.parent / ".streamlit/config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_the_history_start_note_is_one_line_naming_every_start(
    demo_warehouse: Path,
) -> None:
    # The Clients page drew one box per location (then per start), which filled the screen at
    # 1280x800: now one caption names each distinct new_clients_from of dim_locations once.
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        starts = [
            row[0]
            for row in con.execute(
                "select distinct new_clients_from from dim_locations "
                "where new_clients_from > first_booking_date order by 1"
            ).fetchall()
        ]
    at = open_page("clients")
    assert not [i.value for i in at.info if "are counted from" in i.value]
    notes = [c.value for c in at.caption if "are counted from" in c.value]
    assert len(notes) == 1, notes
    assert starts, "the demo's locations count new clients from after their first booking"
    for start in starts:
        assert f"{start:%d %b %Y}" in notes[0]
