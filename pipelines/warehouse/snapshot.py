"""The read-only side: the published warehouse as the dashboard and `studio-ops status` read it.

Readers open the published file read-only and never block a load, which replaces the file rather
than writing it (pipelines.warehouse.store).
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.warehouse.store import WarehouseError, connect

if TYPE_CHECKING:  # pandas costs a quarter second to import; the loader never needs it
    import pandas as pd

# The private links this process's readers hold: removed when it exits, so that a stopped
# dashboard leaves none pinning an old snapshot (a killed one's go at the next reader's start).
_held_links: set[Path] = set()


@atexit.register
def _remove_held_links() -> None:
    for link in list(_held_links):
        link.unlink(missing_ok=True)


# A reader's memory limit; past it DuckDB spills to `<file>.tmp/` (see store.connect).
READER_MEMORY_LIMIT = "500MB"


def open_snapshot(path: Path | str) -> duckdb.DuckDBPyConnection:
    """Open the published warehouse read-only; close it soon, it is a snapshot."""
    path = Path(path)
    if not path.exists():
        raise WarehouseError(f"{path}: no warehouse yet (start one with `studio-ops init`)")
    return connect(path, read_only=True, memory_limit=READER_MEMORY_LIMIT)


class SnapshotReader:
    """One read-only connection per published snapshot, shared by threads through cursors.

    Opening a DuckDB file costs ~20 ms, which a page of fifteen queries cannot afford, so the
    dashboard keeps the snapshot open. That blocks nobody: the loader never opens the
    published file, it replaces it. But DuckDB hands every later connect() to a path that is
    open in the process the same (by then old) database. So the reader opens the snapshot
    through a private hard link: it holds exactly the snapshot it opened, and anything else
    in the process that opens the published path gets the current one. The link stays while
    the snapshot is open: a load writes over the snapshot it replaced only when that file
    has no other name (pipelines.warehouse.store). A new snapshot is opened once every
    cursor on the old one has closed (queries are short).
    """

    _links = itertools.count()

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._key: object = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._link: Path | None = None
        self._active = 0

    def query(self, path: Path | str, key: object, sql: str, params: list) -> pd.DataFrame:
        """Run one query on the snapshot identified by `key` (its file's identity)."""
        with self._lock:
            if self._key != key:
                while self._active:
                    self._lock.wait()
                self._close()
                self._con, self._key = self._open_private(Path(path)), key
            cursor = self._con.cursor()
            self._active += 1
        try:
            return cursor.execute(sql, params).df()
        finally:
            cursor.close()
            with self._lock:
                self._active -= 1
                self._lock.notify_all()

    def _open_private(self, path: Path) -> duckdb.DuckDBPyConnection:
        _remove_dead_links(path)
        link = path.with_name(f".{path.name}.reader-{os.getpid()}-{next(self._links)}")
        try:
            os.link(path, link)
        except FileNotFoundError:
            raise WarehouseError(
                f"{path}: no warehouse yet (start one with `studio-ops init`)"
            ) from None
        except OSError:
            return open_snapshot(path)  # no hard links here (read-only folder): share the path
        try:
            con = open_snapshot(link)
        except WarehouseError as error:  # name the published file, not the private link
            link.unlink(missing_ok=True)
            raise WarehouseError(str(error).replace(str(link), str(path))) from None
        self._link = link
        _held_links.add(link)
        return con

    def close(self) -> None:
        """Close the held snapshot (tests and shutdown)."""
        with self._lock:
            while self._active:
                self._lock.wait()
            self._close()

    def _close(self) -> None:
        if self._con is not None:
            self._con.close()
        if self._link is not None:
            self._link.unlink(missing_ok=True)
            _held_links.discard(self._link)
        self._con, self._key, self._link = None, None, None


def _remove_dead_links(path: Path) -> None:
    """Remove private reader links left by a process that died holding its snapshot."""
    for link in path.parent.glob(f".{path.name}.reader-*-*"):
        pid = link.name.rsplit("-", 2)[-2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            link.unlink(missing_ok=True)
