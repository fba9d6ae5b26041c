"""Charts tell the truth about partial periods; no page shows "None", "nan", "NaT" or "<NA>".

A hand-made warehouse (one location, one room open 09:00-17:00, one therapist on shift 09:00-
17:00) holds bookings from Monday 23 Feb to Monday 6 Apr 2026: 4 hours on Mondays and Tuesdays,
2 hours on the other days. So a day is 50% full on Mon/Tue and 25% on the rest, and a full week
(2 x 240 + 5 x 120 booked minutes of 7 x 480) is 1080 / 3360 = 32.1% full. Its data ends on a
Monday. Everything below is worked out from those numbers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import charts, navigation, tables
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.apptest import show_every_table
from tests.test_load import write_csv
from tests.test_partial_states import build as build_partial

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT = 60
FIRST, LAST = dt.date(2026, 2, 23), dt.date(2026, 4, 6)  # a Monday .. a Monday
DAYS = (LAST - FIRST).days + 1
LOC = "L01"
FULL_WEEK = (2 * 240 + 5 * 120) / (7 * 480)
EMPTY_WORDS = ("None", "nan", "NaN", "NaT", "<NA>")


def build(folder: Path) -> Path:
    """The warehouse described above, loaded with the real pipeline from native CSVs."""
    folder.mkdir(parents=True, exist_ok=True)
    days = [FIRST + dt.timedelta(days=n) for n in range(DAYS)]
    bookings = []
    for number, day in enumerate(days):
        hours = 4 if day.weekday() in (0, 1) else 2
        bookings.append(
            {"booking_id": f"B{number}", "location_id": LOC, "therapist_id": "maya",
             "client_id": f"C{number % 5}", "service": "Ashiatsu", "room_id": "R1",
             "start_at": f"{day} 10:00", "end_at": f"{day} {10 + hours}:00",
             "status": "completed", "created_at": f"{day - dt.timedelta(days=3)} 09:00",
             "price": "100"}
        )  # fmt: skip
    files = [
        write_csv(folder / "locations.csv", ["location_id", "name", "timezone"],
                  [{"location_id": LOC, "name": "Eastside", "timezone": "America/Chicago"}]),
        write_csv(folder / "bookings.csv", list(bookings[0]), bookings),
        write_csv(folder / "rooms.csv", ["date", "location_id", "room_id", "room_name", "has_bars",
                  "opens_at", "closes_at"],
                  [{"date": f"{d}", "location_id": LOC, "room_id": "R1", "room_name": "Cedar",
                    "has_bars": "yes", "opens_at": "09:00", "closes_at": "17:00"} for d in days]),
        write_csv(folder / "shifts.csv", ["date", "location_id", "therapist_id", "bar_trained",
                  "shift_start", "shift_end", "break_minutes"],
                  [{"date": f"{d}", "location_id": LOC, "therapist_id": "maya",
                    "bar_trained": "yes", "shift_start": "09:00", "shift_end": "17:00",
                    "break_minutes": "0"} for d in days]),
    ]  # fmt: skip
    db = folder / "studio.duckdb"
    results = load_files(db, files, Settings())
    assert all(r.rows_rejected == 0 for r in results), [r for r in results if r.rows_rejected]
    return db


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("partial-periods"))


@pytest.fixture(autouse=True)
def clear_caches(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def weekly(db: Path, monkeypatch, start: dt.date, end: dt.date, grain: str = "week"):
    from dashboard.queries.capacity import utilization_trend

    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    st.cache_data.clear()
    return utilization_trend((LOC,), start, end, grain)


def test_a_selection_from_a_wednesday_to_a_tuesday_has_partial_first_and_last_weeks(
    warehouse: Path, monkeypatch
) -> None:
    # Wed 4 Mar .. Tue 31 Mar: weeks of 2 Mar (Wed-Sun, 5 days), 9, 16, 23 (full) and 30 Mar
    # (Mon-Tue, 2 days). Wed-Sun is 5 x 120 / (5 x 480) = 25%; Mon-Tue 2 x 240 / 960 = 50%,
    # the kind of spike a partial week drew as if it were a whole one.
    trend = weekly(warehouse, monkeypatch, dt.date(2026, 3, 4), dt.date(2026, 3, 31))
    assert [d.date() for d in trend["period"]] == [
        dt.date(2026, 3, 2), dt.date(2026, 3, 9), dt.date(2026, 3, 16), dt.date(2026, 3, 23),
        dt.date(2026, 3, 30),
    ]  # fmt: skip
    assert list(trend["days_covered"]) == [5, 7, 7, 7, 2]
    assert list(trend["days_in_period"]) == [7] * 5
    assert list(trend["is_partial"]) == [True, False, False, False, True]
    assert list(trend["room_utilization"]) == pytest.approx([0.25] + [FULL_WEEK] * 3 + [0.5])
    assert charts.partial_note(trend).startswith(
        "The first and last weeks are partial (Wed–Sun, Mon–Tue)"
    )


def test_data_ending_on_a_monday_makes_its_last_week_partial(warehouse: Path, monkeypatch) -> None:
    # The selection runs to the end of April, the data to Mon 6 Apr: that week holds one day
    # of data (Mon only, 240 / 480 = 50%); 23 Feb, the data's first Monday, is a full week.
    trend = weekly(warehouse, monkeypatch, dt.date(2026, 2, 1), dt.date(2026, 4, 30))
    last = trend.iloc[-1]
    assert last["period"].date() == dt.date(2026, 4, 6)
    assert (last["days_covered"], last["is_partial"]) == (1, True)
    assert last["room_utilization"] == pytest.approx(0.5)
    assert not trend.iloc[0]["is_partial"] and trend.iloc[0]["days_covered"] == 7
    assert charts.partial_note(trend).startswith("The last week is partial (Mon only)")


def test_a_month_the_data_covers_in_part_is_partial(warehouse: Path, monkeypatch) -> None:
    # February: data from the 23rd (6 of 28 days); March: every day (31 of 31); April: the
    # 1st to the 6th (6 of 30).
    trend = weekly(warehouse, monkeypatch, dt.date(2026, 2, 1), dt.date(2026, 4, 30), "month")
    assert list(trend["days_covered"]) == [6, 31, 6]
    assert list(trend["days_in_period"]) == [28, 31, 30]
    assert list(trend["is_partial"]) == [True, False, True]
    assert charts.partial_note(trend).startswith(
        "The first and last months are partial (23–28 Feb, 1–6 Apr)"
    )


def test_the_therapist_weeks_and_rebooking_trend_are_marked_too(
    warehouse: Path, monkeypatch
) -> None:
    from dashboard.queries.clients import rebooking_trend
    from dashboard.queries.therapists import therapist_weeks

    monkeypatch.setenv("STUDIO_OPS_DB", str(warehouse))
    start, end = dt.date(2026, 3, 4), dt.date(2026, 3, 31)
    weeks = therapist_weeks((LOC,), start, end)
    # Maya works every day: 5 days of the week of 2 Mar (Wed-Sun, 5 x 2 h = 10 h hands-on)
    assert list(weeks["days_covered"]) == [5, 7, 7, 7, 2]
    assert weeks.iloc[0]["hands_on_hours"] == pytest.approx(10)
    rebooking = rebooking_trend((LOC,), start, end)
    assert list(rebooking["is_partial"]) == [True, False, False, False, True]


def spec_weekdays(values: list[dict]) -> set[int]:
    """The weekdays (0 = Monday) of tick values given as Vega-Lite dates (UTC)."""
    assert all(v["utc"] for v in values)  # the x scale is UTC: no shift into a Sunday
    return {dt.date(v["year"], v["month"], v["date"]).weekday() for v in values}


def test_week_ticks_fall_on_the_mondays_and_tooltips_name_the_week(
    warehouse: Path, monkeypatch
) -> None:
    trend = weekly(warehouse, monkeypatch, dt.date(2026, 3, 4), dt.date(2026, 3, 31))
    named = trend.assign(location_name="Eastside")
    for chart in (
        charts.trend(named, "room_utilization", "Room utilization"),
        charts.rate_line(trend, "room_utilization", "Room utilization"),
    ):
        spec = chart.to_dict()
        x = spec["encoding"]["x"]
        # five weeks: a tick on each of their Mondays (Vega-Lite's own ticks fell on Sundays)
        assert len(x["axis"]["values"]) == 5 and spec_weekdays(x["axis"]["values"]) == {0}
        rows = next(iter(spec["datasets"].values()))
        assert rows[0]["period_name"] == "week of Mon 2 Mar"
        assert rows[0]["coverage"] == "partial: 5 of 7 days"
        assert rows[1]["coverage"] == "all 7 days"
    small = charts.small_multiples(named, "room_utilization", "Room utilization").to_dict()
    assert spec_weekdays(small["spec"]["encoding"]["x"]["axis"]["values"]) == {0}


def test_a_year_of_weeks_gets_thinned_ticks_still_on_mondays() -> None:
    mondays = pd.date_range("2025-12-29", periods=52, freq="7D")  # 29 Dec 2025 is a Monday
    frame = pd.DataFrame({"period": mondays, "location_name": "Eastside", "room_utilization": 0.5})
    values = charts.trend(frame, "room_utilization", "Room utilization").to_dict()["encoding"]["x"][
        "axis"
    ]["values"]
    # 52 weeks, at most 12 ticks: every 5th Monday (ceil(52 / 12) = 5), 11 ticks
    assert len(values) == 11 and spec_weekdays(values) == {0}


def test_the_week_grid_labels_its_mondays_and_fades_partial_weeks(
    warehouse: Path, monkeypatch
) -> None:
    from dashboard.queries.therapists import therapist_weeks

    monkeypatch.setenv("STUDIO_OPS_DB", str(warehouse))
    weeks = therapist_weeks((LOC,), dt.date(2026, 3, 4), dt.date(2026, 3, 31))
    spec = charts.therapist_week_grid(weeks, "hands_on_hours", "Hands-on hours", 25).to_dict()
    cells = spec["layer"][0]
    assert cells["encoding"]["x"]["sort"] == ["2 Mar", "9 Mar", "16 Mar", "23 Mar", "30 Mar"]
    assert "partial" in cells["encoding"]["opacity"]["condition"]["test"]
    rows = next(iter(spec["datasets"].values()))
    assert rows[0]["period_name"] == "week of Mon 2 Mar" and rows[0]["is_partial"]


def test_a_missing_value_reads_as_a_dash_in_tooltips_and_tables() -> None:
    assert charts.value_text(None) == "–" and charts.value_text(float("nan"), "money") == "–"
    assert charts.value_text(0.724) == "72.4%"
    frame = pd.DataFrame(
        {"room_utilization": [0.5, None], "bookings": [3, None], "therapist": ["Maya", None]}
    )
    shown, drawn, _ = tables._in_words(frame, "$", True, None)
    # drawn: every empty cell "–", numbers as the grid writes them; the CSV (shown) stays empty
    assert list(drawn["Room utilization %"]) == ["50", "–"]
    assert list(drawn["Bookings"]) == ["3", "–"]
    assert list(drawn["Therapist"]) == ["Maya", "–"]
    assert shown["Room utilization %"].isna().iloc[1] and shown["Therapist"].isna().iloc[1]


def everything_on(at: AppTest) -> list[str]:
    """Every text the page shows: titles, notes, captions, markdown, tiles and table cells."""
    texts: list[str] = []
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success")
    for kind in kinds:
        texts += [str(e.value) for e in getattr(at, kind)]
    for metric in at.metric:
        texts += [str(metric.label), str(metric.value)]
        texts += [] if metric.delta is None else [str(metric.delta)]  # None: no change shown
    for frame in at.dataframe:
        value = frame.value
        data = value.data if hasattr(value, "data") else value  # a Styler holds its frame
        texts += [str(c) for c in data.columns]
        texts += ["<NA>" if pd.isna(v) else str(v) for v in data.to_numpy().ravel()]
    return texts


def shows_empty_words(texts: list[str]) -> list[str]:
    """The texts showing an empty value in Python's words ("None", "nan", ...)."""
    import re

    # a word on its own, not the English "None found." or "None of …"
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(map(re.escape, EMPTY_WORDS)) + r")(?![\w-])(?! [a-z])"
    )
    return [t for t in texts if pattern.search(t)]


