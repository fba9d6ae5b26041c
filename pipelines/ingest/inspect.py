"""`studio-ops inspect FILE`: what the loader sees in a file, changing no warehouse.

The file goes through the loader's own reading and checking (pipelines.ingest.load reads and checks
it the same way) in an in-memory DuckDB, so what inspect says is what a load would do with the
file alone: the format recognised and every other format that would accept it, the export
column each canonical field comes from, the first rows as they would be stored (clients only as
their keys), what the export does not carry, and the rows that would be rejected with their
reasons. What a load checks against the warehouse (a booking stored under another location,
the studio profile's names) is not looked at.

A file that needs answers from its mapping file gets the same questions the Data page asks
(pipelines.ingest.formats.needs.MappingNeeded). `--write-mapping OUT.toml` writes them as a draft
mapping: for a table no format knows, which column looks like which field and how its
date-times are written are guessed from the header and the first rows, each guess on its own
line with a comment saying why; what cannot be guessed (the location) is a commented-out line.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.canonical import KINDS
from pipelines.ingest import pii
from pipelines.ingest.formats import ExportError, accepting_formats, is_profile
from pipelines.ingest.formats.needs import (
    MappingNeeded,
    decimal_comma_columns,
    with_file_questions,
)
from pipelines.settings import Settings

SHOWN_ROWS = 5  # rows shown as they would be stored
SHOWN_REJECTS = 10  # rejected rows listed one by one (all are counted by reason)

# What a load does without an optional field, in the studio's words.
WITHOUT = {
    "room_id": "each booking is given a free room of the room calendar (or studio profile)",
    "uses_bars": "the service name decides (bar keywords, [services] bar_services)",
    "price": "revenue and RevPATH stay empty for these bookings",
    "created_at": "the rebooking rate cannot use these bookings",
    "cancelled_at": "late cancellations cannot be told apart",
    "location_id": "give it with --location or [source] location",
    # a shift export (Square's timecards) that does not say it: the rows load all the same
    "bar_trained": "bar training stays unknown (the studio profile's therapists can say it)",
}
FORMAT_NAMES = {
    "ics": "a calendar (ICS)",
    "mindbody": "a Mindbody report",
    "acuity": "an Acuity Scheduling export",
    "calendly": "a Calendly export",
    "fresha": "a Fresha export",
    "vagaro": "a Vagaro export",
    "square": "a Square export",
    "jane": "a Jane export",
    "mapped": "another system's export read through the mapping's [columns]",
}


@dataclass
class Inspection:
    """What the loader sees in one file (see the module)."""

    file: Path
    formats: list[str] = field(default_factory=list)  # every format accepting it, in order
    kind: str | None = None
    format: str | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)  # field -> export columns
    columns: list[str] = field(default_factory=list)  # the stored columns, in order
    rows: list[tuple] = field(default_factory=list)  # the first rows as they would be stored
    missing: list[str] = field(default_factory=list)  # lines: what the export does not carry
    rows_read: int = 0
    loaded: int = 0  # rows that would be stored (a repeated id counts once)
    repeated: int = 0  # valid rows whose id a later row repeats (the last one is kept)
    skipped: dict[str, int] = field(default_factory=dict)  # rows that are not bookings
    skip_why: str = ""
    outcome: dict | None = None  # an outcome report's [outcome] (it updates stored bookings)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    problem: str | None = None  # the one line a load would fail with
    needs: MappingNeeded | None = None
    salt_note: str = ""

    @property
    def would_load(self) -> bool:
        return self.problem is None


def _salt(db: Path | None):
    """The salt the warehouse's keys use (read, never created), else a salt for this run only:
    inspect writes nothing, not even the warehouse's salt file."""
    env = os.environ.get(pii.SALT_ENV)
    if env:
        return lambda: env, ""
    if db is not None:
        path = db.parent / pii.SALT_FILE
        try:
            salt = path.read_text(encoding="ascii").strip()
        except OSError:
            salt = ""
        if salt:
            return lambda: salt, ""
    salt = secrets.token_hex(32)
    note = "client keys use a salt for this run only (no warehouse salt yet): they differ on load"
    return lambda: salt, note


