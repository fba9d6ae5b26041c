"""The mapping file (TOML), and the generic adapter for exports of any other system.

One mapping file per source (account or studio). Every section is optional; an adapter that
needs an answer the file does not give stops with a message naming the line to add.

    [source]
    name = "acuity-downtown"     # the booking source: keeps booking ids stable per account
    location = "L01"             # location for exports without one (--location overrides)
    [acuity]
    calendar = "therapist"       # what Acuity's Calendar column means: therapist | room | location
    [fresha]
    rooms = ["CABINA 1"]         # Fresha team members that are really rooms
    [services]
    bar_services = ["Ashiatsu Deep Feet 60"]   # services that need the bars
    [therapists]
    "Chen, Maya" = "L01-T01"     # staff names in exports -> therapist ids of the shift files
    [ics]
    summary = "(?P<service>.+?) - (?P<client>.+)"   # named groups: service, client, therapist (RE2)
    therapist = "Maya Chen"      # whose calendar this is (else a `therapist` group or the name)
    location_is = "room"         # what an event's LOCATION means: room | location | ignore
    timezone = "America/Denver"  # for UTC times when the calendar names no X-WR-TIMEZONE
    [columns]                    # generic mapping: canonical field = column header
    booking_id = "Appt #"
    [formats]
    datetime = "%d/%m/%Y %H:%M"  # strptime format(s) of this export's date-times; never guessed
    decimal = ","                # prices written 1.234,50 (Europe's CSV, which has semicolons)
    [status_words]
    "Done" = "completed"
    [headers]                    # Jane, Square, Fresha: a renamed column -> the adapter's name
    "Clinician" = "Practitioner"

The generic adapter applies when the file's header holds every column [columns] names; what
the mapping still lacks is named in one line (missing_fields). Without booking_id the id is
derived (derived_id); [constants] fixes fields; ISO date-times need no [formats] and offsets
become the location's wall-clock; a start without a time of day is rejected unless [formats]
date_only says otherwise (docs/exports.md, The mapping file). Client columns (`client_email`,
`client_phone`, `client_name`, `client_first_name` + `client_last_name`, or `client_id`, a
client code) are hashed like every vendor's; `client_ref` names the column of the system's own
client id or code, kept as written (pipelines.ingest.pii.client_ref_sql).

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipelines.canonical import KINDS
from pipelines.ingest import pii
from pipelines.ingest.formats import native
from pipelines.ingest.formats.base import ExportRows
from pipelines.ingest.formats.common import (
    ISO,
    Columns,
    Context,
    Sniff,
    build_bookings,
    cell_date,
    client_cells,
    date_and_time,
    minutes_text,
    read_below_header,
    read_vendor_table,
)
from pipelines.ingest.formats.common import sniff as sniff_file
from pipelines.ingest.formats.mapping import (
    DATE_ONLY_KEEP,
    DATE_ONLY_REJECT,
    Mapping,
    columns_fit,
    key_line,
    load_mapping,
)
from pipelines.ingest.formats.needs import MappingNeeded, Question, location_question
from pipelines.ingest.formats.sql_expr import NULL, E, Expr, P, lit
from pipelines.ingest.formats.tabular import ExportError

NAME = "mapped"
# --- the generic adapter ---------------------------------------------------------------------


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    """A generic mapping applies to a table whose header holds every column it names (what it
    still lacks, the read names in one line: a mapping is never silently passed over)."""
    if mapping is None or not mapping.columns or sniff.container not in ("csv", "xlsx"):
        return False
    return columns_fit(sniff, mapping) is not None


# ISO 8601 is always read, without a [formats] section: local date-times, and date-times with
# a `Z` or an offset, which are turned into the location's wall-clock time.
ISO_LOCAL = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
)
ISO_OFFSET = tuple(f + "%z" for f in ISO_LOCAL)
ISO_DATE = "%Y-%m-%d"
# A rejected cell's reason travels in its canonical column behind this mark, and the row is
# moved to the rejected rows before validation (file text never starts with it: see _moment).
PROBLEM = "\x01"
# written time of day of an ISO value with an offset, at midnight
_ISO_MIDNIGHT = r"[T ]00:00(:00(\.0+)?)?\s*([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?$"


_TIME_CODE = re.compile(r"%[HIMklp]")
# the times of day a date format without one is read with, when a time column follows it
_TIMES = (" %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M%p")


def with_times(formats: list[str]) -> list[str]:
    """The mapping's date-time formats, each date-only one (`%d/%m/%Y`, natural when the time
    has its own column) also followed by a time of day: a time is never ambiguous."""
    found = []
    for fmt in formats:
        found.append(fmt)
        if not _TIME_CODE.search(fmt):
            found += [fmt + time for time in _TIMES]
    return found


def _date_part(fmt: str) -> str | None:
    """The date of a date-time format: `%d/%m/%Y %H:%M` -> `%d/%m/%Y` (None: no time in it)."""
    head = re.split(r"[ T,]*%[HIkl]", fmt, maxsplit=1)
    return head[0].rstrip(" ,T") if len(head) == 2 and head[0].strip() else None


# Month names of the languages booking systems write besides English (Italian, Spanish,
# French, German, Portuguese, Dutch), full and short: no word names two months, so reading
# them is a translation, never a guess. A [formats] datetime with %b or %B reads them.
FOREIGN_MONTHS = (
    ("January", "gennaio gen enero ene janvier janv januar jänner jän janeiro januari"),
    ("February", "febbraio febrero février févr fév februar fevereiro fev februari"),
    ("March", "marzo mars märz mär mrz março maart mrt"),
    ("April", "aprile abril abr avril avr"),
    ("May", "maggio mag mayo mai maio mei"),
    ("June", "giugno giu junio juin juni junho"),
    ("July", "luglio lug julio juillet juil juli julho"),
    ("August", "agosto ago août aout augustus"),
    ("September", "settembre set septiembre septembre sept setembro"),
    ("October", "ottobre ott octubre octobre oktober okt outubro out"),
    ("November", "novembre noviembre novembro"),
    ("December", "dicembre dic diciembre décembre déc dezember dez dezembro"),
)


def english_months(text: Expr, formats: list[str]) -> Expr:
    """`4 lug 2026` -> `4 Jul 2026` (`%b`; `%B` gets `July`): a month's name in another
    language becomes the English one strptime reads; a dot after a short name goes too."""
    if not any("%b" in f or "%B" in f for f in formats):
        return text
    full = not any("%b" in f for f in formats)
    for english, names in FOREIGN_MONTHS:
        words = "|".join(sorted(names.split(), key=len, reverse=True))
        text = E(
            "regexp_replace({}, {}, {}, 'gi')",
            text,
            P(f"(^|[^\\pL])({words})\\.?([^\\pL]|$)"),
            P(f"\\1{english if full else english[:3]}\\3"),
        )
    return text


@dataclass
class _Moments:
    """How one export's date-times are read: its formats and the location's time zone."""

    local: list[str]
    offset: list[str]
    dates: list[str]
    zone: Expr  # the row's IANA zone (NULL: unknown)
    location: Expr  # the row's location text, for reasons
    date_only: str
    unread: str  # the reason of a cell no format reads, after its quoted text
    own: list[str]  # the mapping's [formats] datetime

    @classmethod
    def of(cls, mapping: Mapping, zone: Expr, location: Expr) -> _Moments:
        own = with_times(mapping.datetime_formats)
        local = [f for f in own if "%z" not in f] + list(ISO_LOCAL)
        offset = [f for f in own if "%z" in f] + list(ISO_OFFSET)
        dates = [ISO_DATE, *filter(None, (_date_part(f.replace("%z", "")) for f in own))]
        dates += [f for f in mapping.datetime_formats if not _TIME_CODE.search(f)]
        where = f"mapping file {mapping.path}" if mapping.path else "the mapping"
        if own:
            written = ", ".join(map(repr, mapping.datetime_formats))
            unread = f" does not match [formats] datetime {written} in {where}"
        else:
            unread = (
                " is not written YYYY-MM-DD HH:MM: say how it is written with [formats] "
                f"datetime in {where}"
            )
        return cls(
            local,
            offset,
            list(dict.fromkeys(dates)),
            zone,
            location,
            mapping.date_only,
            unread,
            list(own),
        )

    def __call__(self, text: Expr, field_name: str, start: bool = False) -> Expr:
        """ISO text of a date-time cell, or PROBLEM + reason; text that no format reads is
        rejected naming the mapping's [formats] datetime. For the start, a date without a time
        of day (a date alone, or 00:00 as date-only systems write it) follows date_only."""
        t = english_months(E("nullif(ltrim(trim({}), chr(1)), '')", text), self.own)
        unread = E(
            "{} || {} || quoted_cell({}) || {}", P(PROBLEM), P(f"{field_name} "), t, P(self.unread)
        )
        local = E("try_strptime({}, {})", t, P(self.local))
        aware = E("try_strptime(regexp_replace({}, '\\s*[Zz]$', '+00:00'), {})", t, P(self.offset))
        wall = E(
            "case when {} is not null then strftime({}, '" + ISO + "') "
            "when {} is not null then coalesce(strftime(timezone({}, {}), '" + ISO + "'), "
            "{} || {} || quoted_cell({}) || {} || coalesce({}, '') || {}) end",
            local,
            local,
            aware,
            self.zone,
            aware,
            P(PROBLEM),
            P(f"{field_name} "),
            t,
            P(" carries a UTC offset and the time zone of location "),
            self.location,
            P(
                " is unknown (set timezone in the studio profile, or [source] timezone "
                "in the mapping)"
            ),
        )
        if not start:
            return E("coalesce({}, {})", wall, unread)
        day = E("try_strptime({}, {})", t, P(self.dates))
        midnight = E(
            "coalesce(cast({} as time) = time '00:00', regexp_matches({}, {}) and {} is not null)",
            local,
            t,
            P(_ISO_MIDNIGHT),
            aware,
        )
        dateless = E("({} is null and {} is null and {} is not null)", local, aware, day)
        no_time = E("({} or {})", midnight, dateless)
        if self.date_only == DATE_ONLY_KEEP:  # midnight is a time of day; a date alone too
            dated = E("strftime({}, '" + ISO + "')", day)
        elif self.date_only == DATE_ONLY_REJECT:
            dated = E(
                "{} || 'no time of day: ' || {} || quoted_cell({}) || {}",
                P(PROBLEM),
                P(f"{field_name} "),
                t,
                P(
                    " has a date only (never taken as midnight: map the time column, "
                    'or say what to do with [formats] date_only = "HH:MM" in the mapping)'
                ),
            )
        else:  # the date as written, at the mapping's time
            written = E(
                "coalesce(strftime({}, '%Y-%m-%d'), left({}, 10), strftime({}, '%Y-%m-%d'))",
                local,
                t,
                day,
            )
            dated = E("{} || {}", written, P(f" {self.date_only}:00"))
        if self.date_only == DATE_ONLY_KEEP:
            return E(
                "coalesce({}, {}, {})",
                wall,
                E("case when {} then {} end", dateless, dated),
                unread,
            )
        return E("case when {} then {} else coalesce({}, {}) end", no_time, dated, wall, unread)


def _install_zones(ctx: Context) -> None:
    """Temp table mapped_zones (key, zone): each location's time zone, by its id and name
    (case, spacing and punctuation ignored), from the studio profile and loaded locations."""
    from pipelines.profile import stored_profile

    con = ctx.con
    con.execute("create or replace temp table mapped_zones (name varchar, zone varchar)")
    pairs = []
    profile = stored_profile(con)
    for loc in profile.locations if profile else ():
        if loc.timezone:
            pairs += [(loc.id, loc.timezone), (loc.name, loc.timezone)]
    has_locations = con.execute(
        "select count(*) from duckdb_tables() where table_name = 'raw_locations' and not temporary"
    ).fetchone()[0]
    if has_locations:
        pairs += con.execute(
            "select location_id, timezone from raw_locations where timezone is not null "
            "union all select name, timezone from raw_locations "
            "where timezone is not null and name is not null"
        ).fetchall()
    if pairs:
        con.executemany("insert into mapped_zones values (?, ?)", pairs)
    con.execute(
        "create or replace temp table mapped_zones as select distinct on (key) "
        f"{_KEY.format('name')} as key, zone from mapped_zones"
    )


# names compared as the profile compares them (case, spacing and punctuation ignored)
_KEY = "trim(regexp_replace(lower({}), '[^a-z0-9]+', ' ', 'g'))"


def location_zone(ctx: Context, location: Expr, otherwise: Expr) -> Expr:
    """Each row's time zone: its location's (`location` an id or a name, matched as the
    profile matches names) in the studio profile or a loaded locations file, else
    `otherwise`."""
    _install_zones(ctx)
    return E(
        "coalesce((select zone from mapped_zones where key = " + _KEY.format("{}") + "), {})",
        location,
        otherwise,
    )


def derived_id(location: Expr, client: Expr, start: Expr, therapist: Expr, service: Expr) -> Expr:
    """The booking id of an export without one: `m` + 16 hex digits of sha256 over the
    location, the client's key, the start (ISO), the therapist and the service, as written
    (lowercased, spaces folded), joined by `|`. The same row gives the same id in every load,
    so loading a file again changes nothing."""

    def folded(expr: Expr) -> Expr:
        return E("coalesce(lower(regexp_replace(trim({}), '\\s+', ' ', 'g')), '')", expr)

    return E(
        "'m' || left(sha256({} || '|' || {} || '|' || {} || '|' || {} || '|' || {}), 16)",
        folded(location),
        E("coalesce({}, '')", client),
        E("coalesce({}, '')", start),
        folded(therapist),
        folded(service),
    )


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    mapping = ctx.mapping
    assert mapping is not None
    cols = mapping.columns
    header_at = columns_fit(sniff, mapping) or 0
    header = sniff.rows[header_at] if sniff.rows else []
    sample = sniff.rows[header_at + 1 : header_at + 1 + SAMPLE_ROWS]
    lacking = missing_fields(mapping, ctx.default_location(), header, sample)
    if lacking:
        raise MappingNeeded(
            missing_line(lacking, mapping.path),
            vendor=NAME,
            source=ctx.source(NAME),
            questions=generic_questions(header),
            header=header,
            sample=sample,
            known=mapping.answers(),
        )
    table = _read(sniff, ctx, header_at)
    columns = Columns(table.header)

    def cell(name: str) -> Expr:
        if name in mapping.constants:
            return lit(mapping.constants[name])
        return columns(cols[name]) if name in cols else NULL

    location = E("coalesce(nullif(trim({}), ''), ctx.location)", cell("location_id"))
    zone = location_zone(ctx, location, lit(mapping.timezone))
    moment = _Moments.of(mapping, zone, location)
    if mapping.outcome_status is not None and "start" not in mapping.outcome_match:
        moment.date_only = DATE_ONLY_KEEP  # an outcome row's day is matched, never stored
    canonical = {name: cell(name) for name in ("location_id", "room_id", "therapist_id", "service")}
    canonical["uses_bars"] = cell("uses_bars")
    canonical["price"] = _price(mapping, cell("price"))
    canonical["status"] = cell("status")
    # the booking system's own client id or code, kept as it is (never a name, email or phone:
    # build_bookings drops those); the same column may be client_id too
    canonical["client_ref"] = cell("client_ref")
    if mapping.given("start_at"):
        start_text = cell("start_at")
    else:
        # a workbook's date cell reads as its date, and a time cell holding a whole
        # date-time as that date-time (common.date_and_time)
        start_text = E(
            "case when nullif(trim({}), '') is null then {} else {} end",
            cell("start_time"),
            cell_date(cell("start_date")),
            date_and_time(cell("start_date"), cell("start_time")),
        )
    _check_day_month_order(ctx, table, mapping, start_text)
    canonical["start_at"] = moment(start_text, "start", start=True)
    if mapping.given("end_at") and mapping.given("start_date"):
        # an end column of times only (`10:30`) beside a date column is the end on that date,
        # as [columns] end_time says
        end_text = E(
            "case when regexp_full_match(trim({}), {}) then {} else {} end",
            cell("end_at"),
            P(r"[0-9]{1,2}[:.][0-9]{2}(:[0-9]{2})?\s*([AaPp]\.?[Mm]\.?)?"),
            date_and_time(cell("start_date"), cell("end_at")),
            cell("end_at"),
        )
        canonical["end_at"] = moment(end_text, "end")
    elif mapping.given("end_at"):
        canonical["end_at"] = moment(cell("end_at"), "end")
    elif mapping.given("end_time") and mapping.given("start_date"):
        end_text = date_and_time(cell("start_date"), cell("end_time"))
        canonical["end_at"] = moment(end_text, "end")
    canonical["duration_minutes"] = minutes_text(cell("duration_minutes"))
    for name in ("created_at", "cancelled_at"):
        # (not given: no column, which `studio-ops inspect` says, rather than the location
        # column the time zone's lookup reads)
        canonical[name] = moment(cell(name), name) if mapping.given(name) else NULL
    client = client_cells(
        columns,
        email=cols.get("client_email", ()),
        phone=cols.get("client_phone", ()),
        name=cols.get("client_name", ()),
        first_last=(cols["client_first_name"], cols["client_last_name"])
        if "client_first_name" in cols and "client_last_name" in cols
        else None,
    )
    key = None
    if "client_id" in cols:
        # a client code: hashed like a name, and only ever one client within its source (two
        # systems both have a client 1001); an email or a phone, when given too, comes first
        code = columns(cols["client_id"])
        code_key = E(
            "'" + pii.KEY_PREFIX + "' || left(sha256(ctx.salt || 'i:' || ctx.source || ':' || "
            "lower(nullif(trim({}), ''))), " + str(pii.KEY_HEX) + ")",
            code,
        )
        key = E(
            "coalesce({}, {}, {})",
            pii.client_key_sql(client.email, client.phone, NULL),
            code_key,
            pii.client_key_sql(NULL, NULL, client.name),
        )
        # a walk-in with a client code is that client
        if client.walk_in is not NULL:
            client.walk_in = E("({}) and nullif(trim({}), '') is null", client.walk_in, code)
        code_at = columns.index(cols["client_id"])
        client.positions = (*client.positions, *(() if code_at is None else (code_at,)))
    if not mapping.given("booking_id"):
        canonical["booking_id"] = derived_id(
            location, Expr("t._client"), canonical["start_at"], cell("therapist_id"),
            cell("service"),
        )  # fmt: skip
    else:
        canonical["booking_id"] = cell("booking_id")
    if mapping.outcome_status is not None:  # matched to stored bookings by pipelines.ingest.load
        canonical["status"] = lit(mapping.outcome_status)
        canonical["booking_id"] = cell("booking_id")
    _install_quoting(ctx)
    rows = build_bookings(
        ctx,
        table,
        canonical,
        client,
        vendor="mapped",
        format_name=f"mapped-{sniff.container}",
        statuses={},
        client_key=key,
        # a [locations] table says the location column holds display names: each resolves to
        # its id as a booking system's Location column does; an unknown one is rejected
        location_names=bool(mapping.locations) and "location_id" in cols,
        **_pseudo_staff(ctx, mapping, cell("therapist_id")),
    )
    _move_problem_rows(ctx, rows)
    if mapping.outcome_status is not None:
        rows.outcome = {
            "status": mapping.outcome_status,
            "match": list(mapping.outcome_match),
            "source": mapping.outcome_source,
        }
    return rows


# A price written with a decimal comma: `1.234,50 €`, `95,50`, `1 234,50` (a point, a space, a
# no-break space or an apostrophe between thousands), a currency sign or code around it.
_COMMA_PRICE = (
    "^[^0-9-]*(-?[0-9]{1,3}([. \u00a0\u202f'][0-9]{3})+(,[0-9]+)?|-?[0-9]+(,[0-9]+)?)[^0-9]*$"
)


def comma_price(text: Expr) -> Expr:
    """`1.234,50 €` -> `1234.50` (a price written with a decimal comma); NULL for a cell not
    written so. Fresha's accounts with [formats] decimal use it too."""
    t = E("nullif(trim({}), '')", text)
    return E(
        "case when regexp_full_match({}, {}) then "
        "replace(regexp_replace(regexp_extract({}, {}, 1), {}, '', 'g'), ',', '.') end",
        t,
        P(_COMMA_PRICE),
        t,
        P(_COMMA_PRICE),
        P("[. \u00a0\u202f']"),
    )


