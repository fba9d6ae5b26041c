"""The browser harness (tests/browser.py) is the one place that starts the app or Chromium:
the tests and the benchmark use it instead of keeping copies of their own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dashboard import navigation
from tests.browser import ROOT, streamlit_app

HARNESS = ROOT / "tests" / "browser.py"
# What only the harness writes: the health check it waits on, the Chromium launch, the
# launch flags and the wait for a page to settle.
HARNESS_ONLY = {
    "the app's health check": re.compile(r"_stcore/health"),
    "a Chromium launch": re.compile(r"chromium\.launch\("),
    "Chromium's flags": re.compile(r'"--disable-component-update"'),
    "the wait for a page": re.compile(r"def wait_until_idle\b"),
}


def test_only_the_harness_starts_the_app_or_chromium() -> None:
    copies = []
    for path in sorted([*ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]):
        if path in (HARNESS, Path(__file__).resolve()):
            continue
        text = path.read_text(encoding="utf-8")
        copies += [
            f"{path.relative_to(ROOT)}: {what}"
            for what, pattern in HARNESS_ONLY.items()
            if pattern.search(text)
        ]
    assert copies == [], "use tests/browser.py instead of a copy"


def test_the_harness_serves_a_script_and_stops_it(tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text("import streamlit as st\nst.write('hello')\n")
    with streamlit_app(tmp_path / "log.txt", {"STUDIO_OPS_DB": None}, script=script) as app:
        assert app.url == f"http://127.0.0.1:{app.port}"
        assert app.process.poll() is None
    assert app.process.poll() is not None  # stopped on leaving


def test_the_harness_says_when_the_app_exits_before_answering(tmp_path: Path) -> None:
    # `streamlit run` of a file that is not there exits at once: one error, with the log.
    missing = tmp_path / "missing.py"
    with pytest.raises(RuntimeError, match=r"^streamlit exited with \d+:"):
        with streamlit_app(tmp_path / "log.txt", {}, script=missing):
            pass


def hand_written_page_lists(source: str) -> list[int]:
    """Lines of list, tuple or set literals naming most pages (six or more page-file names,
    alone or in rows of plain values such as `("loads", "data", False)`): a page list kept by
    hand. A table of what each page should show (rows holding lists) is not a page list."""
    names = {page.name for page in navigation.PAGES}
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            named = set()
            for item in node.elts:
                values = item.elts if isinstance(item, ast.Tuple) else [item]
                if not all(isinstance(value, ast.Constant) for value in values):
                    continue
                named |= {
                    value.value
                    for value in values
                    if isinstance(value, ast.Constant) and value.value in names
                }
            if len(named) >= 6:
                found.append(node.lineno)
    return found


def test_page_lists_come_from_the_registry() -> None:
    # dashboard/navigation.py is the one page registry: the router, the tests and the benchmark
    # read it, so a new page is added in one place.
    lists = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted([*ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")])
        for line in hand_written_page_lists(path.read_text(encoding="utf-8"))
    ]
    assert lists == [], "read the pages from dashboard.navigation"


def test_a_hand_written_page_list_is_found() -> None:
    # the check above can fail: the list test_browser.py kept before the registry
    source = 'PAGES = [("", "today", True), ("capacity", "capacity", True), ("bar_rooms",),\n'
    source += '("therapists",), ("clients",), ("locations",), ("loads", "data", False)]\n'
    assert hand_written_page_lists(source) == [1]
