"""fct_hourly_capacity (METRICS.md): hand-worked hours on hand-made raw rows in a real DuckDB file.

The mart sums each measure's intervals per clock hour from their start and end events and a
running level, without cutting intervals into hours; these cases pin down what that must give.
The day is Monday 2024-03-04 (tests.test_marts.Chain); rooms have bars unless a test says not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipelines.warehouse import hourly
from tests.test_marts import DAY, Chain

NEXT_DAY = "2024-03-05"
COLUMNS = (
    "room_available_minutes, room_occupied_minutes, bar_room_available_minutes, "
    "bar_room_occupied_minutes, bar_rooms_full_minutes, therapist_scheduled_minutes, "
    "therapist_booked_minutes"
)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    studio = Chain(tmp_path / "studio.duckdb")
    yield studio
    studio.con.close()


def hours(chain: Chain, column: str, day: str = DAY) -> dict[int, int]:
    """{hour: minutes} of one column on one day, every row of the day."""
    return dict(
        chain.rows(
            f"select hour, {column} from fct_hourly_capacity where date = ? order by hour", [day]
        )
    )


def test_a_booking_within_one_hour_and_the_quiet_hours_around_it(chain: Chain) -> None:
    chain.room("R1", opens="09:00", closes="17:00")
    chain.booking("B1", "10:10", "10:40")
    chain.build()

    # one row per opening hour, 09h-16h, each with the room's 60 minutes (the hours with no
    # event of their own, 11h-16h, at the level the 10h events leave)
    assert hours(chain, "room_available_minutes") == dict.fromkeys(range(9, 17), 60)
    # 10:10-10:40: 30 minutes of the 10h, none elsewhere
    assert hours(chain, "room_occupied_minutes") == {h: 30 if h == 10 else 0 for h in range(9, 17)}
    assert hours(chain, "therapist_booked_minutes")[10] == 30
    assert sum(hours(chain, "therapist_scheduled_minutes").values()) == 0  # no shift
    assert chain.rows("select count(*) from fct_hourly_capacity where date <> ?", [DAY]) == [(0,)]


def test_a_booking_crossing_three_hours(chain: Chain) -> None:
    chain.room("R1", opens="09:00", closes="17:00")
    chain.shift("09:30", "12:00")
    chain.booking("B1", "09:40", "11:20")
    chain.build()

    # 09:40-10:00 = 20, 10:00-11:00 = 60, 11:00-11:20 = 20
    occupied = hours(chain, "room_occupied_minutes")
    assert (occupied[9], occupied[10], occupied[11], occupied[12]) == (20, 60, 20, 0)
    booked = hours(chain, "therapist_booked_minutes")
    assert (booked[9], booked[10], booked[11]) == (20, 60, 20)
    # the shift 09:30-12:00: 30, 60, 60, then nothing
    scheduled = hours(chain, "therapist_scheduled_minutes")
    assert (scheduled[9], scheduled[10], scheduled[11], scheduled[12]) == (30, 60, 60, 0)


def test_overlapping_bookings_in_one_room_count_once(chain: Chain) -> None:
    chain.room("R1", opens="09:00", closes="17:00")
    chain.booking("B1", "10:00", "11:00", therapist="T1")
    chain.booking("B2", "10:30", "11:30", therapist="T2", client="C2")
    chain.booking("B3", "10:15", "10:45", therapist="T1", client="C3")  # inside B1
    chain.build()

    # the room: the union 10:00-11:30 -> 60 in the 10h, 30 in the 11h
    occupied = hours(chain, "room_occupied_minutes")
    assert (occupied[10], occupied[11]) == (60, 30)
    assert hours(chain, "bar_room_occupied_minutes")[10] == 60
    # therapists each once: T1 10:00-11:00 (B3 inside it), T2 10:30-11:30 -> 60 + 30, then 30
    booked = hours(chain, "therapist_booked_minutes")
    assert (booked[10], booked[11]) == (90, 30)


def test_bar_rooms_full_when_every_open_bar_room_is_occupied(chain: Chain) -> None:
    chain.room("R1", has_bars=True)
    chain.room("R2", has_bars=True)
    chain.room("R3", has_bars=False)
    chain.booking("B1", "09:15", "10:45", room="R1", therapist="T1")
    chain.booking("B2", "09:45", "10:30", room="R2", therapist="T2", client="C2")
    chain.booking("B3", "09:00", "17:00", room="R3", therapist="T3", client="C3")  # no bars
    # back to back in R2: occupied without a gap 14:00-15:30, with R1 busy 14:30-15:00
    chain.booking("B4", "14:00", "15:00", room="R2", therapist="T2", client="C4")
    chain.booking("B5", "15:00", "15:30", room="R2", therapist="T2", client="C5")
    chain.booking("B6", "14:30", "15:00", room="R1", therapist="T1", client="C6")
    chain.build()

    full = hours(chain, "bar_rooms_full_minutes")
    # both bar rooms occupied 09:45-10:30 (15 + 30) and 14:30-15:00 (30); R3 never counts
    assert {hour: minutes for hour, minutes in full.items() if minutes} == {9: 15, 10: 30, 14: 30}
    # bar rooms occupied: R1 45 + R2 15 in the 9h; R1 45 + R2 30 in the 10h
    bar_occupied = hours(chain, "bar_room_occupied_minutes")
    assert (bar_occupied[9], bar_occupied[10]) == (60, 75)
    assert hours(chain, "room_occupied_minutes")[9] == 120  # and R3's 60


def test_a_room_closing_mid_hour(chain: Chain) -> None:
    chain.room("R1", has_bars=True, opens="09:00", closes="17:00")
    chain.room("R2", has_bars=True, opens="09:00", closes="12:30")
    chain.room("R3", has_bars=False, opens="09:00", closes="12:30")
    chain.booking("B1", "12:00", "13:15", room="R1")
    chain.build()

    available = hours(chain, "room_available_minutes")
    assert (available[11], available[12], available[13]) == (180, 120, 60)  # 60 + 30 + 30
    bar_available = hours(chain, "bar_room_available_minutes")
    assert (bar_available[12], bar_available[13]) == (90, 60)
    # R2 free until it closes at 12:30; from then R1 is the one open bar room, busy to 13:15
    full = hours(chain, "bar_rooms_full_minutes")
    assert (full[11], full[12], full[13], full[14]) == (0, 30, 15, 0)


def test_past_midnight_the_hours_fall_on_the_next_day(chain: Chain) -> None:
    chain.room("R1", opens="20:00", closes="02:00")
    chain.shift("22:00", "01:00")
    chain.booking("B1", "23:30", f"{NEXT_DAY} 00:30")
    chain.build()

    assert hours(chain, "room_available_minutes") == {20: 60, 21: 60, 22: 60, 23: 60}
    assert hours(chain, "room_available_minutes", NEXT_DAY) == {0: 60, 1: 60}
    assert hours(chain, "room_occupied_minutes")[23] == 30
    assert hours(chain, "room_occupied_minutes", NEXT_DAY) == {0: 30, 1: 0}
    assert hours(chain, "therapist_booked_minutes", NEXT_DAY) == {0: 30, 1: 0}
    assert hours(chain, "therapist_scheduled_minutes") == {20: 0, 21: 0, 22: 60, 23: 60}
    assert hours(chain, "therapist_scheduled_minutes", NEXT_DAY) == {0: 60, 1: 0}


def test_an_interval_ending_at_midnight_gives_no_row_on_the_next_day(chain: Chain) -> None:
    chain.room("R1", opens="18:00", closes="00:00")
    chain.shift("21:00", "00:00")
    chain.booking("B1", "23:00", f"{NEXT_DAY} 00:00")
    chain.build()

    assert hours(chain, "room_available_minutes") == dict.fromkeys(range(18, 24), 60)
    assert hours(chain, "room_occupied_minutes")[23] == 60
    full = hours(chain, "bar_rooms_full_minutes")
    assert full == {hour: 60 if hour == 23 else 0 for hour in range(18, 24)}
    assert hours(chain, "therapist_scheduled_minutes")[23] == 60
    assert chain.rows("select count(*) from fct_hourly_capacity where date = ?", [NEXT_DAY]) == [
        (0,)
    ]


def test_hours_of_a_booking_outside_opening_hours_and_shifts(chain: Chain) -> None:
    # no room calendar for the day: the booking's therapist time still has its hours
    chain.booking("B1", "07:50", "08:10", room=None)
    chain.build()

    rows = chain.rows(f"select hour, {COLUMNS} from fct_hourly_capacity order by hour")
    assert rows == [(7, 0, 0, 0, 0, 0, 0, 10), (8, 0, 0, 0, 0, 0, 0, 10)]


def test_a_date_typed_a_century_off_gets_its_own_hours_and_nothing_between(chain: Chain) -> None:
    far = "1924-03-04"
    chain.room("R1", opens="09:00", closes="11:00")
    chain.room("R1", date=far, opens="09:00", closes="10:00")
    chain.booking("B1", "09:15", "09:45")
    chain.booking("B2", f"{far} 09:30", f"{far} 09:50")
    chain.build()

    assert hours(chain, "room_available_minutes") == {9: 60, 10: 60}
    assert hours(chain, "room_occupied_minutes") == {9: 30, 10: 0}
    # 09:30-09:50 of the far day: 20 minutes; its room opens for the one hour
    assert hours(chain, "room_occupied_minutes", far) == {9: 20}
    assert chain.rows("select count(distinct date) from fct_hourly_capacity") == [(2,)]


def hour_sums(intervals: list[tuple[str, str, str]]) -> dict[tuple[str, str, int], int]:
    """{(location, date, hour): therapist booked minutes} of (location, start, end) intervals
    summed by hourly.HourSums directly."""
    sums = hourly.HourSums()
    names = pa.array([location for location, _, _ in intervals])
    us = [
        [int(dt.datetime.fromisoformat(t).replace(tzinfo=dt.UTC).timestamp() * 1e6) for t in ends]
        for ends in zip(*[(start, end) for _, start, end in intervals], strict=True)
    ]
    loc = sums.location_numbers(names)
    sums.add([(hourly.BOOKED, None)], loc, np.array(us[0]), np.array(us[1]))
    rows, locations = sums.columns()
    name = dict(zip(locations["location_number"], locations["location_id"], strict=True))
    out = {}
    for number, hour_key, minutes in zip(
        rows["location_number"], rows["hour_key"], rows["therapist_booked_minutes"], strict=True
    ):
        day = dt.date(1970, 1, 1) + dt.timedelta(hours=int(hour_key))
        out[name[number], day.isoformat(), int(hour_key) % 24] = int(minutes)
    return out


def test_the_hour_arrays_hold_only_the_days_an_interval_touches() -> None:
    sums = hourly.HourSums()
    loc = sums.location_numbers(pa.array([f"L{n}" for n in range(300)] * 2))
    day = np.array([0] * 300 + [36_500] * 300, dtype=np.int64) * hourly.DAY_US
    sums.add([(hourly.BOOKED, None)], loc, day + 9 * hourly.HOUR_US, day + 10 * hourly.HOUR_US)
    # two days of 300 locations, not the century between them (which would be 3.5 GB)
    assert sums.diffs.shape == (len(hourly.MEASURES) + 1, 300, 2, hourly.SLOTS)


def test_an_interval_across_midnight_is_summed_on_both_days() -> None:
    # the model's pieces are cut at midnight; an interval that is not still adds to the
    # hours of each day: 22:30-24:00 is 30 + 60, 00:00-01:15 is 60 + 15
    assert hour_sums([("L1", "2024-03-04 22:30", "2024-03-05 01:15")]) == {
        ("L1", "2024-03-04", 22): 30,
        ("L1", "2024-03-04", 23): 60,
        ("L1", "2024-03-05", 0): 60,
        ("L1", "2024-03-05", 1): 15,
    }
    # three days: the whole middle day's 24 hours at 60
    spread = hour_sums([("L2", "2024-03-04 23:00", "2024-03-06 00:30")])
    assert [spread["L2", "2024-03-05", hour] for hour in range(24)] == [60] * 24
    assert (spread["L2", "2024-03-04", 23], spread["L2", "2024-03-06", 0]) == (60, 30)
    assert len(spread) == 1 + 24 + 1
