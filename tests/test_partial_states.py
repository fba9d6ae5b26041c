"""Honest partial states: a page whose figure lacks its data says which data and how to add it.

Each warehouse is loaded with the real pipeline (load_files) from small native CSVs written
here, lacking rooms, shifts, prices or created_at, and each page is opened in AppTest. The
pages must name what is missing, and never show 0%, $0 or "Widen the dates" in its place.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.format import WORD_JOINER
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.apptest import show_every_table
from tests.test_load import write_csv

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT = 60
LOCATION, NAME = "L01", "Eastside Ashiatsu"
FIRST_DAY = dt.date(2026, 9, 1)
DAYS = 28
THERAPISTS = ("maya", "sam")


def booking_rows(prices: bool, created: bool, rooms: bool) -> tuple[list[str], list[dict]]:
    """Four bookings a day for DAYS days: 10:00 and 14:00 for each therapist, one hour each,
    the morning one Ashiatsu (bars), the afternoon one Swedish. Clients C1..C8 come back every
    other day, so retention and rebooking have something to count when the data allows."""
    header = ["booking_id", "location_id", "therapist_id", "client_id", "service", "start_at"]
    header += ["end_at", "status"]
    if rooms:
        header.append("room_id")
    if prices:
        header.append("price")
    if created:
        header.append("created_at")
    rows = []
    for offset in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=offset)
        for number, (therapist, hour, service) in enumerate(
            (t, h, "Ashiatsu 60" if h == 10 else "Swedish 60") for t in THERAPISTS for h in (10, 14)
        ):
            start = dt.datetime.combine(day, dt.time(hour))
            row = {
                "booking_id": f"B{offset}-{number}",
                "location_id": LOCATION,
                "therapist_id": therapist,
                "client_id": f"C{(offset % 2) * 4 + number + 1}",
                "service": service,
                "start_at": f"{start:%Y-%m-%d %H:%M}",
                "end_at": f"{start + dt.timedelta(hours=1):%Y-%m-%d %H:%M}",
                "status": "completed",
                # the room a room-naming export would give: one per therapist
                "room_id": f"R{THERAPISTS.index(therapist) + 1}",
                "price": "100.00",
                "created_at": f"{day - dt.timedelta(days=7):%Y-%m-%d} 09:00",
            }
            rows.append(row)
    return header, rows


def room_rows() -> list[dict]:
    """Two rooms every day, 09:00-18:00: R1 with bars, R2 without."""
    return [
        {"date": f"{FIRST_DAY + dt.timedelta(days=d)}", "location_id": LOCATION,
         "room_id": room, "room_name": room_name, "has_bars": bars,
         "opens_at": "09:00", "closes_at": "18:00"}
        for d in range(DAYS)
        for room, room_name, bars in (("R1", "Cedar", "yes"), ("R2", "Oak", "no"))
    ]  # fmt: skip


def shift_rows() -> list[dict]:
    """Both therapists 09:00-17:00 every day, Maya bar-trained, Sam not."""
    return [
        {"date": f"{FIRST_DAY + dt.timedelta(days=d)}", "location_id": LOCATION,
         "therapist_id": t, "bar_trained": "yes" if t == "maya" else "no",
         "shift_start": "09:00", "shift_end": "17:00", "break_minutes": "0"}
        for d in range(DAYS)
        for t in THERAPISTS
    ]  # fmt: skip


def build(
    folder: Path,
    *,
    prices: bool = False,
    created: bool = False,
    rooms: bool = False,
    booking_rooms: bool = False,
    shifts: bool = False,
) -> Path:
    """A warehouse in `folder` from generated native CSVs holding only what is asked for."""
    folder.mkdir(parents=True, exist_ok=True)
    header, rows = booking_rows(prices, created, booking_rooms)
    files = [
        write_csv(folder / "locations.csv", ["location_id", "name", "timezone"],
                  [{"location_id": LOCATION, "name": NAME, "timezone": "America/Chicago"}]),
        write_csv(folder / "bookings.csv", header, rows),
    ]  # fmt: skip
    if rooms:
        files.append(
            write_csv(folder / "rooms.csv", ["date", "location_id", "room_id", "room_name",
                      "has_bars", "opens_at", "closes_at"], room_rows())
        )  # fmt: skip
    if shifts:
        files.append(
            write_csv(folder / "shifts.csv", ["date", "location_id", "therapist_id",
                      "bar_trained", "shift_start", "shift_end", "break_minutes"], shift_rows())
        )  # fmt: skip
    db = folder / "studio.duckdb"
    results = load_files(db, files, Settings())
    assert all(r.rows_rejected == 0 for r in results), [r for r in results if r.rows_rejected]
    return db


def has_column(db: Path, table: str, column: str) -> bool:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return bool(
            con.execute(
                "select count(*) from information_schema.columns "
                "where table_name = ? and column_name = ?",
                [table, column],
            ).fetchone()[0]
        )
    finally:
        con.close()


@pytest.fixture(autouse=True)
def clear_caches(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(db: Path, page: str, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"dashboard/pages/{page}.py").run()
    show_every_table(at)
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]
    return at


def everything_shown(at: AppTest) -> str:
    """Every piece of text the page shows (notes, captions, markdown, tiles, table cells)."""
    parts: list[str] = []
    for kind in ("info", "warning", "caption", "markdown", "subheader", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv(index=False))
    return "\n".join(parts)


WHOLE_RANGE = {"from": f"{FIRST_DAY}", "to": f"{FIRST_DAY + dt.timedelta(days=DAYS - 1)}"}
LAST_DAY = {"location": LOCATION, "day": f"{FIRST_DAY + dt.timedelta(days=DAYS - 1)}"}


def plain(text: str) -> str:
    """Markdown as read on the page: md_text's escapes and word joiners taken out."""
    return re.sub(r"\\(.)", r"\1", text).replace(WORD_JOINER, "")


