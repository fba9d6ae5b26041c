"""Mindbody: "Schedule at a Glance" or an appointments report -> Export to Excel, an ".xls"
that is really HTML.

Recognised by content: an HTML document (a whole page, or XHTML with a DOCTYPE but no `<html>`
or `<body>`) holding at least one table whose header row, in `<th>` or `<td>` cells, names
`Client`, `Status` and a date or time column. The staff name (`Last, First`) is, in this order:
a `Staff` column; the `<span class="staffName">` of the report's staff header, which names
every table after it until the next one (a staff member's later tables have no name of their
own); the table's caption; a one-cell row above the header ("Staff: Last, First"); the
heading just before the table. Header names vary by account and version, so each field accepts
a few synonyms (see FIELDS), matched ignoring case, spaces and punctuation (`Appt. Time`);
unknown columns are ignored. Subtotal and total tables ("Total for Novak, Elena", "Grand
Total") and such rows inside a table are not appointments: they are left out, not counted.

Text: the character set the page declares (`<meta charset>`, `http-equiv` or an XML
declaration; `iso-8859-1` read as Windows-1252, as browsers and Excel do), else UTF-8. Bytes
that are not in that set refuse the file with their line, never a guessed name (a
Windows-1252 `Müller` read as UTF-8 would be another therapist and another client).

Dates: `M/D/YYYY`, `Monday, July 29, 2019`, `July 29, 2019` or ISO, with `h:mm AM` times (`3:00
pm`, a non-breaking space between is fine) or 24-hour ones; other orders need [formats]
datetime in the mapping, never a guess. A time cell holding a range (`3:00 pm - 4:00 pm`) gives
the start and the end. A date written once for a day dates each of its rows: a cell spanning
them (`rowspan`; cells are laid out by column as a browser does, `colspan` too), or a one-cell
heading row (`Monday, March 2, 2026`) above them. Statuses: Booked, Confirmed, Arrived,
Completed, NoShow, Cancelled, Late Cancel.

The report opened in Excel and saved as `.xlsx` (what a binary `.xls` is refused with) or CSV
is one sheet of the same tables: recognised by a header row without a staff column right
under a staff row (`Staff: Novak, Elena`, or `Novak, Elena` alone); each table's staff is the
last such row above it, a group heading naming nobody; Excel's date cells are read as dates.

A `Client ID` column (Mindbody's own client id) is kept as the booking's client_ref.

Booking ids: the export's appointment id when it has one; otherwise a hash of staff, start and
client key, which is the same in every overlapping yearly or monthly export, so they load
without duplicates (a rescheduled appointment is then a new booking: its old slot stays until a
later export shows it cancelled).

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING

from pipelines.canonical import normalise
from pipelines.ingest.formats import tabular
from pipelines.ingest.formats.base import ExportRows
from pipelines.ingest.formats.common import (
    Columns,
    Context,
    Sniff,
    build_bookings,
    cell_date,
    client_cells,
    date_and_time,
    generic_mapping_fits,
    iso_datetime,
    minutes_text,
    person_name,
    table_from_records,
)
from pipelines.ingest.formats.sql_expr import E, Expr, blank
from pipelines.ingest.formats.tabular import MB, ExportError

if TYPE_CHECKING:  # the type only: mapped imports this module
    from pipelines.ingest.formats.mapping import Mapping

NAME = "mindbody"
FIELDS: dict[str, tuple[str, ...]] = {
    "Staff": ("Staff", "Staff Name", "Staff Member", "Provider"),
    "Date": ("Date", "Appointment Date", "Appt Date"),
    "Start Time": ("Start Time", "Start", "Time", "Appt Time", "Appointment Time"),
    "End Time": ("End Time", "End"),
    "Duration": ("Duration", "Length"),
    "Client": ("Client", "Client Name"),
    # Mindbody's own client id (searchable in Mindbody): kept as client_ref
    "Client ID": ("Client ID", "ClientID"),
    "Email": ("Email", "Client Email"),
    "Phone": ("Phone", "Client Phone", "Mobile Phone"),
    "Service": ("Appointment Type", "Service", "Session Type", "Service Category"),
    "Status": ("Status", "Appointment Status"),
    "Room": ("Room", "Resource", "Resources"),
    "Appointment ID": ("Appointment ID", "Appt ID", "Appt #", "ID"),
    "Price": ("Price", "Amount", "Total"),
    "Booked": ("Booked On", "Date Booked", "Created"),
}
# Report dates come as `7/18/2019` or `Monday, July 29, 2019` (the long form the appointment
# reports print above each day); US order only, never guessed.
DATES = ["%m/%d/%Y", "%A, %B %d, %Y", "%B %d, %Y", "%Y-%m-%d"]
TIMES = ["%I:%M %p", "%I:%M%p", "%H:%M", "%H:%M:%S"]
DATETIME_FORMATS = [f"{date} {time}" for date in DATES for time in TIMES]
STATUSES = {
    "Booked": "booked",
    "Confirmed": "booked",
    "Unconfirmed": "booked",
    "Requested": "booked",
    "Arrived": "completed",
    "Completed": "completed",
    "NoShow": "no_show",
    "No Show": "no_show",
    "Cancelled": "cancelled",
    "Canceled": "cancelled",
    "Late Cancel": "late_cancelled",
    "Late Cancelled": "late_cancelled",
}


def _key(name: str) -> str:
    """A header name for matching: case, spaces and punctuation ignored (`Appt. Time`), `#`
    kept (`Appt #`)."""
    return re.sub(r"[^0-9a-z#]+", "", normalise(name))


_SYNONYMS = {_key(s): field for field, names in FIELDS.items() for s in names}
# A subtotal or total line: "Subtotal", "Total for Novak, Elena", "Grand Total", "Totals:".
_TOTAL = re.compile(r"(?i)^\s*(sub\s*-?\s*total|grand\s+total|totals?\b)")
# A time cell holding the whole slot: "3:00 pm - 4:00 pm".
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]m)?"
_TIME_RANGE = re.compile(rf"(?i)^\s*({_CLOCK})\s*[-\u2013\u2014]\s*({_CLOCK})\s*$")
# Elements that end a heading: the text of the last one before a table may name its staff.
_BLOCKS = {"div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "center", "br"}
_NAME_CHARS = 240  # a staff name or heading longer than this is not one: kept bounded


def _text_before(element) -> str:
    """The text just before an element's start tag (its previous sibling's tail, or its
    parent's text when it is the first child), complete once the start tag is parsed."""
    previous = element.getprevious()
    if previous is not None:
        return previous.tail or ""
    parent = element.getparent()
    return (parent.text or "") if parent is not None else ""


