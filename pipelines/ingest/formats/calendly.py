"""Calendly: the scheduled-events export (CSV), recognised by its literal header.

`User Name` is the host (the therapist), `Event Type Name` the service, `Start Date & Time` /
`End Date & Time` local times like `2025-03-03 11:00 am` (24-hour also accepted). `Invitee Time
Zone` is a display name ("Central Time - US & Canada"), not an IANA zone; the times in the file
are already the host's local wall-clock, so it is ignored. `Canceled` true/false and `Marked as
No-Show` Yes/No give the status; otherwise a day before the load day is completed, later booked.
Question/Response pairs (any number, with quoted commas and newlines) are ignored and never
stored. Booking ids: `Invitee UUID` (one per booking, also in group events), else `Event UUID`.
A file a spreadsheet saved again (`3/3/2025 11:00`) is refused, unless [formats] datetime says
how it is written. Calendly cannot carry rooms, late cancellations (no cancellation time) or
prices without a payment integration.

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
    iso_datetime,
    past_or_future,
    read_vendor_table,
    refuse_spreadsheet_dates,
)
from pipelines.ingest.formats.sql_expr import E, blank

if TYPE_CHECKING:  # the type only: mapped imports this module
    from pipelines.ingest.formats.mapping import Mapping

NAME = "calendly"
SIGNATURE = ("Invitee Email", "Event Type Name", "Start Date & Time", "End Date & Time")
DATETIME_FORMATS = ["%Y-%m-%d %I:%M %p", "%Y-%m-%d %I:%M%p", "%Y-%m-%d %H:%M"]
STATUSES: dict[str, str] = {}


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    return sniff.container in ("csv", "xlsx") and sniff.header_row(*SIGNATURE) == 0


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    ctx.require_location("Calendly")
    # Calendly never writes 3/3/2025: a spreadsheet saved the file again
    refuse_spreadsheet_dates(sniff, ctx, "Start Date & Time", "Calendly", "2025-03-03 11:00 am")
    formats = (list(ctx.mapping.datetime_formats) if ctx.mapping else []) + DATETIME_FORMATS
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(table.header)
    start = iso_datetime(c("Start Date & Time"), formats)
    status = E(
        "case when lower(trim({})) in ('true', 'yes', '1') then 'cancelled' "
        "when lower(trim({})) in ('true', 'yes', '1') then 'no_show' else {} end",
        c("Canceled"),
        c("Marked as No-Show"),
        past_or_future(start),
    )
    columns = {
        "booking_id": E("coalesce({}, {})", blank(c("Invitee UUID")), blank(c("Event UUID"))),
        "therapist_id": c("User Name"),
        "service": c("Event Type Name"),
        "start_at": start,
        "end_at": iso_datetime(c("End Date & Time"), formats),
        "created_at": iso_datetime(c("Event Created Date & Time"), formats),
        "status": status,
        "price": c("Event Price"),
    }
    client = client_cells(
        c,
        email=("Invitee Email",),
        phone=("Text Reminder Number",),
        name=("Invitee Name",),
        first_last=("Invitee First Name", "Invitee Last Name"),
    )
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name=f"calendly-{sniff.container}",
        statuses=STATUSES,
    )
