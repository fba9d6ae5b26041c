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
from pipelines.formats.needs import MappingNeeded, Question, location_question
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
    header_at = _header_index(sniff, mapping)
    lines = _open_lines(mapping, ctx.default_location())
    if lines:
        header = sniff.rows[header_at or 0] if sniff.rows else []
        raise MappingNeeded(
            lines[0],
            vendor=NAME,
            source=ctx.source(NAME),
            questions=generic_questions(header),
            header=header,
            sample=sniff.rows[(header_at or 0) + 1 : (header_at or 0) + 1 + SAMPLE_ROWS],
            known=mapping.answers(),
        )
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


# --- what a generic mapping still lacks, as questions ------------------------------------------

# A booking export names at least a booking, its start, end, therapist, service, status and
# client: a table with fewer columns is not one, and gets no questions.
MIN_COLUMNS = 7
SAMPLE_ROWS = 5  # rows of the file the Data page shows under its questions
# Date-time formats the Data page offers (any strptime format works in a hand-written file).
DATETIME_CHOICES = {
    "%d/%m/%Y %H:%M": "31/12/2026 14:30 (day first)",
    "%m/%d/%Y %H:%M": "12/31/2026 14:30 (month first)",
    "%m/%d/%Y %I:%M %p": "12/31/2026 2:30 PM (month first, AM/PM)",
    "%d/%m/%Y %I:%M %p": "31/12/2026 2:30 PM (day first, AM/PM)",
    "%d.%m.%Y %H:%M": "31.12.2026 14:30",
    "%Y-%m-%d %H:%M": "2026-12-31 14:30",
    "%d-%m-%Y %H:%M": "31-12-2026 14:30",
}


def _open_lines(mapping: Mapping, location: str | None) -> list[str]:
    """The one-line messages of what the generic mapping lacks (first: the one printed)."""
    cols = mapping.columns
    lines = []
    if not mapping.datetime_formats:
        lines.append(
            "mapped export: say how its date-times are written: add [formats] "
            'datetime = "%d/%m/%Y %H:%M" (strptime codes) to the mapping file (--mapping)'
        )
    if "location_id" not in cols and not location:
        lines.append(
            "mapped export has no location column: pass --location LOC, or add "
            '[source] location = "L01" to the mapping file (--mapping)'
        )
    if not any(c in cols for c in ("client_email", "client_phone", "client_name")) and not (
        "client_first_name" in cols and "client_last_name" in cols
    ):
        lines.append(
            "mapped export: name the client column: add [columns] client_name (or "
            "client_email / client_phone) to the mapping file (--mapping)"
        )
    for column in ("therapist_id", "service", "status"):
        if column not in cols:
            lines.append(f'mapped export: add [columns] {column} = "<header>" to the mapping file')
    return lines


def _column(field_name: str, prompt: str, help_: str = "", required: bool = True, **kw):
    return Question(f"columns.{field_name}", prompt, help_, required=required, **kw)


def generic_questions(header: list[str]) -> list[Question]:
    """What a mapping of another booking system's export says, as questions; a column
    question's answers are the file's column headers."""
    choices = tuple(h for h in header if h)
    none = {"columns.location_id": ("",)}
    return [
        Question(
            "source.name",
            "A short name for this booking system",
            "Letters, digits, '-' and '_' only, e.g. salonbook. It keeps its booking ids apart "
            "from other systems' and names the saved mapping.",
        ),
        _column(
            "booking_id", "Which column holds the booking (appointment) number?", choices=choices
        ),
        _column(
            "start_at",
            "Which column holds the start: the date and time, or the date only?",
            choices=choices,
        ),
        _column(
            "start_time",
            "Which column holds the start time, if it has its own column?",
            "Leave empty when the start column above holds the time too.",
            required=False,
            choices=choices,
        ),
        _column(
            "end_at",
            "Which column holds the end (date and time, or the time only)?",
            "Leave empty when the export gives a duration instead.",
            required=False,
            choices=choices,
        ),
        _column(
            "duration_minutes",
            "Which column holds the duration?",
            'Minutes ("90"), or "1h 30m"; leave empty when the export gives the end.',
            required=False,
            choices=choices,
        ),
        Question(
            "formats.datetime",
            "How are its dates and times written?",
            "Check the preview below: a wrong choice shows as rejected rows.",
            choices=tuple(DATETIME_CHOICES),
        ),
        _column("therapist_id", "Which column names the therapist?", choices=choices),
        _column("service", "Which column names the service (treatment)?", choices=choices),
        _column(
            "status",
            "Which column holds the booking's status?",
            "Words such as Completed, Booked, No show, Cancelled.",
            choices=choices,
        ),
        _column(
            "client_name",
            "Which column holds the client's name?",
            "Client details are never stored: they become a private key. Give the name, the "
            "email or the phone (at least one).",
            required=False,
            choices=choices,
        ),
        _column(
            "client_email",
            "Which column holds the client's email?",
            required=False,
            choices=choices,
        ),
        _column(
            "client_phone",
            "Which column holds the client's phone?",
            required=False,
            choices=choices,
        ),
        _column("price", "Which column holds the price?", required=False, choices=choices),
        _column("room_id", "Which column names the room?", required=False, choices=choices),
        _column(
            "location_id",
            "Which column names the location?",
            "Leave empty when the whole export is from one location.",
            required=False,
            choices=choices,
        ),
        location_question("other booking system's", none),
    ]