def _text_at_end(element) -> str:
    """The text just before an element's end tag."""
    children = len(element)
    return (element[children - 1].tail or "") if children else (element.text or "")


def _cell(element) -> str:
    """A cell's text, a <br> read as a space, whitespace collapsed (nested tables included)."""
    for br in element.iter("br"):
        br.tail = " " + (br.tail or "")
    return " ".join("".join(element.itertext()).split())


# HTML's own bounds on a cell's spans, and on a row's width as laid out (a report has a few
# dozen columns): hostile spans widen no row further, and its rows do not grow each other.
_MAX_COLSPAN = 1000
_MAX_ROWSPAN = 65534
_MAX_GRID_COLUMNS = 1000


def _span(value: str | None, most: int) -> int:
    try:
        return min(max(int((value or "1").strip()), 1), most)
    except ValueError:
        return 1


def _grid_row(spans: dict[int, tuple[int, str]], row) -> list[str]:
    """A table row's cells by column, as a browser or Excel lays them out: a cell spanning
    rows (`rowspan`, a date over the day's appointments) gives its text to its column in each
    row it spans, and one spanning columns (`colspan`) takes their places, its text in the
    first. `spans` holds the columns still taken by cells of rows above: column -> (rows
    left, text)."""
    cells: list[str] = []

    def take_spanned(until: int | None = None) -> None:
        # the columns cells of rows above still take, from here (up to `until`, or as long
        # as they follow one another)
        while (until is None and len(cells) in spans) or (until is not None and len(cells) < until):
            column = len(cells)
            left, text = spans.get(column, (0, ""))
            cells.append(text)
            if left > 1:
                spans[column] = (left - 1, text)
            elif column in spans:
                del spans[column]

    for cell in row:
        if cell.tag not in ("td", "th"):
            continue
        take_spanned()
        if len(cells) >= _MAX_GRID_COLUMNS:
            break
        text = _cell(cell)
        width = _span(cell.get("colspan"), _MAX_COLSPAN)
        height = _span(cell.get("rowspan"), _MAX_ROWSPAN)
        if height > 1:
            spans[len(cells)] = (height - 1, text)
        cells += [text] + [""] * min(width - 1, _MAX_GRID_COLUMNS - len(cells) - 1)
    if spans:
        take_spanned(min(max(spans) + 1, _MAX_GRID_COLUMNS))
    return cells


