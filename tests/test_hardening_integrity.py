"""Issue 13 (hardening), items 1 and 4: a load never changes another location's bookings, and
whether the warehouse holds the demo follows from what it contains, whatever order a load and
a `studio-ops demo` run in (issue 14: a load into the demo is refused, so it stays the demo).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines import access
from pipelines.ingest.load import DEMO_LAST_LOAD as DEMO_KEY
from pipelines.ingest.load import is_demo, load_files
from pipelines.warehouse import incremental, store
from tests.browser import browser_test, chromium_page, streamlit_app, studio_env, wait_until_idle
from tests.conftest import studio_copy
from tests.hostile import PEAK_MB, ROOT, SECONDS, fingerprint, run_cli
from tests.test_load import BOOKING_HEADER, booking, write_csv

MOVED = "booking {id} belongs to location {stored}; a booking never moves location"


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Run a query on the published warehouse, read-only, and close it."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def bookings_at(location: str, ids: list[str], **changes: str) -> list[dict[str, str]]:
    """One valid booking per id at `location` (its room and therapist), an hour apart."""
    return [
        booking(
            booking_id=booking_id,
            location_id=location,
            room_id=f"{location}-R1",
            therapist_id=f"{location}-T01",
            client_id=f"{location}-C{number}",  # clients of their own, so L02 figures stay
            start_at=f"2024-03-04 {9 + number:02d}:00",
            end_at=f"2024-03-04 {9 + number:02d}:50",
            **changes,
        )
        for number, booking_id in enumerate(ids)
    ]


# The marts an incremental load refreshes or adjusts (pipelines.warehouse.incremental).
REFRESHED_MARTS = [*incremental.REFRESHED, *incremental.ADJUSTED]
L02_ROWS = "select * from {table} where location_id = 'L02' order by all"


def month_of_bookings(location: str) -> list[dict[str, str]]:
    """One booking a day at `location` through April 2024 (ids F<location>-<day>), so that a
    change to one day of March is small enough for an incremental refresh of the marts."""
    return [
        booking(
            booking_id=f"F{location}-{day}",
            location_id=location,
            room_id=f"{location}-R1",
            therapist_id=f"{location}-T01",
            client_id=f"{location}-F{day}",
            start_at=f"2024-04-{day:02d} 15:00",
            end_at=f"2024-04-{day:02d} 16:00",
        )
        for day in range(1, 31)
    ]


@pytest.fixture
def two_studios(tmp_path: Path) -> Path:
    """A warehouse with bookings B1-B3 at L01 and B4-B5 at L02 on 4 March 2024, all completed,
    and a booking a day through April at each."""
    db = tmp_path / "studio.duckdb"
    first = write_csv(
        tmp_path / "first.csv",
        BOOKING_HEADER,
        bookings_at("L01", ["B1", "B2", "B3"])
        + bookings_at("L02", ["B4", "B5"])
        + month_of_bookings("L01")
        + month_of_bookings("L02"),
    )
    [result] = load_files(db, [first])
    assert (result.rows_loaded, result.rows_rejected) == (65, 0)
    return db


def l02_state(db: Path) -> tuple[list[tuple], list[tuple]]:
    """L02's raw and mart rows (the rows no L01 export may change)."""
    return (
        query(db, L02_ROWS.format(table="raw_bookings")),
        query(db, L02_ROWS.format(table="fct_bookings")),
    )


# --- item 1: a booking never moves location ------------------------------------------------


