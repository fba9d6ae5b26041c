"""People-friendly numbers and tables: %, hours, money, column names, safe CSV.

Pure functions (no Streamlit), so they are easy to test and reuse.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

DASH = "–"


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def half_up(number: float, digits: int = 1) -> float:
    """`number` rounded to `digits` decimals as people round: a half away from zero (11.25 ->
    11.3). Python's round() and format() take a half to the even digit, on the binary value
    (11.25 -> 11.2, 22.5 -> 22), so one day's room use read 11% on one page and 11.2% on
    another. The binary noise of `* 100` (0.145 * 100 = 14.499999999999998) is dropped first."""
    if not math.isfinite(number):
        return float(number)
    exact = Decimal(repr(round(float(number), 9)))
    return float(exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def pct(value: object, digits: int = 1) -> str:
    """A 0..1 rate as a percentage with one decimal ("72.5%"), the same on every page and in
    every table (half_up); a missing rate as a dash."""
    if _missing(value):
        return DASH
    return f"{half_up(float(value) * 100, digits):.{digits}f}%"


def hours(value: object, digits: int = 1) -> str:
    """Hours with one decimal ("12.5 h")."""
    if _missing(value):
        return DASH
    return f"{float(value):,.{digits}f} h"


def money(value: object, symbol: str = "$", digits: int = 0) -> str:
    """An amount with the studio's currency symbol ("$1,234")."""
    if _missing(value):
        return DASH
    amount = float(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.{digits}f}"


def count(value: object) -> str:
    """A whole number with thousands separators."""
    if _missing(value):
        return DASH
    return f"{round(float(value)):,}"


def change(now: object, before: object, kind: str, symbol: str = "$") -> str | None:
    """The change from `before` to `now` for a KPI tile (None when either is missing).

    Rates change in percentage points ("+3.2 pts"), counts and money by their difference.
    """
    if _missing(now) or _missing(before):
        return None
    diff = float(now) - float(before)
    if kind == "rate":
        return f"{half_up(diff * 100):+.1f} pts"
    if kind == "money":
        # cents below one unit: a RevPATH that moved 40 cents reads "-$0.40", not "-$0"
        digits = 2 if abs(diff) < 1 else 0
        return ("+" if diff >= 0 else "-") + money(abs(diff), symbol, digits)
    return f"{round(diff):+,}"


# Column names in the studio's words, and how to show each kind of value.
LABELS: dict[str, str] = {
    "location_name": "Location",
    "room": "Room",
    "has_bars": "Has bars",
    "therapist": "Therapist",
    "bar_trained": "Bar-trained",
    "date": "Date",
    "day_or_week_start": "Day / week of",
    "period": "Period",
    "week": "Week of",
    "cohort_month": "First-visit month",
    "room_utilization": "Room utilization",
    "bar_utilization": "Bar utilization",
    "bar_fit": "Bar fit",
    "therapist_utilization": "Therapist utilization",
    "utilization": "Utilization",
    "bookings": "Bookings",
    "completed": "Completed visits",
    "no_shows": "No-shows",
    "no_show_rate": "No-show rate",
    "cancellations": "Cancellations",
    "late_cancellations": "Late cancels",
    "revenue": "Revenue",
    "revpath": "RevPATH",
    "new_clients": "New clients",
    "rebooked_visits": "Rebooked visits",
    "rebooking_rate": "Rebooking rate",
    "available_hours": "Room hours open",
    "occupied_hours": "Room hours booked",
    "bar_hours": "Bar-work hours",
    "non_bar_hours_in_bar_room": "Non-bar hours in bar room",
    "shift_days": "Shift days",
    "scheduled_hours": "Shift hours",
    "booked_hours": "Booked hours",
    "sessions": "Sessions",
    "hands_on_hours": "Hands-on hours",
    "bar_sessions": "Bar sessions",
    "most_bar_sessions_in_a_day": "Most bar sessions in a day",
    "back_to_back_pairs": "Back-to-back sessions",
    "days_over_bar_limit": "Days over bar limit",
    "days_over_hands_on_limit": "Days over hands-on limit",
    "hours_booked_outside_shift": "Hours booked outside shift",
    "flag": "Flag",
    "over_limit": "Over the limit",
    "load": "Load that day",
    "could_take_over": "Could take it over",
    "kind": "Finding",
    "entity_id": "Booking / room / therapist",
    "detail": "Detail",
    "findings": "Findings",
    "first_by": "First",
    "contents": "Contents",
    "therapist_label": "Therapist",
    "eligible": "Window closed",
    "returned": "Came back",
    "return_rate": "Return rate",
    "client_id": "Client",
    "client_status": "Status",
    "first_location": "First-visit location",
    "first_visit_date": "First visit",
    "last_visit_date": "Last visit",
    "days_since_last_visit": "Days since last visit",
    "completed_visits": "Visits",
    "started_at": "Loaded at",
    "file_name": "File",
    "format": "Format",
    "outcome": "Outcome",
    "rows_read": "Rows read",
    "rows_loaded": "Rows loaded",
    "rows_rejected": "Rows rejected",
    "message": "Message",
    "line_number": "Line",
    "reason": "Reason",
    "raw_row": "Row as exported",
    "extra_bar_room_hours": "Hours an extra bar room would sell",
    "extra_bar_shift_hours": "Hours an extra bar-trained shift would sell",
    "runs_out_first": "Runs out first",
    "booked_share": "Booked",
    "days": "Days",
    "change_vs_previous": "vs prev.",
}

