"""The `studio-ops` command: exit codes, one-line messages, warehouse path, crash safety."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.test_load import BOOKING_HEADER, booking, write_csv


def studio_ops(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run the command as a user would (a separate process); returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


def count_bookings(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select count(*) from raw_bookings").fetchone()[0]


def test_load_prints_one_line_per_file_and_exits_0(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    first = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking(), booking(booking_id="B2")])
    second = write_csv(tmp_path / "b.csv", BOOKING_HEADER, [booking(booking_id="B3", status="?")])
    second.write_text(
        second.read_text() + ",".join(booking(booking_id="B4")[c] for c in BOOKING_HEADER) + "\n"
    )

    run = studio_ops("load", str(first), str(second), "--db", str(db))

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"{first}: bookings (native-csv): 2 rows read, 2 loaded, 0 rejected"
    assert lines[1] == f"{second}: bookings (native-csv): 2 rows read, 1 loaded, 1 rejected"
    assert lines[2] == f"published {db}"
    assert count_bookings(db) == 3


def test_load_leaves_without_teardown_but_with_all_its_output(tmp_path: Path) -> None:
    # run() ends a load with os._exit: the lines still in a piped stdout's buffer
    # (block-buffered without PYTHONUNBUFFERED) must be written first
    db = tmp_path / "w.duckdb"
    data = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}

    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "load", str(data), "--db", str(db), "--timings"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"published {db}"
    assert run.stderr.splitlines()[-1].endswith("checkpoint")
    assert count_bookings(db) == 1


def test_timings_name_every_build_step_on_stderr_only(tmp_path: Path) -> None:
    from pipelines.warehouse.models import model_scripts

    db = tmp_path / "w.duckdb"
    data = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])

    run = studio_ops("load", str(data), "--db", str(db), "--timings")

    assert run.returncode == 0, run.stderr
    steps = [line.split(" s  ", 1)[1] for line in run.stderr.splitlines() if " s  " in line]
    # the file's two steps, every mart script, and the publish checkpoint
    assert steps[:2] == ["read and check a.csv", "write a.csv"]
    assert {script.stem for script in model_scripts()} <= set(steps)
    assert "checkpoint" in steps
    assert "s  " not in run.stdout  # stdout keeps its one line per file


def test_build_steps_show_each_finished_step_while_a_load_runs(tmp_path: Path) -> None:
    # On a terminal the progress bar's label is the last finished step, so the minute or more
    # of mart building after a big load's last file never looks stuck.
    import logging

    from pipelines.cli import build_steps
    from pipelines.ingest.load import load_files

    data = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])
    shown: list[str] = []

    with build_steps(shown.append):
        load_files(tmp_path / "w.duckdb", [data])
    during = list(shown)
    load_files(tmp_path / "w2.duckdb", [data])

    assert during[0].startswith("read and check a.csv done (")
    assert any(line.startswith("fct_hourly_capacity done (") for line in during)
    assert during[-1].startswith("checkpoint done (")
    assert shown == during  # after the block nothing more is shown
    assert not logging.getLogger("studio_ops.timings").handlers


def test_loading_a_native_csv_never_imports_pandas(tmp_path: Path) -> None:
    # pandas takes about 0.3 s to import, a twentieth of a daily load at 10M bookings; only
    # vendor files built row by row in Python need it
    db = tmp_path / "w.duckdb"
    data = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])
    script = (
        "import sys\n"
        "from pipelines.cli import main\n"
        f"sys.argv = ['studio-ops', 'load', {str(data)!r}, '--db', {str(db)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('pandas imported' if 'pandas' in sys.modules else 'no pandas')\n"
    )

    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "no pandas"
    assert count_bookings(db) == 1


def test_unloadable_file_exits_1_with_a_one_line_reason_and_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    good = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])
    bad = tmp_path / "photo.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    run = studio_ops("load", str(good), str(bad), "--db", str(db))

    assert run.returncode == 1
    assert f"{bad}: not loaded: this is not a text export (it contains NUL bytes)" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert count_bookings(db) == 1  # the good file still loaded


def test_missing_path_and_usage_errors(tmp_path: Path) -> None:
    missing = studio_ops("load", str(tmp_path / "nope.csv"), "--db", str(tmp_path / "w.duckdb"))
    assert missing.returncode == 1
    assert "nope.csv: not loaded: no such file" in missing.stdout
    assert not (tmp_path / "w.duckdb").exists()  # nothing loaded, nothing created

    for args in (["load"], ["frobnicate"], ["generate", str(tmp_path), "--days", "0"]):
        run = studio_ops(*args)
        assert run.returncode == 2, args
        assert "Traceback" not in run.stderr
        assert "usage: studio-ops" in run.stderr


def test_warehouse_path_comes_from_flag_then_env_then_default(tmp_path: Path) -> None:
    exports = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])
    env_db, flag_db = tmp_path / "env.duckdb", tmp_path / "flag.duckdb"

    # the default path is used once `init` has started the warehouse there
    assert studio_ops("init", cwd=tmp_path, env={"STUDIO_OPS_DB": ""}).returncode == 0
    studio_ops("load", str(exports), cwd=tmp_path, env={"STUDIO_OPS_DB": ""})
    assert count_bookings(tmp_path / "data" / "studio.duckdb") == 1

    studio_ops("load", str(exports), env={"STUDIO_OPS_DB": str(env_db)})
    assert env_db.exists()

    studio_ops("load", str(exports), "--db", str(flag_db), env={"STUDIO_OPS_DB": str(env_db)})
    assert flag_db.exists()


def test_a_load_from_another_folder_never_starts_a_warehouse_of_its_own(tmp_path: Path) -> None:
    """A cron job that runs `studio-ops load` without `cd` to the studio's folder (and without
    --db or STUDIO_OPS_DB) would start data/studio.duckdb wherever it runs, load the morning's
    exports into it and say 'published', while the app reads the real one. It stops instead,
    in one line saying where it looked, and creates nothing."""
    exports = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()

    run = studio_ops("load", str(exports), cwd=elsewhere, env={"STUDIO_OPS_DB": ""})

    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"studio-ops: no warehouse at data/studio.duckdb in {elsewhere}: run from the folder "
        "your warehouse is in, pass --db (or set STUDIO_OPS_DB), or start one here with "
        "`studio-ops init`; nothing loaded"
    ]
    assert not (elsewhere / "data").exists()


def test_status_reports_loads_counts_and_rejections(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    rows = [booking(), booking(booking_id="B2", status="Frobbed"), booking(booking_id="B3")]
    studio_ops("load", str(write_csv(tmp_path / "a.csv", BOOKING_HEADER, rows)), "--db", str(db))

    run = studio_ops("status", "--db", str(db))

    assert run.returncode == 0, run.stderr
    assert "a.csv: bookings (native-csv), 3 read, 2 loaded, 1 rejected" in run.stdout
    assert "L01: 2024-03-04 to 2024-03-04, 2 bookings" in run.stdout
    # a location with one booking says so in the singular (was '1 bookings')
    one = tmp_path / "one.duckdb"
    studio_ops(
        "load", str(write_csv(tmp_path / "b.csv", BOOKING_HEADER, [booking()])), "--db", str(one)
    )
    assert (
        "L01: 2024-03-04 to 2024-03-04, 1 booking\n"
        in studio_ops("status", "--db", str(one)).stdout
    )
    assert "1  unknown status '…'" in run.stdout
    # what is stored, in the studio's words: no table names of ours (mart_, int_, rpt_, raw_)
    stored = run.stdout.split("what is stored:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[-1] for line in stored][:3] == ["2", "1", "1"]
    assert stored[0].split() == ["bookings", "2"]  # B1 and B3 (B2 rejected)
    assert not any(word in run.stdout for word in ("mart_", "int_", "rpt_", "raw_", "stg_"))
    assert studio_ops("status", "--db", str(tmp_path / "none.duckdb")).returncode == 1


def test_status_names_the_file_and_line_of_each_latest_rejected_row(tmp_path: Path) -> None:
    """A load's line says only how many rows were rejected; status says which: file, line and
    reason, one line each, newest load first and in line order, so a manager can fix them."""
    db = tmp_path / "w.duckdb"
    first = write_csv(
        tmp_path / "monday.csv", BOOKING_HEADER, [booking(), booking(booking_id="B9", status="X")]
    )
    rows = [
        booking(booking_id="B2"),
        booking(booking_id="B3", start_at="03/04/2024 10:00"),
        booking(booking_id="B4", client_id=""),
    ]
    second = write_csv(tmp_path / "tuesday.csv", BOOKING_HEADER, rows)
    studio_ops("load", str(first), "--db", str(db))
    studio_ops("load", str(second), "--db", str(db))

    run = studio_ops("status", "--db", str(db))

    assert run.returncode == 0, run.stderr
    listed = run.stdout.split("latest rejected rows")[1].splitlines()[1:4]
    # tuesday.csv (the newer load) first: its header is line 1, so B3 is line 3 and B4 line 4
    assert listed == [
        f"  {second} line 3: start_at '03/04/2024 10:00' is not a date-time "
        "(expected YYYY-MM-DD HH:MM)",
        f"  {second} line 4: client_id is missing",
        f"  {first} line 3: unknown status 'X'",
    ]


def test_a_file_the_system_refuses_is_one_line_naming_it(tmp_path: Path) -> None:
    """The README's `export STUDIO_OPS_ACCESS=/etc/studio-ops/access.toml` run by a user who may
    not write /etc: whatever the system refuses (here a folder that is a file) is one line
    naming the path and the reason in words, not an 'unexpected error' with an errno."""
    (tmp_path / "etc").write_text("not a folder")
    access = tmp_path / "etc" / "studio-ops" / "access.toml"

    run = studio_ops(
        "access", "add-user", "olga", "--role", "owner", "--no-password", "--email",
        "olga@example.com", "--file", str(access),
    )  # fmt: skip

    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"studio-ops: {access.parent}: not a directory (check the path, and that this user "
        "may read and write there)"
    ]


ACUITY_HEADER = (
    '"Start Time","End Time","First Name","Last Name","Email","Type","Calendar",'
    '"Appointment Price","Date Scheduled","Label","Appointment ID"'
)
ACUITY_ROW = (
    '"November 26, 2026 9:00 am","November 26, 2026 10:30 am","Nadia","Ferro",'
    '"nadia@example.com","Ashiatsu 90","Ines Moreau","135.00","2026-11-21","","500101"'
)


def test_a_mapping_left_in_the_folder_of_exports_is_named_when_a_file_needs_it(
    tmp_path: Path,
) -> None:
    """The README's setup keeps exports/acuity.toml beside the export; `load exports/` skips
    mapping files, so the Acuity export asks for a mapping the studio has: one more line names
    the file it skipped and how to use it, changing nothing."""
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "appointments.csv").write_text(f"{ACUITY_HEADER}\n{ACUITY_ROW}\n")
    mapping = exports / "acuity.toml"
    mapping.write_text(
        '[source]\nname = "acuity"\nlocation = "eastside"\n[acuity]\ncalendar = "therapist"\n'
    )
    db = tmp_path / "data" / "studio.duckdb"

    run = studio_ops("load", str(exports), "--db", str(db))

    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"studio-ops: {mapping} was not used: a mapping in a folder of exports is read only "
        f"when named, so load again with --mapping {mapping}, or move it to "
        f"{tmp_path / 'data' / 'mappings'}/ where every load looks"
    ]
    # as the line says: with it named, the export loads
    again = studio_ops("load", str(exports), "--db", str(db), "--mapping", str(mapping))
    assert again.returncode == 0, again.stdout + again.stderr
    assert count_bookings(db) == 1


def test_status_names_a_target_set_for_a_location_the_warehouse_does_not_have(
    tmp_path: Path,
) -> None:
    """[targets.l01] for the location L01 (ids are matched exactly) would never show on a page:
    status says so in one line, and says it of a broken settings file too."""
    db = tmp_path / "w.duckdb"
    studio_ops(
        "load", str(write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])), "--db", str(db)
    )
    settings = tmp_path / "studio-ops.toml"
    settings.write_text("[targets]\nroom_utilization = 60\n[targets.l01]\nbar_utilization = 50\n")
    env = {"STUDIO_OPS_SETTINGS": str(settings)}

    run = studio_ops("status", "--db", str(db), env=env)

    assert run.returncode == 0, run.stderr
    assert (
        f"  {settings}: [targets.l01] names no location of this warehouse (it has: L01); "
        "its targets show on no page"
    ) in run.stdout.splitlines()
    settings.write_text("[targets.L01]\nbar_utilization = 500\n")
    run = studio_ops("status", "--db", str(db), env=env)
    assert run.returncode == 0, run.stderr
    assert (
        f"  {settings}: target targets.L01.bar_utilization must be a percentage from 0 to 100, "
        "got 500"
    ) in run.stdout.splitlines()


def test_status_says_when_the_settings_changed_since_the_figures_were_built(
    tmp_path: Path,
) -> None:
    """The pages show the figures built with the settings of the last load: a studio that
    edits late_cancel_hours sees no change until a load or rebuild, and status says so."""
    db = tmp_path / "w.duckdb"
    studio_ops(
        "load", str(write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])), "--db", str(db)
    )
    settings = tmp_path / "studio-ops.toml"
    settings.write_text("late_cancel_hours = 48\n")
    env = {"STUDIO_OPS_SETTINGS": str(settings)}

    run = studio_ops("status", "--db", str(db), env=env)

    assert (
        f"  {settings} changed since the figures were built: studio-ops rebuild applies it "
        "(so does the next load)"
    ) in run.stdout.splitlines()
    assert studio_ops("rebuild", "--db", str(db), env=env).returncode == 0
    assert "\nsettings: fine\n" in studio_ops("status", "--db", str(db), env=env).stdout


def test_add_user_with_no_terminal_to_type_the_password_in_is_one_line(tmp_path: Path) -> None:
    """`access add-user olga --role owner` (the README's first line) from cron, a script or
    ssh without a terminal: getpass cannot prompt, and said so in Python's warning and an
    'unexpected error: EOFError'. Now one line saying how, and nothing written."""
    access = tmp_path / "access.toml"
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "access", "add-user", "olga", "--role", "owner",
         "--file", str(access)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal, as under cron
        timeout=60,
    )  # fmt: skip

    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        "studio-ops: no terminal to type the password in: pipe it in with --password-stdin "
        '(echo "$PASSWORD" | studio-ops access add-user olga ... --password-stdin); nothing '
        "written"
    ]
    assert not access.exists()


def test_settings_and_access_files_saved_by_windows_notepad_are_read(tmp_path: Path) -> None:
    """Notepad saves UTF-8 with a byte-order mark and CRLF lines: the settings and the access
    file are read as the exports and the profile are. Saved as Windows-1252 instead ("ANSI"),
    a settings file is one line saying how to save it, never an unexpected error."""
    db = tmp_path / "w.duckdb"
    settings = tmp_path / "studio-ops.toml"
    settings.write_bytes('\ufefflate_cancel_hours = 48\r\ncurrency_symbol = "€"\r\n'.encode())
    env = {"STUDIO_OPS_SETTINGS": str(settings)}
    data = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])

    run = studio_ops("load", str(data), "--db", str(db), env=env)

    assert run.returncode == 0, run.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select late_cancel_hours from settings").fetchone() == (48,)
    access = tmp_path / "access.toml"
    access.write_bytes('\ufeff[users."olga"]\r\nrole = "owner"\r\n'.encode())
    listed = studio_ops("access", "list", "--file", str(access))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\t")[:3] == ["olga", "owner", "every location"]

    settings.write_bytes('currency_symbol = "€"\r\n'.encode("cp1252"))
    run = studio_ops("load", str(data), "--db", str(db), env=env)
    assert run.returncode == 1
    # "€" is byte 0x80 in Windows-1252: the 20th byte of the file
    assert run.stderr.splitlines() == [
        f"studio-ops: {settings}: not UTF-8 text (byte 20); save it as UTF-8"
    ]


def test_a_folder_copied_from_windows_loads_without_its_explorer_files(tmp_path: Path) -> None:
    """Windows Explorer leaves Thumbs.db and desktop.ini in a folder of exports (hidden there,
    plain files once copied): they are not exports, so a folder load skips them instead of
    failing on them, and the morning's load exits 0."""
    exports = tmp_path / "exports"
    exports.mkdir()
    data = write_csv(exports / "bookings.csv", BOOKING_HEADER, [booking()])
    (exports / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64))
    (exports / "desktop.ini").write_text("[.ShellClassInfo]\r\nIconResource=C:\\x.dll\r\n")
    db = tmp_path / "w.duckdb"

    run = studio_ops("load", str(exports), "--db", str(db))

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == [
        f"{data}: bookings (native-csv): 1 row read, 1 loaded, 0 rejected",
        f"published {db}",
    ]


