"""Show a table with its CSV download, and the empty state; shared by every page.

A table sits behind a "Show table" toggle (hidden unless it is the page's answer): a table's
grid is the costliest thing a page draws after Streamlit itself, and a collapsed expander still
draws it. Its CSV download stays in view either way. Which tables are open is kept in the URL,
so a link reproduces them: ``tables`` lists the shown ones that are hidden by default and
``hidden`` the hidden ones that are shown by default (names comma-separated, each a table's
file name), beside the filters' own parameters. Within a session the last choice is remembered
across pages, as the filters are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.format import DASH, csv_bytes, label, people_table

# The shade of a marked cell (e.g. below its location's target): a light red that the
# grid's black text stays readable on.
MARK = "#f8d7d5"
NO_DATA = "No data for this selection. Widen the dates or pick more locations in the sidebar."
SHOWN_PARAM = "tables"  # the URL parameter: tables shown that are hidden by default
HIDDEN_PARAM = "hidden"  # tables hidden that are shown by default
_SAVED = "saved_tables"


def show_table(
    frame: pd.DataFrame,
    file_name: str,
    symbol: str = "$",
    *,
    people: bool = True,
    height: int | str = "auto",
    blank: dict[str, str | Sequence[str]] | None = None,
    marked: pd.DataFrame | None = None,
    download: pd.DataFrame | None = None,
    columns: dict[str, dict] | None = None,
    toggle: bool = True,
    shown_by_default: bool = False,
    name: str | None = None,
    toggle_label: str = "Show table",
) -> None:
    """A table in people's terms with a CSV download of exactly what is shown. `blank` gives,
    per column, the words for an empty cell (why it is empty, e.g. "no shifts loaded"), which
    a table otherwise shows as "None"; a sequence gives the words row by row. `marked` (a
    column of booleans per column of `frame` to mark, same rows) shades those cells in MARK
    (the page says what the shade means). `download`, when given, is what the CSV holds
    instead (e.g. every column of a table that shows a few), written the same way. `columns`
    gives column settings per column of `frame` for the grid, e.g. a shorter header ("label",
    whose full name becomes the header's tooltip; the CSV keeps it) or a "width" in pixels,
    so a wide table fits the screen.

    The table sits behind a "Show table" toggle, hidden unless `shown_by_default` (a table a
    manager acts on); `toggle=False` draws it with no toggle (a table that is the page itself).
    `name` is the toggle's name in the URL, the file name unless that changes with the view (a
    day, a location)."""
    # the frames as they are now (copy-on-write: a page that changes one later changes a copy)
    frame = frame.copy(deep=False)
    source = frame if download is None else download.copy(deep=False)

    def written() -> pd.DataFrame:
        return _in_words(source, symbol, people, blank)[0]

    def grid() -> None:
        _, drawn, config = _in_words(frame, symbol, people, blank)
        for column, settings in (columns or {}).items():
            header = label(column, symbol) if people else column
            if header in drawn:
                # a column config is a dict: keep its number format, add the settings
                config[header] = {**config.get(header, {}), "help": header, **settings}
        _grid(drawn, marked, symbol, people, height, config)

    # A hidden table is not put in words on every run: the grid's cells are written only when
    # it is shown, the CSV's when it is downloaded (10M, all locations: the app's CPU per run of
    # Capacity 0.30 -> 0.27 s, Locations 0.29 -> 0.25 s).
    if not toggle:
        grid()
        _download(written, file_name)
        return
    # the toggle and the download on one line, the table under them when shown
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        on = _toggle(name or file_name, shown_by_default, toggle_label)
        _download(written, file_name)
    if on:
        grid()


def _grid(drawn, marked, symbol, people, height, config) -> None:
    data = drawn
    if marked is not None:
        names = {c: label(c, symbol) if people else c for c in marked.columns}
        shades = marked.reset_index(drop=True).rename(columns=names)
        data = drawn.style.apply(
            lambda cells: shades.reindex(
                index=cells.index, columns=cells.columns, fill_value=False
            ).map(lambda mark: f"background-color: {MARK}" if mark else ""),
            axis=None,
        )
    st.dataframe(data, hide_index=True, width="stretch", height=height, column_config=config)


def _download(written: Callable[[], pd.DataFrame], file_name: str) -> None:
    st.download_button(
        "Download CSV",
        # written when clicked, not on every run: a 3,000-row table took ~50 ms a run to write
        data=lambda: csv_bytes(written()),
        file_name=f"{file_name}.csv",
        mime="text/csv",
        key=f"download-{file_name}",
        # A click must not rerun the page: a rerun replaces every button's deferred file, so a
        # second download clicked before the rerun ends asked for a file that was gone.
        on_click="ignore",
        icon=":material/download:",
    )


def _url_names(param: str) -> list[str]:
    return [n for value in st.query_params.get_all(param) for n in value.split(",") if n]


def _set_url_names(param: str, names: list[str]) -> None:
    """Write one of the tables' URL parameters, leaving every other parameter as it is."""
    if names:
        st.query_params[param] = ",".join(names)
    elif param in st.query_params:
        del st.query_params[param]


