"""One definition per rule: the dashboard reads flags and names from the marts, never re-derives
them (issue 16). A scan of the page queries' SQL, and the therapist flags against the marts."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit as st

from dashboard.queries import snapshot, therapists
from pipelines.settings import Settings
from tests.test_marts import DAY, Chain

QUERIES = Path(__file__).resolve().parent.parent / "dashboard" / "queries"

# What a mart already holds, as a page query would re-derive it (pattern, the mart's column).
RECOMPUTED = {
    r"nullif\(\s*(\w+\.)?name\s*,\s*''\s*\)": "dim_locations.display_name",
    r"'completed'\s*,\s*'booked'\s*,\s*'no_show'": "fct_bookings.is_held",
    r"hands_on_minutes\)?\s*/\s*60(\.0)?\s*>": "fct_therapist_weeks.over_weekly_limit",
    r"(?<!over_)weekly_(hands_on_hours_)?limit": "fct_therapist_weeks.over_weekly_limit",
    r"(bar_sessions|hands_on_minutes)\s*>\s*(\?|max_)": "fct_therapist_days.over_*_limit",
}


# Rules a module needs the limit itself for, which no mart holds (module, pattern): why.
READS_THE_LIMIT = {
    ("ahead.py", r"(?<!over_)weekly_(hands_on_hours_)?limit"): (
        "the day in the next 7 days on which a booked week goes over (the mart flags only the"
        " whole week), and the limit in the warning's words"
    ),
    ("therapists.py", r"(?<!over_)weekly_(hands_on_hours_)?limit"): (
        "rebalancing hints: whether taking a session would put a colleague over the week, and"
        " which of the week's latest sessions to move to get under it"
    ),
}


def recomputed_flags(source: str, module: str = "") -> list[str]:
    """Each mart rule a module's text re-derives, as 'pattern -> mart column'."""
    return [
        f"{p} -> {column}"
        for p, column in RECOMPUTED.items()
        if re.search(p, source) and (module, p) not in READS_THE_LIMIT
    ]


def test_the_scan_catches_a_recomputed_flag() -> None:
    # the weekly flag and the display name as dashboard/data.py wrote them before issue 16
    before = """
        having sum(d.hands_on_minutes) / 60.0 > ?
        coalesce(nullif(l.name, ''), d.location_id) as location_name
        HELD = ("completed", "booked", "no_show")
    """
    assert len(recomputed_flags(before.replace('"', "'"))) == 3


@pytest.mark.parametrize("module", sorted(QUERIES.glob("*.py")), ids=lambda p: p.name)
def test_no_page_query_recomputes_a_flag_a_mart_holds(module: Path) -> None:
    assert recomputed_flags(module.read_text().replace('"', "'"), module.name) == []


@pytest.fixture
def cut_week(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One therapist over a 12 h weekly limit in the week of Monday DAY (2024-03-04), with
    most of the hours on the Monday: 361 min Monday + 360 min Tuesday = 721 min > 720."""
    path = tmp_path / "studio.duckdb"
    chain = Chain(path)
    chain.booking("B1", "08:00", "14:01", room=None)
    chain.booking("B2", "2024-03-05 08:00", "2024-03-05 14:00", room=None)
    chain.build(Settings(weekly_hands_on_hours_limit=12))
    chain.con.close()
    monkeypatch.setenv("STUDIO_OPS_DB", str(path))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


def test_therapist_week_flags_are_the_marts(cut_week: Path) -> None:
    # A selection from Tuesday to Sunday cuts the week: its own days hold 6 h (under 12 h), but
    # the week is over the limit, as fct_therapist_weeks says; the page shows the mart's week.
    tuesday, sunday = dt.date(2024, 3, 5), dt.date(2024, 3, 10)
    flags = therapists.therapist_flags(("L1",), tuesday, sunday)
    weeks = flags[flags["period"] == "week"]
    with duckdb.connect(str(cut_week), read_only=True) as con:
        mart = con.execute(
            "select week_start, hands_on_hours from fct_therapist_weeks where over_weekly_limit"
        ).fetchall()
    assert [(str(w), h) for w, h in mart] == [(DAY, 721 / 60)]
    shown = zip(weeks["day_or_week_start"], weeks["hands_on_hours"], strict=True)
    assert [(str(pd.Timestamp(d).date()), h) for d, h in shown] == [(DAY, 721 / 60)]
    # Tuesday's 360 min is at the daily limit (not over) and Monday is outside: no day flag.
    assert (flags["period"] == "day").sum() == 0


def test_location_names_are_dim_locations_display_names(cut_week: Path) -> None:
    # the chain names no location: the display name is its id, in dim_locations and the page
    assert list(snapshot.locations()["location_name"]) == ["L1"]
    with duckdb.connect(str(cut_week), read_only=True) as con:
        assert con.execute("select display_name from dim_locations").fetchall() == [("L1",)]
