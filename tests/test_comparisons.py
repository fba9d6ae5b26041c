"""Comparisons on every KPI page: the periods, the tiles' previous and year-ago figures on a
hand-made warehouse, targets from the settings file, and the target lines on the charts.

The warehouse is loaded with the real pipeline (load_files) from native CSVs written here:
one location, one room open 09:00-17:00 (480 minutes) on three weeks only, so every figure
can be worked out by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import charts
from dashboard.queries.kpis import comparison_periods
from pipelines.ingest.load import load_files
from pipelines.settings import Settings, SettingsError, load_settings
from tests.test_load import write_csv
from tests.test_partial_states import APP, TIMEOUT, shown

LOCATION = "L01"
# the chosen week, the week before it and the same dates a year earlier
NOW = dt.date(2026, 3, 1)
PREVIOUS = dt.date(2026, 2, 22)
YEAR_AGO = dt.date(2025, 3, 1)
# hours booked each day of each week (one booking from 10:00)
HOURS = {NOW: 2, PREVIOUS: 1, YEAR_AGO: 4}
CHOSEN = (dt.date(2026, 3, 1), dt.date(2026, 3, 7))


def week(first: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=d) for d in range(7)]


def build(folder: Path) -> Path:
    """Room R1 open 09:00-17:00 every day of the three weeks; each day one completed booking
    from 10:00 lasting HOURS of its week."""
    folder.mkdir(parents=True, exist_ok=True)
    rooms, bookings = [], []
    for first, hours in HOURS.items():
        for day in week(first):
            rooms.append(
                {"date": f"{day}", "location_id": LOCATION, "room_id": "R1",
                 "room_name": "Cedar", "has_bars": "no", "opens_at": "09:00",
                 "closes_at": "17:00"}
            )  # fmt: skip
            start = dt.datetime.combine(day, dt.time(10))
            bookings.append(
                {"booking_id": f"B{day}", "location_id": LOCATION, "room_id": "R1",
                 "therapist_id": "maya", "client_id": f"C{day}", "service": "Swedish 60",
                 "start_at": f"{start:%Y-%m-%d %H:%M}",
                 "end_at": f"{start + dt.timedelta(hours=hours):%Y-%m-%d %H:%M}",
                 "status": "completed"}
            )  # fmt: skip
    booking_header = ["booking_id", "location_id", "room_id", "therapist_id", "client_id"]
    booking_header += ["service", "start_at", "end_at", "status"]
    files = [
        write_csv(folder / "locations.csv", ["location_id", "name", "timezone"],
                  [{"location_id": LOCATION, "name": "Eastside", "timezone": "America/Chicago"}]),
        write_csv(folder / "bookings.csv", booking_header, bookings),
        write_csv(folder / "rooms.csv", ["date", "location_id", "room_id", "room_name",
                  "has_bars", "opens_at", "closes_at"], rooms),
    ]  # fmt: skip
    db = folder / "studio.duckdb"
    results = load_files(db, files, Settings())
    assert all(r.rows_rejected == 0 for r in results)
    return db


@pytest.fixture(autouse=True)
def clear_caches(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture(scope="module")
def three_weeks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("comparisons"))


# --- the periods ---


def test_a_28_day_range_compares_with_the_28_days_before_and_a_year_earlier() -> None:
    periods = comparison_periods(dt.date(2026, 3, 1), dt.date(2026, 3, 28), dt.date(2025, 1, 1))
    # 28 days ending the day before 1 Mar: 1 Feb - 28 Feb 2026
    assert periods.previous == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert periods.year_ago == (dt.date(2025, 3, 1), dt.date(2025, 3, 28))
    assert periods.days == 28


def test_a_month_compares_with_as_many_days_before_it() -> None:
    periods = comparison_periods(dt.date(2026, 3, 1), dt.date(2026, 3, 31), dt.date(2025, 1, 1))
    # March has 31 days: the 31 days before it run from 29 Jan to 28 Feb
    assert periods.previous == (dt.date(2026, 1, 29), dt.date(2026, 2, 28))
    assert periods.year_ago == (dt.date(2025, 3, 1), dt.date(2025, 3, 31))


def test_29_february_becomes_28_february_a_year_earlier() -> None:
    periods = comparison_periods(dt.date(2024, 2, 29), dt.date(2024, 3, 6), dt.date(2020, 1, 1))
    # 7 days: 22-28 Feb before; 2023 has no 29 Feb
    assert periods.previous == (dt.date(2024, 2, 22), dt.date(2024, 2, 28))
    assert periods.year_ago == (dt.date(2023, 2, 28), dt.date(2023, 3, 6))
    ends_on_29th = comparison_periods(
        dt.date(2024, 2, 1), dt.date(2024, 2, 29), dt.date(2020, 1, 1)
    )
    assert ends_on_29th.year_ago == (dt.date(2023, 2, 1), dt.date(2023, 2, 28))


def test_no_year_ago_when_it_starts_before_the_data() -> None:
    # the data starts 1 Mar 2025: a year before 28 Feb 2026 is one day too early
    assert comparison_periods(dt.date(2026, 2, 28), dt.date(2026, 3, 6), YEAR_AGO).year_ago is None
    assert comparison_periods(dt.date(2026, 3, 1), dt.date(2026, 3, 6), YEAR_AGO).year_ago
    # no data at all: nothing a year earlier either
    assert comparison_periods(NOW, NOW, None).year_ago is None


# --- the tiles on a hand-made warehouse ---


def open_page(db: Path, page: str, monkeypatch: pytest.MonkeyPatch, dates: tuple) -> AppTest:
    """`page` over `dates`: the dates are the sidebar's (the first page, Day, rewrites the
    URL's query, so they are set in the session as a viewer's pick would be)."""
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.session_state["filter_dates"] = dates
    at.switch_page(f"dashboard/pages/{page}.py").run()
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    return at


def metric(at, label: str):
    found = [m for m in at.metric if m.label == label]
    assert found, f"no tile {label!r}: {[m.label for m in at.metric]}"
    return found[0]


def test_capacity_tiles_compare_with_the_week_before_and_a_year_earlier(
    three_weeks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(three_weeks, "capacity", monkeypatch, CHOSEN)
    room = metric(at, "Room utilization")
    # by hand: 2 h of 8 open each day = 25.0%; the week before 1 h of 8 = 12.5% (+12.5 pts);
    # a year earlier 4 h of 8 = 50.0% (-25.0 pts)
    assert room.value == "25.0%"
    assert room.delta == "+12.5 pts"
    booked = metric(at, "Hours booked")
    # 7 days x 2 h = 14 h, the week before 7 x 1 h = 7 h, a year earlier 7 x 4 h = 28 h
    assert booked.value == "14.0 h"
    assert booked.delta == "+7.0 h"
    text = shown(at)
    assert "year ago: \u221225.0 pts" in text  # room utilization
    assert "year ago: \u221214.0 h" in text  # hours booked
    assert "28 days" not in text and "7 days before (22 Feb – 28 Feb 2026)" in text
    assert "target" not in text  # no targets set: none said


def test_without_a_year_of_data_the_year_ago_side_is_a_dash(
    three_weeks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 22-28 Feb 2026: a year earlier starts before the data (1 Mar 2025)
    at = open_page(
        three_weeks, "capacity", monkeypatch, (dt.date(2026, 2, 22), dt.date(2026, 2, 28))
    )
    # the week before (15-21 Feb) has no data: a dash, never a change from zero
    assert metric(at, "Room utilization").value == "12.5%"
    assert metric(at, "Room utilization").delta == "–"
    text = shown(at)
    assert "year ago: –" in text and "a year earlier is not in the data" in text
    assert "None" not in text and "nan" not in text


def test_a_location_target_overrides_every_locations_and_is_judged(
    three_weeks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "studio-ops.toml"
    settings.write_text(
        "[targets]\nroom_utilization = 20\n[targets.L01]\nroom_utilization = 30\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("STUDIO_OPS_SETTINGS", str(settings))
    at = open_page(three_weeks, "capacity", monkeypatch, CHOSEN)
    text = shown(at)
    # L01's own 30% wins over every location's 20%; 25% is below it
    assert "target 30%, below" in text
    assert "target 20%" not in text


# --- targets in the settings file ---


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "studio-ops.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_targets_are_percent_in_the_file_and_fractions_in_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "late_cancel_hours = 12\n[targets]\nroom_utilization = 70\nreturn_90 = 35.5\n"
        "[targets.L01]\nbar_utilization = 60\n",
    )
    settings = load_settings(path)
    assert settings.late_cancel_hours == 12
    assert sorted(settings.targets, key=str) == sorted(
        [
            (None, "room_utilization", 0.70),
            (None, "return_90", 0.355),
            ("L01", "bar_utilization", 0.60),
        ],
        key=str,
    )
    assert load_settings(write(tmp_path, "turnover_minutes = 10\n")).targets == ()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[targets]\nroom_use = 70\n", "unknown target 'targets.room_use'"),
        (
            "[targets.L01]\nbar_utilization = 120\n",
            "targets.L01.bar_utilization must be a percentage",
        ),
        ('[targets]\nrebooking_rate = "abc"\n', "targets.rebooking_rate must be a percentage"),
        ("[targets]\nreturn_90 = -1\n", "targets.return_90 must be a percentage"),
        ("[targets]\nreturn_90 = true\n", "targets.return_90 must be a percentage"),
    ],
)
def test_a_bad_target_is_one_line_naming_the_file_and_key(
    tmp_path: Path, text: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    message = str(raised.value)
    assert words in message and str(path) in message
    assert "\n" not in message


# --- target lines on the charts ---


def rules(chart) -> list[dict]:
    """Every rule layer in a chart's spec, however deeply layered."""
    found = []

    def walk(spec: dict) -> None:
        mark = spec.get("mark")
        if mark == "rule" or (isinstance(mark, dict) and mark.get("type") == "rule"):
            found.append(spec)
        for layer in spec.get("layer", []):
            walk(layer)

    walk(chart.to_dict())
    return found


