"""Vagaro: Reports -> Appointments Summary, `.xlsx` only, one file per status.

Recognised by content: a workbook (or CSV) whose header row, which may sit under a report
preamble (row 23 seen), names the `Service Provider`, the `Customer` (or `Client`), the
`Status` and a date column. A trailing totals row is dropped. Header names vary a little by
report, so each field accepts a few synonyms (FIELDS).

Statuses (the nine per-status files, and the calendar's words): Accepted, Awaiting
Confirmation, Confirmed, Requested -> booked; Show, Ready to Start, In Progress, Service
Completed, Complete -> completed; No Show -> no_show; Cancelled, Denied (a request the business
turned down) -> cancelled. `Personal Off` (as the status or the service) is a staff block, not
a booking: such rows are skipped and counted.
Dates: `M/D/YYYY`, `Mon D, YYYY`, `Wed, Mar 4, 2026` with `h:mm AM` times, or real Excel
date and time cells (a time cell holding a whole date-time is the start itself); other
orders need [formats] datetime in the mapping.

Booking ids: the report's appointment id when it has one; otherwise a hash of provider, start
and client key. Since every status has its own file, an appointment whose status changed moves
from one file to the other under the same id, and the later load wins.

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.canonical import normalise
from pipelines.ingest.formats.base import ExportRows
from pipelines.ingest.formats.common import (
    Columns,
    Context,
    Sniff,
    build_bookings,
    client_cells,
    date_and_time,
    iso_datetime,
    minutes_text,
    person_name,
    read_below_header,
    word_among,
)
from pipelines.ingest.formats.sql_expr import E, Expr, blank

if TYPE_CHECKING:  # the type only: mapped imports this module
    from pipelines.ingest.formats.mapping import Mapping

NAME = "vagaro"
FIELDS: dict[str, tuple[str, ...]] = {
    "provider": ("Service Provider", "Provider", "Employee"),
    "customer": ("Customer", "Customer Name", "Client", "Client Name"),
    "email": ("Email", "Customer Email"),
    "phone": ("Phone", "Cell Phone", "Customer Phone", "Mobile"),
    "service": ("Service", "Service Name", "Services"),
    "date": ("Appointment Date", "Appt. Date", "Appt Date", "Date"),
    "start": ("Start Time", "Time", "Appt. Time"),
    "end": ("End Time",),
    "duration": ("Duration", "Service Duration"),
    "status": ("Status", "Appointment Status"),
    "id": ("Appointment ID", "Appointment #", "Appt ID", "Confirmation #"),
    "price": ("Service Price", "Price", "Amount"),
    "booked": ("Booked On", "Booking Date", "Created Date", "Date Booked"),
    "location": ("Business Location", "Location"),
    "room": ("Resource", "Room"),
}
DATETIME_FORMATS = [
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M%p",
    "%m/%d/%Y %H:%M",
    "%b %d, %Y %I:%M %p",
    "%a, %b %d, %Y %I:%M %p",
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
]
DATE_FORMATS = ["%m/%d/%Y", "%b %d, %Y", "%a, %b %d, %Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"]
STATUSES = {
    "Accepted": "booked",
    "Awaiting Confirmation": "booked",
    "Confirmed": "booked",
    "Show": "completed",
    "Ready to Start": "completed",
    "In Progress": "completed",
    "Service Completed": "completed",
    "No-Show": "no_show",
    "Cancelled": "cancelled",
    "Canceled": "cancelled",
    "Complete": "completed",
    "Requested": "booked",  # an online request waiting for the business to accept it
    "Denied": "cancelled",  # a request the business turned down: the slot stays free
}
# A staff member's blocked time: in the report like an appointment, but no booking.
STAFF_BLOCKS = ("Personal Off",)


def _header_at(sniff: Sniff) -> int | None:
    for index, row in enumerate(sniff.rows):
        names = {normalise(c) for c in row if c}

        def has(field: str, names: set[str] = names) -> bool:
            return any(normalise(s) in names for s in FIELDS[field])

        if all(has(f) for f in ("provider", "customer", "status", "date")):
            return index
    return None


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    return sniff.container in ("csv", "xlsx") and _header_at(sniff) is not None


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    table = read_below_header(sniff, ctx, _header_at(sniff))
    c = Columns(table.header)

    def col(field: str) -> Expr:
        return c(*FIELDS[field])

    if not c.has(*FIELDS["location"]):
        ctx.require_location("Vagaro")
    formats = (ctx.mapping.datetime_formats if ctx.mapping else None) or DATETIME_FORMATS
    start = iso_datetime(date_and_time(col("date"), col("start")), formats)
    end = E(
        "case when {} is not null then {} end",
        blank(col("end")),
        iso_datetime(date_and_time(col("date"), col("end")), formats),
    )
    staff = person_name(col("provider"))
    booking_id = E(
        "coalesce({}, 'vg-' || left(sha256(coalesce({}, '') || '|' || coalesce({}, '') || '|' "
        "|| coalesce(t._client, '')), 16))",
        blank(col("id")),
        staff,
        start,
    )
    columns = {
        "booking_id": booking_id,
        "location_id": col("location"),
        "room_id": col("room"),
        "therapist_id": staff,
        "service": col("service"),
        "start_at": start,
        "end_at": end,
        "duration_minutes": minutes_text(col("duration")),
        "status": col("status"),
        "created_at": iso_datetime(col("booked"), DATE_FORMATS + formats),
        "price": col("price"),
    }
    client = client_cells(c, email=FIELDS["email"], phone=FIELDS["phone"], name=FIELDS["customer"])
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name=f"vagaro-{sniff.container}",
        statuses=STATUSES,
        skip=E(
            "coalesce({}, {})",
            word_among(col("status"), STAFF_BLOCKS),
            word_among(col("service"), STAFF_BLOCKS),
        ),
        skip_why="staff blocks, not bookings",
    )
