"""History start, rebooking and revenue when the data cannot tell (METRICS.md).

- A location's first visits count as new clients from its `new_clients_from` (dim_locations):
  the studio profile's `opened_on` when given and no booking is earlier, else the first booking
  day plus `new_client_lookback_days` (0 turns it off). Earlier first visits are clients known
  at history start: never new, in no cohort.
- `is_rebooked` is NULL for every booking of a source that never records created_at, and when
  the client's later booking comes from such a source.
- `price` is NULL when the export does not say; revenue (and RevPATH) is NULL, not 0, on a day
  whose completed visits have no known price.

Real DuckDB files in tmp_path; raw rows written by hand with tests.test_marts.Chain, expected
numbers worked out in the comments.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
import streamlit as st

from dashboard.queries import clients as clients_queries
from pipelines.ingest.load import load_files
from pipelines.settings import SETTINGS_ENV, Settings
from tests.hostile import PEAK_MB, SECONDS, fingerprint, run_cli
from tests.test_marts import Chain

# The default lookback, written out so the arithmetic below can be checked against it.
LOOKBACK = Settings().new_client_lookback_days


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    studio = Chain(tmp_path / "studio.duckdb")
    yield studio
    studio.con.close()


def opened_on(chain: Chain, location: str, day: str | None) -> None:
    """A studio profile's location row (raw_locations), with the day it opened."""
    chain.con.execute(
        "insert into raw_locations (location_id, name, timezone, opened_on, load_id, line_number)"
        " values (?, ?, 'America/Chicago', ?, 1, 1)",
        [location, f"Studio {location}", day],
    )


def history(chain: Chain, location: str = "L1") -> tuple:
    return chain.rows(
        "select first_booking_date, opened_on, new_clients_from from dim_locations"
        " where location_id = ?",
        [location],
    )[0]


def new_clients_by_day(chain: Chain, location: str = "L1") -> dict[str, int]:
    return {
        str(day): count
        for day, count in chain.rows(
            "select date, new_clients from fct_location_days"
            " where location_id = ? and new_clients > 0 order by date",
            [location],
        )
    }


def test_without_opened_on_new_clients_count_from_the_lookback(chain: Chain) -> None:
    # A's first visit, 2024-01-01, is the location's first booking: new clients are counted
    # from 2024-01-01 + 90 days = 2024-03-31 (January 31 + February 29 + March 30 = 90).
    assert LOOKBACK == 90
    chain.visit("A1", "2024-01-01", "A")
    chain.visit("A2", "2024-04-05", "A")  # A comes back: still a client known at the start
    chain.visit("B1", "2024-03-30", "B")  # the day before: known at history start
    chain.visit("C1", "2024-03-31", "C")  # the first day that counts: new
    chain.visit("C2", "2024-04-10", "C")  # C back 10 days later
    chain.visit("D1", "2024-04-02", "D", status="no_show")  # no visit: no first visit at all
    chain.build(Settings())

    assert history(chain) == (date(2024, 1, 1), None, date(2024, 3, 31))
    flags = {
        booking: (first, new)
        for booking, first, new in chain.rows(
            "select booking_id, is_first_visit, is_new_client from fct_bookings"
        )
    }
    assert flags == {
        "A1": (True, False),
        "A2": (False, False),
        "B1": (True, False),
        "C1": (True, True),
        "C2": (False, False),
        "D1": (False, False),
    }
    # only C counts as a new client, on its first day
    assert new_clients_by_day(chain) == {"2024-03-31": 1}
    # A and B are clients (the win-back lists keep them) but not new ones
    clients = dict(chain.rows("select client_id, is_new_client from dim_clients"))
    assert clients == {"A": False, "B": False, "C": True}