def test_demo_refuses_to_overwrite_a_real_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    studio_ops(
        "load", str(write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])), "--db", str(db)
    )
    before = hashlib.sha256(db.read_bytes()).hexdigest()

    run = studio_ops("demo", "--db", str(db))

    assert run.returncode == 1
    assert "holds real data, not the demo; pass --replace" in run.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_load_killed_midway_leaves_the_previous_warehouse_and_the_next_load_works(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    studio_ops(
        "load", str(write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])), "--db", str(db)
    )
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    # A file big enough that the load is still running when it is killed.
    big = tmp_path / "big.csv"
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select 'K' || i as booking_id, 'L01' as location_id, 'R1' as room_id,
                       'T1' as therapist_id, 'C' || (i % 5000) as client_id,
                       'Swedish 60' as service, 'false' as uses_bars,
                       strftime(timestamp '2020-01-01 09:00' + to_minutes(i), '%Y-%m-%d %H:%M')
                           as start_at,
                       strftime(timestamp '2020-01-01 10:00' + to_minutes(i), '%Y-%m-%d %H:%M')
                           as end_at,
                       'completed' as status, '' as created_at, '' as cancelled_at,
                       '95.00' as price
                from range(2000000) as t(i)
            ) to '{big}' (header, delimiter ',')
            """
        )
    loader = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "load", str(big), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    building = db.with_name(db.name + ".building")
    deadline = time.monotonic() + 60
    while not building.exists() and loader.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the read of the big file
    still_running = loader.poll() is None
    loader.send_signal(signal.SIGKILL)
    loader.wait()
    if not still_running:
        pytest.skip("the load finished before it could be killed on this machine")

    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert count_bookings(db) == 1
    # No manual clean-up: the next load takes the lock and replaces the half-built copy.
    again = write_csv(tmp_path / "b.csv", BOOKING_HEADER, [booking(booking_id="B2")])
    run = studio_ops("load", str(again), "--db", str(db))
    assert run.returncode == 0, run.stdout + run.stderr
    assert count_bookings(db) == 2


NOT_A_WAREHOUSE = (
    "not a studio-ops warehouse (not a DuckDB database file); use your warehouse's file "
    "instead, or start a new one with `studio-ops init --db NEW-FILE`"
)
NOT_WAREHOUSES = {
    "a CSV": "booking_id,location_id\nB1,L01\n",
    "a short CSV": "a,b\n",  # DuckDB said 'Cannot launch in-memory database in read-only mode!'
    "an empty file": "",
    "a text file": "Notes for Monday: call the landlord about the ceiling bars.\n",
}


@pytest.mark.parametrize("content", NOT_WAREHOUSES.values(), ids=NOT_WAREHOUSES.keys())
def test_db_pointing_at_a_file_that_is_not_a_warehouse_is_one_line(
    tmp_path: Path, content: str
) -> None:
    """`--db bookings.csv` (a slip for `load bookings.csv --db ...`) or any file that is no
    warehouse: every command that opens it says so in one line naming the file and how to
    start a warehouse, never DuckDB's words about in-memory databases or a '.building' copy,
    and the file is left as it was."""
    db = tmp_path / "bookings.csv"
    db.write_text(content)
    export = write_csv(tmp_path / "export.csv", BOOKING_HEADER, [booking()])
    commands = {
        "status": ["status"],
        "rebuild": ["rebuild"],
        "digest": ["digest", "--to", "ana@example.com", "--out", str(tmp_path / "out")],
        "profile suggest": ["profile", "suggest"],
        "load": ["load", str(export)],
        "init": ["init"],
    }
    for name, args in commands.items():
        run = studio_ops(*args, "--db", str(db))
        assert run.returncode == 1, (name, run.stdout, run.stderr)
        assert run.stderr.splitlines() == [f"studio-ops: {db}: {NOT_A_WAREHOUSE}"], name
        assert db.read_text() == content, name  # never overwritten
    # nothing written beside it but the load's lock (no '.building' copy left behind)
    assert {p.name for p in tmp_path.iterdir()} <= {
        "bookings.csv",
        "bookings.csv.lock",
        "export.csv",
        "out",
    }
    assert not any((tmp_path / "out").glob("*"))  # no digest written


def test_the_app_on_a_file_that_is_not_a_warehouse_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard given a CSV for its warehouse (STUDIO_OPS_DB) shows the same one line,
    never DuckDB's 'Cannot launch in-memory database in read-only mode!'."""
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "bookings.csv"
    db.write_text("a,b\n")
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    at = AppTest.from_file(str(Path(__file__).parents[1] / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    shown = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]  # markdown-escaped
    assert shown == [f"{db}: {NOT_A_WAREHOUSE}"]


def test_counts_of_one_are_in_the_singular(tmp_path: Path) -> None:
    """'1 row read', '1 location', 'of 1 booking': never '1 rows', '1 locations'."""
    db = tmp_path / "w.duckdb"
    data = write_csv(tmp_path / "a.csv", BOOKING_HEADER, [booking()])
    run = studio_ops("load", str(data), "--db", str(db))
    assert run.stdout.splitlines()[0] == (
        f"{data}: bookings (native-csv): 1 row read, 1 loaded, 0 rejected"
    )
    # the one booking is the only one of the last eight weeks the hours are read from
    run = studio_ops("profile", "suggest", "--db", str(db))
    assert run.returncode == 0, run.stderr
    assert "per weekday of 1 booking from " in run.stdout

    run = studio_ops("generate", str(tmp_path / "chain"), "--locations", "1", "--days", "1")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"wrote {tmp_path / 'chain'}: 1 location, "), run.stdout