def columns_needed(message: str, path: Path, header: list[str], limits) -> ExportError:
    """A table whose header no format knows: a MappingNeeded asking for a generic mapping
    (CSV and .xlsx only, the containers the generic adapter reads), else the plain line."""
    from pipelines.formats.common import sniff

    found = sniff(path, limits)
    if found.container not in ("csv", "xlsx") or len([h for h in header if h]) < MIN_COLUMNS:
        return ExportError(message)
    return MappingNeeded(
        message,
        vendor=NAME,
        source=NAME,
        questions=generic_questions(header),
        header=header,
        sample=found.rows[1 : 1 + SAMPLE_ROWS],
    )


# --- the mappings folder beside the warehouse ---------------------------------------------------

MAPPINGS_FOLDER = "mappings"


def mappings_folder(db: Path | str) -> Path:
    """`mappings/` beside the warehouse: one mapping file per source, named after it."""
    return Path(db).parent / MAPPINGS_FOLDER


def _saved_for(folder: Path, vendor: str) -> list[Path]:
    """Saved mapping files of a vendor: `<vendor>.toml` or `<vendor>-<account>.toml`."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.glob("*.toml")
        if p.is_file() and (p.stem == vendor or p.stem.startswith(vendor + "-"))
    )


def saved_mapping(folder: Path, vendor: str | None, sniffed: Sniff) -> Mapping | None:
    """The saved mapping for a file: the vendor's when the file is a vendor export, else (a
    table no format knows) the generic mapping whose columns its header holds. None when the
    folder has none; ExportError when several fit (the load cannot choose)."""
    if vendor is not None:
        found = [load_mapping(p) for p in _saved_for(folder, vendor)]
    else:
        found = [m for m in map(load_mapping, _saved_for(folder, NAME)) if detect(sniffed, m)]
    if len(found) > 1:
        names = ", ".join(m.path.name for m in found if m.path)
        raise ExportError(
            f"several saved mappings in {folder} fit this file ({names}): pass the one to use "
            "with --mapping, or remove the others"
        )
    return found[0] if found else None


class AnswerError(ValueError):
    """An answer on the Data page that cannot be saved; the message is one line."""


def answers_to_data(need: MappingNeeded, answers: dict[str, str]) -> dict[str, dict]:
    """The mapping file's content (TOML tables) from what the mapping knew and the answers."""
    given = {**need.known, **{k: v.strip() for k, v in answers.items() if v and v.strip()}}
    missing = [
        q.prompt for q in need.questions if q.required and q.applies(given) and not given.get(q.key)
    ]
    if missing:
        raise AnswerError(f"Please answer: {missing[0]}")
    if need.vendor == NAME and not any(
        given.get(f"columns.{c}") for c in ("client_name", "client_email", "client_phone")
    ):
        raise AnswerError("Please say which column holds the client's name, email or phone")
    if need.vendor == NAME and not (
        given.get("columns.end_at") or given.get("columns.duration_minutes")
    ):
        raise AnswerError("Please say which column holds the end, or the duration")
    if given.get("columns.start_time"):
        # two columns: the first holds the date only, and an end column the time only
        given["columns.start_date"] = given.pop("columns.start_at")
        if "columns.end_at" in given:
            given["columns.end_time"] = given.pop("columns.end_at")
    name = given.get("source.name") or need.vendor
    if need.vendor == NAME and not name.startswith(NAME + "-") and name != NAME:
        name = f"{NAME}-{name}"
    given["source.name"] = name
    data: dict[str, dict] = {}
    for key, value in given.items():
        section, _, item = key.partition(".")
        if section == "formats":
            value = [value]
        data.setdefault(section, {})[item] = value
    # what Question.only_if leaves out is not written (a location for a location calendar)
    for q in need.questions:
        if not q.applies(given):
            section, _, item = q.key.partition(".")
            data.get(section, {}).pop(item, None)
    return data