def inspect_file(
    path: Path,
    *,
    mapping: Path | list[Path] | None = None,
    location: str | None = None,
    settings: Settings | None = None,
    db: Path | None = None,
) -> Inspection:
    """Read and check `path` as `studio-ops load` would, in an in-memory DuckDB.

    `db` is the warehouse whose saved mappings (mappings/ beside it) and client-key salt are
    used, as a load into it would; nothing is written there."""
    from pipelines.ingest.formats.common import sniff
    from pipelines.ingest.formats.mapped import mappings_folder
    from pipelines.ingest.formats.mapping import load_mapping
    from pipelines.ingest.load import _not_an_export, _read_and_validate

    settings = settings or Settings()
    found = Inspection(file=path)
    salt, found.salt_note = _salt(db)
    if not path.is_file():
        found.problem = "no such file" if not path.exists() else "not a file"
        return found
    con = duckdb.connect()
    try:
        found.problem = _not_an_export(path)
        if found.problem:
            return found
        if is_profile(path):
            found.formats = ["studio-profile"]
            found.problem = "a studio profile, not an export: `studio-ops load` reads it"
            return found
        sniffed = sniff(path, settings)
        if isinstance(mapping, list | tuple):
            # several files or folders (--mapping again): the one that fits, as a load chooses
            from pipelines.ingest.formats import _vendor_of
            from pipelines.ingest.formats.mapped import choose_mapping, mapping_files

            given = [load_mapping(m) for m in mapping_files(list(mapping))]
            parsed = choose_mapping(given, sniffed, _vendor_of(sniffed))
        else:
            parsed = load_mapping(mapping) if mapping is not None else None
        folder = mappings_folder(db) if db is not None and parsed is None else None
        if parsed is None and folder is not None:
            from pipelines.ingest.formats import _saved_mapping

            parsed = _saved_mapping(sniffed, folder)
        found.formats = accepting_formats(sniffed, parsed)
        vendor = {"mapping": parsed, "mappings": None, "salt": salt, "limits": settings}
        rows = _read_and_validate(con, path, location, vendor)
        _describe(con, rows, found, path, settings)
    except MappingNeeded as error:
        # the questions the Data page asks: also those the file's first rows raise
        found.needs = with_file_questions(error)
        found.problem = str(error)
    except ExportError as error:
        found.problem = str(error)
    except (duckdb.Error, OSError) as error:
        found.problem = _first_line(error)
    finally:
        con.close()
    return found


def _describe(con, rows, found: Inspection, path: Path, settings: Settings) -> None:
    from pipelines.ingest.formats import native
    from pipelines.ingest.formats.tabular import read_header
    from pipelines.ingest.validate import typed_columns

    found.kind, found.format, found.rows_read = rows.kind, rows.format, rows.rows_read
    if rows.format.startswith("native"):
        header = read_header(path, settings)
        found.fields = {
            name: [header[i]]
            for name, i in native.column_positions(header, KINDS[rows.kind]).items()
        }
    else:
        found.fields = dict(rows.columns)
    if "status" in found.fields:
        found.fields["status_word"] = found.fields["status"]  # the word as the export wrote it
    if "duration_minutes" in found.fields:
        found.fields.setdefault("end_at", []).extend(found.fields["duration_minutes"])
    found.columns = typed_columns(rows.kind)
    found.rows = con.execute(
        f"select line_number, {', '.join(found.columns)} from export_checked "
        "where reason is null "
        f"order by line_number limit {SHOWN_ROWS}"
    ).fetchall()
    from pipelines.ingest.load import _repeated_rows

    valid = con.execute("select count(*) from export_checked where reason is null").fetchone()[0]
    found.repeated = _repeated_rows(con, rows.kind)
    found.loaded = valid - found.repeated
    found.skipped = dict(getattr(rows, "skipped", None) or {})
    found.skip_why = getattr(rows, "skip_why", "") or ""
    found.outcome = getattr(rows, "outcome", None)
    checked = con.execute(
        "select line_number, reason from export_checked where reason is not null "
        "order by line_number"
    ).fetchall()
    found.rejected = sorted([(line, reason) for line, reason, _ in rows.rejects] + checked)
    if found.rows_read == 0:
        found.problem = getattr(rows, "empty_why", "") or "the file has a header but no rows"
    elif valid == 0 and found.rejected:  # (as a load: a file of skipped rows only loads)
        line, reason = found.rejected[0]
        found.problem = f"every row was rejected (first: line {line}: {reason})"
    found.missing = _missing(con, found)