def test_cli_load_rejects_bookings_that_belong_to_another_location(
    two_studios: Path, tmp_path: Path
) -> None:
    db = two_studios
    before = l02_state(db)
    # Says L01, but B4 and B5 are L02's bookings; B1 (L01's own) is cancelled, B6 is new.
    hostile = write_csv(
        tmp_path / "l01-export.csv",
        BOOKING_HEADER,
        bookings_at("L01", ["B4", "B5"], status="cancelled")
        + bookings_at("L01", ["B1"], status="cancelled")
        + bookings_at("L01", ["B6"]),
    )

    run = run_cli("load", str(hostile), "--db", str(db))

    assert run.returncode == 0, run.stderr
    # 4 lines read: B4 and B5 rejected (stored at L02), B1 updated and B6 added.
    assert run.lines == [
        f"{hostile}: bookings (native-csv): 4 rows read, 2 loaded, 2 rejected",
        f"published {db}",
    ]
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert query(db, "select line_number, reason from rejected_rows order by 1") == [
        (2, MOVED.format(id="B4", stored="L02")),
        (3, MOVED.format(id="B5", stored="L02")),
    ]
    assert l02_state(db) == before
    # L01 keeps B1-B3 with B1 now cancelled, plus B6; L02 keeps its two completed bookings,
    # in the raw table and in the marts the incremental refresh rebuilt.
    expected = [
        ("B1", "L01", "cancelled"),
        ("B2", "L01", "completed"),
        ("B3", "L01", "completed"),
        ("B4", "L02", "completed"),
        ("B5", "L02", "completed"),
        ("B6", "L01", "completed"),
    ]
    for table in ("raw_bookings", "fct_bookings"):
        assert query(
            db,
            f"select booking_id, location_id, status from {table} "
            "where booking_id like 'B%' order by 1",
        ) == (expected)
    assert query(db, "select mode from mart_build_state") == [("incremental",)]
    # The refreshed marts equal a full build of the same two files in one load.
    full = tmp_path / "full.duckdb"
    load_files(full, [tmp_path / "first.csv", hostile])
    assert query(full, "select mode from mart_build_state") == [("full",)]
    for mart in REFRESHED_MARTS:
        assert query(db, f"select * from {mart} order by all") == query(
            full, f"select * from {mart} order by all"
        ), mart


def test_a_file_of_only_other_locations_bookings_gets_one_line_and_changes_nothing(
    two_studios: Path, tmp_path: Path
) -> None:
    db = two_studios
    before = fingerprint(db)
    hostile = write_csv(
        tmp_path / "takeover.csv",
        BOOKING_HEADER,
        bookings_at("L01", ["B4", "B5"], status="cancelled"),
    )

    run = run_cli("load", str(hostile), "--db", str(db))

    assert run.returncode == 1
    assert run.lines == [
        f"{hostile}: not loaded: every row was rejected (first: line 2: "
        + MOVED.format(id="B4", stored="L02")
        + ")",
        f"nothing loaded; {db} is unchanged",
    ]
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(db) == before


def test_a_managers_upload_only_inserts_or_updates_their_own_locations(
    two_studios: Path, tmp_path: Path
) -> None:
    db = two_studios
    before = l02_state(db)
    upload = write_csv(
        tmp_path / "upload.csv",
        BOOKING_HEADER,
        bookings_at("L01", ["B4"], status="cancelled")  # L02's booking, relabelled L01
        + bookings_at("L02", ["B5"], status="cancelled")  # L02, not the manager's location
        + bookings_at("L01", ["B2"], status="no_show")  # the manager's own booking
        + bookings_at("L01", ["B7"]),  # a new booking of the manager's location
    )

    [result] = load_files(db, [upload], allowed_locations=["L01"])

    # Lines 2 and 3 rejected, for two different reasons; B2 updated and B7 added.
    assert (result.outcome, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "loaded",
        4,
        2,
        2,
    )
    assert query(db, "select line_number, reason from rejected_rows order by 1") == [
        (2, MOVED.format(id="B4", stored="L02")),
        (3, "location_id 'L02' is not one of your locations"),
    ]
    assert l02_state(db) == before
    assert query(
        db,
        "select booking_id, status from fct_bookings "
        "where location_id = 'L01' and booking_id like 'B%' order by 1",
    ) == [("B1", "completed"), ("B2", "no_show"), ("B3", "completed"), ("B7", "completed")]


