"""Row validation: canonical text rows in, typed rows and rejected rows (with a reason) out.

Validation runs in DuckDB, one set-based query per kind, so that it stays fast on millions of
rows. Each query computes every typed column and a `reason` (the first rule a row breaks, or
NULL). Dates and times are parsed only with the explicit formats below, so `03/04/2024` is a
rejected row, never a guess between March and April.
"""

from __future__ import annotations

import re

import duckdb

from pipelines.canonical import KINDS, STATUSES

DATETIME_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
]
DATE_FORMAT = "%Y-%m-%d"
TIME_FORMATS = ["%H:%M:%S", "%H:%M"]

# A rejected row's raw text is kept up to this many characters, then a note of its whole length:
# a 503 MB rejected row once made the Data page run out of memory.
RAW_ROW_LIMIT = 2048
_CUT_NOTE = re.compile(r" \[cut: [0-9,]+ characters in all\]")

TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")

# Vendor status words (docs/exports.md, Status words) keyed by their letters only, lowercased,
# so that "No Show", "NoShow", "no_show" and "No-Show" are one word.
STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ["completed", "checkedout", "show", "arrived", "servicecompleted", "paid", "checkedin"],
        "completed",
    ),
    **dict.fromkeys(
        [
            "booked",
            "confirmed",
            "accepted",
            "pending",
            "requested",
            # vendor words (docs/exports.md): Jane, Vagaro
            "bookedonline",
            "awaitingconfirmation",
        ],
        "booked",
    ),
    **dict.fromkeys(["noshow", "missed"], "no_show"),
    **dict.fromkeys(
        [
            "cancelled",
            "canceled",
            "cancelledbycustomer",
            "canceledbycustomer",
            "cancelledbyseller",
            "canceledbyseller",
            "declined",  # Square: the seller declined the request; the slot stays free
        ],
        "cancelled",
    ),
    **dict.fromkeys(
        ["latecancel", "latecancelled", "latecanceled", "latecancellation"], "late_cancelled"
    ),
}
CANONICAL_STATUSES = STATUSES  # the canonical model's (pipelines.canonical)


def status_key(word: str) -> str:
    """The lookup key of a status word: its letters, lowercased."""
    return re.sub(r"[^a-z]", "", word.lower())


def canonical_status(word: str) -> str | None:
    """The canonical status for a vendor word, or None when the word is unknown."""
    return STATUS_WORDS.get(status_key(word))


def capped_raw(text: str, whole: int | None = None) -> str:
    """A rejected row's raw text cut to RAW_ROW_LIMIT characters, with a note of its whole
    length (`whole`, when the text given is already a shortened form of the row). Text that
    is already cut is returned as it is."""
    if len(text) <= RAW_ROW_LIMIT or _CUT_NOTE.fullmatch(text, RAW_ROW_LIMIT):
        return text
    return text[:RAW_ROW_LIMIT] + f" [cut: {whole or len(text):,} characters in all]"


def capped_raw_sql(raw: str) -> str:
    """SQL twin of capped_raw over an expression."""
    return (
        f"case when length({raw}) > {RAW_ROW_LIMIT} then left({raw}, {RAW_ROW_LIMIT}) || "
        f"printf(' [cut: %,d characters in all]', length({raw})) else {raw} end"
    )


def _install_helpers(con: duckdb.DuckDBPyConnection) -> None:
    """Temp macros and the status-word table the validation queries use."""
    dt_formats = "[" + ", ".join(f"'{f}'" for f in DATETIME_FORMATS) + "]"
    time_formats = "[" + ", ".join(f"'{f}'" for f in TIME_FORMATS) + "]"
    true_words = ", ".join(f"'{w}'" for w in TRUE_WORDS)
    false_words = ", ".join(f"'{w}'" for w in FALSE_WORDS)
    con.execute(
        f"""
        create or replace temp macro parse_datetime(x) as try_strptime(x, {dt_formats});
        create or replace temp macro parse_date(x) as
            cast(try_strptime(x, '{DATE_FORMAT}') as date);
        create or replace temp macro parse_time(x) as
            cast(try_strptime(x, {time_formats}) as time);
        -- 'true' and 'false' as written (nearly every cell) are matched first, without
        -- lowercasing and trimming each cell
        create or replace temp macro parse_bool(x) as case x
            when 'true' then true
            when 'false' then false
            else case
                when lower(trim(x)) in ({true_words}) then true
                when lower(trim(x)) in ({false_words}) then false
            end
        end;
        -- Strip currency symbols and codes, then thousands separators (a comma before three
        -- digits); a comma left over is a decimal comma, which is ambiguous: rejected. A
        -- price of digits and points only (nearly every cell) is kept as it is, which the
        -- two replacements would do too: one match costs less than two replacements.
        create or replace temp macro price_text(x) as case
            when regexp_full_match(x, '[0-9.]*') then x
            else regexp_replace(
                regexp_replace(x, '[^0-9.,\\-]', '', 'g'), ',([0-9]{{3}})', '\\1', 'g'
            )
        end;
        create or replace temp macro parse_minutes(x) as try_cast(trim(x) as integer);
        create or replace temp macro quoted(x) as '''' || left(x, 60) || '''';
        -- The canonical status of a word: looked up by the word lowercased first, which is
        -- its key whenever it is one (a key is letters only), and only otherwise by its
        -- letters, so the regular expression runs on unusual spellings alone. A CASE and a
        -- map, not a join: the rows stay in file order, which the fast read's line numbers
        -- rely on. The letters are looked up in the map, which names them once: a CASE
        -- repeats its subject in every WHEN, and DuckDB then computed the regular
        -- expression for every row before COALESCE could skip it.
        create or replace temp macro status_of_key(k) as {_status_case("k")};
        create or replace temp macro canonical_status(x) as coalesce(
            status_of_key(lower(x)), {_status_map()}[regexp_replace(lower(x), '[^a-z]', '', 'g')]
        );
        """
    )


