"""Incremental mart refresh: after each kind of load, every mart equals a full rebuild.

A base chain (the generator, 2 locations x 120 days) is loaded once; each test copies that
warehouse, loads one more export (an extra day, an overlapping re-export, a late cancellation, a
new client, a room calendar change), checks that the build ran incrementally, then rebuilds the
same copy fully from the same raw rows and compares every mart table row for row (`except all`
both ways). Real DuckDB files, no mocks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.demo.generate import write_chain
from pipelines.ingest.load import load_files
from pipelines.settings import SETTINGS_ENV, Settings, load_settings
from pipelines.warehouse import incremental
from pipelines.warehouse.build import build_marts, check_marts
from pipelines.warehouse.store import DataQualityError, WarehouseError, connect

START = date(2024, 1, 1)
DAYS = 120
CUT = START + timedelta(days=100)  # the base holds the days before CUT; CUT is the "extra day"
KINDS = {"bookings": "start_at", "rooms": "date", "therapist_shifts": "date"}
NOT_MARTS = {"load_runs", "rejected_rows", "warehouse_info", "mart_build_state"}
# History start 5 days after the first booking (START): the clients first seen in the chain's
# first 5 days are known at history start (in no cohort), every later first visit is a new
# client, so the refreshes below move cohorts and new clients as they did before the rule.
LOOKBACK_DAYS = 5


@pytest.fixture(scope="module", autouse=True)
def _lookback_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every load of this module reads a settings file with LOOKBACK_DAYS."""
    path = tmp_path_factory.mktemp("settings") / "studio-ops.toml"
    path.write_text(f"new_client_lookback_days = {LOOKBACK_DAYS}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SETTINGS_ENV, str(path))
        yield


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated exports split at CUT, and a warehouse holding the base part."""
    root = tmp_path_factory.mktemp("chain")
    write_chain(root / "all", locations=2, days=DAYS, seed=11, start=START)
    base, day = root / "base", root / "day"
    base.mkdir()
    day.mkdir()
    with duckdb.connect() as con:
        for kind, column in KINDS.items():
            source = str(root / "all" / f"{kind}.csv")
            for folder, condition in ((base, "<"), (day, "=")):
                con.execute(
                    f"""
                    copy (
                        select * from read_csv(?, all_varchar = true)
                        where {column}[:10] {condition} ?
                    ) to '{folder / (kind + ".csv")}' (header, delimiter ',')
                    """,
                    [source, CUT.isoformat()],
                )
    db = root / "base.duckdb"
    load_files(db, [base])
    return {"root": root, "all": root / "all", "base": base, "day": day, "db": db}


def _copy_base(chain: dict[str, Path], tmp_path: Path) -> Path:
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(chain["db"], db)
    return db


def _mode(db: Path) -> str:
    with connect(db, read_only=True) as con:
        return con.execute("select mode from mart_build_state").fetchone()[0]


def _mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = con.execute(
        "select table_name from duckdb_tables() where not temporary and database_name = 'w' "
        "order by table_name"
    ).fetchall()
    return [
        name
        for (name,) in names
        if not name.startswith(("raw_", "settings")) and name not in NOT_MARTS
    ]


def assert_equals_full_rebuild(db: Path, tmp_path: Path, settings: Settings | None = None) -> None:
    """Rebuild a copy of `db` fully and compare every mart table of both, row for row."""
    full = tmp_path / "full.duckdb"
    shutil.copyfile(db, full)
    with connect(full) as con:
        assert build_marts(con, settings or load_settings()) == "full"  # no change log: full
    with duckdb.connect() as con:
        con.execute(f"attach '{db}' as w (read_only)")
        con.execute(f"attach '{full}' as f (read_only)")
        tables = _mart_tables(con)
        assert {
            "fct_bookings",
            "fct_location_days",
            "dq_issues",
            "rpt_retention",
            "rpt_cohort_activity",  # adjusted in place (incremental.ADJUSTED), not rebuilt
        } <= set(tables)
        for table in tables:
            count = con.execute(f"select count(*) from f.{table}").fetchone()[0]
            for left, right in (("w", "f"), ("f", "w")):
                extra = con.execute(
                    f"select * from {left}.{table} except all select * from {right}.{table} limit 3"
                ).fetchall()
                assert not extra, f"{table}: rows only in the {left} build ({count} rows): {extra}"
        views = con.execute("select * from w.rpt_as_of except select * from f.rpt_as_of")
        assert not views.fetchall()


def write_export(
    path: Path, source: Path, select: str, *params: object, name: str = "export"
) -> Path:
    """Write the CSV `path` with the rows `select` picks from the export `source`, which it
    reads as the table `name` with every cell as text (so nothing is reformatted on the way)."""
    with duckdb.connect() as con:
        con.execute(
            f"create table {name} as select * from read_csv(?, all_varchar = true)", [str(source)]
        )
        con.execute(f"copy ({select}) to '{path}' (header, delimiter ',')", list(params))
    return path


def write_bookings(path: Path, chain: dict[str, Path], select: str, *params: object) -> Path:
    """Write a bookings export: `select` reads the generated bookings as `bookings`."""
    return write_export(path, chain["all"] / "bookings.csv", select, *params, name="bookings")


def test_base_chain_is_a_full_build(chain: dict[str, Path]) -> None:
    assert _mode(chain["db"]) == "full"


def test_extra_day(chain: dict[str, Path], tmp_path: Path) -> None:
    db = _copy_base(chain, tmp_path)
    load_files(db, [chain["day"]])
    assert _mode(db) == "incremental"
    with connect(db, read_only=True) as con:
        days = con.execute("select max(date) from fct_room_days").fetchone()[0]
    assert days == CUT
    assert_equals_full_rebuild(db, tmp_path)


def test_overlapping_re_export_that_changes_statuses(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    db = _copy_base(chain, tmp_path)
    # the last four days again, with completed <-> no-show swapped on every third booking and
    # some bookings cancelled late (by time) or early
    path = write_bookings(
        tmp_path / "bookings-again.csv",
        chain,
        """
        select * replace (
            case
                when hash(booking_id) % 3 = 0 and status = 'completed' then 'no_show'
                when hash(booking_id) % 3 = 0 and status = 'no_show' then 'completed'
                when hash(booking_id) % 7 = 1 then 'cancelled'
                else status
            end as status,
            case
                when hash(booking_id) % 7 = 1 and hash(booking_id) % 2 = 0
                    then strftime(cast(start_at as timestamp) - interval 2 hour, '%Y-%m-%d %H:%M')
                when hash(booking_id) % 7 = 1
                    then strftime(cast(start_at as timestamp) - interval 3 day, '%Y-%m-%d %H:%M')
                else cancelled_at
            end as cancelled_at
        )
        from bookings
        where start_at[:10] between ? and ?
        """,
        (CUT - timedelta(days=4)).isoformat(),
        (CUT - timedelta(days=1)).isoformat(),
    )
    load_files(db, [path])
    assert _mode(db) == "incremental"
    assert_equals_full_rebuild(db, tmp_path)


def test_late_cancellation_of_an_old_first_visit(chain: dict[str, Path], tmp_path: Path) -> None:
    db = _copy_base(chain, tmp_path)
    with connect(db, read_only=True) as con:
        activity_before = _cohort_activity(con)
        booking_id, first_date = con.execute(
            """
            select booking_id, booking_date from fct_bookings
            where is_first_visit and booking_date < ? and client_id in (
                select client_id from fct_bookings where status = 'completed'
                group by client_id having count(*) >= 3
            ) and client_id not in (
                -- at most one visit a month: without its first visit the client moves to a
                -- later cohort month
                select client_id from fct_bookings where status = 'completed'
                group by client_id, date_trunc('month', booking_date) having count(*) > 1
            )
            order by booking_date, booking_id limit 1
            """,
            [START + timedelta(days=10)],
        ).fetchone()
    path = write_bookings(
        tmp_path / "late-cancel.csv",
        chain,
        """
        select * replace (
            'cancelled' as status,
            strftime(cast(start_at as timestamp) - interval 1 hour, '%Y-%m-%d %H:%M')
                as cancelled_at
        )
        from bookings where booking_id = ?
        """,
        booking_id,
    )
    load_files(db, [path])
    assert _mode(db) == "incremental"
    with connect(db, read_only=True) as con:
        moved = con.execute(
            "select is_first_visit, is_late_cancel from fct_bookings where booking_id = ?",
            [booking_id],
        ).fetchone()
        activity_after = _cohort_activity(con)
    assert moved == (False, True)
    assert first_date < CUT
    # the client's first visit moved to a later month: the cohort counts were adjusted
    assert activity_after != activity_before
    assert_equals_full_rebuild(db, tmp_path)


def _cohort_activity(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select * from rpt_cohort_activity order by all").fetchall()


def test_new_client_first_visit_and_rebooking(chain: dict[str, Path], tmp_path: Path) -> None:
    db = _copy_base(chain, tmp_path)
    day = START + timedelta(days=20)
    path = write_bookings(
        tmp_path / "new-client.csv",
        chain,
        """
        with template as (
            select * from bookings where start_at[:10] = ? order by booking_id limit 1
        )
        select * replace (
            'NEW1' as booking_id, 'C-NEW' as client_id, 'completed' as status,
            start_at[:10] || ' 07:00' as start_at, start_at[:10] || ' 08:00' as end_at,
            start_at[:10] || ' 06:00' as created_at, '' as cancelled_at
        ) from template
        union all
        -- booked at the first visit for a later day: the first visit counts as rebooked
        select * replace (
            'NEW2' as booking_id, 'C-NEW' as client_id, 'completed' as status,
            strftime(cast(start_at[:10] as date) + 9, '%Y-%m-%d') || ' 07:00' as start_at,
            strftime(cast(start_at[:10] as date) + 9, '%Y-%m-%d') || ' 08:00' as end_at,
            start_at[:10] || ' 08:30' as created_at, '' as cancelled_at
        ) from template
        """,
        day.isoformat(),
    )
    load_files(db, [path])
    assert _mode(db) == "incremental"
    with connect(db, read_only=True) as con:
        rows = con.execute(
            "select booking_id, is_first_visit, is_rebooked from fct_bookings "
            "where client_id = 'C-NEW' order by booking_id"
        ).fetchall()
        new_clients = con.execute(
            "select sum(new_clients) from fct_location_days where date = ?", [day]
        ).fetchone()[0]
    assert rows == [("NEW1", True, True), ("NEW2", False, False)]
    assert new_clients >= 1
    assert_equals_full_rebuild(db, tmp_path)


def test_first_visit_re_exported_under_another_client(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # The incremental build stages the changed clients' bookings from this load's rows and
    # from their rows as fct_bookings had them: the stored row of a booking this load replaced
    # must not be staged again for the client it had before.
    db = _copy_base(chain, tmp_path)
    with connect(db, read_only=True) as con:
        booking_id, before, after = con.execute(
            """
            with firsts as (
                select client_id, booking_id, booking_date from fct_bookings
                where is_first_visit
            )
            select earlier.booking_id, earlier.client_id, later.client_id
            from firsts as earlier
            join firsts as later on later.booking_date > earlier.booking_date + 30
            where earlier.client_id in (
                select client_id from fct_bookings where status = 'completed'
                group by client_id having count(*) >= 2
            )
            order by earlier.booking_date, earlier.booking_id, later.client_id
            limit 1
            """
        ).fetchone()
    path = write_bookings(
        tmp_path / "other-client.csv",
        chain,
        "select * replace (? as client_id) from bookings where booking_id = ?",
        after,
        booking_id,
    )
    load_files(db, [path])
    assert _mode(db) == "incremental"
    with connect(db, read_only=True) as con:
        rows = con.execute(
            "select client_id, is_first_visit from fct_bookings where booking_id = ?",
            [booking_id],
        ).fetchall()
        firsts = con.execute(
            "select client_id, booking_id from fct_bookings "
            "where is_first_visit and client_id in (?, ?)",
            [before, after],
        ).fetchall()
    # once, as the later client's: it is now that client's earliest visit; the client it
    # had before keeps a first visit, another booking
    assert rows == [(after, True)]
    assert sorted(client for client, _ in firsts) == sorted([before, after])
    assert (before, booking_id) not in firsts
    assert_equals_full_rebuild(db, tmp_path)


@pytest.mark.parametrize(
    ("day", "therapist"),
    [
        # a cohort of one in rpt_retention_long: the only client of its first therapist
        (CUT - timedelta(days=10), "L01-TSOLO"),
        # a cohort of one in rpt_cohort_activity: the only first visit of its month (after
        # the chain's last day)
        (START + timedelta(days=DAYS + 5), "L01-T01"),
    ],
)
def test_a_cohort_of_one_cancelled_leaves_no_cell(
    chain: dict[str, Path], tmp_path: Path, day: date, therapist: str
) -> None:
    # The client reports replace only the cells a load touches: a cell whose one client
    # leaves it (the visit re-exported cancelled) must go, not stay at its old count.
    db = _copy_base(chain, tmp_path)
    header = (
        "booking_id,location_id,room_id,therapist_id,client_id,service,start_at,end_at,status\n"
    )
    row = f"SOLO1,L01,L01-R1,{therapist},C-SOLO,Swedish 60,{day} 07:00,{day} 08:00,"
    cohort_month = day.replace(day=1)
    for status, expected in (("completed", [(1,)]), ("cancelled", [])):
        path = tmp_path / f"solo-{status}.csv"
        path.write_text(header + row + status + "\n")
        load_files(db, [path])
        assert _mode(db) == "incremental"
        with connect(db, read_only=True) as con:
            retention = con.execute(
                "select distinct new_clients from rpt_retention_long "
                "where cohort_month = ? and first_therapist_id = ?",
                [cohort_month, therapist],
            ).fetchall()
            activity = con.execute(
                "select active_clients from rpt_cohort_activity "
                "where cohort_month = ? and location_id = 'L01' and months_after = 0",
                [cohort_month],
            ).fetchall()
        assert (retention if therapist == "L01-TSOLO" else activity) == expected
    assert_equals_full_rebuild(db, tmp_path)


def test_room_calendar_change(chain: dict[str, Path], tmp_path: Path) -> None:
    db = _copy_base(chain, tmp_path)
    # one old day loses a room's bars and gains blocked time; the room's latest day (its
    # current equipment, which dq_issues falls back on) flips too; another room closes late
    path = tmp_path / "rooms.csv"
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                with rooms as (
                    select * from read_csv(?, all_varchar = true) where date < ?
                ),
                first_room as (select min(room_id) as room_id from rooms)
                select rooms.* replace (
                    case when has_bars = 'true' then 'false' else 'true' end as has_bars,
                    '90' as blocked_minutes
                )
                from rooms semi join first_room using (room_id)
                where date in (?, (select max(date) from rooms))
                union all
                select rooms.* replace ('01:30:00' as closes_at)
                from rooms anti join first_room using (room_id)
                where date = ?
            ) to '{path}' (header, delimiter ',')
            """,
            [
                str(chain["all"] / "rooms.csv"),
                CUT.isoformat(),
                (START + timedelta(days=30)).isoformat(),
                (START + timedelta(days=31)).isoformat(),
            ],
        )
    load_files(db, [path])
    assert _mode(db) == "incremental"
    assert_equals_full_rebuild(db, tmp_path)