def _missing(con, found: Inspection) -> list[str]:
    """What the export does not carry: required fields first (their rows are rejected)."""
    kind = KINDS[found.kind]
    lines = []
    for name in found.columns:
        if name in ("source", "status_word") or found.fields.get(name):
            continue
        filled = con.execute(
            f"select count({name}) from export_checked where reason is null"
        ).fetchone()[0]
        if filled:
            continue  # given by the mapping, --location or the format's own rule
        if name == "end_at" and kind.one_of:
            lines.append(f"{' or '.join(kind.one_of)}: required, and no column holds it")
        elif name in kind.required and name != "bar_trained":  # blank: unknown, loads
            lines.append(f"{name}: required, and no column holds it")
        elif name in WITHOUT:
            lines.append(f"{name}: not in this export; {WITHOUT[name]}")
    return lines


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- the report --------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return "–"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _table(head: list[str], body: list[list[str]]) -> list[str]:
    """Plain columns, padded: readable in any terminal, mail or ticket."""
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return [line(head), line(["-" * w for w in widths]), *map(line, body)]


def report(found: Inspection) -> list[str]:
    """The inspection as lines of plain text a manager can read."""
    out = [f"file: {found.file}"]
    if found.formats:
        first, *others = found.formats
        what = FORMAT_NAMES.get(first, "a native export" if first.startswith("native") else "")
        out.append(f"format: {first}" + (f" ({what})" if what else ""))
        out.append(
            "runner-up: "
            + (", ".join(others) if others else "none (no other format accepts this file)")
        )
    elif found.needs is not None and found.needs.vendor == "mapped":
        out.append(
            "format: none recognised (a table no format knows: a mapping's [columns] reads it)"
        )
    elif found.needs is not None and any(
        q.key.startswith("headers.") for q in found.needs.questions
    ):
        out.append(
            f"format: none recognised (it looks like {FORMAT_NAMES[found.needs.vendor]} in "
            "another language: a mapping's [headers] names its columns in English)"
        )
    elif found.problem:
        out.append("format: none recognised")
    if found.format:
        out.append(f"read as: {found.kind} ({found.format})")
    if found.salt_note:
        out.append(f"note: {found.salt_note}")
    if found.needs is not None:
        out.append("")
        out.append("the mapping file must say (the Data page asks the same):")
        given = found.needs.known
        asked = [q for q in found.needs.questions if q.applies(given) and q.key not in given]
        for question in (q for q in asked if q.required):
            # a mark (",") is quoted, as it is written in the mapping file
            shown = [
                c if c.isalnum() or "%" in c or "_" in c else f'"{c}"' for c in question.choices
            ]
            choice = f" [{', '.join(shown)}]" if 0 < len(question.choices) <= 8 else ""
            out.append(f"  {question.key}: {question.prompt}{choice}")
        optional = [q.key for q in asked if not q.required]
        if optional:
            out.append(f"  and, if the file has them: {', '.join(optional)}")
        out.append("  (studio-ops inspect FILE --write-mapping OUT.toml drafts it)")
    if found.columns:
        out.append("")
        out.append(
            f"fields, the column each comes from, and the first {SHOWN_ROWS} rows as stored:"
        )
        head = ["field", "from column", *(f"line {row[0]}" for row in found.rows)]
        body = [
            [
                name,
                ", ".join(found.fields.get(name, [])) or "–",
                *(_cell(row[i + 1]) for row in found.rows),
            ]
            for i, name in enumerate(found.columns)
        ]
        out.extend("  " + line for line in _table(head, body))
        out.append("  (client_id is the client's key: names, emails and phones are never stored)")
    if found.missing:
        out.append("")
        out.append("missing:")
        out.extend(f"  {line}" for line in found.missing)
    if found.kind:
        out.append("")
        line = (
            f"rows: {found.rows_read} read, {found.loaded} would load, "
            f"{len(found.rejected)} would be rejected"
        )
        if found.skipped:
            counts = ", ".join(f"{n} {word}" for word, n in found.skipped.items())
            line += f", {sum(found.skipped.values())} skipped ({counts}"
            line += f": {found.skip_why})" if found.skip_why else ")"
        if found.repeated:
            line += (
                f"; {found.repeated} row{' repeats' if found.repeated == 1 else 's repeat'} "
                "an earlier id; the last one was kept"
            )
        out.append(line)
        if found.outcome:
            out.append(
                f"an outcome report: its rows set the status {found.outcome.get('status')} of "
                "bookings already loaded and never add bookings (which ones match is decided "
                "against the warehouse when it loads)"
            )
    if found.rejected:
        counts: dict[str, int] = {}
        for _, reason in found.rejected:
            counts[reason] = counts.get(reason, 0) + 1
        top = sorted(counts.items(), key=lambda item: -item[1])
        out.append(
            "rejected, by reason"
            + (f" (the {SHOWN_REJECTS} commonest):" if len(top) > SHOWN_REJECTS else ":")
        )
        out.extend(f"  {n} x {reason}" for reason, n in top[:SHOWN_REJECTS])
        out.append(f"rejected rows (first {min(SHOWN_REJECTS, len(found.rejected))}):")
        out.extend(f"  line {line}: {reason}" for line, reason in found.rejected[:SHOWN_REJECTS])
    out.append("")
    if found.would_load:
        rows = f"row{'s' * (found.rows_read != 1)}"
        out.append(f"would load: yes ({found.loaded} of {found.rows_read} {rows} stored)")
    else:
        out.append(f"would load: no: {found.problem}")
    return out


