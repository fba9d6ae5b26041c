"""Hardening (issue 13, items 13 and 14): data never becomes markdown, and CSV cells never formulas.

Item 13: a location, room, therapist or service name from an export is shown as the text it is,
on every page, never read as a link, bold, heading, colour directive, icon, emoji or LaTeX.
Item 14: the CSV formula guard looks past leading whitespace and control characters.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from dashboard import format as fmt
from dashboard import navigation
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.test_load import BOOKING_HEADER, booking, write_csv

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
PAGES = navigation.names()  # every page a signed-in viewer sees (Setup: owners only)
TIMEOUT = 60

# --- what Streamlit's markdown would make of a source ---------------------------------------

# CommonMark (links, bold, headings, code, inline HTML) as markdown-it reads it; Streamlit's
# react-markdown is CommonMark too, plus the extensions checked below.
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
WORD_JOINER = "\u2060"
# Streamlit's own syntax, as its frontend finds it (streamlit/static/.../StreamlitMarkdown.js):
# a text directive `:red[...]`, `:material/icon:` (rewritten to a directive), an emoji shortcode
# (the emoji plugin loads when the source matches the last pattern).
DIRECTIVE = re.compile(r"(?<!\\):[A-Za-z][\w-]*[\[:/]")
EMOJI = re.compile(r":(?!material/|streamlit:)[\w+-][\w+-]*:")
# Streamlit's LaTeX detection: code spans and escaped \ $ ` are blanked first, then $$..$$, a
# $..$ pair, or a money-like "$5...$" at the end turn KaTeX on.
_BLANKED = re.compile(
    r"(?:^|(?<=\n)) {0,3}(`{3,}|~{3,})[\s\S]*?(?:\n[ \t]*\1|$)|(?<!`)(`+)[^`\n]+\2(?!`)|\\[\\$`]"
)
_MATH = [
    re.compile(r"(?<!\$)\$\$+(?!\$)[\s\S]*?\$\$"),
    re.compile(r"(?<!\$)\$(?![\s$])[^$\n]*?[^\s$]\$(?!\d)"),
    re.compile(r"(\$\d[^$\n\\^{}=]*)\$(?=[^\s$]*$)"),
]


# GFM autolinks, which Streamlit finds with these regexes in the text after escapes are read
# (mdast-util-gfm-autolink-literal), so a backslash alone does not stop them.
AUTOLINK = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE | re.ASCII)
EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)


def _text_nodes(source: str) -> list[str]:
    return [
        child.content
        for token in MARKDOWN.parse(source)
        for child in token.children or []
        if child.type == "text"
    ]


def streamlit_syntax(source: str) -> list[str]:
    """The markdown constructs a source would render as something other than its text."""
    found = []
    for token in MARKDOWN.parse(source):
        if token.type in ("heading_open", "html_block", "code_block", "fence", "hr", "table_open"):
            found.append(token.type)
        for child in token.children or []:
            if child.type in ("link_open", "image", "html_inline", "code_inline", "s_open"):
                found.append(child.type)
    if DIRECTIVE.search(source):
        found.append("directive")
    if EMOJI.search(source):
        found.append("emoji")
    if any(AUTOLINK.search(text) or EMAIL.search(text) for text in _text_nodes(source)):
        found.append("autolink")
    blanked = _BLANKED.sub("_", source)
    if "$" in source and any(p.search(blanked) for p in _MATH):
        found.append("latex")
    return found


def rendered_text(source: str) -> str:
    """The text a reader sees: the source rendered as CommonMark, markup dropped."""
    parts = []
    for token in MARKDOWN.parse(source):
        for child in token.children or []:
            if child.type in ("text", "code_inline", "html_inline"):
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
        if token.type == "paragraph_close":
            parts.append(" ")
    return "".join(parts).replace(WORD_JOINER, "").strip()


# --- a warehouse whose names are hostile markdown ---------------------------------------------

LINK = "**[click](https://evil)**"
SQLISH = "L01'); drop table raw_bookings; --"
# Location A's id is SQL-ish text, its name a bold link and a colour directive; location B's name
# a heading, LaTeX, an icon and an emoji. Rooms, therapists and services carry the rest.
LOC_A = (SQLISH, f"{LINK} :red[x]")
LOC_B = ("L02", "# heading $x$ and $y$ :material/warning: :smile: <b>b</b> `c`")
ROOMS = {
    LOC_A[0]: [("R1", "[room](https://evil) :blue[bars]", "yes"), ("R2", "$1$ room", "no")],
    LOC_B[0]: [("R1", "# Room :material/bolt:", "yes"), ("R2", "<b>Room</b> ~~two~~", "no")],
}
THERAPISTS = {  # id -> name (blank: the id is shown)
    "**T1**": "~~Maya~~ :green[Chen]",
    ":violet[T2]": "",
}
SERVICES = [f"Ashiatsu 60 {LINK}", "# Swedish $5$ :orange[x]"]
DAYS = [f"2024-03-{d:02d}" for d in range(4, 11)]  # Mon 4 - Sun 10 March 2024
NO_BOOKINGS_AT_B = "2024-03-11"  # B has its rooms and shifts but no bookings
A_ONLY = "2024-03-12"  # B has nothing at all
HOSTILE_NAMES = [LOC_A[1], LOC_B[1]]
RAW_MARKUP = [LINK, ":red[", ":blue[", ":green[", ":violet[", ":orange[", ":material/", "$x$"]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two locations, a week of rooms, shifts and bookings, every name hostile markdown."""
    folder = tmp_path_factory.mktemp("hostile-names")
    db = folder / "studio.duckdb"
    locations = write_csv(
        folder / "locations.csv",
        ["location_id", "name", "timezone"],
        [{"location_id": i, "name": n, "timezone": "UTC"} for i, n in (LOC_A, LOC_B)],
    )
    rooms, shifts, bookings = [], [], []
    number = 0
    for location, room_list in ROOMS.items():
        for day in DAYS + [NO_BOOKINGS_AT_B] + ([A_ONLY] if location == LOC_A[0] else []):
            for room_id, room_name, bars in room_list:
                rooms.append({"date": day, "location_id": location, "room_id": room_id,
                              "room_name": room_name, "has_bars": bars, "opens_at": "09:00",
                              "closes_at": "17:00", "blocked_minutes": "0"})  # fmt: skip
            for therapist, name in THERAPISTS.items():
                shifts.append({"date": day, "location_id": location, "therapist_id": therapist,
                               "therapist_name": name, "bar_trained": "yes",
                               "shift_start": "09:00", "shift_end": "17:00",
                               "break_minutes": "30"})  # fmt: skip
            if location == LOC_B[0] and day == NO_BOOKINGS_AT_B:
                continue
            # per location and day: T1 works a bar session in R1, T2 a Swedish in R2; the
            # clients come back every day, so retention and rebooking have rows
            for hour, (room, therapist, service) in enumerate(
                [("R1", "**T1**", SERVICES[0]), ("R2", ":violet[T2]", SERVICES[1])]
            ):
                number += 1
                bookings.append(
                    booking(
                        booking_id=f"B{number}",
                        location_id=location,
                        room_id=room,
                        therapist_id=therapist,
                        client_id=f"C{hour}-{location}",
                        service=service,
                        uses_bars="yes" if room == "R1" else "no",
                        start_at=f"{day} {10 + hour}:00",
                        end_at=f"{day} {11 + hour}:00",
                        created_at="2024-03-01 09:00",
                    )  # fmt: skip
                )
    files = [
        locations,
        write_csv(folder / "rooms.csv", list(rooms[0]), rooms),
        write_csv(folder / "shifts.csv", list(shifts[0]), shifts),
        write_csv(folder / "bookings.csv", BOOKING_HEADER, bookings),
    ]
    results = load_files(db, files, Settings())
    assert [r.outcome for r in results] == ["loaded"] * 4, [r.summary() for r in results]
    return db


