"""Demo data: native-format exports of a realistic synthetic chain of Ashiatsu studios.

The chain is simulated location by location and day by day and streamed to the CSV writers,
so memory stays bounded at any scale: only one location's rooms, therapists, today's calendar
and the clients waiting for a future visit are alive at a time (per process). Every random draw
comes from one ``random.Random`` per location, seeded from ``seed`` and the location number, and
each location numbers its ids in its own block, so locations are independent: big chains are
simulated by a process pool and concatenated in location order, and the same arguments always
give byte-identical files, with or without the pool. Callers that generate big chains from a
script need the usual ``if __name__ == "__main__":`` guard (the pool spawns processes).

Times are minutes: a day's calendar uses minutes after midnight, and an "absolute" minute counts
from midnight of the history's first day (``day * 1440 + minute``). Occupancy is kept as Python
int bitmasks with one bit per 5-minute slot, which makes "is this room free then?" one AND.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import random
import shutil
from bisect import bisect
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

# --- export layout -------------------------------------------------------------------------

HEADERS: dict[str, tuple[str, ...]] = {
    "locations": ("location_id", "name", "timezone"),
    "rooms": (
        "date",
        "location_id",
        "room_id",
        "room_name",
        "has_bars",
        "opens_at",
        "closes_at",
        "blocked_minutes",
    ),
    "therapist_shifts": (
        "date",
        "location_id",
        "therapist_id",
        "therapist_name",
        "bar_trained",
        "shift_start",
        "shift_end",
        "break_minutes",
    ),
    "bookings": (
        "booking_id",
        "location_id",
        "room_id",
        "therapist_id",
        "client_id",
        "service",
        "uses_bars",
        "start_at",
        "end_at",
        "status",
        "created_at",
        "cancelled_at",
        "price",
    ),
}

FUTURE_DAYS = 14  # bookings (and calendars) exist this far past the history: next-14-days view
SLOT = 5  # minutes per bit in the occupancy masks
DAY = 1440
LATE_CANCEL_MINUTES = 24 * 60
BAR_SESSION_LIMIT = 5  # the setting max_bar_sessions_per_day; schedulers mostly respect it
OVER_LIMIT_CHANCE = 0.2  # ...but on a busy day a sixth bar session is sometimes accepted
STAR_DAY_CHANCE = 0.12  # busy days (Thu-Sat) on which the star therapist works a double
NO_SHOW_RATE = 0.019  # of all past bookings: ~2% of held ones
CANCEL_RATE = 0.10
LATE_SHARE = 0.30  # of cancellations; half of them exported as `late_cancelled`
BACK_TO_BACK_SHARE = 0.2  # bookings made with a 0-10 minute turnover instead of 15
PARALLEL_FROM_LOCATIONS = 8  # chains this big are simulated by a process pool
PROBLEM_RATE = 1 / 150  # per past open day and kind of deliberate data problem

# Search order around the client's wished start: the wish first, then ever further away.
SEARCH_OFFSETS = (0,) + tuple(o for step in range(15, 181, 15) for o in (step, -step))

# --- the studio's world ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Service:
    """One item of the service menu."""

    name: str
    minutes: int
    uses_bars: bool
    weight: float  # relative demand within its kind (bar / non-bar)
    price_level: float  # where in the duration's price band it sits (0..1 offset)


BAR_SERVICES = (
    Service("Ashiatsu Deep Feet 60", 60, True, 3.0, 0.05),
    Service("Ashiatsu 90", 90, True, 4.0, 0.05),
    Service("Ashi-Thai 90", 90, True, 1.0, 0.15),
    Service("Barefoot Fasciashi 120", 120, True, 1.5, 0.15),
)
NON_BAR_SERVICES = (
    Service("Swedish 60", 60, False, 3.0, -0.15),
    Service("Deep Tissue 60", 60, False, 2.0, 0.0),
    Service("Swedish 90", 90, False, 1.5, -0.15),
    Service("Hot Stone 90", 90, False, 1.5, 0.15),
    Service("Thai Massage 120", 120, False, 1.0, 0.0),
)
FIRST_VISIT = Service("Consultation + Ashiatsu 90", 90, True, 0.0, 0.1)
ALL_SERVICES = (*BAR_SERVICES, *NON_BAR_SERVICES, FIRST_VISIT)
BAR_CUM_WEIGHTS = list(accumulate(s.weight for s in BAR_SERVICES))
PLAIN_CUM_WEIGHTS = list(accumulate(s.weight for s in NON_BAR_SERVICES))
PRICE_BANDS = {60: (95, 120), 90: (135, 165), 120: (175, 210)}

CITIES = (
    ("Denver", "America/Denver"),
    ("Chicago", "America/Chicago"),
    ("Brooklyn", "America/New_York"),
    ("Boulder", "America/Denver"),
    ("Austin", "America/Chicago"),
    ("Philadelphia", "America/New_York"),
    ("Salt Lake City", "America/Denver"),
    ("Minneapolis", "America/Chicago"),
    ("Boston", "America/New_York"),
    ("Phoenix", "America/Phoenix"),
    ("Nashville", "America/Chicago"),
    ("Atlanta", "America/New_York"),
    ("Portland", "America/Los_Angeles"),
    ("San Diego", "America/Los_Angeles"),
    ("Seattle", "America/Los_Angeles"),
    ("Raleigh", "America/New_York"),
)
ROOM_NAMES = (
    "Willow", "Cedar", "Juniper", "Aspen", "Sage", "Lotus", "Fern", "Birch", "Maple", "Olive",
)  # fmt: skip
FIRST_NAMES = (
    "Maya", "Jordan", "Priya", "Elena", "Marcus", "Aiko", "Sofia", "Daniel", "Leah", "Tomas",
    "Nia", "Grace", "Omar", "Hannah", "Luis", "Keiko", "Ava", "Noah", "Zoe", "Ruth", "Imani",
    "Caleb", "Mei", "Sara", "Diego", "Chloe", "Isaac", "Lena", "Rosa", "Theo",
)  # fmt: skip
LAST_NAMES = (
    "Chen", "Rivera", "Patel", "Novak", "Okafor", "Tanaka", "Garcia", "Kim", "Brooks", "Silva",
    "Nguyen", "Larsen", "Haddad", "Cohen", "Moreno", "Sato", "Bennett", "Alvarez", "Park",
    "Fischer", "Osei", "Walsh", "Romero", "Ito", "Duarte", "Khan", "Meyer", "Lindqvist",
)  # fmt: skip

# Demand shape. Monday = 0. Evening peaks on weekdays, midday peaks at weekends.
WEEKDAY_DEMAND = (0.75, 0.85, 0.9, 1.05, 1.15, 1.25, 0.95)
MONTH_DEMAND = (0.95, 1.05, 1.1, 1.15, 1.15, 1.0, 0.88, 0.72, 0.95, 1.0, 1.05, 1.25)
WEEKDAY_HOURS = {9: 0.35, 10: 0.55, 11: 0.7, 12: 0.85, 13: 0.7, 14: 0.6, 15: 0.7, 16: 0.95,
                 17: 1.35, 18: 1.5, 19: 1.2, 20: 0.6}  # fmt: skip
WEEKEND_HOURS = {9: 0.6, 10: 1.0, 11: 1.25, 12: 1.25, 13: 1.15, 14: 1.1, 15: 1.0, 16: 0.9,
                 17: 0.7, 18: 0.5, 19: 0.3}  # fmt: skip


@dataclass(slots=True)
class Room:
    """A treatment room; bars may be installed partway through the period."""

    room_id: str
    name: str
    bars_from: int | None  # first day index with bars (may be <= 0: always); None: never

    def has_bars(self, day: int) -> bool:
        """Whether the room has ceiling bars (or a bar frame) on that day."""
        return self.bars_from is not None and day >= self.bars_from


@dataclass(slots=True)
class Therapist:
    """A therapist with a weekly rhythm of working days and a preferred shift."""

    therapist_id: str
    name: str
    bar_trained: bool
    workdays: frozenset[int]
    style: str  # early | late | full
    hours: int  # usual shift length in minutes


@dataclass(slots=True)
class Location:
    """One studio: its rooms, team, opening hours, prices and demand level."""

    index: int
    location_id: str
    name: str
    timezone: str
    hours: tuple[tuple[int, int] | None, ...]  # (opens, closes) per weekday, None = closed
    rooms: list[Room]
    therapists: list[Therapist]
    star: int  # index of the most sought-after bar-trained therapist
    prices: dict[str, str]
    demand: float  # requests on an average open day
    bar_share: float  # chance a menu choice is a bar service
    growth: float  # demand growth per year
    start_grids: tuple[tuple[list[int], list[float]] | None, ...]  # wished starts per weekday


@dataclass(slots=True)
class Client:
    """A client's habits: how likely and how soon they come back, and to whom."""

    client_id: str
    propensity: float  # chance of booking again after a visit
    gap_days: float  # median days between visits
    same_weekday: bool  # regulars who keep a weekly rhythm
    loyalty: float  # chance of asking for the same therapist again
    usual: Service | None = None
    therapist: int | None = None
    visits: int = 0