# --- the draft mapping -------------------------------------------------------------------------

# Header words that say which field a column holds, tried in this order per field (a column
# goes to the first field that claims it). Matched against the header lowercased, with runs
# of anything but letters and digits read as one space.
HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "booking_id": (
        r"^(appt|appointment|booking|reservation|visit|order)( ?(id|no|number|ref|reference))?$",
        r"^(appt|appointment|booking|reservation|visit) ?#$",
        r"^(id|ref|reference|no|number|#|confirmation)( ?(id|no|number|code))?$",
    ),
    "client_email": (r"\be ?mail\b",),
    "client_phone": (r"\b(phone|mobile|cell|telephone|tel)\b",),
    "client_first_name": (r"^(client |customer |guest |patient )?first ?name$",),
    "client_last_name": (r"^(client |customer |guest |patient )?(last ?name|surname)$",),
    "client_name": (
        r"^(client|customer|guest|patient|member)( ?(full )?name)?$",
        r"^(full )?name$",
    ),
    "start_at": (
        r"\b(start|starts|begin|begins|from)\b",
        r"^(appt |appointment |booking |visit |scheduled )?(date|day|date ?time|when)$",
    ),
    "end_at": (r"\b(end|ends|until|finish|finishes|to)\b",),
    "duration_minutes": (r"\b(duration|length|minutes|mins|min)\b",),
    "start_time": (r"^(appt |appointment |booking )?time$",),
    "therapist_id": (
        r"\b(therapist|staff|stylist|employee|provider|practitioner|masseuse|masseur|"
        r"team member|with|worker|resource)\b",
    ),
    "service": (r"\b(service|treatment|type|appointment type|item|class|product)\b",),
    "status": (r"\b(status|result|outcome|state|attendance)\b",),
    "price": (r"\b(price|amount|total|cost|paid|fee|revenue|value|sale|sales)\b",),
    "room_id": (r"\b(room|cabin|bed|table|suite)\b",),
    "location_id": (r"\b(location|branch|site|studio|store|venue|shop|business)\b",),
}
_DATE_PARTS = (
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%A, %B %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
)
_TIME_PARTS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p", "%I:%M:%S %p")
_DAY_FIRST = {"%d/%m/%Y": "%m/%d/%Y", "%d-%m-%Y": "%m-%d-%Y", "%d/%m/%y": "%m/%d/%y"}


