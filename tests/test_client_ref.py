"""Client references (issue 17): the booking system's own client id or code, kept where an export
carries one so that a manager can find the client there, and never a name, email or phone.

Real DuckDB files in tmp_path, small hand-made exports with invented people; every expected
value is worked out by hand from the rows written here."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.queries import clients as client_queries
from pipelines.demo.generate import write_chain
from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from pipelines.warehouse import store
from tests.apptest import show_every_table
from tests.test_incremental import assert_equals_full_rebuild
from tests.test_vendor_mindbody import report, table

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
SALT = "test-salt-not-secret"
HEADER = "booking_id,location_id,therapist_id,client_id,client_ref,service,start_at,end_at,status"


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pii.SALT_ENV, SALT)
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def booking(n: int, client: str, ref: str, day: str = "2026-03-02", status: str = "completed"):
    hour = 8 + n % 10
    return (
        f"B{n},L01,T1,{client},{ref},Ashiatsu 60,{day} {hour:02d}:00,{day} {hour:02d}:50,{status}"
    )


# --- what is kept -----------------------------------------------------------------------------


def test_a_native_client_ref_is_kept_and_a_name_email_or_phone_is_not(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    long_ref = "X" + "9" * 64  # 65 characters: over the 64-character cap
    export = write(
        tmp_path / "bookings.csv",
        HEADER,
        booking(1, "C1", "MB-1001"),  # a code: kept
        booking(2, "C2", "100234"),  # a bare number under 10 digits: kept
        booking(3, "C3", "maya.okafor@example.com"),  # an email: not kept
        booking(4, "C4", "+1 303-555-0142"),  # a phone: not kept
        booking(5, "C5", "3035550142"),  # ten bare digits read as a phone: not kept
        booking(6, "C6", "Maya Okafor"),  # words, no digit: a name, not kept
        booking(7, "C7", "Okafor"),  # one word without a digit may be a name: not kept
        booking(8, "C8", "Maya Okafor 2"),  # whitespace-separated words: not kept
        booking(9, "C9", long_ref),  # longer than the cap: not kept
        booking(10, "C10", ""),  # none given
    )
    [result] = load_files(db, [export])
    # every row loads: a reference that is not kept never rejects its booking
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (10, 10, 0)
    stored = dict(rows(db, "select booking_id, client_ref from raw_bookings"))
    assert stored == {
        "B1": "MB-1001",
        "B2": "100234",
        **{f"B{n}": None for n in range(3, 11)},
    }
    assert dict(rows(db, "select booking_id, client_ref from fct_bookings")) == stored
    # the Python twin says the same as the SQL the load ran
    kept = {
        ref: pii.keeps_client_ref(ref)
        for ref in ("MB-1001", "100234", "maya.okafor@example.com", "+1 303-555-0142")
    }
    assert kept == {
        "MB-1001": True,
        "100234": True,
        "maya.okafor@example.com": False,
        "+1 303-555-0142": False,
    }
    assert not any(map(pii.keeps_client_ref, ("3035550142", "Maya Okafor", "Okafor", long_ref)))


def test_a_rejected_row_shows_a_dropped_client_ref_masked(tmp_path: Path) -> None:
    # Lines 2-5 have a start_at that is not a date-time, so they are rejected (line 6 loads,
    # else the whole file fails): their raw text keeps a kept reference as written and masks
    # an email, a phone or a name by its shape.
    db = tmp_path / "w.duckdb"
    export = write(
        tmp_path / "bookings.csv",
        HEADER,
        "B1,L01,T1,C1,MB-1001,Ashiatsu 60,yesterday,2026-03-02 10:00,completed",
        "B2,L01,T1,C2,maya@example.com,Ashiatsu 60,yesterday,2026-03-02 10:00,completed",
        "B3,L01,T1,C3,+1 303-555-0142,Ashiatsu 60,yesterday,2026-03-02 10:00,completed",
        "B4,L01,T1,C4,Maya Okafor,Ashiatsu 60,yesterday,2026-03-02 10:00,completed",
        booking(5, "C5", "MB-1005"),
    )
    [result] = load_files(db, [export])
    assert result.rows_rejected == 4
    raw = dict(rows(db, "select line_number, raw_row from rejected_rows"))
    assert raw[2].startswith("B1,L01,T1,C1,MB-1001,")
    assert raw[3].startswith("B2,L01,T1,C2,[email],")
    assert raw[4].startswith("B3,L01,T1,C3,[phone],")
    assert raw[5].startswith("B4,L01,T1,C4,[text],")
    text = " ".join(raw.values())
    assert "maya@example.com" not in text and "555" not in text and "Okafor" not in text


# --- booking systems' exports -----------------------------------------------------------------


def test_square_and_mindbody_client_ids_land_as_client_ref(tmp_path: Path) -> None:
    mapping = write(tmp_path / "mapping.toml", "[source]", 'location = "L01"')
    square = write(
        tmp_path / "history.csv",
        "Appointment ID,Date,Start Time,End Time,Customer Name,Customer ID,Service,Team Member,"
        "Status,Price",
        "sq_1,03/02/2026,9:00 AM,10:00 AM,Maya Okafor,JDKYHBWT1D4F8MFH63DBMEN8Y4,Ashiatsu 60,"
        "Elena Novak,ACCEPTED,$100.00",
        # an email typed into the id column is not a reference
        "sq_2,03/02/2026,11:00 AM,12:00 PM,Ravi Shah,ravi@example.com,Ashiatsu 60,"
        "Elena Novak,ACCEPTED,$100.00",
    )
    mindbody = write(
        tmp_path / "ScheduleAtAGlance.xls",
        report(
            "<p>Staff: Novak, Elena</p>",
            table(
                ["Date", "Start Time", "End Time", "Client", "Client ID", "Service", "Status"],
                [
                    "3/3/2026",
                    "9:00 AM",
                    "10:00 AM",
                    "Okafor, Maya",
                    "100234",
                    "Ashiatsu 60",
                    "Completed",
                ],
                ["3/3/2026", "11:00 AM", "12:00 PM", "Shah, Ravi", "", "Ashiatsu 60", "Completed"],
            ),  # fmt: skip
        ),
    )
    db = tmp_path / "w.duckdb"
    results = load_files(db, [square, mindbody], mapping=mapping)
    assert [(r.format, r.rows_loaded) for r in results] == [
        ("square-csv", 2),
        ("mindbody-html", 2),
    ]
    stored = rows(
        db, "select source, start_at::varchar, client_ref from fct_bookings order by start_at"
    )
    assert stored == [
        ("square", "2026-03-02 09:00:00", "JDKYHBWT1D4F8MFH63DBMEN8Y4"),
        ("square", "2026-03-02 11:00:00", None),
        ("mindbody", "2026-03-03 09:00:00", "100234"),
        ("mindbody", "2026-03-03 11:00:00", None),
    ]


def test_an_acuity_export_has_no_client_id_so_no_client_ref(tmp_path: Path) -> None:
    # Acuity's header (tests/fixtures/vendors/appointments-export.csv, as exported) names no
    # client id: every booking's client_ref stays empty.
    lines = ("[source]", 'location = "L01"', "[acuity]", 'calendar = "therapist"')
    mapping = write(tmp_path / "mapping.toml", *lines)
    db = tmp_path / "w.duckdb"
    fixture = ROOT / "tests" / "fixtures" / "vendors" / "appointments-export.csv"
    [result] = load_files(db, [fixture], mapping=mapping)
    assert result.rows_loaded > 0
    assert rows(db, "select distinct client_ref from raw_bookings") == [(None,)]


def test_a_mapping_names_the_client_ref_column(tmp_path: Path) -> None:
    mapping = write(
        tmp_path / "legacy.toml",
        "[source]",
        'name = "legacy"',
        'location = "L01"',
        "[columns]",
        'booking_id = "Appt #"',
        'start_at = "Start"',
        'duration_minutes = "Minutes"',
        'client_name = "Guest"',
        'client_ref = "Guest #"',
        'therapist_id = "Therapist"',
        'service = "Treatment"',
        'status = "Result"',
        "[status_words]",
        '"Done" = "completed"',
    )
    export = write(
        tmp_path / "legacy.csv",
        "Appt #,Start,Minutes,Guest,Guest #,Therapist,Treatment,Result",
        "7001,2026-03-02 09:00,60,Maya Okafor,G-77,Elena Novak,Ashiatsu 60,Done",
        "7002,2026-03-02 11:00,60,Ravi Shah,Ravi Shah,Elena Novak,Ashiatsu 60,Done",
    )
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [export], mapping=mapping)
    assert result.rows_loaded == 2, result.summary()
    # the second row's "Guest #" holds a name: not a reference
    assert rows(db, "select booking_id, client_ref from raw_bookings order by 1") == [
        ("7001", "G-77"),
        ("7002", None),
    ]


# --- marts and lists --------------------------------------------------------------------------


def test_dim_clients_keeps_the_latest_ref_and_its_system(tmp_path: Path) -> None:
    # Client C1: a native booking with ref N-1 on 2 March, then (source 'legacy', a second
    # system) ref L-9 on 9 March, then a native booking on 16 March with no ref: the latest
    # booking that has a ref is the 9 March one, so L-9 of legacy; the client's latest booking
    # of all is native's (16 March). Client C2 never has a ref: both NULL, system native.
    db = tmp_path / "w.duckdb"
    native = write(
        tmp_path / "native.csv",
        HEADER,
        booking(1, "C1", "N-1", "2026-03-02"),
        booking(2, "C1", "", "2026-03-16"),
        booking(3, "C2", "", "2026-03-02"),
    )
    legacy = write(
        tmp_path / "legacy.csv",
        "source," + HEADER,
        "legacy," + booking(4, "C1", "L-9", "2026-03-09"),
    )
    load_files(db, [native, legacy])
    assert rows(
        db,
        "select client_id, client_ref, client_ref_system, booking_system from dim_clients "
        "order by 1",
    ) == [("C1", "L-9", "legacy", "native"), ("C2", None, None, "native")]


def test_dim_clients_ranks_bookings_at_the_same_latest_start_by_source_then_booking_id(
    tmp_path: Path,
) -> None:
    # All at 9 March 13:00 (hour 8 + n % 10). C1: native B5 (ref N-5), native B15 (N-15),
    # legacy B25 (L-25); by (source, booking_id) native B5 ranks first ('native' > 'legacy',
    # 'B5' > 'B15' as text): N-5 of native, system native. C2 at 15:00: legacy B7 (L-7) and
    # native B17 without a ref: the ref is L-7 of legacy, the system of its latest booking
    # native.
    db = tmp_path / "w.duckdb"
    native = write(
        tmp_path / "native.csv",
        HEADER,
        booking(5, "C1", "N-5", "2026-03-09"),
        booking(15, "C1", "N-15", "2026-03-09"),
        booking(17, "C2", "", "2026-03-09"),
    )
    legacy = write(
        tmp_path / "legacy.csv",
        "source," + HEADER,
        "legacy," + booking(25, "C1", "L-25", "2026-03-09"),
        "legacy," + booking(7, "C2", "L-7", "2026-03-09"),
    )
    load_files(db, [native, legacy])
    assert rows(
        db,
        "select client_id, client_ref, client_ref_system, booking_system from dim_clients "
        "order by 1",
    ) == [("C1", "N-5", "native", "native"), ("C2", "L-7", "legacy", "native")]


@pytest.fixture
def listed_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A studio with the data as-of 2026-03-30 (the latest completed visit, client C9's): C1
    (ref MB-1001, native, last seen 2026-01-05, 84 days before), C2 (no ref, an Acuity
    source, last seen 2026-01-12, 77 days) and C3 (email in the ref column, native, last seen
    2026-01-19, 70 days) have nothing booked: all three are at risk (45-89 days)."""
    db = tmp_path / "studio.duckdb"
    native = write(
        tmp_path / "native.csv",
        HEADER,
        booking(1, "C1", "MB-1001", "2026-01-05"),
        booking(3, "C3", "c3@example.com", "2026-01-19"),
        booking(9, "C9", "9009", "2026-03-30"),
    )
    acuity = write(
        tmp_path / "acuity.csv", "source," + HEADER, "acuity," + booking(2, "C2", "", "2026-01-12")
    )
    load_files(db, [native, acuity])
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield db
    st.cache_data.clear()