RATE_COLUMNS = {
    "room_utilization",
    "bar_utilization",
    "bar_fit",
    "therapist_utilization",
    "utilization",
    "no_show_rate",
    "rebooking_rate",
    "return_rate",
    "booked_share",
    "bar_room_utilization",
    "tightest_utilization",
}
MONEY_COLUMNS = {"revenue", "revpath"}
HOUR_COLUMNS = {c for c in LABELS if c.endswith("_hours")}
COUNT_COLUMNS = {
    "bookings",
    "completed",
    "no_shows",
    "cancellations",
    "late_cancellations",
    "new_clients",
    "rebooked_visits",
    "sessions",
    "bar_sessions",
    "back_to_back_pairs",
    "findings",
    "eligible",
    "returned",
    "completed_visits",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "shift_days",
    "days_over_bar_limit",
    "days_over_hands_on_limit",
}


# Return per retention window (kpis.returns): return_90 is a rate, eligible_90 and
# returned_90 are counts, one trio per window the settings configure.
_WINDOWED = re.compile(r"(return|eligible|returned)_(\d+)")


def _window_part(column: str) -> str | None:
    """'return', 'eligible' or 'returned' for a per-window return column, else None."""
    found = _WINDOWED.fullmatch(column)
    return found.group(1) if found else None


def _is_rate(column: str) -> bool:
    return column in RATE_COLUMNS or _window_part(column) == "return"


def label(column: str, symbol: str = "$") -> str:
    """The people name of a column, with its unit ("Room utilization %", "Revenue ($)")."""
    name = LABELS.get(column, column.replace("_", " ").capitalize())
    if column not in LABELS and _window_part(column):
        part, days = _WINDOWED.fullmatch(column).groups()
        name = {
            "return": f"{days}-day return",
            "eligible": f"{days}-day window closed",
            "returned": f"Back within {days} days",
        }[part]
    if _is_rate(column):
        return f"{name} %"
    if column in MONEY_COLUMNS:
        return f"{name} ({symbol})"
    return name


def people_table(frame: pd.DataFrame, symbol: str = "$", keep: Iterable[str] = ()) -> pd.DataFrame:
    """The frame as people read it: named columns, rates in %, hours and money rounded.

    Columns listed in `keep` are passed through unchanged; the rest are dropped only when
    they are internal (location_id, is_total, weekday_number).
    """
    internal = {"location_id", "is_total", "weekday_number"} - set(keep)
    shown = frame.drop(columns=[c for c in frame.columns if c in internal])
    out = pd.DataFrame(index=shown.index)
    for column in shown.columns:
        values = shown[column]
        if _is_rate(column):
            # rounded as the tiles are (half_up), so a table and a tile read the same figure
            values = (pd.to_numeric(values, errors="coerce") * 100).map(
                lambda v: v if pd.isna(v) else half_up(v)
            )
        elif column in MONEY_COLUMNS:
            values = pd.to_numeric(values, errors="coerce").round(2)
        elif column in HOUR_COLUMNS:
            values = pd.to_numeric(values, errors="coerce").round(1)
        elif column in COUNT_COLUMNS or _window_part(column) in ("eligible", "returned"):
            values = pd.to_numeric(values, errors="coerce").round(0).astype("Int64")
        elif pd.api.types.is_bool_dtype(values):
            values = values.map({True: "yes", False: "no"})
        elif pd.api.types.is_datetime64_any_dtype(values):
            if (values.dropna().dt.normalize() == values.dropna()).all():
                values = values.dt.date
        out[label(column, symbol)] = values
    return out.reset_index(drop=True)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What starts a formula once a spreadsheet (or the import in front of it) has dropped leading