def shown(at: AppTest) -> str:
    return plain(everything_shown(at))


def column_values(at: AppTest, column: str) -> list:
    """Every value under `column` in the page's tables."""
    values: list = []
    for frame in at.dataframe:
        if column in frame.value.columns:
            values += list(frame.value[column])
    return values


NO_ROOMS = f"No rooms for {NAME} yet: add them on the Setup page or load a room calendar."
NO_SHIFTS = f"No shifts for {NAME} yet: add the therapists' weekly shifts on the Setup page"
NO_PRICES = f"Revenue and RevPATH are empty for {NAME}: no prices in the exports."
NO_CREATED = f"Rebooking rate is empty for {NAME}: the booking export never says when"
UNKNOWN_TRAINING = f"Bar training unknown: 2 therapists' training at {NAME}"
NEVER = ("Widen the dates", "0.000000%")


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bookings only: no rooms, no shifts, no prices, no created_at (an Acuity-like start)."""
    return build(tmp_path_factory.mktemp("bare"))


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("today", [NO_ROOMS, NO_SHIFTS, NO_PRICES, NO_CREATED]),
        ("capacity", [NO_ROOMS, NO_SHIFTS]),
        ("bar_rooms", [NO_ROOMS]),
        ("therapists", [NO_SHIFTS, UNKNOWN_TRAINING]),
        ("clients", [NO_CREATED]),
        ("locations", [NO_ROOMS, NO_SHIFTS, NO_PRICES, NO_CREATED]),
    ],
)
def test_a_page_names_the_missing_data_instead_of_an_empty_figure(
    bare: Path, page: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(bare, page, monkeypatch, **(LAST_DAY if page == "today" else WHOLE_RANGE))
    text = shown(at)
    for line in expected:
        assert line in text, f"{page}: {line!r} missing from:\n{text}"
    for wrong in NEVER:
        assert wrong not in text, f"{page} shows {wrong!r}"
    # no figure stands in for missing data: no 0% tile, no $0, no "Bar-trained: no"
    for metric in at.metric:
        assert metric.value not in ("0.0%", "0%", "$0", "0 h"), f"{page}: {metric.label}"
    assert "no" not in column_values(at, "Bar-trained")


def test_today_leaves_money_rooms_and_rebooking_tiles_empty_without_their_data(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(bare, "today", monkeypatch, **LAST_DAY)
    tiles = {m.label: m.value for m in at.metric}
    for label in ("Room utilization", "Bar utilization", "Shifts booked", "Revenue",
                  "RevPATH", "Rebooking rate"):  # fmt: skip
        assert tiles[label] == "–", (label, tiles[label])
    # the day still has its bookings: 2 therapists x (10:00 and 14:00)
    assert tiles["Bookings"] == "4"


def test_therapists_show_unknown_training_and_no_utilization_chart_without_shifts(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(bare, "therapists", monkeypatch, **WHOLE_RANGE)
    assert column_values(at, "Bar-trained") == ["unknown", "unknown"]
    assert column_values(at, "Utilization %") == ["no shifts", "no shifts"]
    text = shown(at)
    # the utilization section says what it lacks instead of a chart of nothing
    assert text.count(NO_SHIFTS) >= 2, text


def test_locations_table_has_empty_revenue_not_zero_without_prices(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(bare, "locations", monkeypatch, **WHOLE_RANGE)
    # revenue and bookings sit behind the table's column picker
    at.multiselect(key="more_columns").set_value(["bookings", "revenue"]).run()
    revenue = column_values(at, "Revenue ($)")
    revpath = column_values(at, "RevPATH ($)")
    # one row for Eastside, one for All locations: both say why they are empty, never 0
    assert revenue == revpath == ["no prices", "no prices"], (revenue, revpath)
    assert column_values(at, "Room utilization %") == ["no rooms", "no rooms"]
    # bookings are still counted: 4 a day for 28 days
    assert column_values(at, "Bookings") == [112, 112]


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything the figures need: rooms named by the bookings, a room calendar, shifts with
    bar training, prices and created_at."""
    return build(
        tmp_path_factory.mktemp("complete"),
        prices=True,
        created=True,
        rooms=True,
        booking_rooms=True,
        shifts=True,
    )


