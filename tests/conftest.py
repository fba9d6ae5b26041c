"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real demo chain (build_demo), built once per test session in a temp folder."""
    from pipelines.load import build_demo

    db = tmp_path_factory.mktemp("demo") / "studio.duckdb"
    build_demo(db)
    return db