def _is_staff_name(element) -> bool:
    return "staffname" in (element.get("class") or "").lower().split()


# A page's declared character set: `<meta charset="...">`, `<meta http-equiv="Content-Type"
# content="text/html; charset=...">` or `<?xml ... encoding="..."?>`, in its first bytes.
_CHARSET = re.compile(
    rb"""(?i)<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)|<\?xml[^>]*?encoding\s*=\s*["']([a-z0-9_.:-]+)"""
)
_CHARSET_HEAD_BYTES = 64 * 1024
# What browsers (the WHATWG encoding standard) and Excel read these labels as.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "utf-16": "utf-8",  # a page of 8-bit bytes that says UTF-16 is UTF-8 (the standard's rule)
    "utf-16le": "utf-8",
    "utf-16be": "utf-8",
}


def _encoding(path) -> tuple[str, str | None]:
    """The codec the page is read with and the charset it declares (None: it names none,
    so it is read as UTF-8). A byte-order mark wins over the declaration."""
    with open(path, "rb") as handle:
        head = handle.read(_CHARSET_HEAD_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    found = _CHARSET.search(head)
    if found is None:
        return "utf-8-sig", None
    label = (found.group(1) or found.group(2)).decode("ascii").strip().lower()
    try:
        codec = codecs.lookup(_CHARSET_ALIASES.get(label, label)).name
    except LookupError:
        raise ExportError(
            f"the page declares the character set {label[:40]!r}, which this loader does not "
            "know; export the report again, or open it in Excel and save it as .xlsx"
        ) from None
    return ("utf-8-sig" if codec == "utf-8" else codec), label


def _not_in_charset(line: int, byte: int, declared: str | None) -> ExportError:
    """A byte the page's character set does not have: the line, the byte, what it would be
    in Windows-1252, and what to do."""
    char = bytes([byte]).decode("cp1252", errors="replace")
    guess = (
        f", perhaps Windows-1252 for '{char}'"
        if byte >= 0x80 and declared is None and char.isprintable() and char != "\ufffd"
        else ""
    )
    what = (
        f"not {declared} text as the page declares"
        if declared
        else "not UTF-8 text and the page declares no character set"
    )
    return ExportError(
        f"line {line}: {what} (byte 0x{byte:02x}{guess}); export the report again, or open it "
        "in Excel and save it as .xlsx"
    )


def _tables(path, limits) -> list[dict]:
    """Top-level tables of an HTML document: rows of cell text with their source lines, the
    caption, the staff named by the last `staffName` element before it, and the heading just
    before it.

    libxml2's HTML parser (lxml), fed a chunk at a time, runs in time linear in the input
    (html.parser took 107 s on 200,000 unclosed `<a`), and every row and element outside the
    tables is dropped once read, so memory follows the largest table row, not the file. Text
    outside the tables is read in chunks as the elements around it start and end (a chunk is
    complete by then), so a staff name split by inline markup (`Novak, <b>Elena</b>`) is read
    whole although its pieces are dropped as they end.
    """
    from lxml import etree

    parser = etree.HTMLPullParser(
        events=("start", "end"), encoding="utf-8", no_network=True, remove_comments=True
    )
    codec, declared = _encoding(path)
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    lines_before = 0  # line breaks in the chunks decoded so far (for a bad byte's line)
    tables: list[dict] = []
    depth = 0
    heading = ""  # the text of the last block (a heading, a div) outside any table
    words = ""  # the text since that block ended
    name_at: list = []  # the staffName element being read, if any
    name = ""  # its text so far
    staff = None  # the last staff name read: it names every table after it

    def seen_outside(text: str) -> None:
        nonlocal words, name
        text = " ".join(text.split())
        if not text:
            return
        words = f"{words} {text}"[:_NAME_CHARS] if words else text[:_NAME_CHARS]
        if name_at:
            name = f"{name} {text}"[:_NAME_CHARS] if name else text[:_NAME_CHARS]

    def on_event(event: str, element) -> None:
        nonlocal depth, heading, words, name, staff
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if depth == 0:
                seen_outside(_text_before(element))
                if not name_at and _is_staff_name(element):
                    name_at.append(element)
                    name = ""
            if tag == "table":
                depth += 1
                if depth == 1:
                    if words:
                        heading, words = words, ""
                    tables.append(
                        {
                            "rows": [],
                            "caption": "",
                            "staff": staff,
                            "before": heading.strip(),
                            "spans": {},
                        }
                    )
                    heading = ""
            return
        if tag == "table":
            depth = max(depth - 1, 0)
        elif depth == 1 and tag == "tr":
            cells = _grid_row(tables[-1]["spans"], element)
            if any(cells):
                tables[-1]["rows"].append((element.sourceline, cells))
        elif depth == 1 and tag == "caption":
            tables[-1]["caption"] += "".join(element.itertext())
            return
        elif depth == 0:
            seen_outside(_text_at_end(element))
            if name_at and name_at[0] is element:
                name_at.clear()
                staff = name or staff
            if tag in _BLOCKS and words:
                heading, words = words, ""
        else:
            return
        # Done with it: keep its tail (read at the next start) and drop what came before it.
        if depth == 0 or tag == "tr":
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]

    def text_of(chunk: bytes, final: bool = False) -> bytes:
        nonlocal lines_before
        try:
            text = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as error:
            # error.object is the decoder's few pending bytes (no line break) and this chunk
            seen = error.object
            line = lines_before + seen[: error.start].count(b"\n") + 1
            raise _not_in_charset(line, seen[error.start], declared) from None
        lines_before += chunk.count(b"\n")
        return text.encode("utf-8")

    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                parser.feed(text_of(chunk))
                for event, element in parser.read_events():
                    on_event(event, element)
            parser.feed(text_of(b"", final=True))
            parser.close()
            for event, element in parser.read_events():
                on_event(event, element)
    except etree.LxmlError as error:
        raise ExportError(f"cannot read the HTML export ({str(error).splitlines()[0]})") from None
    return tables


