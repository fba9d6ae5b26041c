"""Marts (METRICS.md): one test per rule, on hand-made raw rows in a real DuckDB file.

Every test inserts a few raw rows straight into the raw tables, runs build_marts and compares
with numbers worked out by hand (the comment beside each expectation says how). The day is
Monday 2024-03-04 unless a test says otherwise; rooms open 09:00-17:00 by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.metrics import load_dictionary, metric
from pipelines.settings import Settings
from pipelines.warehouse.build import build_marts, check_marts
from pipelines.warehouse.store import DataQualityError, connect, migrate

DAY = "2024-03-04"
LONG_AGO = "2024-01-01 08:00"  # a created_at that never triggers the same-day rebooking rule


class Chain:
    """A tiny studio chain written row by row into the raw tables of a real warehouse file."""

    def __init__(self, path: Path) -> None:
        self.con = connect(path)
        migrate(self.con)
        self._line = 0

    def _next_line(self) -> int:
        self._line += 1
        return self._line

    def room(
        self,
        room_id: str = "R1",
        *,
        date: str = DAY,
        opens: str = "09:00",
        closes: str = "17:00",
        has_bars: bool = True,
        blocked: int = 0,
        location: str = "L1",
        name: str | None = None,
        load_id: int = 1,
    ) -> None:
        self.con.execute(
            "insert into raw_rooms values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                date,
                location,
                room_id,
                name,
                has_bars,
                opens,
                closes,
                blocked,
                load_id,
                self._next_line(),
            ],
        )

    def shift(
        self,
        start: str,
        end: str,
        *,
        therapist: str = "T1",
        date: str = DAY,
        break_minutes: int = 0,
        bar_trained: bool = True,
        location: str = "L1",
    ) -> None:
        self.con.execute(
            "insert into raw_therapist_shifts values (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            [
                date,
                location,
                therapist,
                None,
                bar_trained,
                start,
                end,
                break_minutes,
                self._next_line(),
            ],
        )

    def booking(
        self,
        booking_id: str,
        start: str,
        end: str,
        *,
        room: str | None = "R1",
        therapist: str = "T1",
        client: str = "C1",
        service: str = "Ashiatsu 60",
        uses_bars: bool | None = None,
        status: str = "completed",
        created_at: str | None = LONG_AGO,
        cancelled_at: str | None = None,
        price: float | None = 100.0,
        source: str = "native",
        location: str = "L1",
        load_id: int = 1,
    ) -> None:
        """Add a booking; start and end are 'HH:MM' on DAY or full 'YYYY-MM-DD HH:MM' stamps."""
        self.con.execute(
            # columns named: raw_bookings has more (client_ref) than these hand-made rows fill
            "insert into raw_bookings (source, booking_id, location_id, room_id, therapist_id,"
            " client_id, service, uses_bars, status, status_word, price, start_at, end_at,"
            " created_at, cancelled_at, load_id, line_number)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source,
                booking_id,
                location,
                room,
                therapist,
                client,
                service,
                uses_bars,
                status,
                status,
                price,
                _stamp(start),
                _stamp(end),
                created_at,
                cancelled_at,
                load_id,
                self._next_line(),
            ],
        )

    def visit(self, booking_id: str, day: str, client: str, **extra: object) -> None:
        """Add a one-hour booking (10:00-11:00) of `client` on DAY ('YYYY-MM-DD')."""
        self.booking(booking_id, f"{day} 10:00", f"{day} 11:00", client=client, **extra)

    def build(self, settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
        # new_client_lookback_days 0: every first visit is a new client from the first
        # booking on. These chains start the day their rules are tested; the history start
        # (the default 90-day lookback) has its own tests in test_history_start.py.
        build_marts(self.con, settings or Settings(new_client_lookback_days=0))
        return self.con

    def row(self, table: str, **keys: object) -> dict[str, object]:
        """The one row of `table` matching `keys` (column = value), as a dict."""
        where = " and ".join(f"{column} = ?" for column in keys) or "true"
        cursor = self.con.execute(f"select * from {table} where {where}", list(keys.values()))
        rows = cursor.fetchall()
        assert len(rows) == 1, f"{table} {keys}: {len(rows)} rows"
        names = [d[0] for d in cursor.description]
        return dict(zip(names, rows[0], strict=True))

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()


def _stamp(value: str) -> str:
    return value if len(value) > 5 else f"{DAY} {value}"


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    """An empty warehouse file to fill with hand-made raw rows (closed after the test)."""
    studio = Chain(tmp_path / "studio.duckdb")
    yield studio
    studio.con.close()


def issues(studio: Chain, kind: str) -> list[tuple]:
    return studio.rows(
        "select entity_id, date, detail from dq_issues where kind = ? order by entity_id", [kind]
    )


# --- rooms -------------------------------------------------------------------------------------


def test_overlapping_bookings_in_one_room_count_once(chain: Chain) -> None:
    chain.room("R1")
    chain.booking("B1", "09:00", "10:00", therapist="T1")
    chain.booking("B2", "09:30", "10:30", therapist="T2")
    chain.booking("B3", "10:30", "11:00", therapist="T1")  # touches B2's end: no overlap
    chain.build()

    room = chain.row("fct_room_days", room_id="R1")
    # union of 09:00-10:30 and 10:30-11:00 = 120 minutes, not 60 + 60 + 30 = 150
    assert room["occupied_minutes"] == 120
    assert room["open_minutes"] == 480
    assert room["utilization"] == pytest.approx(120 / 480)
    found = issues(chain, "room_double_booked")
    assert [(entity, str(date)) for entity, date, _ in found] == [("R1", DAY)]
    assert "B2" in found[0][2]


def test_booking_running_past_closing_counts_only_opening_hours(chain: Chain) -> None:
    chain.room("R1", closes="17:00")
    chain.booking("B1", "16:30", "17:30")
    chain.booking("B2", "2024-03-05 10:00", "2024-03-05 11:00")  # no calendar row that day
    chain.build()

    # 16:30-17:00 is inside opening hours, 17:00-17:30 is not
    assert chain.row("fct_room_days", room_id="R1")["occupied_minutes"] == 30
    found = issues(chain, "booking_outside_room_calendar")
    assert [entity for entity, _, _ in found] == ["B1", "B2"]
    assert "30 of 60 minutes" in found[0][2]
    assert "no calendar row" in found[1][2]
    # the booking still counts in full for the therapist
    assert chain.row("fct_therapist_days", date=DAY)["booked_minutes"] == 60


def test_blocked_minutes_reduce_availability_and_conflicts_are_reported(chain: Chain) -> None:
    chain.room("R1", blocked=60)
    chain.room("R2", opens="09:00", closes="11:00", blocked=90)
    chain.booking("B1", "09:00", "10:00", room="R1", therapist="T1")
    chain.booking("B2", "09:00", "10:00", room="R2", therapist="T2")
    chain.build()

    r1 = chain.row("fct_room_days", room_id="R1")
    # 480 open - 60 blocked = 420 available; 60 occupied
    assert (r1["open_minutes"], r1["blocked_minutes"], r1["available_minutes"]) == (480, 60, 420)
    assert r1["utilization"] == pytest.approx(60 / 420)
    r2 = chain.row("fct_room_days", room_id="R2")
    # 120 open - 90 blocked = 30 available, 60 occupied: utilization 2.0, not capped
    assert r2["available_minutes"] == 30
    assert r2["utilization"] == pytest.approx(2.0)
    assert [entity for entity, _, _ in issues(chain, "blocked_time_conflict")] == ["R2"]
    day = chain.row("fct_location_days", location_id="L1")
    # 420 + 30 available, 60 + 60 occupied
    assert (day["available_minutes"], day["occupied_minutes"]) == (450, 120)
    assert day["room_utilization"] == pytest.approx(120 / 450)


# --- statuses ----------------------------------------------------------------------------------


def test_cancellations_late_by_word_late_by_time_and_early(chain: Chain) -> None:
    chain.room("R1")
    chain.booking("WORD", "09:00", "10:00", status="late_cancelled", client="C1")
    # cancelled 2 hours before the start: inside the 24 h window, so late
    chain.booking(
        "TIME", "10:00", "11:00", status="cancelled", cancelled_at=f"{DAY} 08:00", client="C2"
    )
    # cancelled 48 hours before: early
    chain.booking(
        "EARLY", "11:00", "12:00", status="cancelled", cancelled_at="2024-03-02 11:00", client="C3"
    )
    # exactly 24 hours before is not "less than 24 hours": early
    chain.booking(
        "EDGE", "12:00", "13:00", status="cancelled", cancelled_at="2024-03-03 12:00", client="C4"
    )
    chain.booking("KEPT", "13:00", "14:00", client="C5")
    chain.build()

    flags = dict(chain.rows("select booking_id, is_late_cancel from fct_bookings"))
    assert flags == {"WORD": True, "TIME": True, "EARLY": False, "EDGE": False, "KEPT": False}
    held = dict(chain.rows("select booking_id, is_held from fct_bookings"))
    assert held == {"WORD": False, "TIME": False, "EARLY": False, "EDGE": False, "KEPT": True}
    # cancelled bookings free the slot: only KEPT occupies the room
    assert chain.row("fct_room_days", room_id="R1")["occupied_minutes"] == 60
    day = chain.row("fct_location_days", location_id="L1")
    # 5 bookings, 4 cancellations (cancelled + late_cancelled), 2 of them late
    assert (day["bookings"], day["cancellations"], day["late_cancellations"]) == (5, 4, 2)
    assert day["cancellation_rate"] == pytest.approx(4 / 5)


def test_late_cancel_hours_setting_moves_the_line(chain: Chain) -> None:
    chain.booking("B1", "10:00", "11:00", status="cancelled", cancelled_at="2024-03-03 12:00")
    # cancelled 22 hours before: late under 24 h, early under 12 h
    chain.build(Settings(late_cancel_hours=24))
    assert chain.row("fct_bookings", booking_id="B1")["is_late_cancel"] is True
    chain.build(Settings(late_cancel_hours=12))
    assert chain.row("fct_bookings", booking_id="B1")["is_late_cancel"] is False


def test_no_show_holds_room_and_therapist_but_is_not_hands_on(chain: Chain) -> None:
    chain.room("R1")
    chain.shift("09:00", "17:00")
    chain.booking("NS", "10:00", "11:00", status="no_show")
    chain.booking("OK", "12:00", "13:00")
    chain.build()

    assert chain.row("fct_room_days", room_id="R1")["occupied_minutes"] == 120
    therapist = chain.row("fct_therapist_days", therapist_id="T1")
    # held: both bookings (120 booked minutes); worked: only OK (1 session, 60 minutes)
    assert therapist["booked_minutes"] == 120
    assert (therapist["sessions"], therapist["hands_on_minutes"]) == (1, 60)
    day = chain.row("fct_location_days", location_id="L1")
    # no_show_rate = 1 no-show / (1 completed + 1 no-show)
    assert day["no_show_rate"] == pytest.approx(0.5)
    assert day["revenue"] == 100  # completed only


# --- therapists --------------------------------------------------------------------------------


def test_two_shifts_with_a_break(chain: Chain) -> None:
    chain.shift("09:00", "13:00")
    chain.shift("14:00", "18:00", break_minutes=30)
    chain.booking("B1", "12:30", "14:30", room=None)
    chain.build()

    therapist = chain.row("fct_therapist_days", therapist_id="T1")
    # 240 + (240 - 30) = 450 scheduled; 120 booked, of which 13:00-14:00 lies between shifts
    assert therapist["scheduled_minutes"] == 450
    assert therapist["booked_minutes"] == 120
    assert therapist["outside_shift_minutes"] == 60
    assert therapist["utilization"] == pytest.approx(120 / 450)
    assert [entity for entity, _, _ in issues(chain, "booking_outside_shift")] == ["B1"]


def test_booking_outside_any_shift(chain: Chain) -> None:
    chain.shift("09:00", "12:00", therapist="T1")
    chain.booking("B1", "10:00", "11:00", therapist="T2", room=None)  # T2 has no shift
    chain.booking("B2", "10:00", "11:00", therapist="T1", room=None)  # inside T1's shift
    chain.build()

    t2 = chain.row("fct_therapist_days", therapist_id="T2")
    assert (t2["scheduled_minutes"], t2["booked_minutes"], t2["outside_shift_minutes"]) == (
        0,
        60,
        60,
    )
    assert t2["utilization"] is None  # 0 scheduled minutes: NULL, not 0
    t1 = chain.row("fct_therapist_days", therapist_id="T1")
    assert (t1["booked_minutes"], t1["outside_shift_minutes"]) == (60, 0)
    assert [entity for entity, _, _ in issues(chain, "booking_outside_shift")] == ["B1"]


def test_therapist_double_booking_counts_once(chain: Chain) -> None:
    chain.shift("09:00", "17:00")
    chain.booking("B1", "09:00", "10:00", room="R1")
    chain.booking("B2", "09:30", "10:30", room="R2")
    chain.build()

    therapist = chain.row("fct_therapist_days", therapist_id="T1")
    # booked = union 09:00-10:30 = 90; hands-on counts both sessions: 120
    assert (therapist["booked_minutes"], therapist["hands_on_minutes"]) == (90, 120)
    assert [entity for entity, _, _ in issues(chain, "therapist_double_booked")] == ["T1"]


def test_back_to_back_gaps_below_turnover(chain: Chain) -> None:
    chain.shift("08:00", "18:00")
    chain.booking("B1", "09:00", "10:00", room="R1")
    chain.booking("B2", "10:14", "11:14", room="R2")  # gap 14 = turnover - 1: counts
    chain.booking("B3", "11:29", "12:29", room="R1")  # gap 15 = turnover: does not count
    chain.booking("B4", "12:00", "13:00", room="R2")  # gap -29 (overlap): counts
    chain.booking("B5", "13:05", "14:00", room="R1", status="cancelled")  # not worked: ignored
    chain.booking("B6", "14:00", "15:00", room="R1", status="no_show")  # not worked: ignored
    chain.build(Settings(turnover_minutes=15))

    assert chain.row("fct_therapist_days", therapist_id="T1")["back_to_back_pairs"] == 2


def test_sixth_bar_session_in_a_day_raises_the_flag(chain: Chain) -> None:
    for therapist, sessions in (("T5", 5), ("T6", 6)):
        chain.shift("08:00", "20:00", therapist=therapist)
        for n in range(sessions):
            start = f"{8 + 2 * n:02d}:00"
            end = f"{9 + 2 * n:02d}:00"
            chain.booking(f"{therapist}-{n}", start, end, therapist=therapist, room=None)
    chain.booking("T5-swedish", "19:00", "19:30", therapist="T5", room=None, service="Swedish")
    chain.build(Settings(max_bar_sessions_per_day=5))

    t5 = chain.row("fct_therapist_days", therapist_id="T5")
    t6 = chain.row("fct_therapist_days", therapist_id="T6")
    # 5 bar sessions is at the limit (not over); the 6th is over. Swedish is not bar work.
    assert (t5["sessions"], t5["bar_sessions"], t5["over_bar_limit"]) == (6, 5, False)
    assert (t6["bar_sessions"], t6["over_bar_limit"]) == (6, True)


def test_hands_on_limit_and_weekly_load(chain: Chain) -> None:
    chain.booking("B1", "08:00", "14:01", room=None)  # 361 minutes: over 360
    chain.booking("B2", "2024-03-05 08:00", "2024-03-05 14:00", room=None)  # 360: at the limit
    chain.build(Settings(weekly_hands_on_hours_limit=12))

    assert chain.row("fct_therapist_days", date=DAY)["over_hands_on_limit"] is True
    assert chain.row("fct_therapist_days", date="2024-03-05")["over_hands_on_limit"] is False
    week = chain.row("fct_therapist_weeks", therapist_id="T1")
    # 361 + 360 = 721 minutes > 12 h = 720 minutes
    assert str(week["week_start"]) == DAY
    assert (week["hands_on_minutes"], week["over_weekly_limit"]) == (721, True)


# --- ceiling bars ------------------------------------------------------------------------------


def test_bar_service_in_non_bar_room_and_by_untrained_therapist(chain: Chain) -> None:
    chain.room("R1", has_bars=True)
    chain.room("R2", has_bars=False)
    chain.shift("09:00", "17:00", therapist="T1", bar_trained=True)
    chain.shift("09:00", "17:00", therapist="T2", bar_trained=False)
    chain.booking("B1", "09:00", "10:00", room="R2", therapist="T1")  # bars needed, room has none
    chain.booking("B2", "09:00", "10:00", room="R1", therapist="T2")  # untrained therapist
    chain.booking("B3", "11:00", "12:00", room="R2", therapist="T2", service="Swedish")  # fine
    chain.build()

    assert [entity for entity, _, _ in issues(chain, "bar_service_in_non_bar_room")] == ["B1"]
    assert [entity for entity, _, _ in issues(chain, "bar_session_by_untrained_therapist")] == [
        "B2"
    ]


def test_bar_keywords_decide_uses_bars_only_when_the_export_has_no_column(chain: Chain) -> None:
    chain.booking("KEYWORD", "09:00", "10:00", service="DEEP FEET flow")
    chain.booking("PLAIN", "10:00", "11:00", service="Swedish")
    chain.booking("SAYS_NO", "11:00", "12:00", service="Ashiatsu 60", uses_bars=False)
    chain.booking("SAYS_YES", "12:00", "13:00", service="Swedish", uses_bars=True)
    chain.build()

    flags = dict(chain.rows("select booking_id, uses_bars from fct_bookings"))
    assert flags == {"KEYWORD": True, "PLAIN": False, "SAYS_NO": False, "SAYS_YES": True}


def test_bar_room_sums_bar_utilization_and_bar_fit(chain: Chain) -> None:
    chain.room("R1", has_bars=True)
    chain.room("R2", has_bars=False)
    chain.booking("B1", "09:00", "10:00", room="R1", therapist="T1")  # bar work in a bar room
    chain.booking("B2", "10:00", "11:00", room="R1", therapist="T1", service="Swedish")
    chain.booking("B3", "09:00", "10:00", room="R2", therapist="T2", service="Swedish")
    chain.build()

    day = chain.row("fct_location_days", location_id="L1")
    assert (day["rooms"], day["bar_rooms"]) == (2, 1)
    # bar room R1: 480 available, 120 occupied, 60 of them bar work
    assert day["bar_room_available_minutes"] == 480
    assert day["bar_room_occupied_minutes"] == 120
    assert day["bar_room_bar_minutes"] == 60
    assert day["bar_utilization"] == pytest.approx(60 / 480)
    assert day["bar_fit"] == pytest.approx(60 / 120)
    assert chain.row("fct_room_days", room_id="R1")["bar_minutes"] == 60


def test_bar_rooms_full_minutes(chain: Chain) -> None:
    chain.room("R1", has_bars=True, opens="09:00", closes="17:00")
    chain.room("R2", has_bars=True, opens="09:00", closes="12:00")
    chain.room("R3", has_bars=False)
    chain.booking("B1", "09:00", "10:30", room="R1", therapist="T1")
    chain.booking("B2", "09:30", "10:00", room="R2", therapist="T2", service="Swedish")
    chain.booking("B3", "12:00", "13:00", room="R1", therapist="T1")
    chain.booking("B4", "09:00", "17:00", room="R3", therapist="T3", service="Swedish")
    chain.build()

    hours = {
        hour: (full, bar_available, room_available)
        for hour, full, bar_available, room_available in chain.rows(
            "select hour, bar_rooms_full_minutes, bar_room_available_minutes,"
            " room_available_minutes from fct_hourly_capacity"
        )
    }
    # 09h: both bar rooms occupied only 09:30-10:00 -> 30 full minutes
    # 10h: R1 busy until 10:30 but R2 is open and free -> 0
    # 12h: R2 has closed; R1 (the only open bar room) is busy 12:00-13:00 -> 60
    # 13h: R1 free -> 0. The non-bar room R3 never matters.
    assert {hour: full for hour, (full, _, _) in hours.items() if full} == {9: 30, 12: 60}
    assert hours[9][1:] == (120, 180)  # two bar rooms, three rooms open all hour
    assert hours[12][1:] == (60, 120)  # R2 closed at 12:00
    occupied = dict(chain.rows("select hour, room_occupied_minutes from fct_hourly_capacity"))
    # 09h: R1 60 + R2 30 + R3 60; 10h: R1 30 + R3 60
    assert (occupied[9], occupied[10]) == (150, 90)


def test_hourly_therapist_minutes(chain: Chain) -> None:
    chain.shift("09:00", "11:30", break_minutes=15)  # breaks have no clock position
    chain.booking("B1", "09:45", "10:15", room=None)
    chain.build()

    rows = chain.rows(
        "select hour, therapist_scheduled_minutes, therapist_booked_minutes"
        " from fct_hourly_capacity order by hour"
    )
    assert rows == [(9, 60, 15), (10, 60, 15), (11, 30, 0)]


# --- clients -----------------------------------------------------------------------------------


def test_first_visit_is_earliest_completed_with_ties_broken_by_booking_id(chain: Chain) -> None:
    chain.booking("A0", "2024-03-01 09:00", "2024-03-01 10:00", status="no_show")  # not completed
    chain.booking("B2", "09:00", "10:00", room="R1")
    chain.booking("B10", "09:00", "10:00", room="R2")  # same start: 'B10' < 'B2'
    chain.booking("B3", "2024-03-05 09:00", "2024-03-05 10:00")
    chain.build()

    firsts = dict(chain.rows("select booking_id, is_first_visit from fct_bookings"))
    assert firsts == {"A0": False, "B2": False, "B10": True, "B3": False}
    client = chain.row("dim_clients", client_id="C1")
    assert str(client["first_visit_date"]) == DAY
    assert client["completed_visits"] == 3
    assert str(client["last_visit_date"]) == "2024-03-05"
    assert chain.row("fct_location_days", date=DAY)["new_clients"] == 1


def test_second_visit_is_the_first_completed_day_after_the_first_visits_day(
    chain: Chain,
) -> None:
    # C1: first visit 4 March, a no-show on 6 March (not a visit), visits 8 and 11 March: 8 March
    chain.visit("C1-1", DAY, "C1")
    chain.visit("C1-2", "2024-03-06", "C1", status="no_show", room="R2")
    chain.visit("C1-3", "2024-03-11", "C1")
    chain.visit("C1-4", "2024-03-08", "C1")
    # C2: two visits on 4 March (10:00 and 14:00), then 9 March: 9 March, not 4 March
    chain.visit("C2-1", DAY, "C2", room="R2")
    chain.booking("C2-2", "14:00", "15:00", client="C2")
    chain.visit("C2-3", "2024-03-09", "C2")
    # C3: two visits on 4 March and none after: no second visit
    chain.visit("C3-1", DAY, "C3", room="R3")
    chain.booking("C3-2", "16:00", "17:00", client="C3")
    # C4: one visit: no second visit
    chain.visit("C4-1", "2024-03-05", "C4")
    chain.build()

    got = chain.rows(
        "select client_id, first_visit_date, second_visit_date, completed_visits,"
        " last_visit_date from dim_clients order by client_id"
    )
    assert [(c, str(f), s and str(s), n, str(last)) for c, f, s, n, last in got] == [
        ("C1", "2024-03-04", "2024-03-08", 3, "2024-03-11"),
        ("C2", "2024-03-04", "2024-03-09", 3, "2024-03-09"),
        ("C3", "2024-03-04", None, 2, "2024-03-04"),
        ("C4", "2024-03-05", None, 1, "2024-03-05"),
    ]


def test_rebooking_by_the_same_day_rule(chain: Chain) -> None:
    # C1 books the next visit on the day of this one, after it: rebooked
    chain.booking("C1-V1", "10:00", "11:00", client="C1")
    chain.booking("C1-V2", "2024-03-18 10:00", "2024-03-18 11:00", client="C1",
                  status="booked", created_at=f"{DAY} 11:05")  # fmt: skip
    # C2's next booking was made the day before: not rebooked (and it is cancelled: any status)
    chain.booking("C2-V1", "12:00", "13:00", client="C2")
    chain.booking("C2-V2", "2024-03-18 12:00", "2024-03-18 13:00", client="C2",
                  status="cancelled", created_at="2024-03-03 18:00")  # fmt: skip
    # C3 booked that day, but for an earlier slot the same day: not after this visit's end
    chain.booking("C3-V1", "14:00", "15:00", client="C3")
    chain.booking("C3-V0", "08:00", "09:00", client="C3", room="R2", created_at=f"{DAY} 07:00")
    # C4's later booking comes from a source without created_at: unknown
    chain.booking("C4-V1", "15:00", "16:00", client="C4")
    chain.booking("C4-V2", "2024-03-20 10:00", "2024-03-20 11:00", client="C4",
                  source="acuity", created_at=None)  # fmt: skip
    # C5 a cancelled booking created the same day counts ("of any status")
    chain.booking("C5-V1", "16:00", "17:00", client="C5")
    chain.booking("C5-V2", "2024-03-25 10:00", "2024-03-25 11:00", client="C5",
                  status="cancelled", created_at=f"{DAY} 17:30")  # fmt: skip
    chain.build()

    rebooked = dict(chain.rows("select booking_id, is_rebooked from fct_bookings"))
    assert rebooked["C1-V1"] is True
    assert rebooked["C2-V1"] is False
    assert rebooked["C3-V1"] is False
    assert rebooked["C4-V1"] is None
    assert rebooked["C5-V1"] is True
    assert rebooked["C1-V2"] is None and rebooked["C2-V2"] is None  # not completed
    # C3-V0 completed at 08:00 and C3-V1 (created long ago) starts after it, but was not
    # created on DAY: not rebooked
    assert rebooked["C3-V0"] is False
    day = chain.row("fct_location_days", date=DAY)
    # 6 completed visits on DAY, 5 with a known answer (C4-V1 unknown), 2 rebooked
    assert (day["completed"], day["rebooked_visits"]) == (6, 2)
    assert day["rebooking_rate"] == pytest.approx(2 / 5)


def test_retention_windows_close_on_the_as_of_date(chain: Chain) -> None:
    # A: first visit Jan 1, back on Jan 31 (= first + 30, the as-of date): eligible, returned
    chain.booking("A1", "2024-01-01 10:00", "2024-01-01 11:00", client="A")
    chain.booking("A2", "2024-01-31 10:00", "2024-01-31 11:00", client="A")
    # B: first visit Jan 2: Jan 2 + 30 = Feb 1 is after the as-of date -> not eligible for 30
    chain.booking("B1", "2024-01-02 10:00", "2024-01-02 11:00", client="B", room="R2")
    # C: a second visit on the first-visit day is not a return
    chain.booking("C1", "2024-01-01 12:00", "2024-01-01 13:00", client="C")
    chain.booking("C2", "2024-01-01 15:00", "2024-01-01 16:00", client="C")
    # E: Nov 1 cohort, back on Dec 2 (= first + 31): not within 30, within 60 and 90
    chain.booking("E1", "2023-11-01 10:00", "2023-11-01 11:00", client="E")
    chain.booking("E2", "2023-12-02 10:00", "2023-12-02 11:00", client="E")
    # a booked future visit does not move the as-of date
    chain.booking("A3", "2024-02-10 10:00", "2024-02-10 11:00", client="A", status="booked")
    chain.build()

    (as_of,) = chain.rows("select as_of_date from rpt_as_of")[0]
    assert str(as_of) == "2024-01-31"  # latest completed / no-show booking_date
    jan = chain.row("rpt_retention", cohort_month="2024-01-01")
    # new: A, B, C. eligible_30: A (Jan 31 <= Jan 31) and C; returned_30: A only
    assert jan["new_clients"] == 3
    assert (jan["eligible_30"], jan["returned_30"]) == (2, 1)
    assert (jan["eligible_60"], jan["returned_60"]) == (0, 0)  # Jan 1 + 60 > Jan 31
    nov = chain.row("rpt_retention", cohort_month="2023-11-01")
    # Nov 1 + 30 = Dec 1 < Dec 2: not returned in 30; Nov 1 + 90 = Jan 30 <= Jan 31: eligible
    assert (nov["eligible_30"], nov["returned_30"]) == (1, 0)
    assert (nov["eligible_60"], nov["returned_60"]) == (1, 1)
    assert (nov["eligible_90"], nov["returned_90"]) == (1, 1)
    client_a = chain.row("dim_clients", client_id="A")
    assert str(client_a["next_booking_at"]) == "2024-02-10 10:00:00"
    assert client_a["completed_visits"] == 2


def test_retention_columns_follow_the_configured_windows(chain: Chain) -> None:
    chain.booking("A1", "2024-01-01 10:00", "2024-01-01 11:00", client="A")
    chain.booking("A2", "2024-01-08 10:00", "2024-01-08 11:00", client="A")
    chain.build(Settings(retention_windows_days=(7, 120), new_client_lookback_days=0))

    columns = [c for (c,) in chain.rows("select column_name from (describe rpt_retention)")]
    assert columns == [
        "cohort_month",
        "location_id",
        "new_clients",
        "eligible_7",
        "returned_7",
        "eligible_120",
        "returned_120",
    ]
    jan = chain.row("rpt_retention", cohort_month="2024-01-01")
    # as of Jan 8: Jan 1 + 7 = Jan 8 is eligible and A came back that day
    assert (jan["eligible_7"], jan["returned_7"], jan["eligible_120"]) == (1, 1, 0)


def test_cohort_activity_counts_each_client_once_per_later_calendar_month(chain: Chain) -> None:
    # A: first visit at L1 on Jan 5; Jan 20 is the same month; Feb 3 (at L2) and Feb 25 are
    # month 1, counted once and under A's first location L1; a no-show in March is no visit
    chain.visit("A1", "2024-01-05", "A")
    chain.visit("A2", "2024-01-20", "A")
    chain.visit("A3", "2024-02-03", "A", location="L2")
    chain.visit("A4", "2024-02-25", "A")
    chain.visit("A5", "2024-03-10", "A", status="no_show")
    chain.visit("A6", "2024-04-01", "A")
    # B: first visit Jan 31, back Mar 1: 30 days later but two calendar months; a booked
    # visit in May is not a visit yet
    chain.visit("B1", "2024-01-31", "B")
    chain.visit("B2", "2024-03-01", "B")
    chain.visit("B3", "2024-05-02", "B", status="booked")
    # C: first visit at L2; a cancelled February booking is no visit, a completed one is
    chain.visit("C1", "2024-01-15", "C", location="L2")
    chain.visit("C2", "2024-02-10", "C", location="L2", status="cancelled")
    chain.visit("C3", "2024-02-28", "C", location="L2")
    # D: a no-show before the first completed visit (Feb 1) does not make a January client;
    # back the next January: month 11 across the year end
    chain.visit("D0", "2024-01-10", "D", status="no_show")
    chain.visit("D1", "2024-02-01", "D")
    chain.visit("D2", "2025-01-15", "D")
    # E: only cancelled: no cohort
    chain.visit("E1", "2024-01-12", "E", status="cancelled")
    chain.build()

    cells = chain.rows(
        "select strftime(cohort_month, '%Y-%m'), location_id, months_after, active_clients "
        "from rpt_cohort_activity order by all"
    )
    assert cells == [
        ("2024-01", "L1", 0, 2),  # A and B: months_after 0 is the cohort itself
        ("2024-01", "L1", 1, 1),  # A in February (twice, once at L2)
        ("2024-01", "L1", 2, 1),  # B on Mar 1 (A's March no-show does not count)
        ("2024-01", "L1", 3, 1),  # A in April
        ("2024-01", "L2", 0, 1),  # C
        ("2024-01", "L2", 1, 1),  # C on Feb 28 (Feb 10 was cancelled)
        ("2024-02", "L1", 0, 1),  # D
        ("2024-02", "L1", 11, 1),  # D in January 2025: 11 months after February 2024
    ]
    # months_after 0 is the cohort's size: rpt_retention's new clients of the same cohorts
    assert chain.rows(
        "select strftime(cohort_month, '%Y-%m'), location_id, new_clients from rpt_retention "
        "order by all"
    ) == [("2024-01", "L1", 2), ("2024-01", "L2", 1), ("2024-02", "L1", 1)]


def test_win_back_counts_clients_with_nothing_booked_by_first_location_and_last_visit(
    chain: Chain,
) -> None:
    # E's no-show on Feb 1 is the latest closed booking: the as-of date
    chain.visit("E1", "2024-01-20", "E")
    chain.visit("E2", "2024-02-01", "E", status="no_show")
    # A: first visit and last visit at L1, nothing booked
    chain.visit("A1", "2024-01-05", "A")
    chain.visit("A2", "2024-01-20", "A")
    # B: booked for Mar 1 (after the as-of date): not to win back
    chain.visit("B1", "2024-01-10", "B")
    chain.visit("B2", "2024-01-20", "B")
    chain.visit("B3", "2024-03-01", "B", status="booked")
    # C: first visit at L2, last seen at L1: counted under L2
    chain.visit("C1", "2024-01-02", "C", location="L2")
    chain.visit("C2", "2024-01-20", "C")
    # D: a booking still 'booked' on Jan 15, before the as-of date, is no next booking
    chain.visit("D1", "2024-01-03", "D")
    chain.visit("D2", "2024-01-15", "D", status="booked")
    chain.build()

    # days since the last visit count to the as-of date, Feb 1: Jan 3 is 29 days before
    # (28 left in January + 1), Jan 20 is 12 days before (11 + 1)
    assert chain.rows("select * from rpt_win_back order by all") == [
        ("L1", date(2024, 1, 3), 1, 29),  # D
        ("L1", date(2024, 1, 20), 2, 12),  # A and E (B has a booking ahead)
        ("L2", date(2024, 1, 20), 1, 12),  # C
    ]


def test_as_of_date_is_the_latest_completed_or_no_show_day(chain: Chain) -> None:
    chain.booking("A1", "2024-01-05 10:00", "2024-01-05 11:00", client="A")
    chain.booking("A2", "2024-01-09 10:00", "2024-01-09 11:00", client="A", status="no_show",
                  location="L2")  # fmt: skip
    chain.booking("A3", "2024-01-12 10:00", "2024-01-12 11:00", client="A", status="cancelled")
    chain.booking("A4", "2024-01-20 10:00", "2024-01-20 11:00", client="A", status="booked")
    chain.build()
    # the no-show on Jan 9 (at L2) is the latest closed booking; cancelled and booked are not
    assert chain.rows("select as_of_date from rpt_as_of") == [(date(2024, 1, 9),)]


# --- whole days --------------------------------------------------------------------------------


def test_zero_denominators_are_null(chain: Chain) -> None:
    chain.room("R1", blocked=480, has_bars=False)  # fully blocked: 0 available
    chain.shift("09:00", "17:00")  # a shift and no booking
    chain.build()

    room = chain.row("fct_room_days", room_id="R1")
    assert room["available_minutes"] == 0 and room["utilization"] is None
    assert chain.row("fct_therapist_days", therapist_id="T1")["utilization"] == 0
    day = chain.row("fct_location_days", location_id="L1")
    for rate in (
        "room_utilization",
        "bar_utilization",
        "bar_fit",
        "no_show_rate",
        "cancellation_rate",
        "revpath",
        "rebooking_rate",
    ):
        assert day[rate] is None, rate
    assert day["therapist_utilization"] == 0
    # no completed booking, so no known price: revenue is empty (NULL), not 0 (METRICS.md)
    assert (day["bookings"], day["revenue"], day["new_clients"]) == (0, None, 0)


def test_location_days_add_up_and_revpath(chain: Chain) -> None:
    chain.room("R1", blocked=60)  # 420 available
    chain.room("R2")  # 480 available
    chain.shift("09:00", "17:00", therapist="T1")
    chain.booking("B1", "09:00", "10:00", room="R1", price=120)
    chain.booking("B2", "09:00", "10:00", room="R2", therapist="T2", client="C2", price=80)
    chain.booking("B3", "11:00", "12:00", room="R2", therapist="T2", client="C3", status="no_show")
    chain.booking("B4", "2024-03-05 09:00", "2024-03-05 10:00", client="C4")  # another day
    chain.build()

    day = chain.row("fct_location_days", date=DAY)
    assert (day["rooms"], day["available_minutes"], day["occupied_minutes"]) == (2, 900, 180)
    assert (day["scheduled_minutes"], day["booked_minutes"]) == (480, 180)
    assert (day["bookings"], day["completed"], day["no_shows"], day["new_clients"]) == (3, 2, 1, 2)
    # revenue 120 + 80 = 200 over 900 / 60 = 15 available room hours
    assert day["revenue"] == 200
    assert day["revpath"] == pytest.approx(200 / 15)
    assert day["weekday"] == 1  # ISO Monday
    # the next day has a booking but no calendar: still a row, with 0 rooms
    next_day = chain.row("fct_location_days", date="2024-03-05")
    assert (next_day["rooms"], next_day["bookings"]) == (0, 1)


def test_changing_settings_changes_the_marts_after_rebuild(chain: Chain) -> None:
    chain.shift("08:00", "20:00")
    for n, (start, end) in enumerate((("09:00", "10:00"), ("10:10", "11:10"), ("11:20", "12:20"))):
        chain.booking(f"B{n}", start, end, room=None)
    chain.build(Settings(turnover_minutes=15, max_bar_sessions_per_day=5))
    before = chain.row("fct_therapist_days", therapist_id="T1")
    # gaps of 10 minutes: both pairs are below 15, none below 5; 3 bar sessions
    assert (before["back_to_back_pairs"], before["over_bar_limit"]) == (2, False)

    chain.build(Settings(turnover_minutes=5, max_bar_sessions_per_day=2))
    after = chain.row("fct_therapist_days", therapist_id="T1")
    assert (after["back_to_back_pairs"], after["over_bar_limit"]) == (0, True)


def test_a_key_twice_in_the_raw_layer_stops_the_build(chain: Chain) -> None:
    # The loader replaces a key's row (test_load covers "the later load wins"), so staging
    # does not de-duplicate; raw rows written around the loader are caught before publishing.
    chain.booking("B1", "09:00", "10:00", status="booked", load_id=1)
    chain.booking("B1", "09:00", "10:00", status="completed", load_id=2)
    with pytest.raises(DataQualityError, match="unique_keys: .*native/B1"):
        chain.build()


def test_a_shift_twice_in_the_raw_layer_stops_the_build(chain: Chain) -> None:
    # no mart's grain repeats a shift's key: the check reads the raw key itself
    chain.shift("09:00", "17:00")
    chain.shift("09:00", "17:00")
    with pytest.raises(DataQualityError, match=f"unique_keys: .*L1/T1/{DAY}/09:00"):
        chain.build()


def test_locations_come_from_every_export(chain: Chain) -> None:
    chain.booking("B1", "09:00", "10:00")
    chain.room("R1", name="Garden room")
    chain.shift("09:00", "17:00", location="L2")
    chain.build()

    assert chain.row("dim_rooms", room_id="R1")["room_name"] == "Garden room"
    locations = chain.rows("select location_id, name, rooms from dim_locations order by 1")
    # raw_locations is empty: names fall back to ids; L2 only has a shift
    assert locations == [("L1", "L1", 1), ("L2", "L2", 0)]


def test_booking_across_midnight_splits_therapist_time_by_day(chain: Chain) -> None:
    chain.booking("LATE", "23:30", "2024-03-05 00:30", room=None)
    chain.build()

    booked = dict(chain.rows("select date::varchar, booked_minutes from fct_therapist_days"))
    assert booked == {DAY: 30, "2024-03-05": 30}
    assert chain.row("fct_therapist_days", date=DAY)["hands_on_minutes"] == 60


def test_checks_stop_a_build_whose_marts_break_an_invariant(chain: Chain) -> None:
    chain.room("R1")
    chain.booking("B1", "09:00", "10:00")
    chain.build()
    chain.con.execute("update fct_room_days set occupied_minutes = 999")
    # occupied > open breaks minutes_within_capacity and the location-day sums
    with pytest.raises(DataQualityError, match="location_day_sums|minutes_within_capacity"):
        check_marts(chain.con)


# --- the contract ------------------------------------------------------------------------------

# METRICS.md, "Marts": the column lists of the contract, copied literally.
CONTRACT = {
    "fct_bookings": "booking_id, source, location_id, room_id, therapist_id, client_id, service, "
    "uses_bars, start_at, end_at, minutes, booking_date, status, is_held, is_late_cancel, "
    "created_at, cancelled_at, price, is_first_visit, is_rebooked",
    "fct_room_days": "location_id, room_id, date, has_bars, open_minutes, blocked_minutes, "
    "available_minutes, occupied_minutes, bar_minutes, utilization",
    "fct_therapist_days": "location_id, therapist_id, date, scheduled_minutes, booked_minutes, "
    "outside_shift_minutes, utilization, sessions, hands_on_minutes, bar_sessions, "
    "back_to_back_pairs, over_bar_limit, over_hands_on_limit",
    "fct_location_days": "location_id, date, rooms, available_minutes, occupied_minutes, "
    "room_utilization, bar_rooms, bar_room_available_minutes, bar_room_occupied_minutes, "
    "bar_room_bar_minutes, bar_utilization, bar_fit, scheduled_minutes, booked_minutes, "
    "therapist_utilization, bookings, completed, no_shows, cancellations, late_cancellations, "
    "no_show_rate, cancellation_rate, revenue, revpath, new_clients, rebooked_visits, "
    "rebooking_rate",
    "fct_hourly_capacity": "location_id, date, hour, room_available_minutes, "
    "room_occupied_minutes, bar_room_available_minutes, bar_room_occupied_minutes, "
    "bar_rooms_full_minutes, therapist_scheduled_minutes, therapist_booked_minutes",
    "dim_clients": "client_id, first_visit_date, first_location_id, first_therapist_id, "
    "first_service, completed_visits, last_visit_date, next_booking_at",
    "rpt_retention": "cohort_month, location_id, new_clients, eligible_30, returned_30, "
    "eligible_60, returned_60, eligible_90, returned_90",
    "rpt_as_of": "as_of_date",
    "dq_issues": "kind, location_id, entity_id, date, detail",
    "dim_locations": "location_id, name, timezone, rooms, bar_rooms, first_date, last_date",
    "dim_rooms": "location_id, room_id, room_name, has_bars, bar_installed_date",
    "dim_therapists": "location_id, therapist_id, therapist_name, bar_trained",
}


def columns_of(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        name for (name,) in con.execute(f"select column_name from (describe {table})").fetchall()
    ]


@pytest.fixture
def built(chain: Chain) -> Chain:
    """A warehouse with one booking, built with default settings (every mart exists)."""
    chain.room("R1")
    chain.shift("09:00", "17:00")
    chain.booking("B1", "09:00", "10:00")
    chain.build()
    return chain


def test_every_contract_column_exists(built: Chain) -> None:
    for mart, listed in CONTRACT.items():
        present = columns_of(built.con, mart)
        missing = [c for c in listed.split(", ") if c not in present]
        assert not missing, f"{mart} lacks {missing}"


def test_contract_list_matches_metrics_md() -> None:
    spec = Path(__file__).resolve().parents[2] / "shared" / "METRICS.md"
    if not spec.exists():
        pytest.skip("METRICS.md is not beside the repository")
    text = spec.read_text()
    for mart in ("fct_bookings", "fct_room_days", "fct_therapist_days", "fct_hourly_capacity"):
        block = re.search(rf"### `{mart}`[^\n]*\n`([^`]*)`", text)
        assert block, mart
        assert " ".join(block.group(1).split()) == CONTRACT[mart], mart


def test_dictionary_names_columns_that_exist(built: Chain) -> None:
    for entry in load_dictionary():
        assert entry.name in columns_of(built.con, entry.mart), f"{entry.mart}.{entry.name}"


def test_every_rate_and_count_of_location_days_has_a_dictionary_entry(built: Chain) -> None:
    described = {(m.mart, m.name) for m in load_dictionary()}
    for mart in (
        "fct_location_days",
        "fct_room_days",
        "fct_therapist_days",
        "fct_hourly_capacity",
        "rpt_retention",
        "dim_clients",
    ):
        keys = {"location_id", "room_id", "therapist_id", "client_id", "date", "hour"}
        keys |= {"cohort_month", "first_location_id", "first_therapist_id", "first_service"}
        listed = CONTRACT[mart].split(", ")
        for column in listed:
            if column in keys or column.startswith(("first_visit", "last_visit", "next_")):
                continue
            if column == "has_bars":
                continue
            assert (mart, column) in described, f"{mart}.{column} has no dictionary entry"


def test_metric_lookup_and_formats() -> None:
    entry = metric("room_utilization")
    assert entry.mart == "fct_location_days" and entry.format == "pct"
    assert "late_cancel_hours" in metric("late_cancellations").settings
    assert {m.format for m in load_dictionary()} <= {
        "pct",
        "minutes",
        "hours",
        "count",
        "currency",
        "ratio",
        "date",
    }
    with pytest.raises(KeyError):
        metric("no_such_metric")
    assert replace(entry, label="x").label == "x"  # a plain frozen dataclass