BARS = pd.DataFrame(
    {
        "therapist_label": ["Maya", "Sam"],
        "location_name": ["Eastside", "Westside"],
        "utilization": [0.8, 0.5],
    }
)


def test_a_target_is_drawn_as_a_dashed_rule_only_when_set() -> None:
    assert rules(charts.ranked_bars(BARS, "therapist_label", "utilization", "Utilization")) == []
    drawn = rules(
        charts.ranked_bars(BARS, "therapist_label", "utilization", "Utilization", target=0.75)
    )
    assert len(drawn) == 1 and drawn[0]["mark"]["strokeDash"] == [6, 4]
    # on the chart's own value field, so the axis keeps its title
    assert drawn[0]["encoding"]["x"]["field"] == "utilization"
    assert rules(charts.ranked_bars(BARS, "therapist_label", "utilization", "U", target=None)) == []


def test_one_line_per_distinct_location_target_and_none_without_any() -> None:
    per_location = pd.DataFrame(
        {"location_name": ["Eastside", "Westside", "Northside"], "target": [0.7, 0.6, float("nan")]}
    )
    drawn = charts.target_rules(per_location, "y", "room_utilization")
    # Northside has no target: two lines, 60% (Westside) and 70% (Eastside)
    assert sorted(drawn.data["target"]) == [0.6, 0.7]
    assert list(drawn.data.sort_values("target")["locations"]) == ["Westside", "Eastside"]
    assert drawn.to_dict()["encoding"]["y"]["field"] == "room_utilization"
    none_set = per_location.assign(target=float("nan"))
    assert charts.target_rules(none_set, "y", "room_utilization") is None
    assert charts.target_rules(None, "y", "room_utilization") is None


