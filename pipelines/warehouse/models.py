"""The SQL models of sql/marts: the order they run in, and running one script.

A build runs the staging views, then every mart in dependency order; an incremental build runs
the same scripts with their `--incremental:` lines switched on (pipelines.warehouse.incremental).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipelines.warehouse.store import SQL_DIR, WarehouseError, first_line, timed

# A line an incremental build switches on (the comment marker is removed, the SQL kept).
INCREMENTAL_LINE = re.compile(r"^(\s*)--incremental: ?", re.MULTILINE)


def mart_scripts() -> list[Path]:
    """Mart SQL files in dependency order (a mart runs after the marts its text names)."""
    scripts = {p.stem: p for p in (SQL_DIR / "marts").glob("*.sql")}
    texts = {name: p.read_text() for name, p in scripts.items()}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise WarehouseError(f"sql/marts: circular reference through {name}")
        visiting.add(name)
        for other in scripts:
            if other != name and re.search(rf"\b{re.escape(other)}\b", texts[name]):
                visit(other)
        visiting.discard(name)
        ordered.append(name)

    for name in sorted(scripts):
        visit(name)
    return [scripts[name] for name in ordered]


def run_script(con: duckdb.DuckDBPyConnection, script: Path) -> None:
    execute(con, script, script.read_text())


def execute(con: duckdb.DuckDBPyConnection, script: Path, text: str) -> None:
    try:
        with timed(script.stem):
            con.execute(text)
    except duckdb.Error as error:
        raise WarehouseError(f"{script.relative_to(SQL_DIR.parent)}: {first_line(error)}") from None
