"""Jane App: the appointments report (CSV or XLSX).

Recognised by its header: `Patient` (or `Client`), `Practitioner` (or `Staff Member`),
`Treatment` and `State` (or `Status`). Jane does not publish the report's columns and no real
file could be checked, so headers match loosely (case, spaces and punctuation ignored: see
common.loose_key), FIELDS lists common synonyms, and a column renamed past them is one line of
the mapping's [headers] (`"Clinician" = "Practitioner"`).

States: Booked Online / Booked -> booked; Arrived, Checked In -> completed; No Show ->
no_show; Cancelled -> cancelled; Rescheduled (the old slot of a moved appointment, whose new
slot is its own row) -> cancelled. `Never Booked`, `Archived` and `Deleted (Archived)` rows
are not appointments: they are skipped and counted (the load's summary line says how many).
`First Visit` is not mapped: rejected with `unknown status` unless [status_words] says what it
means. The cancellation date (`Cancelled At`, ...) becomes cancelled_at, so late cancellations
are derived. Booking ids: `Appointment ID`/`ID`.

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipelines.ingest.formats.base import ExportError, ExportRows
from pipelines.ingest.formats.common import (
    SPREADSHEET_DATE,
    Columns,
    Context,
    Sniff,
    build_bookings,
    cell_date,
    client_cells,
    generic_mapping_fits,
    iso_datetime,
    loose_key,
    minutes_text,
    person_name,
    read_vendor_table,
    renamed_header,
    word_among,
)
from pipelines.ingest.formats.sql_expr import E, Expr, blank

if TYPE_CHECKING:  # the type only: mapped imports this module
    from pipelines.ingest.formats.mapping import Mapping

NAME = "jane"
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("Appointment ID", "ID", "Booking ID", "Appointment Number", "Appointment #"),
    "patient": ("Patient", "Patient Name", "Patient Full Name", "Client", "Client Name"),
    "email": ("Patient Email", "Email", "Email Address"),
    "phone": ("Patient Phone", "Phone", "Mobile Phone", "Mobile", "Phone Number"),
    "staff": ("Practitioner", "Practitioner Name", "Staff Member", "Staff", "Provider"),
    "service": ("Treatment", "Treatment Name", "Treatment Type", "Appointment Type"),
    "date": ("Date", "Start Date", "Appointment Date"),
    "start": ("Start", "Start Time", "Start At", "Appointment Start"),
    "end": ("End", "End Time", "End At", "Appointment End"),
    "duration": ("Duration", "Duration (min)", "Length"),
    "status": ("State", "Status", "Appointment State", "Appointment Status"),
    "price": ("Price", "Fee", "Amount", "Treatment Price"),
    "created": ("Booked At", "Created At", "Booked On", "Booked Date"),
    "cancelled": (
        "Cancelled At",
        "Canceled At",
        "Cancelled On",
        "Cancellation Date",
        "Cancelled Date",
        "Date Cancelled",
    ),
    "location": ("Location", "Clinic Location"),
    "room": ("Room", "Resource"),
}
DATETIME_FORMATS = [
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%b %d, %Y %I:%M %p",
    "%B %d, %Y %I:%M %p",
]
STATUSES = {
    "Booked Online": "booked",
    "Booked": "booked",
    "Checked In": "completed",
    "Rescheduled": "cancelled",  # the old slot; the new one is its own row
}
# States of rows that are not appointments: skipped and counted, never rejected or loaded.
NOT_APPOINTMENTS = ("Never Booked", "Archived", "Deleted (Archived)")


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    if sniff.container not in ("csv", "xlsx"):
        return False
    if generic_mapping_fits(sniff, mapping):
        return False
    names = {loose_key(c) for c in renamed_header(sniff.header, mapping) if c}
    return all(
        any(loose_key(s) in names for s in FIELDS[f])
        for f in ("patient", "staff", "service", "status")
    )


def _cell(cells: list[str], at: int | None) -> str:
    return cells[at].strip() if at is not None and at < len(cells) else ""


def _refuse_numeric_dates(sniff: Sniff, mapping: Mapping | None) -> None:
    """A clinic whose Jane writes dates with numbers only (`13/03/2026`, as in Australia or
    the UK, or `03/13/2026`): the day and month order is never guessed, so without the
    mapping's [formats] datetime the file is refused in one line saying what to add (each row
    rejected as "not a date-time" would not say why)."""
    c = Columns(renamed_header(sniff.header, mapping), key=loose_key)  # as [headers] names
    date_at = c.index(*FIELDS["date"])
    start_at = c.index(*FIELDS["start"])
    for number, cells in enumerate(sniff.rows[1:], 2):
        written = _cell(cells, date_at) or _cell(cells, start_at)
        found = SPREADSHEET_DATE.match(written)
        if not found:
            continue
        clock = _cell(cells, start_at) or written
        time = "%I:%M %p" if re.search(r"[AaPp]\.?[Mm]", clock) else "%H:%M"
        raise ExportError(
            f"line {number}: the date {written!r} is written in numbers, and which of them is "
            "the day is never guessed: add [formats] datetime = "
            f'"%d/%m/%Y {time}" (day first) or "%m/%d/%Y {time}" (month first) to the mapping'
        )


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(renamed_header(table.header, ctx.mapping), key=loose_key)

    def col(field: str) -> Expr:
        return c(*FIELDS[field])

    if not c.has(*FIELDS["location"]):
        ctx.require_location("Jane")
    formats = (ctx.mapping.datetime_formats if ctx.mapping else None) or DATETIME_FORMATS
    if formats is DATETIME_FORMATS:
        _refuse_numeric_dates(sniff, ctx.mapping)

    def on_date(time: Expr) -> Expr:
        return E(
            "case when {} is null then null when {} is not null and {} !~ '\\d{4}-|/|,' "
            "then {} || ' ' || trim({}) else {} end",
            blank(time),
            blank(col("date")),
            time,
            cell_date(col("date")),  # a workbook's date cell reads as its date
            time,
            blank(time),
        )

    columns = {
        "booking_id": col("id"),
        "location_id": col("location"),
        "room_id": col("room"),
        "therapist_id": person_name(col("staff")),
        "service": col("service"),
        "start_at": iso_datetime(on_date(col("start")), formats),
        "end_at": iso_datetime(on_date(col("end")), formats),
        "duration_minutes": minutes_text(col("duration")),
        "status": col("status"),
        "created_at": iso_datetime(col("created"), formats),
        "cancelled_at": iso_datetime(col("cancelled"), formats),
        "price": col("price"),
    }
    client = client_cells(c, email=FIELDS["email"], phone=FIELDS["phone"], name=FIELDS["patient"])
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name=f"jane-{sniff.container}",
        statuses=STATUSES,
        skip=word_among(col("status"), NOT_APPOINTMENTS),
        skip_why="not appointments",
    )
