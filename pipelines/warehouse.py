"""The DuckDB warehouse: connect, migrate, rebuild marts, publish snapshots.

DuckDB allows one read-write process or many read-only ones, and a read-only connection held
open blocks a writer (DESIGN.md invariant 3). So nothing ever writes the published file in
place: a load takes an exclusive lock, copies the published file to ``<db>.building``, works on
that copy, rebuilds the marts, checks them, and publishes with ``os.replace``. Readers open the
published file read-only, briefly; a reader that opened the old file keeps reading it intact.
A load killed at any point leaves the published file as it was; the next load discards the
half-built copy (the lock is an ``flock``, which the kernel releases when a process dies).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.marts import build_settings_marts
from pipelines.settings import Settings

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or built; the message says why in one line."""


class DataQualityError(WarehouseError):
    """A mart failed a check before publishing; nothing was published."""


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with a quiet progress bar (output must stay clean)."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as error:
        raise WarehouseError(f"{path}: cannot open the warehouse ({_first_line(error)})") from None
    con.execute("set enable_progress_bar = false")
    return con


def open_snapshot(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open the published warehouse read-only; close it soon, it is a snapshot."""
    path = Path(path)
    if not path.exists():
        raise WarehouseError(
            f"{path}: no warehouse yet (run `studio-ops demo` or `studio-ops load`)"
        )
    return connect(path, read_only=True)


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and bookkeeping tables if they are missing."""
    for script in sorted((SQL_DIR / "raw").glob("*.sql")):
        con.execute(script.read_text())


@contextmanager
def building(path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a read-write connection to a private copy of the warehouse, then publish it.

    The copy is published (atomically replacing `path`) only when the block finishes without an
    exception; callers rebuild marts inside the block. An exception discards the copy.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.with_name(path.name + ".building")
    with _exclusive_lock(path):
        _remove(work)
        _remove(work.with_name(work.name + ".wal"))
        if path.exists():
            shutil.copyfile(path, work)
        con = connect(work)
        try:
            migrate(con)
            yield con
            con.execute("checkpoint")
        except BaseException:
            con.close()
            _remove(work)
            _remove(work.with_name(work.name + ".wal"))
            raise
        con.close()
        os.replace(work, path)


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def write_settings(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Store the settings in force as tables the mart SQL reads (no values in SQL text)."""
    row = settings.as_rows()
    columns = ", ".join(f"{name} integer" for name in row)
    con.execute(f"create or replace table settings ({columns}, currency_symbol varchar)")
    placeholders = ", ".join("?" for _ in row)
    con.execute(
        f"insert into settings values ({placeholders}, ?)",
        [*row.values(), settings.currency_symbol],
    )
    con.execute("create or replace table settings_bar_keywords (keyword varchar)")
    con.executemany(
        "insert into settings_bar_keywords values (?)",
        [[word.lower()] for word in settings.bar_service_keywords],
    )
    con.execute("create or replace table settings_retention_windows (window_days integer)")
    con.executemany(
        "insert into settings_retention_windows values (?)",
        [[days] for days in settings.retention_windows_days],
    )


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


def build_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Rebuild staging views and mart tables from the raw tables, then check them."""
    write_settings(con, settings)
    for script in sorted((SQL_DIR / "staging").glob("*.sql")):
        _run_script(con, script)
    for script in mart_scripts():
        _run_script(con, script)
    build_settings_marts(con, settings)
    check_marts(con)


def _run_script(con: duckdb.DuckDBPyConnection, script: Path) -> None:
    try:
        con.execute(script.read_text())
    except duckdb.Error as error:
        raise WarehouseError(
            f"{script.relative_to(SQL_DIR.parent)}: {_first_line(error)}"
        ) from None


def check_marts(con: duckdb.DuckDBPyConnection) -> None:
    """Run the data tests in sql/checks (queries returning offending rows) before publishing."""
    for script in sorted((SQL_DIR / "checks").glob("*.sql")):
        rows = con.execute(script.read_text()).fetchall()
        if rows:
            raise DataQualityError(f"{script.stem}: {len(rows)} offending rows, first {rows[0]}")


def set_info(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Record a fact about the warehouse (for example that it holds the demo chain)."""
    con.execute("delete from warehouse_info where key = ?", [key])
    con.execute("insert into warehouse_info values (?, ?)", [key, value])


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