def _first_text(cells: list[str]) -> str:
    return next((c for c in cells if c), "")


def _is_header(cells: list[str]) -> bool:
    """Whether a row is an appointment table's header: Client, Status and a date or time."""
    fields = {_SYNONYMS.get(_key(c or "")) for c in cells}
    return {"Client", "Status"} <= fields and bool(fields & {"Date", "Start Time"})


def _header_at(rows: list[tuple[int, list[str]]]) -> int | None:
    if rows and _TOTAL.match(_first_text(rows[0][1])):
        return None  # a subtotal or "Total for ..." table: no appointments in it
    for index, (_, cells) in enumerate(rows[:10]):
        if _is_header(cells):
            return index
    return None


# A staff member's row of the report opened in Excel: "Staff: Novak, Elena", or the name alone
# as `Last, First` (letters, spaces, apostrophes, dots and hyphens; no digits).
_STAFF_LABEL = re.compile(r"(?i)^\s*(staff( member)?|provider|schedule for)\s*:\s*\S")
_LAST_FIRST = re.compile(r"^[^\W\d_][^\d,:;()/@$#%&]{0,40},\s*[^\W\d_][^\d,:;()/@$#%&]{0,40}$")


def _staff_row(cells: list[str]) -> str | None:
    """The staff name a one-cell row of a sheet gives (labelled, or `Last, First`), else None:
    a group heading ("Swedish Sessions") or a total ("Total appointments: 3") names nobody."""
    texts = [c.strip() for c in cells if c and c.strip()]
    if len(texts) != 1 or len(texts[0]) > _NAME_CHARS:
        return None
    if _STAFF_LABEL.match(texts[0]):
        return _staff_label(texts[0]) or None
    # a group heading ("Massage, Bodywork-- Eastside": type-- location) may hold a comma too,
    # but no person's name holds "--"
    if "--" in texts[0]:
        return None
    return texts[0] if _LAST_FIRST.match(texts[0]) else None