def _status_map() -> str:
    """SQL: a MAP of every status key (STATUS_WORDS) to its canonical status."""
    pairs = ", ".join(f"'{word}': '{status}'" for word, status in STATUS_WORDS.items())
    return "map {" + pairs + "}"


def _status_case(key: str) -> str:
    """SQL: the canonical status of a status key (STATUS_WORDS), NULL when unknown."""
    whens = " ".join(f"when '{word}' then '{status}'" for word, status in STATUS_WORDS.items())
    return f"case {key} {whens} end"


# Every text cell a rule or typed column needs is parsed once, here: (name, expression).
_PARSED: dict[str, list[tuple[str, str]]] = {
    "bookings": [
        ("start_at_value", "parse_datetime(start_at)"),
        ("end_at_value", "parse_datetime(end_at)"),
        ("duration_value", "parse_minutes(duration_minutes)"),
        ("created_at_value", "parse_datetime(created_at)"),
        ("cancelled_at_value", "parse_datetime(cancelled_at)"),
        ("uses_bars_value", "parse_bool(uses_bars)"),
        ("price_digits", "price_text(price)"),
    ],
    "rooms": [
        ("date_value", "parse_date(date)"),
        ("has_bars_value", "parse_bool(has_bars)"),
        ("opens_value", "parse_time(opens_at)"),
        ("closes_value", "parse_time(closes_at)"),
        ("blocked_value", "parse_minutes(blocked_minutes)"),
    ],
    "therapist_shifts": [
        ("date_value", "parse_date(date)"),
        ("bar_trained_value", "parse_bool(bar_trained)"),
        ("start_value", "parse_time(shift_start)"),
        ("end_value", "parse_time(shift_end)"),
        ("break_value", "parse_minutes(break_minutes)"),
    ],
    "locations": [],
}
# ... and what is derived from those once more (price: after the decimal-comma rule).
_DERIVED: dict[str, list[tuple[str, str]]] = {
    "bookings": [("price_value", "try_cast(price_digits as decimal(12, 2))")],
}

# Each rule: (condition that breaks it, reason). The first broken rule is the row's reason.
_DATETIME_HINT = " is not a date-time (expected YYYY-MM-DD HH:MM)"
_BOOL_HINT = " is not a yes/no value (true/false, yes/no, y/n, 1/0)"
_TIME_HINT = " is not a time (expected HH:MM)"

