"""The real app in headless Chromium: every page draws, no exception box, a screenshot each.

Screenshots go to screenshots/ (git-ignored) so a person can look at each page at 1280×800.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import navigation
from tests.browser import (
    BROWSER_MARKS,
    ROOT,
    chromium_page,
    streamlit_app,
    studio_env,
    wait_until_idle,
)
from tests.conftest import studio_copy

SHOTS = ROOT / "screenshots"
# The pages of an open app's sidebar but Setup (its own tests fill its forms).
PAGES = navigation.visible(owner=False)

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def app_server(
    demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`streamlit run` on a free port against a studio's copy of the demo (uploads load into
    it; the demo itself takes none); yields (URL, warehouse path)."""
    folder = tmp_path_factory.mktemp("server")
    db = studio_copy(demo_warehouse, folder / "studio.duckdb")
    with streamlit_app(folder / "streamlit.log", studio_env(db), seconds=60) as app:
        yield app.url, db


@pytest.fixture(scope="module")
def browser_page(app_server):
    """One headless Chromium tab at 1280×800."""
    with chromium_page() as page:
        yield page


@pytest.mark.parametrize("shown", PAGES, ids=[shown.name for shown in PAGES])
def test_page_draws_without_an_exception(browser_page, app_server, shown: navigation.Page):
    page = browser_page
    page.goto(f"{app_server[0]}/{shown.url_path}")
    wait_until_idle(page)
    page.wait_for_selector("h1", timeout=30_000)
    if shown.has_chart:
        page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=30_000)
        page.wait_for_timeout(500)  # let the charts finish drawing before the screenshot
    else:
        page.wait_for_selector("[data-testid='stDataFrame']", timeout=30_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shown.name}.png"))
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0, page.locator(
        "[data-testid='stAlertContentError']"
    ).first.inner_text()


def test_a_bad_upload_shows_one_line_and_changes_nothing(browser_page, app_server, tmp_path):
    page = browser_page
    base, db = app_server
    before = db.stat().st_mtime_ns, db.stat().st_size
    bad = tmp_path / "not-an-export.csv"
    bad.write_text("hello,world\n1,2\n")
    page.goto(f"{base}/loads")
    wait_until_idle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(bad))
    page.get_by_text(bad.name).first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Load files").click()
    error = page.locator("[data-testid='stAlertContentError']").first
    error.wait_for(timeout=60_000)
    wait_until_idle(page)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "data_bad_upload.png"))
    message = error.inner_text().strip()
    assert message.startswith("not-an-export.csv: not loaded: ")
    assert "\n" not in message
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before
    assert page.locator("[data-testid='stException']").count() == 0


def test_download_csv_writes_the_table_shown_when_clicked(browser_page, app_server):
    # The CSV is written on the click (a deferred download), so this is the only test that
    # sees the real bytes. The grid's aria-rowcount counts its header row, like the CSV's lines.
    page = browser_page
    # the table shown (its toggle's state in the URL), to count its rows against the CSV
    page.goto(f"{app_server[0]}/therapists?tables=therapists")
    wait_until_idle(page)
    grid = page.locator("[data-testid='stDataFrame'] [role=grid]").first
    grid.wait_for(state="attached", timeout=30_000)
    shown_rows = int(grid.get_attribute("aria-rowcount")) - 1
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Download CSV").first.click()
    assert download.value.suggested_filename == "therapists.csv"
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0][:2] == ["Location", "Therapist"]
    assert len(rows) - 1 == shown_rows > 0