def to_toml(data: dict[str, dict]) -> str:
    """A mapping file's text (tables of strings, lists of strings and string tables)."""

    def value(v) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else value(k)

    order = ["source", *sorted(k for k in data if k != "source")]
    lines = ["# Saved by the Data page; edit it, or remove it to be asked again."]
    for section in order:
        if section in data and data[section]:
            lines.append(f"[{section}]")
            lines.extend(f"{key(k)} = {value(v)}" for k, v in data[section].items())
    return "\n".join(lines) + "\n"


def save_answers(
    folder: Path,
    need: MappingNeeded,
    answers: dict[str, str],
    allowed_locations=None,
) -> Path:
    """Write the answers as `folder/<source>.toml` (atomically) and return its path.

    An existing file of that name keeps what it says; the answers add to it. A manager's
    location answer must be one of their locations (`allowed_locations`; None: any)."""
    data = answers_to_data(need, answers)
    location = data.get("source", {}).get("location")
    if location and allowed_locations is not None and location not in set(allowed_locations):
        raise AnswerError(
            f"{location} is not one of your locations ({', '.join(sorted(allowed_locations))})"
        )
    name = data["source"]["name"]
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise AnswerError(f"the name {name!r} may hold letters, digits, '.', '_' and '-' only")
    path = folder / f"{name}.toml"
    if path.exists():
        old = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        for section, items in data.items():
            old.setdefault(section, {}).update(items)
        data = old
    text = to_toml(data)
    folder.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    part.write_text(text, encoding="utf-8")
    try:
        load_mapping(part)  # a file that would not load is never saved
    except ExportError as error:
        part.unlink(missing_ok=True)
        raise AnswerError(str(error).replace(str(part), path.name)) from None
    part.replace(path)
    return path


def preview(need: MappingNeeded, answers: dict[str, str], rows: int = SAMPLE_ROWS):
    """The first rows of the file as the loader would read them with these answers (a pandas
    DataFrame: line, start, end, therapist, service, status, price, and the reason a row would
    be rejected), or an AnswerError saying what is still unanswered. Reads only the sample the
    MappingNeeded carries, in an in-memory DuckDB; client details are left out."""
    import csv
    import tempfile

    import duckdb

    from pipelines.formats import read_export
    from pipelines.validate import validate

    data = answers_to_data(need, answers)
    with tempfile.TemporaryDirectory(prefix="studio-ops-preview-") as folder:
        sample = Path(folder) / "sample.csv"
        with open(sample, "w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows([need.header, *need.sample[:rows]])
        mapping_file = Path(folder) / "mapping.toml"
        mapping_file.write_text(to_toml(data), encoding="utf-8")
        con = duckdb.connect()
        try:
            read = read_export(
                sample, con, "preview_rows", mapping=mapping_file, salt=lambda: "preview"
            )
            validate(con, read.kind, read.table, "preview_checked", read.params, read.raw_row)
            return con.execute(
                """
                select r.line_number as line, r.start_at as start,
                    coalesce(r.end_at, r.duration_minutes || ' min') as "end",
                    r.therapist_id as therapist, r.service, r.status, r.price,
                    coalesce(c.reason, 'ok') as "would load?"
                from preview_rows as r join preview_checked as c using (line_number)
                order by r.line_number
                """
            ).df()
        except ExportError as error:
            raise AnswerError(str(error)) from None
        finally:
            con.close()