def _sheet_rows(sniff: Sniff):
    """The non-blank rows of a workbook or CSV, as text cells, with their lines."""
    if sniff.container == "xlsx":
        rows = tabular._xlsx_iter(sniff.path, sniff.limits)
    else:
        rows = tabular.csv_rows(sniff.path, sniff.limits)
    for line, cells in rows:
        texts = [" ".join((c or "").split()) for c in cells]
        if any(texts):
            yield line, texts


def _sheet_tables(sniff: Sniff) -> list[dict]:
    """The report saved from Excel as a workbook (or CSV): one sheet where each staff member's
    table follows the other, a header row starting each. A table's staff is the last staff
    row above its header ("Staff: Novak, Elena", or `Novak, Elena` alone); a table with none
    since the last one is the same staff member's (a group heading names nobody)."""
    tables: list[dict] = []
    staff: str | None = None
    current: dict | None = None
    for line, cells in _sheet_rows(sniff):
        if _is_header(cells):
            current = {"rows": [(line, cells)], "caption": "", "staff": staff, "before": ""}
            tables.append(current)
            continue
        name = _staff_row(cells)
        if name is not None:
            staff, current = name, None  # the next staff member's table starts below
        elif current is not None:
            current["rows"].append((line, cells))
    return tables


def _parse(path, limits) -> list[dict]:
    size = path.stat().st_size
    if size > limits.max_html_mb * MB:
        raise ExportError(
            f"the HTML export is {size / MB:,.0f} MB, over the {limits.max_html_mb:,} MB limit "
            "(the max_html_mb setting raises it)"
        )
    return [t for t in _tables(path, limits) if _header_at(t["rows"]) is not None]


# Staff columns (Mindbody's and other systems'): the report's tables have none, their staff
# member being named above each.
_STAFF_COLUMNS = {_key(s) for s in FIELDS["Staff"]} | {
    _key(s) for s in ("Service Provider", "Employee", "Team Member", "Practitioner")
}


def _sheet_is_report(sniff: Sniff) -> bool:
    """A workbook or CSV laid out as the report (its HTML opened in Excel and saved): a staff
    row just above a header row with Client, Status and a date or time and no staff column.
    A table whose header is its first row is left to the formats that read such tables."""
    rows = sniff.rows
    return any(
        _is_header(cells)
        and not _STAFF_COLUMNS & {_key(c or "") for c in cells}
        and _staff_row(rows[index - 1]) is not None
        for index, cells in enumerate(rows)
        if index > 0
    )


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    if sniff.container in ("xlsx", "csv"):
        # a mapping's [columns] written for this file wins over the guess by layout
        return not generic_mapping_fits(sniff, mapping) and _sheet_is_report(sniff)
    if sniff.container != "html":
        return False
    lowered = sniff.text_head.lower()
    return "<table" in lowered and "client" in lowered and "status" in lowered


