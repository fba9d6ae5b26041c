"""The warehouse the dashboard shows: made ready once per process, read through one reader."""

import streamlit as st

from pipelines.ingest.load import build_demo
from pipelines.settings import shown_db_path
from pipelines.warehouse.store import remove_leftovers


@st.cache_resource(show_spinner=False)
def _remove_load_leftovers(db: str) -> bool:
    """Once per process and warehouse: remove a killed load's copy and spill (raw client rows)."""
    return remove_leftovers(db)


def remove_load_leftovers() -> None:
    """Before any page: a killed load's leftovers (they hold raw client rows) are removed."""
    _remove_load_leftovers(str(shown_db_path()))


def ensure_warehouse() -> None:
    """The studio's own warehouse once `studio-ops init` made it, else the demo in its own file,
    built on first start; the two never mix (pipelines.ingest.load refuses the mix)."""
    shown = shown_db_path()
    if not shown.exists():
        with st.spinner(
            "First run: building a demo chain of three studios so you can look around…"
        ):
            build_demo(shown)
