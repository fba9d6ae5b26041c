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

from pipelines.canonical import KINDS

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


def room_names(profile: Profile) -> dict[tuple[str, str], str]:
    """(location_id, name_key) -> room id, for every room's id and name."""
    index: dict[tuple[str, str], str] = {}
    for loc in profile.locations:
        for room in loc.rooms:
            for name in (room.id, room.name):
                index.setdefault((loc.id, name_key(name)), room.id)
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


# A file is taken for a profile when a `[[location]]` table starts a line of its first bytes.
PROFILE_HEAD_BYTES = 65536
_PROFILE_START = re.compile(r"^[ \t]*\[\[[ \t]*location[ \t]*\]\]", re.MULTILINE)


def starts_like_profile(head: bytes) -> bool:
    """Whether a file whose first bytes are `head` is meant as a studio profile.

    Only the start is looked at, so a broken profile is still recognised (and refused with
    its TOML error) rather than read as an unknown export; mapping files have no [[location]]."""
    return bool(_PROFILE_START.search(head.decode("utf-8", errors="replace")))


def read_profile_file(path: Path, source: str, max_kb: int) -> tuple[str, Profile]:
    """The text and the checked profile of the file at `path` (named `source` in messages)."""
    size = path.stat().st_size
    if size > max_kb * 1024:
        raise ProfileError(
            f"{source}: the profile is larger than {max_kb:,} KB, the limit "
            "(the max_profile_kb setting raises it)"
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProfileError(
            f"{source}: not UTF-8 text (byte {error.start + 1}); save the profile as UTF-8"
        ) from None
    return text, parse_profile(text, source)


def store_profile(con, profile: Profile, text: str, file_name: str, load_id: int) -> None:
    """Keep `text` as the profile in force and write its locations as location rows.

    Runs inside the caller's transaction. A location row replaces the location's earlier row
    (name, time zone, opened_on); locations no longer in the profile keep theirs. Bookings
    loaded before the profile get its ids for the display names they carry (apply_names), so
    exports loaded first and a profile made from them (`profile suggest`) meet; so do stored
    room-calendar and shift rows."""
    con.execute("insert into studio_profile values (now()::timestamp, ?, ?)", [file_name, text])
    for number, loc in enumerate(profile.locations, 1):
        con.execute("delete from raw_locations where location_id = ?", [loc.id])
        con.execute(
            "insert into raw_locations (location_id, name, timezone, opened_on, load_id, "
            "line_number) values (?, ?, ?, ?, ?, ?)",
            [loc.id, loc.name, loc.timezone, loc.opened_on, load_id, number],
        )
    apply_names(con, "raw_bookings")
    for kind in ("rooms", "therapist_shifts"):
        apply_names(con, f"raw_{kind}", KINDS[kind].key)


def expand_profile(con, days_ahead: int, today: date) -> int:
    """Re-make profile_rooms and profile_shifts from the stored profile; the location-days
    whose rows changed are returned (a count) and added to the load's change log
    (`changed_location_days`, when it is kept), so the marts of those days are refreshed.

    Each location is expanded from its first booking day (today when it has none) to
    `days_ahead` days after `today`. The rows are made in SQL from the profile's weekly
    pattern (the same rows as room_rows / shift_rows), so a long history costs no Python loop.
    """
    profile = stored_profile(con)
    locations = profile.locations if profile else ()
    _pattern_tables(con, locations)
    con.execute(
        """
        create or replace temp table profile_ranges as
        select
            pattern.location_id,
            coalesce(first_bookings.first_day, cast(? as date)) as first_day,
            cast(? as date) as last_day,
        from profile_pattern_locations as pattern
        left join (
            select location_id, min(cast(start_at as date)) as first_day
            from raw_bookings
            semi join profile_pattern_locations using (location_id)
            group by location_id
        ) as first_bookings using (location_id)
        """,
        [today, today + timedelta(days=days_ahead)],
    )
    con.execute(
        """
        create or replace temp table profile_days as
        select location_id, cast(unnest(generate_series(
            cast(first_day as timestamp), cast(last_day as timestamp), interval 1 day
        )) as date) as date
        from profile_ranges
        where first_day <= last_day;

        -- open days: the weekday has hours and the day is not a closed day
        create or replace temp table profile_rooms__new as
        select
            days.date, days.location_id, rooms.room_id, rooms.room_name, rooms.has_bars,
            hours.opens_at, hours.closes_at, 0 as blocked_minutes, rooms.room_order,
        from profile_days as days
        inner join profile_pattern_hours as hours
            on hours.location_id = days.location_id and hours.weekday = isodow(days.date) - 1
        inner join profile_pattern_rooms as rooms on rooms.location_id = days.location_id
        anti join profile_pattern_closed as closed
            on closed.location_id = days.location_id and closed.date = days.date;

        -- working days: a shift that weekday, not a closed day, not the therapist's time off;
        -- a day's break is held by its first shift piece
        create or replace temp table profile_shifts__new as
        select
            days.date, days.location_id, pieces.therapist_id, pieces.therapist_name,
            pieces.bar_trained, pieces.shift_start, pieces.shift_end,
            case when pieces.piece = 0 then pieces.break_minutes else 0 end as break_minutes,
        from profile_days as days
        inner join profile_pattern_shifts as pieces
            on pieces.location_id = days.location_id and pieces.weekday = isodow(days.date) - 1
        anti join profile_pattern_closed as closed
            on closed.location_id = days.location_id and closed.date = days.date
        anti join profile_pattern_time_off as time_off
            on time_off.location_id = days.location_id
            and time_off.therapist_id = pieces.therapist_id
            and time_off.date = days.date;

        create or replace temp table profile_changed_days as
        select distinct location_id, date from (
            select location_id, date from (
                select * from profile_rooms except all select * from profile_rooms__new
            )
            union all
            select location_id, date from (
                select * from profile_rooms__new except all select * from profile_rooms
            )
            union all
            select location_id, date from (
                select * from profile_shifts except all select * from profile_shifts__new
            )
            union all
            select location_id, date from (
                select * from profile_shifts__new except all select * from profile_shifts
            )
        );
        """
    )
    # the therapists listed per location, for the therapist_not_in_profile finding
    con.execute("delete from profile_therapists")
    listed = [(loc.id, t.id) for loc in locations for t in loc.therapists]
    listed += [(loc.id, None) for loc in locations if not loc.therapists]
    if listed:
        con.executemany("insert into profile_therapists values (?, ?)", listed)
    changed = con.execute("select count(*) from profile_changed_days").fetchone()[0]
    if changed:
        con.execute(
            """
            delete from profile_rooms;
            insert into profile_rooms select * from profile_rooms__new;
            delete from profile_shifts;
            insert into profile_shifts select * from profile_shifts__new;
            """
        )
        logged = con.execute(
            "select count(*) from duckdb_tables() "
            "where table_name = 'changed_location_days' and temporary"
        ).fetchone()[0]
        if logged:
            con.execute("insert into changed_location_days select * from profile_changed_days")
    for name in (
        "profile_rooms__new",
        "profile_shifts__new",
        "profile_changed_days",
        "profile_days",
        "profile_ranges",
        *_PATTERN_TABLES,
    ):
        con.execute(f"drop table if exists {name}")
    return changed


_PATTERN_TABLES = {
    "profile_pattern_locations": "location_id varchar",
    "profile_pattern_hours": "location_id varchar, weekday integer, opens_at time, closes_at time",
    "profile_pattern_closed": "location_id varchar, date date",
    "profile_pattern_rooms": (
        "location_id varchar, room_id varchar, room_name varchar, has_bars boolean, "
        "room_order integer"
    ),
    "profile_pattern_shifts": (
        "location_id varchar, therapist_id varchar, therapist_name varchar, "
        "bar_trained boolean, weekday integer, piece integer, shift_start time, "
        "shift_end time, break_minutes integer"
    ),
    "profile_pattern_time_off": "location_id varchar, therapist_id varchar, date date",
}


def _pattern_tables(con, locations: tuple[Location, ...]) -> None:
    """The profile's weekly pattern as small temp tables (one row per weekday, room, piece)."""
    rows: dict[str, list[tuple]] = {name: [] for name in _PATTERN_TABLES}
    for loc in locations:
        rows["profile_pattern_locations"].append((loc.id,))
        for day, (opens, closes) in loc.opening_hours.items():
            rows["profile_pattern_hours"].append((loc.id, day, opens, closes))
        rows["profile_pattern_closed"].extend((loc.id, d) for d in loc.closed_on)
        for order, room in enumerate(loc.rooms):
            rows["profile_pattern_rooms"].append((loc.id, room.id, room.name, room.bars, order))
        for t in loc.therapists:
            for day, pieces in t.shifts.items():
                for piece, (start, end) in enumerate(pieces):
                    rows["profile_pattern_shifts"].append(
                        (
                            loc.id,
                            t.id,
                            t.name,
                            t.bar_trained,
                            day,
                            piece,
                            start,
                            end,
                            t.break_minutes,
                        )
                    )
            rows["profile_pattern_time_off"].extend((loc.id, t.id, d) for d in t.time_off)
    for name, columns in _PATTERN_TABLES.items():
        con.execute(f"create or replace temp table {name} ({columns})")
        if rows[name]:
            marks = ", ".join("?" for _ in columns.split(","))
            con.executemany(f"insert into {name} values ({marks})", rows[name])


def apply_names(con, table: str, key: tuple[str, ...] | None = None) -> None:
    """Give the rows in `table` (bookings, a room calendar or shifts) the profile's ids for
    the display names they carry.

    A location_id that is a profile location's id or name, and then a therapist_id that is one
    of that location's therapists' id, name or also_known_as (name_key: case, spacing and
    punctuation ignored), becomes that id, and so does a room_id that is one of that location's
    rooms' id or name; the columns the table lacks are left alone. Other values stay as they
    are (a mapping's [therapists] table has already turned its names into ids). Only distinct
    values are matched in Python (name_key is Unicode-aware, RE2's \\w is not).

    `key`: the table's key (a stored room calendar or shift table): rows that come to share
    a key once renamed ("Willow" loaded before "willow" for the same day) keep the latest
    load's, as a load keeps the latest row of a key."""
    profile = stored_profile(con)
    if profile is None:
        return
    columns = {
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where table_name = ?", [table]
        ).fetchall()
    }
    locations = location_names(profile)
    renamed = [
        (value, locations[name_key(value)])
        for (value,) in con.execute(
            f"select distinct location_id from {table} where location_id is not null"
        ).fetchall()
        if locations.get(name_key(value), value) != value
    ]
    _rename(con, table, ["location_id"], renamed, key)
    # A booking system or a room-calendar / shift export names a room or a therapist as the
    # studio sees it ("Willow", Square's Resource, "Okoro, June"): the profile's room or
    # therapist of that name, so its bookings, open hours and shifts count once, in the
    # profile's room or therapist (never "Willow" open beside the profile's willow).
    named = [
        (column, index)
        for column, index in (
            ("therapist_id", therapist_names(profile)),
            ("room_id", room_names(profile)),
        )
        if column in columns
    ]
    if not named:
        return
    # each column's distinct (location, value) pairs in one scan of the table (grouping sets),
    # not one scan per column: the table is a whole bookings file on a load
    names = [column for column, _ in named]
    grouped_by = " ".join(f"when grouping({c}) = 0 then '{c}'" for c in names)
    value = " ".join(f"when grouping({c}) = 0 then {c}" for c in names)
    pairs: dict[str, list[tuple[str, str]]] = {column: [] for column in names}
    for column, location_id, name in con.execute(
        f"select case {grouped_by} end, location_id, case {value} end from {table} "
        "where location_id is not null "
        f"group by grouping sets ({', '.join(f'(location_id, {c})' for c in names)})"
    ).fetchall():
        if name is not None:
            pairs[column].append((location_id, name))
    for column, index in named:
        renamed = [
            (location_id, name, index[(location_id, name_key(name))])
            for location_id, name in pairs[column]
            if index.get((location_id, name_key(name)), name) != name
        ]
        _rename(con, table, ["location_id", column], renamed, key)


