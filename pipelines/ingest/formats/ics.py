"""Calendars (ICS, RFC 5545): Google Calendar and any other calendar export.

Recognised by content (`BEGIN:VCALENDAR`). The file is read by `icalendar` (unfolding, escapes,
time zones, DURATION) and repeating events are expanded by `recurring-ical-events`: each VEVENT
is one appointment, a recurring one (RRULE or RDATE, minus EXDATE) one per occurrence, and an
event with the same UID and a RECURRENCE-ID replaces that occurrence (moved, or
STATUS:CANCELLED). A file icalendar cannot read as one calendar (cut short, no END:VCALENDAR)
is not loaded: loading the part before the cut would lose its other appointments in silence.
A fold that cuts a character of several bytes in two (octet-counting writers) is mended first.
A file may hold several calendars, one VCALENDAR after another: each is read with its own zone
and name (below), as if it were a file of its own.

Times become the wall-clock time of the calendar's zone: `X-WR-TIMEZONE` when present, else
[ics] timezone, else the zone the studio gave the file's location (profile, locations file),
else the event's own `TZID`; UTC times (`Z`) need one of the first three; floating times are
taken as they are. All-day events are not appointments and are rejected with a reason.

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
(20 x calendar_max_per_event per event, 10 x calendar_max_per_file per file): dateutil, under
recurring-ical-events, would otherwise look for it until the year 9999. An event over its
limits is a rejected row; a file over its limits is not loaded.

Status: STATUS:CANCELLED -> cancelled; otherwise an occurrence on a day before the load day is
completed (a calendar cannot record a no-show) and one on the load day or later is booked,
unless the pattern's `status` group gives a word. Booking ids: UID, plus the occurrence's
original start for recurring events (the RECURRENCE-ID), stable across re-exports.
Client details (the SUMMARY's client, ATTENDEE emails) are never stored: the client becomes the
hash key and the SUMMARY is not kept.

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import re2
from dateutil.rrule import rrule, rrulestr
from recurring_ical_events.adapters.event import EventAdapter
from recurring_ical_events.series import Series

from pipelines.ingest.formats.base import ExportRows
from pipelines.ingest.formats.common import (
    Columns,
    Context,
    Sniff,
    build_bookings,
    client_cells,
    table_from_records,
)
from pipelines.ingest.formats.mapping import Mapping, re2_reason, summary_pattern
from pipelines.ingest.formats.tabular import ExportError
from pipelines.settings import Settings

NAME = "ics"

# Thunderbird's "/mozilla.org/20070129_1/Europe/London" is read as Europe/London, the zone it
# names; icalendar says so on stderr, which a studio's terminal must not show.
warnings.filterwarnings("ignore", category=icalendar.error.GloballyUniqueTZIDGuessed)

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
# Properties whose values this reader uses: one icalendar could not read rejects the event.
USED = ("UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    return sniff.container == "ics"


def _shown(rule: str) -> str:
    return rule if len(rule) <= 80 else rule[:77] + "..."


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


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


class _Rule:
    """One RRULE as recurring-ical-events uses it (`between`, `until`), read from its first
    candidate date on so that two occurrences less than a minute apart are refused wherever
    they fall, and without dateutil's cache (which would keep every candidate in memory)."""

    def __init__(self, rule: rrule, until, steps: _Steps) -> None:
        self.rule, self.until, self.steps = rule, until, steps

    def between(self, after: datetime, before: datetime, inc: bool = False):
        previous = None
        try:
            for occurrence in self.rule:
                if previous is not None and occurrence - previous < MIN_GAP:
                    raise ValueError(
                        f"RRULE '{_shown(self.steps.rule)}' gives two occurrences less than a "
                        f"minute apart ({previous:%Y-%m-%d %H:%M:%S} and "
                        f"{occurrence:%Y-%m-%d %H:%M:%S}); a calendar event may repeat at most "
                        "once a minute"
                    )
                previous = occurrence
                if occurrence > before or (occurrence == before and not inc):
                    return
                if occurrence > after or (occurrence == after and inc):
                    yield occurrence
        except OverflowError:
            return  # dateutil ran past the year 9999: there is nothing more to give