def test_the_win_back_list_carries_the_ref_and_its_booking_system(listed_warehouse: Path) -> None:
    listed = client_queries.client_lists(("L01",), 45, 90)
    got = listed[["client_id", "client_ref", "booking_system", "days_since_last_visit"]]
    # most recently seen first: C3 (70 days), C2 (77), C1 (84)
    assert got.astype(object).where(got.notna(), None).values.tolist() == [
        ["C3", None, "native", 70],
        ["C2", None, "acuity", 77],
        ["C1", "MB-1001", "native", 84],
    ]


def test_the_clients_page_shows_the_ref_and_says_which_systems_give_none(
    listed_warehouse: Path,
) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("dashboard/pages/clients.py").run()
    show_every_table(at)
    assert not at.exception
    [shown] = [d.value for d in at.dataframe if "Client ref" in d.value.columns]
    by_client = shown.set_index("Client")
    assert by_client.loc["C1", "Client ref"] == "MB-1001"
    assert by_client.loc["C1", "Booking system"] == "native file"
    assert by_client.loc["C2", "Client ref"] == "–"  # no ref: a dash, never None
    assert by_client.loc["C2", "Booking system"] == "Acuity"
    captions = " ".join(c.value for c in at.caption).replace("\\", "")  # markdown escapes
    assert "the booking system's own client id" in captions
    assert "look the client up in your booking system by this id" in captions
    assert "Acuity exports carry no client id" in captions


