"""Deliberate data problems: now and then a location's calendar gets one of the faults the
data-quality views exist to find (a room booked twice, a bar service in a room without bars,
a bar session by an untrained therapist, a booking outside its therapist's shift).

Each location shows every kind at least once: the first past open day on or after a fixed
share of the history gets one, and more follow at PROBLEM_RATE.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from pipelines.demo.slots import find_slot
from pipelines.demo.world import BAR_SERVICES, NON_BAR_SERVICES, Calendar, Service

PROBLEM_RATE = 1 / 150  # per past open day and kind of deliberate data problem
PROBLEM_KINDS = (
    "room_double_booking",
    "bar_in_plain_room",
    "untrained_bar_session",
    "outside_shift",
)

Slot = tuple[int, int, int]  # (start, room, therapist)


class DeliberateProblems:
    """One location's deliberate problems. `book_held(service, slot)` books a new client into
    the slot as a held (completed or no-show) visit, whatever the calendar says."""

    def __init__(
        self,
        rng: random.Random,
        days: int,
        trained: list[bool],
        book_held: Callable[[Service, Slot], object],
    ) -> None:
        self.rng = rng
        self.days = days
        self.trained = trained
        self.book_held = book_held
        # The first past open day on or after these days gets one of each kind.
        self.forced = {kind: max(1, days * (i + 1) // 6) for i, kind in enumerate(PROBLEM_KINDS)}

    def make(self, cal: Calendar, day: int) -> None:
        """Now and then create the faults data-quality views exist to find."""
        rng = self.rng
        makers = {
            "room_double_booking": self._room_double_booking,
            "bar_in_plain_room": self._bar_in_plain_room,
            "untrained_bar_session": self._untrained_bar_session,
            "outside_shift": self._outside_shift,
        }
        for kind, make in makers.items():
            due = self.forced.get(kind, self.days + 1) <= day
            if (due or rng.random() < PROBLEM_RATE) and make(cal):
                self.forced.pop(kind, None)

    def _wish(self, cal: Calendar) -> int:
        return self.rng.randrange(cal.opens, cal.closes - 120, 15)

    def _room_double_booking(self, cal: Calendar) -> bool:
        """A second held booking in a room already taken at that time."""
        rng = self.rng
        held = [b for b in cal.bookings if b.status in ("completed", "no_show")]
        if not held:
            return False
        target = rng.choice(held)
        service = NON_BAR_SERVICES[0]
        start = min(target.start + 30, cal.closes - service.minutes)
        if start < target.start or start >= target.end:
            return False
        slot = find_slot(
            cal, rng, service, start, 15, [target.room], cal.on_shift, room_check=False
        )
        if slot is None or slot[0] >= target.end or slot[0] + service.minutes <= target.start:
            return False
        self.book_held(service, slot)
        return True

    def _bar_in_plain_room(self, cal: Calendar) -> bool:
        """A bar service booked into a room without bars."""
        team = [t for t in cal.on_shift if self.trained[t]]
        return self._forced_booking(cal, BAR_SERVICES[0], cal.plain_rooms, team)

    def _untrained_bar_session(self, cal: Calendar) -> bool:
        """A bar session given by a therapist who is not bar-trained."""
        team = [t for t in cal.on_shift if not self.trained[t]]
        return self._forced_booking(cal, BAR_SERVICES[0], cal.bar_rooms, team)

    def _outside_shift(self, cal: Calendar) -> bool:
        """A booking for a therapist who is not on shift at that time."""
        team = sorted(range(len(self.trained)), key=lambda t: (cal.shift_mask[t] != 0, t))
        return self._forced_booking(cal, NON_BAR_SERVICES[0], cal.plain_rooms, team, in_shift=False)

    def _forced_booking(
        self,
        cal: Calendar,
        service: Service,
        rooms: list[int],
        team: list[int],
        *,
        in_shift: bool = True,
    ) -> bool:
        if not rooms or not team or cal.closes - cal.opens < 180:
            return False
        wish = self._wish(cal)
        slot = find_slot(cal, self.rng, service, wish, 15, rooms, team, in_shift=in_shift)
        if slot is None:
            return False
        self.book_held(service, slot)
        return True