# blanks: = + - @ and their full-width forms, which Excel with an East Asian IME reads as =.
_FORMULA_SIGNS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _leading_blank(char: str) -> bool:
    """Whitespace, a control character (NUL, ESC, ...) or an invisible format character (BOM,
    zero-width space, word joiner): nothing a reader sees, so nothing a guard may stop at."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def csv_safe_cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula: text starting with tab or CR, or whose
    first visible character is = + - @ (after any whitespace and control characters, as OWASP
    advises), gets a leading quote. Numbers are left as numbers."""
    if not isinstance(value, str):
        return value
    visible = value
    while visible and _leading_blank(visible[0]):
        visible = visible[1:]
    if value.startswith(_FORMULA_STARTS) or visible.startswith(_FORMULA_SIGNS):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV with formula-like text cells neutralised (the one place for it)."""
    safe = frame.copy()
    safe.columns = [csv_safe_cell(str(c)) for c in safe.columns]
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(csv_safe_cell)
    # CRLF rows (RFC 4180) make the csv writer quote every cell holding a CR: with "\n" rows a
    # bare CR went out unquoted, a spreadsheet starts a new row there, and "x\r=cmd" opened a
    # row with the formula =cmd.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


# Markdown and Streamlit's own syntax: CommonMark lets any ASCII punctuation be escaped with
# a backslash, so all of it is (* _ [ ] ( ) # + - . ! | < > ` ~ $ : & \ and the rest).
_MD_PUNCTUATION = frozenset(string.punctuation)
# An invisible word joiner (U+2060) breaks what Streamlit finds in the text after escapes are
# read, where a backslash no longer helps: emoji shortcodes (":smile:") and bare links
# ("https://...", "www.x", "a@b.c"). It goes after ":" and "@", and between "www" and ".".
WORD_JOINER = "\u2060"


def md_text(value: object) -> str:
    """A value from the data (a location, room, therapist or service name, a file name, an error
    line) as markdown that shows exactly its text, for st.markdown, captions, titles, notes,
    tile labels and help. Line breaks and other control characters become spaces, so a value
    cannot start a heading, list or table of its own."""
    if value is None:
        return ""
    text = "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char for char in str(value)
    )
    out: list[str] = []
    for number, char in enumerate(text):
        if number == 0 and char == " ":
            # four leading spaces make an indented code block; an entity space is not indentation
            out.append("&#32;")
            continue
        if char == "." and "".join(out[-3:]).lower() == "www":
            out.append(WORD_JOINER)
        out.append("\\" + char if char in _MD_PUNCTUATION else char)
        if _starts_shortcode_or_link(char, text[number + 1 :]):
            out.append(WORD_JOINER)
    return "".join(out)


# After a colon, what may continue an emoji (:smile:, :100:), icon (:material/x:), colour
# directive (:red[x]) or link scheme (https://). A colon before a space or a time's minutes
# ("line 3: ...", "09:00") gets no joiner, so copied messages and times stay plain text.
_SHORTCODE_AFTER_COLON = re.compile(r"[A-Za-z/\[_+-]|\d+:")


def _starts_shortcode_or_link(char: str, rest: str) -> bool:
    """Whether `char` followed by `rest` could start markup that a backslash does not stop."""
    if char == "@":
        return bool(rest) and not rest[0].isspace()
    return char == ":" and bool(_SHORTCODE_AFTER_COLON.match(rest))


def cohort_table(cohorts: pd.DataFrame, windows: Iterable[int]) -> pd.DataFrame:
    """Cohort rows as people read them: "41.7% (50 of 120)" per window, "open" while not
    closed."""
    rows = []
    for record in cohorts.to_dict("records"):
        row: dict[str, object] = {
            "First-visit month": pd.Timestamp(record["cohort_month"]).strftime("%b %Y"),
            "New clients": count(record["new_clients"]),
        }
        for days in windows:
            eligible = record.get(f"eligible_{days}")
            returned = record.get(f"returned_{days}")
            if _missing(eligible) or float(eligible) == 0:
                cell = "open"
            else:
                rate = float(returned or 0) / float(eligible)
                cell = f"{pct(rate)} ({count(returned)} of {count(eligible)})"
            row[f"Back within {days} days"] = cell
        rows.append(row)
    return pd.DataFrame(rows)


def is_finite(value: object) -> bool:
    """True for a real, finite number."""
    if _missing(value):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def meaning(metric_name: str) -> str | None:
    """The metric's meaning from the metric dictionary, for tile help; None if not defined."""
    try:
        from pipelines.metrics import metric

        return metric(metric_name).meaning
    except Exception:  # a tile without help is better than a page that fails
        return None
