"""Mindbody: "Schedule at a Glance" -> Export to Excel, an ".xls" that is really HTML.

Recognised by content: an HTML document holding at least one table whose header row names
`Client`, `Status` and a date or time column. There is one table per staff member; the staff
name (`Last, First`) is a caption, a heading just before the table, a one-cell row above the
header ("Staff: Last, First"), or a `Staff` column. Header names vary by account and version,
so each field accepts a few synonyms (see FIELDS); unknown columns are ignored.

Dates: `M/D/YYYY` with `h:mm AM` times (US accounts), or ISO; other orders need [formats]
datetime in the mapping, never a guess. Statuses: Booked, Confirmed, Arrived, Completed,
NoShow, Cancelled, Late Cancel.

Booking ids: the export's appointment id when it has one; otherwise a hash of staff, start and
client key, which is the same in every overlapping yearly or monthly export, so they load
without duplicates (a rescheduled appointment is then a new booking: its old slot stays until a
later export shows it cancelled).
"""

from __future__ import annotations

import codecs
import re

from pipelines.formats.common import (
    Columns,
    Context,
    E,
    Expr,
    Sniff,
    blank,
    build_bookings,
    client_cells,
    iso_date_time,
    iso_datetime,
    minutes_text,
    person_name,
    table_from_records,
)
from pipelines.formats.native import normalise
from pipelines.formats.tabular import MB, ExportError

NAME = "mindbody"
FIELDS: dict[str, tuple[str, ...]] = {
    "Staff": ("Staff", "Staff Name", "Provider"),
    "Date": ("Date", "Appointment Date", "Appt Date"),
    "Start Time": ("Start Time", "Start", "Time"),
    "End Time": ("End Time", "End"),
    "Duration": ("Duration", "Length"),
    "Client": ("Client", "Client Name"),
    "Email": ("Email", "Client Email"),
    "Phone": ("Phone", "Client Phone", "Mobile Phone"),
    "Service": ("Appointment Type", "Service", "Session Type", "Service Category"),
    "Status": ("Status", "Appointment Status"),
    "Room": ("Room", "Resource", "Resources"),
    "Appointment ID": ("Appointment ID", "Appt ID", "Appt #", "ID"),
    "Price": ("Price", "Amount", "Total"),
    "Booked": ("Booked On", "Date Booked", "Created"),
}
DATETIME_FORMATS = [
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M%p",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
]
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
_SYNONYMS = {normalise(s): field for field, names in FIELDS.items() for s in names}


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


def _tables(path, limits) -> list[dict]:
    """Top-level tables of an HTML document: rows of cell text with their source lines, the
    caption and the text before each table.

    libxml2's HTML parser (lxml), fed a chunk at a time, runs in time linear in the input
    (html.parser took 107 s on 200,000 unclosed `<a`), and every row and element outside the
    tables is dropped once read, so memory follows the largest table row, not the file.
    """
    from lxml import etree

    parser = etree.HTMLPullParser(
        events=("start", "end"), encoding="utf-8", no_network=True, remove_comments=True
    )
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    tables: list[dict] = []
    depth = 0
    before = ""  # the last few words outside any table: a staff heading, say

    def seen_outside(text: str) -> None:
        nonlocal before
        words = " ".join(text.split())
        if words:
            before = f"{before} {words}"[-240:]

    def on_event(event: str, element) -> None:
        nonlocal depth, before
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if depth == 0:
                seen_outside(_text_before(element))
            if tag == "table":
                depth += 1
                if depth == 1:
                    tables.append({"rows": [], "caption": "", "before": before.strip()[-120:]})
                    before = ""
            return
        if tag == "table":
            depth = max(depth - 1, 0)
        elif depth == 1 and tag == "tr":
            cells = [_cell(c) for c in element if c.tag in ("td", "th")]
            if any(cells):
                tables[-1]["rows"].append((element.sourceline, cells))
        elif depth == 1 and tag == "caption":
            tables[-1]["caption"] += "".join(element.itertext())
            return
        elif depth == 0:
            seen_outside(_text_at_end(element))
        else:
            return
        # Done with it: keep its tail (read at the next start) and drop what came before it.
        if depth == 0 or tag == "tr":
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]

    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                parser.feed(decoder.decode(chunk).encode("utf-8"))
                for event, element in parser.read_events():
                    on_event(event, element)
            parser.feed(decoder.decode(b"", final=True).encode("utf-8"))
            parser.close()
            for event, element in parser.read_events():
                on_event(event, element)
    except etree.LxmlError as error:
        raise ExportError(f"cannot read the HTML export ({str(error).splitlines()[0]})") from None
    return tables


def _header_at(rows: list[tuple[int, list[str]]]) -> int | None:
    for index, (_, cells) in enumerate(rows[:10]):
        fields = {_SYNONYMS.get(normalise(c)) for c in cells}
        if {"Client", "Status"} <= fields and fields & {"Date", "Start Time"}:
            return index
    return None


def _parse(path, limits) -> list[dict]:
    size = path.stat().st_size
    if size > limits.max_html_mb * MB:
        raise ExportError(
            f"the HTML export is {size / MB:,.0f} MB, over the {limits.max_html_mb:,} MB limit "
            "(the max_html_mb setting raises it)"
        )
    return [t for t in _tables(path, limits) if _header_at(t["rows"]) is not None]


def detect(sniff: Sniff, mapping) -> bool:
    if sniff.container != "html":
        return False
    lowered = sniff.text_head.lower()
    return "<table" in lowered and "client" in lowered and "status" in lowered


def _staff_label(text: str) -> str:
    text = re.sub(r"^\s*(staff( member)?|provider|schedule for)\s*[:\-]\s*", "", text, flags=re.I)
    return text.strip()


def read(sniff: Sniff, ctx: Context):
    tables = _parse(sniff.path, sniff.limits)
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
        staff = _staff_label(table["caption"]) or None
        for _, cells in rows[:at]:
            if len([c for c in cells if c]) == 1:
                staff = _staff_label(next(c for c in cells if c))
        if staff is None and table["before"]:
            staff = _staff_label(table["before"].split("  ")[-1])
        positions = {}
        for index, name in enumerate(rows[at][1]):
            field = _SYNONYMS.get(normalise(name))
            if field and field not in positions:
                positions[field] = index
        for line, cells in rows[at + 1 :]:
            if len([c for c in cells if c]) <= 1 or re.match(r"(?i)^\s*total", cells[0] or ""):
                continue  # a section row or a totals row
            record = {f: cells[i] if i < len(cells) else None for f, i in positions.items()}
            record.setdefault("Staff", staff)
            if not record.get("Staff"):
                record["Staff"] = staff
            records.append([line, *[record.get(f) for f in header]])
    table = table_from_records(ctx.con, f"{ctx.target}_vendor", header, records)
    c = Columns(header)
    formats = (ctx.mapping.datetime_formats if ctx.mapping else None) or DATETIME_FORMATS
    date, start_time, end_time = c("Date"), c("Start Time"), c("End Time")
    # `Start Time` may hold a whole date-time (no Date column) or just the time.
    start = E(
        "case when {} is null then {} else {} end",
        blank(date),
        iso_datetime(start_time, formats),
        iso_date_time(date, start_time, formats),
    )
    end = E(
        "case when {} is null then null when {} is null then {} else {} end",
        blank(end_time),
        blank(date),
        iso_datetime(end_time, formats),
        iso_date_time(date, end_time, formats),
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
    }
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name="mindbody-html",
        statuses=STATUSES,
    )
