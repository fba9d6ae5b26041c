"""Calendars (ICS, RFC 5545): Google Calendar and any other calendar export.

Recognised by content (`BEGIN:VCALENDAR`). Lines folded at 75 octets are unfolded; each VEVENT
is one appointment, a recurring one (RRULE, minus EXDATE) one per occurrence, and an event with
the same UID and a RECURRENCE-ID replaces that occurrence (moved, or STATUS:CANCELLED).

Times become the wall-clock time of the calendar's zone: `X-WR-TIMEZONE` when present, else the
event's own `TZID`; UTC times (`Z`) need one of them or [ics] timezone in the mapping; floating
times are taken as they are. All-day events are not appointments and are rejected with a reason.

Client and service sit in free text (SUMMARY): the mapping's [ics] summary regular expression
with named groups `service`, `client` (and optionally `therapist`, `status`) reads them; the
default pattern is "Service - Client" (also with `–`, `:` or `|`). Patterns run on RE2, whose
time is linear in the text (Python's `re` backtracks: hours on a 20 KB SUMMARY), and each
distinct SUMMARY is matched once. The therapist is the pattern's `therapist` group, else
[ics] therapist, else the calendar's name (X-WR-CALNAME). What LOCATION means is
[ics] location_is (room | location | ignore, the default).

Repeating events are expanded only inside the load's window (settings calendar_days_back and
calendar_days_ahead around the load day) and never more often than once a minute; one event
gives at most calendar_max_per_event occurrences and a file at most calendar_max_per_file
appointments. A rule that never matches is given up after a bounded number of candidate dates
(20 x calendar_max_per_event per event, 10 x calendar_max_per_file per file): dateutil would
otherwise look for it until the year 9999. An event over its limits is a rejected row; a file
over its limits is not loaded.

Status: STATUS:CANCELLED -> cancelled; otherwise an occurrence on a day before the load day is
completed (a calendar cannot record a no-show) and one on the load day or later is booked,
unless the pattern's `status` group gives a word. Booking ids: UID, plus the occurrence's
original start for recurring events (the RECURRENCE-ID), stable across re-exports.
Client details (the SUMMARY's client, ATTENDEE emails) are never stored: the client becomes the
hash key and the SUMMARY is not kept.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2

from pipelines.formats.common import (
    Columns,
    Context,
    Sniff,
    build_bookings,
    client_cells,
    table_from_records,
)
from pipelines.formats.tabular import ExportError
from pipelines.settings import Settings

NAME = "ics"
# "Service - Client" (or –, —, :, |), spaces around trimmed; \p{Z} keeps Unicode spaces (RE2's
# \s is ASCII only).
DEFAULT_SUMMARY = (
    r"^[\s\p{Z}]*(?P<service>.+?)[\s\p{Z}]+[-–—:|][\s\p{Z}]+(?P<client>.+?)[\s\p{Z}]*$"
)
MIN_GAP = timedelta(minutes=1)  # occurrences closer than this are refused
EVENT_STEPS_PER_OCCURRENCE = 20  # candidate dates an event may examine, per allowed occurrence
FILE_STEPS_PER_APPOINTMENT = 10  # candidate dates a file may examine, per allowed appointment
HEADER = [
    "booking_id",
    "start_at",
    "end_at",
    "client",
    "service",
    "therapist",
    "room",
    "location",
    "status",
    "created_at",
]
STATUSES = {"CANCELLED": "cancelled", "CONFIRMED": "booked", "TENTATIVE": "booked"}
_DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def detect(sniff: Sniff, mapping) -> bool:
    return sniff.container == "ics"


def summary_pattern(text: str | None):
    """[ics] summary (else the default) compiled by RE2: linear time whatever the pattern or
    the text. re2.error when RE2 cannot run it (backreferences, lookaround)."""
    options = re2.Options()
    options.log_errors = False  # the error is reported once, in the one-line message
    return re2.compile(text or DEFAULT_SUMMARY, options)


def _shown(rule: str) -> str:
    return rule if len(rule) <= 80 else rule[:77] + "..."


class _Steps:
    """The candidate dates dateutil examines while expanding a file's repeating events.

    A rule that never matches (30 February) yields nothing, and dateutil keeps looking until
    the year 9999; no bound on the occurrences taken can stop it. So every candidate date
    counts here (see _Counted) and the expansion is given up past the event's or the file's
    budget.
    """

    def __init__(self, limits: Settings) -> None:
        self.event_limit = EVENT_STEPS_PER_OCCURRENCE * limits.calendar_max_per_event
        self.file_limit = FILE_STEPS_PER_APPOINTMENT * limits.calendar_max_per_file
        self.event = self.file = 0
        self.rule = self.line = None

    def start(self, rule: str, line: int) -> None:
        self.event, self.rule, self.line = 0, rule, line

    def __call__(self) -> None:
        self.event += 1
        self.file += 1
        if self.file > self.file_limit:
            raise ExportError(
                f"line {self.line}: expanding the calendar's repeating events took more than "
                f"{self.file_limit:,} candidate dates, the limit for one file "
                f"({FILE_STEPS_PER_APPOINTMENT} x calendar_max_per_file; that setting raises it)"
            )
        if self.event > self.event_limit:
            raise ValueError(
                f"RRULE '{_shown(self.rule)}' was given up after {self.event_limit:,} candidate "
                f"dates: it never or rarely matches ({EVENT_STEPS_PER_OCCURRENCE} x "
                "calendar_max_per_event; that setting raises it)"
            )


class _Counted(tuple):
    """A stand-in for a dateutil rrule's BYMONTH values that counts each candidate date.

    rrule._iter tests `bymonth and ...` once for every day of every period it examines, and
    rebuild() only reads it; as a tuple with the same values it filters exactly as before.
    """

    def __new__(cls, values, step):
        counted = super().__new__(cls, values or ())
        counted.step = step
        return counted

    def __bool__(self) -> bool:
        self.step()
        return len(self) > 0


class _Prop:
    __slots__ = ("name", "params", "value", "line")

    def __init__(self, name: str, params: dict[str, str], value: str, line: int) -> None:
        self.name, self.params, self.value, self.line = name, params, value, line


def _content_lines(text: str) -> list[tuple[int, str]]:
    """Unfolded content lines with the line number each starts on."""
    # Pieces are joined once per line: adding each folded piece to the line so far copies it
    # every time (quadratic for a line folded thousands of times).
    lines: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1][1].append(raw[1:])
        elif raw.strip():
            lines.append((number, [raw]))
    return [(number, "".join(pieces)) for number, pieces in lines]


def _parse_line(number: int, line: str) -> _Prop | None:
    # NAME;PARAM=value;PARAM="quoted:value":VALUE; the first colon outside quotes ends params.
    in_quotes, split = False, None
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            split = index
            break
    if split is None:
        return None
    head, value = line[:split], line[split + 1 :]
    parts = re.findall(r'(?:[^;"]|"[^"]*")+', head)
    name = parts[0].upper() if parts else ""
    params = {}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        params[key.upper()] = val.strip('"')
    return _Prop(name, params, value, number)


def _text(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


class _Calendar:
    def __init__(self, text: str) -> None:
        self.props: dict[str, str] = {}
        self.events: list[dict[str, list[_Prop]]] = []
        stack: list[str] = []
        event: dict[str, list[_Prop]] | None = None
        for number, line in _content_lines(text):
            prop = _parse_line(number, line)
            if prop is None:
                continue
            if prop.name == "BEGIN":
                stack.append(prop.value.upper())
                if prop.value.upper() == "VEVENT":
                    event = {"_line": [prop]}
                continue
            if prop.name == "END":
                if stack and stack[-1] == prop.value.upper():
                    stack.pop()
                if prop.value.upper() == "VEVENT" and event is not None:
                    self.events.append(event)
                    event = None
                continue
            if stack == ["VCALENDAR"]:
                self.props.setdefault(prop.name, _text(prop.value))
            elif event is not None and stack[-1:] == ["VEVENT"]:
                event.setdefault(prop.name, []).append(prop)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip().strip("/"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}'") from None


def _moment(prop: _Prop) -> datetime | date:
    """A DATE or DATE-TIME value: a date, an aware datetime (UTC or TZID) or a naive one."""
    value = prop.value.strip().split(",")[0]
    if prop.params.get("VALUE", "").upper() == "DATE" or re.fullmatch(r"\d{8}", value):
        return datetime.strptime(value, "%Y%m%d").date()
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    moment = datetime.strptime(value, "%Y%m%dT%H%M%S")
    if "TZID" in prop.params:
        moment = moment.replace(tzinfo=_zone(prop.params["TZID"]))
    return moment


def _moments(prop: _Prop) -> list[datetime | date]:
    values = [v for v in prop.value.split(",") if v.strip()]
    return [_moment(_Prop(prop.name, prop.params, v, prop.line)) for v in values]


def _duration(value: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"DURATION '{value}' is not an RFC 5545 duration")
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "sign"}
    delta = timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )
    return -delta if match.group("sign") == "-" else delta


def _key(moment: datetime) -> str:
    """An occurrence's identity: its instant in UTC (or wall-clock when floating)."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return moment.strftime("%Y%m%dT%H%M%S")


