"""studio-ops dashboard: the router only (page config, sign-in, first-run demo, navigation)."""

import logging

import streamlit as st

from dashboard import auth, navigation, upload_guard
from dashboard.format import md_text
from dashboard.queries import snapshot
from pipelines.settings import shown_db_path
from pipelines.warehouse.store import WarehouseError

st.set_page_config(page_title="Studio ops", page_icon=":material/spa:", layout="wide")

snapshot.remove_load_leftovers()


def _st_page(entry: navigation.Page) -> st.Page:
    """A registry entry as Streamlit's page (the default page keeps the bare URL)."""
    if entry.default:
        return st.Page(entry.file, title=entry.title, icon=entry.icon, default=True)
    return st.Page(entry.file, title=entry.title, icon=entry.icon, url_path=entry.url_path)


upload_guard.install()  # once per process: uploads need a signed-in viewer who may load
viewer = auth.gate()
upload_guard.allow_uploads(viewer is not None and viewer.may_upload)
# owners-only pages (Setup: the studio profile describes every location) need a viewer who
# sees every location and may load (everyone on an open app)
owner = viewer is not None and viewer.sees_every_location and viewer.may_upload
pages = {
    section: [_st_page(entry) for entry in entries]
    for section, entries in navigation.sections(owner).items()
}
page = st.navigation(pages, position="sidebar" if viewer else "hidden")

# Without a viewer the sign-in form (or why nobody can sign in) is shown instead of a page.
if viewer is not None:
    try:
        snapshot.ensure_warehouse()
        if snapshot.is_demo():
            # one line at 1280 px: the how-to is the README's "Set up your studio"
            st.info(
                "This is the built-in demo chain (made-up data). Start your own with "
                "`studio-ops init`.",
                icon=":material/science:",
            )
        else:
            st.sidebar.caption(f"Your studio's warehouse: {md_text(shown_db_path())}")
        page.run()
    except WarehouseError as error:
        # error lines can quote paths and values from the data: shown as text, not markdown
        st.error(md_text(error))
    except Exception as error:  # the page shows one line; the server log keeps the trace
        logging.getLogger("studio_ops.dashboard").exception("page %s failed", page.title)
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        st.error(f"This page could not be shown: {md_text(first_line)}")
