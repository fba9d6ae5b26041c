"""What a manager, an owner and a scheduler read on each page, after screenshots at 1280x800 of
the demo and of a studio set up from an Acuity export: no "None" cell, no finding shown as a
code, sentences that read, chart axes that fit.

Warehouses are loaded with the real pipeline from small native CSVs (tests.test_partial_states'
generator) and each page is opened in AppTest.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from dashboard import charts
from dashboard.queries import data as data_queries
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.test_load import write_csv
from tests.test_partial_states import (  # noqa: F401  (clear_caches is an autouse fixture)
    LOCATION,
    NAME,
    WHOLE_RANGE,
    booking_rows,
    build,
    clear_caches,
    column_values,
    open_page,
    room_rows,
    shift_rows,
    shown,
)

ROOT = Path(__file__).resolve().parent.parent


def is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rooms named by the bookings (R1 Cedar with bars, R2 Oak without) and a third room, R3
    Birch with bars, that no booking uses; shifts, prices."""
    folder = tmp_path_factory.mktemp("complete")
    db = build(folder, prices=True, created=True, booking_rooms=True, shifts=True)
    birch = [
        {**row, "room_id": "R3", "room_name": "Birch", "has_bars": "yes"}
        for row in room_rows()
        if row["room_id"] == "R1"
    ]
    rooms = write_csv(folder / "rooms.csv", ["date", "location_id", "room_id", "room_name",
                      "has_bars", "opens_at", "closes_at"], room_rows() + birch)  # fmt: skip
    load_files(db, [rooms], Settings())
    return db