def _day_heading(text: str) -> str | None:
    """The text of a row that is a date alone (a day's heading over its appointments), else
    None."""
    from datetime import datetime

    text = text.strip()
    if not text or len(text) > 40 or not any(ch.isdigit() for ch in text):
        return None
    for form in DATES:
        try:
            datetime.strptime(text, form)
        except ValueError:
            continue
        return text
    return None


def _staff_label(text: str) -> str:
    text = re.sub(r"^\s*(staff( member)?|provider|schedule for)\s*[:\-]\s*", "", text, flags=re.I)
    return text.strip()


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    if sniff.container == "html":
        tables = _parse(sniff.path, sniff.limits)
    else:
        tables = _sheet_tables(sniff)
    if not tables:
        raise ExportError(
            "an HTML page that is not a Mindbody appointment report "
            "(no table with Client, Status and Date columns)"
        )
    ctx.require_location("Mindbody")
    header = list(FIELDS)
    records: list[list[object]] = []
    for table in tables:
        rows = table["rows"]
        at = _header_at(rows)
        staff = table["staff"] or _staff_label(table["caption"]) or None
        if staff is None:
            for _, cells in rows[:at]:
                if len([c for c in cells if c]) == 1:
                    staff = _staff_label(_first_text(cells))
        if staff is None and table["before"]:
            staff = _staff_label(table["before"])
        positions = {}
        for index, name in enumerate(rows[at][1]):
            field = _SYNONYMS.get(_key(name))
            if field and field not in positions:
                positions[field] = index
        day = None  # the date of the last day heading row ("Monday, July 29, 2019")
        for line, cells in rows[at + 1 :]:
            if len([c for c in cells if c]) <= 1:
                day = _day_heading(_first_text(cells)) or day
                continue  # a section row (a day's heading): not an appointment
            if _TOTAL.match(_first_text(cells)):
                continue  # a subtotal or totals row
            record = {f: cells[i] if i < len(cells) else None for f, i in positions.items()}
            if not record.get("Date") and day:
                record["Date"] = day  # the rows under a day's heading carry no date
            if not record.get("Staff"):
                record["Staff"] = staff
            slot = _TIME_RANGE.match(record.get("Start Time") or "")
            if slot and not record.get("End Time"):
                record["Start Time"], record["End Time"] = slot.group(1), slot.group(2)
            records.append([line, *[record.get(f) for f in header]])
    table = table_from_records(ctx.con, f"{ctx.target}_vendor", header, records)
    c = Columns(header)
    formats = (ctx.mapping.datetime_formats if ctx.mapping else None) or DATETIME_FORMATS
    date = cell_date(c("Date"))  # Excel's date cells read `2026-03-02 00:00:00`
    start_time, end_time = c("Start Time"), c("End Time")
    # `Start Time` may hold a whole date-time (no Date column) or just the time.
    start = E(
        "case when {} is null then {} else {} end",
        blank(date),
        iso_datetime(start_time, formats),
        iso_datetime(date_and_time(date, start_time), formats),
    )
    end = E(
        "case when {} is null then null when {} is null then {} else {} end",
        blank(end_time),
        blank(date),
        iso_datetime(end_time, formats),
        iso_datetime(date_and_time(date, end_time), formats),
    )
    client = client_cells(c, email=("Email",), phone=("Phone",), name=("Client",))
    staff = person_name(c("Staff"))
    booking_id = E(
        "coalesce({}, 'mb-' || left(sha256(coalesce({}, '') || '|' || coalesce({}, '') || '|' "
        "|| coalesce(t._client, '')), 16))",
        blank(c("Appointment ID")),
        staff,
        start,
    )
    columns: dict[str, Expr] = {
        "booking_id": booking_id,
        "room_id": c("Room"),
        "therapist_id": staff,
        "service": c("Service"),
        "start_at": start,
        "end_at": end,
        "duration_minutes": minutes_text(c("Duration")),
        "status": c("Status"),
        "created_at": iso_datetime(c("Booked"), formats),
        "price": c("Price"),
        "client_ref": c("Client ID"),
    }
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name=f"mindbody-{sniff.container}",
        statuses=STATUSES,
    )
