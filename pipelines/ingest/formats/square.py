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
A UTC time (`Z`, as Square's API writes) becomes the location's wall-clock in its time zone
(the profile's or a locations file's, else the mapping's [source] timezone); a start or end
in UTC with no zone known rejects its row (see read).
Booking ids: `Appointment ID`/`Booking ID`. A `Customer ID` column (Square's own id of the
customer) is kept as the booking's client_ref.

The Timecards export (a header with the team member, clock-in, clock-out and hours columns)
loads as therapist_shifts: see _read_timecards.

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipelines.ingest import pii
from pipelines.ingest.formats.base import ExportError, ExportRows
from pipelines.ingest.formats.common import (
    Columns,
    Context,
    Sniff,
    build_bookings,
    client_cells,
    date_and_time,
    generic_mapping_fits,
    install_location_names,
    install_lookups,
    iso_datetime,
    loose_key,
    minutes_text,
    past_or_future,
    person_name,
    read_vendor_table,
    renamed_header,
)
from pipelines.ingest.formats.sql_expr import E, Expr, P, blank

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
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M%p",
    "%m/%d/%Y %H:%M",
    # month names: no day/month order to guess (`Mar 2, 2026 10:00 AM`)
    "%b %d, %Y %I:%M %p",
    "%a, %b %d, %Y %I:%M %p",
    "%B %d, %Y %I:%M %p",
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


# The Timecards export (Team -> Timecards -> Export): one row per shift a team member clocked,
# its hours split into regular and overtime (pay), its breaks into paid and unpaid hours.
TIMECARD_FIELDS: dict[str, tuple[str, ...]] = {
    "staff": (*FIELDS["staff"], "Employee", "Employee Name"),
    "in_date": ("Clock In Date", "Clock-In Date", "Start Date", "Date", "Shift Date"),
    "in": ("Clock In", "Clock In Time", "Clock-In Time", "Clocked In", "Time In", "In"),
    "out_date": ("Clock Out Date", "Clock-Out Date", "End Date"),
    "out": ("Clock Out", "Clock Out Time", "Clock-Out Time", "Clocked Out", "Time Out", "Out"),
    "paid_break": ("Paid Break Hours", "Paid Breaks", "Paid Break", "Paid Break Time"),
    "unpaid_break": ("Unpaid Break Hours", "Unpaid Breaks", "Unpaid Break", "Unpaid Break Time"),
    "hours": (
        "Regular Hours",
        "Overtime Hours",
        "Total Hours",
        "Total Paid Hours",
        "Paid Hours",
        "Doubletime Hours",
    ),
    "location": ("Location",),
}


def _has(names: set[str], field: str, fields: dict[str, tuple[str, ...]] = FIELDS) -> bool:
    return any(loose_key(s) in names for s in fields[field])


def _is_timecards(names: set[str]) -> bool:
    return all(_has(names, f, TIMECARD_FIELDS) for f in ("staff", "in", "out", "hours"))


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    if sniff.container not in ("csv", "xlsx") or generic_mapping_fits(sniff, mapping):
        return False
    names = {loose_key(c) for c in renamed_header(sniff.header, mapping) if c}
    if _is_timecards(names):
        return True
    return all(_has(names, f) for f in ("staff", "customer", "status", "id")) and (
        _has(names, "start") or _has(names, "date")
    )


def _local(expr: Expr) -> Expr:
    """ISO 8601 with an offset (2026-03-02T09:00:00-07:00): the local wall-clock part."""
    return E(
        "regexp_replace(trim({}), '^(\\d{4}-\\d{2}-\\d{2})T(\\d{2}:\\d{2}(:\\d{2})?)"
        "(\\.\\d+)?([+-]\\d{2}:?\\d{2}|Z)?$', '\\1 \\2')",
        expr,
    )


def _hours_as_minutes(expr: Expr, in_minutes: bool) -> Expr:
    """A break cell as whole minutes: decimal hours (`0.50`), `h:mm` (`0:30`), or minutes when
    the column says so; blank is 0; anything else passes through (and is rejected)."""
    x = E("trim({})", expr)
    factor = "1" if in_minutes else "60"
    return E(
        "case when {} is null then 0 "
        "when {} ~ '^[0-9]+(\\.[0-9]+)?$' then round(cast({} as double) * " + factor + ") "
        "when {} ~ '^[0-9]+:[0-9]{2}$' then cast(split_part({}, ':', 1) as integer) * 60 "
        "+ cast(split_part({}, ':', 2) as integer) end",
        blank(expr),
        x,
        x,
        x,
        x,
        x,
    )


def _read_timecards(sniff: Sniff, ctx: Context) -> ExportRows:
    """Timecards -> therapist_shifts: the day and time clocked in, the time clocked out, and
    the paid and unpaid breaks as break minutes (the therapist is not free for a session
    during either). Regular and overtime hours split the same time for pay: not read."""
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(renamed_header(table.header, ctx.mapping), key=loose_key)

    def col(field: str) -> Expr:
        return c(*TIMECARD_FIELDS[field])

    by_name = c.has(*TIMECARD_FIELDS["location"])
    if not by_name:
        ctx.require_location("Square")
    install_lookups(ctx, {}, ctx.default_location(), ctx.source(NAME))
    if by_name:
        install_location_names(ctx, table, blank(col("location")))
        query = E(
            "select trim({}) from " + table.name + " as t where {} is not null "
            "and trim({}) not in (select name from vendor_locations) "
            "group by 1 order by min(t.line_number) limit 1",  # the first in the file
            col("location"),
            blank(col("location")),
            col("location"),
        )
        unknown = ctx.con.execute(query.sql, list(query.params)).fetchone()
        if unknown:
            raise ExportError(
                f"location {unknown[0][:80]!r} is not known: add it to the studio profile or "
                "to [locations] in the mapping"
            )
    formats = (ctx.mapping.datetime_formats if ctx.mapping else None) or DATETIME_FORMATS

    def moment(day: Expr, clock: Expr) -> Expr:
        text = E(
            "case when {} is not null and {} is not null then {} else {} end",
            blank(day),
            blank(clock),
            date_and_time(day, clock),
            blank(clock),
        )
        return iso_datetime(_local(text), formats)

    start = moment(col("in_date"), col("in"))
    out_day = col("out_date") if c.has(*TIMECARD_FIELDS["out_date"]) else col("in_date")
    end = moment(out_day, col("out"))
    parsed = "try_strptime({}, '%Y-%m-%d %H:%M:%S')"
    staff = blank(person_name(col("staff")))
    minutes, cells = [], []
    for field in ("paid_break", "unpaid_break"):
        index = c.index(*TIMECARD_FIELDS[field])
        if index is not None:
            in_minutes = "min" in loose_key(table.header[index])
            minutes.append(_hours_as_minutes(Expr(f"t.c{index}"), in_minutes))
            cells.append(Expr(f"t.c{index}"))
    # the breaks' sum, or (a cell that is no number of hours) their cells as written, which
    # the check then rejects with them
    breaks = (
        E(
            "coalesce(cast((" + " + ".join(["{}"] * len(minutes)) + ") as bigint)::varchar, "
            "concat_ws(' + ', " + ", ".join(["{}"] * len(cells)) + "))",
            *minutes,
            *cells,
        )
        if minutes
        else Expr("'0'")
    )
    location = (
        E(
            "case when {} is null then ctx.location else (select id from vendor_locations "
            "where name = trim({})) end",
            blank(col("location")),
            col("location"),
        )
        if by_name
        else Expr("ctx.location")
    )
    parts = [
        E(
            "case when " + parsed + " is null then {} else left({}, 10) end as date",
            start,
            start,
            start,
        ),
        E("{} as location_id", location),
        E(
            "coalesce((select id from vendor_staff where name = lower({})), {}) as therapist_id",
            staff,
            staff,
        ),
        E("{} as therapist_name", staff),
        Expr("cast(null as varchar) as bar_trained"),
        E(
            "case when " + parsed + " is null then {} else substr({}, 12, 5) end as shift_start",
            start,
            start,
            start,
        ),
        E(
            # a shift past midnight ends `HH:MM on YYYY-MM-DD`: rejected below, saying so
            "case when " + parsed + " is null then {} "
            "when left({}, 10) <> left({}, 10) then substr({}, 12, 5) || ' on ' || left({}, 10) "
            "else substr({}, 12, 5) end as shift_end",
            end,
            end,
            end,
            start,
            end,
            end,
            end,
        ),
        E("{} as break_minutes", breaks),
    ]
    used = sorted({int(n) for part in parts for n in re.findall(r"\bt\.c(\d+)\b", part.sql)})
    raw = " || chr(44) || ".join(f"coalesce(t.c{i}, '')" for i in used) or "''"
    select = E(", ".join(["{}"] * len(parts)), *parts)
    query = E(
        "create or replace temp table "
        + ctx.target
        + " as select t.line_number, {}, "
        + raw
        + " as raw_row from "
        + table.name
        + " as t, vendor_ctx as ctx",
        select,
    )
    ctx.con.execute(query.sql, list(query.params))
    ctx.con.execute(f"drop table if exists {table.name}")
    # A shift past midnight (shift_end `01:00 on 2026-03-04`) is rejected here, saying what
    # it is and what to do: the check would call `01:00 on 2026-03-04` no time.
    past_midnight = [
        (
            line,
            f"the shift ends past midnight, at {end}: a shift is one day's, so split it at "
            "midnight (a row for each day) to load it",
            raw_row,
        )
        for line, end, raw_row in ctx.con.execute(
            f"delete from {ctx.target} where regexp_full_match(shift_end, "
            "'[0-9]{2}:[0-9]{2} on [0-9]{4}-[0-9]{2}-[0-9]{2}') "
            "returning line_number, shift_end, raw_row"
        ).fetchall()
    ]
    # An open timecard (clocked in, no clock-out yet) has no end: rejected saying so, not as
    # "shift_end '' is not a time", which reads as a wrong clock
    still_open = [
        (
            line,
            "the timecard has no clock-out yet (still clocked in): it loads once the shift is "
            "clocked out in Square and exported again",
            raw_row,
        )
        for line, raw_row in ctx.con.execute(
            f"delete from {ctx.target} where nullif(trim(shift_end), '') is null "
            "and nullif(trim(shift_start), '') is not null returning line_number, raw_row"
        ).fetchall()
    ]
    rejects = sorted(table.rejects + past_midnight + still_open)
    count = ctx.con.execute(f"select count(*) from {ctx.target}").fetchone()[0]
    # which export columns each field is read from (shown by `studio-ops inspect`)
    read_from = {
        part.sql.rsplit(" as ", 1)[-1]: [
            table.header[int(n)] for n in dict.fromkeys(re.findall(r"\bt\.c(\d+)\b", part.sql))
        ]
        for part in parts
    }
    return ExportRows(
        kind="therapist_shifts",
        format=f"square-timecards-{sniff.container}",
        table=ctx.target,
        rows_read=count + len(rejects),
        rejects=pii.mask_rejects(rejects),
        columns={k: v for k, v in read_from.items() if v},
    )


# A date-time in UTC (`2026-03-02T17:00:00Z`, as Square's API writes it): not the studio's
# wall-clock, so it is turned into the location's time zone.
_UTC = "^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)? ?(Z|z|UTC)$"
# with a T (Square's API) or a space (a database's or a spreadsheet's `2026-03-02 17:00:00 UTC`)
_UTC_FORMATS = [
    f"%Y-%m-%d{sep}{clock}%z"
    for sep in ("T", " ")
    for clock in ("%H:%M:%S", "%H:%M:%S.%f", "%H:%M")
]


def _zone(ctx: Context, table, location: Expr | None) -> Expr:
    """The time zone of each row's location (the studio profile's or a loaded locations
    file's, else the mapping's [source] timezone), NULL when none is known. Its SQL binds no
    parameter: the rows it cannot place are left out by a plain WHERE."""
    from pipelines.ingest.formats.mapped import location_zone

    ctx.con.execute(
        "create or replace temp table square_zone_ctx as select cast(? as varchar) as location, "
        "cast(? as varchar) as zone",
        [ctx.default_location(), ctx.mapping.timezone if ctx.mapping else None],
    )
    place = Expr("(select location from square_zone_ctx)")
    if location is not None:
        install_location_names(ctx, table, blank(location))
        place = E(
            "case when {} is null then {} else (select id from vendor_locations where name = {})"
            " end",
            blank(location),
            place,
            blank(location),
        )
    return location_zone(ctx, place, Expr("(select zone from square_zone_ctx)"))


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    if _is_timecards({loose_key(h) for h in renamed_header(sniff.header, ctx.mapping) if h}):
        return _read_timecards(sniff, ctx)
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(renamed_header(table.header, ctx.mapping), key=loose_key)

    def col(field: str) -> Expr:
        return c(*FIELDS[field])

    if not c.has(*FIELDS["location"]):
        ctx.require_location("Square")
    formats = (ctx.mapping.datetime_formats if ctx.mapping else None) or DATETIME_FORMATS

    # the cells that place a booking in its day (Created At's date only marks rebookings:
    # a UTC one of a location without a zone keeps its clock, as before)
    utc_cells = [col(f) for f in ("start", "end", "date") if c.has(*FIELDS[f])]
    zone = _zone(ctx, table, col("location") if c.has(*FIELDS["location"]) else None)

    def local(text: Expr) -> Expr:
        """A date-time cell as the location's wall-clock: UTC turned into its time zone, a
        local time with an offset as written."""
        t = E("trim({})", text)
        return E(
            "case when {} ~ '" + _UTC + "' and {} is not null then strftime(timezone({}, "
            "try_strptime(regexp_replace({}, ' ?(Z|z|UTC)$', '+00:00'), {})), "
            "'%Y-%m-%d %H:%M:%S') else {} end",
            t,
            zone,
            zone,
            t,
            P(_UTC_FORMATS),
            _local(text),
        )

    # A UTC time of a location whose time zone nothing says cannot be placed: rejected. A
    # Location naming no known location is not (build_bookings rejects it for that, the
    # reason to act on: no zone can be set on a location nothing knows).
    unplaced = E(
        "(" + " or ".join(["trim({}) ~ '" + _UTC + "'"] * len(utc_cells) or ["false"]) + ")"
        " and {} is null",
        *utc_cells,
        zone,
    )
    if c.has(*FIELDS["location"]):
        named = blank(col("location"))
        unplaced = E(
            "{} and ({} is null or {} in (select name from vendor_locations))",
            unplaced,
            named,
            named,
        )
    assert not unplaced.params, "a WHERE of build_bookings binds no parameter"
    first_utc = E(
        "coalesce("
        + ", ".join(["case when trim({}) ~ '" + _UTC + "' then trim({}) end"] * len(utc_cells))
        + ", '')",
        *[cell for cell in utc_cells for _ in range(2)],
    )
    query = E(
        "select t.line_number, {} from " + table.name + " as t where {} order by 1",
        first_utc,
        unplaced,
    )
    rejects = [
        (
            line,
            f"the time {raw[:40]!r} is in UTC and this location's time zone is unknown (set "
            "timezone in the studio profile, or [source] timezone in the mapping)",
            raw,
        )
        for line, raw in ctx.con.execute(query.sql, list(query.params)).fetchall()
    ]

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
        rejects=rejects,
        where=f"not ({unplaced.sql})" if rejects else None,
    )
