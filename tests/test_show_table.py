"""Tables behind a "Show table" toggle (issue 18): hidden unless the table is what the page is
for, the CSV download in view either way, which tables are open kept in the URL (`tables=`,
and `hidden=` for a table shown by default) beside the filters' own parameters, and every
page's charts drawn before its tables. Against the real demo warehouse in AppTest, and in
Chromium: a table turned on stays on after a reload."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import navigation, tables
from tests.browser import browser_test, chromium_page, streamlit_app, studio_env, wait_until_idle

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT = 60


@pytest.fixture(autouse=True)
def app_env(demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STUDIO_OPS_DB", str(demo_warehouse))
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(page: str, query: dict[str, object] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"dashboard/pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def listed(at: AppTest, key: str) -> list[str]:
    """A repeated URL parameter's values (AppTest keeps one value as a string)."""
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def downloads(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def therapist_table(at: AppTest):
    # the Therapists table: one row per therapist, with its shift days (the flags have none)
    found = [f.value for f in at.dataframe if "Shift days" in f.value]
    return found[0] if found else None


def test_a_table_hidden_by_default_has_no_grid_but_its_download(demo_warehouse: Path) -> None:
    at = open_page("therapists")
    toggles = {t.key: t for t in at.toggle}
    assert set(toggles) == {"table-therapists", "table-therapist-flags", "table-rebalancing-hints"}
    assert all(t.label == "Show table" and t.value is False for t in toggles.values())
    assert not at.dataframe
    # one download per table, shown or not
    assert downloads(at) == ["Download CSV"] * 3
    assert "tables" not in at.query_params


def test_turning_the_toggle_on_shows_the_table_and_writes_the_url() -> None:
    at = open_page("therapists")
    at.toggle(key="table-therapists").set_value(True).run()
    assert len(at.dataframe) == 1 and therapist_table(at) is not None
    assert at.query_params["tables"] == "therapists"
    at.toggle(key="table-therapist-flags").set_value(True).run()
    assert len(at.dataframe) == 2
    assert at.query_params["tables"] == "therapists,therapist-flags"
    # off again: out of the URL, the other stays
    at.toggle(key="table-therapists").set_value(False).run()
    assert therapist_table(at) is None and len(at.dataframe) == 1
    assert at.query_params["tables"] == "therapist-flags"
    at.toggle(key="table-therapist-flags").set_value(False).run()
    assert not at.dataframe and "tables" not in at.query_params


def test_opening_the_page_with_the_parameter_shows_the_tables_it_names() -> None:
    at = open_page("therapists", {"tables": "therapist-flags,therapists"})
    assert at.toggle(key="table-therapists").value is True
    assert at.toggle(key="table-therapist-flags").value is True
    assert at.toggle(key="table-rebalancing-hints").value is False
    assert len(at.dataframe) == 2 and therapist_table(at) is not None
    # a name the page does not have changes nothing and is kept
    at = open_page("therapists", {"tables": "nonsense,therapists"})
    assert len(at.dataframe) == 1 and therapist_table(at) is not None


def test_the_filters_parameters_survive_the_toggle_and_the_toggle_survives_the_filters() -> None:
    at = open_page("capacity", {"from": "2026-10-05", "to": "2026-10-18", "locations": "L01"})
    at.toggle(key="table-utilization-by-room").set_value(True).run()
    assert at.query_params["tables"] == "utilization-by-room"
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-10-05", "2026-10-18")
    assert listed(at, "locations") == ["L01"]
    # the filters change: the table stays shown and in the URL, the dates follow the widget
    at.date_input(key="filter_dates").set_value((dt.date(2026, 10, 1), dt.date(2026, 10, 28)))
    at.multiselect(key="filter_locations").set_value(["L01", "L02"]).run()
    assert not at.exception
    assert at.query_params["tables"] == "utilization-by-room"
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-10-01", "2026-10-28")
    assert listed(at, "locations") == ["L01", "L02"]
    assert at.toggle(key="table-utilization-by-room").value is True
    [rooms] = [f.value for f in at.dataframe]
    assert rooms["Location"].nunique() == 2


def test_the_locations_page_keeps_its_rank_and_more_columns_with_the_tables() -> None:
    at = open_page(
        "locations",
        {"rank": "Rebooking", "more": ["bookings", "no_shows"], "tables": "locations"},
    )
    assert at.query_params["rank"] == "Rebooking"
    assert listed(at, "more") == ["bookings", "no_shows"]
    assert at.query_params["tables"] == "locations"
    [table] = at.dataframe
    assert {"Bookings", "No-shows"} <= set(table.value.columns)
    # hidden: the More columns question goes with the table, ?more= stays for when it is back
    at.toggle(key="table-locations").set_value(False).run()
    assert not at.dataframe and not [m for m in at.multiselect if m.key == "more_columns"]
    assert listed(at, "more") == ["bookings", "no_shows"]
    assert "tables" not in at.query_params and at.query_params["rank"] == "Rebooking"
    at.toggle(key="table-locations").set_value(True).run()
    [table] = at.dataframe
    assert {"Bookings", "No-shows"} <= set(table.value.columns)


def test_the_day_pages_appointments_are_shown_until_hidden_and_hidden_is_kept() -> None:
    at = open_page("today")
    assert at.toggle(key="table-appointments").value is True
    assert any("Status" in f.value for f in at.dataframe)
    assert "hidden" not in at.query_params and "tables" not in at.query_params
    at.toggle(key="table-appointments").set_value(False).run()
    assert not at.dataframe
    assert at.query_params["hidden"] == "appointments"
    assert downloads(at) == ["Download CSV"]
    # the link with hidden= opens it hidden; the day and location are still in it
    assert {"location", "day"} <= set(at.query_params)
    again = open_page("today", {"hidden": "appointments"})
    assert not again.dataframe and again.toggle(key="table-appointments").value is False


def test_the_data_page_and_the_metric_dictionary_are_their_tables_with_no_toggle() -> None:
    for page in ("loads", "metric_dictionary"):
        at = open_page(page)
        assert not at.toggle, page
        assert len(at.dataframe) == len(downloads(at)) >= 2, page


def test_the_csv_is_the_same_whether_the_table_is_shown_or_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The CSV is written when the button is clicked; AppTest has no server to click through,
    # so keep each button's writer and run it as the click would.
    written: dict[str, bytes] = {}
    original = tables.st.download_button

    def keep(label, data, file_name, **kwargs):
        written[file_name] = data()
        return original(label, data, file_name, **kwargs)

    monkeypatch.setattr(tables.st, "download_button", keep)
    names = {"therapists.csv", "therapist-flags.csv", "rebalancing-hints.csv"}
    open_page("therapists")
    hidden = {name: text for name, text in written.items() if name in names}
    written.clear()
    at = open_page("therapists", {"tables": "therapists,therapist-flags,rebalancing-hints"})
    assert len(at.dataframe) == 3
    assert set(hidden) == names
    assert {name: text for name, text in written.items() if name in names} == hidden
    # and it is the table's rows: a header and a line per therapist
    shown = therapist_table(at)
    assert hidden["therapists.csv"].decode().count("\n") == len(shown) + 1


def _in_order(block, out: list[str]) -> list[str]:
    """The page's elements in the order they are drawn (blocks walked depth first)."""
    for child in block.children.values():
        if getattr(child, "children", None):
            _in_order(child, out)
        else:
            out.append(child.type)
    return out


@pytest.mark.parametrize("page", [p.name for p in navigation.visible(owner=False) if p.has_chart])
def test_charts_come_before_tables(page: str) -> None:
    at = open_page(page)
    order = _in_order(at.main, [])
    charts = [i for i, kind in enumerate(order) if kind == "vega_lite_chart"]
    toggles = [i for i, kind in enumerate(order) if kind in ("toggle", "arrow_data_frame")]
    assert charts, page
    if toggles:
        assert charts[0] < toggles[0], (page, order)


@browser_test
def test_in_the_browser_a_table_turned_on_stays_on_after_a_reload(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    with (
        chromium_page() as page,
        # no file watcher: an edit elsewhere in the checkout must not hold the page "running"
        streamlit_app(
            tmp_path / "app.log",
            studio_env(demo_warehouse, STREAMLIT_SERVER_FILE_WATCHER_TYPE="none"),
            seconds=60,
        ) as app,
    ):
        page.goto(f"{app.url}/therapists")
        wait_until_idle(page)
        grids = page.locator("[data-testid='stDataFrame']")
        assert grids.count() == 0
        assert page.get_by_role("button", name="Download CSV").count() == 3
        page.get_by_text("Show table").first.click()
        grids.first.wait_for(timeout=30_000)
        wait_until_idle(page)
        assert "tables=therapists" in page.url
        page.reload()
        wait_until_idle(page)
        grids.first.wait_for(timeout=30_000)
        assert grids.count() == 1
        assert "tables=therapists" in page.url
        assert page.get_by_role("switch", name="Show table").first.is_checked()
