"""The Setup page's model of the studio profile: form values and tables, and back to TOML.

The page edits one location at a time as plain values (text for hours such as "09:00-17:00",
a table of rooms, a table of therapists). :func:`profile_text` writes what the owner typed as
profile TOML, unchanged, so :func:`check` (pipelines.profile.parse_profile) answers a bad value
with the same one line, naming the key, as `studio-ops load` would. A profile that passes is
saved with :func:`save_profile`: its canonical TOML (pipelines.profile.to_toml) goes to a file
beside the warehouse, and is loaded through the Data page's upload pipeline, so the file and the
warehouse's stored profile stay one thing.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from dashboard import uploads
from pipelines.ingest.load import FileResult
from pipelines.profile import (
    WEEKDAYS,
    Location,
    Profile,
    ProfileError,
    name_key,
    parse_profile,
    read_profile,
    to_toml,
)
from pipelines.settings import Settings

DAY_LABELS = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
TRAINING = {"yes": True, "no": False, "unknown": None}
ROOM_COLUMNS = ["id", "name", "bars"]
THERAPIST_COLUMNS = ["id", "name", "bar_training", "break_minutes", "time_off", "also_known_as"]
SHIFT_COLUMNS = ["id", *WEEKDAYS]  # one row per therapist, matched to the therapists by id
ALIAS_SEPARATOR = ";"  # "Chen, Maya" holds a comma, so spellings are split on ";"


@dataclass
class LocationDraft:
    """One location as the Setup page's form holds it: text as typed, tables as edited."""

    id: str
    name: str = ""
    timezone: str | None = None
    opened_on: date | None = None
    hours: dict[str, str] = field(default_factory=dict)  # weekday key -> "09:00-20:00" or ""
    closed_on: str = ""  # "2026-12-25, 2027-01-01"
    rooms: pd.DataFrame = field(default_factory=lambda: rooms_frame(None))
    therapists: pd.DataFrame = field(default_factory=lambda: therapists_frame(None))
    shifts: pd.DataFrame = field(default_factory=lambda: shifts_frame(None))


def profile_file(db: Path | str) -> Path:
    """The profile file kept beside the warehouse: data/studio.duckdb -> studio-profile.toml."""
    db = Path(db)
    return db.with_name(f"{db.stem}-profile.toml")


def file_profile(db: Path | str) -> Profile | None:
    """The profile file beside the warehouse, read and checked; None when there is none."""
    path = profile_file(db)
    return read_profile(path) if path.exists() else None


@dataclass(frozen=True)
class Suggestion:
    """A profile proposed from the loaded data, with what was guessed per location id."""

    profile: Profile
    notes: dict[str, list[str]]  # location id -> what was guessed, a line each


def suggestion(text: str) -> Suggestion:
    """A suggested profile's TOML (pipelines.profile.suggest) as a profile and its notes: the
    comment lines above each location's and therapist's table, gathered per location id. A note
    that many therapists share is given once, with their ids."""
    location_notes: dict[str, list[str]] = {}
    therapist_notes: dict[str, dict[str, list[str]]] = {}  # location -> note -> therapist ids
    pending: list[str] = []
    location_id, table = None, None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
        elif stripped in ("[[location]]", "[[location.therapist]]"):
            table = stripped
        elif table and stripped.startswith("id ="):
            value = tomllib.loads(stripped)["id"]
            if table == "[[location]]":
                location_id = value
                location_notes[value] = [n for n in pending if not n.startswith("Proposed by")]
            else:
                for note in pending:
                    therapist_notes.setdefault(location_id, {}).setdefault(note, []).append(value)
            pending, table = [], None
    notes = {}
    for loc, lines in location_notes.items():
        by_note = therapist_notes.get(loc, {})
        shared = [f"{note} ({', '.join(ids)})" for note, ids in by_note.items()]
        if lines or shared:
            notes[loc] = [*lines, *shared]
    return Suggestion(parse_profile(text, "the suggested profile"), notes)


def can_suggest() -> bool:
    """Whether this version proposes profiles from the data (pipelines.profile.suggest)."""
    from pipelines import profile

    return hasattr(profile, "suggest")