def test_capacity_room_table_says_no_bars_instead_of_none(
    complete: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(complete, "capacity", monkeypatch, **WHOLE_RANGE)
    table = next(f.value for f in at.dataframe if "Non-bar hours in bar room" in f.value)
    rows = {row["Room"]: row for _, row in table.iterrows()}
    # Oak has no bars: its bar columns say so, never an empty "None" cell
    for column in ("Non-bar hours in bar room", "Bar utilization %", "Bar fit %"):
        assert rows["Oak"][column] == "no bars", (column, rows["Oak"][column])
    # Birch has bars but no booking: 0 bar hours of 252 open, and no booked time to fit
    assert float(rows["Birch"]["Bar utilization %"]) == 0
    assert rows["Birch"]["Bar fit %"] == "no bookings"
    # Cedar (bars) holds Maya's 14:00 Swedish hour every day: 1 h x 28 days not needing bars
    # written as a number column writes it (a column mixing words and numbers is text)
    assert rows["Cedar"]["Non-bar hours in bar room"] == "28"
    # ... and her 10:00 Ashiatsu hour: 28 bar hours of 9 h x 28 days open = 11.1%
    assert float(rows["Cedar"]["Bar utilization %"]) == pytest.approx(100 * 28 / (9 * 28), abs=0.05)
    for column in table.columns:
        assert not any(is_blank(v) for v in table[column]), f"empty cell in {column}"


@pytest.fixture(scope="module")
def recent_clients(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four weeks of bookings counted from the first day (new_client_lookback_days = 0), so
    every client is new and no 30-day window has closed by the last day."""
    folder = tmp_path_factory.mktemp("recent")
    header, rows = booking_rows(prices=True, created=True, rooms=False)
    files = [
        write_csv(folder / "locations.csv", ["location_id", "name", "timezone"],
                  [{"location_id": LOCATION, "name": NAME, "timezone": "America/Chicago"}]),
        write_csv(folder / "bookings.csv", header, rows),
    ]  # fmt: skip
    db = folder / "studio.duckdb"
    load_files(db, files, Settings(new_client_lookback_days=0))
    return db


def test_return_by_first_therapist_says_open_while_no_window_has_closed(
    recent_clients: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(recent_clients, "clients", monkeypatch, **WHOLE_RANGE)
    # clients C1..C8 first came on 1-2 Sep; the data ends on 28 Sep, before 1 Sep + 30 days:
    # every 30-day window is still open, so the return rate is "open", not None or 0%
    rates = column_values(at, "Return rate %")
    assert rates, "the return-by-first tables are shown"
    assert set(rates) == {"open"}, rates
    # maya and sam each saw four of the eight new clients first
    assert sorted(int(n) for n in column_values(at, "New clients"))[:2] == [4, 4]


def test_every_data_quality_finding_has_a_name_in_the_studios_words() -> None:
    sql = (ROOT / "sql" / "marts" / "dq_issues.sql").read_text()
    kinds = set(re.findall(r"'([a-z_]+)' as kind", sql))
    assert "more_bookings_than_rooms" in kinds
    unnamed = kinds - set(data_queries.DQ_KIND_LABELS)
    assert not unnamed, f"findings shown as codes on the Data page: {sorted(unnamed)}"


@pytest.fixture(scope="module")
def one_unknown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shifts for Maya only (bar-trained): Sam's training is in no file."""
    folder = tmp_path_factory.mktemp("one_unknown")
    header, rows = booking_rows(prices=False, created=False, rooms=False)
    shifts = [row for row in shift_rows() if row["therapist_id"] == "maya"]
    files = [
        write_csv(folder / "locations.csv", ["location_id", "name", "timezone"],
                  [{"location_id": LOCATION, "name": NAME, "timezone": "America/Chicago"}]),
        write_csv(folder / "bookings.csv", header, rows),
        write_csv(folder / "shifts.csv", ["date", "location_id", "therapist_id", "bar_trained",
                  "shift_start", "shift_end", "break_minutes"], shifts),
    ]  # fmt: skip
    db = folder / "studio.duckdb"
    load_files(db, files, Settings())
    return db


def test_one_therapist_with_unknown_training_reads_as_one(
    one_unknown: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(one_unknown, "therapists", monkeypatch, **WHOLE_RANGE)
    assert f"Bar training unknown: 1 therapist's training at {NAME}" in shown(at)


def test_hour_and_month_labels_read_level_and_the_cohort_axis_title_fits() -> None:
    hours = pd.DataFrame(
        {"weekday": ["Mon", "Tue"], "hour": [9, 10], "room_utilization": [0.5, 0.7]}
    )
    grid = charts.weekday_hour_heatmap(hours, "room_utilization", "Rooms booked").to_dict()
    assert grid["layer"][0]["encoding"]["x"]["axis"]["labelAngle"] == 0
    # Streamlit fits the whole chart, x axis included, into its height: the x axis (level
    # labels and title) takes about 60 px, the rest is the plot. Altair's axis title is 11 px
    # bold, about 6.5 px a character, read sideways along the plot.
    axis = 60
    for months in (1, 9):
        cohort = pd.DataFrame(
            {
                "cohort_month": pd.date_range("2026-01-01", periods=months, freq="MS"),
                "months_after": [1] * months,
                "active_share": [0.28] * months,
                "active_clients": [8] * months,
            }
        )
        spec = charts.cohort_heatmap(cohort).to_dict()
        assert spec["layer"][0]["encoding"]["x"]["axis"]["labelAngle"] == 0
        plot = spec["height"] - axis
        title = spec["layer"][0]["encoding"]["y"]["title"]
        assert plot >= 6.5 * len(title), (months, spec["height"], title)
        # a row per month tall enough for its label (11 px) with room around it
        assert plot / months >= 20, (months, spec["height"])


def test_bar_rooms_table_says_no_bookings_for_an_unbooked_bar_room(
    complete: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(complete, "bar_rooms", monkeypatch, **WHOLE_RANGE)
    table = next(f.value for f in at.dataframe if "Non-bar hours in bar room" in f.value)
    rows = {row["Room"]: row for _, row in table.iterrows()}
    # the bar rooms only: Cedar (Maya's two hours a day) and Birch (never booked)
    assert sorted(rows) == ["Birch", "Cedar"]
    assert rows["Birch"]["Bar fit %"] == "no bookings"
    # Cedar: 28 bar hours of 56 booked
    assert float(rows["Cedar"]["Bar fit %"]) == pytest.approx(50.0)


def test_setup_on_the_demo_does_not_invite_a_save_it_refuses(
    demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(demo_warehouse, "setup", monkeypatch)
    # the page's own note, not the demo line every page shows (which names studio-ops init)
    notes = " ".join(str(i.value) for i in at.info if "built-in demo chain" not in str(i.value))
    # the demo has no profile and Save is off there: the note says how to get one that saves
    assert "fill in a location below and save" not in notes, notes
    assert "studio-ops init" in notes, notes
    assert [b for b in at.button if b.label == "Save and reload"][0].disabled


def test_today_tile_labels_fit_their_tile(complete: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    last_day = {"location": LOCATION, "day": "2026-09-28"}
    at = open_page(complete, "today", monkeypatch, **last_day)
    labels = [m.label for m in at.metric]
    assert "Room utilization" in labels
    # Five tiles a row at 1280 px: "Room utilization" (16 characters) is the longest label
    # that showed whole; "Shift time booked" (17) showed as "Shift time boo…".
    assert all(len(label) <= len("Room utilization") for label in labels), labels


def test_the_data_page_on_the_demo_says_it_takes_no_uploads_before_one_is_tried(
    demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(demo_warehouse, "loads", monkeypatch)
    notes = " ".join(str(i.value) for i in at.info if "built-in demo chain" not in str(i.value))
    assert "The demo chain takes no uploads" in notes, notes
    # the loader would refuse the files whole; the button is off so nobody waits for that
    assert [b for b in at.get("form_submit_button") if b.label == "Load files"][0].disabled


def test_the_data_page_of_a_studio_takes_uploads(
    complete: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(complete, "loads", monkeypatch)
    assert "takes no uploads" not in " ".join(str(i.value) for i in at.info)
    assert not [b for b in at.get("form_submit_button") if b.label == "Load files"][0].disabled


def test_capacity_trend_says_edge_weeks_count_only_the_chosen_days(
    complete: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1-28 Sep 2026: 1 Sep is a Tuesday, so the first week (from Mon 31 Aug) holds six days
    # and its point sits before the first chosen day
    at = open_page(complete, "capacity", monkeypatch, **WHOLE_RANGE)
    assert "partial (Tue–Sun" in shown(at)


def test_return_by_first_shows_the_rate_beside_the_name(
    recent_clients: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(recent_clients, "clients", monkeypatch, **WHOLE_RANGE)
    tables = [f.value for f in at.dataframe if "Return rate %" in f.value]
    assert len(tables) == 2, "first therapist and first service"
    # each table is half the page wide at 1280 px: its fifth column was out of sight
    for table in tables:
        assert list(table.columns)[:2] in (
            ["First therapist", "Return rate %"],
            ["First service", "Return rate %"],
        ), list(table.columns)


@pytest.fixture(scope="module")
def priced_no_rooms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bookings with prices and created_at but no rooms (an Acuity export before the profile)."""
    return build(tmp_path_factory.mktemp("priced"), prices=True, created=True)


def test_revpath_ranking_without_rooms_asks_for_rooms_not_prices(
    priced_no_rooms: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(priced_no_rooms, "locations", monkeypatch, **WHOLE_RANGE)
    # ranked on RevPATH, with revenue (behind the table's column picker) shown
    at.button_group(key="rank_by").set_value("RevPATH").run()
    at.multiselect(key="more_columns").set_value(["revenue"]).run()
    text = shown(at)
    # the prices are there (4 visits a day at $100.00 for 28 days): RevPATH lacks open room
    # hours, so the ranking says to add rooms, never that no visit had a price
    assert "No completed visits with a price" not in text, text
    assert [float(v) for v in column_values(at, "Revenue ($)")] == [11_200.0, 11_200.0]
    assert "Ranking" in text
    assert text.count(f"No rooms for {NAME} yet") >= 2, "in the page's note and the ranking"