def _bounded_series(steps: _Steps) -> type[Series]:
    """recurring-ical-events' Series, its rules built by us: UNTIL read in the event's zone,
    every candidate date counted (_Steps), no cache, and a rule dateutil cannot read refused
    with the rule as the studio wrote it (the library would rewrite UNTIL and try again)."""

    class Rules(Series.RecurrenceRules):
        def create_rule_with_start(self, rule_string: str):
            return self.rrulestr(rule_string)

        def rrulestr(self, rule_string: str):
            value = _until_for(rule_string, self.start)
            try:
                rule = rrulestr(value, dtstart=self.start)
            except (ValueError, TypeError, OverflowError) as error:
                raise ValueError(
                    f"RRULE '{_shown(steps.rule)}' cannot be expanded ({_one_line(error)})"
                ) from None
            if not isinstance(rule, rrule):
                raise ValueError(f"RRULE '{_shown(steps.rule)}' is not one rule")
            rule._bymonth = _Counted(rule._bymonth, steps)  # counts candidate dates (_Steps)
            until = rule._until
            return _Rule(rule, until, steps)

    class Bounded(Series):
        RecurrenceRules = Rules

    return Bounded


def _until_for(value: str, start: datetime) -> str:
    """UNTIL as dateutil wants it: in UTC when DTSTART is aware (RFC 5545 says the same), a
    local UNTIL read in the event's own zone; floating when DTSTART is floating."""
    if start.tzinfo is None:
        return re.sub(r"(UNTIL=\d{8}T\d{6})Z", r"\1", value)
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
    return re.sub(r"UNTIL=(\d{8})(?=;|$)", r"UNTIL=\1T235959Z", value)


def _vevents(text: str) -> list[tuple[int, list[str]]]:
    """For each VEVENT in file order: the line its BEGIN:VEVENT is on, and its RRULE values as
    written (icalendar re-orders a rule's parts; messages quote the studio's own text)."""
    events: list[tuple[int, list[str]]] = []
    inside = last_was_rule = False
    lines = re.split(r"\r\n|\n|\r", text)
    for number, raw in enumerate(lines, start=1):
        if raw[:1] in (" ", "\t"):
            if inside and events and events[-1][1] and last_was_rule:
                events[-1][1][-1] += raw[1:]
            continue
        last_was_rule = False
        word = raw.strip().upper()
        if word == "BEGIN:VEVENT":
            events.append((number, []))
            inside = True
        elif word == "END:VEVENT":
            inside = False
        elif inside and re.match(r"RRULE[;:]", raw, re.IGNORECASE):
            events[-1][1].append(raw.partition(":")[2])
            last_was_rule = True
    return events


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip().strip("/"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}'") from None


def _moment(event, name: str) -> datetime | date:
    """A DATE or DATE-TIME property as icalendar reads it: a date, an aware datetime (UTC or a
    TZID icalendar knows) or a naive (floating) one. A TZID icalendar cannot place would come
    back floating: it is refused instead."""
    prop = event[name]
    moment = prop.dt
    tzid = prop.params.get("TZID")
    if tzid and isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(tzid))
    return moment


def _is_utc(moment: datetime) -> bool:
    return moment.tzinfo is UTC or getattr(moment.tzinfo, "key", None) in ("UTC", "Etc/UTC")