_RULES: dict[str, list[tuple[str, str]]] = {
    "bookings": [
        ("booking_id is null", "'booking_id is missing'"),
        ("location_id is null", "'location_id is missing (add the column or pass --location)'"),
        ("therapist_id is null", "'therapist_id is missing'"),
        ("client_id is null", "'client_id is missing'"),
        ("service is null", "'service is missing'"),
        ("start_at is null", "'start_at is missing'"),
        (
            "start_at_value is null",
            f"'start_at ' || quoted(start_at) || '{_DATETIME_HINT}'",
        ),
        (
            "end_at is not null and end_at_value is null",
            f"'end_at ' || quoted(end_at) || '{_DATETIME_HINT}'",
        ),
        ("end_at is null and duration_minutes is null", "'end_at or duration_minutes is missing'"),
        (
            "end_at is null and coalesce(duration_value, 0) <= 0",
            "'duration_minutes ' || quoted(duration_minutes) || ' is not a whole number > 0'",
        ),
        (
            "end_at is not null and end_at_value <= start_at_value",
            "'end_at ' || quoted(end_at) || ' is not after start_at ' || quoted(start_at)",
        ),
        ("status is null", "'status is missing'"),
        ("status_canonical is null", "'unknown status ' || quoted(status)"),
        (
            "uses_bars is not null and uses_bars_value is null",
            f"'uses_bars ' || quoted(uses_bars) || '{_BOOL_HINT}'",
        ),
        (
            "created_at is not null and created_at_value is null",
            f"'created_at ' || quoted(created_at) || '{_DATETIME_HINT}'",
        ),
        (
            "cancelled_at is not null and cancelled_at_value is null",
            f"'cancelled_at ' || quoted(cancelled_at) || '{_DATETIME_HINT}'",
        ),
        (
            "price is not null and price_digits like '%,%'",
            "'price ' || quoted(price) || ' has a decimal comma; use a point (95.50)'",
        ),
        (
            "price is not null and price_value is null",
            "'price ' || quoted(price) || ' is not a number'",
        ),
        (
            "price is not null and price_value < 0",
            "'price ' || quoted(price) || ' is negative'",
        ),
    ],
    "rooms": [
        ("date is null", "'date is missing'"),
        (
            "date_value is null",
            "'date ' || quoted(date) || ' is not a date (expected YYYY-MM-DD)'",
        ),
        ("location_id is null", "'location_id is missing (add the column or pass --location)'"),
        ("room_id is null", "'room_id is missing'"),
        (
            "has_bars_value is null",
            f"'has_bars ' || quoted(coalesce(has_bars, '')) || '{_BOOL_HINT}'",
        ),
        (
            "opens_value is null",
            f"'opens_at ' || quoted(coalesce(opens_at, '')) || '{_TIME_HINT}'",
        ),
        (
            "closes_value is null",
            f"'closes_at ' || quoted(coalesce(closes_at, '')) || '{_TIME_HINT}'",
        ),
        (
            "closes_value <= opens_value",
            "'closes_at ' || quoted(closes_at) || ' is not after opens_at ' || quoted(opens_at)",
        ),
        (
            "blocked_minutes is not null and coalesce(blocked_value, -1) < 0",
            "'blocked_minutes ' || quoted(blocked_minutes) || ' is not a whole number >= 0'",
        ),
    ],
    "therapist_shifts": [
        ("date is null", "'date is missing'"),
        (
            "date_value is null",
            "'date ' || quoted(date) || ' is not a date (expected YYYY-MM-DD)'",
        ),
        ("location_id is null", "'location_id is missing (add the column or pass --location)'"),
        ("therapist_id is null", "'therapist_id is missing'"),
        (
            # a blank cell is unknown (kept NULL, never "no"), as a Square timecard's is
            "bar_trained is not null and bar_trained_value is null",
            f"'bar_trained ' || quoted(bar_trained) || '{_BOOL_HINT}'",
        ),
        (
            "start_value is null",
            f"'shift_start ' || quoted(coalesce(shift_start, '')) || '{_TIME_HINT}'",
        ),
        (
            "end_value is null",
            f"'shift_end ' || quoted(coalesce(shift_end, '')) || '{_TIME_HINT}'",
        ),
        (
            "end_value <= start_value",
            "'shift_end ' || quoted(shift_end) || ' is not after shift_start '"
            " || quoted(shift_start)",
        ),
        (
            "break_minutes is not null and coalesce(break_value, -1) < 0",
            "'break_minutes ' || quoted(break_minutes) || ' is not a whole number >= 0'",
        ),
    ],
    "locations": [
        ("location_id is null", "'location_id is missing'"),
    ],
}

# The SQL that gives each typed column of a kind from the checked text columns. Which columns a
# kind has, and their order (the raw table's), come from the canonical model.
_TYPED_SQL: dict[str, dict[str, str]] = {
    "bookings": {
        "source": "coalesce(source, 'native')",
        "booking_id": "booking_id",
        "location_id": "location_id",
        "room_id": "room_id",
        "therapist_id": "therapist_id",
        "client_id": "client_id",
        # already checked by the adapter (pii.client_ref_sql): a name, email or phone is NULL
        "client_ref": "client_ref",
        "service": "service",
        "uses_bars": "uses_bars_value",
        "status": "status_canonical",
        "status_word": "status",
        "price": "price_value",
        "start_at": "start_at_value",
        "end_at": "coalesce(end_at_value, start_at_value + to_minutes(duration_value))",
        "created_at": "created_at_value",
        "cancelled_at": "cancelled_at_value",
    },
    "rooms": {
        "date": "date_value",
        "location_id": "location_id",
        "room_id": "room_id",
        "room_name": "room_name",
        "has_bars": "has_bars_value",
        "opens_at": "opens_value",
        "closes_at": "closes_value",
        "blocked_minutes": "coalesce(blocked_value, 0)",
    },
    "therapist_shifts": {
        "date": "date_value",
        "location_id": "location_id",
        "therapist_id": "therapist_id",
        "therapist_name": "therapist_name",
        "bar_trained": "bar_trained_value",
        "shift_start": "start_value",
        "shift_end": "end_value",
        "break_minutes": "coalesce(break_value, 0)",
    },
    "locations": {
        "location_id": "location_id",
        "name": "name",
        "timezone": "timezone",
    },
}

