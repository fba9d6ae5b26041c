"""The studio profile: a studio describes its locations, rooms, hours and therapists once.

A profile is a TOML file (`studio-ops load studio.toml` recognises it by its content):

    [[location]]
    id = "L01"
    name = "Eastside Ashiatsu"
    timezone = "America/Chicago"
    opened_on = "2024-03-01"                      # optional: clients are new from this day
    opening_hours = { tue = "09:00-20:00", sat = "09:00-18:00" }   # a missing day is closed
    closed_on = ["2026-12-25"]
    rooms = [{ id = "cedar", name = "Cedar", bars = true }, { id = "oak", bars = false }]

    [[location.therapist]]
    id = "maya"
    name = "Maya Chen"
    also_known_as = ["Chen, Maya"]                # how booking exports write her name
    bar_trained = true                            # leave out when unknown
    shifts = { tue = "09:00-17:00", fri = ["09:00-12:00", "13:00-18:00"] }
    break_minutes = 30
    time_off = ["2026-12-24"]

This module parses and checks a profile (every problem is one line naming the key), and expands
it to the room-calendar and shift rows of a date range: a room row for every room on every open
day, a shift row for every shift piece on every working day (not on the location's closed days or
the therapist's time off). It also gives the name index that matches booking exports' display
names ("Chen, Maya", "Eastside Ashiatsu") to the profile's ids.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LOCATION_KEYS = {
    "id",
    "name",
    "timezone",
    "opened_on",
    "opening_hours",
    "closed_on",
    "rooms",
    "therapist",
}
_ROOM_KEYS = {"id", "name", "bars"}
_THERAPIST_KEYS = {
    "id",
    "name",
    "also_known_as",
    "bar_trained",
    "shifts",
    "break_minutes",
    "time_off",
}


class ProfileError(ValueError):
    """A profile that cannot be used; the message is one line naming the key and the problem."""


@dataclass(frozen=True)
class Room:
    id: str
    name: str
    bars: bool


@dataclass(frozen=True)
class Therapist:
    id: str
    name: str
    also_known_as: tuple[str, ...]
    bar_trained: bool | None  # None: the profile does not say (unknown, not "no")
    # weekday (0 = Monday) -> the day's shift pieces, in order
    shifts: dict[int, tuple[tuple[time, time], ...]]
    break_minutes: int
    time_off: frozenset[date]


@dataclass(frozen=True)
class Location:
    id: str
    name: str
    timezone: str | None
    opened_on: date | None
    opening_hours: dict[int, tuple[time, time]]  # weekday -> (opens_at, closes_at)
    closed_on: frozenset[date]
    rooms: tuple[Room, ...]
    therapists: tuple[Therapist, ...]


@dataclass(frozen=True)
class Profile:
    locations: tuple[Location, ...]
    source: str = field(default="studio profile", compare=False)

    def location(self, location_id: str) -> Location | None:
        return next((loc for loc in self.locations if loc.id == location_id), None)


def looks_like_profile(text: str) -> bool:
    """Whether `text` is a studio profile (TOML with [[location]] tables), by content."""
    if "[[location" not in text and "[location" not in text:
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return isinstance(data.get("location"), list)


def read_profile(path: Path | str) -> Profile:
    """Parse and check the profile at `path`; ProfileError (one line) when it cannot be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(f"{path.name}: cannot read the profile ({error})") from None
    return parse_profile(text, path.name)