def read(sniff: Sniff, ctx: Context):
    text = sniff.path.read_bytes().decode("utf-8-sig", errors="replace")
    calendar = _Calendar(text)
    if not calendar.events:
        raise ExportError("the calendar has no events (VEVENT); nothing to load")
    mapping = ctx.mapping
    zone_name = calendar.props.get("X-WR-TIMEZONE") or (mapping.ics_timezone if mapping else None)
    try:
        target = _zone(zone_name) if zone_name else None
    except ValueError as error:
        raise ExportError(f"calendar: {error}") from None
    try:
        pattern = summary_pattern(mapping.ics_summary if mapping else None)
    except re2.error as error:
        raise ExportError(f"calendar: [ics] summary cannot be used ({re2_reason(error)})") from None
    therapist = (mapping.ics_therapist if mapping else None) or calendar.props.get("X-WR-CALNAME")
    if not therapist and "therapist" not in pattern.groupindex:
        raise ExportError(
            'calendar: say whose calendar this is: add [ics] therapist = "NAME" to the '
            "mapping file (--mapping), or a (?P<therapist>...) group to [ics] summary"
        )
    location_is = mapping.ics_location_is if mapping else "ignore"
    if location_is != "location":
        ctx.require_location("calendar (ICS)")
    limits = ctx.limits or Settings()
    today = date.today()
    # The load's window: repeating events give the occurrences that start on the days from
    # calendar_days_back before the load day to calendar_days_ahead after it.
    window = (
        datetime.combine(today - timedelta(days=limits.calendar_days_back), time.min),
        datetime.combine(today + timedelta(days=limits.calendar_days_ahead + 1), time.min),
    )
    steps = _Steps(limits)

    def local(moment: datetime) -> datetime:
        if moment.tzinfo is None:
            return moment
        if target is not None:
            return moment.astimezone(target).replace(tzinfo=None)
        if moment.tzinfo is UTC:
            raise ValueError(
                "UTC time and the calendar names no time zone: add [ics] timezone = "
                '"Area/City" to the mapping file'
            )
        return moment.replace(tzinfo=None)  # the event's own TZID wall-clock

    overrides: dict[tuple[str, str], dict] = {}
    masters: list[dict] = []
    for event in calendar.events:
        if "RECURRENCE-ID" in event:
            uid = event.get("UID", [None])[0]
            try:
                rid = _moment(event["RECURRENCE-ID"][0])
            except ValueError:
                masters.append(event)
                continue
            if uid is not None and isinstance(rid, datetime):
                overrides[(uid.value, _key(rid))] = event
                continue
        masters.append(event)

    records: list[list[object]] = []
    rejects: list[tuple[int, str, str]] = []
    used_overrides: set[tuple[str, str]] = set()
    matches: dict[str, dict[str, str | None] | None] = {}  # each distinct SUMMARY matched once

    def counted(line: int) -> None:
        """Stop the file once it holds more appointments than calendar_max_per_file."""
        if len(records) + len(rejects) > limits.calendar_max_per_file:
            raise ExportError(
                f"line {line}: the calendar holds more than {limits.calendar_max_per_file:,} "
                "appointments, the limit for one file (the calendar_max_per_file setting "
                "raises it)"
            )

    def raw(event: dict) -> str:
        """What identifies an event without client details: UID and DTSTART."""
        return ";".join(
            f"{name}:{event[name][0].value}" for name in ("UID", "DTSTART") if name in event
        )

    def emit(event: dict, booking_id: str, start: datetime, end: datetime) -> None:
        line = event["_line"][0].line
        summary = _text(event["SUMMARY"][0].value) if "SUMMARY" in event else ""
        if summary not in matches:
            match = pattern.match(summary)
            matches[summary] = match.groupdict() if match else None
        groups = matches[summary]
        if groups is None:
            rejects.append((line, "SUMMARY does not match the [ics] summary pattern", raw(event)))
            counted(line)
            return
        status = (event.get("STATUS", [None])[0].value.strip().upper()) if "STATUS" in event else ""
        if status == "CANCELLED":
            word = "CANCELLED"
        elif groups.get("status"):
            word = groups["status"]
        else:
            word = "completed" if start.date() < today else "booked"
        where = _text(event["LOCATION"][0].value).strip() if "LOCATION" in event else None
        created = None
        if "CREATED" in event:
            try:
                moment = _moment(event["CREATED"][0])
                if isinstance(moment, datetime):
                    created = local(moment).strftime("%Y-%m-%d %H:%M:%S")
            except ValueError:
                created = None
        records.append(
            [
                line,
                booking_id,
                start.strftime("%Y-%m-%d %H:%M:%S"),
                end.strftime("%Y-%m-%d %H:%M:%S"),
                (groups.get("client") or "").strip() or None,
                (groups.get("service") or "").strip() or None,
                (groups.get("therapist") or therapist or "").strip() or None,
                where if location_is == "room" else None,
                where if location_is == "location" else None,
                word,
                created,
            ]
        )
        counted(line)

    def span(event: dict, start: datetime | date) -> timedelta:
        if "DTEND" in event:
            return _moment(event["DTEND"][0]) - _moment(event["DTSTART"][0])
        if "DURATION" in event:
            return _duration(event["DURATION"][0].value)
        raise ValueError("the event has neither DTEND nor DURATION")

    for event in masters:
        line = event["_line"][0].line
        try:
            if "UID" not in event or "DTSTART" not in event:
                raise ValueError("the event has no UID or DTSTART")
            uid = event["UID"][0].value.strip()
            start = _moment(event["DTSTART"][0])
            if not isinstance(start, datetime):
                rejects.append((line, "an all-day event is not an appointment", raw(event)))
                counted(line)
                continue
            length = span(event, start)
            if "RECURRENCE-ID" in event:  # an override whose master is missing
                rid = _moment(event["RECURRENCE-ID"][0])
                emit(event, f"{uid}@{_key(rid)}", local(start), local(start + length))
                continue
            if "RRULE" not in event:
                emit(event, uid, local(start), local(start + length))
                continue
            occurrences = _expand(event, start, window, steps, limits)
        except ExportError:
            raise
        except (ValueError, TypeError, OverflowError) as error:
            rejects.append((line, f"event: {error}", raw(event)))
            counted(line)
            continue
        for occurrence in occurrences:
            key = (uid, _key(occurrence))
            booking_id = f"{uid}@{_key(occurrence)}"
            override = overrides.get(key)
            try:
                if override is not None:
                    used_overrides.add(key)
                    moved = _moment(override["DTSTART"][0]) if "DTSTART" in override else occurrence
                    moved_length = span(override, moved) if "DTSTART" in override else length
                    emit(override, booking_id, local(moved), local(moved + moved_length))
                else:
                    emit(event, booking_id, local(occurrence), local(occurrence + length))
            except ExportError:
                raise
            except (ValueError, TypeError, OverflowError) as error:
                rejects.append((line, f"event: {error}", raw(event)))
                counted(line)
    for key, event in overrides.items():
        if key in used_overrides:
            continue
        line = event["_line"][0].line
        try:
            start = _moment(event["DTSTART"][0])
            emit(event, f"{key[0]}@{key[1]}", local(start), local(start + span(event, start)))
        except ExportError:
            raise
        except (KeyError, ValueError, TypeError, OverflowError) as error:
            rejects.append((line, f"event: {error}", raw(event)))
            counted(line)

    table = table_from_records(ctx.con, f"{ctx.target}_vendor", HEADER, records)
    c = Columns(HEADER)
    columns = {
        "booking_id": c("booking_id"),
        "start_at": c("start_at"),
        "end_at": c("end_at"),
        "service": c("service"),
        "therapist_id": c("therapist"),
        "room_id": c("room"),
        "location_id": c("location"),
        "status": c("status"),
        "created_at": c("created_at"),
    }
    client = client_cells(c, name=("client",))
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name="ics",
        statuses=STATUSES,
        rows_read=len(records) + len(rejects),
        rejects=rejects,
    )


