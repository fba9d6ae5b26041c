"""Slot finding: where in today's calendar a booking fits, near the client's wished start,
with a room and a therapist free (turnover kept on both sides), and marking it taken.

A calendar keeps who and what is busy as bitmasks of 5-minute slots (world.SLOT), so a test
"is this room free then?" is one AND of two ints.
"""

from __future__ import annotations

import random

from pipelines.demo.world import SLOT, Booking, Calendar, Service, slot_mask

BAR_SESSION_LIMIT = 5  # the setting max_bar_sessions_per_day; schedulers mostly respect it
OVER_LIMIT_CHANCE = 0.2  # ...but on a busy day a sixth bar session is sometimes accepted

# Search order around the client's wished start: the wish first, then ever further away.
SEARCH_OFFSETS = (0,) + tuple(o for step in range(15, 181, 15) for o in (step, -step))


def find_slot(
    cal: Calendar,
    rng: random.Random,
    service: Service,
    wish: int,
    gap: int,
    rooms: list[int],
    team: list[int],
    *,
    in_shift: bool = True,
    room_check: bool = True,
) -> tuple[int, int, int] | None:
    """(start, room, therapist) nearest the wish with room and therapist free, or None."""
    duration = service.minutes
    room_busy, ther_busy, shift_mask = cal.room_busy, cal.ther_busy, cal.shift_mask
    capacity, bar_sessions = cal.capacity, cal.bar_sessions
    watch_bar_limit = service.uses_bars
    opens, latest = cal.opens, cal.closes - duration
    # Masks are shifted copies of two fixed runs of bits; the turnover gap is kept on both
    # sides of the booking, so its neighbours (room and therapist) are at least `gap` away.
    core_run = (1 << (duration // SLOT)) - 1
    wide_run = (1 << ((duration + 2 * gap) // SLOT)) - 1
    for offset in SEARCH_OFFSETS:
        start = wish + offset
        if start < opens or start > latest:
            continue
        core = core_run << (start // SLOT)
        wide = wide_run << ((start - gap) // SLOT)
        room = rooms[0]
        if room_check:
            for room in rooms:  # noqa: B007 - the free room is used after the loop
                if not room_busy[room] & wide:
                    break
            else:
                continue
        for t in team:
            if ther_busy[t] & wide or (shift_mask[t] & core == core) != in_shift:
                continue
            if in_shift and capacity[t] < duration:
                continue
            if (
                watch_bar_limit
                and bar_sessions[t] >= BAR_SESSION_LIMIT
                and t != cal.star
                and rng.random() > OVER_LIMIT_CHANCE
            ):
                continue
            return start, room, t
    return None


def occupy(cal: Calendar, booking: Booking) -> None:
    """Mark a held booking's room and therapist busy, and count it against the therapist."""
    core = slot_mask(booking.start, booking.end)
    cal.room_busy[booking.room] |= core
    cal.ther_busy[booking.therapist] |= core
    cal.capacity[booking.therapist] -= booking.service.minutes
    cal.bar_sessions[booking.therapist] += booking.service.uses_bars