# The typed columns each kind produces, in raw-table order (without load_id, line_number).
_TYPED: dict[str, list[tuple[str, str]]] = {
    kind: [(name, _TYPED_SQL[kind][name]) for name in KINDS[kind].typed_columns()]
    for kind in _TYPED_SQL
}


def unknown_location_reason(name_sql: str) -> str:
    """The SQL of the reason a row whose location display name nothing resolves is rejected."""
    return (
        f"'location ' || quoted({name_sql}) || ' is not known: add it to the studio profile "
        "or to [locations] in the mapping'"
    )


def typed_columns(kind: str) -> list[str]:
    """The typed column names that `validate` produces for a kind (raw-table order)."""
    return [name for name, _ in _TYPED[kind]]


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether temp table `table` (not a parenthesised SELECT) has `column`."""
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() where table_name = ? and column_name = ?",
            [table, column],
        ).fetchone()[0]
    )


def validate(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    source: str,
    target: str,
    params: dict[str, object] | None = None,
    raw_row: str = "raw_row",
    max_booking_hours: int | None = None,
    numbered: bool = True,
    kept: tuple[str, ...] = (),
) -> None:
    """Validate `source` (a temp table or a parenthesised SELECT of canonical text, taking the
    named `params`) into temp table `target`.

    `target` has line_number, raw_row, reason and the typed columns; rows with a NULL reason
    are valid, the others are rejected with that reason. `raw_row` is the SQL expression of a
    row's raw text over `source`; it is computed for rejected rows only. A booking longer than
    `max_booking_hours` is rejected (None: no limit).

    Without `numbered`, `source` has no line_number and neither has `target`: its rows are in
    `source`'s order (nothing here reorders them), so a caller numbers them by row id. The
    typed columns named in `kept` are given for rejected rows too (else NULL there).
    """
    _install_helpers(con)
    rules = list(_RULES[kind])
    if kind == "bookings" and _has_column(con, source, "location_name"):
        # a vendor's Location display name that resolved to no location (formats.common)
        position = next(n for n, (cond, _) in enumerate(rules) if cond == "location_id is null")
        rules.insert(
            position, ("location_name is not null", unknown_location_reason("location_name"))
        )
    if kind == "bookings" and max_booking_hours is not None:
        ends = "coalesce(end_at_value, start_at_value + to_minutes(duration_value))"
        too_long = (
            f"{ends} > start_at_value + interval ({int(max_booking_hours)}) hour",
            f"'the booking lasts longer than {int(max_booking_hours)} hours, the limit "
            "(the max_booking_hours setting raises it)'",
        )
        # right after the rules that make the end time known and after the start
        position = next(n for n, (_, why) in enumerate(rules) if "is not after start_at" in why)
        rules.insert(position + 1, too_long)
    parsed = "".join(f", {expr} as {name}" for name, expr in _PARSED[kind])
    derived = "".join(f", {expr} as {name}" for name, expr in _DERIVED.get(kind, []))
    reason = "case " + " ".join(f"when {cond} then {why}" for cond, why in rules) + " end"
    typed = ", ".join(
        f"{expr} as {name}"
        if name in kept
        else f"case when reason is null then {expr} end as {name}"
        for name, expr in _TYPED[kind]
    )
    status = "canonical_status(status)" if kind == "bookings" else "cast(null as varchar)"
    capped = capped_raw_sql(f"({raw_row})")
    line = "line_number, " if numbered else ""
    # Layers: parse each cell once, derive from the parsed values, pick the first broken rule,
    # then type the valid rows.
    con.execute(
        f"""
        create or replace temp table {target} as
        select {line}case when reason is not null then {capped} end as raw_row, reason,
            {typed}
        from (
            select *, {reason} as reason
            from (
                select *{derived}
                from (
                    select *, {status} as status_canonical{parsed}
                    from {source}
                )
            )
        )
        """,
        params or {},
    )