def re2_reason(error: Exception) -> str:
    """RE2's error text (bytes in the binding) as one line."""
    reason = error.args[0] if error.args else error
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", errors="replace")
    return " ".join(str(reason).split())


def _expand(
    event: dict,
    start: datetime,
    window: tuple[datetime, datetime],
    steps: _Steps,
    limits: Settings,
) -> list[datetime]:
    """The occurrences of a recurring event (RRULE, RDATE, minus EXDATE) inside the load's
    window, in its own zone; ValueError when the event breaks a limit."""
    from dateutil.rrule import rrule, rruleset, rrulestr

    steps.start(event["RRULE"][0].value, event["_line"][0].line)
    rules = rruleset()
    for prop in event["RRULE"]:
        value = prop.value
        frequency = re.search(r"(?:^|;)\s*FREQ\s*=\s*(\w+)", value, re.IGNORECASE)
        if frequency and frequency.group(1).upper() == "SECONDLY":
            raise ValueError(
                f"RRULE '{_shown(value)}' repeats more often than once a minute, the most a "
                "calendar event may"
            )
        if start.tzinfo is not None:
            # dateutil wants UNTIL in UTC when DTSTART is aware (RFC 5545 says the same).
            value = re.sub(
                r"UNTIL=(\d{8}T\d{6})(?!Z)",
                lambda m: (
                    "UNTIL="
                    + datetime.strptime(m.group(1), "%Y%m%dT%H%M%S")
                    .replace(tzinfo=start.tzinfo)
                    .astimezone(UTC)
                    .strftime("%Y%m%dT%H%M%SZ")
                ),
                value,
            )
            value = re.sub(r"UNTIL=(\d{8})(?=;|$)", r"UNTIL=\1T235959Z", value)
        try:
            rule = rrulestr(value, dtstart=start)
        except (ValueError, TypeError, OverflowError) as error:
            raise ValueError(f"RRULE '{_shown(prop.value)}' cannot be expanded ({error})") from None
        if not isinstance(rule, rrule):
            raise ValueError(f"RRULE '{_shown(prop.value)}' is not one rule")
        rule._bymonth = _Counted(rule._bymonth, steps)  # counts candidate dates (_Steps)
        rules.rrule(rule)
    for prop in event.get("RDATE", []):
        for moment in _moments(prop):
            if isinstance(moment, datetime):
                rules.rdate(moment)
    excluded = set()
    for prop in event.get("EXDATE", []):
        for moment in _moments(prop):
            if isinstance(moment, datetime):
                excluded.add(_key(moment))
    first, end = (
        window if start.tzinfo is None else (w.replace(tzinfo=start.tzinfo) for w in window)
    )
    occurrences: list[datetime] = []
    previous = None
    try:
        for occurrence in rules:
            if previous is not None and occurrence - previous < MIN_GAP:
                raise ValueError(
                    f"RRULE '{_shown(steps.rule)}' gives two occurrences less than a minute apart "
                    f"({previous:%Y-%m-%d %H:%M:%S} and {occurrence:%Y-%m-%d %H:%M:%S}); a "
                    "calendar event may repeat at most once a minute"
                )
            previous = occurrence
            if occurrence >= end:
                break
            if occurrence < first or _key(occurrence) in excluded:
                continue
            occurrences.append(occurrence)
            if len(occurrences) > limits.calendar_max_per_event:
                raise ValueError(
                    f"RRULE '{_shown(steps.rule)}' gives more than "
                    f"{limits.calendar_max_per_event:,} occurrences from {first:%Y-%m-%d} to "
                    f"{end - timedelta(days=1):%Y-%m-%d}, the limit for one event (the "
                    "calendar_max_per_event setting raises it)"
                )
    except OverflowError:
        pass  # dateutil ran past the year 9999: there is nothing more to give
    return occurrences