def _price(mapping: Mapping, price: Expr) -> Expr:
    """The price cell for the validator: with `[formats] decimal = ","`, `1.234,50 €` becomes
    1234.50 and a cell written otherwise is rejected naming the setting; without it, a cell
    the validator would refuse as a decimal comma is rejected with the line that fixes it."""
    t = E("nullif(trim({}), '')", price)
    where = f"mapping file {mapping.path}" if mapping.path else "the mapping"
    if mapping.decimal == ",":
        return E(
            "case when {} is null then null else coalesce({}, "
            "{} || 'price ' || quoted_cell({}) || {}) end",
            t,
            comma_price(t),
            P(PROBLEM),
            t,
            P(f" is not a price with a decimal comma, as [formats] decimal in {where} says"),
        )
    digits = E(
        "regexp_replace(regexp_replace({}, '[^0-9.,\\-]', '', 'g'), ',([0-9]{3})', '\\1', 'g')",
        t,
    )
    return E(
        "case when {} like '%,%' then {} || 'price ' || quoted_cell({}) || {} else {} end",
        digits,
        P(PROBLEM),
        t,
        P(f' has a decimal comma: add [formats] decimal = "," to {where}'),
        t,
    )


def _swapped(fmt: str) -> str:
    """A format with its day and month swapped: `%m/%d/%Y` -> `%d/%m/%Y`."""
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _check_day_month_order(ctx: Context, table, mapping: Mapping, start_text: Expr) -> None:
    """Refuse the file when a start that [formats] datetime cannot read is read with its day
    and month swapped (`13/03/2026` under `%m/%d/%Y`): the file writes the other order, so the
    rows the format does read (`02/03/2026`) would load on the wrong day. Never guessed: the
    studio corrects the format, and nothing loads until then."""
    formats = with_times(mapping.datetime_formats)
    own = [f for f in formats if "%d" in f and "%m" in f]
    if not own:
        return
    t = E("nullif(trim({}), '')", start_text)
    found = ctx.con.execute(
        *_params(
            E(
                "select t.line_number, {} from " + table.name + " as t "
                "where try_strptime({}, {}) is null and try_strptime({}, {}) is not null "
                "order by t.line_number limit 1",
                t,
                t,
                P(formats),
                t,
                P([_swapped(f) for f in own]),
            )
        )
    ).fetchone()
    if found:
        line, written = found
        where = f"mapping file {mapping.path}" if mapping.path else "the mapping"
        raise ExportError(
            f"line {line}: start {written!r} is written {_order(_swapped(own[0]))}, but "
            f"[formats] datetime {own[0]!r} in {where} reads {_order(own[0])}: fix it to "
            f"{_swapped(own[0])!r}, or the other rows would load with day and month swapped"
        )