def _key(moment: datetime) -> str:
    """An occurrence's identity: its instant in UTC (or wall-clock when floating)."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return moment.strftime("%Y%m%dT%H%M%S")


def _span(event, start: datetime | date) -> timedelta:
    if "DTEND" in event:
        return _moment(event, "DTEND") - start
    if "DURATION" in event:
        return event["DURATION"].dt
    raise ValueError("the event has neither DTEND nor DURATION")


def _written_end(event) -> str:
    """The event's end as the file writes it (`DURATION -PT1H`, `DTEND 20261026T080000`)."""
    name = "DURATION" if "DURATION" in event and "DTEND" not in event else "DTEND"
    value = event[name]
    return f"{name} {value.to_ical().decode() if hasattr(value, 'to_ical') else value}"


def _broken(event) -> str | None:
    """The first property this reader uses that icalendar could not read, as one line."""
    for name, reason in getattr(event, "errors", []):
        if name in USED:
            return f"{name} cannot be read ({' '.join(str(reason).split())})"
    return None


@dataclass
class _Reading:
    """A calendar of the file: the zone its times become, and whose calendar it is."""

    zone: ZoneInfo | None
    therapist: str


def _location_zone(ctx: Context) -> str | None:
    """The time zone the studio gave the file's location (studio profile, else a loaded
    locations file), for a calendar that names none: its UTC times become that wall-clock."""
    from pipelines.profile import name_key, stored_profile

    location = ctx.default_location()
    if not location:
        return None
    profile = stored_profile(ctx.con)
    for loc in profile.locations if profile else ():
        if loc.timezone and name_key(loc.id) == name_key(location):
            return loc.timezone
    [(has_locations,)] = ctx.con.execute(
        "select count(*) from duckdb_tables() where table_name = 'raw_locations' and not temporary"
    ).fetchall()
    if not has_locations:
        return None
    rows = ctx.con.execute(
        "select timezone from raw_locations where location_id = ? and timezone is not null",
        [location],
    ).fetchall()
    return rows[0][0] if rows else None


def _unreadable(error: Exception) -> ExportError:
    reason = _one_line(error)
    reason = reason if len(reason) <= 120 else reason[:117] + "..."
    return ExportError(f"the calendar cannot be read ({reason})")


def _parse(text: str) -> list[tuple[icalendar.Calendar, list]]:
    """Each VCALENDAR of the file with its events, each event with its line and RRULEs (see
    _vevents). Some programs export several calendars into one file, one after another."""
    try:
        calendars = [icalendar.Calendar.from_ical(text)]
    except (ValueError, TypeError, KeyError, IndexError) as error:
        if "multiple components" not in str(error):
            raise _unreadable(error) from None
        try:
            calendars = icalendar.Calendar.from_ical(text, multiple=True)
        except (ValueError, TypeError, KeyError, IndexError) as again:
            raise _unreadable(again) from None
        begins = len(re.findall(r"(?im)^BEGIN:VCALENDAR\s*$", text))
        # icalendar drops a last calendar cut short, and returns a component outside any
        # calendar as its own: either way the file is not whole calendars
        if len(calendars) != begins or any(c.name != "VCALENDAR" for c in calendars):
            whole = sum(c.name == "VCALENDAR" for c in calendars)
            raise ExportError(
                f"the calendar cannot be read ({begins} BEGIN:VCALENDAR "
                f"line{'s' * (begins != 1)}, {whole} whole calendar{'s' * (whole != 1)} read)"
            ) from None
    walked = [c.walk("VEVENT") for c in calendars]
    events = [e for each in walked for e in each]
    lines = _vevents(text)
    if len(lines) != len(events):  # a VEVENT icalendar did not take as one: say so, not guess
        raise ExportError(
            f"the calendar cannot be read ({len(lines)} BEGIN:VEVENT "
            f"line{'s' * (len(lines) != 1)}, {len(events)} event{'s' * (len(events) != 1)} read)"
        )
    found, at = [], 0
    for calendar, each in zip(calendars, walked, strict=True):
        found.append((calendar, list(zip(each, lines[at : at + len(each)], strict=True))))
        at += len(each)
    return found


