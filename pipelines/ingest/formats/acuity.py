"""Acuity Scheduling: Reports -> Import/Export -> Export Appointments (CSV).

Recognised by its literal header (`Start Time`, `End Time`, `First Name`, `Last Name`, `Type`,
`Calendar`, `Appointment ID`, ...). Intake-form columns (arbitrary labels, trailing spaces) are
ignored. Times are local, long form: `December 2, 2020 9:00 am` or 24-hour `September 2, 2019
10:15`; `Date Scheduled` (`YYYY-MM-DD`, or the long form) is when the booking was made. A
file a spreadsheet saved again (`12/2/2020 9:00`) is refused, unless [formats] datetime says
how it is written: the day-month order is never guessed.

What `Calendar` means (a therapist, a room or a location) differs per account, so the mapping
must say it ([acuity] calendar); there is no default. When it is a room or a location, no
column names the therapist, so only one-therapist accounts can load it ([acuity] therapist).
A Calendar that is a location holds its display name, resolved like a Location column's
([locations], the profile's names; never a new location).

Acuity has no status column. The rule used here:
- `Label` Completed / Checked In -> completed; a `No Show` label -> no_show (studios create it);
  other labels (free text such as "VIP") are not statuses, unless [status_words] maps them.
- A `Canceled`/`Cancelled` column, when the export has one, -> cancelled whatever it holds
  except a "no" (no/false/0/n): yes, the word Canceled, or the time it was cancelled (then
  kept as cancelled_at, as is a `Date Canceled` column's). A `Label` of Canceled too. Exports
  with "include cancelled" ticked are not documented well enough to be sure how they mark
  cancelled rows; these cover the marks seen, and [status_words] maps another `Label` word.
- A no-show flag column (`No Show`, `No-Show`, `Marked as No-Show`: anything but a "no") ->
  no_show. Acuity marks a no-show while cancelling the appointment, so a no-show (its flag or
  its label) wins over the cancellation, and a cancellation over any other label.
- Otherwise an appointment on a day before the load day is completed (it was booked and not
  cancelled; Acuity records nothing more), and one on the load day or later is booked.
Booking ids are Acuity's `Appointment ID`, stable across re-exports.

Implements the Adapter protocol (pipelines.ingest.formats.adapter): `detect`, `read`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pipelines.ingest.formats.base import ExportRows
from pipelines.ingest.formats.common import (
    Columns,
    Context,
    Sniff,
    build_bookings,
    client_cells,
    iso_datetime,
    read_vendor_table,
    refuse_spreadsheet_dates,
)
from pipelines.ingest.formats.needs import MappingNeeded, Question, location_question
from pipelines.ingest.formats.sql_expr import E, Expr, P, blank

NAME = "acuity"
SIGNATURE = ("Start Time", "End Time", "First Name", "Last Name", "Type", "Calendar")
ID_COLUMN = "Appointment ID"
DATETIME_FORMATS = ["%B %d, %Y %I:%M %p", "%B %d, %Y %H:%M", "%Y-%m-%d %H:%M"]
DATE_FORMATS = [
    "%Y-%m-%d",
    "%B %d, %Y",
    "%Y-%m-%d %H:%M:%S",
    "%B %d, %Y %I:%M %p",
    "%B %d, %Y %H:%M",  # 24-hour accounts
]
FALSE_WORDS = ("no", "false", "0", "n")
CANCELLED_AT = (
    "Date Canceled",
    "Date Cancelled",
    "Canceled At",
    "Cancelled At",
    "Cancellation Date",
)
NO_SHOW_FLAG = ("No Show", "No-Show", "Noshow", "Marked as No-Show")
STATUSES = {
    "Completed": "completed",
    "Checked In": "completed",
    "Checked-In": "completed",
    "No Show": "no_show",
    "No-Show": "no_show",
    "Canceled": "cancelled",
    "Cancelled": "cancelled",
}


CALENDAR_QUESTION = Question(
    key="acuity.calendar",
    prompt="What is a Calendar in your Acuity account?",
    help="Acuity calls each schedule a Calendar. Most studios have one per therapist; some "
    "have one per treatment room or one per studio location.",
    choices=("therapist", "room", "location"),
)
THERAPIST_QUESTION = Question(
    key="acuity.therapist",
    prompt="Who gives these treatments?",
    help="Your Calendars are not therapists, so the export names no therapist: this works "
    "for a one-therapist account only. Use the name or id your shift files use.",
    only_if={"acuity.calendar": ("room", "location")},
)

if TYPE_CHECKING:  # the type only: mapped imports this module
    from pipelines.ingest.formats.mapping import Mapping


def _check_mapping(sniff: Sniff, ctx: Context) -> None:
    """Every answer the mapping still lacks, asked at once (MappingNeeded); the message is
    the first one's line, as before."""
    mapping = ctx.mapping
    meaning = mapping.acuity_calendar if mapping else None
    therapist = mapping.acuity_therapist if mapping else None
    questions, lines = [], []
    if meaning is None:
        questions.append(CALENDAR_QUESTION)
        lines.append(
            "Acuity export: say what the Calendar column means: add [acuity] calendar = "
            '"therapist" (or "room" or "location") to the mapping file (--mapping)'
        )
    if meaning != "location" and not ctx.default_location():
        only_if = {} if meaning else {"acuity.calendar": ("therapist", "room")}
        questions.append(location_question("Acuity", only_if))
        lines.append(
            "Acuity export has no location column: pass --location LOC, or add "
            '[source] location = "L01" to the mapping file (--mapping)'
        )
    if meaning in (None, "room", "location") and not therapist:
        # The calendar is a room or location: Acuity names no staff member anywhere else.
        questions.append(THERAPIST_QUESTION)
        lines.append(
            f"Acuity export: the Calendar column is the {meaning}, so no column names the "
            'therapist: add [acuity] therapist = "NAME" (one-therapist accounts) to the mapping'
        )
    if questions:
        calendars = sorted(
            {
                row[sniff.header.index("Calendar")]
                for row in sniff.rows[1:6]
                if len(row) == len(sniff.header)
            }
            if "Calendar" in sniff.header
            else set()
        )
        raise MappingNeeded(
            lines[0],
            vendor=NAME,
            source=ctx.source(NAME),
            questions=questions,
            header=["Calendar"],
            sample=[[c] for c in calendars],
            known=mapping.answers() if mapping else {},
        )


