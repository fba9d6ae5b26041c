"""The mapping file (TOML): the Mapping it parses into, and the checks that reject a wrong one.

One mapping file per source (account or studio); the sections are described in
pipelines.ingest.formats.mapped, the generic adapter that reads [columns]. This module is the
file model only: every adapter and the read context use `Mapping`, so it depends on nothing but
the canonical model, the status list and base.py (ExportError), never on an adapter.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import re2

from pipelines.canonical import KINDS
from pipelines.ingest.formats.base import ExportError, Sniff
from pipelines.ingest.validate import CANONICAL_STATUSES

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
    "locations",
    "constants",
    "outcome",
    "headers",
}
# The keys of the sections whose keys are fixed (the others map names the studio chooses:
# [columns], [constants], [therapists], [status_words], [locations], [headers], [outcome] are
# checked where they are read). A misspelt key is refused, never passed over: `[fresha] room`
# for `rooms` would make every room a therapist.
_KEYS = {
    "source": ("name", "location", "timezone"),
    "acuity": ("calendar", "therapist"),
    "fresha": ("rooms", "locale"),
    "services": ("bar_services",),
    "ics": ("summary", "therapist", "location_is", "timezone"),
    "formats": ("datetime", "date_only", "decimal"),
}
# What an outcome report's row may share with the booking it reports on ([outcome] match):
# match field -> the [columns] fields that give it (one of them).
OUTCOME_MATCH = {
    "client": ("client_email", "client_phone", "client_name", "client_first_name"),
    "date": ("start_at", "start_date"),
    "start": ("start_at", "start_time"),
    "therapist": ("therapist_id",),
    "service": ("service",),
    "room": ("room_id",),
    "booking_id": ("booking_id",),
}
# Fields a mapping may fix for every row ([constants]): not the id or the dates, which differ
# per booking, nor the client.
CONSTANT_FIELDS = (
    "location_id",
    "room_id",
    "therapist_id",
    "service",
    "uses_bars",
    "duration_minutes",
    "status",
    "price",
    "start_time",
    "end_time",
)
# [formats] date_only: what a start without a time of day becomes (see _start_at)
DATE_ONLY_REJECT, DATE_ONLY_KEEP = "reject", "keep"


@dataclass
class Mapping:
    """A parsed mapping file (see the module docstring)."""

    path: Path | None = None
    source_name: str | None = None
    location: str | None = None
    acuity_calendar: str | None = None
    acuity_therapist: str | None = None
    fresha_rooms: list[str] = field(default_factory=list)
    # [fresha] locale: the account's locale; decides whether 06/07/2024 is 6 July (en-GB and
    # every other locale) or June 7 (en-US), never guessed per row
    fresha_locale: str | None = None
    # [locations]: display names an export's Location column uses -> location ids
    locations: dict[str, str] = field(default_factory=dict)
    bar_services: list[str] = field(default_factory=list)
    therapists: dict[str, str] = field(default_factory=dict)
    ics_summary: str | None = None
    ics_therapist: str | None = None
    ics_location_is: str = "ignore"
    ics_timezone: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    datetime_formats: list[str] = field(default_factory=list)
    status_words: dict[str, str] = field(default_factory=dict)
    # [headers]: a column an export renamed -> the name its adapter knows (Jane, Square,
    # Fresha in another language)
    headers: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)  # field -> fixed value
    timezone: str | None = None  # [source] timezone: for times with a UTC offset
    date_only: str = DATE_ONLY_REJECT  # [formats] date_only: reject | keep | "HH:MM"
    # [formats] decimal: "," when prices are written 1.234,50 (a decimal comma), else "."
    decimal: str = "."
    ignore_therapists: list[str] = field(default_factory=list)  # [therapists] ignore
    sections: frozenset[str] = frozenset()  # the sections the file has (choose_mapping)
    # [outcome]: the file is an outcome report (no-shows, cancellations): its rows set this
    # status on the bookings already loaded that they match on these fields (OUTCOME_MATCH)
    outcome_status: str | None = None
    outcome_match: list[str] = field(default_factory=list)
    outcome_source: str | None = None  # whose bookings it updates (default: its own source)

    def given(self, name: str) -> bool:
        """Whether the mapping says where a field comes from: a column or a constant."""
        return name in self.columns or name in self.constants

    def answers(self) -> dict[str, str]:
        """The answers this mapping gives, keyed like needs.Question ("section.key")."""
        given = {
            "source.name": self.source_name,
            "source.location": self.location,
            "acuity.calendar": self.acuity_calendar,
            "acuity.therapist": self.acuity_therapist,
            "formats.datetime": self.datetime_formats[0] if self.datetime_formats else None,
            **{f"columns.{k}": v for k, v in self.columns.items()},
        }
        return {k: v for k, v in given.items() if v}


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
        content = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(content)
    except UnicodeDecodeError as error:
        # a mapping saved by an editor in its own code page (Latin-1, Windows-1252)
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise ExportError(
            f"{where} line {line}: not UTF-8 text (byte 0x{error.object[error.start]:02x}): "
            "save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ExportError(f"{where}: not valid TOML ({error})") from None
    unknown = set(data) - _SECTIONS
    if unknown:
        name = sorted(unknown)[0]
        raise ExportError(
            f"{_at(where, content, name)}: unknown section [{name}] "
            f"(known: {', '.join(sorted(_SECTIONS))})"
        )
    for name, keys in _KEYS.items():
        value = data.get(name)
        extra = sorted(set(value) - set(keys)) if isinstance(value, dict) else []
        if extra:
            key = extra[0]
            raise ExportError(
                f"{_at(where, content, name, key)}: [{name}] {key} is not a key of [{name}] "
                f"(known: {', '.join(keys)})"
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
        fresha_locale=text("fresha", "locale"),
        bar_services=texts("services", "bar_services"),
        ics_summary=text("ics", "summary"),
        ics_therapist=text("ics", "therapist"),
        ics_location_is=text("ics", "location_is") or "ignore",
        ics_timezone=text("ics", "timezone"),
        datetime_formats=texts("formats", "datetime"),
        timezone=text("source", "timezone"),
        sections=frozenset(data),
        date_only=text("formats", "date_only") or DATE_ONLY_REJECT,
        decimal=text("formats", "decimal") or ".",
    )
    for fmt in mapping.datetime_formats:
        problem = _format_problem(fmt)
        if problem:
            raise ExportError(
                f"{_at(where, content, 'formats', 'datetime')}: [formats] datetime {fmt!r} "
                f'{problem}: write it in strptime codes, such as "%d/%m/%Y %H:%M" for '
                '31/12/2026 14:30 or "%m/%d/%Y %I:%M %p" for 12/31/2026 2:30 PM'
            )
    if mapping.decimal not in (".", ","):
        raise ExportError(
            f"{_at(where, content, 'formats', 'decimal')}: [formats] decimal is the mark "
            f'between a price\'s units and cents: "," (95,50) or "." (95.50)'
        )
    if mapping.timezone is not None:
        try:
            ZoneInfo(mapping.timezone)
        except (ValueError, KeyError, OSError):
            raise ExportError(
                f"{where}: [source] timezone {mapping.timezone!r} is not a known time zone "
                "(an IANA name such as America/Chicago)"
            ) from None
    if mapping.date_only not in (DATE_ONLY_REJECT, DATE_ONLY_KEEP) and not re.fullmatch(
        r"([01][0-9]|2[0-3]):[0-5][0-9]", mapping.date_only
    ):
        raise ExportError(
            f'{where}: [formats] date_only must be "reject", "keep" or a time "HH:MM" '
            f"(got {mapping.date_only!r})"
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
            summary_pattern(mapping.ics_summary)
        except re2.error as error:
            raise ExportError(
                f"{where}: [ics] summary cannot be used ({re2_reason(error)}); it is run by "
                "RE2, which has no backreferences or lookaround"
            ) from None
    # [therapists] ignore = [...]: pseudo-staff ("HOUSE") whose rows are skipped; every other
    # key is a staff name and its therapist id
    mapping.ignore_therapists = texts("therapists", "ignore")
    for name, location_id in section("locations").items():
        if not isinstance(location_id, str) or not location_id.strip():
            raise ExportError(f"{where}: [locations] {name!r} must map to a location id")
        mapping.locations[name] = location_id.strip()
    for sec, target in (
        ("therapists", mapping.therapists),
        ("status_words", mapping.status_words),
        ("headers", mapping.headers),
    ):
        for key, value in section(sec).items():
            if sec == "therapists" and key == "ignore":
                continue
            if not isinstance(value, str):
                raise ExportError(f"{where}: [{sec}] {key!r} must map to a string")
            target[key] = value
    for word, canonical in mapping.status_words.items():
        if canonical not in CANONICAL_STATUSES:
            raise ExportError(
                f"{_at(where, content, 'status_words', word)}: [status_words] {word!r} = "
                f"{canonical!r}: use one of " + ", ".join(CANONICAL_STATUSES)
            )
    _load_outcome(mapping, section("outcome"), where)
    allowed = set(KINDS["bookings"].columns) | set(CLIENT_FIELDS) | set(SPLIT_FIELDS)
    allowed -= {"source"}
    for key, value in section("columns").items():
        if key not in allowed:
            raise ExportError(
                f"{_at(where, content, 'columns', key)}: [columns] {key} is not a field "
                f"(use: {', '.join(sorted(allowed))})"
            )
        if not isinstance(value, str):
            raise ExportError(f"{where}: [columns] {key} must name a column header")
        mapping.columns[key] = value
    for key, value in section("constants").items():
        if key not in CONSTANT_FIELDS:
            raise ExportError(
                f"{where}: [constants] {key} cannot be fixed (use: {', '.join(CONSTANT_FIELDS)})"
            )
        if key in mapping.columns:
            raise ExportError(
                f"{where}: {key} is in both [columns] and [constants]; keep one of them"
            )
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float):
            raise ExportError(f"{where}: [constants] {key} must be a text or a number")
        mapping.constants[key] = str(value)
    return mapping


def _format_problem(fmt: str) -> str | None:
    """Why a [formats] datetime cannot be used (None: it can): no strptime code at all
    (`dd/mm/yyyy`), or a code the reader does not know (`%i`), found by DuckDB itself."""
    if not re.search(r"%-?[A-Za-z]", fmt):
        return "holds no strptime code"
    import duckdb

    try:
        with duckdb.connect() as con:
            con.execute("select try_strptime('', ?)", [fmt])
    except duckdb.Error as error:
        code = re.search(r"strptime: (%-?.)", str(error))
        return f"has a code strptime does not know ({code.group(1) if code else fmt})"
    return None


def key_line(text: str, section: str, key: str | None = None) -> int | None:
    """The line of a mapping file's text holding `[section]`, or `key = ...` inside it
    (None when it cannot be told: a dotted key, an inline table)."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped.split("#", 1)[0].strip() == f"[{section}]"
            if inside and key is None:
                return number
            continue
        if inside and key is not None:
            name = stripped.split("=", 1)[0].strip().strip("\"'")
            if "=" in stripped and name == key:
                return number
    return None