def _words(header: str) -> str:
    return re.sub(r"[^a-z0-9#]+", " ", header.lower()).strip()


def _fits(con, values: list[str], fmt: str) -> bool:
    """Whether every value parses with `fmt`, as the loader parses it (DuckDB's strptime)."""
    return (
        bool(values)
        and con.execute(
            "select bool_and(try_strptime(trim(v), ?) is not null) from unnest(?) as t(v)",
            [fmt, values],
        ).fetchone()[0]
    )


def _formats_fitting(con, values: list[str], with_time: bool) -> list[str]:
    parts = [f"{d} {t}" for d in _DATE_PARTS for t in _TIME_PARTS] if with_time else _DATE_PARTS
    if with_time:
        parts = [*parts, *(f"{d}T{t}" for d in ("%Y-%m-%d",) for t in ("%H:%M", "%H:%M:%S"))]
    return [fmt for fmt in parts if _fits(con, values, fmt)]


def guess_answers(header: list[str], rows: list[list[str]]) -> dict[str, tuple[str, str]]:
    """Guesses for a generic mapping of a table: {"columns.service": ("Treatment", why), ...,
    "formats.datetime": (format, why)}. Only the header and these first rows are read."""
    con = duckdb.connect()
    try:
        return _guess(con, header, rows)
    finally:
        con.close()


def _guess(con, header: list[str], rows: list[list[str]]) -> dict[str, tuple[str, str]]:
    def values(i: int) -> list[str]:
        return [r[i].strip() for r in rows if i < len(r) and r[i].strip()]

    shapes: dict[int, str] = {}
    for i in range(len(header)):
        cells = values(i)
        if not cells:
            continue
        if all(pii.looks_like_email(c) for c in cells):
            shapes[i] = "email"
        elif _formats_fitting(con, cells, True):
            shapes[i] = "datetime"
        elif _formats_fitting(con, cells, False):
            shapes[i] = "date"
        elif any(_fits(con, cells, t) for t in _TIME_PARTS):
            shapes[i] = "time"
        elif all(pii.looks_like_phone(c) for c in cells):
            shapes[i] = "phone"
    fits_shape = {
        "client_email": {"email"},
        "client_phone": {"phone"},
        "start_at": {"datetime", "date"},
        "end_at": {"datetime", "time"},
        "start_time": {"time"},
    }
    guesses: dict[str, tuple[str, str]] = {}
    taken: set[int] = set()
    for name, patterns in HEADER_WORDS.items():
        for pattern in patterns:
            for i, title in enumerate(header):
                if i in taken or not title or not re.search(pattern, _words(title)):
                    continue
                wanted = fits_shape.get(name)
                if wanted is not None and shapes.get(i) not in wanted:
                    continue
                if name == "duration_minutes" and shapes.get(i) in ("datetime", "date", "time"):
                    continue
                guesses[f"columns.{name}"] = (
                    title,
                    f'the header "{title}"'
                    + (f" and its values ({shapes[i]})" if i in shapes else ""),
                )
                taken.add(i)
                break
            if f"columns.{name}" in guesses:
                break
    # no start column by name: the first date-time column; a date alone takes the first time
    if "columns.start_at" not in guesses:
        for i, shape in sorted(shapes.items()):
            if i not in taken and shape in ("datetime", "date"):
                guesses["columns.start_at"] = (
                    header[i],
                    f'the first {shape} column, "{header[i]}"',
                )
                taken.add(i)
                break
    start = guesses.get("columns.start_at")
    start_i = header.index(start[0]) if start else None
    if (
        start_i is not None
        and shapes.get(start_i) == "date"
        and "columns.start_time" not in guesses
    ):
        for i, shape in sorted(shapes.items()):
            if i not in taken and shape == "time":
                guesses["columns.start_time"] = (header[i], f'the first time column, "{header[i]}"')
                taken.add(i)
                break
    if start_i is not None and shapes.get(start_i) == "datetime":
        guesses.pop("columns.start_time", None)  # the start holds its time already
    if start_i is not None:
        guesses.update(_datetime_guess(con, header, rows, guesses, start_i, values))
    return guesses


