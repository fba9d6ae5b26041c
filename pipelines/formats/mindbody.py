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

import re
from html.parser import HTMLParser

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
from pipelines.formats.tabular import ExportError

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


class _Tables(HTMLParser):
    """Tables of an HTML document: rows of cell text with source lines, and their captions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.depth = 0
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.row_line = 0
        self.text_since_table: list[str] = []
        self.in_caption = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.depth += 1
            if self.depth == 1:
                before = " ".join(" ".join(self.text_since_table).split())
                self.tables.append({"rows": [], "caption": "", "before": before[-120:]})
                self.text_since_table = []
        elif self.depth == 1 and tag == "tr":
            self.row, self.row_line = [], self.getpos()[0]
        elif self.depth == 1 and tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif self.depth == 1 and tag == "caption":
            self.in_caption = True
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag):
        if tag == "table":
            self.depth = max(self.depth - 1, 0)
        elif self.depth == 1 and tag in ("td", "th") and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif self.depth == 1 and tag == "tr" and self.row is not None:
            if any(self.row):
                self.tables[-1]["rows"].append((self.row_line, self.row))
            self.row = None
        elif tag == "caption":
            self.in_caption = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        elif self.in_caption:
            self.tables[-1]["caption"] += data
        elif self.depth == 0:
            self.text_since_table.append(data)


def _header_at(rows: list[tuple[int, list[str]]]) -> int | None:
    for index, (_, cells) in enumerate(rows[:10]):
        fields = {_SYNONYMS.get(normalise(c)) for c in cells}
        if {"Client", "Status"} <= fields and fields & {"Date", "Start Time"}:
            return index
    return None


def _parse(text: str) -> list[dict]:
    parser = _Tables()
    try:
        parser.feed(text)
        parser.close()
    except Exception as error:  # html.parser is lenient; this is a truly broken file
        raise ExportError(f"cannot read the HTML export ({error})") from None
    return [t for t in parser.tables if _header_at(t["rows"]) is not None]


def detect(sniff: Sniff, mapping) -> bool:
    if sniff.container != "html":
        return False
    lowered = sniff.text_head.lower()
    return "<table" in lowered and "client" in lowered and "status" in lowered


def _staff_label(text: str) -> str:
    text = re.sub(r"^\s*(staff( member)?|provider|schedule for)\s*[:\-]\s*", "", text, flags=re.I)
    return text.strip()


def read(sniff: Sniff, ctx: Context):
    text = sniff.path.read_bytes().decode("utf-8-sig", errors="replace")
    tables = _parse(text)
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