@pytest.fixture
def hostile_app(hostile_db: Path, monkeypatch: pytest.MonkeyPatch):
    """The app, open (no access file), on the hostile warehouse; caches cleared around it."""
    monkeypatch.setenv("STUDIO_OPS_DB", str(hostile_db))
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield hostile_db
    st.cache_data.clear()


def open_page(page: str, query: dict[str, object]) -> AppTest:
    """The page opened from a link with `query` (set again after the first run, which is the
    Today page and rewrites the URL with its own filters)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(f"dashboard/pages/{page}.py").run()
    return at


# Streamlit syntax the app writes itself (the open-access note's icon), not from data.
APP_OWNED = [":material/lock_open:"]


def markdown_sources(at: AppTest) -> list[tuple[str, str]]:
    """(where, source) of everything on the page Streamlit renders as markdown, without the
    syntax the app itself writes."""
    found = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "error", "success", "toast"):  # fmt: skip
        found += [(kind, str(e.value)) for e in at.get(kind)]
    for metric in at.metric:
        found += [("metric label", metric.label), ("metric help", metric.proto.help)]
    for widget in [*at.multiselect, *at.selectbox, *at.date_input, *at.button_group]:
        found += [("widget label", widget.label), ("widget help", widget.proto.help or "")]
    for own in APP_OWNED:
        found = [(where, source.replace(own, "")) for where, source in found]
    return found


@pytest.mark.parametrize("page", PAGES)
def test_names_from_exports_are_shown_as_text_on_every_page(hostile_app: Path, page: str) -> None:
    # Both locations picked (a link), so the captions name them; Today on location A.
    at = open_page(page, {"locations": [LOC_A[0], LOC_B[0]], "location": LOC_A[0]})
    assert not at.exception
    sources = markdown_sources(at)
    for where, source in sources:
        assert streamlit_syntax(source) == [], f"{page} {where}: {source!r}"
        assert not any(raw in source for raw in RAW_MARKUP), f"{page} {where}: {source!r}"
    # The names do reach the page where a caption or heading names the locations, and read
    # exactly as exported once rendered (so the escapes hide nothing and add nothing).
    seen = " | ".join(rendered_text(source) for _, source in sources)
    expected = {
        "today": [LOC_A[1]],
        "week_ahead": [LOC_A[1]],  # one location's week, like today
        "metric_dictionary": [],
        "loads": [],
    }.get(page, HOSTILE_NAMES)
    for name in expected:
        assert name in seen, f"{page}: {name!r} not shown; saw {seen[:500]!r}"


@pytest.mark.parametrize(
    ("day", "notes"),
    # 11 March: B's tiles, then "No appointments at B" and "No bookings at B" (the room
    # timeline); 12 March is past B's data (A's data keeps it in the chain's range), so the
    # page moves to B's nearest day with data, 11 March, and says so in a caption naming B
    [(NO_BOOKINGS_AT_B, 2), (A_ONLY, 2)],
)
def test_today_notes_for_an_empty_day_escape_the_location_name(
    hostile_app: Path, day: str, notes: int
) -> None:
    at = open_page("today", {"location": LOC_B[0], "day": day})
    assert not at.exception
    for where, source in markdown_sources(at):
        assert streamlit_syntax(source) == [], f"{where}: {source!r}"
    shown = [rendered_text(i.value) for i in at.info]
    assert sum(LOC_B[1] in note for note in shown) == notes, shown
    # the title names B's day; a moved day's note (12 March) names it in a caption too
    assert any(LOC_B[1] in rendered_text(t.value) for t in [*at.title, *at.caption])


def test_capacity_names_each_bottleneck_map_by_its_location_as_text(hostile_app: Path) -> None:
    at = open_page("capacity", {"locations": [LOC_A[0], LOC_B[0]]})
    # one bold heading per location, the name inside it as text: **<escaped name>**
    headings = [m.value for m in at.markdown if m.value.startswith("**")]
    assert sorted(rendered_text(h) for h in headings) == sorted(HOSTILE_NAMES)
    for heading in headings:
        types = [
            c.type
            for t in MARKDOWN.parse(heading)
            for c in t.children or []
            if c.content or c.type != "text"  # markdown-it's empty text tokens aside
        ]
        # exactly one bold run, around the whole name: the name's own ** are text
        assert types[0] == "strong_open" and types[-1] == "strong_close", heading
        assert set(types[1:-1]) == {"text"}, heading


# --- the escape helper ---------------------------------------------------------------------

MARKDOWN_HOSTILE = [
    LINK,
    ":red[x]",
    ":red-background[x]",
    ":material/warning:",
    ":smile:",
    "$x$",
    "$$x$$",
    "# heading",
    "## heading",
    "> quote",
    "- item",
    "+ item",
    "1. item",
    "1) item",
    SQLISH,
    "<b>bold</b> <script>alert(1)</script>",
    "`code` ```fence```",
    "~~struck~~",
    "_em_ *em* __strong__",
    "![img](https://evil/x.png)",
    "a | b | c",
    "https://evil.example www.evil.example WWW.evil.example mail@evil.example",
    "x:y@z.example http://a.b",
    "&lt; &#42;&#42;entity&#42;&#42;",
    "back\\slash \\*",
    "[ref]: https://evil",
    ":help[x] :small[x] :color[x]{foreground=red}",
    "    indented",
    "---",
    "===",
]


@pytest.mark.parametrize("text", MARKDOWN_HOSTILE)
def test_md_text_is_read_as_exactly_the_text(text: str) -> None:
    escaped = fmt.md_text(text)
    assert streamlit_syntax(escaped) == []
    # inside a caption sentence and inside bold, as the pages use it
    assert streamlit_syntax(f"At {escaped} today") == []
    assert streamlit_syntax(f"**{escaped}**") == []
    assert rendered_text(f"At {escaped} today") == f"At {text} today"
    if text == text.strip():  # (bold needs no space inside its stars)
        assert rendered_text(f"**{escaped}**") == text


def test_md_text_escapes_each_syntax_character_and_flattens_lines() -> None:
    for char in "\\`*_[]()#+-.!|<>~$:&{}":
        assert fmt.md_text(char).startswith("\\" + char), char
    # a colon that could open a shortcode also gets an invisible word joiner: the emoji plugin
    # reads `:name:` after the backslashes are gone, so the joiner is what keeps ":smile:" a
    # word; a colon before a space or a time's minutes gets none, so messages copy as written
    assert fmt.md_text(":smile:") == f"\\:{WORD_JOINER}smile\\:"
    assert fmt.md_text(":100:") == f"\\:{WORD_JOINER}100\\:"
    assert WORD_JOINER not in fmt.md_text("a.csv: not loaded: line 3: opens 09:00-20:00")
    # newlines and other control characters become spaces: a name cannot start a new block
    assert fmt.md_text("a\nb\r\nc\td\x00e") == "a b  c d e"
    assert rendered_text(fmt.md_text("x\n# heading\n- item")) == "x # heading - item"
    assert fmt.md_text(None) == ""
    assert fmt.md_text(12.5) == "12\\.5"
    assert fmt.md_text("Downtown Studio 3") == "Downtown Studio 3"


def test_filters_caption_escapes_the_location_names() -> None:
    from dashboard.filters import Filters

    picked = Filters(("A",), dt.date(2024, 3, 4), dt.date(2024, 3, 10), {"A": LINK})
    assert picked.label == LINK  # the plain name, for charts and widgets
    assert streamlit_syntax(picked.caption) == []
    assert rendered_text(picked.caption) == f"{LINK} · 04 Mar 2024 – 10 Mar 2024"


# --- the CSV formula guard --------------------------------------------------------------------

# What may come before a formula: whitespace and control characters a spreadsheet (or the
# import step in front of it) drops, and the invisible format characters (zero-width space,
# BOM, word joiner).
LEADERS = ["\r", "\t", "\n", " ", "  \t", "\x00", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f",
           "\u00a0", "\u2028", "\u200b", "\ufeff", "\u2060", "\r\n\t "]  # fmt: skip
TRIGGERS = ["=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20"]


@pytest.mark.parametrize("leader", LEADERS, ids=[repr(x) for x in LEADERS])
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_formula_behind_whitespace_or_control_characters_is_neutralised(
    leader: str, trigger: str
) -> None:
    cell = f'{leader}{trigger}HYPERLINK("https://evil")'
    assert fmt.csv_safe_cell(cell) == "'" + cell


def test_csv_bytes_leaves_no_cell_that_starts_a_formula() -> None:
    cells = [f"{lead}{trig}1+1" for lead in LEADERS for trig in TRIGGERS]
    # a CR or LF inside a cell: a spreadsheet starts a new row there unless the cell is quoted,
    # and the new row would begin with the formula
    cells += ["Room 1\r=HYPERLINK(1)", "Room 2\n+1", "Room 3\r\n@SUM(1)"]
    frame = pd.DataFrame({"raw_row": cells, "=header": ["x"] * len(cells)})
    rows = list(csv.reader(io.StringIO(fmt.csv_bytes(frame).decode("utf-8"), newline="")))
    assert rows[0] == ["raw_row", "'=header"]
    # one row per cell (no row broken at a CR), every leading-formula cell quoted, the rest
    # kept as it was
    assert [row[0] for row in rows[1:]] == ["'" + c for c in cells[:-3]] + cells[-3:]


def test_formula_guard_keeps_numbers_and_plain_text() -> None:
    # Numbers are not text: a spreadsheet reads -2.5 as minus two and a half, not a formula.
    # The guard left numbers alone before and still does; a numeric column stays numeric.
    assert fmt.csv_safe_cell(-2) == -2
    assert fmt.csv_safe_cell(-2.5) == -2.5
    frame = pd.DataFrame({"revenue": [-2.5, 95.0], "room": ["R1", " Room 2"]})
    assert fmt.csv_bytes(frame).decode().splitlines() == ["revenue,room", "-2.5,R1", "95.0, Room 2"]
    # Text that only looks like a number is still text from an export; it was quoted before
    # (OWASP: any cell starting with -) and still is, with or without leading spaces.
    assert fmt.csv_safe_cell("-2") == "'-2"
    assert fmt.csv_safe_cell(" -2") == "' -2"
    for text in ["Ashiatsu 60", "a=b", "x-1", "", "   ", "\t", "café"]:
        expected = "'" + text if text.startswith(("\t", "\r")) else text
        assert fmt.csv_safe_cell(text) == expected, repr(text)
