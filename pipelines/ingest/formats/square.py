"""Square Appointments: the appointments history export (past and upcoming), CSV or XLSX.

Recognised by its header: a `Team Member` (or `Staff`), a `Customer` name column, a `Status`
column and `Start Time`/`Date`. Square does not document the export's columns and no real
file could be checked, so headers match loosely (case, spaces and punctuation ignored: see
common.loose_key), FIELDS lists common synonyms, and a column renamed past them is one line of
the mapping's [headers] (`"Staff Name" = "Team Member"`). Statuses are the API's (PENDING, ACCEPTED,
CANCELLED_BY_CUSTOMER, CANCELLED_BY_SELLER, DECLINED, NO_SHOW) or their display words.
Square has no "completed": an ACCEPTED appointment on a day before the load day is completed,
on the load day or later booked. A DECLINED request never held the slot and counts as
cancelled. `Resource` (the room resource of the appointment segment) becomes the room.
Dates: `M/D/YYYY h:mm AM`, ISO, or ISO 8601 with a UTC offset (the local wall-clock is kept);
in a workbook, real date and time cells too.
Booking ids: `Appointment ID`/`Booking ID`. A `Customer ID` column (Square's own id of the
customer) is kept as the booking's client_ref.

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.ingest.formats.base import ExportRows
from pipelines.ingest.formats.common import (
    Columns,
    Context,
    Sniff,
    build_bookings,
    client_cells,
    date_and_time,
    generic_mapping_fits,
    iso_datetime,
    loose_key,
    minutes_text,
    past_or_future,
    person_name,
    read_vendor_table,
    renamed_header,
)
from pipelines.ingest.formats.sql_expr import E, Expr, blank

if TYPE_CHECKING:  # the type only: mapped imports this module
    from pipelines.ingest.formats.mapping import Mapping

NAME = "square"
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("Appointment ID", "Booking ID", "ID", "Appointment Number"),
    "staff": ("Team Member", "Team Member Name", "Staff", "Staff Member", "Staff Name"),
    "customer": ("Customer", "Customer Name", "Client", "Client Name"),
    # Square's own id of the customer (the API's booking.customer_id): kept as client_ref
    "customer_id": ("Customer ID", "Square Customer ID"),
    "email": ("Customer Email", "Email", "Customer Email Address", "Email Address"),
    "phone": ("Customer Phone", "Phone", "Customer Phone Number", "Phone Number"),
    "service": ("Service", "Service Name", "Services", "Item", "Service(s)"),
    "start": ("Start Time", "Start", "Start At", "Appointment Time"),
    "date": ("Date", "Appointment Date", "Start Date"),
    "end": ("End Time", "End", "End At"),
    "duration": ("Duration", "Duration (min)", "Duration Minutes", "Duration (mins)"),
    "status": ("Status", "Appointment Status", "Booking Status"),
    "price": ("Price", "Amount", "Service Price", "Total"),
    "created": ("Created At", "Created", "Booked At", "Created Date", "Date Created"),
    "location": ("Location",),
    "room": ("Resource", "Resources", "Room"),
}
DATETIME_FORMATS = [
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
]
STATUSES = {
    "PENDING": "booked",
    "CANCELLED_BY_CUSTOMER": "cancelled",
    "CANCELLED_BY_SELLER": "cancelled",
    "DECLINED": "cancelled",
    "NO_SHOW": "no_show",
}


def _has(names: set[str], field: str) -> bool:
    return any(loose_key(s) in names for s in FIELDS[field])


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    if sniff.container not in ("csv", "xlsx") or generic_mapping_fits(sniff, mapping):
        return False
    names = {loose_key(c) for c in renamed_header(sniff.header, mapping) if c}
    return all(_has(names, f) for f in ("staff", "customer", "status", "id")) and (
        _has(names, "start") or _has(names, "date")
    )


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(renamed_header(table.header, ctx.mapping), key=loose_key)

    def col(field: str) -> Expr:
        return c(*FIELDS[field])

    if not c.has(*FIELDS["location"]):
        ctx.require_location("Square")
    formats = (ctx.mapping.datetime_formats if ctx.mapping else None) or DATETIME_FORMATS

    # ISO 8601 with an offset (2026-03-02T09:00:00-07:00): keep the local wall-clock part.
    def local(expr: Expr) -> Expr:
        return E(
            "regexp_replace(trim({}), '^(\\d{4}-\\d{2}-\\d{2})T(\\d{2}:\\d{2}(:\\d{2})?)"
            "(\\.\\d+)?([+-]\\d{2}:?\\d{2}|Z)?$', '\\1 \\2')",
            expr,
        )

    start_text = E(
        "case when {} is not null and {} is not null then {} else {} end",
        blank(col("date")),
        blank(col("start")),
        date_and_time(col("date"), col("start")),
        E("coalesce({}, {})", blank(col("start")), blank(col("date"))),
    )
    start = iso_datetime(local(start_text), formats)
    word = E("upper(regexp_replace(trim({}), '[ -]+', '_', 'g'))", col("status"))
    status = E(
        "case when {} = 'ACCEPTED' then {} else trim({}) end",
        word,
        past_or_future(start),
        col("status"),
    )
    end_text = E(
        "case when {} is null then null when {} is not null then {} else {} end",
        blank(col("end")),
        blank(col("date")),
        date_and_time(col("date"), col("end")),
        col("end"),
    )
    columns = {
        "booking_id": col("id"),
        "location_id": col("location"),
        "room_id": col("room"),
        "therapist_id": person_name(col("staff")),
        "service": col("service"),
        "start_at": start,
        "end_at": iso_datetime(local(end_text), formats),
        "duration_minutes": minutes_text(col("duration")),
        "status": status,
        "created_at": iso_datetime(local(col("created")), formats),
        "price": col("price"),
        "client_ref": col("customer_id"),
    }
    client = client_cells(c, email=FIELDS["email"], phone=FIELDS["phone"], name=FIELDS["customer"])
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name=f"square-{sniff.container}",
        statuses=STATUSES,
    )