def _order(fmt: str) -> str:
    return "day first" if fmt.index("%d") < fmt.index("%m") else "month first"


def _params(expr: Expr) -> tuple[str, list]:
    return expr.sql, list(expr.params)


def _pseudo_staff(ctx: Context, mapping: Mapping, therapist: Expr) -> dict:
    """[therapists] ignore: rows of pseudo-staff ("HOUSE") are not a therapist's bookings;
    they are skipped and counted by the name as written (case and spaces ignored)."""
    if not mapping.ignore_therapists:
        return {}
    ctx.con.execute("create or replace temp table mapped_ignored (name varchar)")
    ctx.con.executemany(
        "insert into mapped_ignored values (?)",
        [(" ".join(n.split()).lower(),) for n in mapping.ignore_therapists],
    )
    folded = E("lower(regexp_replace(trim({}), '\\s+', ' ', 'g'))", therapist)
    return {
        "skip": E(
            "case when {} in (select name from mapped_ignored) then trim({}) end",
            folded,
            therapist,
        ),
        "skip_why": "pseudo-staff in [therapists] ignore, not bookings",
    }


def _install_quoting(ctx: Context) -> None:
    # a cell quoted in a reason, as the validator quotes (its macro is installed later)
    ctx.con.execute(
        "create or replace temp macro quoted_cell(x) as chr(39) || left(x, 60) || chr(39)"
    )