@pytest.mark.parametrize("page", ["today", "capacity", "bar_rooms", "therapists", "locations"])
def test_no_missing_data_note_when_the_data_is_there(
    complete: Path, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(complete, page, monkeypatch, **(LAST_DAY if page == "today" else WHOLE_RANGE))
    text = shown(at)
    for line in (NO_ROOMS, NO_SHIFTS, NO_PRICES, NO_CREATED, "Bar training unknown",
                 "were inferred"):  # fmt: skip
        assert line not in text, f"{page}: {line!r} shown although the data is there"


def test_today_shows_revenue_and_training_when_the_exports_have_them(
    complete: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(complete, "today", monkeypatch, **LAST_DAY)
    tiles = {m.label: m.value for m in at.metric}
    # 4 completed visits at $100.00
    assert tiles["Revenue"] == "$400"
    # rooms R1 and R2 open 09:00-18:00 (1,080 min); each held 10-11 and 14-15: 240 / 1,080
    # = 22.22%, one decimal as on every page
    assert tiles["Room utilization"] == "22.2%"
    at = open_page(complete, "therapists", monkeypatch, **WHOLE_RANGE)
    assert sorted(column_values(at, "Bar-trained")) == ["no", "yes"]


@pytest.fixture(scope="module")
def no_shifts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rooms named by the bookings and a room calendar, but no shift export."""
    return build(tmp_path_factory.mktemp("no_shifts"), rooms=True, booking_rooms=True)


def test_bottlenecks_leave_therapists_out_when_no_shifts_are_known(
    no_shifts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(no_shifts, "capacity", monkeypatch, **WHOLE_RANGE)
    summary = [f.value for f in at.dataframe if "Hours an extra bar room would sell" in f.value]
    assert summary, "the extra-capacity table is shown"
    row = summary[0].iloc[0]
    # Cedar, the one bar room, holds Maya's 10-11 and 14-15 bookings: 2 h full a day, 28 days
    assert row["Hours an extra bar room would sell"] == pytest.approx(56.0)
    # nobody knows when therapists were free: no figure, rather than every hour "no one on shift"
    assert row["Hours an extra bar-trained shift would sell"] == "no shifts loaded"
    hours = [f.value for f in at.dataframe if "Runs out first" in f.value][0]
    assert "Therapists on shift" not in set(hours["Runs out first"])
    assert NO_SHIFTS in shown(at)


@pytest.fixture(scope="module")
def rooms_not_named(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A room calendar and shifts, but bookings that name no room (Acuity, Calendly)."""
    db = build(tmp_path_factory.mktemp("inferred"), rooms=True, shifts=True)
    if not has_column(db, "fct_bookings", "room_source"):
        pytest.skip("fct_bookings.room_source (room inference) is not built yet")
    return db


@pytest.mark.parametrize("page", ["today", "capacity", "bar_rooms", "locations"])
def test_pages_with_room_figures_say_rooms_were_inferred(
    rooms_not_named: Path, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whole range: each day two Ashiatsu bookings at 10:00 (one bar room: Cedar takes one, the
    # other finds no bar room and stays roomless) and two Swedish at 14:00 (Oak, then Cedar):
    # 3 inferred a day x 28 days = 84. On the last day alone: 3.
    query = LAST_DAY if page == "today" else WHOLE_RANGE
    at = open_page(rooms_not_named, page, monkeypatch, **query)
    inferred = 3 if page == "today" else 84
    assert f"Rooms of {inferred} bookings were inferred: the export names no room" in shown(at)


def test_room_utilization_is_not_zero_when_rooms_were_inferred(
    rooms_not_named: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(rooms_not_named, "today", monkeypatch, **LAST_DAY)
    # Cedar held 10-11 and 14-15, Oak 14-15: 180 of 1,080 open minutes = 16.67%
    assert {m.label: m.value for m in at.metric}["Room utilization"] == "16.7%"


def test_clients_page_explains_the_history_start(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not has_column(bare, "dim_locations", "new_clients_from"):
        pytest.skip("dim_locations.new_clients_from (history start) is not built yet")
    at = open_page(bare, "clients", monkeypatch, **WHOLE_RANGE)
    # no opened_on: the first booking day (1 Sep 2026) plus the 90-day lookback = 30 Nov 2026
    assert f"New clients are counted from 30 Nov 2026 at {NAME} (data from 01 Sep 2026)" in shown(
        at
    )