def parse_profile(text: str, source: str = "studio profile") -> Profile:
    """Parse and check a profile's TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{source}: not valid TOML ({error})") from None
    unknown = sorted(set(data) - {"location"})
    if unknown:
        raise ProfileError(f"{source}: unknown key '{unknown[0]}' (a profile has [[location]])")
    raw_locations = data.get("location")
    if not isinstance(raw_locations, list) or not raw_locations:
        raise ProfileError(f"{source}: no [[location]] table")
    locations = tuple(_location(raw, source, n) for n, raw in enumerate(raw_locations, 1))
    _check_unique([loc.id for loc in locations], f"{source}: location id")
    _check_therapists_across_locations(locations, source)
    return Profile(locations, source)


# --- parsing pieces --------------------------------------------------------------------------


def _location(raw: object, source: str, number: int) -> Location:
    where = f"{source}: location {number}"
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: must be a table")
    location_id = _ident(raw.get("id"), f"{where}: id")
    where = f"{source}: location {location_id}"
    _no_unknown_keys(raw, _LOCATION_KEYS, where)
    name = _text(raw.get("name", location_id), f"{where}: name")
    timezone = raw.get("timezone")
    if timezone is not None:
        timezone = _text(timezone, f"{where}: timezone")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProfileError(
                f"{where}: timezone '{timezone}' is not a known time zone "
                "(use a name such as 'America/Chicago')"
            ) from None
    opened_on = raw.get("opened_on")
    if opened_on is not None:
        opened_on = _date(opened_on, f"{where}: opened_on")
    hours = {}
    for day, value in _weekly(raw.get("opening_hours", {}), f"{where}: opening_hours").items():
        if isinstance(value, list):
            raise ProfileError(
                f"{where}: opening_hours.{WEEKDAYS[day]} must be one range such as "
                "'09:00-20:00' (a room is open once a day)"
            )
        hours[day] = _hours(value, f"{where}: opening_hours.{WEEKDAYS[day]}")
    closed_on = _dates(raw.get("closed_on", []), f"{where}: closed_on")
    rooms = tuple(_room(r, where, n) for n, r in enumerate(_list(raw.get("rooms", []), where), 1))
    _check_unique([room.id for room in rooms], f"{where}: room id")
    raw_therapists = raw.get("therapist", [])
    if not isinstance(raw_therapists, list):
        raise ProfileError(f"{where}: therapist must be [[location.therapist]] tables")
    therapists = tuple(_therapist(t, where, n) for n, t in enumerate(raw_therapists, 1))
    _check_unique([t.id for t in therapists], f"{where}: therapist id")
    return Location(location_id, name, timezone, opened_on, hours, closed_on, rooms, therapists)


def _room(raw: object, where: str, number: int) -> Room:
    if not isinstance(raw, dict):
        raise ProfileError(f'{where}: rooms[{number}] must be a table such as {{ id = "cedar" }}')
    room_id = _ident(raw.get("id"), f"{where}: rooms[{number}].id")
    _no_unknown_keys(raw, _ROOM_KEYS, f"{where}: room {room_id}")
    bars = raw.get("bars", False)
    if not isinstance(bars, bool):
        raise ProfileError(f"{where}: room {room_id}: bars must be true or false")
    return Room(room_id, _text(raw.get("name", room_id), f"{where}: room {room_id}: name"), bars)


def _therapist(raw: object, where: str, number: int) -> Therapist:
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: therapist {number} must be a table")
    therapist_id = _ident(raw.get("id"), f"{where}: therapist {number}: id")
    where = f"{where}: therapist {therapist_id}"
    _no_unknown_keys(raw, _THERAPIST_KEYS, where)
    name = _text(raw.get("name", therapist_id), f"{where}: name")
    aliases = raw.get("also_known_as", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise ProfileError(f"{where}: also_known_as must be a list of names")
    bar_trained = raw.get("bar_trained")
    if bar_trained is not None and not isinstance(bar_trained, bool):
        raise ProfileError(f"{where}: bar_trained must be true or false (leave it out if unknown)")
    shifts = {}
    for day, value in _weekly(raw.get("shifts", {}), f"{where}: shifts").items():
        key = f"{where}: shifts.{WEEKDAYS[day]}"
        pieces = value if isinstance(value, list) else [value]
        if not pieces:
            continue
        parsed = sorted(_hours(piece, key) for piece in pieces)
        for (_, end), (start, _) in zip(parsed, parsed[1:], strict=False):
            if start < end:
                raise ProfileError(f"{key}: shift pieces overlap ({_span(parsed)})")
        shifts[day] = tuple(parsed)
    break_minutes = raw.get("break_minutes", 0)
    if not isinstance(break_minutes, int) or isinstance(break_minutes, bool) or break_minutes < 0:
        raise ProfileError(f"{where}: break_minutes must be a whole number >= 0")
    for day, pieces in shifts.items():
        worked = sum(_minutes(start, end) for start, end in pieces)
        if break_minutes >= worked:
            raise ProfileError(
                f"{where}: break_minutes ({break_minutes}) is not shorter than the "
                f"{WEEKDAYS[day]} shift ({worked} min)"
            )
    return Therapist(
        therapist_id,
        name,
        tuple(a.strip() for a in aliases),
        bar_trained,
        shifts,
        break_minutes,
        _dates(raw.get("time_off", []), f"{where}: time_off"),
    )


def _weekly(raw: object, where: str) -> dict[int, object]:
    if not isinstance(raw, dict):
        raise ProfileError(f'{where}: must be a table such as {{ tue = "09:00-17:00" }}')
    days = {}
    for key, value in raw.items():
        day = key.strip().lower()[:3]
        if day not in WEEKDAYS or key.strip().lower() not in (day, _FULL_DAY[day]):
            raise ProfileError(f"{where}: unknown weekday '{key}' (use {', '.join(WEEKDAYS)})")
        if WEEKDAYS.index(day) in days:
            raise ProfileError(f"{where}: {day} is given twice")
        days[WEEKDAYS.index(day)] = value
    return days


_FULL_DAY = dict(
    zip(
        WEEKDAYS,
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        strict=True,
    )
)


def _hours(value: object, where: str) -> tuple[time, time]:
    match = _HOURS.match(value) if isinstance(value, str) else None
    if not match:
        raise ProfileError(f"{where}: '{value}' is not a time range such as '09:00-17:00'")
    h1, m1, h2, m2 = map(int, match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ProfileError(f"{where}: '{value}' is not a time of day (00:00 to 23:59)")
    start, end = time(h1, m1), time(h2, m2)
    if end <= start:
        raise ProfileError(
            f"{where}: '{value}' ends before it starts (a range cannot cross midnight)"
        )
    return start, end


def _minutes(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def _span(pieces) -> str:
    return ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in pieces)


def _date(value: object, where: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ProfileError(f"{where}: '{value}' is not a date (YYYY-MM-DD)")


def _dates(value: object, where: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise ProfileError(f'{where}: must be a list of dates such as ["2026-12-25"]')
    return frozenset(_date(v, where) for v in value)


def _list(value: object, where: str) -> list:
    if not isinstance(value, list):
        raise ProfileError(f"{where}: rooms must be a list of tables")
    return value


def _ident(value: object, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _ID.match(value.strip()):
        raise ProfileError(
            f"{where}: '{value}' is not an id (letters, digits, '.', '_' or '-', up to 64)"
        )
    return value.strip()


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}: must be text")
    return value.strip()


def _no_unknown_keys(raw: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ProfileError(
            f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})"
        )


def _check_unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item.lower() in seen:
            raise ProfileError(f"{what} '{item}' is used twice")
        seen.add(item.lower())


def _check_therapists_across_locations(locations: tuple[Location, ...], source: str) -> None:
    """A therapist may work at several locations, but not at two at the same hours."""
    worked: dict[str, list[tuple[str, int, time, time]]] = {}
    for loc in locations:
        for therapist in loc.therapists:
            for day, pieces in therapist.shifts.items():
                for start, end in pieces:
                    for other_loc, other_day, o_start, o_end in worked.get(therapist.id, []):
                        if (
                            other_loc != loc.id
                            and other_day == day
                            and _overlap(start, end, o_start, o_end)
                        ):
                            raise ProfileError(
                                f"{source}: therapist {therapist.id} works at {other_loc} and "
                                f"{loc.id} at overlapping hours on {WEEKDAYS[day]}"
                            )
                    worked.setdefault(therapist.id, []).append((loc.id, day, start, end))


def _overlap(s1: time, e1: time, s2: time, e2: time) -> bool:
    return s1 < e2 and s2 < e1


# --- expansion -------------------------------------------------------------------------------


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def room_rows(location: Location, first: date, last: date) -> Iterator[dict[str, object]]:
    """Room-calendar rows of `location` for every open day in [first, last], in room order."""
    for day in _days(first, last):
        hours = location.opening_hours.get(day.weekday())
        if hours is None or day in location.closed_on:
            continue
        for order, room in enumerate(location.rooms):
            yield {
                "date": day,
                "location_id": location.id,
                "room_id": room.id,
                "room_name": room.name,
                "has_bars": room.bars,
                "opens_at": hours[0],
                "closes_at": hours[1],
                "blocked_minutes": 0,
                "room_order": order,
            }


def shift_rows(location: Location, first: date, last: date) -> Iterator[dict[str, object]]:
    """Shift rows of `location`'s therapists for every working day in [first, last].

    No shifts on the location's closed days or the therapist's time off. The day's break is
    taken from its first shift piece (a shift row holds one break).
    """
    for day in _days(first, last):
        if day in location.closed_on:
            continue
        for therapist in location.therapists:
            pieces = therapist.shifts.get(day.weekday())
            if not pieces or day in therapist.time_off:
                continue
            for number, (start, end) in enumerate(pieces):
                yield {
                    "date": day,
                    "location_id": location.id,
                    "therapist_id": therapist.id,
                    "therapist_name": therapist.name,
                    "bar_trained": therapist.bar_trained,
                    "shift_start": start,
                    "shift_end": end,
                    "break_minutes": therapist.break_minutes if number == 0 else 0,
                }


# --- names -----------------------------------------------------------------------------------


def name_key(name: str) -> str:
    """How display names are compared: case, spacing and punctuation around words ignored."""
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())


def therapist_names(profile: Profile) -> dict[tuple[str, str], str]:
    """(location_id, name_key) -> therapist id, for every id, name and also_known_as."""
    index: dict[tuple[str, str], str] = {}
    for loc in profile.locations:
        for therapist in loc.therapists:
            for name in (therapist.id, therapist.name, *therapist.also_known_as):
                index.setdefault((loc.id, name_key(name)), therapist.id)
    return index


def location_names(profile: Profile) -> dict[str, str]:
    """name_key -> location id, for every location's id and name."""
    index: dict[str, str] = {}
    for loc in profile.locations:
        for name in (loc.id, loc.name):
            index.setdefault(name_key(name), loc.id)
    return index