@dataclass(slots=True)
class Request:
    """A client wanting a visit on a given day."""

    client: Client
    service: Service
    created: int | None = None  # absolute minute, fixed when rebooked at checkout
    retries: int = 0


@dataclass(slots=True)
class Booking:
    """A placed appointment, before it gets its chain-wide booking id."""

    start: int
    end: int
    room: int
    therapist: int
    client_id: str
    service: Service
    status: str
    created: int  # absolute minutes
    cancelled: int | None


@dataclass(slots=True)
class Calendar:
    """Today's state of one location: opening hours and who/what is busy when."""

    day: int
    opens: int
    closes: int
    room_busy: list[int]
    bar_rooms: list[int]
    plain_rooms: list[int]
    shift_mask: list[int]
    capacity: list[int]  # scheduled minutes left per therapist (shift minus break)
    ther_busy: list[int]
    bar_sessions: list[int]
    on_shift: list[int]
    bar_team: list[int]  # bar-trained therapists on shift
    star: int  # therapist given bar work first and no bar limit today; -1 on ordinary days
    bookings: list[Booking] = field(default_factory=list)


def _between(rng: random.Random, low: int, high: int) -> int:
    """Like rng.randint(low, high), several times cheaper (this runs millions of times)."""
    return low + int(rng.random() * (high - low + 1))


