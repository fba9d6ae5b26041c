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

from tests.test_marts import Chain


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