def editor_key(part: str, location_id: str, version: int) -> str:
    """Widget key of a location's form part. `version` changes after every save or suggestion,
    so the tables start again from what the warehouse holds instead of replaying old edits."""
    return f"setup-{version}-{location_id}-{part}"


# --- profile -> form -------------------------------------------------------------------------


def _pieces(pieces) -> str:
    return ", ".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in pieces)


def _dates(days) -> str:
    return ", ".join(day.isoformat() for day in sorted(days))


def rooms_frame(location: Location | None) -> pd.DataFrame:
    rows = [
        {"id": room.id, "name": room.name, "bars": room.bars}
        for room in (location.rooms if location else ())
    ]
    return pd.DataFrame(rows, columns=ROOM_COLUMNS).astype(
        {"id": "object", "name": "object", "bars": "bool"}
    )


def therapists_frame(location: Location | None) -> pd.DataFrame:
    rows = []
    for therapist in location.therapists if location else ():
        training = {True: "yes", False: "no", None: "unknown"}[therapist.bar_trained]
        rows.append(
            {
                "id": therapist.id,
                "name": therapist.name,
                "bar_training": training,
                "break_minutes": therapist.break_minutes,
                "time_off": _dates(therapist.time_off),
                "also_known_as": f"{ALIAS_SEPARATOR} ".join(therapist.also_known_as),
            }
        )
    frame = pd.DataFrame(rows, columns=THERAPIST_COLUMNS)
    return frame.astype({c: "object" for c in THERAPIST_COLUMNS if c != "break_minutes"}).astype(
        {"break_minutes": "Int64"}
    )


def shifts_frame(location: Location | None) -> pd.DataFrame:
    rows = [
        {
            "id": therapist.id,
            **{
                day: _pieces(therapist.shifts.get(number, ()))
                for number, day in enumerate(WEEKDAYS)
            },
        }
        for therapist in (location.therapists if location else ())
    ]
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS).astype("object")


def draft(location: Location) -> LocationDraft:
    """The form values that show `location` as it is."""
    return LocationDraft(
        id=location.id,
        name=location.name,
        timezone=location.timezone,
        opened_on=location.opened_on,
        hours={
            day: _pieces([location.opening_hours[n]]) if n in location.opening_hours else ""
            for n, day in enumerate(WEEKDAYS)
        },
        closed_on=_dates(location.closed_on),
        rooms=rooms_frame(location),
        therapists=therapists_frame(location),
        shifts=shifts_frame(location),
    )


# --- form -> profile TOML --------------------------------------------------------------------


def _cell(value: object) -> str:
    """A table cell as text; an empty new row's cells are None or NaN."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _split(text: str, separator: str = ",") -> list[str]:
    return [part.strip() for part in text.split(separator) if part.strip()]


def _slug(name: str) -> str:
    """An id made from a name when the owner left the id blank ("Maya Chen" -> "maya-chen")."""
    return re.sub(r"[^a-z0-9._-]", "", name_key(name).replace(" ", "-"))[:64]


def _q(value: object) -> str:
    """A TOML value: text quoted (escapes as pipelines.profile.to_toml), lists and tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_q(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_q(v)}" for k, v in value.items()) + " }"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    text = "".join(c if c >= " " or c == "\t" else f"\\u{ord(c):04x}" for c in text)
    return f'"{text}"'


def _blank(row: dict) -> bool:
    return not any(_cell(v) for v in row.values())


def _weekly_shifts(loc: LocationDraft, therapist_ids: list[str], where: str) -> dict[str, dict]:
    """therapist id -> {weekday: range or ranges}, from the shifts table."""
    known = {name_key(t): t for t in therapist_ids}
    weekly: dict[str, dict] = {}
    for row in loc.shifts.to_dict("records"):
        if _blank(row):
            continue
        therapist = known.get(name_key(_cell(row.get("id"))))
        if therapist is None:
            raise ProfileError(
                f"{where}: shifts: '{_cell(row.get('id'))}' is not a therapist id of the "
                "therapists table (add the therapist there, with the same id)"
            )
        if therapist in weekly:
            raise ProfileError(f"{where}: shifts: therapist {therapist} has two rows")
        days = {}
        for day in WEEKDAYS:
            pieces = _split(_cell(row.get(day)))
            if pieces:
                days[day] = pieces[0] if len(pieces) == 1 else pieces
        weekly[therapist] = days
    return weekly