def test_clients_known_at_history_start_are_in_no_cohort(chain: Chain) -> None:
    # Same dates as above: new clients from 2024-03-31. A (first seen 2024-01-01, back on
    # 2024-01-15) would be a January cohort that returned within 30 days; B (first seen
    # 2024-03-30) a March one. Only C (2024-03-31, back on 2024-04-10) is a cohort client.
    chain.visit("A1", "2024-01-01", "A")
    chain.visit("A2", "2024-01-15", "A")
    chain.visit("B1", "2024-03-30", "B")
    chain.visit("C1", "2024-03-31", "C")
    chain.visit("C2", "2024-04-10", "C")
    # the data is complete through 2024-07-01 (as-of): every window of C (to 2024-06-29) closed
    chain.visit("Z1", "2024-07-01", "A")
    chain.build(Settings())

    retention = chain.rows(
        "select strftime(cohort_month, '%Y-%m'), location_id, new_clients, eligible_30,"
        " returned_30, eligible_90, returned_90 from rpt_retention order by all"
    )
    # no January cohort at all; March holds C alone (B is known at history start): eligible
    # for 30 and 90 days, back after 10 days, so returned in both
    assert retention == [("2024-03", "L1", 1, 1, 1, 1, 1)]
    activity = chain.rows(
        "select strftime(cohort_month, '%Y-%m'), months_after, active_clients"
        " from rpt_cohort_activity order by all"
    )
    # C: March (0 months after) and April (1 month after); A's January and July are no cohort
    assert activity == [("2024-03", 0, 1), ("2024-03", 1, 1)]


def test_opened_on_given_counts_from_the_opening_day(chain: Chain) -> None:
    # L1 opened on 2024-01-01 and its first booking is 2024-01-02: every first visit is new.
    # L2 says it opened on 2024-02-01, but a booking of 2024-01-02 is earlier: the profile
    # cannot be right about the clients, so the lookback applies, 2024-01-02 + 90 = 2024-04-01.
    opened_on(chain, "L1", "2024-01-01")
    opened_on(chain, "L2", "2024-02-01")
    chain.visit("A1", "2024-01-02", "A", location="L1")
    chain.visit("B1", "2024-01-02", "B", location="L2")
    chain.visit("E1", "2024-04-01", "E", location="L2")
    chain.build(Settings())

    assert history(chain, "L1") == (date(2024, 1, 2), date(2024, 1, 1), date(2024, 1, 1))
    assert history(chain, "L2") == (date(2024, 1, 2), date(2024, 2, 1), date(2024, 4, 1))
    assert new_clients_by_day(chain, "L1") == {"2024-01-02": 1}
    assert new_clients_by_day(chain, "L2") == {"2024-04-01": 1}  # B is known at the start
    cohorts = chain.rows(
        "select strftime(cohort_month, '%Y-%m'), location_id, new_clients from rpt_retention"
        " order by all"
    )
    assert cohorts == [("2024-01", "L1", 1), ("2024-04", "L2", 1)]


def test_opened_on_without_bookings_and_a_profile_opening_later_the_same_day(
    chain: Chain,
) -> None:
    # opened_on equal to the first booking day is not "earlier than a booking": it holds.
    # A location of the profile with no booking yet has its opening day and no data start.
    opened_on(chain, "L1", "2024-01-02")
    opened_on(chain, "L3", "2024-05-01")
    chain.visit("A1", "2024-01-02", "A", location="L1")
    chain.build(Settings())

    assert history(chain, "L1") == (date(2024, 1, 2), date(2024, 1, 2), date(2024, 1, 2))
    assert history(chain, "L3") == (None, date(2024, 5, 1), date(2024, 5, 1))
    assert new_clients_by_day(chain, "L1") == {"2024-01-02": 1}


def test_lookback_zero_turns_the_history_start_off(chain: Chain) -> None:
    # new_client_lookback_days = 0: new clients from the first booking day, 2024-01-01, so
    # A's and B's first visits are both new; C's first visit is at L2 (first booking there
    # 2024-02-01), also new. A's visit at L2 is not a first visit (chain-wide).
    chain.visit("A1", "2024-01-01", "A")
    chain.visit("B1", "2024-01-20", "B")
    chain.visit("C1", "2024-02-01", "C", location="L2")
    chain.visit("A2", "2024-02-03", "A", location="L2")
    chain.build(Settings(new_client_lookback_days=0))

    assert history(chain, "L1")[2] == date(2024, 1, 1)
    assert history(chain, "L2")[2] == date(2024, 2, 1)
    assert new_clients_by_day(chain, "L1") == {"2024-01-01": 1, "2024-01-20": 1}
    assert new_clients_by_day(chain, "L2") == {"2024-02-01": 1}
    cohorts = chain.rows(
        "select strftime(cohort_month, '%Y-%m'), location_id, new_clients from rpt_retention"
        " order by all"
    )
    assert cohorts == [("2024-01", "L1", 2), ("2024-02", "L2", 1)]


