"""The DuckDB warehouse: connect, migrate, rebuild marts, publish snapshots.

DuckDB allows one read-write process or many read-only ones, and a read-only connection held
open blocks a writer (readers never block the loader). So nothing ever writes the published file in
place: a load takes an exclusive lock, copies the published file to ``<db>.building``, works on
that copy, rebuilds the marts, checks them, and publishes with ``os.replace``. Readers open the
published file read-only, briefly; a reader that opened the old file keeps reading it intact.
A load killed at any point leaves the published file as it was; the next load discards the
half-built copy and its spill folder (the lock is an ``flock``, which the kernel releases when a
process dies).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines import rooms
from pipelines.marts import build_settings_marts, retention_sql
from pipelines.settings import Settings

if TYPE_CHECKING:  # pandas costs a quarter second to import; the loader never needs it
    import pandas as pd

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# `studio-ops load --timings` shows these: one line per build step with its wall time.
timings = logging.getLogger("studio_ops.timings")


@contextmanager
def timed(step: str) -> Iterator[None]:
    """Log how long a build step took (visible with `studio-ops load --timings`)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings.info("%8.2f s  %s", time.perf_counter() - started, step)


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or built; the message says why in one line."""


class DataQualityError(WarehouseError):
    """A mart failed a check before publishing; nothing was published."""


# DuckDB takes 80% of the machine's memory by default; a loader and a dashboard sharing an
# ordinary machine must not. Past these limits DuckDB spills to disk instead: a load to its
# private folder (`spill_dir`; its limit is the setting load_memory_mb), a reader to
# `<file>.tmp/`.
READER_MEMORY_LIMIT = "500MB"
# `studio-ops` prints this logger's lines on stderr (a load waiting for another's lock).
waiting = logging.getLogger("studio_ops.waiting")


class DiskFullError(WarehouseError):
    """The disk (or the file size limit) ran out during a load; nothing was published."""


# What the OS says when a write finds no room; DuckDB's IO errors quote it.
_DISK_FULL = {
    errno.ENOSPC: "No space left on device",
    errno.EFBIG: "File too large",
    errno.EDQUOT: "Disk quota exceeded",
}


def disk_full_reason(error: BaseException) -> str | None:
    """The OS's words when `error` is a write that found no room (disk, quota, file size)."""
    if isinstance(error, OSError) and error.errno in _DISK_FULL:
        return _DISK_FULL[error.errno]
    text = str(error).lower()
    return next((reason for reason in _DISK_FULL.values() if reason.lower() in text), None)


def out_of_memory(error: BaseException) -> bool:
    """Whether `error` is DuckDB (or Python) running out of the memory it may use."""
    text = str(error)
    # A commit that cannot allocate says so as a transaction error, not as Out of Memory.
    return isinstance(error, (MemoryError, duckdb.OutOfMemoryException)) or any(
        words in text for words in ("Out of Memory Error", "could not allocate block")
    )


def memory_advice(memory_mb: int) -> str:
    """The limit a load ran out of, and the setting that raises it."""
    return (
        f"the load's limit is {memory_mb:,} MB; "
        "the setting load_memory_mb in studio-ops.toml raises it"
    )


def load_memory_mb(con: duckdb.DuckDBPyConnection) -> int:
    """The memory limit of the load working on `con` (set by `building`)."""
    try:
        return int(con.execute("select getvariable('load_memory_mb')").fetchone()[0])
    except (duckdb.Error, TypeError):
        return Settings.load_memory_mb


