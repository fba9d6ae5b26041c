"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real demo chain (build_demo), built once per test session in a temp folder."""
    from pipelines.ingest.load import build_demo

    db = tmp_path_factory.mktemp("demo") / "studio.duckdb"
    build_demo(db)
    return db


def studio_copy(demo: Path, db: Path) -> Path:
    """A copy of the demo at `db` that counts as a studio's own warehouse (loads are refused
    into the demo): the demo's data, without the mark that makes it the demo."""
    import shutil

    from pipelines.ingest.load import DEMO_LAST_LOAD
    from pipelines.warehouse import store

    shutil.copyfile(demo, db)
    with store.building(db) as con:
        con.execute("delete from warehouse_info where key = ?", [DEMO_LAST_LOAD])
    return db