def _move_problem_rows(ctx: Context, rows) -> None:
    """Rows whose date-time cell carries a PROBLEM become rejected rows with that reason
    (rows_read already counts them)."""
    fields = ("start_at", "end_at", "created_at", "cancelled_at", "price")
    marked = " or ".join(f"starts_with({f}, chr(1))" for f in fields)
    reason = (
        "ltrim(coalesce("
        + ", ".join(f"case when starts_with({f}, chr(1)) then {f} end" for f in fields)
        + "), chr(1))"
    )
    found = ctx.con.execute(
        f"select line_number, {reason}, raw_row from {ctx.target} where {marked} "
        "order by line_number"
    ).fetchall()
    if found:
        ctx.con.execute(f"delete from {ctx.target} where {marked}")
        rows.rejects.extend(found)
        rows.rejects.sort(key=lambda r: r[0])


def _read(sniff: Sniff, ctx: Context, header_at: int):
    if header_at == 0:
        return read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    return read_below_header(sniff, ctx, header_at)


# --- what a generic mapping still lacks, as questions ------------------------------------------

# A booking export names at least a booking, its start, end, therapist, service, status and
# client: a table with fewer columns is not one, and gets no questions.
MIN_COLUMNS = 7
SAMPLE_ROWS = 5  # rows of the file the Data page shows under its questions
# Date-time formats the Data page offers (any strptime format works in a hand-written file).
DATETIME_CHOICES = {
    "%d/%m/%Y %H:%M": "31/12/2026 14:30 (day first)",
    "%m/%d/%Y %H:%M": "12/31/2026 14:30 (month first)",
    "%m/%d/%Y %I:%M %p": "12/31/2026 2:30 PM (month first, AM/PM)",
    "%d/%m/%Y %I:%M %p": "31/12/2026 2:30 PM (day first, AM/PM)",
    "%d.%m.%Y %H:%M": "31.12.2026 14:30",
    "%Y-%m-%d %H:%M": "2026-12-31 14:30",
    "%d-%m-%Y %H:%M": "31-12-2026 14:30",
}


