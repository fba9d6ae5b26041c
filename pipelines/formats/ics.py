"""Calendars (ICS, RFC 5545): Google Calendar and any other calendar export.

Recognised by content (`BEGIN:VCALENDAR`). Lines folded at 75 octets are unfolded; each VEVENT
is one appointment, a recurring one (RRULE, minus EXDATE) one per occurrence, and an event with
the same UID and a RECURRENCE-ID replaces that occurrence (moved, or STATUS:CANCELLED).

Times become the wall-clock time of the calendar's zone: `X-WR-TIMEZONE` when present, else the
event's own `TZID`; UTC times (`Z`) need one of them or [ics] timezone in the mapping; floating
times are taken as they are. All-day events are not appointments and are rejected with a reason.

Client and service sit in free text (SUMMARY): the mapping's [ics] summary regular expression
with named groups `service`, `client` (and optionally `therapist`, `status`) reads them; the
default pattern is "Service - Client" (also with `–`, `:` or `|`). The therapist is the
pattern's `therapist` group, else [ics] therapist, else the calendar's name (X-WR-CALNAME).
What LOCATION means is [ics] location_is (room | location | ignore, the default).

Status: STATUS:CANCELLED -> cancelled; otherwise an occurrence on a day before the load day is
completed (a calendar cannot record a no-show) and one on the load day or later is booked,
unless the pattern's `status` group gives a word. Booking ids: UID, plus the occurrence's
original start for recurring events (the RECURRENCE-ID), stable across re-exports.
Client details (the SUMMARY's client, ATTENDEE emails) are never stored: the client becomes the
hash key and the SUMMARY is not kept.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.formats.common import (
    Columns,
    Context,
    Sniff,
    build_bookings,
    client_cells,
    table_from_records,
)
from pipelines.formats.tabular import ExportError

NAME = "ics"
DEFAULT_SUMMARY = r"^\s*(?P<service>.+?)\s+[-–—:|]\s+(?P<client>.+?)\s*$"
HORIZON_DAYS = 400  # open-ended RRULEs are expanded this far past the load day
MAX_OCCURRENCES = 5000  # per recurring event
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


class _Prop:
    __slots__ = ("name", "params", "value", "line")

    def __init__(self, name: str, params: dict[str, str], value: str, line: int) -> None:
        self.name, self.params, self.value, self.line = name, params, value, line


def _content_lines(text: str) -> list[tuple[int, str]]:
    """Unfolded content lines with the line number each starts on."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + raw[1:])
        elif raw.strip():
            lines.append((number, raw))
    return lines


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
    pattern = re.compile((mapping.ics_summary if mapping else None) or DEFAULT_SUMMARY)
    therapist = (mapping.ics_therapist if mapping else None) or calendar.props.get("X-WR-CALNAME")
    if not therapist and "therapist" not in pattern.groupindex:
        raise ExportError(
            'calendar: say whose calendar this is: add [ics] therapist = "NAME" to the '
            "mapping file (--mapping), or a (?P<therapist>...) group to [ics] summary"
        )
    location_is = mapping.ics_location_is if mapping else "ignore"
    if location_is != "location":
        ctx.require_location("calendar (ICS)")
    today = date.today()
    horizon = datetime.combine(today + timedelta(days=HORIZON_DAYS), datetime.min.time())

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

    def raw(event: dict) -> str:
        """What identifies an event without client details: UID and DTSTART."""
        return ";".join(
            f"{name}:{event[name][0].value}" for name in ("UID", "DTSTART") if name in event
        )

    def emit(event: dict, booking_id: str, start: datetime, end: datetime) -> None:
        line = event["_line"][0].line
        summary = _text(event["SUMMARY"][0].value) if "SUMMARY" in event else ""
        match = pattern.match(summary)
        if not match:
            rejects.append((line, "SUMMARY does not match the [ics] summary pattern", raw(event)))
            return
        groups = match.groupdict()
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
                continue
            length = span(event, start)
            if "RECURRENCE-ID" in event:  # an override whose master is missing
                rid = _moment(event["RECURRENCE-ID"][0])
                emit(event, f"{uid}@{_key(rid)}", local(start), local(start + length))
                continue
            if "RRULE" not in event:
                emit(event, uid, local(start), local(start + length))
                continue
            occurrences = _expand(event, start, horizon)
        except (ValueError, TypeError) as error:
            rejects.append((line, f"event: {error}", raw(event)))
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
            except (ValueError, TypeError) as error:
                rejects.append((line, f"event: {error}", raw(event)))
    for key, event in overrides.items():
        if key in used_overrides:
            continue
        line = event["_line"][0].line
        try:
            start = _moment(event["DTSTART"][0])
            emit(event, f"{key[0]}@{key[1]}", local(start), local(start + span(event, start)))
        except (KeyError, ValueError, TypeError) as error:
            rejects.append((line, f"event: {error}", raw(event)))

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


def _expand(event: dict, start: datetime, horizon: datetime) -> list[datetime]:
    """The occurrences of a recurring event (RRULE, RDATE, minus EXDATE), in its own zone."""
    from dateutil.rrule import rruleset, rrulestr

    rules = rruleset()
    for prop in event["RRULE"]:
        value = prop.value
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
            rules.rrule(rrulestr(value, dtstart=start))
        except (ValueError, TypeError) as error:
            raise ValueError(f"RRULE '{prop.value}' cannot be expanded ({error})") from None
    for prop in event.get("RDATE", []):
        for moment in _moments(prop):
            if isinstance(moment, datetime):
                rules.rdate(moment)
    excluded = set()
    for prop in event.get("EXDATE", []):
        for moment in _moments(prop):
            if isinstance(moment, datetime):
                excluded.add(_key(moment))
    end = horizon if start.tzinfo is None else horizon.replace(tzinfo=start.tzinfo)
    occurrences = []
    for occurrence in rules:
        if occurrence > end or len(occurrences) >= MAX_OCCURRENCES:
            break
        if _key(occurrence) not in excluded:
            occurrences.append(occurrence)
    return occurrences
