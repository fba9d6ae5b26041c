"""The KPI query's figures that depend on which bookings carry prices and known rebooking, read
from the location-days (fct_location_days): a hand-made chain of two locations, one of them
without prices, every expected figure worked out by hand.

  4 Mar 2024, one room R1 09:00-17:00 at each location (8 open hours each).
  Eastside (L1)  a: C1 10-11, completed, $100; C1 books c (10 Mar) at 11:30 that day -> rebooked
  Westside (L2)  d: C2 10-11, completed, no price; C2 books nothing -> not rebooked (known)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import streamlit as st

from dashboard.queries import kpis
from dashboard.queries.snapshot import acting_for
from tests.test_marts import Chain

DAY = dt.date(2024, 3, 4)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("kpi_sources") / "studio.duckdb"
    chain = Chain(db)
    for number, (location, name) in enumerate((("L1", "Eastside"), ("L2", "Westside")), start=1):
        chain.con.execute(
            "insert into raw_locations (location_id, name, timezone, load_id, line_number)"
            " values (?, ?, 'America/Chicago', 1, ?)",
            [location, name, number],
        )
        chain.room("R1", location=location)
    chain.booking("a", "10:00", "11:00", client="C1", location="L1")
    chain.booking(
        "c", "2024-03-10 10:00", "2024-03-10 11:00", client="C1", location="L1",
        status="booked", created_at="2024-03-04 11:30",
    )  # fmt: skip
    chain.booking("d", "10:00", "11:00", client="C2", location="L2", price=None)
    chain.build()
    chain.con.close()
    return db


def test_revpath_of_all_locations_divides_by_the_priced_locations_hours_only(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_OPS_DB", str(warehouse))
    st.cache_data.clear()
    with acting_for(None):
        totals = kpis.kpi_totals_over(("L1", "L2"), {"now": (DAY, DAY)})["now"]
        rows = kpis.kpis_by_location_over(("L1", "L2"), {"now": (DAY, DAY)})["now"]
    st.cache_data.clear()
    assert totals is not None
    # $100 over Eastside's 8 open hours (Westside gives no prices): 12.5, not 100 / 16
    assert totals["revenue"] == 100.0
    assert totals["revpath"] == 12.5
    # one of the two completed visits rebooked, both known
    assert totals["rebooked_visits"] == 1
    assert totals["rebooking_rate"] == 0.5
    by_location = rows.set_index("location_id")
    assert by_location.loc["L1", "revpath"] == 12.5
    assert by_location.loc["L1", "rebooking_rate"] == 1.0
    # Westside: revenue and RevPATH empty, not $0; its one visit known not rebooked
    assert by_location.loc["L2", ["revenue", "revpath"]].isna().all()
    assert by_location.loc["L2", "rebooking_rate"] == 0.0