def _is_iso(text: str) -> bool:
    from datetime import date, datetime

    text = text.strip()
    for parse in (datetime.fromisoformat, date.fromisoformat):
        try:
            parse(text)
            return True
        except ValueError:
            pass
    return False


def missing_fields(
    mapping: Mapping, location: str | None, header: list[str], sample: list[list[str]]
) -> list[str]:
    """What a generic mapping lacks, all of it (missing_line makes it one message). A
    booking id is not needed (derived_id), nor [formats] when the file's dates are ISO."""
    lacking = []
    if not (mapping.given("start_at") or mapping.given("start_date")):
        lacking.append("[columns] start_at (or start_date and start_time)")
    if not (
        mapping.given("end_at")
        or (mapping.given("end_time") and mapping.given("start_date"))
        or mapping.given("duration_minutes")
    ):
        lacking.append("[columns] end_at, end_time or duration_minutes (or [constants])")
    for name in ("therapist_id", "service", "status"):
        if not mapping.given(name):
            lacking.append(f"[columns] {name} (or [constants] {name})")
    if not any(c in mapping.columns for c in ("client_email", "client_phone", "client_name")) and (
        "client_id" not in mapping.columns
        and not ("client_first_name" in mapping.columns and "client_last_name" in mapping.columns)
    ):
        lacking.append("[columns] client_name, client_email, client_phone or client_id")
    if not mapping.given("location_id") and not location:
        lacking.append('[source] location = "L01" (or --location LOC)')
    if not mapping.datetime_formats:
        # ISO needs no [formats]; anything else is never guessed
        columns = Columns(header)
        written = []
        for row in sample[:1]:
            for name in ("start_at", "start_date"):
                at = columns.index(mapping.columns[name]) if name in mapping.columns else None
                if at is not None and at < len(row) and row[at].strip():
                    written.append(row[at].strip())
        if written and not all(_is_iso(w) for w in written):
            lacking.append(
                f'[formats] datetime = "%d/%m/%Y %H:%M" (strptime codes: how {written[0]!r} is '
                "written)"
            )
    if mapping.outcome_status is not None:
        lacking = _outcome_lacking(mapping, lacking)
    return lacking