def _rename(
    con, table: str, keys: list[str], pairs: list[tuple], key: tuple[str, ...] | None = None
) -> None:
    """Set the last of `keys` to new_id in the rows of `table` matching `pairs` (keys, new_id);
    with the table's `key`, of the rows that now share a key only the latest load's stays."""
    if not pairs:
        return
    target = keys[-1]
    columns = ", ".join(f"{k} varchar" for k in keys) + ", new_id varchar"
    con.execute(f"create or replace temp table profile_renames ({columns})")
    marks = ", ".join("?" for _ in range(len(keys) + 1))
    con.executemany(f"insert into profile_renames values ({marks})", pairs)
    matches = " and ".join(f"{table}.{k} = profile_renames.{k}" for k in keys)
    con.execute(
        f"update {table} set {target} = profile_renames.new_id from profile_renames where {matches}"
    )
    if key:
        con.execute(
            f"""
            delete from {table} where rowid in (
                select rowid from (
                    select rowid, row_number() over (
                        partition by {", ".join(key)} order by load_id desc, line_number desc
                    ) as newer
                    from {table}
                    where {target} in (select new_id from profile_renames)
                )
                where newer > 1
            )
            """
        )
    con.execute("drop table profile_renames")


# --- profile suggest -------------------------------------------------------------------------

