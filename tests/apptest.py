"""What AppTest-based tests share: opening every table a page hides behind its "Show table"
toggle, for tests that read those tables."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def show_every_table(at: AppTest) -> AppTest:
    """Turn on every table's "Show table" toggle and run the page again (for tests that read
    the tables of a page where they are hidden by default)."""
    toggles = [t for t in at.toggle if t.key and t.key.startswith("table-") and not t.value]
    for toggle in toggles:
        toggle.set_value(True)
    if toggles:
        at.run()
        # a table under another (e.g. a day's, once the page is drawn again) has its own
        return show_every_table(at)
    return at