def test_an_owner_cannot_move_a_booking_either(two_studios: Path, tmp_path: Path) -> None:
    # Owners may write every location, but a booking id stored at L02 stays L02's: the owner
    # gets the same rejection (L02's rows unchanged), while L02's own export still updates it.
    db = two_studios
    before = l02_state(db)
    moved = write_csv(tmp_path / "moved.csv", BOOKING_HEADER, bookings_at("L03", ["B4", "B1"]))
    assert load_files(db, [moved], allowed_locations=None)[0].message.startswith(
        "every row was rejected (first: line 2: " + MOVED.format(id="B4", stored="L02")
    )
    assert l02_state(db) == before
    update = write_csv(
        tmp_path / "l02.csv", BOOKING_HEADER, bookings_at("L02", ["B4"], status="no_show")
    )
    [result] = load_files(db, [update])
    assert (result.rows_loaded, result.rows_rejected) == (1, 0)
    assert query(db, "select status from fct_bookings where booking_id = 'B4'") == [("no_show",)]


# --- item 4: the demo flag follows from what the warehouse holds ---------------------------

REAL_ID = "REAL-1"


def real_file(folder: Path) -> Path:
    """A studio's own export: one new booking at L01 (an id the demo never uses)."""
    return write_csv(folder / "real-bookings.csv", BOOKING_HEADER, bookings_at("L01", [REAL_ID]))


def demo_state(db: Path) -> tuple[bool, bool]:
    """(is_demo, the real booking is in the warehouse)."""
    with duckdb.connect(str(db), read_only=True) as con:
        real = con.execute(
            "select count(*) from raw_bookings where booking_id = ?", [REAL_ID]
        ).fetchone()[0]
        return is_demo(con), bool(real)


@pytest.fixture
def demo_copy(demo_warehouse: Path, tmp_path: Path) -> Path:
    db = tmp_path / "studio.duckdb"
    shutil.copyfile(demo_warehouse, db)
    return db


REFUSED = (
    "studio-ops: {db} holds the built-in demo chain (made-up data), which never mixes with a "
    "studio's own exports: start your own warehouse with `studio-ops init`, then load into it"
)


def test_a_real_load_into_the_demo_warehouse_is_refused(demo_copy: Path, tmp_path: Path) -> None:
    db = demo_copy
    assert demo_state(db) == (True, False)
    assert "made-up" in run_cli("status", "--db", str(db)).stdout
    before = fingerprint(db)

    run = run_cli("load", str(real_file(tmp_path)), "--db", str(db))

    assert run.returncode == 1
    assert run.lines == [REFUSED.format(db=db)]
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(db) == before
    assert demo_state(db) == (True, False)


