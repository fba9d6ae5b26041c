"""The real app in headless Chromium: every page draws, no exception box, a screenshot each.

Screenshots go to screenshots/ (git-ignored) so a person can look at each page at 1280×800.
"""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import studio_copy

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# (url path, file name, a chart is expected)
PAGES = [
    ("", "today", True),
    ("capacity", "capacity", True),
    ("bar_rooms", "bar_rooms", True),
    ("therapists", "therapists", True),
    ("clients", "clients", True),
    ("locations", "locations", True),
    ("loads", "data", False),
    ("metric_dictionary", "metric_dictionary", False),
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"
    ),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_server(
    demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`streamlit run` on a free port against a studio's copy of the demo (uploads load into
    it; the demo itself takes none); yields (URL, warehouse path)."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("server")
    log = folder / "streamlit.log"
    db = studio_copy(demo_warehouse, folder / "studio.duckdb")
    env = {**os.environ, "STUDIO_OPS_DB": str(db)}
    env.pop("STUDIO_OPS_SETTINGS", None)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "streamlit_app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not answer within 60 s:\n{log.read_text()}")
                time.sleep(0.3)
            yield f"http://127.0.0.1:{port}", db
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def browser_page(app_server):
    """One headless Chromium tab at 1280×800."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            yield page
        finally:
            browser.close()


def wait_until_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait for the app to be connected and its script to have finished running."""
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout_ms
    )
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms
    )
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stSkeleton']", state="detached", timeout=timeout_ms)


@pytest.mark.parametrize(("path", "name", "has_chart"), PAGES, ids=[p[1] for p in PAGES])
def test_page_draws_without_an_exception(browser_page, app_server, path, name, has_chart):
    page = browser_page
    page.goto(f"{app_server[0]}/{path}")
    wait_until_idle(page)
    page.wait_for_selector("h1", timeout=30_000)
    if has_chart:
        page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=30_000)
        page.wait_for_timeout(500)  # let the charts finish drawing before the screenshot
    else:
        page.wait_for_selector("[data-testid='stDataFrame']", timeout=30_000)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
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
    page.goto(f"{app_server[0]}/therapists")
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
