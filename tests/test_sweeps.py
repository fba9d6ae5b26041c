"""The interval sweeps behind the room and therapist marts, on hand-made rows.

Hand-made raw rows in a real warehouse file (tests.test_marts.Chain), built with build_marts.
Day: Monday 2024-03-04, rooms open 09:00-17:00. These pin down the orders and edge cases the
faster formulations must keep: the room rule's placement order down to its last tie-break
(source), a booking with no length, and the therapist-day rows of fct_therapist_days.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_marts import Chain, issues


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Chain]:
    """An empty warehouse file to fill with hand-made raw rows (closed after the test)."""
    chain = Chain(tmp_path / "studio.duckdb")
    yield chain
    chain.con.close()


def rooms_of(studio: Chain) -> dict[tuple[str, str], str | None]:
    """(source, booking_id) -> room_id from fct_bookings."""
    rows = studio.rows("select source, booking_id, room_id from fct_bookings")
    return {(source, booking): room for source, booking, room in rows}


def test_same_slot_same_booking_id_placed_by_source(studio: Chain) -> None:
    studio.room("P1", has_bars=False)
    studio.room("P2", has_bars=False)
    # one booking id in two booking systems, same slot and length: the last tie-break is the
    # source, so 'acuity' is placed before 'square' (and takes P1) whatever order they arrive
    studio.booking("K", "10:00", "10:45", room=None, service="Swedish", source="square")
    studio.booking(
        "K", "10:00", "10:45", room=None, service="Swedish", source="acuity", therapist="T2"
    )
    # 'J' starts later and is longer than both: the start comes before the length
    studio.booking("J", "10:15", "12:00", room=None, service="Swedish", therapist="T3")
    studio.build()

    assert rooms_of(studio) == {("acuity", "K"): "P1", ("square", "K"): "P2", ("native", "J"): None}


def test_a_booking_without_length_takes_the_first_room_and_blocks_nothing(studio: Chain) -> None:
    studio.room("B1", has_bars=True)
    studio.room("P1", has_bars=False)
    # Z has no length: it takes the first room it may use (P1: not bar work) even though
    # A already holds P1 then, and it is in nobody's way afterwards
    studio.booking("A", "10:00", "11:00", room=None, service="Swedish")
    studio.booking("Z", "10:30", "10:30", room=None, service="Swedish", therapist="T2")
    studio.booking("C", "10:30", "11:30", room=None, service="Swedish", therapist="T3")
    studio.build()

    assert rooms_of(studio) == {("native", "A"): "P1", ("native", "Z"): "P1", ("native", "C"): "B1"}


def test_minutes_outside_shifts_over_one_several_and_no_shifts(studio: Chain) -> None:
    studio.room("R1")
    studio.room("R2")
    studio.room("R3")
    # T1: 09:00-13:00, 10:00-12:00 (inside the first) and 15:00-17:00; a booking
    # 12:30-15:30 is in a shift 12:30-13:00 and 15:00-15:30: 60 of its 180 minutes
    studio.shift("09:00", "13:00")
    studio.shift("10:00", "12:00")
    studio.shift("15:00", "17:00")
    studio.booking("A", "12:30", "15:30", service="Swedish")
    # T2: one shift 09:00-12:00; a booking 11:00-13:00 is half outside it
    studio.shift("09:00", "12:00", therapist="T2")
    studio.booking("B", "11:00", "13:00", room="R2", therapist="T2", service="Swedish")
    # T3: no shift at all: the whole booking is outside
    studio.booking("C", "10:00", "11:00", room="R3", therapist="T3", service="Swedish")
    studio.build()

    days = studio.rows(
        "select therapist_id, scheduled_minutes, booked_minutes, outside_shift_minutes, shifts"
        " from fct_therapist_days order by therapist_id"
    )
    # scheduled minutes add up every shift as written (240 + 120 + 120)
    assert days == [
        ("T1", 480, 180, 120, 3),
        ("T2", 180, 120, 60, 1),
        ("T3", 0, 60, 60, 0),
    ]
    details = sorted(detail for _, _, detail in issues(studio, "booking_outside_shift"))
    assert details == [
        "120 of 180 minutes of booking A fall outside the shifts of therapist T1",
        "60 of 120 minutes of booking B fall outside the shifts of therapist T2",
        "60 of 60 minutes of booking C fall outside the shifts of therapist T3",
    ]


def test_a_therapist_day_with_only_cancelled_bookings_has_a_row(studio: Chain) -> None:
    studio.room("R1")
    studio.booking("X", "10:00", "11:00", status="cancelled")
    studio.shift("09:00", "12:00", therapist="T2", bar_trained=False)
    studio.build()

    days = studio.rows(
        "select therapist_id, scheduled_minutes, booked_minutes, sessions, shifts, bar_trained"
        " from fct_therapist_days order by therapist_id"
    )
    # T1 had only a cancelled booking: a row of zeros, bar training unknown (no shift)
    assert days == [("T1", 0, 0, 0, 0, None), ("T2", 180, 0, 0, 1, False)]
