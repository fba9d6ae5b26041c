"""benchmarks/compare.py: two tiny warehouses compared table by table, run as the command."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPARE = ROOT / "benchmarks" / "compare.py"


def make_warehouse(path: Path, extra_sql: str = "") -> Path:
    """A tiny warehouse: two bookings, their daily mart, a view and a load bookkeeping row."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            create table fct_bookings (booking_id varchar, room_id varchar, minutes integer,
                                       price decimal(12, 2), load_id bigint);
            insert into fct_bookings values ('b1', 'r1', 60, 90.00, 1), ('b2', 'r1', 90, 120.00, 1);
            create table fct_room_days (room_id varchar, date date, utilization double);
            insert into fct_room_days values ('r1', '2026-01-05', 0.25);
            create view rpt_minutes as select room_id, sum(minutes) as minutes
                from fct_bookings group by room_id;
            create table load_runs (load_id bigint, file_name varchar, rows_loaded bigint,
                                    started_at timestamp);
            insert into load_runs values (1, '/tmp/a/bookings.csv', 2, '2026-01-06 08:00:00');
            """
        )
        if extra_sql:
            con.execute(extra_sql)
    return path


def run_compare(base: Path, new: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(COMPARE), str(base), str(new), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def line_for(output: str, table: str) -> str:
    (line,) = [line for line in output.splitlines() if line.split()[:1] == [table]]
    return line


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return make_warehouse(tmp_path / "base.duckdb")


def test_identical_warehouses_report_no_difference(base: Path, tmp_path: Path) -> None:
    new = make_warehouse(tmp_path / "new.duckdb")
    result = run_compare(base, new)
    assert result.returncode == 0, result.stdout + result.stderr
    for table in ("fct_bookings", "fct_room_days", "rpt_minutes", "load_runs"):
        assert "only in BASE 0  only in NEW 0" in line_for(result.stdout, table)
        assert " same " in line_for(result.stdout, table)
    assert "all 4 identical" in result.stdout


def test_one_changed_row_is_reported_both_ways(base: Path, tmp_path: Path) -> None:
    new = make_warehouse(
        tmp_path / "new.duckdb", "update fct_bookings set price = 95.00 where booking_id = 'b1'"
    )
    result = run_compare(base, new)
    assert result.returncode == 1
    assert "only in BASE 1  only in NEW 1" in line_for(result.stdout, "fct_bookings")
    assert "DIFFERS" in line_for(result.stdout, "fct_bookings")
    assert " same " in line_for(result.stdout, "fct_room_days")
    assert "1 of 4 differ: fct_bookings" in result.stdout


def test_one_extra_row_and_a_duplicate_are_differences(base: Path, tmp_path: Path) -> None:
    # EXCEPT ALL counts duplicates: a booking stored twice is one row only in NEW
    new = make_warehouse(
        tmp_path / "new.duckdb", "insert into fct_bookings values ('b2', 'r1', 90, 120.00, 1)"
    )
    result = run_compare(base, new)
    assert result.returncode == 1
    assert "rows 2 / 3  only in BASE 0  only in NEW 1" in line_for(result.stdout, "fct_bookings")
    # the view over it differs too (90 more minutes)
    assert "only in BASE 1  only in NEW 1" in line_for(result.stdout, "rpt_minutes")


def test_a_double_rounded_differently_differs_unless_rounded(base: Path, tmp_path: Path) -> None:
    new = make_warehouse(
        tmp_path / "new.duckdb", "update fct_room_days set utilization = 0.25 + 1e-15"
    )
    assert run_compare(base, new).returncode == 1
    assert run_compare(base, new, "--float-digits", "9").returncode == 0


def test_missing_table_and_column_differ_extra_ones_are_listed(base: Path, tmp_path: Path) -> None:
    new = make_warehouse(
        tmp_path / "new.duckdb",
        """
        drop view rpt_minutes;
        alter table fct_room_days drop column utilization;
        alter table fct_bookings add column is_first_visit boolean;
        create table fct_new_mart (x integer);
        """,
    )
    result = run_compare(base, new)
    assert result.returncode == 1
    assert "view missing in NEW" in line_for(result.stdout, "rpt_minutes")
    assert "column utilization missing in NEW" in line_for(result.stdout, "fct_room_days")
    bookings = line_for(result.stdout, "fct_bookings")
    assert " same " in bookings and "NEW also has is_first_visit" in bookings
    assert "tables not in BASE (not compared): fct_new_mart" in result.stdout
    assert "2 of 4 differ: fct_room_days, rpt_minutes" in result.stdout


def test_bookkeeping_columns_are_ignored_by_default_with_a_note(base: Path, tmp_path: Path) -> None:
    new = make_warehouse(
        tmp_path / "new.duckdb",
        """
        update load_runs set load_id = 7, file_name = '/tmp/b/bookings.csv',
                             started_at = '2026-02-01 09:00:00';
        update fct_bookings set load_id = 7;
        """,
    )
    result = run_compare(base, new)
    assert result.returncode == 0, result.stdout
    assert "bookkeeping columns left out by default" in result.stdout
    assert "ignored load_id, file_name, started_at" in line_for(result.stdout, "load_runs")
    strict = run_compare(base, new, "--no-default-ignores")
    assert strict.returncode == 1
    assert "only in BASE 1  only in NEW 1" in line_for(strict.stdout, "load_runs")
    assert "only in BASE 2  only in NEW 2" in line_for(strict.stdout, "fct_bookings")


def test_ignore_option_leaves_out_a_column_or_a_table(base: Path, tmp_path: Path) -> None:
    new = make_warehouse(
        tmp_path / "new.duckdb",
        "update fct_bookings set price = 95.00 where booking_id = 'b1';"
        "update fct_room_days set utilization = 0.5",
    )
    assert run_compare(base, new, "--ignore", "fct_bookings.price").returncode == 1
    result = run_compare(base, new, "--ignore", "fct_bookings.price", "--ignore", "fct_room_days")
    assert result.returncode == 0, result.stdout
    assert "table ignored" in line_for(result.stdout, "fct_room_days")


def test_both_files_are_left_unchanged(base: Path, tmp_path: Path) -> None:
    new = make_warehouse(tmp_path / "new.duckdb", "delete from fct_bookings where booking_id='b2'")
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (base, new)]
    assert run_compare(base, new).returncode == 1
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in (base, new)] == before
    assert not list(tmp_path.glob("*.wal"))


def test_a_missing_file_is_one_line_and_exit_2(base: Path, tmp_path: Path) -> None:
    result = run_compare(base, tmp_path / "nowhere.duckdb")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'nowhere.duckdb'}: no such warehouse file"
