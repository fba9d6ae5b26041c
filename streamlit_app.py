"""studio-ops dashboard: the router only (page config, sign-in, first-run demo, navigation)."""

import logging

import streamlit as st

from dashboard import auth, data, upload_guard
from dashboard.format import md_text
from pipelines.settings import shown_db_path
from pipelines.warehouse import WarehouseError, remove_leftovers

st.set_page_config(page_title="Studio ops", page_icon=":material/spa:", layout="wide")


@st.cache_resource(show_spinner=False)
def _remove_load_leftovers(db: str) -> bool:
    """Once per process and warehouse: remove a killed load's copy and spill (raw client rows)."""
    return remove_leftovers(db)


_remove_load_leftovers(str(shown_db_path()))

PAGES = {
    "Studio": [
        st.Page("dashboard/pages/today.py", title="Today", icon=":material/today:", default=True),
        st.Page("dashboard/pages/capacity.py", title="Capacity", icon=":material/grid_view:"),
        st.Page(
            "dashboard/pages/bar_rooms.py",
            title="Ceiling-bar rooms",
            icon=":material/fitness_center:",
        ),
        st.Page("dashboard/pages/therapists.py", title="Therapists", icon=":material/groups:"),
        st.Page(
            "dashboard/pages/clients.py", title="Clients & retention", icon=":material/loyalty:"
        ),
    ],
    "Owner": [
        st.Page("dashboard/pages/locations.py", title="Locations", icon=":material/storefront:"),
    ],
    "Data": [
        st.Page("dashboard/pages/loads.py", title="Data", icon=":material/upload_file:"),
        st.Page(
            "dashboard/pages/metric_dictionary.py",
            title="Metric dictionary",
            icon=":material/menu_book:",
        ),
    ],
}

upload_guard.install()  # once per process: uploads need a signed-in viewer who may load
viewer = auth.gate()
upload_guard.allow_uploads(viewer is not None and viewer.may_upload)
pages = PAGES
if viewer is not None and viewer.sees_every_location and viewer.may_upload:
    # the studio profile describes every location: owners only (everyone on an open app)
    setup = st.Page("dashboard/pages/setup.py", title="Setup", icon=":material/tune:")
    pages = {**PAGES, "Owner": [*PAGES["Owner"], setup]}
page = st.navigation(pages, position="sidebar" if viewer else "hidden")

# Without a viewer the sign-in form (or why nobody can sign in) is shown instead of a page.
if viewer is not None:
    try:
        # The studio's own warehouse once `studio-ops init` made it, else the demo in its own
        # file, built on first start; the two never mix (pipelines.ingest.load refuses the mix).
        shown = shown_db_path()
        if not shown.exists():
            from pipelines.ingest.load import build_demo

            with st.spinner(
                "First run: building a demo chain of three studios so you can look around…"
            ):
                build_demo(shown)
        if data.is_demo():
            st.info(
                "This is the built-in demo chain (made-up data). Start your own with "
                "`studio-ops init`, then load your exports (README: Set up your studio).",
                icon=":material/science:",
            )
        else:
            st.sidebar.caption(f"Your studio's warehouse: {md_text(shown)}")
        page.run()
    except WarehouseError as error:
        # error lines can quote paths and values from the data: shown as text, not markdown
        st.error(md_text(error))
    except Exception as error:  # the page shows one line; the server log keeps the trace
        logging.getLogger("studio_ops.dashboard").exception("page %s failed", page.title)
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        st.error(f"This page could not be shown: {md_text(first_line)}")
