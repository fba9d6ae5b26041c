"""Fresha: Sales -> Appointments -> Export (CSV or XLSX).

Recognised by its header: `Appointment reference` (or `Ref #`), `Scheduled date`, `Duration`,
`Status`. Dates like `04 Jul 2026, 3:00pm` (in `Scheduled date`, or split over `Scheduled date`
and `Scheduled time`); durations `1h 30m`, `45m`. The staff column (`Team member`, `Staff`) may
name several people; studios that model rooms as team members ("CABINA 1") list them in the
mapping's [fresha] rooms, and those names become the room, the others the therapist (a
room's own line joins the visit of its appointment's one therapist at the same start, adding
its price but neither its service nor its minutes: a booking's minutes are the therapist's,
so a room held longer for turnover, like the `Extra Time` column, is not counted).
A walk-in (Client `Walk-In`, or empty, with no email or phone) has no client: rejected, as a
booking without a client is in every export, never all walk-ins as one client.
Prices with a decimal comma (`€135,00`) are read with the mapping's [formats] decimal = ",".
Statuses: Booked, Confirmed, Arrived, Started, Completed -> completed for Arrived/Started/
Completed; No-show; Cancelled. Booking ids: the appointment reference.
Headers are recognised in English (Fresha follows the account's language): a studio with
another language names its columns in the mapping's [headers] (`"Data programmata" =
"Scheduled date"`), and its month names (`04 lug 2026`) are read (mapped.english_months).

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipelines.canonical import normalise
from pipelines.ingest.formats import tabular
from pipelines.ingest.formats.base import ExportError, ExportRows
from pipelines.ingest.formats.common import (
    ISO,
    WALK_IN,
    Columns,
    Context,
    Sniff,
    build_bookings,
    cell_date,
    client_cells,
    iso_datetime,
    minutes_text,
    read_vendor_table,
    renamed_header,
    walked_in,
)
from pipelines.ingest.formats.sql_expr import NULL, E, Expr, P, blank

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


_CELL = re.compile(r"\bt\.c(\d+)\b")  # an export cell in an expression
# the summary line's word for the lines of a visit after its first
JOINED = "service lines joined into their visit's booking"
# a full timestamp as some accounts write it in `Scheduled time`
ISO_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
# a workbook's date cell (read as its ISO date) before the time Fresha writes
ISO_FORMATS += ["%Y-%m-%d %I:%M%p", "%Y-%m-%d %I:%M %p"]
MONTH_FIRST_LOCALES = frozenset({"en-us", "en-ph", "es-us"})
NUMERIC_DATE = re.compile(r"^\s*\d{1,2}/\d{1,2}/\d{2,4}\b")
NUMERIC_TIMES = [" %H:%M", ", %H:%M", " %I:%M%p", ", %I:%M%p", " %I:%M %p", " %H:%M:%S"]


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    # the mapping's [headers] name an account's columns in another language in English
    names = {normalise(c) for c in renamed_header(sniff.header, mapping) if c}

    def has(*options: str) -> bool:
        return any(normalise(o) in names for o in options)

    return (
        sniff.container in ("csv", "xlsx")
        and has("Appointment reference", "Ref #", "Reference")
        and has("Scheduled date")
        and has("Duration")
        and has("Status")
    )


def _start_formats(ctx: Context) -> list[str]:
    """Fresha's date-time formats, with the numeric ones (`06/07/2024 10:30`) in the order the
    account's locale writes them: `[fresha] locale` says it (en-US: month first, any other:
    day first), or `[formats] datetime` does. With neither, such a row is never read
    (_check_numeric_dates says what the file lacks): never guessed per row."""
    mapping = ctx.mapping
    explicit = list(mapping.datetime_formats) if mapping else []
    locale = (mapping.fresha_locale or "").strip() if mapping else ""
    if locale:
        order = (
            "%m/%d/%Y" if locale.replace("_", "-").lower() in MONTH_FIRST_LOCALES else "%d/%m/%Y"
        )
        numeric = [f"{order}{rest}" for rest in NUMERIC_TIMES]
    else:
        numeric = []  # then 06/07/2024 is a rejected row, never a guess
    return explicit + numeric + DATETIME_FORMATS + ISO_FORMATS


def _check_numeric_dates(
    ctx: Context, table: tabular.Table, written: Expr, time: Expr, formats: list[str]
) -> None:
    """Refuse, in one line, a file whose numeric dates (`06/07/2024`) cannot be read as the
    mapping says. Without [fresha] locale (or [formats] datetime) their order is unknown and
    never guessed: a file none of whose starts reads is refused saying what to add (a file
    with some, a row a spreadsheet rewrote, rejects that row). With it, a date that reads
    only the other way round (`13/07/2024` under en-US) shows the file writes the other
    order, so its numeric dates that did read are on the wrong day: refused too."""
    swapped = [
        f.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        for f in formats
        if re.search(r"(%d\W%m|%m\W%d)\W%[Yy]", f)  # day and month before the year
    ]
    t = E("trim({})", written)
    numeric = E("regexp_matches({}, {})", t, P(NUMERIC_DATE.pattern))
    read = E(
        "(try_strptime({}, {}) is not null or try_strptime(trim({}), {}) is not null)",
        t,
        P(formats),
        time,
        P(formats),
    )
    other_way = E("try_strptime({}, {}) is not null", t, P(swapped)) if swapped else Expr("true")
    query = E(
        "select min(t.line_number) filter (where {} and not {} and {}), "
        "arg_min({}, t.line_number) filter (where {} and not {} and {}), "
        "count(*) filter (where {}), count(*) filter (where {} and {}) "
        "from " + table.name + " as t",
        numeric, read, other_way,
        t, numeric, read, other_way,
        read, numeric, read,
    )  # fmt: skip
    line, value, read_rows, read_numeric = ctx.con.execute(query.sql, list(query.params)).fetchone()
    if line is None:
        return
    if not swapped and read_rows == 0:
        raise ExportError(
            f"line {line}: the date {value!r} is written in numbers, whose order follows the "
            'Fresha account\'s locale: add [fresha] locale = "en-GB" (day first: 06/07 is '
            '6 July) or "en-US" (month first) to the mapping'
        )
    if swapped and read_numeric:
        said = ctx.mapping.fresha_locale if ctx.mapping and ctx.mapping.fresha_locale else None
        setting = f"[fresha] locale {said!r}" if said else "[formats] datetime"
        raise ExportError(
            f"line {line}: the date {value!r} does not read in the order {setting} in the "
            "mapping gives, only the other way round: correct it, or the file's other dates "
            "would load with day and month swapped"
        )


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(renamed_header(table.header, ctx.mapping))
    if not c.has("Location"):
        ctx.require_location("Fresha")
    formats = _start_formats(ctx)
    date, time = c("Scheduled date"), c("Scheduled time", "Time")
    written = E(
        "case when {} is null then {} else {} || ' ' || trim({}) end",
        blank(time),
        date,
        cell_date(date),  # a workbook's date cell reads as its date
        time,
    )
    from pipelines.ingest.formats.mapped import english_months

    written = english_months(written, formats)  # `04 lug 2026`: an account in Italian
    _check_numeric_dates(ctx, table, written, time, formats)
    # `Scheduled time` holds a time of day, or on some accounts the full timestamp
    start = E(
        "coalesce(strftime(try_strptime(trim({}), {}), '" + ISO + "'), {})",
        time,
        P(formats),
        iso_datetime(written, formats),
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
    bar_services = [s.strip().lower() for s in (ctx.mapping.bar_services if ctx.mapping else [])]
    lines = {
        "ref": blank(c("Appointment reference", "Ref #", "Reference")),
        "location": blank(c("Location")),
        "room": blank(room),
        "therapist": blank(therapist),
        "service": blank(c("Services", "Service")),
        "start_at": start,
        "minutes": minutes_text(c("Duration")),
        "status": blank(c("Status")),
        "created_at": iso_datetime(c("Created date", "Booked date"), DATETIME_FORMATS),
        "price": _price(ctx, c("Price", "Total", "Sale price")),
        "bars": E(
            "case when list_contains({}, lower(trim({}))) then 'true' end",
            P(bar_services),
            c("Services", "Service"),
        ),
        "email": c("Client email", "Email"),
        "phone": c("Client phone", "Mobile number"),
        # a walk-in (`Walk-In`) names no client: without email or phone it is rejected below
        "name": E(
            "case when not regexp_matches(coalesce({}, ''), {}, 'i') then {} end",
            c("Client"),
            P(WALK_IN),
            c("Client"),
        ),
    }
    visits, merged = _visits(ctx, table, lines)
    # `studio-ops inspect` names the export's columns a field comes from: each visits column
    # is shown as the Fresha columns its line reads, and one that reads none is no column
    read = {
        name: ", ".join(dict.fromkeys(table.header[int(i)] for i in _CELL.findall(expr.sql)))
        for name, expr in zip(visits.header, lines.values(), strict=True)
    }
    v = Columns(visits.header)

    def given(name: str) -> Expr:
        return v(name) if read[name] else NULL

    client = client_cells(v, **{k: (k,) if read[k] else () for k in ("email", "phone", "name")})
    visits.header = [read[name] or name for name in visits.header]
    columns = {
        "booking_id": v("booking_id"),
        "location_id": v("location") if c.has("Location") else NULL,
        "room_id": given("room"),
        "therapist_id": v("therapist"),
        "service": v("service"),
        "uses_bars": given("bars"),
        "start_at": v("start_at"),
        "duration_minutes": v("minutes"),
        "status": v("status"),
        "created_at": given("created_at"),
        "price": given("price"),
    }
    # A room's line that joined no therapist's visit (none at its start, or two) names no
    # therapist: rejected saying so, not as "therapist_id is missing"
    room_only = "t.c3 is null and t.c2 is not null"  # visits: c2 room, c3 therapist
    rejects = [
        (
            line,
            f"the team member {room!r} is a room ([fresha] rooms) and no one therapist of "
            "its appointment starts with it: a room alone is no booking",
            room,
        )
        for line, room in ctx.con.execute(
            f"select t.line_number, t.c2 from {visits.name} as t where {room_only} order by 1"
        ).fetchall()
    ] if rooms else []  # fmt: skip
    # A visit whose client is a walk-in (or left empty) has no client: rejected as every
    # export's booking without a client is, saying why (never all walk-ins as one client)
    walk_in = f"t.c11 is null and t.c12 is null and t.c13 is null and not ({room_only})"
    if c.has("Client"):
        rejects += [
            (line, walked_in(NAME), ref or "")
            for line, ref in ctx.con.execute(
                f"select t.line_number, t.c0 from {visits.name} as t where {walk_in} order by 1"
            ).fetchall()
        ]
    not_loaded = [f"({room_only})"] * bool(rooms) + [f"({walk_in})"] * c.has("Client")
    rows = build_bookings(
        ctx,
        visits,
        columns,
        client,
        vendor=NAME,
        format_name=f"fresha-{sniff.container}",
        statuses=STATUSES,
        rejects=rejects,
        where=f"not ({' or '.join(not_loaded)})" if not_loaded else None,
    )
    if merged:  # every line is counted: read = loaded + rejected + joined into a visit
        rows.rows_read += merged
        rows.skipped[JOINED] = merged
    return rows


# A price cell: a currency sign or code around digits with thousands commas and a decimal
# point (`€135.00`, `GBP 1,050.00`); the number, commas dropped. Others stay text: the line's
# own price is then kept, and the validator rejects it with its reason.
_PRICE = (
    "try_cast(nullif(replace(regexp_extract(trim(price), "
    "'^[^0-9-]*(-?[0-9]{1,3}(,[0-9]{3})*([.][0-9]+)?|-?[0-9]+([.][0-9]+)?)[^0-9]*$', 1), "
    "',', ''), '') as decimal(14, 2))"
)


def _price(ctx: Context, price: Expr) -> Expr:
    """The price cell; with `[formats] decimal = ","` (an account writing `€135,00`) a price
    with a decimal comma becomes `135.00`, and one written otherwise stays as it is."""
    if ctx.mapping is None or ctx.mapping.decimal != ",":
        return blank(price)
    from pipelines.ingest.formats.mapped import comma_price

    return E("coalesce({}, {})", comma_price(price), blank(price))


if TYPE_CHECKING:  # the type only
    from pipelines.ingest.formats.mapping import Mapping


def _visits(ctx: Context, table: tabular.Table, lines: dict[str, Expr]):
    """One row per booking from Fresha's one row per booked service.

    The lines of one appointment reference that share the start, the team member (and room)
    and the status are one visit: it starts at that start and ends at the latest end, its
    services are joined with " + " in line order, its prices summed, and it uses the bars when
    any of its services does (the mapping's [services] bar_services; else the keywords decide
    on the joined names). Lines with their own times (or people, or status) are a booking each:
    the first keeps the reference, the next `<reference>-2`, `-3`, ... in start order. A line
    without a reference is a booking of its own. Returns the visits table and how many lines
    were joined into another line's visit."""
    select = E(
        ", ".join(["{} as " + name for name in lines]),
        *lines.values(),
    )
    name = f"{ctx.target}_visits"
    query = E(
        "create or replace temp table " + name + " as "
        "with l0 as (select t.line_number, {} from " + table.name + " as t), "
        # a line whose team member is a room (no therapist) belongs to the visit of the one
        # therapist of its appointment at its start and status, which takes its room
        "l as (select * replace ("
        "coalesce(therapist, case when count(distinct therapist) over w = 1 "
        "then max(therapist) over w end) as therapist, "
        "coalesce(room, case when count(distinct room) over w = 1 "
        "then max(room) over w end) as room), "
        "therapist is null and room is not null as room_line "
        "from l0 window w as "
        "(partition by coalesce(ref, '#line ' || line_number), start_at, status)), "
        "g0 as (select *, coalesce(ref, '#line ' || line_number) as grp, "
        "try_cast(minutes as integer) as mins, " + _PRICE + " as amount from l), "
        # the visit's minutes and services are its therapist's lines: a room's own line
        # (held longer for turnover) is no service and no minute of the therapist's; it counts
        # only in a visit of room lines alone
        "g as (select *, not room_line or sum(case when room_line then 0 else 1 end) over "
        "(partition by grp, ref, start_at, therapist, room, status, location) = 0 as counted "
        "from g0), "
        "v as (select grp, ref, start_at, therapist, room, status, location, "
        "min(line_number) as line_number, count(*) as lines, "
        "string_agg(service, ' + ' order by line_number) filter (where counted) as service, "
        "case when count(*) filter (where counted) = 1 then first(minutes) filter (where counted) "
        "when count(*) filter (where counted and mins is null) > 0 "
        "then first(minutes order by line_number) filter (where counted and mins is null) "
        "else cast(max(mins) filter (where counted) as varchar) end as minutes, "
        "case when count(*) = 1 then first(price) "
        "when count(*) filter (where price is not null and amount is null) > 0 "
        "then first(price order by line_number) "
        "filter (where price is not null and amount is null) "
        "else cast(sum(amount) as varchar) end as price, "
        "max(bars) as bars, min(created_at) as created_at, "
        "first(email order by line_number) as email, first(phone order by line_number) as phone, "
        "first(name order by line_number) as name "
        "from g group by all) "
        "select line_number, case when ref is null then null "
        "when row_number() over (partition by grp order by start_at, line_number) = 1 then ref "
        "else ref || '-' || row_number() over (partition by grp order by start_at, line_number) "
        "end as c0, location as c1, room as c2, therapist as c3, service as c4, start_at as c5, "
        "minutes as c6, status as c7, created_at as c8, price as c9, bars as c10, email as c11, "
        "phone as c12, name as c13, lines from v",
        select,
    )
    ctx.con.execute(query.sql, list(query.params))
    ctx.con.execute(f"drop table if exists {table.name}")
    merged = ctx.con.execute(f"select coalesce(sum(lines - 1), 0) from {name}").fetchone()[0]
    header = ["booking_id", "location", "room", "therapist", "service", "start_at", "minutes",
              "status", "created_at", "price", "bars", "email", "phone", "name"]  # fmt: skip
    visits = tabular.Table(name=name, header=header, container="", rows_read=table.rows_read)
    visits.rejects = table.rejects
    return visits, int(merged)