def test_a_first_visit_before_the_history_start_is_not_new_elsewhere_either(
    chain: Chain,
) -> None:
    # A is first seen at L1 on 2024-01-01 (known at L1's history start, 2024-03-31). Their
    # first visit at L2 on 2024-05-01 is not a first visit chain-wide, so not new at L2, where
    # new clients count from its own first booking (2024-01-10) + 90 = 2024-04-09.
    chain.visit("A1", "2024-01-01", "A")
    chain.visit("X1", "2024-01-10", "X", location="L2", status="cancelled")
    chain.visit("A2", "2024-05-01", "A", location="L2")
    chain.build(Settings())

    assert history(chain, "L2")[2] == date(2024, 4, 9)
    assert chain.rows("select sum(new_clients) from fct_location_days") == [(0,)]
    assert chain.rows("select count(*) from rpt_retention") == [(0,)]


def test_rebooking_is_unknown_where_the_source_never_says_when_bookings_were_made(
    chain: Chain,
) -> None:
    day = "2024-03-04"
    # 'native' records created_at (most of its bookings have one); 'acuity' never does.
    # P: a native visit, then a native booking made that day for later: rebooked
    chain.visit("P1", day, "P")
    chain.visit("P2", "2024-03-18", "P", status="booked", created_at=f"{day} 11:30")
    # Q: a native visit whose later booking comes from acuity, which cannot say when it was
    # made (it may have been that day): unknown
    chain.visit("Q1", day, "Q")
    chain.visit("Q2", "2024-03-20", "Q", source="acuity", status="booked", created_at=None)
    # R: an acuity visit, rebooked the same day through native: still unknown, since every
    # booking of a source that never records created_at has an unknown rebooking
    chain.visit("R1", day, "R", source="acuity", created_at=None)
    chain.visit("R2", "2024-03-21", "R", status="booked", created_at=f"{day} 12:00")
    # S: a native visit; the later native booking has no created_at, but native records it
    # (P2, R2 and the visits have one), so the empty cell is not "made that day": not rebooked
    chain.visit("S1", day, "S")
    chain.visit("S2", "2024-03-22", "S", status="booked", created_at=None)
    # T: an acuity visit with no later booking at all: unknown as well
    chain.visit("T1", day, "T", source="acuity", created_at=None)
    chain.build(Settings(new_client_lookback_days=0))

    rebooked = dict(chain.rows("select booking_id, is_rebooked from fct_bookings"))
    assert rebooked == {
        "P1": True,
        "P2": None,  # not completed
        "Q1": None,
        "Q2": None,
        "R1": None,
        "R2": None,
        "S1": False,
        "S2": None,
        "T1": None,
    }
    row = chain.row("fct_location_days", date=day)
    # 5 completed visits on the day; known answers: P1 (yes) and S1 (no): rate 1 / 2
    assert (row["completed"], row["rebooked_visits"], row["rebooking_known_visits"]) == (5, 1, 2)
    assert row["rebooking_rate"] == pytest.approx(1 / 2)


def test_rebooking_rate_is_empty_when_no_visit_can_tell(chain: Chain) -> None:
    # A studio on a calendar export: no booking says when it was made. Two visits, one of them
    # followed by another booking: neither answer is known, so the rate is empty, not 0 %.
    day = "2024-03-04"
    chain.visit("U1", day, "U", source="calendar", created_at=None)
    chain.visit("U2", "2024-03-11", "U", source="calendar", status="booked", created_at=None)
    chain.visit("V1", day, "V", source="calendar", created_at=None)
    chain.build(Settings(new_client_lookback_days=0))

    row = chain.row("fct_location_days", date=day)
    assert (row["completed"], row["rebooked_visits"], row["rebooking_known_visits"]) == (2, 0, 0)
    assert row["rebooking_rate"] is None


def test_revenue_is_empty_without_prices_never_zero(chain: Chain) -> None:
    chain.room("R1", date="2024-03-04")  # 09:00-17:00: 8 available room hours a day
    chain.room("R1", date="2024-03-05")
    chain.room("R1", date="2024-03-06")
    # 03-04: two completed visits without a price: revenue and RevPATH empty
    chain.visit("A1", "2024-03-04", "A", price=None)
    chain.booking("B1", "2024-03-04 12:00", "2024-03-04 13:00", client="B", price=None)
    # 03-05: one priced (90), one not: revenue is what is known, 90; RevPATH 90 / 8
    chain.visit("C1", "2024-03-05", "C", price=90.0)
    chain.booking("D1", "2024-03-05 12:00", "2024-03-05 13:00", client="D", price=None)
    # 03-06: a known price of 0 (a free visit) is revenue 0, not empty; a priced no-show
    # is no revenue
    chain.visit("E1", "2024-03-06", "E", price=0.0)
    chain.booking(
        "F1", "2024-03-06 12:00", "2024-03-06 13:00", client="F", price=80.0, status="no_show"
    )
    chain.build(Settings(new_client_lookback_days=0))

    days = {
        str(day): (revenue, revpath)
        for day, revenue, revpath in chain.rows(
            "select date, revenue, revpath from fct_location_days order by date"
        )
    }
    assert days["2024-03-04"] == (None, None)
    assert days["2024-03-05"][0] == 90
    assert days["2024-03-05"][1] == pytest.approx(90 / 8)
    assert days["2024-03-06"] == (0, 0)
    prices = dict(chain.rows("select booking_id, price from fct_bookings"))
    assert prices["A1"] is None and prices["D1"] is None


