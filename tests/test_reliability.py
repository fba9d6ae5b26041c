"""Reliability: loads under concurrent readers, SIGKILL mid-load, hostile files, safe downloads,
upload size limits."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from streamlit.testing.v1 import AppTest

from dashboard import format as fmt
from dashboard import tables
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.test_load import BOOKING_HEADER, booking, write_csv

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
ROOT = APP.parent
TIMEOUT = 60
# Every reader checks this in one connection: the bookings counted per location-day equal the
# rows of fct_bookings, so a half-published snapshot would show as a mismatch.
CONSISTENT_SQL = """
select
    (select coalesce(sum(bookings), 0) from fct_location_days) as counted,
    (select count(*) from fct_bookings) as rows,
    (select count(*) from raw_bookings) as raw_rows
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def studio_ops(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        **kwargs,
    )


def bookings_file(path: Path, first: int, count: int, location: str = "L01") -> Path:
    """`count` valid bookings with ids from `first`, one an hour from 2024-03-04 on."""
    rows = []
    for number in range(first, first + count):
        day, hour = divmod(number, 10)
        start = f"2024-03-{4 + day % 20:02d} {9 + hour:02d}:00"
        rows.append(
            booking(
                booking_id=f"B{number}",
                location_id=location,
                client_id=f"C{number % 97}",
                start_at=start,
                end_at=start[:-5] + f"{9 + hour:02d}:50",
            )
        )
    return write_csv(path, BOOKING_HEADER, rows)


