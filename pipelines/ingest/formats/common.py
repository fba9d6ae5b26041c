"""What every vendor adapter shares: sniffing a file, the read context, and the SQL builder.

A vendor adapter turns its file into a temp table of vendor text cells (`line_number, c0..cN`,
as pipelines.ingest.formats.tabular does), then describes each canonical booking column as a SQL
expression over those cells. `build_bookings` assembles the canonical temp table the native
adapter also produces (`line_number, <bookings columns as text>, raw_row`): vendor dates become
ISO text with explicit formats (a value that does not parse passes through unchanged, so the
validator rejects the row with the raw value in its reason), vendor status words become
canonical ones through a lookup table, and client names, emails and phones become a salted hash
key (pipelines.ingest.pii) before anything is stored, in `raw_row` too.

Vendor text never becomes SQL: header names pick column positions, and every value that comes
from a file or a mapping (formats, words, names) is a bound parameter or a row of a temp table.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.canonical import KINDS, normalise
from pipelines.ingest import pii
from pipelines.ingest.formats import tabular
from pipelines.ingest.formats.base import ExportError, ExportRows, Sniff
from pipelines.ingest.formats.mapping import Mapping, columns_fit
from pipelines.ingest.formats.needs import MappingNeeded, location_question
from pipelines.ingest.formats.sql_expr import NULL, E, Expr, P, blank

if TYPE_CHECKING:
    from pipelines.settings import Settings

SNIFF_ROWS = 40  # a preamble (Vagaro) puts the header as low as row 23
ISO = "%Y-%m-%d %H:%M:%S"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0"


OFFICE_LOCK_BYTES = 1024  # Excel's owner file of an open workbook is 162-165 bytes


def _refuse_other_zip(path: Path) -> None:
    """A zip file that is not a workbook (no `[Content_Types].xml`), such as Google Calendar's
    export (a zip of .ics calendars), is refused saying to unzip it; only its directory is read.
    A damaged zip is left to the workbook reader's own message."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        return
    if "[Content_Types].xml" in names:
        return
    calendars = sum(n.lower().endswith(".ics") for n in names)
    inside = f" ({calendars} calendar{'s' * (calendars != 1)}, .ics)" if calendars else ""
    files = "1 file" if len(names) == 1 else f"{len(names):,} files"
    raise ExportError(
        f"this is a zip archive of {files}{inside}, not a workbook: unzip it and load the "
        f"{files.split()[-1]} inside"
    )


def is_office_lock_file(path: Path) -> bool:
    """Whether `path` is the owner file Excel (or Word) keeps beside a workbook while it is
    open: `~$AppointmentSummary.xlsx`, a few bytes naming who has it open, not an export."""
    if not path.name.startswith("~$"):
        return False
    try:
        if path.stat().st_size > OFFICE_LOCK_BYTES:
            return False
        with open(path, "rb") as handle:
            return not handle.read(4).startswith(tabular.XLSX_MAGIC)
    except OSError:
        return False