SUGGEST_WEEKS = 8  # opening hours are read from the last eight weeks of each location's bookings


def suggest(con) -> str:
    """A profile proposed from what the warehouse on `con` holds, as TOML with comments saying
    what was guessed (`studio-ops profile suggest`, the Setup page's button).

    Locations as loaded (names, time zones and opened_on as known); therapists per location as
    the exports spell them (spellings differing only in case or spacing become also_known_as);
    rooms named by room calendars or bookings (bars as the calendar says, else true when bar
    work was booked there); opening hours per weekday from the earliest start and the latest
    end of the last eight weeks of bookings (a weekday without bookings is left closed); bar
    training from the shift files, else left out (unknown). Shifts are not guessed."""
    locations = con.execute(
        """
        select location_id, name, timezone, opened_on from stg_exports__locations
        order by location_id
        """
    ).fetchall()
    used_location_ids: set[str] = set()
    built, notes = [], {}
    for location_id, name, timezone, opened_on in locations:
        loc_id = _unique_id(location_id, used_location_ids)
        hours, since, until, count = _suggest_hours(con, location_id)
        rooms, room_note = _suggest_rooms(con, location_id)
        therapists, therapist_notes = _suggest_therapists(con, location_id)
        zone = timezone if timezone and _known_zone(timezone) else None
        built.append(
            Location(
                loc_id, name or location_id, zone, opened_on, hours, frozenset(), rooms,
                therapists,
            )
        )  # fmt: skip
        lines = [f"Proposed by `studio-ops profile suggest` for '{location_id}': check it."]
        if count:
            lines.append(
                f"opening_hours: earliest start and latest end per weekday of {count} "
                f"booking{'s' * (count != 1)} "
                f"from {since} to {until}; a weekday without bookings is left closed."
            )
        else:
            lines.append("opening_hours: no bookings in the last eight weeks; add the hours.")
        lines.append(room_note)
        lines.append("closed_on: not guessed; add holidays.")
        if loc_id != location_id:
            lines.append(f"id: the exports call this location '{location_id}'.")
        notes[loc_id] = "\n".join(lines)
        notes.update({f"{loc_id}/{key}": text for key, text in therapist_notes.items()})
    if not built:
        raise ProfileError("nothing is loaded yet: load the booking exports first")
    text = to_toml(Profile(tuple(built)), notes)
    parse_profile(text, "the suggested profile")  # what it proposes always reads back
    return text


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _unique_id(value: str, used: set[str]) -> str:
    """`value` when it is a valid id, else a slug of it; made unique (case ignored) in `used`."""
    base = value.strip() if _ID.match(value.strip()) else "-".join(name_key(value).split())
    base = re.sub(r"[^A-Za-z0-9._-]", "", base)[:60] or "id"
    if not base[0].isalnum():
        base = "x" + base
    candidate, number = base, 2
    while candidate.lower() in used:
        candidate, number = f"{base}-{number}", number + 1
    used.add(candidate.lower())
    return candidate