def _outcome_lacking(mapping: Mapping, lacking: list[str]) -> list[str]:
    """An outcome report needs no end or status (its [outcome] status is set), and a
    therapist or service only when it matches on them; every match field needs its column."""
    needless = ["[columns] end_at", "[columns] status"]
    needless += [
        f"[columns] {name}"
        for match, name in (("therapist", "therapist_id"), ("service", "service"))
        if match not in mapping.outcome_match
    ]
    if not {"date", "start"} & set(mapping.outcome_match):
        needless.append("[columns] start_at")
    if "client" not in mapping.outcome_match:
        needless.append("[columns] client_name")
    kept = [item for item in lacking if not item.startswith(tuple(needless))]
    for match, name in (("room", "room_id"), ("booking_id", "booking_id")):
        if match in mapping.outcome_match and not mapping.given(name):
            kept.append(f"[columns] {name} ([outcome] match names {match})")
    if "start" in mapping.outcome_match and not (
        mapping.given("start_at") or mapping.given("start_time")
    ):
        kept.append("[columns] start_time ([outcome] match names start, a time of day)")
    return kept


def missing_line(lacking: list[str], path: Path | None = None) -> str:
    """Every missing field in one line, naming the mapping file when there is one."""
    if path is not None:
        return f"mapped export: the mapping file {path} lacks " + "; ".join(lacking)
    return (
        "mapped export: the mapping lacks "
        + "; ".join(lacking)
        + ": add them to the mapping file (--mapping)"
    )


def _column(field_name: str, prompt: str, help_: str = "", required: bool = True, **kw):
    return Question(f"columns.{field_name}", prompt, help_, required=required, **kw)


def generic_questions(header: list[str]) -> list[Question]:
    """What a mapping of another booking system's export says, as questions; a column
    question's answers are the file's column headers."""
    choices = tuple(h for h in header if h)
    none = {"columns.location_id": ("",)}
    return [
        Question(
            "source.name",
            "A short name for this booking system",
            "Letters, digits, '-' and '_' only, e.g. salonbook. It keeps its booking ids apart "
            "from other systems' and names the saved mapping.",
        ),
        _column(
            "booking_id", "Which column holds the booking (appointment) number?", choices=choices
        ),
        _column(
            "start_at",
            "Which column holds the start: the date and time, or the date only?",
            choices=choices,
        ),
        _column(
            "start_time",
            "Which column holds the start time, if it has its own column?",
            "Leave empty when the start column above holds the time too.",
            required=False,
            choices=choices,
        ),
        _column(
            "end_at",
            "Which column holds the end (date and time, or the time only)?",
            "Leave empty when the export gives a duration instead.",
            required=False,
            choices=choices,
        ),
        _column(
            "duration_minutes",
            "Which column holds the duration?",
            'Minutes ("90"), or "1h 30m"; leave empty when the export gives the end.',
            required=False,
            choices=choices,
        ),
        Question(
            "formats.datetime",
            "How are its dates and times written?",
            "Check the preview below: a wrong choice shows as rejected rows.",
            choices=tuple(DATETIME_CHOICES),
        ),
        _column("therapist_id", "Which column names the therapist?", choices=choices),
        _column("service", "Which column names the service (treatment)?", choices=choices),
        _column(
            "status",
            "Which column holds the booking's status?",
            "Words such as Completed, Booked, No show, Cancelled.",
            choices=choices,
        ),
        _column(
            "client_name",
            "Which column holds the client's name?",
            "Client details are never stored: they become a private key. Give the name, the "
            "email or the phone (at least one).",
            required=False,
            choices=choices,
        ),
        _column(
            "client_email",
            "Which column holds the client's email?",
            required=False,
            choices=choices,
        ),
        _column(
            "client_phone",
            "Which column holds the client's phone?",
            required=False,
            choices=choices,
        ),
        _column("price", "Which column holds the price?", required=False, choices=choices),
        _column("room_id", "Which column names the room?", required=False, choices=choices),
        _column(
            "location_id",
            "Which column names the location?",
            "Leave empty when the whole export is from one location.",
            required=False,
            choices=choices,
        ),
        location_question("other booking system's", none),
    ]