def consistent(db: Path) -> tuple[int, int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        counted, rows, raw_rows = con.execute(CONSISTENT_SQL).fetchone()
    assert counted == rows, f"half-published snapshot: {counted} counted, {rows} rows"
    return counted, rows, raw_rows


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten bookings of L01 loaded once per module; tests work on copies of it."""
    folder = tmp_path_factory.mktemp("seed")
    db = folder / "studio.duckdb"
    load_files(db, [bookings_file(folder / "seed.csv", 0, 10)], Settings())
    return db


@pytest.fixture
def seeded_db(tmp_path: Path, seeded_template: Path) -> Path:
    """A published warehouse with ten bookings of L01 (a consistent snapshot to start from)."""
    db = tmp_path / "studio.duckdb"
    shutil.copyfile(seeded_template, db)
    return db


# --- concurrent use ----------------------------------------------------------------------------

READER = textwrap.dedent(
    """
    import os, sys, time, duckdb
    db, stop, sql = sys.argv[1], sys.argv[2], sys.argv[3]
    reads = errors = mismatches = 0
    seen = set()
    deadline = time.time() + 240  # a guard; the test creates `stop` when the loads are done
    while not os.path.exists(stop) and time.time() < deadline:
        try:
            con = duckdb.connect(db, read_only=True)
            try:
                counted, rows, raw_rows = con.execute(sql).fetchone()
            finally:
                con.close()
            reads += 1
            seen.add(rows)
            if counted != rows:
                mismatches += 1
        except Exception as error:
            errors += 1
            print("error:", type(error).__name__, str(error).splitlines()[0], file=sys.stderr)
        time.sleep(0.005)
    print(reads, errors, mismatches, len(seen))
    """
)


def test_loads_while_readers_query_lose_nothing_and_show_no_half_load(
    tmp_path: Path, seeded_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = [bookings_file(tmp_path / f"batch{i}.csv", 100 * (i + 1), 40) for i in range(2)]
    stop = tmp_path / "stop-reading"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(seeded_db), str(stop), CONSISTENT_SQL],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        loader = subprocess.Popen(
            [sys.executable, "-c", LOAD_LOOP, str(seeded_db), *map(str, batches)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        # Meanwhile, uploads through the app: another writer, taking the same lock.
        monkeypatch.setenv("STUDIO_OPS_DB", str(seeded_db))
        st.cache_data.clear()
        for i in range(1):
            upload = bookings_file(tmp_path / f"upload{i}.csv", 5000 + 50 * i, 20)
            at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
            at.switch_page("dashboard/pages/loads.py").run()
            at.get("file_uploader")[0].set_value((upload.name, upload.read_bytes(), "text/csv"))
            at.get("form_submit_button")[0].click().run()
            assert not at.exception
            # the page shows result lines as text (md_text), so the markdown source is escaped
            assert [s.value for s in at.success] == [
                fmt.md_text(
                    f"{upload.name}: bookings (native-csv): 20 rows read, 20 loaded, 0 rejected"
                )
            ], [e.value for e in at.error]
        _, err = loader.communicate(timeout=240)
        assert loader.returncode == 0, err
    finally:
        stop.touch()
        st.cache_data.clear()
    snapshots = []
    for reader in readers:
        out, err = reader.communicate(timeout=60)
        reads, errors, mismatches, seen = map(int, out.split())
        assert errors == 0, err
        assert mismatches == 0
        assert reads > 10
        snapshots.append(seen)
    assert max(snapshots) > 1, "the readers never saw a newer snapshot"
    _, _, raw_rows = consistent(seeded_db)
    assert raw_rows == 10 + 2 * 40 + 20  # nothing lost


LOAD_LOOP = textwrap.dedent(
    """
    import subprocess, sys
    db, files = sys.argv[1], sys.argv[2:]
    for path in files:
        run = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "load", path, "--db", db],
            capture_output=True, text=True,
        )
        if run.returncode != 0 or "40 loaded" not in run.stdout:
            sys.exit(f"{path}: exit {run.returncode}: {run.stdout} {run.stderr}")
    """
)


# --- crash safety --------------------------------------------------------------------------


def test_sigkill_at_random_points_keeps_the_last_snapshot_and_the_next_load_just_works(
    tmp_path: Path, seeded_db: Path
) -> None:
    rng = random.Random(7)
    big = bookings_file(tmp_path / "big.csv", 100_000, 60_000)
    published = digest(seeded_db)
    killed_mid_load = 0
    for attempt in range(4):
        big.write_text(big.read_text() + "\n" * (attempt + 1))  # new content: never skipped
        loader = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "load", str(big), "--db", str(seeded_db)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        time.sleep(rng.uniform(0.05, 1.5))
        running = loader.poll() is None
        loader.send_signal(signal.SIGKILL)
        loader.wait()
        killed_mid_load += running
        _, _, raw_rows = consistent(seeded_db)  # whichever snapshot it is, it is whole
        # Killed before the rename: byte for byte the last snapshot; after it: the new one.
        assert raw_rows in (10, 10 + 60_000)
        if digest(seeded_db) != published:
            assert raw_rows == 10 + 60_000  # changed only by a whole, finished load
        published = digest(seeded_db)
    assert killed_mid_load >= 2, "the loads finished before they could be killed"
    # No manual clean-up: a stale .building copy and the lock file do not get in the way.
    again = bookings_file(tmp_path / "after.csv", 900_000, 5)
    run = studio_ops("load", str(again), "--db", str(seeded_db))
    assert run.returncode == 0, run.stdout + run.stderr
    _, _, raw_rows = consistent(seeded_db)
    assert raw_rows in (15, 15 + 60_000)
    assert not seeded_db.with_name(seeded_db.name + ".building").exists()


# --- hostile files -------------------------------------------------------------------------

GOOD_CSV = (",".join(BOOKING_HEADER) + "\n" + ",".join(booking().values()) + "\n").encode()
GOOD_ROW = ",".join(booking(booking_id="B2").values())
HEADER = ",".join(BOOKING_HEADER)


def xlsx_bytes() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(BOOKING_HEADER)
    sheet.append(list(booking().values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:e1@test\r\n"
    "DTSTART:20260302T160000Z\r\nDTEND:20260302T173000Z\r\nSUMMARY:Ashiatsu 90 - Maya Okafor\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)

# name -> (content, None when the file must fail, or the rows read when it loads)
# Every failing file gets one line naming the problem (the pattern) and changes nothing.
HOSTILE_FILES: dict[str, tuple[bytes, str]] = {
    "random bytes": (random.Random(1).randbytes(4096), r"not a text export|not UTF-8"),
    "truncated csv (open quote)": (GOOD_CSV + b'B2,L01,R1,T1,C1,"Ashiatsu', r"cannot read"),
    "truncated xlsx": (xlsx_bytes()[:700], r"cannot open the workbook"),
    "truncated ics": (ICS.encode()[:90], r"."),
    "empty": (b"", r"the file is empty"),
    "only whitespace": (b" \r\n\r\n \t\n", r"the file is empty"),
    "latin-1 accents": (
        (HEADER + "\n" + GOOD_ROW.replace("Ashiatsu 60", "Massage à café")).encode("latin-1"),
        r"line 2: not UTF-8 text \(byte 0xe0, perhaps Windows-1252 or Latin-1 for 'à'\); "
        r"export or save the file as CSV UTF-8",
    ),
    "cp1252 euro": (
        (HEADER + "\n" + GOOD_ROW.replace("95.00", "€95.00")).encode("cp1252"),
        r"line 2: not UTF-8 text \(byte 0x80, perhaps Windows-1252 or Latin-1 for '€'\)",
    ),
    "nul bytes": (GOOD_CSV + b"B3,L01\x00,R1\n", r"NUL"),
    "10 MB cell": (
        (HEADER + "\n" + GOOD_ROW.replace("Ashiatsu 60", "x" * 10_000_000)).encode(),
        r"line 2: .*(too large|field larger than|larger than)",
    ),
    "10,000 columns": (
        (
            HEADER + "," + ",".join(f"x{i}" for i in range(10_000)) + "\n"
            + GOOD_ROW + "," * 10_000 + "\n"
        ).encode(),
        r"the header has 10,013 columns; an export has at most 1,000",
    ),
    "31 February and 25:61": (
        (
            HEADER + "\n"
            + GOOD_ROW.replace("2024-03-04 10:00", "31/02/2024 10:00") + "\n"
            + GOOD_ROW.replace("2024-03-04 11:00", "2024-03-04 25:61") + "\n"
        ).encode(),
        r"every row was rejected \(first: line 2: start_at '31/02/2024 10:00' is not a "
        r"date-time",
    ),
}  # fmt: skip

# Files that are legitimate exports in another dress, and load (rows read).
DECODED_FILES: dict[str, tuple[bytes, int]] = {
    "utf-16 with bom": (
        (HEADER + "\r\n" + GOOD_ROW.replace("Ashiatsu 60", "Ashiatsu café €") + "\r\n").encode(
            "utf-16"
        ),
        1,
    ),
    "utf-16 tab separated (Excel Unicode Text)": (
        (HEADER + "\r\n" + GOOD_ROW + "\r\n").replace(",", "\t").encode("utf-16"),
        1,
    ),
    "mixed line endings": (
        (
            HEADER + "\r\n" + GOOD_ROW + "\n" + GOOD_ROW.replace("B2", "B3") + "\r"
            + GOOD_ROW.replace("B2", "B4") + "\r\n"
        ).encode(),
        3,
    ),
    "truncated csv (mid row)": (GOOD_CSV + b"B2,L01,R1,T1", 2),
}  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE_FILES, ids=list(HOSTILE_FILES))
def test_hostile_file_gets_one_line_and_changes_nothing(
    tmp_path: Path, seeded_db: Path, case: str
) -> None:
    content, pattern = HOSTILE_FILES[case]
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    before = digest(seeded_db)

    [result] = load_files(seeded_db, [path], Settings())

    assert result.outcome == "failed", result.summary()
    line = result.summary()
    assert "\n" not in line and len(line) < 400, line
    assert line.startswith(f"{path}: not loaded: ")
    assert re.search(pattern, result.message), result.message
    assert digest(seeded_db) == before


@pytest.mark.parametrize("case", DECODED_FILES, ids=list(DECODED_FILES))
def test_legitimate_encodings_and_line_endings_load(tmp_path: Path, case: str) -> None:
    content, rows = DECODED_FILES[case]
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    db = tmp_path / "w.duckdb"

    [result] = load_files(db, [path], Settings())

    assert result.outcome == "loaded", result.summary()
    assert result.rows_read == rows
    with duckdb.connect(str(db), read_only=True) as con:
        services = {r[0] for r in con.execute("select service from raw_bookings").fetchall()}
    assert services <= {"Ashiatsu 60", "Ashiatsu café €"}  # decoded right, or not at all


def test_the_cli_prints_one_line_per_hostile_file_and_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    files = []
    for number, (content, _) in enumerate(HOSTILE_FILES.values()):
        files.append(tmp_path / f"hostile{number:02d}.csv")
        files[-1].write_bytes(content)
    run = studio_ops("load", *map(str, files), "--db", str(db))
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[:-1] == [line for line in lines[:-1] if ": not loaded: " in line]
    assert [line.split(": not loaded: ")[0] for line in lines[:-1]] == list(map(str, files))
    assert lines[-1] == f"nothing loaded; {db} is unchanged"
    assert not db.exists()


def _one_file_outcome(db: Path, tmp_path: Path, content: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content)
    before = digest(db)
    [result] = load_files(db, [path], Settings())  # never raises
    line = result.summary()
    assert "\n" not in line and line.startswith(f"{path}: "), line
    assert "Traceback" not in line
    if result.outcome == "failed":
        assert digest(db) == before


def _mutations():
    """Valid exports, then cut, spliced or sprinkled with random bytes."""
    seeds = hs.sampled_from([GOOD_CSV, xlsx_bytes(), ICS.encode()])
    return hs.one_of(
        hs.binary(max_size=3000),
        hs.tuples(seeds, hs.integers(0, 4000)).map(lambda t: t[0][: t[1]]),
        hs.tuples(seeds, hs.integers(0, 4000), hs.binary(min_size=1, max_size=40)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
        ),
        hs.tuples(
            hs.lists(hs.text(max_size=30), min_size=1, max_size=14),
            hs.sampled_from(["\n", "\r\n", "\r"]),
        ).map(lambda t: (HEADER + t[1] + ",".join(t[0]) + t[1]).encode("utf-8", "surrogatepass")),
    )


FUZZ = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=30, **FUZZ)
@given(content=_mutations(), suffix=hs.sampled_from([".csv", ".xlsx", ".ics", ".txt"]))
def test_fuzzed_files_never_crash_the_loader(
    tmp_path: Path, seeded_db: Path, content: bytes, suffix: str
) -> None:
    _one_file_outcome(seeded_db, tmp_path, content, suffix)


@pytest.mark.slow
@settings(max_examples=1000, **{**FUZZ, "derandomize": False})
@given(content=_mutations(), suffix=hs.sampled_from([".csv", ".xlsx", ".ics", ".txt"]))
def test_fuzzed_files_never_crash_the_loader_long(
    tmp_path: Path, seeded_db: Path, content: bytes, suffix: str
) -> None:
    _one_file_outcome(seeded_db, tmp_path, content, suffix)


# --- safe downloads and upload limits ------------------------------------------------------


def test_every_download_in_the_app_goes_through_the_formula_guard() -> None:
    # a download of another kind (the Setup page's profile TOML) holds no table cells
    offenders = [
        path.relative_to(ROOT)
        for path in [*(ROOT / "dashboard").rglob("*.py"), APP]
        if path.name != "tables.py"
        and any(
            "csv" in call[:400].lower() for call in path.read_text().split("download_button(")[1:]
        )
    ]
    assert offenders == [], "download CSVs only through dashboard.tables.show_table"
    tables = (ROOT / "dashboard" / "tables.py").read_text()
    assert "data=lambda: csv_bytes(" in tables
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert fmt.csv_safe_cell(f"{start}1+1") == f"'{start}1+1"


def test_a_real_page_download_neutralises_formulas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    evil = write_csv(
        tmp_path / "=HYPERLINK(1).csv",
        BOOKING_HEADER,
        [booking(), booking(booking_id="=cmd|' /C calc'!A0", start_at="-1+2")],
    )
    load_files(db, [evil], Settings())
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    # The CSV is written when the button is clicked; AppTest has no server to click through,
    # so keep each button's writer and run it as the click would.
    stored: dict[str, bytes] = {}
    original = tables.st.download_button

    def keep(label, data, file_name, **kwargs):
        stored[file_name] = data()
        return original(label, data, file_name, **kwargs)

    monkeypatch.setattr(tables.st, "download_button", keep)
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.switch_page("dashboard/pages/loads.py").run()
    assert not at.exception
    rejected = stored["rejected-rows.csv"].decode()
    assert "'=cmd|' /C calc'!A0" in rejected
    loads = stored["loads.csv"].decode()
    assert "'=HYPERLINK(1).csv" in loads
    for text in stored.values():
        for row in csv.reader(io.StringIO(text.decode(), newline="")):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_uploads_over_the_size_cap_get_one_line_and_load_nothing(
    tmp_path: Path, seeded_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file = tmp_path / "studio-ops.toml"
    settings_file.write_text("max_upload_mb = 1\n")
    monkeypatch.setenv("STUDIO_OPS_SETTINGS", str(settings_file))
    monkeypatch.setenv("STUDIO_OPS_DB", str(seeded_db))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    big = bookings_file(tmp_path / "big.csv", 1000, 12_000)
    assert big.stat().st_size > 1024 * 1024
    before = digest(seeded_db)
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.switch_page("dashboard/pages/loads.py").run()
    at.get("file_uploader")[0].set_value(("big.csv", big.read_bytes(), "text/csv"))
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert re.fullmatch(
        r"big\.csv: not loaded: \d+\.\d MB is over the 1 MB upload limit; "
        r"load it with `studio-ops load` instead",
        error,
    )
    assert digest(seeded_db) == before


def test_the_upload_cap_matches_streamlits_own_limit() -> None:
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == Settings().max_upload_mb
