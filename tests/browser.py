"""The browser harness every browser test (and the benchmark) shares: the app started with
`streamlit run` on a free port, the system Chromium launched headless, and the wait for a page
to settle. A test module keeps only what its own app needs (the warehouse, the access file).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest

from pipelines.access import ACCESS_ENV
from pipelines.settings import SETTINGS_ENV

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
# A browser test is skipped, with the reason shown, where Chromium or playwright is absent.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"
    ),
    pytest.mark.skipif(find_spec("playwright") is None, reason="playwright is not installed"),
]


def browser_test(test):
    """Mark one test as driving the real app in headless Chromium (see BROWSER_MARKS)."""
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def studio_env(
    db: Path, *, access_file: Path | None = None, settings: Path | None = None, **more: str
) -> dict[str, str | None]:
    """The app's environment for one warehouse, with this access file and settings file or
    none (a developer's own STUDIO_OPS_ACCESS or STUDIO_OPS_SETTINGS never reaches a test)."""
    return {
        "STUDIO_OPS_DB": str(db),
        ACCESS_ENV: None if access_file is None else str(access_file),
        SETTINGS_ENV: None if settings is None else str(settings),
        **more,
    }


@dataclass(frozen=True)
class App:
    """A running `streamlit run`: its address, its output and its process."""

    url: str
    port: int
    log: Path
    process: subprocess.Popen


@contextmanager
def streamlit_app(
    log: Path,
    env: dict[str, str | None],
    *,
    script: Path | str = "streamlit_app.py",
    seconds: float = 90,
) -> Iterator[App]:
    """`streamlit run script` on a free port of 127.0.0.1, its output in `log`; `env` goes
    over this process's environment (None removes a name). Yields once the server answers
    its health check; stops the server on leaving (terminate, then kill after 10 s)."""
    port = free_port()
    environment = {**os.environ}
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    command = [
        *(sys.executable, "-m", "streamlit", "run", str(script)),
        *("--server.headless", "true", "--server.port", str(port)),
        *("--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"),
    ]
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            _wait_for_health(server, port, log, seconds)
            yield App(f"http://127.0.0.1:{port}", port, log, server)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_for_health(server: subprocess.Popen, port: int, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not answer within {seconds:g} s:\n{log.read_text()}")
        time.sleep(0.3)


@contextmanager
def chromium() -> Iterator:
    """The system Chromium, headless (a playwright Browser); closed on leaving."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@asynccontextmanager
async def async_chromium() -> AsyncIterator:
    """The same Chromium through Playwright's asyncio API (many viewers at once in one event
    loop: the benchmark's concurrent sessions); closed on leaving."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextmanager
def chromium_page() -> Iterator:
    """One tab at 1280×800 (the size of the screenshots and the UI review) in a headless
    Chromium of its own; closed on leaving."""
    with chromium() as browser:
        yield browser.new_page(viewport=VIEWPORT)


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