def columns_needed(message: str, path: Path, header: list[str], limits) -> ExportError:
    """A table whose header no format knows: a MappingNeeded asking for a generic mapping
    (CSV and .xlsx only, the containers the generic adapter reads), else the plain line."""
    found = sniff_file(path, limits)
    if found.container not in ("csv", "xlsx") or len([h for h in header if h]) < MIN_COLUMNS:
        return ExportError(message)
    if _closest_kind_shares_nothing(header):
        # "closest is locations, which also needs location_id, name" would mislead: the
        # table has none of the required columns of the kind it is closest to; a booking
        # system's table (also one whose headers are not in English) loads through a mapping
        message = (
            "the header matches no known export: a booking system's appointments the loader "
            "does not know (or whose headers are not in English) load through a mapping that "
            "names their columns (the Data page asks for them; studio-ops inspect FILE "
            "--write-mapping mapping.toml drafts one)"
        )
    return MappingNeeded(
        message,
        vendor=NAME,
        source=NAME,
        questions=generic_questions(header),
        header=header,
        sample=found.rows[1 : 1 + SAMPLE_ROWS],
    )


def _closest_kind_shares_nothing(header: list[str]) -> bool:
    """Whether the native kind the header is closest to (native.closest_kind_hint's choice:
    the fewest required columns lacking) has none of its required columns in the header."""
    best, best_lacking = None, None
    for kind in KINDS.values():
        present = native.column_positions(header, kind)
        lacking = [c for c in kind.required if c not in present]
        if kind.one_of and not any(c in present for c in kind.one_of):
            lacking.append(" or ".join(kind.one_of))
        if best_lacking is None or len(lacking) < len(best_lacking):
            best, best_lacking = kind, lacking
    return best is not None and not set(native.column_positions(header, best)) & set(best.required)


def unfit_mapping(mappings: list[Mapping], sniffed: Sniff) -> ExportError | None:
    """A table no format knows, given generic mappings ([columns]) none of which fits it: the
    columns each names that the header lacks, with the mapping file's line and the header's
    nearest column, so the studio can correct the name (never "matches no known export",
    which would not say the mapping was passed over). None when no generic mapping was given."""
    from difflib import get_close_matches

    from pipelines.canonical import normalise

    generic = [m for m in mappings if m is not None and m.columns]
    if not generic or sniffed.container not in ("csv", "xlsx") or not sniffed.rows:
        return None
    problems: list[str] = []
    for mapping in generic:
        named = {normalise(c) for c in mapping.columns.values()}

        def shared(row: list[str], named: set[str] = named) -> int:
            return len({normalise(c) for c in row if c} & named)

        # the row most like the header the mapping was written for (a preamble may sit above)
        row = max(sniffed.rows[:10], key=shared)
        have = {normalise(c): c for c in row if c}
        text = mapping.path.read_text(encoding="utf-8-sig") if mapping.path else ""
        where = f"mapping file {mapping.path}" if mapping.path else "the mapping"
        if not shared(row):
            # nothing in common: show the header as read (another export, or another layout)
            shown = ", ".join(repr(c) for c in row[:6] if c) + (", ..." if len(row) > 6 else "")
            problems.append(
                f"{where}: none of the {len(mapping.columns)} columns its [columns] names is "
                f"in this file, whose header reads {shown}"
            )
            continue
        for field_name, column in mapping.columns.items():
            if normalise(column) in have:
                continue
            line = key_line(text, "columns", field_name)
            near = get_close_matches(column, [c for c in row if c], n=1, cutoff=0.6)
            problems.append(
                f"{where}{f' line {line}' if line else ''}: [columns] {field_name} = "
                f"{column!r} is not a column of this file"
                + (f" (it has {near[0]!r})" if near else "")
            )
    return ExportError("; ".join(problems) + ": name the columns as the file's header writes them")


# --- the mappings folder beside the warehouse ---------------------------------------------------

MAPPINGS_FOLDER = "mappings"


def mappings_folder(db: Path | str) -> Path:
    """`mappings/` beside the warehouse: one mapping file per source, named after it."""
    return Path(db).parent / MAPPINGS_FOLDER


def saved_for(folder: Path, vendor: str) -> list[Path]:
    """Saved mapping files of a vendor: `<vendor>.toml` or `<vendor>-<account>.toml`."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.glob("*.toml")
        if p.is_file() and (p.stem == vendor or p.stem.startswith(vendor + "-"))
    )


def saved_mapping(folder: Path, vendor: str | None, sniffed: Sniff) -> Mapping | None:
    """The saved mapping for a file: the vendor's when the file is a vendor export, else (a
    table no format knows) the generic mapping whose columns its header holds. None when the
    folder has none; ExportError when several fit (the load cannot choose)."""
    if vendor is not None:
        found = [load_mapping(p) for p in saved_for(folder, vendor)]
    else:
        found = [m for m in map(load_mapping, saved_for(folder, NAME)) if detect(sniffed, m)]
    if len(found) > 1:
        names = ", ".join(m.path.name for m in found if m.path)
        raise ExportError(
            f"several saved mappings in {folder} fit this file ({names}): pass the one to use "
            "with --mapping, or remove the others"
        )
    return found[0] if found else None


# Sections that say which booking system a mapping is for.
VENDOR_SECTIONS = {"acuity": "acuity", "fresha": "fresha", "ics": "ics"}


def mapping_files(paths: list[Path]) -> list[Path]:
    """The mapping files `--mapping` names: files as given, and the .toml files in folders."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.glob("*.toml") if p.is_file())
            if not found:
                raise ExportError(f"mapping folder {path}: holds no mapping file (.toml)")
            files.extend(found)
        else:
            files.append(path)
    return files