def test_an_export_without_a_price_column_loads_empty_prices(tmp_path: Path) -> None:
    # A native bookings export with no price column: every price is unknown (NULL, never 0),
    # so the day's revenue is empty.
    export = tmp_path / "bookings.csv"
    export.write_text(
        "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status\n"
        "B1,L1,T1,C1,Swedish 60,2024-03-04 10:00,2024-03-04 11:00,completed\n"
        "B2,L1,T1,C2,Swedish 60,2024-03-04 12:00,2024-03-04 13:00,completed\n"
    )
    db = tmp_path / "studio.duckdb"
    results = load_files(db, [export])
    assert [r.outcome for r in results] == ["loaded"]
    with duckdb.connect(str(db), read_only=True) as con:
        prices = con.execute("select price from fct_bookings order by booking_id").fetchall()
        day = con.execute(
            "select completed, revenue, revpath from fct_location_days where date = '2024-03-04'"
        ).fetchall()
    assert prices == [(None,), (None,)]
    assert day == [(2, None, None)]


def test_return_by_first_therapist_counts_new_clients_only(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Clients page's return by first therapist and service is a cohort view too: A (first
    # seen 2024-01-01, the data's start, back on 2024-01-10) is known at history start
    # (2024-03-31) and left out; C (2024-04-01, back on 2024-04-20) is the one new client.
    # As of 2024-07-01 both 30-day windows have closed: 1 eligible, 1 returned.
    chain.visit("A1", "2024-01-01", "A")
    chain.visit("A2", "2024-01-10", "A")
    chain.visit("C1", "2024-04-01", "C")
    chain.visit("C2", "2024-04-20", "C")
    chain.visit("Z1", "2024-07-01", "A")
    chain.build(Settings())
    chain.con.close()
    monkeypatch.setenv("STUDIO_OPS_DB", str(tmp_path / "studio.duckdb"))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    try:
        by_therapist = clients_queries.retention_by_first(
            ("L1",), date(2024, 1, 1), date(2024, 7, 1), "therapist", 30
        )
    finally:
        st.cache_data.clear()
    rows = by_therapist[["first_by", "new_clients", "eligible", "returned"]]
    assert rows.values.tolist() == [["T1", 1, 1, 1]]


@pytest.mark.parametrize(("value", "limit"), [(36_501, "36,500"), (100_000_000_000, "36,500")])
def test_a_lookback_past_any_calendar_is_refused_in_one_line(
    tmp_path: Path, value: int, limit: str
) -> None:
    # A lookback of more than 100 years (36,500 days) would put new_clients_from past any
    # calendar the pages can show (year 5,477,838 for 2,000,000,000 days), and one past the
    # warehouse's whole numbers (2,147,483,647) stopped the load with a database error. The
    # settings file is refused in one line naming the setting and its limit; nothing changes.
    db = tmp_path / "studio.duckdb"
    export = tmp_path / "bookings.csv"
    export.write_text(
        "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status\n"
        "B1,L1,T1,C1,Swedish 60,2024-03-04 10:00,2024-03-04 11:00,completed\n"
    )
    assert run_cli("init", "--db", str(db)).returncode == 0
    before = fingerprint(db)
    settings = tmp_path / "studio-ops.toml"
    settings.write_text(f"new_client_lookback_days = {value}\n")
    run = run_cli("load", str(export), "--db", str(db), env={SETTINGS_ENV: str(settings)})
    assert run.returncode != 0
    assert run.lines == [
        f"studio-ops: {settings}: new_client_lookback_days must be a whole number from 0 to "
        f"{limit}, got {value}"
    ]
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(db) == before
