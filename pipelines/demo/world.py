"""The demo chain's world: the service menu, the cities, names and demand curves, and the
records a simulation works with (rooms, therapists, locations, clients, requests, bookings and
a day's calendar), plus the drawing of one location.

Times are minutes: a day's calendar uses minutes after midnight, and an "absolute" minute counts
from midnight of the history's first day (``day * 1440 + minute``). Occupancy is kept as Python
int bitmasks with one bit per 5-minute slot, which makes "is this room free then?" one AND.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate

SLOT = 5  # minutes per bit in the occupancy masks
DAY = 1440


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


def between(rng: random.Random, low: int, high: int) -> int:
    """Like rng.randint(low, high), several times cheaper (this runs millions of times)."""
    return low + int(rng.random() * (high - low + 1))


def weighted(rng: random.Random, items: Sequence, cum_weights: list[float]):
    """Like rng.choices(items, cum_weights=...)[0], without the per-call overhead."""
    return items[bisect(cum_weights, rng.random() * cum_weights[-1])]


def rotated(rng: random.Random, items: list[int]) -> list[int]:
    """The list started at a random point, so no room or therapist is always asked first."""
    k = int(rng.random() * len(items))
    return items[k:] + items[:k]


def slot_mask(start: int, end: int) -> int:
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


def build_location(index: int, rng: random.Random, days: int) -> Location:
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