def choose_mapping(mappings: list[Mapping], sniffed: Sniff, vendor: str | None) -> Mapping | None:
    """Of several mappings, the one for this file: for a booking system's export (`vendor`),
    the one with that system's section, else the only one without [columns] or a system's
    section; for any other table, the generic mapping whose [columns] its header holds. None
    when none fits; ExportError naming them when several do."""
    if len(mappings) == 1:
        return mappings[0]  # one mapping applies to every file, as it always has
    if vendor is not None:
        found = [m for m in mappings if vendor in m.sections and vendor in VENDOR_SECTIONS]
        if not found:
            found = [
                m for m in mappings if not m.columns and not (m.sections & set(VENDOR_SECTIONS))
            ]
    else:
        found = [m for m in mappings if detect(sniffed, m)]
    if len(found) > 1:
        names = ", ".join(m.path.name if m.path else "?" for m in found)
        raise ExportError(
            f"several mappings given fit this file ({names}): give each file its own, or "
            "make their [columns] tell the files apart"
        )
    return found[0] if found else None


class AnswerError(ValueError):
    """An answer on the Data page that cannot be saved; the message is one line."""


def answers_to_data(need: MappingNeeded, answers: dict[str, str]) -> dict[str, dict]:
    """The mapping file's content (TOML tables) from what the mapping knew and the answers."""
    given = {**need.known, **{k: v.strip() for k, v in answers.items() if v and v.strip()}}
    missing = [
        q.prompt for q in need.questions if q.required and q.applies(given) and not given.get(q.key)
    ]
    if missing:
        raise AnswerError(f"Please answer: {missing[0]}")
    if need.vendor == NAME and not any(
        given.get(f"columns.{c}") for c in ("client_name", "client_email", "client_phone")
    ):
        raise AnswerError("Please say which column holds the client's name, email or phone")
    if need.vendor == NAME and not (
        given.get("columns.end_at") or given.get("columns.duration_minutes")
    ):
        raise AnswerError("Please say which column holds the end, or the duration")
    if given.get("columns.start_time"):
        # two columns: the first holds the date only, and an end column the time only
        given["columns.start_date"] = given.pop("columns.start_at")
        if "columns.end_at" in given:
            given["columns.end_time"] = given.pop("columns.end_at")
    name = given.get("source.name") or need.vendor
    if need.vendor == NAME and not name.startswith(NAME + "-") and name != NAME:
        name = f"{NAME}-{name}"
    given["source.name"] = name
    data: dict[str, dict] = {}
    for key, value in given.items():
        section, _, item = key.partition(".")
        if key == "formats.datetime":  # a list (several formats); decimal is one mark
            value = [value]
        elif key == "fresha.rooms":  # the Data page's choices, one a line
            value = [v.strip() for v in value.splitlines() if v.strip()]
        data.setdefault(section, {})[item] = value
    # what Question.only_if leaves out is not written (a location for a location calendar)
    for q in need.questions:
        if not q.applies(given):
            section, _, item = q.key.partition(".")
            data.get(section, {}).pop(item, None)
    return data


def to_toml(data: dict[str, dict]) -> str:
    """A mapping file's text (tables of strings, lists of strings and string tables)."""

    def value(v) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else value(k)

    order = ["source", *sorted(k for k in data if k != "source")]
    lines = ["# Saved by the Data page; edit it, or remove it to be asked again."]
    for section in order:
        if section in data and data[section]:
            lines.append(f"[{section}]")
            lines.extend(f"{key(k)} = {value(v)}" for k, v in data[section].items())
    return "\n".join(lines) + "\n"


def save_answers(
    folder: Path,
    need: MappingNeeded,
    answers: dict[str, str],
    allowed_locations=None,
) -> Path:
    """Write the answers as `folder/<source>.toml` (atomically) and return its path.

    An existing file of that name keeps what it says; the answers add to it. A manager's
    location answer must be one of their locations (`allowed_locations`; None: any)."""
    data = answers_to_data(need, answers)
    location = data.get("source", {}).get("location")
    if location and allowed_locations is not None and location not in set(allowed_locations):
        raise AnswerError(
            f"{location} is not one of your locations ({', '.join(sorted(allowed_locations))})"
        )
    name = data["source"]["name"]
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise AnswerError(f"the name {name!r} may hold letters, digits, '.', '_' and '-' only")
    path = folder / f"{name}.toml"
    if path.exists():
        old = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        for section, items in data.items():
            old.setdefault(section, {}).update(items)
        data = old
    text = to_toml(data)
    folder.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    part.write_text(text, encoding="utf-8")
    try:
        load_mapping(part)  # a file that would not load is never saved
    except ExportError as error:
        part.unlink(missing_ok=True)
        raise AnswerError(str(error).replace(str(part), path.name)) from None
    part.replace(path)
    return path
