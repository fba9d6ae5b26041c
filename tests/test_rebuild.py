"""`studio-ops rebuild`: a warehouse whose marts were built by an older studio-ops gets one
line on the page saying how to refresh it, and the command brings it up to date."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.hostile import fingerprint, run_cli
from tests.test_load import BOOKING_HEADER, booking, write_csv

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


@pytest.fixture
def old_warehouse(tmp_path: Path) -> Path:
    """A loaded warehouse whose dim_locations lacks display_name, as marts of an older
    version did (that column came with the one-definition change)."""
    db = tmp_path / "studio.duckdb"
    export = write_csv(tmp_path / "b.csv", BOOKING_HEADER, [booking()])
    assert run_cli("load", str(export), "--db", str(db)).returncode == 0
    with duckdb.connect(str(db)) as con:
        con.execute("alter table dim_locations drop column display_name")
    return db


def first_page(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    st.cache_data.clear()
    st.cache_resource.clear()
    return AppTest.from_file(str(APP), default_timeout=60).run()


def test_an_older_warehouse_says_how_to_refresh_and_rebuild_does(
    old_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = first_page(old_warehouse, monkeypatch)
    assert not at.exception
    [error] = [e.value.replace("\\", "") for e in at.error]
    assert error == (
        f"studio.duckdb was built by an older version of studio-ops: run studio-ops rebuild "
        f"--db {old_warehouse} (or load any export) to bring its figures up to date"
    )
    run = run_cli("rebuild", "--db", str(old_warehouse))
    # in the studio's words: "marts" is ours, not theirs
    assert run.returncode == 0
    assert run.lines[0].startswith(f"rebuilt every figure of {old_warehouse} from its loaded data")
    at = first_page(old_warehouse, monkeypatch)
    assert not at.exception and not at.error


def test_rebuild_without_a_warehouse_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "nothing.duckdb"
    run = run_cli("rebuild", "--db", str(db))
    assert run.returncode == 1
    assert run.lines == [f"studio-ops: {db}: no warehouse here (studio-ops init creates one)"]
    assert fingerprint(db) == "absent"
