"""Publishing a load: the replaced snapshot is kept, and the next load writes over it in place
unless a reader still has it open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from pipelines.warehouse import store
from pipelines.warehouse.snapshot import SnapshotReader
from tests.test_load import BOOKING_HEADER, booking, write_csv


def load_one_more(db: Path, tmp_path: Path, number: int) -> None:
    """Load booking B<number>: each load adds exactly one booking."""
    export = write_csv(
        tmp_path / f"{number}.csv", BOOKING_HEADER, [booking(booking_id=f"B{number}")]
    )
    load_files(db, [export], Settings())


def bookings_in(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select count(*) from raw_bookings").fetchone()[0]


def test_the_replaced_snapshot_is_kept_and_the_next_load_writes_over_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    previous = store.previous_snapshot(db)

    load_one_more(db, tmp_path, 1)
    assert not previous.exists()  # nothing was published before the first load
    first_file = os.stat(db).st_ino

    load_one_more(db, tmp_path, 2)
    # the first load's snapshot is kept whole beside the new one
    assert os.stat(previous).st_ino == first_file
    assert (bookings_in(db), bookings_in(previous)) == (2, 1)

    load_one_more(db, tmp_path, 3)
    # the third load was built in the first load's file: no new file, none freed
    assert os.stat(db).st_ino == first_file
    assert (bookings_in(db), bookings_in(previous)) == (3, 2)


def test_a_snapshot_a_reader_still_holds_is_never_written_over(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_one_more(db, tmp_path, 1)
    first_file = os.stat(db).st_ino
    reader = SnapshotReader()
    try:
        # the dashboard opens the first snapshot and stays on it (no query since)
        held = reader.query(db, "first", "select count(*) as n from raw_bookings", [])
        assert held["n"].iloc[0] == 1
        load_one_more(db, tmp_path, 2)  # the first snapshot is now the previous one
        load_one_more(db, tmp_path, 3)  # it is held, so this load copies into a new file

        assert os.stat(db).st_ino != first_file
        again = reader.query(db, "first", "select count(*) as n from raw_bookings", [])
        assert again["n"].iloc[0] == 1  # the held snapshot reads as it was
        assert bookings_in(db) == 3
    finally:
        reader.close()


def test_a_previous_snapshot_longer_than_the_published_one_is_cut_to_its_length(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    load_one_more(db, tmp_path, 1)
    published = db.stat().st_size
    previous = store.previous_snapshot(db)
    # a previous snapshot from a bigger warehouse: 4x the published file, none of it valid
    previous.write_bytes(b"\xff" * (4 * published))

    load_one_more(db, tmp_path, 2)

    assert bookings_in(db) == 2
    # written over in place and cut: DuckDB's few new blocks stay far below the junk's length
    assert db.stat().st_size < 2 * published


def test_a_snapshot_another_process_reads_is_never_written_over(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_one_more(db, tmp_path, 1)
    first_file = os.stat(db).st_ino
    # another process (a `studio-ops status`, a notebook) opens the published path itself,
    # with no private link: only DuckDB's lock on the file shows it is being read
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(db)!r}, read_only=True)\n"
            "print('open', flush=True)\n"
            "sys.stdin.readline()\n"
            "print(con.execute('select count(*) from raw_bookings').fetchone()[0], flush=True)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        load_one_more(db, tmp_path, 2)  # the held file is now the previous snapshot
        load_one_more(db, tmp_path, 3)

        assert os.stat(db).st_ino != first_file
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "1"  # it still reads its snapshot whole
        assert bookings_in(db) == 3
    finally:
        holder.kill()
        holder.wait()