def _suggest_hours(con, location_id: str):
    """Opening hours per weekday from the last SUGGEST_WEEKS weeks of the location's bookings."""
    rows = con.execute(
        f"""
        with recent as (
            select start_at, end_at from raw_bookings
            where location_id = ?
              and status <> 'cancelled' and status <> 'late_cancelled'
              and cast(start_at as date) = cast(end_at as date)
              and start_at > (
                  select max(start_at) from raw_bookings where location_id = ?
              ) - interval {SUGGEST_WEEKS * 7} day
        )
        select
            isodow(start_at) - 1, min(cast(start_at as time)), max(cast(end_at as time)),
            min(cast(start_at as date)), max(cast(start_at as date)), count(*)
        from recent
        group by 1
        """,
        [location_id, location_id],
    ).fetchall()
    hours = {
        day: (opens.replace(second=0, microsecond=0), closes.replace(second=0, microsecond=0))
        for day, opens, closes, *_ in rows
        if closes.replace(second=0, microsecond=0) > opens.replace(second=0, microsecond=0)
    }
    since = min((r[3] for r in rows), default=None)
    until = max((r[4] for r in rows), default=None)
    return hours, since, until, sum(r[5] for r in rows)


def _suggest_rooms(con, location_id: str) -> tuple[tuple[Room, ...], str]:
    rows = con.execute(
        """
        with calendar as (
            select room_id, arg_max(has_bars, date) as has_bars,
                arg_max(room_name, date) filter (where room_name is not null) as room_name
            from raw_rooms where location_id = ? group by room_id
        ),
        booked as (
            -- bar work as the figures read it: the export's uses_bars, else the bar keywords
            -- (a booking system's export names the service, never the bars)
            select room_id, bool_or(coalesce(uses_bars, false)) as bar_work
            from fct_bookings
            where location_id = ? and room_source = 'export'
            group by room_id
        )
        select room_id, calendar.room_name, calendar.has_bars, booked.bar_work
        from calendar full join booked using (room_id)
        order by room_id
        """,
        [location_id, location_id],
    ).fetchall()
    # one room per name as exports spell it ("Willow", "willow", "WILLOW "): the first
    # spelling, with bars when any spelling's calendar or bookings say so
    spellings: dict[str, list] = {}
    for room_id, room_name, has_bars, bar_work in rows:
        key = name_key(room_id)
        if key not in spellings:
            spellings[key] = [room_id, room_name, has_bars, bool(bar_work)]
            continue
        first = spellings[key]
        first[1] = first[1] or room_name
        first[2] = has_bars if first[2] is None else (first[2] or bool(has_bars))
        first[3] = first[3] or bool(bar_work)
    used: set[str] = set()
    rooms, guessed = [], []
    for room_id, room_name, has_bars, bar_work in spellings.values():
        if has_bars is None:
            guessed.append(room_id)
        rooms.append(
            Room(_unique_id(room_id, used), room_name or room_id, bool(has_bars or bar_work))
        )
    if not rooms:
        note = "rooms: no export names a room; add them (and which have ceiling bars)."
    elif guessed:
        note = (
            f"rooms: named by bookings; bars guessed (true where bar work was booked) for "
            f"{', '.join(guessed)}."
        )
    else:
        note = "rooms: from the room calendar, bars as it says."
    return tuple(rooms), note