# --- every KPI page shows its tiles with a change, and no "None" or "nan" ---

PAGES = {
    "capacity": ["Room utilization", "Bar utilization", "Shifts booked", "Hours open"],
    "bar_rooms": ["Bar utilization", "Bar fit", "Bar sessions", "Bar rooms full"],
    "therapists": ["Shifts booked", "Hands-on hours", "Days over a limit", "Back-to-back"],
    "clients": ["New clients", "Rebooking rate", "90-day return"],
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_kpi_page_shows_its_tiles_with_a_change(
    page: str, demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounds = duckdb_bounds(demo_warehouse)
    # the last 28 days of the demo: the 28 before are in the data, a year earlier is not
    dates = (bounds[1] - dt.timedelta(days=27), bounds[1])
    at = open_page(demo_warehouse, page, monkeypatch, dates)
    labels = [m.label for m in at.metric]
    for label in PAGES[page]:
        tile = metric(at, label)
        assert tile.delta not in (None, "", "–"), (label, tile.delta)
        assert tile.value not in ("", "None", "nan")
    assert len(labels) <= 2 * 5 and all(len(label) <= 17 for label in labels), labels
    text = shown(at)
    assert "Arrows compare with the 28 days before" in text
    for word in ("None", "nan", "NaN"):
        assert word not in " ".join(f"{m.value} {m.delta}" for m in at.metric)
        assert f"year ago: {word}" not in text


def duckdb_bounds(db: Path) -> tuple[dt.date, dt.date]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            'select min("date"), max("date") from rpt_as_of, fct_location_days '
            'where "date" <= as_of_date'
        ).fetchone()
    finally:
        con.close()


# --- how a change in money reads ---


def test_a_money_change_under_one_unit_shows_its_cents() -> None:
    from dashboard import format as fmt

    # RevPATH 55.10 against 55.50: down 40 cents, which whole dollars would show as "-$0"
    assert fmt.change(55.10, 55.50, "money") == "-$0.40"
    # a change of a dollar or more keeps whole units: 62.62 - 52.20 = 10.42
    assert fmt.change(62.62, 52.20, "money") == "+$10"
    assert fmt.change(100.0, 100.0, "money") == "+$0.00"