def sniff(path: Path, limits: Settings | None = None) -> Sniff:
    """Recognise the container from the file's first bytes, never from its name (Excel's
    lock file of an open workbook, `~$` and a few bytes, is told apart by both)."""
    limits = tabular.limits_or_defaults(limits)
    if is_office_lock_file(path):
        raise ExportError(
            "this is the lock file Excel keeps while a workbook is open, not an export: load "
            f"{path.name[2:][:80]!r} itself (close it in Excel first if it has unsaved changes)"
        )
    with open(path, "rb") as handle:
        head = handle.read(tabular.TEXT_SAMPLE_BYTES)
    if head.startswith(tabular.XLSX_MAGIC):
        _refuse_other_zip(path)
        rows = [
            [c or "" for c in cells]
            for _, cells in tabular._xlsx_rows(path, limit=SNIFF_ROWS, limits=limits)
        ]
        return Sniff(path, "xlsx", rows=rows, limits=limits)
    if head.startswith(tabular.PARQUET_MAGIC):
        return Sniff(path, "parquet", limits=limits)
    if head.startswith(OLE2_MAGIC):
        raise ExportError(
            "this is a binary Excel 97-2003 workbook (.xls); open it and save it as .xlsx or CSV"
        )
    if not head.strip():
        raise ExportError("the file is empty")
    text = head.decode("utf-8-sig", errors="replace")
    start = text.lstrip(" \t\r\n\ufeff")
    if start[:15].upper() == "BEGIN:VCALENDAR":
        return Sniff(path, "ics", text_head=text, limits=limits)
    lowered = start[:2048].lower()
    if start.startswith("<") and any(
        tag in lowered for tag in ("<html", "<!doctype html", "<table", "<head", "<body")
    ):
        return Sniff(path, "html", text_head=text, limits=limits)
    if head[:2] in tabular.UTF16_BOMS:
        # Excel's "Unicode Text" (UTF-16, tabs): its rows too, so a mapping can fit it
        start = head[: len(head) // 2 * 2].decode("utf-16", errors="replace").lstrip("\r\n")
    elif b"\x00" in head:
        return Sniff(path, "csv", limits=limits)  # the native reader gives its own message
    rows = []
    delimiter = tabular._delimiter(head[:2], start)  # a semicolon in Europe's Excel CSV
    reader = csv.reader(io.StringIO(start, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append([c.strip() for c in cells])
            if len(rows) >= SNIFF_ROWS:
                break
    except csv.Error:
        pass
    return Sniff(path, "csv", text_head=text, rows=rows, limits=limits)


@dataclass
class Context:
    """What a read needs besides the file: the connection, target, location, mapping, salt."""

    con: duckdb.DuckDBPyConnection
    target: str
    location: str | None
    mapping: Mapping | None
    salt: Callable[[], str]
    limits: Settings | None = None  # the settings whose file limits apply (None: the defaults)
    # (table, location column) whose names vendor_locations holds: a second caller in the
    # same read (Square's time zones, then its bookings) reuses it, not scanning again
    located: tuple[str, str, tuple] | None = None

    def source(self, vendor: str) -> str:
        """The booking source: the vendor, or the mapping's per-account name."""
        name = self.mapping.source_name if self.mapping else None
        if not name:
            return vendor
        return name if name.startswith(vendor) else f"{vendor}-{name}"

    def default_location(self) -> str | None:
        if self.location:
            return self.location
        return self.mapping.location if self.mapping else None

    def require_location(self, vendor: str) -> str:
        location = self.default_location()
        if not location:
            # "Acuity", "calendar (ICS)" -> the adapter's name, for the Data page's questions
            name = "ics" if vendor.startswith("calendar") else vendor.lower()
            raise MappingNeeded(
                f"{vendor} export has no location column: pass --location LOC, or add "
                '[source] location = "L01" to the mapping file (--mapping)',
                vendor=name,
                source=self.source(name),
                questions=[location_question(vendor)],
                known=self.mapping.answers() if self.mapping else {},
            )
        return location


def iso_datetime(expr: Expr, formats: Iterable[str]) -> Expr:
    """Vendor date-time text -> ISO text with explicit formats; unparsed text passes through."""
    return E(
        "coalesce(strftime(try_strptime(trim({}), {}), '" + ISO + "'), {})",
        expr,
        P(list(formats)),
        blank(expr),
    )


def minutes_text(expr: Expr) -> Expr:
    """`1h 30m`, `45m`, `2h`, `90`, `1:30` (also `1 hr 15 mins`, `2 hours`, `90 minutes`, a
    workbook's duration cell `01:30:00`) -> whole minutes as text; anything else unchanged."""
    x = E("lower(trim({}))", expr)
    return E(
        "case when {} ~ '^[0-9]+$' then {} "
        "when {} ~ '^([0-9]+) *(h|hrs?|hours?)( *([0-9]+) *(m|mins?|minutes?))?$"
        "|^([0-9]+) *(m|mins?|minutes?)$' then cast("
        "coalesce(try_cast(regexp_extract({}, '([0-9]+) *h', 1) as integer), 0) * 60 + "
        "coalesce(try_cast(regexp_extract({}, '([0-9]+) *m', 1) as integer), 0) as varchar) "
        # `1:30`, or a workbook's duration cell (`01:30:00`, `1:30:00` for [h]:mm)
        "when {} ~ '^[0-9]+:[0-9]{2}(:00)?$' then cast("
        "cast(split_part({}, ':', 1) as integer) * 60 + cast(split_part({}, ':', 2) as integer)"
        " as varchar) else {} end",
        x,
        x,
        x,
        x,
        x,
        x,
        x,
        x,
        blank(expr),
    )


# A date as a spreadsheet writes it (12/2/2020, 02.12.2020), which some booking systems never
# write: their export was opened and saved again.
SPREADSHEET_DATE = re.compile(r"^\s*\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")


def refuse_spreadsheet_dates(
    sniff_: Sniff, ctx: Context, column: str, vendor: str, written: str
) -> None:
    """Refuse, in one line saying what to do, an export whose `column` a spreadsheet rewrote
    (`12/2/2020 9:00`) when the vendor never writes dates so (`written` is how it does),
    unless the mapping's [formats] datetime says how it is written: the day-month order
    cannot be known, and each row rejected as "not a date-time" would not say why."""
    if ctx.mapping and ctx.mapping.datetime_formats:
        return
    position = Columns(sniff_.header).index(column)
    if position is None:
        return
    values = [c[position].strip() for c in sniff_.rows[1:] if position < len(c)]
    values = [v for v in values if v]
    # a spreadsheet rewrites every row: one odd row among the vendor's own is only that row's
    # problem (rejected with its value), not the file's
    if values and all(SPREADSHEET_DATE.match(v) for v in values):
        value = values[0]
        at = sniff_.text_head.find(value)
        line = f"line {sniff_.text_head.count(chr(10), 0, at) + 1}: " if at >= 0 else ""
        raise ExportError(
            f"{line}{column} '{value}' is not how {vendor} writes a time ('{written}'): the "
            f"file was opened and saved by a spreadsheet. Export it again from {vendor}, or "
            'say how it is written: add [formats] datetime = "%m/%d/%Y %H:%M" (month first) '
            'or "%d/%m/%Y %H:%M" (day first) to the mapping'
        )


def cell_date(expr: Expr) -> Expr:
    """A date cell: text, or a workbook's date cell (read as `YYYY-MM-DD 00:00:00`) as its
    date."""
    return E("regexp_replace(trim({}), ' 00:00:00$', '')", expr)


def date_and_time(date: Expr, clock: Expr) -> Expr:
    """The start (or end) of a row with a date column and a time column: `date time`, or the
    time cell alone when it holds a whole date-time (a workbook's date-time cell shown as a
    time, `2026-03-04 13:00:00`; `3/4/2026 1:00 PM`)."""
    return E(
        "case when trim({}) ~ '\\d{4}-\\d{2}-\\d{2}|/' then trim({}) "
        "else {} || ' ' || trim({}) end",
        clock,
        clock,
        cell_date(date),
        clock,
    )


def past_or_future(start: Expr) -> Expr:
    """For exports that never record completion: a day before the load day is completed, the
    load day or later booked (an ISO start that does not parse stays booked and is rejected
    for its start_at anyway)."""
    return E(
        "case when try_strptime({}, '" + ISO + "') < current_date then 'completed' "
        "else 'booked' end",
        start,
    )


def person_name(expr: Expr) -> Expr:
    """Staff names as people write them: `Last, First` -> `First Last`, spaces collapsed."""
    x = E("regexp_replace(trim({}), '\\s+', ' ', 'g')", expr)
    return blank(
        E(
            "case when {} like '%,%' then trim(split_part({}, ',', 2)) || ' ' || "
            "trim(split_part({}, ',', 1)) else {} end",
            x,
            x,
            x,
            x,
        )
    )


def loose_key(name: str | None) -> str:
    """A header name by its letters and digits only, lowercased, so `Customer e-mail`,
    `customer_email` and `CUSTOMER EMAIL:` are one name (Jane's and Square's headers, which
    could not be checked against a real file, are matched this way)."""
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


def renamed_header(header: list[str], mapping: Mapping | None) -> list[str]:
    """The header with the mapping's [headers] renames applied (a column the export calls
    `Clinician` read as `Practitioner`): a renamed column is a one-line mapping fix."""
    renames = {loose_key(k): v for k, v in getattr(mapping, "headers", {}).items()}
    return [renames.get(loose_key(name), name) for name in header]


def generic_mapping_fits(sniff_: Sniff, mapping: Mapping | None) -> bool:
    """Whether the mapping's [columns] describe this file: a generic mapping written for it
    wins over an adapter's loose guess by header (a salon's `Client, Staff, Service, Status`)."""
    return (
        mapping is not None
        and sniff_.container in ("csv", "xlsx")  # the containers the generic adapter reads
        and columns_fit(sniff_, mapping) is not None
    )


def word_among(word: Expr, words: Iterable[str]) -> Expr:
    """The cell as written (trimmed) when it is one of `words`, compared by letters only (as
    status words are), else NULL: what a row that is not a booking is (build_bookings' skip)."""
    keys = sorted({re.sub(r"[^a-z]", "", w.lower()) for w in words})
    return E(
        "case when list_contains({}, regexp_replace(lower(trim({})), '[^a-z]', '', 'g')) "
        "then trim({}) end",
        P(keys),
        word,
        word,
    )


class Columns:
    """Vendor header -> cell expressions; names match ignoring case, spaces and underscores
    (or, with `key=loose_key`, anything but letters and digits)."""

    def __init__(self, header: list[str], key: Callable[[str], str] = normalise) -> None:
        self.header = header
        self.key = key
        self.positions: dict[str, int] = {}
        for index, name in enumerate(header):
            self.positions.setdefault(key(name or ""), index)

    def index(self, *names: str) -> int | None:
        for name in names:
            position = self.positions.get(self.key(name))
            if position is not None:
                return position
        return None

    def has(self, *names: str) -> bool:
        return self.index(*names) is not None

    def __call__(self, *names: str) -> Expr:
        """The first of `names` the header has, as a cell expression (NULL when none)."""
        position = self.index(*names)
        return NULL if position is None else Expr(f"t.c{position}")


# A client written as a walk-in (`Walk-In`, `walk in`, `Walkin`, `Walk-in Client`) is no one:
# with no email or phone its booking has no client, so it is rejected, saying so, never all the
# chain's walk-ins hashed into one client (which would count them as one returning client)
WALK_IN = r"^\s*walk[\s_-]*ins?(\s+client)?\s*$"
WALKED_IN = (
    "the client is a walk-in (no name, email or phone): a booking without a client is not "
    "loaded; give the appointment its client in {system} to count it"
)
SYSTEM_NAMES = {
    "acuity": "Acuity",
    "calendly": "Calendly",
    "fresha": "Fresha",
    "ics": "the calendar",
    "jane": "Jane",
    "mindbody": "Mindbody",
    "square": "Square",
    "vagaro": "Vagaro",
}


def walked_in(vendor: str) -> str:
    """The walk-in's reason, naming where the studio gives the appointment its client."""
    return WALKED_IN.format(system=SYSTEM_NAMES.get(vendor, "your booking system"))


@dataclass
class ClientCells:
    """Which cells identify the client (all are PII and never stored as they are)."""

    email: Expr = NULL
    phone: Expr = NULL
    name: Expr = NULL
    positions: tuple[int, ...] = ()  # cells to replace by the key in raw_row
    # true when the client's only identity is a walk-in's name (no email, phone or code)
    walk_in: Expr = NULL


def client_cells(columns: Columns, *, email=(), phone=(), name=(), first_last=None) -> ClientCells:
    """ClientCells from header names; `first_last` = (first-name column, last-name column)."""
    email, phone, name = (
        (names,) if isinstance(names, str) else tuple(names) for names in (email, phone, name)
    )
    positions = []
    for names in (email, phone, name, *(first_last or ())):
        if isinstance(names, str):
            names = (names,)
        index = columns.index(*names)
        if index is not None:
            positions.append(index)
    name_expr = columns(*name) if name else NULL
    if first_last:
        first, last = columns(first_last[0]), columns(first_last[1])
        joined = E("nullif(trim(coalesce({}, '') || ' ' || coalesce({}, '')), '')", first, last)
        name_expr = joined if name_expr is NULL else E("coalesce({}, {})", blank(name_expr), joined)
    email_expr = columns(*email) if email else NULL
    phone_expr = columns(*phone) if phone else NULL
    walk_in = (
        E(
            "{} is null and {} is null and regexp_matches(coalesce({}, ''), {}, 'i')",
            blank(email_expr),
            blank(phone_expr),
            name_expr,
            P(WALK_IN),
        )
        if name_expr is not NULL
        else NULL
    )
    return ClientCells(
        email=email_expr,
        phone=phone_expr,
        name=name_expr,
        positions=tuple(positions),
        walk_in=walk_in,
    )


# --- tables ----------------------------------------------------------------------------------


def table_from_records(
    con: duckdb.DuckDBPyConnection,
    name: str,
    header: list[str],
    records: Iterable[list[object]],
) -> tabular.Table:
    """A temp text table (line_number, c0..cN) from [line, cell, ...] records (any iterable:
    they reach DuckDB in batches); short rows are padded, long ones cut to the header."""
    width = len(header)
    writer = tabular.RowWriter(con, name, width)
    count = 0
    for r in records:
        writer.add([r[0], *((list(r[1:]) + [None] * width)[:width])])
        count += 1
    writer.close()
    return tabular.Table(name=name, header=header, container="", rows_read=count)


def read_vendor_table(sniff_: Sniff, con: duckdb.DuckDBPyConnection, name: str) -> tabular.Table:
    """A vendor CSV/XLSX whose header is the first row, read like a native file."""
    return tabular.read_table(sniff_.path, con, name, sniff_.limits)


def read_below_header(sniff_: Sniff, ctx: Context, header_at: int) -> tabular.Table:
    """A table whose header sits under a preamble (row `header_at` of the non-blank rows);
    a trailing totals row (first cell starting with "Total") and the header repeated further
    down (a report's page header) are dropped."""
    if sniff_.container == "xlsx":
        rows = tabular._xlsx_iter(sniff_.path, sniff_.limits)
    else:
        rows = tabular.csv_rows(sniff_.path, sniff_.limits)
    # Streamed: only the rows up to the header are looked at before the records flow on.
    rows = ((line, cells) for line, cells in rows if any((c or "").strip() for c in cells))
    header: list[str] | None = None
    for index, (_, cells) in enumerate(rows):
        if index == header_at:
            header = [(c or "").strip() for c in cells]
            break
    if header is None:
        raise ExportError("the header row is missing")
    if len(header) > sniff_.limits.max_columns:
        raise tabular.too_many_columns(len(header), sniff_.limits)
    # the header again further down (a report's page header) is no record either
    again = [normalise(c) for c in header]
    records = (
        [line, *cells]
        for line, cells in rows
        if not re.match(r"(?i)^\s*(grand )?totals?\b", next((c for c in cells if c), "") or "")
        and [normalise(c or "") for c in cells[: len(again)]] != again
    )
    return table_from_records(ctx.con, f"{ctx.target}_vendor", header, records)


def install_lookups(
    ctx: Context, statuses: dict[str, str], location: str | None, source: str
) -> None:
    """Temp tables the canonical query joins: context values, status words, staff ids."""
    con = ctx.con
    words = {pii_free_key(k): v for k, v in statuses.items()}
    therapists: dict[str, str] = {}
    bar_services: list[str] = []
    if ctx.mapping:
        words.update({pii_free_key(k): v for k, v in ctx.mapping.status_words.items()})
        therapists = ctx.mapping.therapists
        bar_services = ctx.mapping.bar_services
    con.execute(
        "create or replace temp table vendor_ctx as "
        "select cast(? as varchar) as location, cast(? as varchar) as source, "
        "cast(? as varchar) as salt",
        [location, source, ctx.salt()],
    )
    con.execute("create or replace temp table vendor_status (word varchar, canonical varchar)")
    if words:
        con.executemany("insert into vendor_status values (?, ?)", list(words.items()))
    con.execute("create or replace temp table vendor_staff (name varchar, id varchar)")
    if therapists:
        con.executemany(
            "insert into vendor_staff values (?, ?)",
            [(k.strip().lower(), v) for k, v in therapists.items()],
        )
    con.execute("create or replace temp table vendor_bar_services (service varchar)")
    if bar_services:
        con.executemany(
            "insert into vendor_bar_services values (?)",
            [(s.strip().lower(),) for s in bar_services],
        )


# Exports whose Location column is the location's display name (`Covent Garden Spa`); for
# Acuity, its Calendar when the mapping says Calendars are locations; for a calendar, an
# event's LOCATION when [ics] location_is = "location".
LOCATION_NAME_VENDORS = frozenset({"fresha", "square", "vagaro", "jane", "acuity", "ics"})
LOCATION_NAME_BATCH = 10_000


def install_location_names(ctx: Context, table: tabular.Table, name: Expr) -> None:
    """Temp table vendor_locations (name, id): each display name the file's Location column
    holds (trimmed) and the location id it resolves to. Names resolve, case, spacing and
    punctuation ignored (profile.name_key), through the mapping's [locations], the studio
    profile's location ids and names, and the location ids already loaded; a file whose column
    names one location only takes `--location` for a name nothing else resolves. A name that
    resolves to nothing gets no row: its bookings are rejected, never a new location.
    The file's distinct names are streamed in batches and only the resolved ones are kept, so
    a hostile file of millions of unknown names holds one batch in memory."""
    from pipelines.profile import location_names, name_key, stored_profile

    if ctx.located == (table.name, name.sql, tuple(name.params)):
        return
    con = ctx.con
    index: dict[str, str] = {}
    if ctx.mapping:
        index.update({name_key(k): v for k, v in ctx.mapping.locations.items()})
    profile = stored_profile(con)
    if profile is not None:
        for key, location_id in location_names(profile).items():
            index.setdefault(key, location_id)
    for table_name in ("raw_locations", "raw_bookings"):
        exists = con.execute(
            "select count(*) from duckdb_tables() where table_name = ? and not temporary",
            [table_name],
        ).fetchone()[0]
        if exists:
            for (location_id,) in con.execute(
                f"select distinct location_id from {table_name} where location_id is not null"
            ).fetchall():
                index.setdefault(name_key(location_id), location_id)
    con.execute("create or replace temp table vendor_locations (name varchar, id varchar)")
    query = E("select distinct {} from " + table.name + " as t where {} is not null", name, name)
    result = con.execute(query.sql, list(query.params))
    keys: set[str] = set()
    found: list[tuple[str, str]] = []
    unresolved: list[str] = []
    while batch := result.fetchmany(LOCATION_NAME_BATCH):
        for (value,) in batch:
            key = name_key(value)
            if len(keys) < 2:
                keys.add(key)
            if key in index:
                found.append((value, index[key]))
            elif len(keys) < 2:
                unresolved.append(value)
    if ctx.location and len(keys) == 1 and unresolved:
        # one location in the whole file: --location says which one it is
        found += [(value, ctx.location) for value in unresolved]
    if found:
        names, ids = zip(*found, strict=True)
        con.execute(
            "insert into vendor_locations select unnest(?), unnest(?)", [list(names), list(ids)]
        )
    ctx.located = (table.name, name.sql, tuple(name.params))


def pii_free_key(word: str) -> str:
    """Status lookup key: letters only, lowercased (as pipelines.ingest.validate matches words)."""
    return re.sub(r"[^a-z]", "", word.lower())


def build_bookings(
    ctx: Context,
    table: tabular.Table,
    columns: dict[str, Expr],
    client: ClientCells,
    *,
    vendor: str,
    format_name: str,
    statuses: dict[str, str],
    location: str | None = None,
    rows_read: int | None = None,
    rejects: list[tuple[int, str, str]] | None = None,
    where: str | None = None,
    client_key: Expr | None = None,
    skip: Expr | None = None,
    skip_why: str = "",
    location_names: bool = False,
):
    """Create ctx.target (canonical bookings text + raw_row without PII) from a vendor table.

    `columns` maps canonical columns to expressions over the vendor cells (`t.c0` ...);
    `status` is the vendor word, mapped here through `statuses` and the mapping's words;
    `therapist_id` is a staff name, mapped through the mapping's [therapists] table;
    `uses_bars` defaults to true for the mapping's bar services (else NULL: keywords decide).
    `skip` names, over the vendor cells, what a row that is not a booking is (NULL for a
    booking): such rows are left out and counted per name (ExportRows.skipped), `skip_why`
    saying why (Jane's `Never Booked`: "not appointments").
    """
    source = ctx.source(vendor)
    location = location if location is not None else ctx.default_location()
    install_lookups(ctx, statuses, location, source)
    # a Location column of these exports holds the studio's display name, never our id
    # (`location_names`: a generic mapping with a [locations] table says its column holds names)
    by_name = (vendor in LOCATION_NAME_VENDORS or location_names) and columns.get(
        "location_id", NULL
    ) is not NULL
    if by_name:
        install_location_names(ctx, table, blank(columns["location_id"]))
    key = client_key or pii.client_key_sql(client.email, client.phone, client.name)
    parts: list[Expr] = [Expr("t.line_number")]
    for column in KINDS["bookings"].columns:
        expr = columns.get(column, NULL)
        if column == "source":
            expr = Expr("ctx.source")
        elif column == "client_id":
            expr = Expr("t._client")
        elif column == "location_id" and by_name:
            # a display name: the id it resolves to (vendor_locations), else NULL and the
            # name goes to location_name, which the validator rejects with its reason
            expr = E(
                "case when {} is null then ctx.location else (select id from vendor_locations "
                "where name = {}) end",
                blank(expr),
                blank(expr),
            )
        elif column == "location_id":
            expr = E("coalesce({}, ctx.location)", blank(expr))
        elif column == "status":
            word = blank(expr)
            expr = E(
                "coalesce((select canonical from vendor_status "
                "where word = regexp_replace(lower({}), '[^a-z]', '', 'g')), {})",
                word,
                word,
            )
        elif column == "therapist_id":
            name = blank(expr)
            expr = E(
                "coalesce((select id from vendor_staff where name = lower({})), {})", name, name
            )
        elif column == "client_ref":
            # the booking system's own client id: a name, email or phone is never kept
            expr = pii.client_ref_expr(blank(expr)) if expr is not NULL else NULL
        elif column == "uses_bars" and expr is NULL:
            expr = E(
                "case when lower(trim({})) in (select service from vendor_bar_services)"
                " then 'true' end",
                columns.get("service", NULL),
            )
        else:
            expr = blank(expr)
        parts.append(E("{} as " + column, expr))
    # raw_row keeps only the cells the adapter reads, client cells replaced by the key: free
    # text (notes, intake answers) is left out, as it may hold client details too.
    used = {int(n) for p in parts for n in re.findall(r"\bt\.c(\d+)\b", p.sql)}
    pii_cells = set(client.positions)
    ref_cells = {int(n) for n in re.findall(r"\bt\.c(\d+)\b", columns.get("client_ref", NULL).sql)}
    raw_cells = [
        "coalesce(t._client, '')"
        if i in pii_cells
        # a client reference that is not kept is masked ([email], [phone], [text])
        else pii.client_ref_raw_sql(f"nullif(trim(t.c{i}), '')")
        if i in ref_cells
        else f"coalesce(t.c{i}, '')"
        for i in sorted(used | pii_cells)
    ]
    parts.append(Expr(f"{' || chr(44) || '.join(raw_cells) or chr(39) * 2} as raw_row"))
    if by_name:
        named_location = blank(columns["location_id"])
        parts.append(
            E(
                "case when {} is not null and (select id from vendor_locations where name = {})"
                " is null then {} end as location_name",
                named_location,
                named_location,
                named_location,
            )
        )

    # which export columns each canonical field is read from (shown by `studio-ops inspect`)
    def named(i: int) -> str:
        return (table.header[i] if i < len(table.header) else "") or f"column {i + 1}"

    read_from = {
        column: [named(int(n)) for n in re.findall(r"\bt\.c(\d+)\b", part.sql)]
        for column, part in zip(KINDS["bookings"].columns, parts[1:], strict=False)
    }
    read_from["client_id"] = [named(i) for i in client.positions]
    select = E(", ".join(["{}"] * len(parts)), *parts)
    inner = E("select t.*, {} as _client from " + table.name + " as t, vendor_ctx as ctx", key)
    conditions = [Expr(where)] if where else []
    skipped: dict[str, int] = {}
    if skip is not None:
        counted = E(
            "select label, count(*) from (select {} as label, t.line_number from "
            + table.name
            + " as t) where label is not null group by label order by min(line_number)",
            skip,
        )
        skipped = dict(ctx.con.execute(counted.sql, list(counted.params)).fetchall())
        conditions.append(E("({}) is null", skip))
    walk_ins: list[tuple[int, str, str]] = []
    if client.walk_in is not NULL:
        # a walk-in's booking (its only identity the placeholder name) is rejected, saying so
        found = E(
            "select t.line_number, coalesce({}, '') from ({}) as t, vendor_ctx as ctx where "
            + " and ".join(["({})"] * len(conditions) + ["coalesce({}, false)"])
            + " order by 1",
            blank(columns.get("booking_id", NULL)),
            inner,
            *conditions,
            client.walk_in,
        )
        reason = walked_in(vendor)
        walk_ins = [
            (line, reason, ref)
            for line, ref in ctx.con.execute(found.sql, list(found.params)).fetchall()
        ]
        conditions.append(E("not coalesce({}, false)", client.walk_in))
    filter_sql = (
        E(" where " + " and ".join(["({})"] * len(conditions)), *conditions)
        if conditions
        else Expr("")
    )
    query = E(
        "create or replace temp table "
        + ctx.target
        + " as select {} from ({}) as t, vendor_ctx as ctx{}",
        select,
        inner,
        filter_sql,
    )
    ctx.con.execute(query.sql, list(query.params))
    ctx.con.execute(f"drop table if exists {table.name}")
    count = ctx.con.execute(f"select count(*) from {ctx.target}").fetchone()[0]
    rejected_early = scrub_rejects(table.rejects, client.positions) + list(rejects or [])
    rejected_early += walk_ins
    return ExportRows(
        kind="bookings",
        format=format_name,
        table=ctx.target,
        # Rows read = rows checked + rows rejected before checking (a wrong field count), so
        # that read = loaded + rejected + skipped holds for every adapter.
        rows_read=rows_read
        if rows_read is not None
        else count + len(rejected_early) + sum(skipped.values()),
        rejects=rejected_early,
        skipped=skipped,
        skip_why=skip_why,
        columns={k: list(dict.fromkeys(v)) for k, v in read_from.items() if v},
    )


def scrub_rejects(
    rejects: list[tuple[int, str, str]], positions: Iterable[int]
) -> list[tuple[int, str, str]]:
    """Rows rejected before validation (a wrong field count): their cells may have shifted, so
    the client columns' positions cannot be trusted; every cell is masked by its shape instead
    (pipelines.ingest.pii.mask_unaligned_row: only ids, dates, numbers and status words are
    kept)."""
    del positions
    return pii.mask_rejects(rejects)
