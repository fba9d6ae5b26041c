"""Slot finding of the demo chain (pipelines/demo/slots.py), on calendars built by hand.

Times are minutes after midnight; a calendar's masks have one bit per 5-minute slot.
"""

from __future__ import annotations

import random

from pipelines.demo.slots import BAR_SESSION_LIMIT, find_slot, occupy
from pipelines.demo.world import BAR_SERVICES, NON_BAR_SERVICES, Booking, Calendar, slot_mask

SWEDISH_60 = NON_BAR_SERVICES[0]  # 60 minutes, no bars
ASHIATSU_60 = BAR_SERVICES[0]  # 60 minutes, bars


def calendar(room_busy: list[int], shifts: list[tuple[int, int]], star: int = -1) -> Calendar:
    """Open 10:00-20:00; every room a bar room; therapists on the given shifts, all trained."""
    count = len(shifts)
    return Calendar(
        day=0,
        opens=600,
        closes=1200,
        room_busy=room_busy,
        bar_rooms=list(range(len(room_busy))),
        plain_rooms=[],
        shift_mask=[slot_mask(start, end) for start, end in shifts],
        capacity=[end - start for start, end in shifts],
        ther_busy=[0] * count,
        bar_sessions=[0] * count,
        on_shift=list(range(count)),
        bar_team=list(range(count)),
        star=star,
    )


def test_the_nearest_start_with_the_turnover_kept_free_wins() -> None:
    # Room 0 is busy 10:00-12:00, room 1 10:00-13:00. A 60-minute wish at 11:00 with a
    # 15-minute turnover needs start - 15 >= 12:00 (720), so start >= 735. The search tries
    # 0, +15, -15, +30, ..., +60 (720: its turnover overlaps 12:00), -60, then +75 = 735.
    cal = calendar([slot_mask(600, 720), slot_mask(600, 780)], [(600, 1200)])
    assert find_slot(cal, random.Random(0), SWEDISH_60, 660, 15, [0, 1], [0]) == (735, 0, 0)
    # Without a turnover, 12:00 itself fits: offset +60 comes before -60 and +75.
    assert find_slot(cal, random.Random(0), SWEDISH_60, 660, 0, [0, 1], [0]) == (720, 0, 0)


def test_a_therapist_must_be_on_shift_and_free_unless_asked_for_outside_the_shift() -> None:
    # Therapist 0 works 14:00-20:00, therapist 1 10:00-14:00: at 10:00 only therapist 1 fits.
    cal = calendar([0], [(840, 1200), (600, 840)])
    assert find_slot(cal, random.Random(0), SWEDISH_60, 600, 15, [0], [0, 1]) == (600, 0, 1)
    # Outside the shift (a deliberate problem): therapist 0, whose shift does not cover 10:00.
    slot = find_slot(cal, random.Random(0), SWEDISH_60, 600, 15, [0], [0, 1], in_shift=False)
    assert slot == (600, 0, 0)


def test_the_bar_limit_passes_a_full_therapist_by_except_the_star() -> None:
    cal = calendar([0], [(600, 1200), (600, 1200)])
    cal.bar_sessions[0] = BAR_SESSION_LIMIT
    # random.Random(0).random() is 0.844 > 0.2 (OVER_LIMIT_CHANCE): therapist 0 is passed by.
    assert find_slot(cal, random.Random(0), ASHIATSU_60, 600, 15, [0], [0, 1]) == (600, 0, 1)
    cal.star = 0  # the star takes every bar client she can
    assert find_slot(cal, random.Random(0), ASHIATSU_60, 600, 15, [0], [0, 1]) == (600, 0, 0)


def test_no_slot_when_every_room_is_taken_all_day() -> None:
    cal = calendar([slot_mask(600, 1200)], [(600, 1200)])
    assert find_slot(cal, random.Random(0), SWEDISH_60, 660, 15, [0], [0]) is None
    # ...unless the room is not checked (a deliberate double booking)
    slot = find_slot(cal, random.Random(0), SWEDISH_60, 660, 15, [0], [0], room_check=False)
    assert slot == (660, 0, 0)


def test_occupy_marks_the_room_and_therapist_and_counts_the_session() -> None:
    cal = calendar([0], [(600, 1200)])
    occupy(cal, Booking(660, 720, 0, 0, "C1", ASHIATSU_60, "completed", 0, None))
    # 11:00-12:00 is slots 132..143 (660 / 5 = 132): twelve bits from bit 132.
    assert cal.room_busy[0] == cal.ther_busy[0] == (2**12 - 1) << 132
    assert cal.capacity[0] == 600 - 60  # the 10-hour shift less the hour booked
    assert cal.bar_sessions[0] == 1