# A line fold (line end + one space or tab) followed by UTF-8 continuation bytes: the writer
# folded at 75 octets inside a character, which RFC 5545 forbids but octet-counting writers do.
SPLIT_CHARACTER = re.compile(rb"(\r\n|\n|\r)([ \t])([\x80-\xbf]+)")


def _decoded(data: bytes) -> str:
    """The file as text. A character cut by a fold is made whole first (its continuation bytes
    moved before the fold, so line numbers stay): decoded apart, each half would become U+FFFD
    and the client's name, hence its key, would differ from the same name unfolded. A file
    that is not UTF-8 is refused (ExportError) with the line of its first foreign byte."""
    data = SPLIT_CHARACTER.sub(rb"\3\1\2", data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # Another encoding's "Zoë" would load as another client, in silence: refused instead.
        byte = data[error.start]
        char = bytes([byte]).decode("cp1252", errors="replace")
        guess = f", perhaps Windows-1252 or Latin-1 for '{char}'" if char.isprintable() else ""
        line = data[: error.start].count(b"\n") + 1
        raise ExportError(
            f"line {line}: not UTF-8 text (byte 0x{byte:02x}"
            f"{guess}); a calendar file is UTF-8: export it again, or open it in a text editor "
            "and save it as UTF-8"
        ) from None


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    text = _decoded(sniff.path.read_bytes())
    calendars = _parse(text)
    if not any(events for _, events in calendars):
        # nothing booked in the calendar's range: skipped as a header-only export is
        rows = _bookings(ctx, [], [])
        rows.empty_why = "the calendar has no events"
        return rows
    mapping = ctx.mapping
    try:
        pattern = summary_pattern(mapping.ics_summary if mapping else None)
    except re2.error as error:
        raise ExportError(f"calendar: [ics] summary cannot be used ({re2_reason(error)})") from None

    location_is = mapping.ics_location_is if mapping else "ignore"
    # the events' location is the file's (not their LOCATION): its zone is a fallback
    fallback = _location_zone(ctx) if location_is != "location" else None

    def zone_and_therapist(calendar) -> _Reading:
        """A calendar's zone (X-WR-TIMEZONE, else [ics] timezone, else the zone the studio
        gave its location) and whose it is."""
        zone_name = (
            str(calendar.get("X-WR-TIMEZONE") or "")
            or (mapping.ics_timezone if mapping else None)
            or fallback
        )
        try:
            zone = _zone(zone_name) if zone_name else None
        except ValueError as error:
            raise ExportError(f"calendar: {error}") from None
        name = (mapping.ics_therapist if mapping else None) or str(
            calendar.get("X-WR-CALNAME") or ""
        )
        if not name and "therapist" not in pattern.groupindex:
            raise ExportError(
                'calendar: say whose calendar this is: add [ics] therapist = "NAME" to the '
                "mapping file (--mapping), or a (?P<therapist>...) group to [ics] summary"
            )
        return _Reading(zone, name)

    # every calendar's answers first: a file lacking one loads nothing
    contexts = [zone_and_therapist(calendar) for calendar, _ in calendars]
    now = _Reading(None, "")  # the calendar being read, as local() and emit() see it
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
    series_class = _bounded_series(steps)

    def local(moment: datetime) -> datetime:
        if moment.tzinfo is None:
            return moment
        if now.zone is not None:
            return moment.astimezone(now.zone).replace(tzinfo=None)
        if _is_utc(moment):
            raise ValueError(
                "UTC time and the calendar names no time zone: give the location its "
                'timezone in the studio profile, or add [ics] timezone = "Area/City" to the '
                "mapping file"
            )
        return moment.replace(tzinfo=None)  # the event's own TZID wall-clock

    records: list[list[object]] = []
    rejects: list[tuple[int, str, str]] = []
    matches: dict[str, dict[str, str | None] | None] = {}  # each distinct SUMMARY matched once

    def counted(line: int) -> None:
        """Stop the file once it holds more appointments than calendar_max_per_file."""
        if len(records) + len(rejects) > limits.calendar_max_per_file:
            raise ExportError(
                f"line {line}: the calendar holds more than {limits.calendar_max_per_file:,} "
                "appointments, the limit for one file (the calendar_max_per_file setting "
                "raises it)"
            )

    def raw(event) -> str:
        """What identifies an event without client details: UID and DTSTART."""
        parts = []
        for name in ("UID", "DTSTART"):
            if name in event:
                value = event[name]
                value = value.to_ical().decode() if hasattr(value, "to_ical") else str(value)
                parts.append(f"{name}:{value}")
        return ";".join(parts)

    def reject(line: int, reason: str, event) -> None:
        rejects.append((line, reason, raw(event)))
        counted(line)

    def emit(event, line: int, booking_id: str, start: datetime, end: datetime) -> None:
        summary = str(event.get("SUMMARY", ""))
        if summary not in matches:
            match = pattern.match(summary)
            matches[summary] = match.groupdict() if match else None
        groups = matches[summary]
        if groups is None:
            reject(line, "SUMMARY does not match the [ics] summary pattern", event)
            return
        status = str(event.get("STATUS", "")).strip().upper()
        if status == "CANCELLED":
            word = "CANCELLED"
        elif groups.get("status"):
            word = groups["status"]
        else:
            word = "completed" if start.date() < today else "booked"
        where = str(event["LOCATION"]).strip() if "LOCATION" in event else None
        created = None
        if "CREATED" in event:
            try:
                moment = _moment(event, "CREATED")
                if isinstance(moment, datetime):
                    created = local(moment).strftime("%Y-%m-%d %H:%M:%S")
            except (ValueError, TypeError, AttributeError):
                created = None  # an unreadable CREATED only loses created_at
        records.append(
            [
                line,
                booking_id,
                start.strftime("%Y-%m-%d %H:%M:%S"),
                end.strftime("%Y-%m-%d %H:%M:%S"),
                (groups.get("client") or "").strip() or None,
                (groups.get("service") or "").strip() or None,
                (groups.get("therapist") or now.therapist or "").strip() or None,
                where if location_is == "room" else None,
                where if location_is == "location" else None,
                word,
                created,
            ]
        )
        counted(line)

    def single(event, line: int, booking_id: str | None = None) -> None:
        """An appointment that does not repeat (or an occurrence moved by itself)."""
        uid = str(event["UID"]).strip()
        start = _moment(event, "DTSTART")
        if not isinstance(start, datetime):
            reject(line, "an all-day event is not an appointment", event)
            return
        end = start + _span(event, start)
        emit(event, line, booking_id or uid, local(start), local(end))

    def repeating(event, line: int, rules: list[str], changes: list) -> None:
        """The occurrences of a repeating event inside the load's window, each moved or
        cancelled occurrence (`changes`) in its place; ValueError when it breaks a limit."""
        uid = str(event["UID"]).strip()
        start = _moment(event, "DTSTART")
        if not isinstance(start, datetime):
            reject(line, "an all-day event is not an appointment", event)
            return
        # neither DTEND nor DURATION is refused, not a zero-length booking; an end before the
        # start too (the expanding library would swap them, moving every occurrence)
        if _span(event, start) < timedelta(0):
            raise ValueError(f"the event ends before it starts ({_written_end(event)})")
        for rule in rules:
            frequency = re.search(r"(?:^|;)\s*FREQ\s*=\s*(\w+)", rule, re.IGNORECASE)
            if frequency and frequency.group(1).upper() == "SECONDLY":
                raise ValueError(
                    f"RRULE '{_shown(rule)}' repeats more often than once a minute, the most a "
                    "calendar event may"
                )
        steps.start(rules[0] if rules else "RDATE", line)
        series = series_class([EventAdapter(event), *(EventAdapter(c) for c, _ in changes)])
        moved = {EventAdapter(c).recurrence_ids[0]: (c, at) for c, at in changes}
        first, end = (
            window if start.tzinfo is None else (w.replace(tzinfo=start.tzinfo) for w in window)
        )
        occurrences = []
        for occurrence in series.between(first, end):
            original = occurrence.recurrence_ids[0] if occurrence.recurrence_ids else None
            if original is None:
                if not first <= occurrence.start < end:  # starts in the window, not overlaps
                    continue
                rid = occurrence.start
                component, at = event, line
            else:
                # A moved occurrence, or one after a RANGE=THISANDFUTURE change: its identity
                # is where the rule put it, the change's shift taken back off.
                component, at = moved[original]
                shift = _moment(component, "DTSTART") - _moment(component, "RECURRENCE-ID")
                rid = occurrence.start - shift
            occurrences.append((component, at, f"{uid}@{_key(rid)}", occurrence))
            if len(occurrences) > limits.calendar_max_per_event:
                raise ValueError(
                    f"RRULE '{_shown(steps.rule)}' gives more than "
                    f"{limits.calendar_max_per_event:,} occurrences from {first:%Y-%m-%d} to "
                    f"{end - timedelta(days=1):%Y-%m-%d}, the limit for one event (the "
                    "calendar_max_per_event setting raises it)"
                )
        for component, at, booking_id, occurrence in occurrences:
            try:
                emit(component, at, booking_id, local(occurrence.start), local(occurrence.end))
            except (ValueError, TypeError, OverflowError) as error:
                reject(line, f"event: {_one_line(error)}", event)

    for (_, events), context in zip(calendars, contexts, strict=True):
        # each calendar in its own zone and name; a change (RECURRENCE-ID) applies to
        # the repeating event of its own calendar
        now.zone, now.therapist = context.zone, context.therapist
        # Masters (no RECURRENCE-ID) in file order; the changes to a repeating one go with it, the
        # other changes (their event not repeating, or absent) load on their own after them.
        changes: dict[str, list] = {}
        masters = []
        for event, (line, rules) in events:
            broken = _broken(event)
            if broken is None and "RECURRENCE-ID" in event and "DTSTART" not in event:
                broken = "a change to one occurrence (RECURRENCE-ID) has no DTSTART"
            if broken is None and "RECURRENCE-ID" in event and "UID" in event:
                changes.setdefault(str(event["UID"]).strip(), []).append((event, line))
            else:
                masters.append((event, line, rules, broken))
        repeating_uids = {
            str(event["UID"]).strip()
            for event, _, _, broken in masters
            if broken is None and "UID" in event and ("RRULE" in event or "RDATE" in event)
        }
        for event, line, rules, broken in masters:
            try:
                if broken is not None:
                    raise ValueError(broken)
                if "UID" not in event or "DTSTART" not in event:
                    raise ValueError("the event has no UID or DTSTART")
                uid = str(event["UID"]).strip()
                if "RRULE" in event or "RDATE" in event:
                    repeating(event, line, rules, changes.get(uid, []))
                else:
                    single(event, line)
            except ExportError:
                raise
            except (ValueError, TypeError, OverflowError, KeyError) as error:
                reject(line, f"event: {_one_line(error)}", event)
        for uid, moved in changes.items():
            if uid in repeating_uids:
                continue
            for event, line in moved:
                try:
                    rid = _moment(event, "RECURRENCE-ID")
                    single(event, line, f"{uid}@{_key(rid)}" if isinstance(rid, datetime) else None)
                except ExportError:
                    raise
                except (ValueError, TypeError, OverflowError, KeyError) as error:
                    reject(line, f"event: {_one_line(error)}", event)

    return _bookings(ctx, records, rejects)


def _bookings(ctx: Context, records: list[list], rejects: list[tuple[int, str, str]]) -> ExportRows:
    """The events read (one record each) as the bookings table."""
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
