"""The mapping file (TOML), and the generic adapter for exports of any other system.

One mapping file per source (account or studio). Every section is optional; an adapter that
needs an answer the file does not give stops with a message naming the line to add.

    [source]
    name = "acuity-downtown"     # the booking source: keeps booking ids stable per account
    location = "L01"             # location for exports without one (--location overrides)
    [acuity]
    calendar = "therapist"       # what Acuity's Calendar column means: therapist | room | location
    [fresha]
    rooms = ["CABINA 1"]         # Fresha team members that are really rooms
    [services]
    bar_services = ["Ashiatsu Deep Feet 60"]   # services that need the bars
    [therapists]
    "Chen, Maya" = "L01-T01"     # staff names in exports -> therapist ids of the shift files
    [ics]
    summary = "(?P<service>.+?) - (?P<client>.+)"   # named groups: service, client, therapist (RE2)
    therapist = "Maya Chen"      # whose calendar this is (else a `therapist` group or the name)
    location_is = "room"         # what an event's LOCATION means: room | location | ignore
    timezone = "America/Denver"  # for UTC times when the calendar names no X-WR-TIMEZONE
    [columns]                    # generic mapping: canonical field = column header
    booking_id = "Appt #"
    [formats]
    datetime = "%d/%m/%Y %H:%M"  # strptime format(s) of this export's date-times; never guessed
    [status_words]
    "Done" = "completed"

The generic adapter applies when [columns] names at least booking_id and start_at and the file's
header holds every column named there. Client columns (`client_email`, `client_phone`,
`client_name`, or `client_first_name` + `client_last_name`) are hashed like every vendor's.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipelines.formats import ics
from pipelines.formats.common import (
    NULL,
    Columns,
    Context,
    Sniff,
    build_bookings,
    client_cells,
    iso_date_time,
    iso_datetime,
    minutes_text,
    read_below_header,
    read_vendor_table,
)
from pipelines.formats.native import KINDS
from pipelines.formats.tabular import ExportError
from pipelines.validate import CANONICAL_STATUSES

NAME = "mapped"
CALENDAR_MEANINGS = ("therapist", "room", "location")
CLIENT_FIELDS = (
    "client_email",
    "client_phone",
    "client_name",
    "client_first_name",
    "client_last_name",
)
SPLIT_FIELDS = ("start_date", "start_time", "end_time")
_SECTIONS = {
    "source",
    "acuity",
    "fresha",
    "services",
    "therapists",
    "ics",
    "columns",
    "formats",
    "status_words",
}


@dataclass
class Mapping:
    """A parsed mapping file (see the module docstring)."""

    path: Path | None = None
    source_name: str | None = None
    location: str | None = None
    acuity_calendar: str | None = None
    acuity_therapist: str | None = None
    fresha_rooms: list[str] = field(default_factory=list)
    bar_services: list[str] = field(default_factory=list)
    therapists: dict[str, str] = field(default_factory=dict)
    ics_summary: str | None = None
    ics_therapist: str | None = None
    ics_location_is: str = "ignore"
    ics_timezone: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    datetime_formats: list[str] = field(default_factory=list)
    status_words: dict[str, str] = field(default_factory=dict)


def load_mapping(path: Path | str) -> Mapping:
    """Parse a mapping file; ExportError (one line, naming the problem) when it is wrong."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as error:
        raise ExportError(f"mapping file {path}: {error.strerror}") from None
    return _load_mapping(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load_mapping(path: Path, _mtime: int, _size: int) -> Mapping:
    where = f"mapping file {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ExportError(f"{where}: not valid TOML ({error})") from None
    unknown = set(data) - _SECTIONS
    if unknown:
        raise ExportError(
            f"{where}: unknown section [{sorted(unknown)[0]}] "
            f"(known: {', '.join(sorted(_SECTIONS))})"
        )

    def section(name: str) -> dict:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ExportError(f"{where}: [{name}] must be a table")
        return value

    def text(sec: str, key: str) -> str | None:
        value = section(sec).get(key)
        if value is not None and not isinstance(value, str):
            raise ExportError(f"{where}: [{sec}] {key} must be a string")
        return value

    def texts(sec: str, key: str) -> list[str]:
        value = section(sec).get(key, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ExportError(f"{where}: [{sec}] {key} must be a list of strings")
        return value

    mapping = Mapping(
        path=path,
        source_name=text("source", "name"),
        location=text("source", "location"),
        acuity_calendar=text("acuity", "calendar"),
        acuity_therapist=text("acuity", "therapist"),
        fresha_rooms=texts("fresha", "rooms"),
        bar_services=texts("services", "bar_services"),
        ics_summary=text("ics", "summary"),
        ics_therapist=text("ics", "therapist"),
        ics_location_is=text("ics", "location_is") or "ignore",
        ics_timezone=text("ics", "timezone"),
        datetime_formats=texts("formats", "datetime"),
    )
    if mapping.source_name is not None and not re.fullmatch(
        r"[A-Za-z0-9._-]+", mapping.source_name
    ):
        raise ExportError(f"{where}: [source] name may hold letters, digits, '.', '_', '-' only")
    if mapping.acuity_calendar is not None and mapping.acuity_calendar not in CALENDAR_MEANINGS:
        raise ExportError(
            f"{where}: [acuity] calendar must be one of {', '.join(CALENDAR_MEANINGS)}"
        )
    if mapping.ics_location_is not in ("room", "location", "ignore"):
        raise ExportError(f"{where}: [ics] location_is must be room, location or ignore")
    if mapping.ics_summary is not None:
        # RE2 runs it, in time linear in the SUMMARY: a pattern with nested quantifiers cannot
        # make Python's backtracking take hours on a long SUMMARY.
        try:
            ics.summary_pattern(mapping.ics_summary)
        except ics.re2.error as error:
            raise ExportError(
                f"{where}: [ics] summary cannot be used ({ics.re2_reason(error)}); it is run by "
                "RE2, which has no backreferences or lookaround"
            ) from None
    for sec, target in (("therapists", mapping.therapists), ("status_words", mapping.status_words)):
        for key, value in section(sec).items():
            if not isinstance(value, str):
                raise ExportError(f"{where}: [{sec}] {key!r} must map to a string")
            target[key] = value
    for word, canonical in mapping.status_words.items():
        if canonical not in CANONICAL_STATUSES:
            raise ExportError(
                f"{where}: [status_words] {word!r} = {canonical!r}: use one of "
                + ", ".join(CANONICAL_STATUSES)
            )
    allowed = set(KINDS["bookings"].columns) | set(CLIENT_FIELDS) | set(SPLIT_FIELDS)
    allowed -= {"source", "client_id"}
    for key, value in section("columns").items():
        if key not in allowed:
            raise ExportError(
                f"{where}: [columns] {key} is not a field (use: {', '.join(sorted(allowed))})"
            )
        if not isinstance(value, str):
            raise ExportError(f"{where}: [columns] {key} must name a column header")
        mapping.columns[key] = value
    return mapping


# --- the generic adapter ---------------------------------------------------------------------


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    if mapping is None or not mapping.columns or sniff.container not in ("csv", "xlsx"):
        return False
    return _header_index(sniff, mapping) is not None


def _header_index(sniff: Sniff, mapping: Mapping) -> int | None:
    cols = mapping.columns
    if "booking_id" not in cols or not ("start_at" in cols or "start_date" in cols):
        return None
    return sniff.header_row(*cols.values())


def read(sniff: Sniff, ctx: Context):
    mapping = ctx.mapping
    assert mapping is not None
    cols = mapping.columns
    if not mapping.datetime_formats:
        raise ExportError(
            "mapped export: say how its date-times are written: add [formats] "
            'datetime = "%d/%m/%Y %H:%M" (strptime codes) to the mapping file (--mapping)'
        )
    if "location_id" not in cols:
        ctx.require_location("mapped")
    if not any(c in cols for c in ("client_email", "client_phone", "client_name")) and not (
        "client_first_name" in cols and "client_last_name" in cols
    ):
        raise ExportError(
            "mapped export: name the client column: add [columns] client_name (or "
            "client_email / client_phone) to the mapping file (--mapping)"
        )
    if "therapist_id" not in cols or "service" not in cols or "status" not in cols:
        missing = [c for c in ("therapist_id", "service", "status") if c not in cols]
        raise ExportError(
            f'mapped export: add [columns] {missing[0]} = "<header>" to the mapping file'
        )
    header_at = _header_index(sniff, mapping)
    table = _read(sniff, ctx, header_at or 0)
    columns = Columns(table.header)

    def cell(name: str):
        return columns(cols[name]) if name in cols else NULL

    formats = mapping.datetime_formats
    canonical = {
        name: cell(name)
        for name in ("booking_id", "location_id", "room_id", "therapist_id", "service")
    }
    canonical["uses_bars"] = cell("uses_bars")
    canonical["price"] = cell("price")
    canonical["status"] = cell("status")
    if "start_at" in cols:
        canonical["start_at"] = iso_datetime(cell("start_at"), formats)
    else:
        canonical["start_at"] = iso_date_time(cell("start_date"), cell("start_time"), formats)
    if "end_at" in cols:
        canonical["end_at"] = iso_datetime(cell("end_at"), formats)
    elif "end_time" in cols and "start_date" in cols:
        canonical["end_at"] = iso_date_time(cell("start_date"), cell("end_time"), formats)
    canonical["duration_minutes"] = minutes_text(cell("duration_minutes"))
    for name in ("created_at", "cancelled_at"):
        canonical[name] = iso_datetime(cell(name), formats)
    client = client_cells(
        columns,
        email=cols.get("client_email", ()),
        phone=cols.get("client_phone", ()),
        name=cols.get("client_name", ()),
        first_last=(cols["client_first_name"], cols["client_last_name"])
        if "client_first_name" in cols and "client_last_name" in cols
        else None,
    )
    return build_bookings(
        ctx,
        table,
        canonical,
        client,
        vendor="mapped",
        format_name=f"mapped-{sniff.container}",
        statuses={},
    )


def _read(sniff: Sniff, ctx: Context, header_at: int):
    if header_at == 0:
        return read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    return read_below_header(sniff, ctx, header_at)