def _datetime_guess(con, header, rows, guesses, start_i, values) -> dict[str, tuple[str, str]]:
    """The date-time format that reads every start in these rows (as date + ' ' + time for a
    split date and time), and why; day or month first is said, never silently chosen."""
    time_col = guesses.get("columns.start_time")
    if time_col:
        time_i = header.index(time_col[0])
        texts = [
            f"{r[start_i].strip()} {r[time_i].strip()}"
            for r in rows
            if max(start_i, time_i) < len(r) and r[start_i].strip() and r[time_i].strip()
        ]
    else:
        texts = values(start_i)
    fitting = _formats_fitting(con, texts, True)
    if not fitting:
        return {}
    chosen = fitting[0]
    example = texts[0]
    why = f'every start in the first rows reads with it (e.g. "{example}")'
    for day_first, month_first in _DAY_FIRST.items():
        if chosen.startswith(day_first) and chosen.replace(day_first, month_first) in fitting:
            why += "; CHECK: month first fits too, day first was taken"
        elif chosen.startswith(day_first):
            why += "; day first (a day above 12 rules out month first)"
        elif chosen.startswith(month_first):
            why += "; month first (a day above 12 in second place)"
    return {"formats.datetime": (chosen, why)}


def draft_mapping(path: Path, found: Inspection, settings: Settings | None = None) -> str:
    """A draft mapping file for `path` (TOML), from what the mapping still lacks (the Data
    page's questions) and, for another system's table, guesses with a comment each. A line it
    cannot guess is commented out with its question. ExportError when no mapping helps."""
    from pipelines.ingest.formats.common import sniff
    from pipelines.ingest.formats.mapped import NAME as GENERIC
    from pipelines.ingest.formats.mapped import answers_to_data

    need = found.needs
    if need is None:
        if found.formats and found.formats[0].startswith("native"):
            raise ExportError("a native export needs no mapping file")
        if found.would_load:
            raise ExportError("this file loads with the mapping it has; nothing to draft")
        raise ExportError(f"no mapping can read this file ({found.problem})")
    guesses: dict[str, tuple[str, str]] = {}
    if need.vendor == GENERIC:
        sniffed = sniff(path, settings)
        header_at = next((i for i, r in enumerate(sniffed.rows) if r == need.header), 0)
        rows = sniffed.rows[header_at + 1 :] or need.sample
        guesses = {k: v for k, v in guess_answers(need.header, rows).items() if k not in need.known}
        if "source.name" not in need.known:
            stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-").lower() or "export"
            guesses["source.name"] = (stem, "from the file's name: a short name for this system")
        # no price column by name: the one whose cells are prices with a decimal comma
        commas = decimal_comma_columns(need.header, need.sample)
        if "columns.price" not in guesses and "columns.price" not in need.known and commas:
            why = (
                f"its values read as prices with a decimal comma (e.g. {_example(need, commas[0])})"
            )
            guesses["columns.price"] = (commas[0], why)
    answers = {key: value for key, (value, _) in guesses.items()}
    # what the file's first rows answer (with_file_questions): how its prices are written, the
    # English name of a column of Fresha in another language
    for question in need.questions:
        if question.proposed and question.key not in need.known and question.applies(answers):
            answers[question.key] = question.proposed
            guesses[question.key] = (question.proposed, _why_proposed(need, question))
    open_keys: dict[str, str] = {}
    given = {**need.known, **answers}
    for question in need.questions:
        if question.required and question.applies(given) and not given.get(question.key):
            answers[question.key] = "?"
            open_keys[question.key] = question.prompt
            given[question.key] = "?"
    if need.vendor == GENERIC:
        if not any(
            given.get(f"columns.{c}") for c in ("client_name", "client_email", "client_phone")
        ):
            answers["columns.client_name"] = "?"
            open_keys["columns.client_name"] = "Which column holds the client's name?"
        if not (given.get("columns.end_at") or given.get("columns.duration_minutes")):
            answers["columns.duration_minutes"] = "?"
            open_keys["columns.duration_minutes"] = "Which column holds the end, or the duration?"
    data = answers_to_data(need, answers)
    # answers_to_data renames a split start (start_at -> start_date, end_at -> end_time)
    renamed = {"columns.start_date": "columns.start_at", "columns.end_time": "columns.end_at"}
    lines = [
        f"# Draft mapping written by `studio-ops inspect` for {path.name}.",
        "# Lines ending in 'guessed' were guessed from its header and first rows: check each.",
        "# Commented-out lines are questions the file cannot answer: answer them and remove",
        "# the '#' (or pass --location for the location). Then: studio-ops inspect FILE",
        "# --mapping THIS-FILE shows the rows as they would load.",
    ]
    from pipelines.ingest.formats.mapped import to_toml

    for section in ["source", *sorted(k for k in data if k != "source")]:
        items = data.get(section) or {}
        if not items:
            continue
        lines.append(f"[{section}]")
        for item, value in items.items():
            key = f"{section}.{item}"
            question_key = renamed.get(key, key)
            text = to_toml({section: {item: value}}).splitlines()[-1]
            if question_key in open_keys:
                empty = to_toml({section: {item: ""}}).splitlines()[-1]  # a key quoted if need be
                lines.append(f"# {empty}   # {open_keys[question_key]}")
            elif question_key in guesses:
                lines.append(f"{text}   # guessed: {guesses[question_key][1]}")
            else:
                lines.append(text)
    status_lines = _unknown_status_words(path, need, data, settings)
    if status_lines:
        if "status_words" not in data:
            lines.append("[status_words]")
        lines.extend(status_lines)
    return "\n".join(lines) + "\n"