def _formats(ctx: Context) -> tuple[list[str], list[str]]:
    """The date-time and date formats: the mapping's [formats] datetime first (an export a
    spreadsheet saved again, `12/2/2020 9:00`), its date part for the date-only Date
    Scheduled, then Acuity's own."""
    own = list(ctx.mapping.datetime_formats) if ctx.mapping else []
    dates = [re.split(r"\s*%[HIp]", f)[0] for f in own]
    return own + DATETIME_FORMATS, [d for d in dates if d] + own + DATE_FORMATS


def detect(sniff: Sniff, mapping: Mapping | None) -> bool:
    return (
        sniff.container in ("csv", "xlsx")
        and sniff.rows[:1] != []
        and sniff.header_row(*SIGNATURE, ID_COLUMN) == 0
    )


def read(sniff: Sniff, ctx: Context) -> ExportRows:
    _check_mapping(sniff, ctx)
    # Acuity never writes 12/2/2020: a spreadsheet saved the file again
    refuse_spreadsheet_dates(sniff, ctx, "Start Time", "Acuity", "December 2, 2020 9:00 am")
    datetime_formats, date_formats = _formats(ctx)
    meaning = ctx.mapping.acuity_calendar
    therapist = ctx.mapping.acuity_therapist
    table = read_vendor_table(sniff, ctx.con, f"{ctx.target}_vendor")
    c = Columns(table.header)
    start = iso_datetime(c("Start Time"), datetime_formats)
    calendar = c("Calendar")
    label = blank(c("Label"))
    cancelled = blank(c("Canceled", "Cancelled"))
    no_show = blank(c(*NO_SHOW_FLAG))

    def flagged(cell: Expr) -> Expr:
        # a flag column says yes by anything but a "no" (yes, the word itself, a date)
        return E("({} is not null and lower({}) not in {})", cell, cell, P(FALSE_WORDS))

    # The time a booking was cancelled: a date column's, else the Canceled column's when it
    # holds a time rather than yes (parsed only: "yes" is no time).
    def parsed(cell: Expr) -> Expr:
        return E(
            "strftime(try_strptime(trim({}), {}), '%Y-%m-%d %H:%M:%S')",
            cell,
            P(datetime_formats + date_formats),
        )

    cancelled_at = E("coalesce({}, {})", parsed(c(*CANCELLED_AT)), parsed(cancelled))
    # A label is a status only when it is a known word (free labels like "VIP" are not).
    # Acuity records a no-show by cancelling the appointment with "no-show" ticked: a no-show
    # (flag, or a label meaning no-show) wins over the cancellation.
    label_word = E("regexp_replace(lower({}), '[^a-z]', '', 'g')", label)
    status = E(
        "case when {} or {} in (select word from vendor_status where canonical = 'no_show') "
        "then 'no_show' "
        "when {} or {} is not null then 'cancelled' "
        "when {} in (select word from vendor_status) then {} "
        "when try_strptime({}, '%Y-%m-%d %H:%M:%S') < current_date then 'completed' "
        "else 'booked' end",
        flagged(no_show),
        label_word,
        flagged(cancelled),
        cancelled_at,
        label_word,
        label,
        start,
    )
    columns: dict[str, Expr] = {
        "booking_id": c(ID_COLUMN),
        "service": c("Type"),
        "start_at": start,
        "end_at": iso_datetime(c("End Time"), datetime_formats),
        "created_at": iso_datetime(c("Date Scheduled"), date_formats),
        "cancelled_at": cancelled_at,
        "price": c("Appointment Price"),
        "status": status,
        meaning + "_id": calendar,
    }
    if meaning in ("room", "location"):
        # no column names the therapist: the one therapist of the account ([acuity] therapist)
        columns["therapist_id"] = Expr("cast(? as varchar)", (therapist,))
    client = client_cells(
        c, email=("Email",), phone=("Phone",), first_last=("First Name", "Last Name")
    )
    return build_bookings(
        ctx,
        table,
        columns,
        client,
        vendor=NAME,
        format_name=f"acuity-{sniff.container}",
        statuses=STATUSES,
    )