def walk(db: Path, monkeypatch, query: dict[str, str]) -> dict[str, list[str]]:
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    found = {}
    for page in navigation.names():
        st.cache_data.clear()
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        at.switch_page(f"dashboard/pages/{page}.py").run()
        # every table's cells too, each behind its toggle
        show_every_table(at)
        assert not at.exception, (page, at.exception)
        assert not [e.value for e in at.error], (page, [e.value for e in at.error])
        bad = shows_empty_words(everything_on(at))
        if bad:
            found[page] = bad[:5]
    return found


def test_no_page_shows_none_or_nan_on_the_hand_made_warehouse(warehouse: Path, monkeypatch):
    # dates reaching past the data's last day, so partial weeks and empty days are in view
    assert walk(warehouse, monkeypatch, {"from": "2026-03-04", "to": "2026-04-30"}) == {}


def test_no_page_shows_none_or_nan_on_a_partial_data_warehouse(tmp_path: Path, monkeypatch):
    # bookings only: no rooms, shifts, prices or created_at (test_partial_states' warehouse)
    db = build_partial(tmp_path / "bookings-only")
    assert walk(db, monkeypatch, {}) == {}


def test_no_page_shows_none_or_nan_on_the_demo(demo_warehouse: Path, monkeypatch):
    assert walk(demo_warehouse, monkeypatch, {}) == {}