def _suggest_therapists(con, location_id: str):
    """Therapists as the exports spell them; bar training from the latest shift file row."""
    rows = con.execute(
        """
        with seen as (
            select therapist_id, count(*) as bookings from raw_bookings
            where location_id = ? group by therapist_id
            union all
            select therapist_id, 0 from raw_therapist_shifts
            where location_id = ? group by therapist_id
        ),
        trained as (
            select therapist_id, arg_max(bar_trained, date) as bar_trained,
                arg_max(therapist_name, date) filter (where therapist_name is not null)
                    as therapist_name
            from raw_therapist_shifts
            where location_id = ? and bar_trained is not null
            group by therapist_id
        )
        select seen.therapist_id, sum(seen.bookings), any_value(trained.bar_trained),
            any_value(trained.therapist_name)
        from seen left join trained using (therapist_id)
        group by seen.therapist_id
        order by sum(seen.bookings) desc, seen.therapist_id
        """,
        [location_id, location_id, location_id],
    ).fetchall()
    groups: dict[str, list[tuple]] = {}
    for row in rows:  # spellings differing only in case or spacing are one therapist
        groups.setdefault(name_key(row[0]) or row[0], []).append(row)
    used: set[str] = set()
    therapists, notes = [], {}
    for spellings in groups.values():
        main = spellings[0][0]
        trained = next((r[2] for r in spellings if r[2] is not None), None)
        name = next((r[3] for r in spellings if r[3]), None) or main
        therapist_id = _unique_id(main, used)
        aliases = tuple(
            dict.fromkeys(s for s in (r[0] for r in spellings) if s not in (therapist_id, name))
        )
        therapists.append(Therapist(therapist_id, name, aliases, trained, {}, 0, frozenset()))
        lines = [
            "bar_trained: from the shift files."
            if trained is not None
            else "bar_trained: unknown (no shift file says); set true or false.",
            "shifts: not guessed; add the weekly shifts.",
        ]
        if therapist_id != main:
            lines.append(f"id: made from '{main}', as the exports write the name.")
        notes[therapist_id] = "\n".join(lines)
    return tuple(therapists), notes


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
