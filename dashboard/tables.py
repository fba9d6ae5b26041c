"""Show a table with its CSV download, and the empty state; shared by every page."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dashboard.format import csv_bytes, label, people_table

NO_DATA = "No data for this selection. Widen the dates or pick more locations in the sidebar."


def show_table(
    frame: pd.DataFrame,
    file_name: str,
    symbol: str = "$",
    *,
    people: bool = True,
    height: int | str = "auto",
    blank: dict[str, str | Sequence[str]] | None = None,
) -> None:
    """A table in people's terms with a CSV download of exactly what is shown. `blank` gives,
    per column, the words for an empty cell (why it is empty, e.g. "no shifts loaded"), which
    a table otherwise shows as "None"; a sequence gives the words row by row."""
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
    st.dataframe(drawn, hide_index=True, width="stretch", height=height, column_config=config)
    st.download_button(
        "Download CSV",
        # written when clicked, not on every run: a 3,000-row table took ~50 ms a run to write
        data=lambda: csv_bytes(shown),
        file_name=f"{file_name}.csv",
        mime="text/csv",
        key=f"download-{file_name}",
        # A click must not rerun the page: a rerun replaces every button's deferred file, so a
        # second download clicked before the rerun ends asked for a file that was gone.
        on_click="ignore",
        icon=":material/download:",
    )


def _number_text(value: object) -> object:
    """A number as the grid writes one (thousands separated, no trailing zeros); words as they
    are. The CSV keeps the numbers themselves."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def has_rows(frame: pd.DataFrame | None, message: str = NO_DATA) -> bool:
    """False, after showing a friendly note, when there is nothing to show."""
    if frame is None or len(frame) == 0:
        st.info(message)
        return False
    return True