def is_open(name: str, shown_by_default: bool = False) -> bool:
    """Whether the table `name` is shown in this run, before its toggle is drawn (for a widget
    that only matters while the table is shown, such as the Locations page's More columns).
    Seeded from the URL, then this session's last choice, then the default."""
    key = f"table-{name}"
    if key not in st.session_state:
        saved = st.session_state.get(_SAVED, {})
        if name in _url_names(SHOWN_PARAM):
            st.session_state[key] = True
        elif name in _url_names(HIDDEN_PARAM):
            st.session_state[key] = False
        else:
            st.session_state[key] = saved.get(name, shown_by_default)
    return bool(st.session_state[key])


def how_many(frame: pd.DataFrame, noun: str) -> str:
    """'3 sessions.': said above a table that is hidden by default, so the count is in view."""
    return f"{len(frame):,} {noun}{'' if len(frame) == 1 else 's'}."


def _toggle(name: str, default: bool, label: str) -> bool:
    """The table's toggle (seeded as is_open says), its state written back into the URL where
    it differs from the default, and remembered for this session."""
    is_open(name, default)
    on = st.toggle(label, key=f"table-{name}")
    st.session_state.setdefault(_SAVED, {})[name] = on
    for param, listed in ((SHOWN_PARAM, on and not default), (HIDDEN_PARAM, default and not on)):
        names = [n for n in _url_names(param) if n != name]
        _set_url_names(param, names + [name] if listed else names)
    return on


def _in_words(
    frame: pd.DataFrame, symbol: str, people: bool, blank: dict[str, str | Sequence[str]] | None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The table as written (`shown`, for the CSV), as drawn (`drawn`) and its column config:
    people's column names, and `blank`'s words in empty cells."""
    shown = people_table(frame, symbol) if people else frame.reset_index(drop=True)
    drawn = shown.copy()
    config = {}
    for column, words in (blank or {}).items():
        name = label(column, symbol) if people else column
        if name in shown and shown[name].isna().any():
            other = words if isinstance(words, str) else list(words)
            shown[name] = shown[name].astype(object).where(shown[name].notna(), other)
            # The grid draws a column of words and numbers as text ("106.0"): write the
            # numbers as a number column would (106, 1,234.5) and keep them to the right.
            drawn[name] = shown[name].map(_number_text)
            config[name] = st.column_config.TextColumn(alignment="right")
    config |= {
        column: st.column_config.NumberColumn(format="localized")
        for column in shown.columns
        if pd.api.types.is_numeric_dtype(shown[column])
        and not pd.api.types.is_bool_dtype(shown[column])
    }
    # Any other empty cell is drawn as "–": the grid writes None, NaN and NaT as "None". Only
    # what is drawn changes; the CSV keeps the cell empty.
    for name in drawn.columns:
        empty = drawn[name].isna()
        if not empty.any():
            continue
        number = pd.api.types.is_numeric_dtype(drawn[name]) and not pd.api.types.is_bool_dtype(
            drawn[name]
        )
        drawn[name] = drawn[name].astype(object).where(~empty, DASH)
        if number:
            drawn[name] = drawn[name].map(_number_text)
            config[name] = st.column_config.TextColumn(alignment="right")
    return shown, drawn, config


def _number_text(value: object) -> object:
    """A number as the grid writes one (thousands separated, no trailing zeros); words as they
    are. The CSV keeps the numbers themselves."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return value
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")


def has_rows(frame: pd.DataFrame | None, message: str = NO_DATA) -> bool:
    """False, after showing a friendly note, when there is nothing to show."""
    if frame is None or len(frame) == 0:
        st.info(message)
        return False
    return True