# --- incremental refresh and older warehouses ---------------------------------------------------


def test_an_incremental_load_that_changes_refs_equals_a_full_rebuild(tmp_path: Path) -> None:
    # A generated chain (the demo generator writes a client number as client_ref), then a
    # re-export of its first five bookings with another ref: the refresh is incremental, and
    # fct_bookings and dim_clients (client_ref, client_ref_system) equal a full rebuild.
    write_chain(tmp_path / "chain", locations=1, days=30, seed=3, start=dt.date(2026, 1, 1))
    db = tmp_path / "warehouse.duckdb"
    load_files(db, [tmp_path / "chain"])
    changed = tmp_path / "changed.csv"
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select * replace ('NEW-' || client_ref as client_ref)
                from read_csv(?, all_varchar = true)
                order by booking_id limit 5
            ) to '{changed}' (header, delimiter ',')
            """,
            [str(tmp_path / "chain" / "bookings.csv")],
        )
    load_files(db, [changed])
    assert rows(db, "select mode from mart_build_state") == [("incremental",)]
    refs = rows(db, "select count(*) from fct_bookings where client_ref like 'NEW-%'")
    assert refs == [(5,)]
    assert rows(db, "select count(*) from dim_clients where client_ref like 'NEW-%'")[0][0] > 0
    assert_equals_full_rebuild(db, tmp_path)


def test_a_warehouse_built_before_client_refs_still_loads(tmp_path: Path) -> None:
    # The raw layer as it was before this column (the same DDL without client_ref), with a
    # booking already in it; loading a file with client refs adds the column (ALTER) and
    # keeps the old row, its ref empty.
    db = tmp_path / "old.duckdb"
    ddl = (ROOT / "sql" / "raw" / "001_tables.sql").read_text(encoding="utf-8")
    old = "\n".join(line for line in ddl.splitlines() if "client_ref" not in line)
    old = old.replace("-- (never a name, email or phone), NULL: none", "")
    with duckdb.connect(str(db)) as con:
        con.execute(old)
        assert not con.execute(
            "select count(*) from duckdb_columns() where table_name = 'raw_bookings' "
            "and column_name = 'client_ref'"
        ).fetchone()[0]
        con.execute(
            "insert into raw_bookings (source, booking_id, location_id, therapist_id, client_id, "
            "service, status, start_at, end_at, load_id, line_number) values ('native', 'B0', "
            "'L01', 'T1', 'C0', 'Ashiatsu 60', 'completed', '2026-03-01 09:00', "
            "'2026-03-01 09:50', 0, 2)"
        )
    export = write(tmp_path / "bookings.csv", HEADER, booking(1, "C1", "MB-1001"))
    [result] = load_files(db, [export])
    assert result.outcome == "loaded", result.summary()
    assert rows(db, "select booking_id, client_ref from fct_bookings order by 1") == [
        ("B0", None),
        ("B1", "MB-1001"),
    ]


def test_the_list_of_a_warehouse_whose_marts_predate_refs_shows_dashes(
    listed_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dim_clients as an older version built it (no client_ref columns): the list still shows,
    # its ref and system empty, rather than a binder error.
    old = tmp_path / "old-marts.duckdb"
    shutil.copyfile(listed_warehouse, old)
    with store.building(old) as con:
        con.execute(
            "alter table dim_clients drop column client_ref; "
            "alter table dim_clients drop column client_ref_system; "
            "alter table dim_clients drop column booking_system"
        )
    monkeypatch.setenv("STUDIO_OPS_DB", str(old))
    st.cache_data.clear()
    listed = client_queries.client_lists(("L01",), 45, 90)
    assert list(listed["client_id"]) == ["C3", "C2", "C1"]
    assert listed["client_ref"].isna().all() and listed["booking_system"].isna().all()