def connect(
    path: Path | str,
    read_only: bool = False,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with a quiet progress bar (output must stay clean)."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as error:
        if disk_full_reason(error):
            raise
        raise WarehouseError(f"{path}: cannot open the warehouse ({_first_line(error)})") from None
    con.execute("set enable_progress_bar = false")
    if memory_limit:
        con.execute("set memory_limit = ?", [memory_limit])
    if temp_directory is not None:
        con.execute("set temp_directory = ?", [str(temp_directory)])
    return con


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
    through a private hard link, removed at once: it holds exactly the snapshot it opened,
    and anything else in the process that opens the published path gets the current one.
    A new snapshot is opened once every cursor on the old one has closed (queries are short).
    """

    _links = itertools.count()

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._key: object = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._active = 0

    def query(self, path: Path | str, key: object, sql: str, params: list) -> pd.DataFrame:
        """Run one query on the snapshot identified by `key` (its file's identity)."""
        with self._lock:
            if self._key != key:
                while self._active:
                    self._lock.wait()
                if self._con is not None:
                    self._con.close()
                    self._con, self._key = None, None
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
            return open_snapshot(link)
        except WarehouseError as error:  # name the published file, not the private link
            raise WarehouseError(str(error).replace(str(link), str(path))) from None
        finally:
            link.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the held snapshot (tests and shutdown)."""
        with self._lock:
            while self._active:
                self._lock.wait()
            if self._con is not None:
                self._con.close()
            self._con, self._key = None, None


def _remove_dead_links(path: Path) -> None:
    """Remove private reader links left by a process that died between link and unlink."""
    for link in path.parent.glob(f".{path.name}.reader-*-*"):
        pid = link.name.rsplit("-", 2)[-2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            link.unlink(missing_ok=True)


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and bookkeeping tables if they are missing."""
    for script in sorted((SQL_DIR / "raw").glob("*.sql")):
        con.execute(script.read_text())


@contextmanager
def building(path: Path | str, memory_mb: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a read-write connection to a private copy of the warehouse, then publish it.

    The copy is published (atomically replacing `path`) only when the block finishes without an
    exception; callers rebuild marts inside the block. An exception discards the copy. DuckDB
    may use `memory_mb` (default: the setting load_memory_mb) and spills past it to a folder
    only this user can open, removed when the block ends: the spill holds export rows, client
    details included, before they are hashed. A disk that fills up, or memory that runs out,
    is raised as a WarehouseError of one line.
    """
    path = Path(path)
    memory_mb = Settings.load_memory_mb if memory_mb is None else memory_mb
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.with_name(path.name + ".building")
    with _exclusive_lock(path):
        _remove_leftovers(path)
        spill = spill_dir(path)
        try:
            with _plain_errors(path, memory_mb):
                spill.mkdir(mode=0o700)
                spill.chmod(0o700)  # whatever the umask
                if path.exists():
                    with timed("copy the published warehouse"):
                        shutil.copyfile(path, work)
                        _flush_in_background(work)
                con = connect(work, memory_limit=f"{memory_mb}MB", temp_directory=spill)
                con.execute("set variable load_memory_mb = ?", [memory_mb])
                # No automatic checkpoint mid-build: the build checkpoints once before
                # publishing, and row ids kept by an incremental refresh stay valid until then.
                con.execute("set checkpoint_threshold = '10GB'")
                try:
                    migrate(con)
                    yield con
                    with timed("checkpoint"):
                        con.execute("checkpoint")
                except BaseException:
                    _close_quietly(con)
                    raise
                con.close()
                os.replace(work, path)
        finally:
            # after a publish only the spill is left; after a failure (a half-written copy
            # included) the copy and its log go too
            _remove_leftovers(path)


def spill_dir(path: Path | str) -> Path:
    """Where a load of the warehouse at `path` spills past its memory limit (mode 0700)."""
    path = Path(path)
    return path.with_name(path.name + ".building.tmp")


def remove_leftovers(path: Path | str) -> bool:
    """Remove what a killed load of `path` left behind (its copy and spill, raw client data).

    Does nothing while a load of `path` runs (they are its files); returns whether it could
    look. The dashboard calls it at start; every load does the same under its lock."""
    path = Path(path)
    try:
        lock = open(path.with_name(path.name + ".lock"), "a+")
    except OSError:
        return False  # a folder we cannot write holds no leftovers of ours
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            _remove_leftovers(path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return True


def _remove_leftovers(path: Path) -> None:
    """Remove a dead load's copy, its write-ahead log and its spill folder (lock held)."""
    work = path.with_name(path.name + ".building")
    _remove(work)
    _remove(work.with_name(work.name + ".wal"))
    shutil.rmtree(spill_dir(path), ignore_errors=True)


@contextmanager
def _plain_errors(path: Path, memory_mb: int) -> Iterator[None]:
    """Say in one line that the disk filled up or memory ran out, rather than DuckDB's words.

    A failed write shows up as an IO error of the step that wrote, a failed checkpoint, or a
    commit that then cannot roll back; all of them quote the OS's reason."""
    try:
        yield
    except (DiskFullError, KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        reason = disk_full_reason(error)
        if reason:
            raise DiskFullError(
                f"{path}: disk full ({reason}) while loading; nothing was published, "
                "the warehouse is unchanged"
            ) from None
        if out_of_memory(error):
            step = str(error).split(": ")[0] if isinstance(error, WarehouseError) else ""
            where = f" in {step}" if step.startswith("sql/") else ""
            raise WarehouseError(
                f"{path}: ran out of memory{where} ({memory_advice(memory_mb)}); "
                "nothing was published"
            ) from None
        raise


def _close_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    except duckdb.Error:
        pass  # a connection DuckDB invalidated (disk full); the copy is removed next


def _flush_in_background(path: Path) -> None:
    """Start writing the copy's pages to disk while the load works on the CPU.

    DuckDB's first sync of the copy would otherwise wait for all of them (about 0.5 s for a
    1 GB warehouse) in the middle of the build."""

    def flush() -> None:
        try:
            with open(path, "rb") as copy:
                os.fsync(copy.fileno())
        except OSError:
            pass  # only a head start: DuckDB syncs the file itself when it checkpoints

    threading.Thread(target=flush, name="flush-warehouse-copy", daemon=True).start()


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # another load of this warehouse runs: say so, rather than wait in silence
            waiting.warning("%s: waiting for another load of this warehouse…", path)
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


# Marts refreshed key by key in an incremental build: the scope table whose keys are replaced
# and the key columns. Their SQL reads the scope through `--incremental:` lines (see below).
REFRESHED = {
    "fct_bookings": ("scope_clients", ("client_id",)),
    "int_booking_rooms": ("scope_booking_days", ("location_id", "booking_date")),
    "int_client_visits": ("scope_clients", ("client_id",)),
    "fct_room_days": ("scope_days", ("location_id", "date")),
    "fct_therapist_days": ("scope_days", ("location_id", "date")),
    "fct_hourly_capacity": ("scope_days", ("location_id", "date")),
    "fct_location_days": ("scope_days", ("location_id", "date")),
    "dq_issues": ("scope_days", ("location_id", "date")),
    "fct_therapist_weeks": ("scope_weeks", ("location_id", "week_start")),
    "dim_clients": ("scope_clients_as_of", ("client_id",)),
}
# Marts of counts over clients, adjusted in an incremental build: their `--incremental:` lines
# read the mart as it was, add the changed clients' rows as they are now and subtract the same
# clients' rows before the load (`fct_bookings__before`), so no row outside the scope is lost.
ADJUSTED = {"rpt_cohort_activity"}
# Refreshed marts with a column that depends on rpt_as_of (dim_clients.next_booking_at): their
# scope widens when the as-of date moves forward (`_scope_as_of_dependent`); when it moves back
# they are rebuilt whole.
AS_OF_DEPENDENT = {"dim_clients"}
# Marts an incremental build runs first: the client marts, and the dims whose latest bar
# equipment / training dq_issues falls back on (a change there widens the refreshed days).
REFRESHED_FIRST = ("fct_bookings", "int_client_visits", "dim_rooms", "dim_therapists")
# Small marts of facts about every booking of a location or source, which fct_bookings reads
# for every client (a location's new_clients_from, whether a source records created_at). An
# incremental build rebuilds them before anything else; when a row moved (an earlier first
# booking, a new opened_on, a source's first created_at), bookings of clients outside the
# change log move too, so everything is rebuilt.
WHOLE_BOOKING_FACTS = ("int_location_history", "int_booking_sources")
# Rooms inferred for bookings that name none: a booking's room depends on every booking of its
# location-day, not only its client's, so an incremental build places the changed
# location-days' bookings again before the client marts, and the clients whose booking got
# another room join the changed clients (`_refresh_booking_rooms`).
REFRESHED_BY_DAY_FIRST = ("int_booking_rooms",)
# A change log covering more than this share of the location-days rebuilds everything.
INCREMENTAL_MAX_SHARE = 0.2
# Days around a changed day whose marts can change (opening hours, shifts and bookings run past
# midnight), and days around a refreshed day whose raw rows its figures read.
REFRESH_MARGIN_DAYS = 2
INCREMENTAL_LINE = re.compile(r"^(\s*)--incremental: ?", re.MULTILINE)


def build_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Build staging views and mart tables from the raw tables, check them; return the mode.

    A full build ('full') runs every script as written. An incremental build ('incremental')
    refreshes only what the load's change log (pipelines.load: temp tables
    `changed_location_days`, `changed_clients`) touched: the same scripts run with their
    `--incremental:` lines switched on, which semi-join their inputs to scope tables, and their
    rows replace the rows of the scope's keys (ADJUSTED marts instead add the changed clients'
    counts to the table as it was and subtract their counts before the load). It runs when the
    marts exist, were built with the same settings and SQL (`mart_build_state`), and the change
    covers at most INCREMENTAL_MAX_SHARE of the location-days.
    """
    write_settings(con, settings)
    rooms.register(con)  # assign_rooms(), which int_booking_rooms calls
    # No mart relies on the order its rows are stored in unless its SQL says ORDER BY, and
    # letting DuckDB write rows in any order takes 2-4 s off each of the biggest marts at
    # 10M bookings (the CSV reader sets it back for its line numbers).
    con.execute("set preserve_insertion_order = false")
    fingerprint = _fingerprint(settings)
    mode = "full"
    with timed("can the marts be refreshed"):
        refreshable = _can_refresh(con, fingerprint)
    if refreshable:
        mode = _refresh_marts(con)
    if mode == "full":
        for script in sorted((SQL_DIR / "staging").glob("*.sql")):
            _run_script(con, script)
        for script in mart_scripts():
            _run_script(con, script)
    with timed("rpt_retention"):
        build_settings_marts(con, settings)
    check_marts(con, incremental=mode == "incremental")
    con.execute(
        "create or replace table mart_build_state as "
        "select ? as settings_hash, ? as sql_hash, ? as mode, now()::timestamp as built_at",
        [*fingerprint, mode],
    )
    return mode


def _fingerprint(settings: Settings) -> tuple[str, str]:
    """Hashes of the settings the marts read and of the SQL that builds and checks them."""
    used = {
        **settings.as_rows(),
        "currency_symbol": settings.currency_symbol,
        "bar_service_keywords": sorted(word.lower() for word in settings.bar_service_keywords),
        "retention_windows_days": sorted(set(settings.retention_windows_days)),
    }
    settings_hash = hashlib.sha256(json.dumps(used, sort_keys=True).encode()).hexdigest()
    sql = hashlib.sha256()
    for folder in ("staging", "marts", "checks"):
        for script in sorted((SQL_DIR / folder).glob("*.sql")):
            sql.update(f"{folder}/{script.name}\n".encode() + script.read_bytes())
    sql.update(retention_sql(settings.retention_windows_days).encode())
    return settings_hash, sql.hexdigest()


def exists(con: duckdb.DuckDBPyConnection, name: str, temporary: bool = False) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where table_name = ? and temporary = ?",
            [name, temporary],
        ).fetchone()[0]
    )


def _can_refresh(con: duckdb.DuckDBPyConnection, fingerprint: tuple[str, str]) -> bool:
    """Whether an incremental refresh may run (else a full build)."""
    if not all(
        exists(con, name, temporary=True) for name in ("changed_location_days", "changed_clients")
    ):
        return False
    if not all(exists(con, name) for name in [*REFRESHED, *ADJUSTED, "mart_build_state"]):
        return False
    state = con.execute("select settings_hash, sql_hash from mart_build_state").fetchall()
    if state != [fingerprint]:
        return False
    changed, total = con.execute(
        "select (select count(*) from (select distinct * from changed_location_days)), "
        "(select count(*) from fct_location_days)"
    ).fetchone()
    return total > 0 and changed <= INCREMENTAL_MAX_SHARE * total


def _refresh_marts(con: duckdb.DuckDBPyConnection) -> str:
    """Refresh the marts for the change log's scope; 'full' when the scope turns out too big."""
    with timed("rooms of the changed days' bookings"):
        _refresh_booking_rooms(con)
    with timed("changed clients and the rows they had"):
        _snapshot_before(con)
    # Staging views with `--incremental:` lines are shadowed by scoped temp tables for this
    # build: bookings (by client) at once, rooms and shifts (by day) once the dims that read
    # them whole are rebuilt and the days are known.
    shadowed: list[str] = []
    try:
        _shadow_staging(con, ["stg_exports__bookings"], shadowed)
        as_of_before = _as_of(con)
        scripts = {p.stem: p for p in mart_scripts()}
        with timed("history start and booking sources"):
            if _whole_booking_facts_moved(con, scripts):
                return "full"
        for name in REFRESHED_FIRST:
            _run_scoped(con, scripts[name])
        with timed("scope of the refresh"):
            _build_scope(con)
        changed, total = con.execute(
            "select (select count(*) from scope_days), (select count(*) from fct_location_days)"
        ).fetchone()
        if changed > INCREMENTAL_MAX_SHARE * total:
            return "full"
        _shadow_staging(con, ["stg_exports__rooms", "stg_exports__therapist_shifts"], shadowed)
        for name, script in scripts.items():
            if name in REFRESHED_BY_DAY_FIRST:
                continue
            if name in REFRESHED_FIRST or name in WHOLE_BOOKING_FACTS:
                continue
            # asked when the mart's turn comes: rpt_as_of reads marts refreshed before it
            if name in AS_OF_DEPENDENT and not _scope_as_of_dependent(con, as_of_before):
                _run_script(con, script)
            else:
                _run_scoped(con, script)
    finally:
        for name in shadowed:
            con.execute(f"drop table if exists temp.main.{name}")
    return "incremental"


def _whole_booking_facts_moved(con: duckdb.DuckDBPyConnection, scripts: dict[str, Path]) -> bool:
    """Rebuild WHOLE_BOOKING_FACTS; True when a row differs from before (or none was kept)."""
    moved = False
    for name in WHOLE_BOOKING_FACTS:
        if not exists(con, name):
            moved = True
            _run_script(con, scripts[name])
            continue
        before = con.execute(f"select * from {name}").fetchall()
        _run_script(con, scripts[name])
        after = con.execute(f"select * from {name}").fetchall()
        moved = moved or sorted(before, key=repr) != sorted(after, key=repr)
    return moved


def _refresh_booking_rooms(con: duckdb.DuckDBPyConnection) -> None:
    """Place the bookings of the changed location-days again (int_booking_rooms), reading the
    whole staging view (before it is shadowed by client); the clients of bookings whose room
    changed are added to `changed_clients`, so fct_bookings is refreshed for them too."""
    con.execute(
        """
        create or replace temp table scope_booking_days as
        select distinct location_id, date as booking_date from changed_location_days;
        create or replace temp table int_booking_rooms__before as
        select source, booking_id, client_id, room_id from int_booking_rooms
        semi join scope_booking_days using (location_id, booking_date);
        """
    )
    for name in REFRESHED_BY_DAY_FIRST:
        _run_scoped(con, SQL_DIR / "marts" / f"{name}.sql")
    con.execute(
        """
        insert into changed_clients
        select client_id from (
            (
                select source, booking_id, client_id, room_id from int_booking_rooms__before
                except
                select source, booking_id, client_id, room_id from int_booking_rooms
                semi join scope_booking_days using (location_id, booking_date)
            )
            union all
            (
                select source, booking_id, client_id, room_id from int_booking_rooms
                semi join scope_booking_days using (location_id, booking_date)
                except
                select source, booking_id, client_id, room_id from int_booking_rooms__before
            )
        );
        drop table int_booking_rooms__before;
        """
    )


def _snapshot_before(con: duckdb.DuckDBPyConnection) -> None:
    """The changed clients, their bookings as the marts had them, and the dims' bar facts."""
    con.execute(
        """
        create or replace temp table scope_clients as
        select distinct client_id from changed_clients;
        create or replace temp table fct_bookings__before as
        select
            rowid as row_id, client_id, source, booking_id, location_id, booking_date, status,
            is_first_visit, is_new_client, is_rebooked
        from fct_bookings semi join scope_clients using (client_id);
        create or replace temp table dim_rooms__before as
        select location_id, room_id, has_bars from dim_rooms;
        create or replace temp table dim_therapists__before as
        select location_id, therapist_id, bar_trained from dim_therapists;
        """
    )


def _scope_as_of_dependent(con: duckdb.DuckDBPyConnection, as_of_before: list[tuple]) -> bool:
    """Make `scope_clients_as_of`: the changed clients, plus, when the as-of date moved forward,
    the clients whose next booking falls before the new date (their next_booking_at moves on;
    a client with none before has none after). False when the date moved back or appeared:
    then the mart is rebuilt whole."""
    as_of = _as_of(con)
    if as_of == as_of_before:
        con.execute("create or replace temp table scope_clients_as_of as from scope_clients")
        return True
    if as_of_before[0][0] is None or as_of[0][0] is None or as_of[0][0] < as_of_before[0][0]:
        return False
    with timed("clients whose next booking the as-of date passed"):
        con.execute(
            """
            create or replace temp table scope_clients_as_of as
            select client_id from scope_clients
            union
            select client_id from dim_clients
            where cast(next_booking_at as date) < ?
            """,
            [as_of[0][0]],
        )
    return True


def _as_of(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select as_of_date from rpt_as_of").fetchall()


def _shadow_staging(con: duckdb.DuckDBPyConnection, names: list[str], shadowed: list[str]) -> None:
    """Shadow the named staging views with temp tables of their `--incremental:` rows.

    Tables, not views: the scoped rows are few, and each mart reading them would otherwise
    repeat the semi join against the whole raw table. For the same reason a CTE the full
    build leaves `not materialized` (to stream millions of rows) is materialized here."""
    for name in names:
        script = SQL_DIR / "staging" / f"{name}.sql"
        text = INCREMENTAL_LINE.sub(r"\1", script.read_text())
        text = text.replace(" as not materialized (", " as materialized (")
        header = f"create or replace view {name} as"
        if header not in text:
            raise WarehouseError(f"{script.name}: expected '{header}'")
        _execute(con, script, text.replace(header, f"create or replace temp table {name} as", 1))
        shadowed.append(name)


def _build_scope(con: duckdb.DuckDBPyConnection) -> None:
    """The keys to refresh (`scope_days`, `scope_weeks`) and the raw days they read
    (`scope_input_days`, `scope_week_days`), once fct_bookings and the dims are refreshed."""
    # dq_issues falls back on a room's latest bar equipment and a therapist's latest training
    # for bookings outside the calendar or shifts
    con.execute(
        """
        create or replace temp table rooms_changed as
        select location_id, room_id from dim_rooms__before
        full join dim_rooms using (location_id, room_id)
        where dim_rooms__before.has_bars is distinct from dim_rooms.has_bars;
        create or replace temp table therapists_changed as
        select location_id, therapist_id from dim_therapists__before
        full join dim_therapists using (location_id, therapist_id)
        where dim_therapists__before.bar_trained is distinct from dim_therapists.bar_trained;
        """
    )
    fallback_days = ""
    if con.execute("select count(*) from rooms_changed").fetchone()[0]:
        fallback_days += """
            union
            -- bar bookings not inside their day's opening hours
            select location_id, booking_date from fct_bookings
            semi join rooms_changed using (location_id, room_id)
            where uses_bars and not exists (
                select 1 from stg_exports__rooms as rooms
                where
                    rooms.location_id = fct_bookings.location_id
                    and rooms.room_id = fct_bookings.room_id
                    and rooms.date = fct_bookings.booking_date
                    and fct_bookings.start_at >= rooms.open_at
                    and fct_bookings.end_at <= rooms.close_at
            )"""
    if con.execute("select count(*) from therapists_changed").fetchone()[0]:
        fallback_days += """
            union
            -- bar bookings without a shift that day
            select location_id, booking_date from fct_bookings
            semi join therapists_changed using (location_id, therapist_id)
            where uses_bars and not exists (
                select 1 from stg_exports__therapist_shifts as shifts
                where
                    shifts.location_id = fct_bookings.location_id
                    and shifts.therapist_id = fct_bookings.therapist_id
                    and shifts.date = fct_bookings.booking_date
            )"""
    con.execute(
        f"""
        create or replace temp table scope_days as
        with
        -- the refreshed rows of the changed clients (fct_bookings__fresh) against their rows
        -- before: client flags (first visit, rebooked) that moved count where they were and are
        flags_before as (
            select
                source, booking_id, location_id, booking_date, is_first_visit, is_new_client,
                is_rebooked
            from fct_bookings__before
        ),
        flags_after as (
            select
                source, booking_id, location_id, booking_date, is_first_visit, is_new_client,
                is_rebooked
            from fct_bookings__fresh
        ),
        moved_bookings as (
            (select * from flags_before except all select * from flags_after)
            union all
            (select * from flags_after except all select * from flags_before)
        ),
        -- raw rows count on the days around them (past midnight); moved client flags and
        -- dq fallbacks count on their booking day only
        raw_days as (
            select distinct location_id, date + cast(day_offset as integer) as date
            from changed_location_days
            cross join range(-{REFRESH_MARGIN_DAYS}, {REFRESH_MARGIN_DAYS + 1})
                as offsets(day_offset)
        ),
        final as (
            select location_id, date from raw_days
            union
            select location_id, booking_date from moved_bookings{fallback_days}
        )
        select * from final;
        """
    )
    con.execute(
        f"""
        create or replace temp table scope_input_days as
        select distinct location_id, date + cast(day_offset as integer) as date
        from scope_days
        cross join range(-{REFRESH_MARGIN_DAYS}, {REFRESH_MARGIN_DAYS + 1}) as offsets(day_offset)
        union
        -- bookings spanning more than one midnight are always read
        select location_id, booking_date from fct_bookings
        where end_at > booking_date + interval 1 day;

        create or replace temp table scope_weeks as
        select distinct location_id, cast(date_trunc('week', date) as date) as week_start
        from scope_days;

        create or replace temp table scope_week_days as
        select location_id, week_start + cast(day_offset as integer) as date
        from scope_weeks
        cross join range(0, 7) as offsets(day_offset);
        """
    )


def _run_scoped(con: duckdb.DuckDBPyConnection, script: Path) -> None:
    """Run a mart script with its `--incremental:` lines on; a refreshed mart's new rows
    replace the rows of its scope's keys, any other mart is rebuilt whole."""
    name = script.stem
    original = script.read_text()
    text = INCREMENTAL_LINE.sub(r"\1", original)
    if name not in REFRESHED:
        scoped = text != original and name not in ADJUSTED
        if scoped and f"create or replace temp table {name} as" not in text:
            # a scoped published table would lose every row outside the scope
            raise WarehouseError(
                f"{script.name}: --incremental: lines need a REFRESHED key or ADJUSTED"
            )
        _execute(con, script, text)
        return
    scope, keys = REFRESHED[name]
    fresh = f"{name}__fresh"
    header = f"create or replace table {name} as"
    if header not in text:
        raise WarehouseError(f"{script.name}: expected '{header}'")
    _execute(con, script, text.replace(header, f"create or replace temp table {fresh} as", 1))
    matches = " and ".join(f"{name}.{key} = {scope}.{key}" for key in keys)
    with timed(f"{name}: replace the scope's rows"):
        if name == "fct_bookings":
            _delete_bookings_before(con)
        else:
            con.execute(f"delete from {name} using {scope} where {matches}")
        con.execute(
            f"insert into {name} select * from {fresh} semi join {scope} using ({', '.join(keys)})"
        )
    if name != "fct_bookings":  # _build_scope compares it with fct_bookings__before
        con.execute(f"drop table {fresh}")


def _delete_bookings_before(con: duckdb.DuckDBPyConnection) -> None:
    """Delete the changed clients' bookings by the row ids `_snapshot_before` kept.

    Finding them by client again would scan all of fct_bookings (0.2 s at 10M); the row ids
    hold because nothing checkpoints the build's copy before it is published. The deleted
    rows' keys must be exactly the kept ones, else the build stops."""
    deleted = con.execute(
        "delete from fct_bookings where rowid in (select row_id from fct_bookings__before) "
        "returning source, booking_id, client_id"
    ).fetchall()
    kept = con.execute("select source, booking_id, client_id from fct_bookings__before").fetchall()
    if sorted(deleted) != sorted(kept):
        raise WarehouseError(
            f"fct_bookings: the refresh deleted {len(deleted)} rows, expected the "
            f"{len(kept)} rows of the changed clients; nothing was published"
        )


def _run_script(con: duckdb.DuckDBPyConnection, script: Path) -> None:
    _execute(con, script, script.read_text())


def _execute(con: duckdb.DuckDBPyConnection, script: Path, text: str) -> None:
    try:
        with timed(script.stem):
            con.execute(text)
    except duckdb.Error as error:
        raise WarehouseError(
            f"{script.relative_to(SQL_DIR.parent)}: {_first_line(error)}"
        ) from None


def check_marts(con: duckdb.DuckDBPyConnection, incremental: bool = False) -> None:
    """Run the data tests in sql/checks (queries returning offending rows) before publishing.

    After an incremental build their `--incremental:` lines restrict them to the refreshed
    keys (the rest of each mart was checked when it was built)."""
    for script in sorted((SQL_DIR / "checks").glob("*.sql")):
        text = script.read_text()
        if incremental:
            text = INCREMENTAL_LINE.sub(r"\1", text)
        with timed(f"check {script.stem}"):
            rows = con.execute(text).fetchall()
        if rows:
            raise DataQualityError(f"{script.stem}: {len(rows)} offending rows, first {rows[0]}")


def exclusive_lock(path: Path | str) -> AbstractContextManager[None]:
    """The lock every writer of the warehouse at `path` holds (loads, and the demo's swap).

    Not re-entrant: a process holding it must not start a load of the same `path`."""
    return _exclusive_lock(Path(path))


def set_info(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Record a fact about the warehouse (for example that it holds the demo chain)."""
    con.execute("delete from warehouse_info where key = ?", [key])
    con.execute("insert into warehouse_info values (?, ?)", [key, value])


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
