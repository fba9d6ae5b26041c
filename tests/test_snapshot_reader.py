"""The dashboard's shared snapshot reader: sees each new publish, never a stale or half one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb

from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from pipelines.warehouse.snapshot import SnapshotReader
from tests.test_load import BOOKING_HEADER, booking, write_csv

ROOT = Path(__file__).resolve().parent.parent


def identity(path: Path) -> tuple[int, int, int]:
    """What the dashboard keys a snapshot by: inode, mtime and size of the published file."""
    stat = os.stat(path)
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def count(reader: SnapshotReader, db: Path) -> int:
    frame = reader.query(db, identity(db), "select count(*) as n from raw_bookings", [])
    return int(frame["n"].iloc[0])


def test_a_new_publish_is_seen_on_the_next_query(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])], Settings())
    reader = SnapshotReader()
    try:
        assert count(reader, db) == 1
        # While the reader holds the old snapshot open, a load publishes a new one. DuckDB
        # would hand a plain second connect() the old database; the reader must not.
        more = [booking(booking_id="B2"), booking(booking_id="B3")]
        load_files(db, [write_csv(tmp_path / "b.csv", BOOKING_HEADER, more)], Settings())
        assert count(reader, db) == 3
    finally:
        reader.close()


def test_threads_querying_through_a_publish_see_whole_snapshots(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])], Settings())
    reader = SnapshotReader()
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_reading() -> None:
        while not stop.is_set():
            try:
                seen.append(count(reader, db))
            except BaseException as error:  # any error at all fails the test
                errors.append(error)
                return

    threads = [threading.Thread(target=keep_reading) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        # Three publishes: 1 booking, then 2, 3 and 4 (each load adds one).
        for number in (2, 3, 4):
            extra = write_csv(
                tmp_path / f"{number}.csv", BOOKING_HEADER, [booking(booking_id=f"B{number}")]
            )
            load_files(db, [extra], Settings())
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert set(seen) <= {1, 2, 3, 4}
    assert count(reader, db) == 4
    reader.close()


def test_holding_a_snapshot_does_not_make_other_readers_in_the_process_stale(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])], Settings())
    reader = SnapshotReader()
    try:
        assert count(reader, db) == 1
        load_files(
            db,
            [write_csv(tmp_path / "b.csv", BOOKING_HEADER, [booking(booking_id="B2")])],
            Settings(),
        )
        # DuckDB would hand this connect() the database the reader holds, were it opened by
        # the same path; the reader's private link keeps them apart.
        with duckdb.connect(str(db), read_only=True) as con:
            assert con.execute("select count(*) from raw_bookings").fetchone()[0] == 2
        assert count(reader, db) == 2
        # One link, to the snapshot it holds (the first one's went with it); none once closed.
        links = [p for p in tmp_path.iterdir() if ".reader-" in p.name]
        assert [os.stat(p).st_ino for p in links] == [os.stat(db).st_ino]
    finally:
        reader.close()
    assert [p.name for p in tmp_path.iterdir() if ".reader-" in p.name] == []


def test_a_link_left_by_a_dead_reader_is_removed(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])], Settings())
    # A reader killed while it held a snapshot leaves its private link behind; pid 0 is
    # never a live process's.
    stale = tmp_path / ".w.duckdb.reader-0-3"
    os.link(db, stale)
    reader = SnapshotReader()
    try:
        assert count(reader, db) == 1
        assert not stale.exists()
    finally:
        reader.close()


def test_a_reader_process_that_exits_leaves_no_link(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])], Settings())
    # a dashboard stopped while it holds a snapshot: it never closes its reader
    script = (
        "import sys\n"
        "from pipelines.warehouse.snapshot import SnapshotReader\n"
        "reader = SnapshotReader()\n"
        f"frame = reader.query({str(db)!r}, 'key', 'select count(*) as n from raw_bookings', [])\n"
        "print(frame['n'].iloc[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"  # it did read through its link
    assert [p.name for p in tmp_path.iterdir() if ".reader-" in p.name] == []
