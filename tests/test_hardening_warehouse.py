"""Hardening of the load itself (issue 13, items 3, 17, 18): a killed load's spill of raw client
rows is private and removed, a second loader says it waits, sparse files are refused before
they are hashed, and a full disk or exhausted memory is said in one plain line."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.warehouse import store
from tests.hostile import PEAK_MB, ROOT, SECONDS, fingerprint, run_cli

HEADER = (
    "booking_id,location_id,room_id,therapist_id,client_id,service,uses_bars,start_at,end_at,"
    "status,created_at,cancelled_at,price"
)


def bookings(path: Path, count: int, first: int = 0) -> Path:
    """`count` valid bookings of L01 with ids from `first`: ten one-hour slots a day from
    09:00, cycling over 20 days of March 2024 (a generator: no committed large file)."""
    lines = [HEADER]
    for number in range(first, first + count):
        day, hour = divmod(number % 200, 10)
        start = f"2024-03-{4 + day:02d} {9 + hour:02d}:00"
        end = f"2024-03-{4 + day:02d} {9 + hour:02d}:50"
        lines.append(
            f"B{number},L01,L01-R1,L01-T01,C{number % 97},Ashiatsu 60,true,{start},{end},"
            "completed,2024-03-01 09:00,,95.00"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def settings_file(tmp_path: Path, memory_mb: int) -> dict[str, str]:
    """The environment of a load whose DuckDB may use `memory_mb`."""
    toml = tmp_path / "studio-ops.toml"
    toml.write_text(f"load_memory_mb = {memory_mb}\n")
    return {"STUDIO_OPS_SETTINGS": str(toml)}


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """A published warehouse holding ten bookings, loaded by the real CLI."""
    db = tmp_path / "studio.duckdb"
    run = run_cli("load", str(bookings(tmp_path / "seed.csv", 10)), "--db", str(db))
    assert run.returncode == 0, run.lines
    return db


def leftovers(db: Path) -> list[str]:
    """What a load leaves beside the warehouse besides the lock, the salt and the snapshot
    its publish replaced (kept on purpose, for the next load to write over)."""
    return sorted(
        p.name
        for p in db.parent.iterdir()
        if p.name.startswith(db.name + ".")
        and not p.name.endswith(".lock")
        and p != store.previous_snapshot(db)
    )


# --- item 3: the spill of a killed load -------------------------------------------------------


def test_a_load_killed_while_spilling_leaves_its_spill_private_and_the_next_load_removes_it(
    tmp_path: Path, seeded: Path
) -> None:
    # 300,000 bookings are about 35 MB of text: read into temp tables under a 40 MB limit they
    # spill (measured: spill files appear within 1-2 s of the start).
    big = bookings(tmp_path / "big.csv", 300_000, first=1_000)
    before = fingerprint(seeded)
    spill = store.spill_dir(seeded)
    loader = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "load", str(big), "--db", str(seeded)],
        cwd=ROOT,
        env={**os.environ, "STUDIO_OPS_SALT": "test-salt", **settings_file(tmp_path, 40)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mode = None
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline and loader.poll() is None:
            spilled = spill.is_dir() and any("storage" in p.name for p in spill.iterdir())
            if spilled:
                mode = stat.S_IMODE(spill.stat().st_mode)
                break
            time.sleep(0.05)
    finally:
        loader.send_signal(signal.SIGKILL)
        loader.wait()
    assert mode is not None, "the load never spilled (or finished first)"
    assert mode == 0o700, oct(mode)  # only the loading user can read the raw client rows
    assert spill.is_dir()  # SIGKILL: nothing could clean up
    assert fingerprint(seeded) == before

    run = run_cli(
        "load", str(bookings(tmp_path / "next.csv", 5, first=900_000)), "--db", str(seeded)
    )

    assert run.returncode == 0, run.lines
    assert leftovers(seeded) == []  # no .building, .building.wal or .building.tmp/
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB


def test_remove_leftovers_leaves_a_running_loads_files_alone(tmp_path: Path) -> None:
    db = tmp_path / "studio.duckdb"
    spill = store.spill_dir(db)
    spill.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"raw client rows")
    (tmp_path / "studio.duckdb.building").write_bytes(b"half a copy")

    with store._exclusive_lock(db):  # a load of this warehouse is running
        assert store.remove_leftovers(db) is False
        assert leftovers(db) == ["studio.duckdb.building", "studio.duckdb.building.tmp"]
    assert store.remove_leftovers(db) is True
    assert leftovers(db) == []


# --- item 17: waiting for a lock, and files refused before hashing ---------------------------


def test_a_second_loader_says_it_is_waiting_for_the_first(tmp_path: Path, seeded: Path) -> None:
    errors = tmp_path / "stderr.txt"
    small = bookings(tmp_path / "more.csv", 3, first=500)
    line = f"studio-ops: {seeded}: waiting for another load of this warehouse…"
    with store._exclusive_lock(seeded), open(errors, "w") as err:  # the first load
        loader = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "load", str(small), "--db", str(seeded)],
            cwd=ROOT,
            env={**os.environ, "STUDIO_OPS_SALT": "test-salt"},
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        deadline = time.monotonic() + SECONDS
        while line not in errors.read_text() and time.monotonic() < deadline:
            assert loader.poll() is None, errors.read_text()
            time.sleep(0.05)
        said = errors.read_text()
        still_waiting = loader.poll() is None
    out, _ = loader.communicate(timeout=SECONDS)
    assert said.splitlines() == [line]
    assert still_waiting
    assert loader.returncode == 0
    # 10 seeded + 3 new bookings
    assert f"{small}: bookings (native-csv): 3 rows read, 3 loaded, 0 rejected" in out


SPARSE_GB = 100  # hashing 100 GB of holes takes minutes: far over SECONDS


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("all holes", "this is not an export (it starts with NUL bytes)"),
        (
            "a header, then holes",
            "this is not an export (a sparse file: its holes read as NUL bytes)",
        ),
        ("a written block of NUL bytes first", "this is not an export (it starts with NUL bytes)"),
    ],
)
def test_a_sparse_or_nul_file_is_refused_before_it_is_hashed(
    tmp_path: Path, seeded: Path, case: str, message: str
) -> None:
    path = tmp_path / "export.csv"
    if case == "a written block of NUL bytes first":
        path.write_bytes(b"\0" * 4096 + (HEADER + "\n").encode())
    else:
        with open(path, "wb") as handle:
            if case == "a header, then holes":
                handle.write((HEADER + "\n").encode() * 200)  # 30 KB of text, then holes
        os.truncate(path, SPARSE_GB << 30)
    before = fingerprint(seeded)

    run = run_cli("load", str(path), "--db", str(seeded), timeout=SECONDS)

    assert run.returncode == 1
    assert run.lines == [f"{path}: not loaded: {message}", f"nothing loaded; {seeded} is unchanged"]
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(seeded) == before


# --- item 18: disk full and out of memory, in plain words ------------------------------------

# Ignoring SIGXFSZ turns a write past RLIMIT_FSIZE into EFBIG ("File too large"): a full disk
# without filling one. The child imports this before anything else (PYTHONPATH).
FSIZE_LIMIT = """
import os, resource, signal
limit = int(os.environ["TEST_FSIZE_LIMIT"])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
"""


@pytest.mark.parametrize(
    ("step", "bookings_in_file", "room"),
    [
        # the seed warehouse (about 5.5 MB) does not fit: the copy fails
        ("copying the warehouse", 3_000, -1_000_000),
        # 300,000 rows need tens of MB more than 2 MB: a file's writes fail
        ("writing a file's rows", 300_000, 2_000_000),
        # 3,000 rows fit, the marts' checkpoint does not
        ("the checkpoint", 3_000, 200_000),
    ],
)
def test_a_full_disk_is_reported_as_disk_full(
    tmp_path: Path, seeded: Path, step: str, bookings_in_file: int, room: int
) -> None:
    limits = tmp_path / "limits"
    limits.mkdir()
    (limits / "sitecustomize.py").write_text(FSIZE_LIMIT)
    export = bookings(tmp_path / "export.csv", bookings_in_file, first=10_000)
    before = fingerprint(seeded)
    env = {"PYTHONPATH": str(limits), "TEST_FSIZE_LIMIT": str(seeded.stat().st_size + room)}

    run = run_cli("load", str(export), "--db", str(seeded), env=env)

    assert run.returncode == 1, run.lines
    errors = [line for line in run.lines if "disk full" in line]
    assert len(errors) == 1, run.lines
    assert "disk full (File too large)" in errors[0] and "nothing was published" in errors[0]
    assert "Traceback" not in run.stdout + run.stderr
    assert "cannot rollback" not in run.stdout + run.stderr
    assert fingerprint(seeded) == before
    assert leftovers(seeded) == []
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB


@pytest.mark.parametrize(
    ("memory_mb", "where"),
    [
        # 4 MB cannot even hold the 300,000 rows being read: that file fails, named
        (4, "file"),
        # 40 MB reads and writes them, but a mart's hash table cannot spill below it
        (40, "build"),
    ],
)
def test_running_out_of_memory_names_the_file_and_the_limit(
    tmp_path: Path, seeded: Path, memory_mb: int, where: str
) -> None:
    export = bookings(tmp_path / "export.csv", 300_000, first=10_000)
    before = fingerprint(seeded)

    run = run_cli("load", str(export), "--db", str(seeded), env=settings_file(tmp_path, memory_mb))

    advice = (
        f"the load's limit is {memory_mb} MB; "
        "the setting load_memory_mb in studio-ops.toml raises it"
    )
    assert run.returncode == 1
    if where == "file":
        assert run.lines == [
            f"{export}: not loaded: ran out of memory ({advice})",
            f"nothing loaded; {seeded} is unchanged",
        ]
    else:
        # the model that ran out is named (an intermediate or a mart, whichever needs the most
        # memory under this limit), and it is a file of the project
        said = re.match(
            rf"studio-ops: {re.escape(str(seeded))}: ran out of memory in (sql/\S+\.sql) ",
            run.lines[-1],
        )
        assert said and (ROOT / said.group(1)).is_file(), run.lines[-1]
        assert run.lines[-1].endswith(f"({advice}); nothing was published")
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(seeded) == before
    assert leftovers(seeded) == []
