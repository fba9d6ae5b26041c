"""Fresha: Sales -> Appointments -> Export (CSV or XLSX).

Recognised by its header: `Appointment reference` (or `Ref #`), `Scheduled date`, `Duration`,
`Status`. Dates like `04 Jul 2026, 3:00pm` (in `Scheduled date`, or split over `Scheduled date`
and `Scheduled time`); durations `1h 30m`, `45m`. The staff column (`Team member`, `Staff`) may
name several people; studios that model rooms as team members ("CABINA 1") list them in the
mapping's [fresha] rooms, and those names become the room, the others the therapist.
Statuses: Booked, Confirmed, Arrived, Started, Completed -> completed for Arrived/Started/
Completed; No-show; Cancelled. Booking ids: the appointment reference.
Only English headers are recognised (Fresha follows the account's language): a studio with
another language maps its columns with the generic [columns] mapping.
"""

from __future__ import annotations

from pipelines.formats.common import (
    Columns,
    Context,
    E,
    P,
    Sniff,
    blank,
    build_bookings,
    client_cells,
    iso_datetime,
    minutes_text,
    read_vendor_table,
)
from pipelines.formats.native import normalise

NAME = "fresha"
DATETIME_FORMATS = [
    "%d %b %Y, %I:%M%p",
    "%d %b %Y %I:%M%p",
    "%d %b %Y, %I:%M %p",
    "%d %b %Y %I:%M %p",
    "%d %b %Y, %H:%M",
    "%d %b %Y %H:%M",
]
STATUSES = {
    "Booked": "booked",
    "Confirmed": "booked",
    "New": "booked",
    "Arrived": "completed",
    "Started": "completed",
    "Completed": "completed",
    "No-show": "no_show",
    "Cancelled": "cancelled",
}


def _has(sniff: Sniff, *options: str) -> bool:
    names = {normalise(c) for c in sniff.header if c}
    return any(normalise(o) in names for o in options)


def detect(sniff: Sniff, mapping) -> bool:
    return (
        sniff.container in ("csv", "xlsx")
        and _has(sniff, "Appointment reference", "Ref #", "Reference")
        and _has(sniff, "Scheduled date")
        and _has(sniff, "Duration")
        and _has(sniff, "Status")
    )


def read(sniff: Sniff, ctx: Context):
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(table.header)
    if not c.has("Location"):
        ctx.require_location("Fresha")
    date, time = c("Scheduled date"), c("Scheduled time", "Time")
    start = iso_datetime(
        E(
            "case when {} is null then {} else trim({}) || ' ' || trim({}) end",
            blank(time),
            date,
            date,
            time,
        ),
        DATETIME_FORMATS,
    )
    rooms = [r.strip().lower() for r in (ctx.mapping.fresha_rooms if ctx.mapping else [])]
    who = c("Team member", "Staff", "Team Member Name")
    staff = E("list_transform(string_split(coalesce({}, ''), ','), lambda x: trim(x))", who)
    if rooms:
        therapist = E(
            "nullif(array_to_string(list_filter({}, lambda x: x <> '' and "
            "not list_contains({}, lower(x))), ', '), '')",
            staff,
            P(rooms),
        )
        room = E(
            "nullif(array_to_string(list_filter({}, lambda x: list_contains({}, lower(x))), "
            "', '), '')",
            staff,
            P(rooms),
        )
    else:
        therapist, room = who, c("Resource", "Room")
    columns = {
        "booking_id": c("Appointment reference", "Ref #", "Reference"),
        "location_id": c("Location"),
        "room_id": room,
        "therapist_id": therapist,
        "service": c("Services", "Service"),
        "start_at": start,
        "duration_minutes": minutes_text(c("Duration")),
        "status": c("Status"),
        "created_at": iso_datetime(c("Created date", "Booked date"), DATETIME_FORMATS),
        "price": c("Price", "Total", "Sale price"),
    }
    client = client_cells(
        c,
        email=("Client email", "Email"),
        phone=("Client phone", "Mobile number"),
        name=("Client",),
    )
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name=f"fresha-{sniff.container}",
        statuses=STATUSES,
    )