def _at(where: str, text: str, section: str, key: str | None = None) -> str:
    """`mapping file X` with the line of the section or key when it can be found."""
    line = key_line(text, section, key)
    return f"{where} line {line}" if line else where


def _load_outcome(mapping: Mapping, section: dict, where: str) -> None:
    """[outcome] status = "no_show", match = ["client", "date", ...]: checked whole."""
    if not section:
        return
    unknown = set(section) - {"status", "match", "source"}
    if unknown:
        raise ExportError(
            f"{where}: [outcome] {sorted(unknown)[0]} is not a key (use status, match, source)"
        )
    source = section.get("source")
    if source is not None and not (
        isinstance(source, str) and re.fullmatch(r"[A-Za-z0-9._-]+", source)
    ):
        raise ExportError(
            f"{where}: [outcome] source names the source of the bookings it updates "
            "(letters, digits, '.', '_', '-'), such as acuity-downtown or native"
        )
    mapping.outcome_source = source
    status, match = section.get("status"), section.get("match")
    if status not in CANONICAL_STATUSES:
        raise ExportError(
            f"{where}: [outcome] status must be the status its rows set, one of "
            + ", ".join(CANONICAL_STATUSES)
        )
    if (
        not isinstance(match, list)
        or not match
        or not all(isinstance(m, str) and m in OUTCOME_MATCH for m in match)
    ):
        raise ExportError(
            f"{where}: [outcome] match must list the fields a row shares with its booking, "
            f"from {', '.join(OUTCOME_MATCH)}"
        )
    mapping.outcome_status, mapping.outcome_match = status, list(dict.fromkeys(match))