def _location_toml(loc: LocationDraft, source: str) -> list[str]:
    out = ["[[location]]", f"id = {_q(loc.id.strip())}"]
    if loc.name.strip():
        out.append(f"name = {_q(loc.name)}")
    if loc.timezone:
        out.append(f"timezone = {_q(loc.timezone)}")
    if loc.opened_on:
        out.append(f"opened_on = {_q(loc.opened_on.isoformat())}")
    hours = {day: loc.hours[day].strip() for day in WEEKDAYS if loc.hours.get(day, "").strip()}
    out.append(f"opening_hours = {_q(hours)}")
    out.append(f"closed_on = {_q(_split(loc.closed_on))}")
    out.append("rooms = [")
    for row in loc.rooms.to_dict("records"):
        if _blank({k: v for k, v in row.items() if k != "bars"}):
            continue  # an empty row the table added
        room = {"id": _cell(row.get("id")) or _slug(_cell(row.get("name")))}
        if _cell(row.get("name")):
            room["name"] = _cell(row["name"])
        room["bars"] = bool(row.get("bars")) if _cell(row.get("bars")) else False
        out.append(f"  {_q(room)},")
    out.append("]")
    therapists = [
        row
        for row in loc.therapists.to_dict("records")
        if not _blank({k: v for k, v in row.items() if k != "bar_training"})
    ]
    ids = [_cell(row.get("id")) or _slug(_cell(row.get("name"))) for row in therapists]
    weekly = _weekly_shifts(loc, ids, f"{source}: location {loc.id.strip()}")
    for row, therapist_id in zip(therapists, ids, strict=True):
        out.append("")
        out.append("[[location.therapist]]")
        out.append(f"id = {_q(therapist_id)}")
        if _cell(row.get("name")):
            out.append(f"name = {_q(_cell(row['name']))}")
        aliases = _split(_cell(row.get("also_known_as")), ALIAS_SEPARATOR)
        out.append(f"also_known_as = {_q(aliases)}")
        training = TRAINING.get(_cell(row.get("bar_training")) or "unknown")
        if training is not None:
            out.append(f"bar_trained = {_q(training)}")
        out.append(f"shifts = {_q(weekly.get(therapist_id, {}))}")
        breaks = _cell(row.get("break_minutes"))
        if breaks:
            number = float(breaks)
            # a table's number column; a fraction is passed on for the profile to refuse
            out.append(f"break_minutes = {int(number) if number.is_integer() else number}")
        out.append(f"time_off = {_q(_split(_cell(row.get('time_off'))))}")
    return out


def profile_text(locations: list[LocationDraft], source: str) -> str:
    """Profile TOML of the drafts, every value as the owner typed it."""
    lines: list[str] = []
    for loc in locations:
        if lines:
            lines.append("")
        lines.extend(_location_toml(loc, source))
    return "\n".join(lines) + "\n"


def check(locations: list[LocationDraft], source: str) -> Profile:
    """The drafts as a profile, checked as a load would (ProfileError: one line naming the key)."""
    return parse_profile(profile_text(locations, source), source)


# --- saving ----------------------------------------------------------------------------------


def save_profile(db: Path | str, profile: Profile, settings: Settings) -> FileResult:
    """Write `profile` beside the warehouse and load it, or change nothing.

    The TOML goes to a temporary file in the same folder first and is loaded with the Data
    page's pipeline (a child process, dashboard.uploads); only a profile the load accepted
    replaces the file (os.replace), so the file never says something the warehouse refused.
    """
    path = profile_file(db)
    text = to_toml(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        [result] = uploads.load_uploads(db, [(path.name, text.encode("utf-8"))], settings)
        if result.outcome != "failed":
            os.replace(temp, path)
        return result
    finally:
        Path(temp).unlink(missing_ok=True)