def test_db_pointing_at_another_duckdb_database_is_one_line_and_left_alone(
    tmp_path: Path,
) -> None:
    """A DuckDB file of something else (the studio's own bookkeeping, say): status and profile
    suggest printed 'unexpected error: CatalogException', init called it 'already your
    studio's warehouse, still empty', and load and rebuild wrote the warehouse's tables into
    it."""
    db = tmp_path / "accounts.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table invoices (number integer, amount decimal(9, 2))")
        con.execute("insert into invoices values (1, 95.00)")
    export = write_csv(tmp_path / "export.csv", BOOKING_HEADER, [booking()])
    commands = {
        "load": ["load", str(export)],
        "status": ["status"],
        "rebuild": ["rebuild"],
        "digest": ["digest", "--to", "ana@example.com", "--out", str(tmp_path / "out")],
        "profile suggest": ["profile", "suggest"],
        "init": ["init"],
    }
    for name, args in commands.items():
        run = studio_ops(*args, "--db", str(db))
        assert run.returncode == 1, (name, run.stdout, run.stderr)
        assert run.stderr.splitlines() == [
            f"studio-ops: {db}: not a studio-ops warehouse (a DuckDB database without the "
            "warehouse's tables); use your warehouse's file instead, or start a new one with "
            "`studio-ops init --db NEW-FILE`"
        ], name
        with duckdb.connect(str(db), read_only=True) as con:
            tables = con.execute("select table_name from duckdb_tables()").fetchall()
        assert tables == [("invoices",)], name