def _example(need: MappingNeeded, column: str) -> str:
    i = need.header.index(column)
    return next((f'"{r[i].strip()}"' for r in need.sample if i < len(r) and r[i].strip()), "")


def _why_proposed(need: MappingNeeded, question) -> str:
    """The comment of an answer read from the file's first rows."""
    if question.key == "formats.decimal":
        return "its prices have a comma before the cents: 1.234,50 is 1234.50"
    if question.key == "fresha.locale":
        order = "day" if question.proposed == "en-GB" else "month"
        return f"a number above 12 in its dates can only be the {order}: {order} first"
    if question.key == "fresha.rooms":
        return "named like a room, beside a therapist in the same team member cell"
    if not question.key.startswith("headers."):
        return "from the file's first rows"
    column = question.key.partition(".")[2]
    return f"its values (e.g. {_example(need, column)}) and its name: Fresha's column"


def _unknown_status_words(path: Path, need, data, settings) -> list[str]:
    """Status words of the first rows the loader does not know, as commented-out lines."""
    from pipelines.ingest.validate import canonical_status

    column = data.get("columns", {}).get("status")
    if not column or column not in need.header:
        return []
    i = need.header.index(column)
    words = sorted({r[i].strip() for r in need.sample if i < len(r) and r[i].strip()})
    known = {k.lower() for k in data.get("status_words", {})}
    return [
        f'# "{w}" = ""   # not a status word the loader knows: completed, booked, no_show, '
        "cancelled or late_cancelled?"
        for w in words
        if canonical_status(w) is None and w.lower() not in known
    ]


def write_draft(out: Path, text: str) -> None:
    """Write the draft through a temporary file; a draft whose guessed lines would not load
    is never written (ExportError)."""
    from pipelines.ingest.formats.mapping import load_mapping

    part = out.with_name(f".{out.name}.part")
    part.write_text(text, encoding="utf-8")
    try:
        load_mapping(part)
    except ExportError as error:
        part.unlink(missing_ok=True)
        raise ExportError(str(error).replace(str(part), str(out))) from None
    part.replace(out)