def test_training_change_reaches_bar_bookings_on_days_without_a_shift(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # A bar booking on a day its therapist has no shift falls back on the therapist's latest
    # training (dq_issues). The therapist's latest shift then loses the training: that old
    # day's finding appears, though no row of that day was loaded.
    db = _copy_base(chain, tmp_path)
    with duckdb.connect() as con:
        con.execute(
            "create table shifts as select * from read_csv(?, all_varchar = true)",
            [str(chain["base"] / "therapist_shifts.csv")],
        )
        therapist, latest = con.execute(
            """
            select therapist_id, max(date) from shifts
            where location_id = 'L01'
            group by therapist_id
            having bool_and(bar_trained = 'true')
            order by therapist_id
            limit 1
            """
        ).fetchone()
        day = con.execute(
            """
            select min(date) from shifts
            where location_id = 'L01' and date not in (
                select date from shifts where location_id = 'L01' and therapist_id = ?
            )
            """,
            [therapist],
        ).fetchone()[0]
        shifts = tmp_path / "training.csv"
        con.execute(
            f"""
            copy (
                select * replace ('false' as bar_trained) from shifts
                where location_id = 'L01' and therapist_id = ? and date = ?
            ) to '{shifts}' (header, delimiter ',')
            """,
            [therapist, latest],
        )
    bookings = write_bookings(
        tmp_path / "bar_booking.csv",
        chain,
        """
        select * replace (
            'B-NO-SHIFT' as booking_id, 'true' as uses_bars, 'completed' as status,
            ? || ' 12:00:00' as start_at, ? || ' 13:00:00' as end_at, null as cancelled_at,
            ? || ' 08:00:00' as created_at
        )
        from bookings
        where location_id = 'L01' and therapist_id = ?
        order by booking_id
        limit 1
        """,
        day,
        day,
        day,
        therapist,
    )
    load_files(db, [bookings])
    assert _mode(db) == "incremental"
    finding = (
        "select count(*) from dq_issues "
        "where kind = 'bar_session_by_untrained_therapist' and entity_id = 'B-NO-SHIFT'"
    )
    with connect(db, read_only=True) as con:
        assert con.execute(finding).fetchone()[0] == 0  # trained on the latest shift
    load_files(db, [shifts])
    assert _mode(db) == "incremental"
    with connect(db, read_only=True) as con:
        assert con.execute(finding).fetchone()[0] == 1
    assert_equals_full_rebuild(db, tmp_path)


def test_bars_change_reaches_bar_bookings_outside_their_rooms_hours_on_old_days(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # A bar booking that touches none of its room's opening hours that day falls back on the
    # room's latest bars (dq_issues). The room's latest calendar day then loses its bars:
    # that old day's finding appears, though no row of that day was loaded (the refresh
    # looks for such bookings on the days with a booking outside its room's calendar).
    db = _copy_base(chain, tmp_path)
    with duckdb.connect() as con:
        con.execute(
            "create table rooms as select * from read_csv(?, all_varchar = true)",
            [str(chain["base"] / "rooms.csv")],
        )
        room, latest = con.execute(
            """
            select room_id, max(date) from rooms
            where location_id = 'L01'
            group by room_id
            having bool_and(has_bars = 'true') and min(opens_at) >= '07:00:00'
            order by room_id
            limit 1
            """
        ).fetchone()
        # the room's tenth calendar day: well inside the history
        (day,) = con.execute(
            "select date from rooms where location_id = 'L01' and room_id = ? "
            "order by date limit 1 offset 9",
            [room],
        ).fetchone()
        calendar = tmp_path / "bars_removed.csv"
        con.execute(
            f"""
            copy (
                select * replace ('false' as has_bars) from rooms
                where location_id = 'L01' and room_id = ? and date = ?
            ) to '{calendar}' (header, delimiter ',')
            """,
            [room, latest],
        )
    # 05:00-06:00, before the room opens
    bookings = write_bookings(
        tmp_path / "outside_hours.csv",
        chain,
        """
        select * replace (
            'B-OUTSIDE-HOURS' as booking_id, ? as room_id, 'true' as uses_bars,
            'completed' as status, ? || ' 05:00:00' as start_at, ? || ' 06:00:00' as end_at,
            null as cancelled_at, ? || ' 04:00:00' as created_at
        )
        from bookings
        where location_id = 'L01'
        order by booking_id
        limit 1
        """,
        room,
        day,
        day,
        day,
    )
    load_files(db, [bookings])
    assert _mode(db) == "incremental"
    finding = (
        "select count(*) from dq_issues "
        "where kind = ? and entity_id = 'B-OUTSIDE-HOURS' and date = ?"
    )
    with connect(db, read_only=True) as con:
        assert con.execute(finding, ["booking_outside_room_calendar", day]).fetchone()[0] == 1
        # the room has bars on its latest day
        assert con.execute(finding, ["bar_service_in_non_bar_room", day]).fetchone()[0] == 0
    load_files(db, [calendar])
    assert _mode(db) == "incremental"
    with connect(db, read_only=True) as con:
        assert con.execute(finding, ["bar_service_in_non_bar_room", day]).fetchone()[0] == 1
    assert_equals_full_rebuild(db, tmp_path)


def test_successive_loads_stay_equal(chain: dict[str, Path], tmp_path: Path) -> None:
    db = _copy_base(chain, tmp_path)
    load_files(db, [chain["day"]])
    later = write_bookings(
        tmp_path / "later.csv",
        chain,
        "select * replace ('completed' as status) from bookings where start_at[:10] = ?",
        CUT.isoformat(),
    )
    load_files(db, [later])
    assert _mode(db) == "incremental"
    assert_equals_full_rebuild(db, tmp_path)


def test_a_large_change_rebuilds_fully(chain: dict[str, Path], tmp_path: Path) -> None:
    db = _copy_base(chain, tmp_path)
    path = write_bookings(
        tmp_path / "everything.csv",
        chain,
        "select * replace ('no_show' as status) from bookings where start_at[:10] < ?",
        CUT.isoformat(),
    )
    load_files(db, [path])
    assert _mode(db) == "full"
    assert_equals_full_rebuild(db, tmp_path)


def test_refresh_stops_when_kept_row_ids_point_at_other_bookings(
    chain: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refresh deletes the changed clients' old bookings by the row ids it kept; if those
    # pointed at other rows, the deleted keys would differ from the kept ones and nothing may
    # be published.
    db = _copy_base(chain, tmp_path)
    before = db.read_bytes()
    snapshot = incremental._snapshot_before

    def shifted(con: duckdb.DuckDBPyConnection) -> None:
        snapshot(con)
        con.execute("update fct_bookings__before set row_id = row_id + 1")

    monkeypatch.setattr(incremental, "_snapshot_before", shifted)

    with pytest.raises(WarehouseError, match="fct_bookings: the refresh would delete"):
        load_files(db, [chain["day"]])
    assert db.read_bytes() == before


def test_refresh_stops_when_kept_client_row_ids_point_at_other_clients(
    chain: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dim_clients' refreshed rows are deleted by the row ids kept with their rows before; row
    # ids pointing at other clients' rows must stop the build, with nothing published.
    db = _copy_base(chain, tmp_path)
    before = db.read_bytes()
    scope = incremental._scope_as_of_dependent

    def shifted(con: duckdb.DuckDBPyConnection, as_of_before: list[tuple]) -> bool:
        refreshed = scope(con, as_of_before)
        con.execute("update dim_clients__before_rows set row_id = row_id + 1")
        return refreshed

    monkeypatch.setattr(incremental, "_scope_as_of_dependent", shifted)

    with pytest.raises(WarehouseError, match="dim_clients: the refresh would delete"):
        load_files(db, [chain["day"]])
    assert db.read_bytes() == before


def test_clients_rebuilt_whole_in_an_incremental_build_are_all_checked(
    chain: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the as-of date moves back, dim_clients (and the client reports after it) is
    # rebuilt whole inside an incremental build; its key check then reads every client, so a
    # client listed twice outside the load's change is still caught.
    db = _copy_base(chain, tmp_path)
    monkeypatch.setattr(incremental, "_scope_as_of_dependent", lambda con, as_of_before: False)
    load_files(db, [chain["day"]])
    assert _mode(db) == "incremental"
    assert_equals_full_rebuild(db, tmp_path)

    again = tmp_path / "again"
    again.mkdir()
    db = _copy_base(chain, again)
    before = db.read_bytes()
    original = incremental.run_script

    def doubled(con: duckdb.DuckDBPyConnection, script: Path) -> None:
        original(con, script)
        if script.stem == "dim_clients":  # one client outside the change, twice
            con.execute(
                "insert into dim_clients from dim_clients anti join scope_clients using (client_id)"
                " order by client_id limit 1"
            )

    monkeypatch.setattr(incremental, "run_script", doubled)
    with pytest.raises(WarehouseError, match="dim_clients"):
        load_files(db, [chain["day"]])
    assert db.read_bytes() == before


def test_first_bookings_into_a_warehouse_without_any_rebuild_fully(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # Rooms and shifts loaded, marts built; then the chain's first bookings, one day of them
    # (a small share of the location-days, which alone would refresh incrementally). An
    # empty table's first rows touch every mart, so the loader skips the change log.
    db = tmp_path / "warehouse.duckdb"
    load_files(db, [chain["base"] / "rooms.csv", chain["base"] / "therapist_shifts.csv"])
    path = write_bookings(
        tmp_path / "first.csv",
        chain,
        "select * from bookings where start_at[:10] = ?",
        CUT.isoformat(),
    )

    load_files(db, [path])

    assert _mode(db) == "full"
    with connect(db, read_only=True) as con:
        assert con.execute("select count(*) from fct_bookings").fetchone()[0] > 0
    assert_equals_full_rebuild(db, tmp_path)


def test_changed_settings_force_a_full_rebuild_that_reflects_them(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    db = _copy_base(chain, tmp_path)
    with connect(db, read_only=True) as con:
        before = con.execute("select sum(back_to_back_pairs) from fct_therapist_days").fetchone()
    settings = Settings(
        turnover_minutes=120, max_bar_sessions_per_day=1, new_client_lookback_days=LOOKBACK_DAYS
    )
    load_files(db, [chain["day"]], settings=settings)
    assert _mode(db) == "full"
    with connect(db, read_only=True) as con:
        after = con.execute(
            "select sum(back_to_back_pairs) from fct_therapist_days where date < ?", [CUT]
        ).fetchone()
        flagged = con.execute(
            "select count(*) filter (where over_bar_limit) from fct_therapist_days"
        ).fetchone()[0]
    assert after[0] > before[0]
    assert flagged > 0
    assert_equals_full_rebuild(db, tmp_path, settings)
    # the same settings again: incremental from now on
    path = write_bookings(
        tmp_path / "again.csv",
        chain,
        "select * replace ('no_show' as status) from bookings where start_at[:10] = ?",
        CUT.isoformat(),
    )
    load_files(db, [path], settings=settings)
    assert _mode(db) == "incremental"
    assert_equals_full_rebuild(db, tmp_path, settings)


def test_incremental_checks_look_at_the_refreshed_keys(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    db = _copy_base(chain, tmp_path)
    with connect(db) as con:
        day = con.execute("select min(date) from fct_room_days").fetchone()[0]
        con.execute(
            """
            create temp table scope_days as
            select distinct location_id, date from fct_location_days where date = ?
            """,
            [day],
        )
        con.execute(
            """
            create temp table scope_clients as select 'C-none' as client_id;
            -- what a build keeps aside: the scope's bookings as refreshed (none here)
            create temp table fct_bookings__fresh as
            select * from fct_bookings semi join scope_clients using (client_id);
            create temp table dim_clients__fresh as
            select * from dim_clients semi join scope_clients using (client_id);
            create temp table scope_weeks as
            select distinct location_id, cast(date_trunc('week', date) as date) as week_start
            from scope_days
            """
        )
        check_marts(con, incremental=True)  # clean
        con.execute(
            "insert into fct_room_days select * from fct_room_days where date = ? limit 1", [day]
        )
        with pytest.raises(DataQualityError, match="unique_keys|location_day_sums"):
            check_marts(con, incremental=True)
        con.execute("delete from scope_days")
        check_marts(con, incremental=True)  # outside the refreshed keys: not looked at
        with pytest.raises(DataQualityError, match="unique_keys|location_day_sums"):
            check_marts(con)


def test_incremental_check_finds_a_booking_row_left_outside_the_scope(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # An incremental check reads only the refreshed bookings; a booking whose old row the
    # replace step left behind shows as one fct_bookings row more than raw_bookings holds.
    db = _copy_base(chain, tmp_path)
    with connect(db) as con:
        con.execute(
            """
            create temp table scope_days (location_id varchar, date date);
            create temp table scope_weeks (location_id varchar, week_start date);
            create temp table scope_clients as select min(client_id) as client_id from fct_bookings;
            create temp table fct_bookings__fresh as
            select * from fct_bookings semi join scope_clients using (client_id);
            create temp table dim_clients__fresh as
            select * from dim_clients semi join scope_clients using (client_id);
            """
        )
        check_marts(con, incremental=True)  # clean
        # a client outside the refreshed ones twice in dim_clients: not looked at
        con.execute(
            """
            insert into dim_clients
            select * from dim_clients anti join scope_clients using (client_id) limit 1
            """
        )
        check_marts(con, incremental=True)
        with pytest.raises(DataQualityError, match=r"unique_keys: 1 offending rows.*dim_clients"):
            check_marts(con)
        # a refreshed client twice (the rows the refresh inserted, kept aside as
        # dim_clients__fresh): found
        con.execute("insert into dim_clients__fresh select * from dim_clients__fresh")
        with pytest.raises(DataQualityError, match=r"unique_keys: 1 offending rows.*dim_clients"):
            check_marts(con, incremental=True)
        con.execute("delete from dim_clients where rowid = (select max(rowid) from dim_clients)")
        con.execute(
            "create or replace temp table dim_clients__fresh as "
            "select * from dim_clients semi join scope_clients using (client_id)"
        )
        # a booking of a client outside the scope, twice
        con.execute(
            """
            insert into fct_bookings
            select * from fct_bookings anti join scope_clients using (client_id) limit 1
            """
        )
        with pytest.raises(DataQualityError, match=r"unique_keys: 1 offending rows.*raw bookings"):
            check_marts(con, incremental=True)


def test_moved_booking_and_bookings_past_midnight(chain: dict[str, Path], tmp_path: Path) -> None:
    db = _copy_base(chain, tmp_path)
    day = START + timedelta(days=50)
    path = write_bookings(
        tmp_path / "moves.csv",
        chain,
        """
        with day_bookings as (
            select * from bookings where start_at[:10] = ? order by booking_id limit 3
        ),
        numbered as (select *, row_number() over (order by booking_id) as n from day_bookings)
        -- an existing booking moves to the other location's room and therapist
        select * exclude (n) replace (
            replace(location_id, 'L01', 'L02') as location_id,
            replace(room_id, 'L01', 'L02') as room_id,
            replace(therapist_id, 'L01', 'L02') as therapist_id
        ) from numbered where n = 1
        union all
        -- a new booking across midnight, and one across three midnights
        select * exclude (n) replace (
            'MID' || n as booking_id,
            start_at[:10] || ' 22:00' as start_at,
            strftime(cast(start_at[:10] as date) + case when n = 2 then 1 else 3 end, '%Y-%m-%d')
                || ' 02:00' as end_at,
            'completed' as status
        ) from numbered where n > 1
        """,
        day.isoformat(),
    )
    load_files(db, [path])
    assert _mode(db) == "incremental"
    assert_equals_full_rebuild(db, tmp_path)


def test_as_of_date_passing_a_next_booking(chain: dict[str, Path], tmp_path: Path) -> None:
    """dim_clients.next_booking_at moves on when the as-of date passes it, although the client
    is not in the load: Y's only booking ahead becomes past (NULL), Z's next one moves on."""
    db = _copy_base(chain, tmp_path)
    header = "booking_id,location_id,room_id,therapist_id,client_id,service,start_at,end_at,status"

    def day(offset: int) -> str:
        return (CUT + timedelta(days=offset)).isoformat()

    ahead = tmp_path / "ahead.csv"
    ahead.write_text(
        f"{header}\n"
        f"Y1,L01,L01-R1,L01-T01,Y,Swedish 60,{day(-3)} 08:00,{day(-3)} 09:00,completed\n"
        f"Y2,L01,L01-R1,L01-T01,Y,Swedish 60,{day(1)} 08:00,{day(1)} 09:00,booked\n"
        f"Z1,L01,L01-R1,L01-T01,Z,Swedish 60,{day(-3)} 07:00,{day(-3)} 08:00,completed\n"
        f"Z2,L01,L01-R1,L01-T01,Z,Swedish 60,{day(0)} 07:00,{day(0)} 08:00,booked\n"
        f"Z3,L01,L01-R1,L01-T01,Z,Swedish 60,{day(10)} 07:00,{day(10)} 08:00,booked\n"
    )
    load_files(db, [ahead])
    with connect(db, read_only=True) as con:
        before = dict(con.execute("select client_id, next_booking_at from dim_clients").fetchall())
    assert before["Y"].date() == CUT + timedelta(days=1)
    assert before["Z"].date() == CUT

    # the extra day plus a completed visit two days later: the as-of date becomes CUT + 2
    later = tmp_path / "later.csv"
    later.write_text(
        f"{header}\nX1,L01,L01-R2,L01-T02,X,Swedish 60,{day(2)} 08:00,{day(2)} 09:00,completed\n"
    )
    load_files(db, [chain["day"], later])
    assert _mode(db) == "incremental"
    with connect(db, read_only=True) as con:
        assert con.execute("select as_of_date from rpt_as_of").fetchone()[0] == CUT + timedelta(2)
        after = dict(con.execute("select client_id, next_booking_at from dim_clients").fetchall())
    assert after["Y"] is None  # Y2 (CUT + 1) is now before the as-of date
    assert after["Z"].date() == CUT + timedelta(days=10)  # Z2 passed; Z3 is next
    assert_equals_full_rebuild(db, tmp_path)


def test_an_earlier_first_booking_moves_the_history_start_and_rebuilds_fully(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # L01's new clients count from its first booking + LOOKBACK_DAYS. A booking three days
    # before the chain's first one moves that day three days back, so first visits of other
    # clients (outside the load's change log) become new: a refresh by client cannot follow.
    db = _copy_base(chain, tmp_path)
    with connect(db, read_only=True) as con:
        before = con.execute(
            "select new_clients_from from dim_locations where location_id = 'L01'"
        ).fetchone()[0]
        new_before = con.execute("select count(*) from fct_bookings where is_new_client").fetchone()
    first = before - timedelta(days=LOOKBACK_DAYS)
    path = tmp_path / "earlier.csv"
    path.write_text(
        "booking_id,location_id,room_id,therapist_id,client_id,service,start_at,end_at,status\n"
        f"EARLY1,L01,L01-R1,L01-T01,C-EARLY,Swedish 60,{first - timedelta(days=3)} 10:00,"
        f"{first - timedelta(days=3)} 11:00,completed\n"
    )
    load_files(db, [path])
    assert _mode(db) == "full"
    with connect(db, read_only=True) as con:
        after = con.execute(
            "select new_clients_from from dim_locations where location_id = 'L01'"
        ).fetchone()[0]
        new_after = con.execute(
            "select count(*) from fct_bookings where is_new_client and client_id <> 'C-EARLY'"
        ).fetchone()
    assert after == before - timedelta(days=3)
    assert new_after > new_before  # first visits of the three days before are new now
    assert_equals_full_rebuild(db, tmp_path)


def _frontdesk_visit(
    path: Path, booking_id: str, client_id: str, day: date, hour: int, created_at: str = ""
) -> Path:
    """A one-row export of source 'frontdesk': a completed hour at L01-R1 with L01-T01 from
    `hour` on `day`, made at `created_at` (empty: the export records none)."""
    path.write_text(
        "source,booking_id,location_id,room_id,therapist_id,client_id,service,start_at,end_at,"
        "status,created_at\n"
        f"frontdesk,{booking_id},L01,L01-R1,L01-T01,{client_id},Swedish 60,"
        f"{day} {hour:02d}:00,{day} {hour + 1:02d}:00,completed,{created_at}\n"
    )
    return path


def test_a_source_that_starts_recording_created_at_rebuilds_fully(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # Source 'frontdesk' first exports no created_at: P's visit has an unknown rebooking. A
    # later export of the same source for another client, R, has one: the source records it
    # from now on, so P's visit (P is not in that load) is known, not rebooked.
    db = _copy_base(chain, tmp_path)
    day = START + timedelta(days=30)
    first = _frontdesk_visit(tmp_path / "frontdesk-1.csv", "P1", "C-P", day, 7)
    load_files(db, [first])
    with connect(db, read_only=True) as con:
        assert con.execute(
            "select is_rebooked from fct_bookings where booking_id = 'P1'"
        ).fetchone() == (None,)
    second = _frontdesk_visit(
        tmp_path / "frontdesk-2.csv", "R1", "C-R", day, 6, f"{day - timedelta(days=7)} 09:00"
    )
    load_files(db, [second])
    assert _mode(db) == "full"
    with connect(db, read_only=True) as con:
        assert con.execute(
            "select is_rebooked from fct_bookings where booking_id = 'P1'"
        ).fetchone() == (False,)
    assert_equals_full_rebuild(db, tmp_path)


def test_first_day_bookings_moved_later_move_the_history_start_and_rebuild_fully(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # Every booking of L01's first day re-exported a day later: no new booking is earlier than
    # the history start, but the rows it rested on are gone, so it moves a day later (the
    # judgement from this load's rows must not keep it).
    db = _copy_base(chain, tmp_path)
    with connect(db, read_only=True) as con:
        first = con.execute(
            "select first_booking_date from int_location_history where location_id = 'L01'"
        ).fetchone()[0]
    path = write_bookings(
        tmp_path / "first-day-later.csv",
        chain,
        """
        select * replace (
            strftime(cast(start_at as timestamp) + interval 1 day, '%Y-%m-%d %H:%M')
                as start_at,
            strftime(cast(end_at as timestamp) + interval 1 day, '%Y-%m-%d %H:%M') as end_at
        )
        from bookings where location_id = 'L01' and start_at[:10] = ?
        """,
        first.isoformat(),
    )
    load_files(db, [path])
    assert _mode(db) == "full"
    with connect(db, read_only=True) as con:
        after = con.execute(
            "select first_booking_date, new_clients_from from int_location_history "
            "where location_id = 'L01'"
        ).fetchone()
    assert after == (first + timedelta(days=1), first + timedelta(days=1 + LOOKBACK_DAYS))
    assert_equals_full_rebuild(db, tmp_path)


def test_a_source_whose_only_created_at_is_re_exported_without_it_rebuilds_fully(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    # 'frontdesk' records created_at through one booking, R1; R1 re-exported without it leaves
    # the source with none: its rebooking is unknown again for every client.
    db = _copy_base(chain, tmp_path)
    day = START + timedelta(days=30)
    first = _frontdesk_visit(
        tmp_path / "frontdesk-1.csv", "R1", "C-R", day, 6, f"{day - timedelta(days=7)} 09:00"
    )
    load_files(db, [first])
    second = _frontdesk_visit(tmp_path / "frontdesk-2.csv", "R1", "C-R", day, 6)
    load_files(db, [second])
    assert _mode(db) == "full"
    with connect(db, read_only=True) as con:
        assert con.execute(
            "select records_created_at from int_booking_sources where source = 'frontdesk'"
        ).fetchone() == (False,)
        assert con.execute(
            "select is_rebooked from fct_bookings where booking_id = 'R1'"
        ).fetchone() == (None,)
    assert_equals_full_rebuild(db, tmp_path)


def test_scoped_ctes_are_materialized_in_an_incremental_build() -> None:
    # A CTE a full build streams to each reader is copied once when its rows are the scope's:
    # streamed, each reader would search the whole table for the scope again.
    sql = (
        "create or replace table x as\n"
        "with\n"
        "scoped as not materialized (\n"
        "    select * from fct_bookings\n"
        "    --incremental: where rowid in (\n"
        "    --incremental:     select rowid from fct_bookings semi join s using (client_id)\n"
        "    --incremental: )\n"
        "),\n"
        "whole as not materialized (\n"
        "    select * from fct_room_days\n"
        "),\n"
        "plain as (\n"
        "    select 1\n"
        "    --incremental: where true\n"
        ")\n"
        "select * from scoped, whole, plain\n"
    )
    text = incremental._materialize_scoped_ctes(sql)
    assert "scoped as materialized (" in text
    assert "whole as not materialized (" in text  # the whole table: never copied
    assert "plain as (" in text
    assert text.replace("scoped as materialized (", "scoped as not materialized (") == sql