# --- [ics] summary: the pattern the calendar reader runs -------------------------------------

# "Service - Client" (or –, —, :, |), spaces around trimmed; \p{Z} keeps Unicode spaces (RE2's
# \s is ASCII only).
DEFAULT_SUMMARY = (
    r"^[\s\p{Z}]*(?P<service>.+?)[\s\p{Z}]+[-–—:|][\s\p{Z}]+(?P<client>.+?)[\s\p{Z}]*$"
)


def summary_pattern(text: str | None):
    """[ics] summary (else the default) compiled by RE2: linear time whatever the pattern or
    the text. re2.error when RE2 cannot run it (backreferences, lookaround)."""
    options = re2.Options()
    options.log_errors = False  # the error is reported once, in the one-line message
    return re2.compile(text or DEFAULT_SUMMARY, options)


def re2_reason(error: Exception) -> str:
    """RE2's error text (bytes in the binding) as one line."""
    reason = error.args[0] if error.args else error
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", errors="replace")
    return " ".join(str(reason).split())


def columns_fit(sniff: Sniff, mapping: Mapping) -> int | None:
    """Index in the sniffed rows of the header holding every column the mapping's [columns]
    names, or None (a mapping without [columns] fits nothing)."""
    if not mapping.columns:
        return None
    return sniff.header_row(*mapping.columns.values())