def _weighted(rng: random.Random, items: Sequence, cum_weights: list[float]):
    """Like rng.choices(items, cum_weights=...)[0], without the per-call overhead."""
    return items[bisect(cum_weights, rng.random() * cum_weights[-1])]


def _rotated(rng: random.Random, items: list[int]) -> list[int]:
    """The list started at a random point, so no room or therapist is always asked first."""
    k = int(rng.random() * len(items))
    return items[k:] + items[:k]


def _mask(start: int, end: int) -> int:
    """Bitmask of the 5-minute slots covering [start, end)."""
    return ((1 << ((end - start) // SLOT)) - 1) << (start // SLOT)


def _hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}:00"


CLOCK = tuple(_hm(m) for m in range(DAY))

# --- building a location ------------------------------------------------------------------


def _weighted_sample(rng: random.Random, items: list[int], weights: list[float], k: int) -> list:
    """k distinct items, likelier the heavier (Efraimidis-Spirakis keys)."""
    keyed = sorted(items, key=lambda i: rng.random() ** (1 / weights[i]), reverse=True)
    return sorted(keyed[:k])


def _opening_hours(rng: random.Random) -> tuple[tuple[int, int] | None, ...]:
    """Weekday hours: short or closed Sunday/Monday, longest Thursday to Saturday."""
    early = rng.choice((-30, 0, 0, 30))
    late = rng.choice((-60, 0, 0, 30))
    monday_open = rng.random() < 0.4
    hours = [
        (12 * 60, 19 * 60) if monday_open else None,
        (10 * 60 + early, 20 * 60 + late),
        (10 * 60 + early, 20 * 60 + late),
        (9 * 60 + early, 21 * 60 + late),
        (9 * 60 + early, 21 * 60 + late),
        (9 * 60 + early, 19 * 60 + late),
        None if monday_open else (11 * 60, 17 * 60),
    ]
    return tuple(hours)


def _start_grid(
    hours: tuple[int, int] | None, weekday: int
) -> tuple[list[int], list[float]] | None:
    """Wished start times (15-minute grid) and their cumulative popularity for one weekday."""
    if hours is None:
        return None
    opens, closes = hours
    curve = WEEKEND_HOURS if weekday >= 5 else WEEKDAY_HOURS
    starts = list(range(opens, closes - 60 + 1, 15))
    cum, total = [], 0.0
    for s in starts:
        total += curve.get(s // 60, 0.3)
        cum.append(total)
    return starts, cum


def _rooms(rng: random.Random, location_id: str, installs_bars: bool, days: int) -> list[Room]:
    """4-8 rooms, 1-3 with bars; maybe one gets a bar frame installed partway through."""
    count = rng.choice((4, 5, 5, 6, 6, 6, 7, 7, 8, 8))
    bar_count = rng.randint(1, min(3, count - 2))
    if installs_bars and bar_count == 3:
        bar_count = 2
    names = rng.sample(ROOM_NAMES, count)
    rooms = [
        Room(f"{location_id}-R{i + 1}", name, 0 if i < bar_count else None)
        for i, name in enumerate(names)
    ]
    if installs_bars:
        rooms[bar_count].bars_from = rng.randint(days // 4, max(days // 4, 3 * days // 4))
    return rooms


def _team(
    rng: random.Random, location_id: str, room_count: int, open_days: list[int]
) -> list[Therapist]:
    """6-12 therapists, 1-3 not bar-trained, each working 4-5 days a week."""
    count = max(6, min(12, round(room_count * 1.7) + rng.randint(-1, 1)))
    untrained = set(rng.sample(range(count), rng.randint(1, min(3, count // 3))))
    names: list[str] = []  # a list, not a set: set order varies between runs
    while len(names) < count:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in names:
            names.append(name)
    team = []
    for i, name in enumerate(names):
        days_a_week = min(len(open_days), rng.choice((4, 5, 5, 5)))
        workdays = _weighted_sample(rng, open_days, list(WEEKDAY_DEMAND), days_a_week)
        team.append(
            Therapist(
                therapist_id=f"{location_id}-T{i + 1:02d}",
                name=name,
                bar_trained=i not in untrained,
                workdays=frozenset(workdays),
                style=rng.choice(("early", "late", "late", "full")),
                hours=rng.choice((480, 480, 480, 420, 360)),
            )
        )
    return team


def _prices(rng: random.Random) -> dict[str, str]:
    """Price per service: the duration's band, the location's level and the service's place."""
    level = rng.uniform(0.15, 0.85)
    prices = {}
    for service in ALL_SERVICES:
        low, high = PRICE_BANDS[service.minutes]
        share = min(1.0, max(0.0, level + service.price_level))
        prices[service.name] = f"{5 * round((low + share * (high - low)) / 5):.2f}"
    return prices


def _build_location(index: int, rng: random.Random, days: int) -> Location:
    """Draw one location's rooms, team, hours, prices and demand level."""
    location_id = f"L{index + 1:02d}"
    city, timezone = CITIES[index % len(CITIES)]
    repeat = index // len(CITIES)  # big chains: "Barefoot Loft Denver 2", ...
    name = f"Barefoot Loft {city}" + (f" {repeat + 1}" if repeat else "")
    hours = _opening_hours(rng)
    open_days = [wd for wd in range(7) if hours[wd] is not None]
    # Location 1 always gets a bar frame installed mid-period, so the change is in every demo.
    rooms = _rooms(rng, location_id, index == 0 or rng.random() < 0.25, days)
    team = _team(rng, location_id, len(rooms), open_days)
    bar_rooms = sum(r.bars_from is not None for r in rooms)
    mean_open = sum(c - o for o, c in filter(None, hours)) / len(open_days)
    room_slots = len(rooms) * mean_open / 100  # ~85-minute sessions plus turnover
    # Demand near what the rooms hold on an average day: peak hours and busy days overflow.
    demand = room_slots * rng.uniform(0.85, 1.0)
    # Sell bar work in proportion to the bar rooms (first visits add more: they fill up).
    bar_share = min(0.7, max(0.25, bar_rooms / len(rooms)))
    return Location(
        index=index,
        location_id=location_id,
        name=name,
        timezone=timezone,
        hours=hours,
        rooms=rooms,
        therapists=team,
        star=next(i for i, t in enumerate(team) if t.bar_trained),
        prices=_prices(rng),
        demand=demand,
        bar_share=bar_share,
        growth=rng.uniform(-0.03, 0.12),
        start_grids=tuple(_start_grid(hours[wd], wd) for wd in range(7)),
    )


# --- simulating a location -----------------------------------------------------------------


class _Ids:
    """Booking and client ids of one location: a block per location keeps them unique
    chain-wide while locations are simulated independently (and possibly in parallel)."""

    def __init__(self, index: int) -> None:
        self.prefix = f"{index + 1:03d}"
        self.booking = 0
        self.client = 0

    def next_booking(self) -> str:
        # 10**6 bookings per location is ~70 years of a busy studio; past it ids could clash.
        self.booking += 1
        return f"B{self.prefix}{self.booking:06d}"

    def next_client(self) -> str:
        self.client += 1
        return f"C{self.prefix}{self.client:06d}"


class _Dates:
    """ISO date strings by day index, for the whole simulated range plus lead times."""

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self.offset = 40  # bookings are created up to 30 days before the first day
        first = start - timedelta(days=self.offset)
        self.iso = [(first + timedelta(days=i)).isoformat() for i in range(days + 60 + 40)]

    def day(self, day: int) -> str:
        return self.iso[day + self.offset]

    def stamp(self, absolute: int) -> str:
        day, minute = divmod(absolute, DAY)
        return f"{self.iso[day + self.offset]} {CLOCK[minute]}"

    def weekday_month(self, day: int) -> tuple[int, int]:
        d = self.start + timedelta(days=day)
        return d.weekday(), d.month


class _LocationSimulation:
    """Day-by-day simulation of one location, streaming its rows to the writers."""

    def __init__(
        self,
        loc: Location,
        rng: random.Random,
        dates: _Dates,
        days: int,
        ids: _Ids,
        writers: dict[str, Any],
        counts: dict[str, int],
    ) -> None:
        self.loc = loc
        self.rng = rng
        self.dates = dates
        self.days = days
        self.now = days * DAY  # the export was taken at midnight after the last history day
        self.ids = ids
        self.writers = writers
        self.counts = counts
        self.pending: dict[int, list[Request]] = {}
        self.trained = [t.bar_trained for t in loc.therapists]
        # Each location shows every kind of deliberate data problem at least once: the first
        # past open day on or after these dates gets one (more follow at PROBLEM_RATE).
        self.forced = {kind: max(1, days * (i + 1) // 6) for i, kind in enumerate(PROBLEM_KINDS)}
        self.today: Calendar

    # ---- the day loop

    def run(self) -> None:
        """Write the location row, then every day of history and the 14 future days."""
        loc = self.loc
        self._write("locations", [(loc.location_id, loc.name, loc.timezone)])
        for day in range(self.days + FUTURE_DAYS):
            weekday, month = self.dates.weekday_month(day)
            hours = loc.hours[weekday]
            if hours is None or self._holiday(day):
                self._postpone(day)
                continue
            self.today = self._open_day(day, weekday, hours)
            requests = self._returning(day, month)
            requests += self._new_clients(day, weekday, month, len(requests))
            self._serve(requests, weekday)
            if day < self.days:
                self._deliberate_problems(day)
            self._write_bookings()

    def _holiday(self, day: int) -> bool:
        iso = self.dates.day(day)
        return iso.endswith(("-12-25", "-01-01"))

    def _returning(self, day: int, month: int) -> list[Request]:
        """Clients due back today; in slow months some put their visit off a few weeks."""
        requests = self.pending.pop(day, [])
        slack = 1.5 * (1 - MONTH_DEMAND[month - 1])
        if slack <= 0:
            return requests
        due = []
        for req in requests:
            if req.created is None and self.rng.random() < slack:
                self._plan(day + self.rng.randint(7, 21), req)
            else:
                due.append(req)
        return due

    def _postpone(self, day: int) -> None:
        """Clients who wanted a closed day come the next day instead."""
        waiting = self.pending.pop(day, None)
        if waiting:
            self.pending.setdefault(day + 1, []).extend(waiting)

    # ---- calendars: rooms and shifts

    def _open_day(self, day: int, weekday: int, hours: tuple[int, int]) -> Calendar:
        """Lay out today's room calendar and shifts, and write their rows."""
        rng, loc = self.rng, self.loc
        opens, closes = hours
        iso = self.dates.day(day)
        room_rows, room_busy, bar_rooms, plain_rooms = [], [], [], []
        for i, room in enumerate(loc.rooms):
            bars = room.has_bars(day)
            blocked = 0
            busy = 0
            if rng.random() < 0.04:  # deep clean or maintenance, kept out of the bookable time
                blocked = rng.choice((30, 30, 60, 60, 90, 120, 240))
                at = opens if rng.random() < 0.5 else rng.randrange(opens, closes - blocked, 30)
                busy = _mask(at, at + blocked)
            room_busy.append(busy)
            (bar_rooms if bars else plain_rooms).append(i)
            name = f"{room.name} (bars)" if bars else room.name
            room_rows.append(
                (iso, loc.location_id, room.room_id, name, _bool(bars),
                 CLOCK[opens], CLOCK[closes], blocked)
            )  # fmt: skip
        self._write("rooms", room_rows)

        count = len(loc.therapists)
        shift_mask, capacity, shift_rows, on_shift = [0] * count, [0] * count, [], []
        # Now and then on a busy day the studio's Ashiatsu star works open to close and takes
        # every bar client she can: this is where over-the-limit bar days come from.
        star_day = weekday in (3, 4, 5) and rng.random() < STAR_DAY_CHANCE
        for i, therapist in enumerate(loc.therapists):
            if star_day and i == loc.star:
                shifts = [(opens, closes, 30)]
            else:
                shifts = self._shifts(therapist, weekday, opens, closes)
            for start, end, pause in shifts:
                shift_mask[i] |= _mask(start, end)
                capacity[i] += end - start - pause
                shift_rows.append(
                    (iso, loc.location_id, therapist.therapist_id, therapist.name,
                     _bool(therapist.bar_trained), CLOCK[start], CLOCK[end], pause)
                )  # fmt: skip
            if shift_mask[i]:
                on_shift.append(i)
        self._write("therapist_shifts", shift_rows)
        return Calendar(
            day=day,
            opens=opens,
            closes=closes,
            room_busy=room_busy,
            bar_rooms=bar_rooms,
            plain_rooms=plain_rooms,
            shift_mask=shift_mask,
            capacity=capacity,
            ther_busy=[0] * count,
            bar_sessions=[0] * count,
            on_shift=on_shift,
            bar_team=[t for t in on_shift if loc.therapists[t].bar_trained],
            star=loc.star if star_day else -1,
        )

    def _shifts(
        self, therapist: Therapist, weekday: int, opens: int, closes: int
    ) -> list[tuple[int, int, int]]:
        """Today's shifts (start, end, break minutes): none on days off, sometimes split."""
        rng = self.rng
        works = weekday in therapist.workdays
        if works and rng.random() < 0.03:  # sick or swapped away
            return []
        if not works and rng.random() > 0.02:  # covering for a colleague, rarely
            return []
        length = min(therapist.hours, closes - opens)
        if closes - opens >= 9 * 60 and rng.random() < 0.1:
            # Split shift: morning and evening, with the quiet afternoon off.
            return [(opens, opens + 240, 0), (closes - 240, closes, 0)]
        if therapist.style == "early":
            start = opens
        elif therapist.style == "late":
            start = closes - length
        else:
            start = opens + 30 * rng.randint(0, (closes - opens - length) // 30)
        return [(start, start + length, 30 if length > 360 else 0)]

    # ---- demand

    def _new_clients(self, day: int, weekday: int, month: int, returning: int) -> list[Request]:
        """First-time clients: whatever the day's demand leaves after returning clients."""
        rng, loc = self.rng, self.loc
        demand = (
            loc.demand
            * WEEKDAY_DEMAND[weekday]
            * MONTH_DEMAND[month - 1]
            * (1 + loc.growth * day / 365)
            * rng.lognormvariate(0, 0.12)
        )
        count = max(round(0.22 * demand), round(demand) - returning)
        requests = []
        for _ in range(count):
            client = self._new_client()
            service = FIRST_VISIT if rng.random() < 0.45 else self._menu_choice()
            requests.append(Request(client, service))
        return requests

    def _new_client(self) -> Client:
        """A new client with a return habit: one-timer, occasional or regular."""
        rng = self.rng
        kind = rng.random()
        cid = self.ids.next_client()
        if kind < 0.42:
            return Client(cid, 0.08, rng.uniform(40, 90), False, 0.3)
        if kind < 0.80:
            return Client(cid, 0.55, rng.uniform(28, 60), False, 0.5)
        return Client(cid, 0.9, rng.uniform(14, 28), rng.random() < 0.6, 0.8)

    def _menu_choice(self) -> Service:
        rng = self.rng
        if rng.random() < self.loc.bar_share:
            return _weighted(rng, BAR_SERVICES, BAR_CUM_WEIGHTS)
        return _weighted(rng, NON_BAR_SERVICES, PLAIN_CUM_WEIGHTS)

    # ---- booking

    def _serve(self, requests: list[Request], weekday: int) -> None:
        """Place today's requests, longest-ago booked first (they got the pick of slots)."""
        rng, cal = self.rng, self.today
        same_day = cal.day * DAY + DAY  # same-day bookings come last: made on the day itself
        order = []
        for i, req in enumerate(requests):
            created = self._created(req, cal.day)
            order.append((same_day if created is None else created, i, created))
        order.sort()
        starts, cum = self.loc.start_grids[weekday]
        for made, i, created in order:
            req = requests[i]
            if made >= self.now:
                continue  # not booked yet when the export was taken
            wish = _weighted(rng, starts, cum)
            if rng.random() < 0.15:
                wish += rng.choice((5, 10))
            booking = self._book(req, wish, created)
            if booking is None and req.service.uses_bars and rng.random() < 0.6:
                req.service = rng.choice(NON_BAR_SERVICES[:2])  # "any massage will do"
                booking = self._book(req, wish, created)
            if booking is None:
                self._retry_later(req)

    def _created(self, req: Request, day: int) -> int | None:
        """When the booking was made (absolute minute); None = same day, set once placed."""
        if req.created is not None:
            return req.created
        rng = self.rng
        u = rng.random()
        if u < 0.18:
            return None
        if u < 0.3:
            lead = _between(rng, 1, 2)
        elif u < 0.7:
            lead = _between(rng, 2, 7)  # most book within the week
        else:
            lead = _between(rng, 8, 30)
        return (day - lead) * DAY + 5 * _between(rng, 8 * 12, 21 * 12 - 1)

    def _book(self, req: Request, wish: int, created: int | None) -> Booking | None:
        """Find a slot for a request near its wished start and commit it, or None."""
        cal, service, rng = self.today, req.service, self.rng
        if service.uses_bars:
            rooms = _rotated(rng, cal.bar_rooms)
            team = _rotated(rng, cal.bar_team)
        else:  # bar rooms only when the plain rooms are taken
            rooms = _rotated(rng, cal.plain_rooms) + cal.bar_rooms
            team = _rotated(rng, cal.on_shift)
        if not rooms or not team:
            return None
        usual = req.client.therapist
        if usual is not None and rng.random() < req.client.loyalty:
            if usual in team:
                team.remove(usual)
                team.insert(0, usual)
            elif rng.random() < 0.5:
                return None  # they would rather wait for their therapist's next day
        if cal.star in team:  # the front desk offers the star first, and for bar work only
            team.remove(cal.star)
            if service.uses_bars:
                team.insert(0, cal.star)
        gap = 15 if rng.random() >= BACK_TO_BACK_SHARE else 5 * _between(rng, 0, 2)
        slot = self._find_slot(service, wish, gap, rooms, team)
        if slot is None:
            return None
        return self._commit(req, slot, created)

    def _find_slot(
        self,
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
        cal, rng, duration = self.today, self.rng, service.minutes
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

    def _commit(
        self, req: Request, slot: tuple[int, int, int], created: int | None, *, held: bool = False
    ) -> Booking:
        """Decide what became of the booking, mark the calendar, and plan what comes next."""
        rng, cal = self.rng, self.today
        start, room, t = slot
        service = req.service
        end = start + service.minutes
        day_start = cal.day * DAY
        if created is None:  # booked the same day, a little before
            created = max(day_start + 7 * 60, day_start + start - _between(rng, 30, 300))
        status, cancelled = self._outcome(day_start + start, created, held)
        booking = Booking(start, end, room, t, req.client.client_id, service, status, created,
                          cancelled)  # fmt: skip
        cal.bookings.append(booking)
        if status in ("completed", "booked", "no_show"):  # held: occupies room and therapist
            core = _mask(start, end)
            cal.room_busy[room] |= core
            cal.ther_busy[t] |= core
            cal.capacity[t] -= service.minutes
            cal.bar_sessions[t] += service.uses_bars
        self._follow_up(req, booking, day_start)
        return booking

    def _outcome(self, start: int, created: int, held: bool) -> tuple[str, int | None]:
        """Status and cancellation time: future ones are booked, past ones mostly completed."""
        if start >= self.now:
            return "booked", None
        if held:
            return "completed", None
        rng = self.rng
        u = rng.random()
        if u < NO_SHOW_RATE:
            return "no_show", None
        if u >= NO_SHOW_RATE + CANCEL_RATE:
            return "completed", None
        notice = start - created
        if rng.random() < LATE_SHARE or notice <= LATE_CANCEL_MINUTES + 60:
            cancelled = start - rng.randint(30, max(30, min(notice, LATE_CANCEL_MINUTES - 30)))
            # Some systems say "late cancel", others just "cancelled": derived from the times.
            word = "late_cancelled" if rng.random() < 0.5 else "cancelled"
            return word, max(created, cancelled)
        return "cancelled", rng.randint(created, start - LATE_CANCEL_MINUTES - 60)

    def _follow_up(self, req: Request, booking: Booking, day_start: int) -> None:
        """Plan the client's next visit: a return, a reschedule, or nothing."""
        rng, client, day = self.rng, req.client, self.today.day
        if booking.status == "completed":
            client.visits += 1
            client.therapist = booking.therapist
            client.usual = BAR_SERVICES[1] if booking.service is FIRST_VISIT else booking.service
            if rng.random() >= client.propensity:
                return
            gap = client.gap_days * rng.lognormvariate(0, 0.35)
            # Season: visits come sooner when they would fall in a busy month, later in August.
            _, month = self.dates.weekday_month(day + round(gap))
            gap = max(7, round(gap / MONTH_DEMAND[month - 1] ** 2))
            if client.same_weekday:
                gap = 7 * max(1, round(gap / 7))
            service = client.usual if rng.random() < 0.7 else self._menu_choice()
            created = None
            # "Rebooking at checkout": regulars especially book the next visit on the way out.
            if rng.random() < (0.6 if client.same_weekday else 0.35):
                created = day_start + booking.end + _between(rng, 2, 15)
            self._plan(day + gap, Request(client, service, created))
        elif booking.status == "no_show":
            if rng.random() < 0.5:
                self._plan(day + _between(rng, 3, 14), Request(client, req.service))
        elif booking.status != "booked" and rng.random() < 0.6:
            self._plan(day + _between(rng, 2, 21), Request(client, req.service))

    def _retry_later(self, req: Request) -> None:
        """No slot today: returning clients try another day; some new ones do too."""
        if req.retries >= 3 or (req.client.visits == 0 and self.rng.random() < 0.5):
            return
        req.retries += 1
        req.created = None
        self._plan(self.today.day + _between(self.rng, 1, 3), req)

    def _plan(self, day: int, req: Request) -> None:
        if day < self.days + FUTURE_DAYS:
            self.pending.setdefault(day, []).append(req)

    # ---- deliberate data problems

    def _deliberate_problems(self, day: int) -> None:
        """Now and then create the faults data-quality views exist to find."""
        rng = self.rng
        makers = {
            "room_double_booking": self._problem_room_double_booking,
            "bar_in_plain_room": self._problem_bar_in_plain_room,
            "untrained_bar_session": self._problem_untrained_bar_session,
            "outside_shift": self._problem_outside_shift,
        }
        for kind, make in makers.items():
            due = self.forced.get(kind, self.days + 1) <= day
            if (due or rng.random() < PROBLEM_RATE) and make():
                self.forced.pop(kind, None)

    def _problem_request(self, service: Service) -> Request:
        return Request(self._new_client(), service)

    def _wish(self) -> int:
        cal = self.today
        return self.rng.randrange(cal.opens, cal.closes - 120, 15)

    def _problem_room_double_booking(self) -> bool:
        """A second held booking in a room already taken at that time."""
        cal, rng = self.today, self.rng
        held = [b for b in cal.bookings if b.status in ("completed", "no_show")]
        if not held:
            return False
        target = rng.choice(held)
        service = NON_BAR_SERVICES[0]
        start = min(target.start + 30, cal.closes - service.minutes)
        if start < target.start or start >= target.end:
            return False
        slot = self._find_slot(service, start, 15, [target.room], cal.on_shift, room_check=False)
        if slot is None or slot[0] >= target.end or slot[0] + service.minutes <= target.start:
            return False
        self._commit(self._problem_request(service), slot, None, held=True)
        return True

    def _problem_bar_in_plain_room(self) -> bool:
        """A bar service booked into a room without bars."""
        cal = self.today
        team = [t for t in cal.on_shift if self.trained[t]]
        return self._forced_booking(BAR_SERVICES[0], cal.plain_rooms, team)

    def _problem_untrained_bar_session(self) -> bool:
        """A bar session given by a therapist who is not bar-trained."""
        cal = self.today
        team = [t for t in cal.on_shift if not self.trained[t]]
        return self._forced_booking(BAR_SERVICES[0], cal.bar_rooms, team)

    def _problem_outside_shift(self) -> bool:
        """A booking for a therapist who is not on shift at that time."""
        cal = self.today
        team = sorted(range(len(self.trained)), key=lambda t: (cal.shift_mask[t] != 0, t))
        return self._forced_booking(NON_BAR_SERVICES[0], cal.plain_rooms, team, in_shift=False)

    def _forced_booking(
        self, service: Service, rooms: list[int], team: list[int], *, in_shift: bool = True
    ) -> bool:
        if not rooms or not team or self.today.closes - self.today.opens < 180:
            return False
        slot = self._find_slot(service, self._wish(), 15, rooms, team, in_shift=in_shift)
        if slot is None:
            return False
        self._commit(self._problem_request(service), slot, None, held=True)
        return True

    # ---- output

    def _write_bookings(self) -> None:
        """Today's bookings in start order, numbered in the location's id block."""
        loc, dates, cal = self.loc, self.dates, self.today
        day_start = cal.day * DAY
        rooms, team = loc.rooms, loc.therapists
        rows = []
        for b in sorted(cal.bookings, key=lambda b: (b.start, b.room, b.therapist, b.created)):
            rows.append(
                (
                    self.ids.next_booking(),
                    loc.location_id,
                    rooms[b.room].room_id,
                    team[b.therapist].therapist_id,
                    b.client_id,
                    b.service.name,
                    _bool(b.service.uses_bars),
                    dates.stamp(day_start + b.start),
                    dates.stamp(day_start + b.end),
                    b.status,
                    dates.stamp(b.created),
                    "" if b.cancelled is None else dates.stamp(b.cancelled),
                    "" if b.status in CANCELLED else loc.prices[b.service.name],
                )
            )
        self._write("bookings", rows)

    def _write(self, kind: str, rows: list[tuple]) -> None:
        self.writers[kind].writerows(rows)
        self.counts[kind] += len(rows)


PROBLEM_KINDS = (
    "room_double_booking",
    "bar_in_plain_room",
    "untrained_bar_session",
    "outside_shift",
)
CANCELLED = ("cancelled", "late_cancelled")


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --- public entry point --------------------------------------------------------------------


@dataclass(frozen=True)
class _Chain:
    """What every location's simulation needs to know about the whole run (picklable)."""

    outdir: Path
    days: int
    seed: int
    start: date


def _simulate(chain: _Chain, index: int, writers: dict[str, Any]) -> dict[str, int]:
    """Simulate one location into the writers; return its row counts."""
    # A string seed is hashed with SHA-512 by random.Random: stable across runs and machines.
    rng = random.Random(f"studio-ops:{chain.seed}:{index}")
    loc = _build_location(index, rng, chain.days)
    counts = dict.fromkeys(HEADERS, 0)
    dates = _Dates(chain.start, chain.days)
    _LocationSimulation(loc, rng, dates, chain.days, _Ids(index), writers, counts).run()
    return counts


def _simulate_to_parts(chain: _Chain, index: int) -> tuple[dict[str, int], dict[str, Path]]:
    """Worker process: simulate one location into its own headerless part files."""
    parts = {kind: chain.outdir / f".{kind}.part{index:05d}.csv" for kind in HEADERS}
    with ExitStack() as stack:
        writers = {
            kind: csv.writer(
                stack.enter_context(open(path, "w", encoding="utf-8", newline="")),
                lineterminator="\n",
            )
            for kind, path in parts.items()
        }
        counts = _simulate(chain, index, writers)
    return counts, parts


def _worker_count(locations: int) -> int:
    """Processes to use: one per CPU for big chains; small ones are quicker in-process."""
    if locations < PARALLEL_FROM_LOCATIONS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, locations))


def _locations_in_parallel(
    chain: _Chain, locations: int, workers: int
) -> Iterator[tuple[dict[str, int], dict[str, Path]]]:
    """Each location's counts and part files, in location order, simulated by a pool."""
    # "spawn": never fork a process that may be running threads (Streamlit, test runners).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # Submit a bounded window ahead, so finished parts never pile up on disk.
        window: deque[Future] = deque()
        for index in range(locations):
            window.append(pool.submit(_simulate_to_parts, chain, index))
            if len(window) > 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def write_chain(
    outdir: Path,
    *,
    locations: int = 3,
    days: int = 365,
    seed: int = 42,
    start: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Write native exports of a synthetic chain into outdir; return row counts per kind.

    The history covers [start, start + days) (default: ending yesterday); bookings, rooms and
    shifts continue 14 days past it, with the future bookings all `booked`.
    """
    if locations < 1 or days < 1:
        raise ValueError("locations and days must be positive")
    if start is None:
        start = date.today() - timedelta(days=days)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    chain = _Chain(outdir, days, seed, start)
    workers = _worker_count(locations)
    counts = dict.fromkeys(HEADERS, 0)
    with ExitStack() as stack:
        handles = {
            kind: stack.enter_context(
                open(outdir / f"{kind}.csv", "w", encoding="utf-8", newline="")
            )
            for kind in HEADERS
        }
        writers = {
            kind: csv.writer(handle, lineterminator="\n") for kind, handle in handles.items()
        }
        for kind, header in HEADERS.items():
            writers[kind].writerow(header)
        if workers == 1:
            # Stream straight into the files: one location in memory at a time.
            for index in range(locations):
                _add(counts, _simulate(chain, index, writers))
                if progress is not None:
                    progress(index + 1, locations)
        else:
            for done, (location_counts, parts) in enumerate(
                _locations_in_parallel(chain, locations, workers), start=1
            ):
                for kind, path in parts.items():
                    handles[kind].flush()
                    with open(path, encoding="utf-8", newline="") as part:
                        shutil.copyfileobj(part, handles[kind], 1 << 20)
                    path.unlink()
                _add(counts, location_counts)
                if progress is not None:
                    progress(done, locations)
    return counts


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for kind, count in more.items():
        total[kind] += count