def test_a_warehouse_that_mixed_demo_and_real_data_counts_as_real(
    demo_copy: Path, tmp_path: Path
) -> None:
    """Before loads into the demo were refused, a studio could load into it: that warehouse
    holds real data, so `demo` never overwrites it and `status` never calls it the demo."""
    db = demo_copy
    with store.building(db) as con:  # as such a warehouse was: the demo's key set aside
        demo_last = con.execute("select value from warehouse_info where key = ?", [DEMO_KEY])
        demo_last = demo_last.fetchone()[0]
        con.execute("delete from warehouse_info where key = ?", [DEMO_KEY])
    load_files(db, [real_file(tmp_path)])
    with store.building(db) as con:
        store.set_info(con, DEMO_KEY, demo_last)
    assert demo_state(db) == (False, True)

    refused = run_cli("demo", "--db", str(db))

    assert refused.returncode == 1
    assert refused.lines == [
        f"studio-ops: {db} holds real data, not the demo; "
        "pass --replace to overwrite it, or --db for another file"
    ]
    assert demo_state(db) == (False, True)
    assert "made-up" not in run_cli("status", "--db", str(db)).stdout


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=ROOT,
        env={**os.environ, "STUDIO_OPS_SALT": "test-salt"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def race(db: Path, demo_args: list[str], load_file: Path, gate: bool) -> tuple[int, int, str, str]:
    """Start `demo` and `load` together on `db`; (demo and load exit codes, their stderr).

    With `gate`, the test holds the warehouse lock while both start, so both are under way
    before either may write; it lets go when the demo finishes (a demo that ignores the lock)
    or after 5 s, whichever comes first.
    """
    lock = store.exclusive_lock(db) if gate else None
    if lock:
        lock.__enter__()
    try:
        demo = start_cli("demo", "--db", str(db), *demo_args)
        load = start_cli("load", str(load_file), "--db", str(db))
        if lock:
            deadline = time.monotonic() + 5
            while demo.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        if lock:
            lock.__exit__(None, None, None)
    _, demo_err = demo.communicate(timeout=300)
    _, load_err = load.communicate(timeout=300)
    return demo.returncode, load.returncode, demo_err, load_err


@pytest.mark.parametrize("replace", [True, False], ids=["replace", "rebuild"])
@pytest.mark.parametrize("gate", [True, False], ids=["held-at-the-lock", "free"])
def test_a_load_racing_a_demo_build_never_lands_in_the_demo(
    demo_copy: Path, tmp_path: Path, gate: bool, replace: bool
) -> None:
    db = demo_copy

    demo_code, load_code, _, load_err = race(
        db, ["--replace"] if replace else [], real_file(tmp_path), gate
    )

    # Load first: refused by the old demo, then the demo is rebuilt. Demo first: the load
    # finds the new demo and is refused. Either way the load says so, and the demo stays pure.
    assert (demo_code, load_code) == (0, 1)
    # (after `waiting for another load of this warehouse…` when the demo held the lock)
    assert load_err.strip().splitlines()[-1] == REFUSED.format(db=db)
    assert demo_state(db) == (True, False)


def test_demo_racing_a_load_into_a_studio_warehouse_never_loses_the_load(tmp_path: Path) -> None:
    db = tmp_path / "studio.duckdb"
    assert run_cli("init", "--db", str(db)).returncode == 0

    demo_code, load_code, demo_err, _ = race(db, [], real_file(tmp_path), gate=True)

    # The demo refuses a studio's warehouse, empty (load not yet in) or not: the load lands.
    assert (demo_code, load_code) == (1, 0)
    assert "not the demo; pass --replace" in demo_err
    assert demo_state(db) == (False, True)


# --- item 1 in the browser: a manager's upload through the Data page -----------------------

PASSWORD = "manager-pass-123"


@pytest.fixture
def signed_app(demo_warehouse: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`streamlit run` on a studio's copy of the demo with an access file: maria manages L01."""
    demo_copy = studio_copy(demo_warehouse, tmp_path / "studio.duckdb")  # the demo takes no loads
    access_file = tmp_path / "access.toml"
    access.add_user(access_file, "maria", "manager", ["L01"], PASSWORD)
    env = studio_env(demo_copy, access_file=access_file)
    with streamlit_app(tmp_path / "streamlit.log", env, seconds=60) as app:
        yield app.url, demo_copy


@browser_test
def test_browser_a_manager_cannot_overwrite_another_locations_bookings(
    signed_app: tuple[str, Path], tmp_path: Path
) -> None:
    base, db = signed_app
    before = l02_state(db)
    l02_ids = [
        row[0]
        for row in query(
            db, "select booking_id from raw_bookings where location_id = 'L02' order by 1 limit 2"
        )
    ]
    # Two L02 bookings relabelled L01 and cancelled, and one new L01 booking: 3 rows read,
    # the new one loaded, the two others rejected.
    upload = write_csv(
        tmp_path / "l01-upload.csv",
        BOOKING_HEADER,
        bookings_at("L01", l02_ids, status="cancelled") + bookings_at("L01", ["NEW-1"]),
    )
    with chromium_page() as page:
        page.goto(f"{base}/loads")
        wait_until_idle(page)
        page.get_by_label("User name", exact=True).fill("maria")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        wait_until_idle(page)
        page.get_by_role("button", name="Load files").wait_for(timeout=60_000)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(upload))
        page.get_by_text(upload.name).first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Load files").click()
        done = page.get_by_text(f"{upload.name}: bookings").first
        done.wait_for(timeout=120_000)
        wait_until_idle(page)
        message = done.inner_text().strip()
        assert page.locator("[data-testid='stException']").count() == 0

    assert message == f"{upload.name}: bookings (native-csv): 3 rows read, 1 loaded, 2 rejected"
    assert l02_state(db) == before
    assert query(db, "select location_id, status from raw_bookings where booking_id = 'NEW-1'") == [
        ("L01", "completed")
    ]
    assert query(
        db,
        "select reason from rejected_rows where file_name = ? order by line_number",
        [upload.name],
    ) == [(MOVED.format(id=booking_id, stored="L02"),) for booking_id in l02_ids]