# --- the profile in the warehouse --------------------------------------------------------------


def stored_profile(con) -> Profile | None:
    """The profile loaded last into the warehouse on `con` (table studio_profile), or None.

    Works on a read-only snapshot and on a warehouse built before profiles existed."""
    has_table = con.execute(
        "select count(*) from duckdb_tables() where table_name = 'studio_profile' and not temporary"
    ).fetchone()[0]
    if not has_table:
        return None
    row = con.execute(
        "select profile_toml, file_name from studio_profile "
        "order by loaded_at desc, rowid desc limit 1"
    ).fetchone()
    if row is None:
        return None
    return parse_profile(row[0], row[1])


# --- writing ---------------------------------------------------------------------------------


def to_toml(profile: Profile, notes: dict[str, str] | None = None) -> str:
    """The profile as TOML text that parse_profile reads back to an equal profile.

    `notes` maps a location id, or "location_id/therapist_id", to a comment written above its
    table (profile suggest says there what it guessed).
    """
    notes = notes or {}
    out: list[str] = []
    for loc in profile.locations:
        if out:
            out.append("")
        out.extend(f"# {line}" for line in notes.get(loc.id, "").splitlines())
        out.append("[[location]]")
        out.append(f"id = {_q(loc.id)}")
        out.append(f"name = {_q(loc.name)}")
        if loc.timezone:
            out.append(f"timezone = {_q(loc.timezone)}")
        if loc.opened_on:
            out.append(f'opened_on = "{loc.opened_on.isoformat()}"')
        hours = ", ".join(
            f'{WEEKDAYS[day]} = "{s:%H:%M}-{e:%H:%M}"'
            for day, (s, e) in sorted(loc.opening_hours.items())
        )
        out.append(f"opening_hours = {{ {hours} }}" if hours else "opening_hours = {}")
        out.append(f"closed_on = {_dates_toml(loc.closed_on)}")
        out.append("rooms = [")
        for room in loc.rooms:
            bars = "true" if room.bars else "false"
            out.append(f"  {{ id = {_q(room.id)}, name = {_q(room.name)}, bars = {bars} }},")
        out.append("]")
        for therapist in loc.therapists:
            out.append("")
            key = f"{loc.id}/{therapist.id}"
            out.extend(f"# {line}" for line in notes.get(key, "").splitlines())
            out.append("[[location.therapist]]")
            out.append(f"id = {_q(therapist.id)}")
            out.append(f"name = {_q(therapist.name)}")
            aliases = ", ".join(_q(a) for a in therapist.also_known_as)
            out.append(f"also_known_as = [{aliases}]")
            if therapist.bar_trained is not None:
                out.append(f"bar_trained = {'true' if therapist.bar_trained else 'false'}")
            shifts = []
            for day, pieces in sorted(therapist.shifts.items()):
                ranges = [f'"{s:%H:%M}-{e:%H:%M}"' for s, e in pieces]
                value = ranges[0] if len(ranges) == 1 else f"[{', '.join(ranges)}]"
                shifts.append(f"{WEEKDAYS[day]} = {value}")
            out.append(f"shifts = {{ {', '.join(shifts)} }}" if shifts else "shifts = {}")
            out.append(f"break_minutes = {therapist.break_minutes}")
            out.append(f"time_off = {_dates_toml(therapist.time_off)}")
    return "\n".join(out) + "\n"


def _q(text: str) -> str:
    """A TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c >= " " or c == "\t" else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def _dates_toml(days: frozenset[date]) -> str:
    return "[" + ", ".join(f'"{d.isoformat()}"' for d in sorted(days)) + "]"
