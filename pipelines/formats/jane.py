"""Jane App: the appointments report (CSV or XLSX).

Recognised by its header: `Patient` (or `Client`), `Practitioner` (or `Staff Member`),
`Treatment` and `State` (or `Status`). Jane does not publish the report's columns; FIELDS
lists the synonyms known to the project. States: Booked Online / Booked -> booked; Arrived,
Checked In -> completed; No Show -> no_show; Cancelled -> cancelled. `Rescheduled` (the old
slot of a moved appointment, whose new slot is its own row) and `First Visit` are not mapped by
default: such rows are rejected with `unknown status`, unless the mapping's [status_words]
says what they mean for the studio. Booking ids: `Appointment ID`/`ID`.
"""

from __future__ import annotations

from pipelines.formats.common import (
    Columns,
    Context,
    E,
    Expr,
    Sniff,
    blank,
    build_bookings,
    client_cells,
    iso_datetime,
    minutes_text,
    person_name,
    read_vendor_table,
)
from pipelines.formats.native import normalise

NAME = "jane"
FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("Appointment ID", "ID", "Booking ID"),
    "patient": ("Patient", "Patient Name", "Client"),
    "email": ("Patient Email", "Email"),
    "phone": ("Patient Phone", "Phone", "Mobile Phone"),
    "staff": ("Practitioner", "Staff Member", "Staff"),
    "service": ("Treatment", "Treatment Name"),
    "date": ("Date",),
    "start": ("Start", "Start Time", "Start At"),
    "end": ("End", "End Time", "End At"),
    "duration": ("Duration",),
    "status": ("State", "Status"),
    "price": ("Price", "Fee", "Amount"),
    "created": ("Booked At", "Created At", "Booked On"),
    "location": ("Location",),
    "room": ("Room", "Resource"),
}
DATETIME_FORMATS = [
    "%Y-%m-%d %I:%M %p",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%b %d, %Y %I:%M %p",
    "%B %d, %Y %I:%M %p",
]
STATUSES = {"Booked Online": "booked", "Booked": "booked", "Checked In": "completed"}


def detect(sniff: Sniff, mapping) -> bool:
    if sniff.container not in ("csv", "xlsx"):
        return False
    names = {normalise(c) for c in sniff.header if c}
    return all(
        any(normalise(s) in names for s in FIELDS[f]) for f in ("patient", "staff", "service")
    ) and any(normalise(s) in names for s in FIELDS["status"])


def read(sniff: Sniff, ctx: Context):
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(table.header)

    def col(field: str) -> Expr:
        return c(*FIELDS[field])

    if not c.has(*FIELDS["location"]):
        ctx.require_location("Jane")
    formats = (ctx.mapping.datetime_formats if ctx.mapping else None) or DATETIME_FORMATS

    def on_date(time: Expr) -> Expr:
        return E(
            "case when {} is null then null when {} is not null and {} !~ '\\d{4}-|/|,' "
            "then trim({}) || ' ' || trim({}) else {} end",
            blank(time),
            blank(col("date")),
            time,
            col("date"),
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
    )
