"""The warehouse file: connect, lock, migrate, publish, and clear what a killed load left.

DuckDB allows one read-write process or many read-only ones, and a read-only connection held
open blocks a writer (readers never block the loader). So nothing ever writes the published file in
place: a load takes an exclusive lock, copies the published file to ``<db>.building``, works on
that copy, rebuilds the marts (pipelines.warehouse.build), checks them, and publishes with
``os.replace``. Readers open the published file read-only, briefly (pipelines.warehouse.snapshot);
a reader that opened the old file keeps reading it intact. A load killed at any point leaves the
published file as it was; the next load discards the half-built copy and its spill folder (the
lock is an ``flock``, which the kernel releases when a process dies).

The snapshot a publish replaces stays beside it as ``<db>.previous``, and the next load, once no
reader has it open, writes the published bytes over it in place instead of into a new file: a
new file's pages must be allocated, and the replaced file's freed, about 1 s at 10M bookings.
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import logging
import os
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb

from pipelines.settings import Settings

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
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
# DuckDB takes 80% of the machine's memory by default; a loader and a dashboard sharing an
# ordinary machine must not. Past its limit a load spills to its private folder (`spill_dir`;
# the limit is the setting load_memory_mb), a reader (pipelines.warehouse.snapshot) to
# `<file>.tmp/`.
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
        # a load or a rebuild opens a private copy, <file>.building: name the studio's file
        shown = Path(path).with_name(Path(path).name.removesuffix(".building"))
        if not _is_duckdb_file(Path(path)):  # `--db bookings.csv`, an empty or a text file
            raise WarehouseError(f"{shown}: {NOT_A_WAREHOUSE}") from None
        raise WarehouseError(f"{shown}: cannot open the warehouse ({first_line(error)})") from None
    con.execute("set enable_progress_bar = false")
    if memory_limit:
        con.execute("set memory_limit = ?", [memory_limit])
    if temp_directory is not None:
        con.execute("set temp_directory = ?", [str(temp_directory)])
    return con


NOT_A_WAREHOUSE = (
    "not a studio-ops warehouse (not a DuckDB database file); use your warehouse's file "
    "instead, or start a new one with `studio-ops init --db NEW-FILE`"
)


NOT_OUR_DATABASE = (
    "not a studio-ops warehouse (a DuckDB database without the warehouse's tables); use your "
    "warehouse's file instead, or start a new one with `studio-ops init --db NEW-FILE`"
)


def _is_duckdb_file(path: Path) -> bool:
    """Whether the file at `path` starts as a DuckDB database does ("DUCK" at byte 8); a
    file that cannot be read is given the benefit of the doubt (DuckDB's reason is shown)."""
    try:
        with open(path, "rb") as file:
            return file.read(12)[8:12] == b"DUCK"
    except OSError:
        return True


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and bookkeeping tables if they are missing."""
    for script in sorted((SQL_DIR / "raw").glob("*.sql")):
        con.execute(script.read_text())


@contextmanager
def building(
    path: Path | str, memory_mb: int | None = None, preload: tuple[str, ...] = ()
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a read-write connection to a private copy of the warehouse, then publish it.

    The copy is published (atomically replacing `path`) only when the block finishes without an
    exception; callers rebuild marts inside the block. An exception discards the copy. DuckDB
    may use `memory_mb` (default: the setting load_memory_mb) and spills past it to a folder
    only this user can open, removed when the block ends: the spill holds export rows, client
    details included, before they are hashed. A disk that fills up, or memory that runs out,
    is raised as a WarehouseError of one line. `preload` names modules the caller imports
    after the copy (a load: the vendor formats), imported with BUILD_IMPORTS during it.
    """
    path = Path(path)
    memory_mb = Settings.load_memory_mb if memory_mb is None else memory_mb
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.with_name(path.name + ".building")
    importing = None
    with _exclusive_lock(path):
        _remove_leftovers(path)
        spill = spill_dir(path)
        try:
            with _plain_errors(path, memory_mb):
                spill.mkdir(mode=0o700)
                spill.chmod(0o700)  # whatever the umask
                if path.exists():
                    with timed("copy the published warehouse"):
                        importing = _import_in_background((*preload, *BUILD_IMPORTS))
                        _copy_published(path, work)
                        _flush_in_background(work)
                con = connect(work, memory_limit=f"{memory_mb}MB", temp_directory=spill)
                if path.exists() and not exists(con, "load_runs"):
                    # a DuckDB database of something else: never the warehouse's tables in it
                    _close_quietly(con)
                    raise WarehouseError(f"{path}: {NOT_OUR_DATABASE}")
                con.execute("set variable load_memory_mb = ?", [memory_mb])
                # No automatic checkpoint mid-build: the build checkpoints once before
                # publishing, and row ids kept by an incremental refresh stay valid until then.
                con.execute("set checkpoint_threshold = '10GB'")
                # Nor a sync of each commit: a build that dies is discarded whole, so only the
                # published copy must reach the disk, and the final checkpoint syncs it. Each
                # commit's sync also waited for the fresh copy's pages to be written first
                # (ext4 commits its journal after the data): 0.2-0.3 s at 10M bookings.
                con.execute("set fsync_mode = 'none'")
                try:
                    migrate(con)
                    yield con
                    with timed("checkpoint"):
                        con.execute("set fsync_mode = 'standard'")
                        con.execute("checkpoint")
                except BaseException:
                    _close_quietly(con)
                    raise
                con.close()
                _keep_as_previous(path)
                os.replace(work, path)
        finally:
            # after a publish only the spill is left; after a failure (a half-written copy
            # included) the copy and its log go too
            _remove_leftovers(path)
            if importing is not None:
                importing.join()  # not left importing while the interpreter exits


def previous_snapshot(path: Path | str) -> Path:
    """Where the snapshot the last publish of `path` replaced is kept (see the module doc)."""
    path = Path(path)
    return path.with_name(path.name + ".previous")


def _copy_published(path: Path, work: Path) -> None:
    """Copy the published warehouse to `work`: over the previous snapshot if it is free."""
    previous = previous_snapshot(path)
    try:
        # Renamed first: once it has no name a reader could open, only a reader that already
        # has it open can stop us, and the lock and link count below see every such reader.
        os.replace(previous, work)
    except OSError:
        shutil.copyfile(path, work)  # none yet (the first loads), or not ours to move
        return
    try:
        if _overwrite(path, work):
            return
    except OSError as error:
        if disk_full_reason(error):
            raise
    work.unlink()  # a reader still has it open (it keeps its copy) or it cannot be rewritten
    shutil.copyfile(path, work)


def _overwrite(path: Path, work: Path) -> bool:
    """Write `path`'s bytes over `work` in place, unless a reader has `work` open."""
    copy_range = getattr(os, "copy_file_range", None)
    ofd_lock = getattr(fcntl, "F_OFD_SETLK", None)
    if copy_range is None or ofd_lock is None:
        return False  # not Linux: copy into a new file
    target = os.open(work, os.O_WRONLY)
    try:
        # Three signs of a reader: the dashboard's reader keeps a private link to its
        # snapshot while it has it open (a second name); another process's DuckDB holds a
        # read lock (an open-file-description lock conflicts with it); and one in this
        # process shows among our open files (a POSIX lock is dropped whenever the process
        # closes any descriptor of the file, so here it proves nothing).
        write_lock = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        try:
            fcntl.fcntl(target, ofd_lock, write_lock)
        except OSError:
            return False
        if os.fstat(target).st_nlink != 1 or _open_in_this_process(target):
            return False
        with open(path, "rb") as source:
            size = os.fstat(source.fileno()).st_size
            copied = 0
            while copied < size:
                done = copy_range(source.fileno(), target, size - copied, copied, copied)
                if done == 0:
                    return False  # the published file shrank under us: cannot happen (locked)
                copied += done
        os.ftruncate(target, size)
        return True
    finally:
        os.close(target)  # releases the lock before DuckDB opens the file


def _open_in_this_process(descriptor: int) -> bool:
    """Whether this process has the file behind `descriptor` open through another one."""
    mine = os.fstat(descriptor)
    try:
        others = os.listdir("/proc/self/fd")
    except OSError:
        return True  # cannot tell: assume a reader
    for name in others:
        if name == str(descriptor):
            continue
        try:
            other = os.stat(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile, or not a file
        if (other.st_dev, other.st_ino) == (mine.st_dev, mine.st_ino):
            return True
    return False


def _keep_as_previous(path: Path) -> None:
    """Give the published file a second name, so that replacing it keeps it as the previous
    snapshot (its blocks stay allocated for the next load to write over)."""
    previous = previous_snapshot(path)
    _remove(previous)
    try:
        os.link(path, previous)
    except OSError:
        pass  # nothing published yet, or no hard links here: the next load copies afresh


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


# Modules the mart build's Python steps import (room placement, hourly capacity): 0.1-0.7 s
# on this machine, which a thread spends while the kernel copies the published file.
BUILD_IMPORTS = ("numpy", "numpy.ma", "pyarrow", "pyarrow.compute")


def _import_in_background(modules: tuple[str, ...]) -> threading.Thread:
    """Import `modules` in a thread now, so the build finds them imported."""

    def load() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except ImportError:
                return  # the step that needs it imports it again and says why

    thread = threading.Thread(target=load, name="import-build-modules", daemon=True)
    thread.start()
    return thread


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


def exists(con: duckdb.DuckDBPyConnection, name: str, temporary: bool = False) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where table_name = ? and temporary = ?",
            [name, temporary],
        ).fetchone()[0]
    )


def exclusive_lock(path: Path | str) -> AbstractContextManager[None]:
    """The lock every writer of the warehouse at `path` holds (loads, and the demo's swap).

    Not re-entrant: a process holding it must not start a load of the same `path`."""
    return _exclusive_lock(Path(path))


def set_info(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Record a fact about the warehouse (for example that it holds the demo chain)."""
    con.execute("delete from warehouse_info where key = ?", [key])
    con.execute("insert into warehouse_info values (?, ?)", [key, value])


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
