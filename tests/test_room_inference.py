"""Rooms an export does not name, and unknown bar training, in the marts.

Hand-made raw rows in a real warehouse file (tests.test_marts.Chain), built with build_marts;
every expected room is worked out by hand from the rule (the comments walk through it):
per location and day, the bookings that name their room are placed first, then the held
bookings without one by start (ties: longer first, then booking id): bar work into the first
free room with bars, other work into the first free room without bars, else the first free
bar room. "First" is the room calendar's order (the studio profile's, else room id). Day:
Monday 2024-03-04, rooms open 09:00-17:00.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.demo.generate import write_chain
from pipelines.ingest.load import load_files
from pipelines.warehouse.store import connect
from tests.test_incremental import assert_equals_full_rebuild, write_export
from tests.test_marts import DAY, Chain, issues


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Chain]:
    """An empty warehouse file to fill with hand-made raw rows (closed after the test)."""
    chain = Chain(tmp_path / "studio.duckdb")
    yield chain
    chain.con.close()


def rooms_of(studio: Chain) -> dict[str, tuple[str | None, str | None]]:
    """booking_id -> (room_id, room_source) from fct_bookings."""
    rows = studio.rows("select booking_id, room_id, room_source from fct_bookings")
    return {booking: (room, source) for booking, room, source in rows}


def bar_and_plain_rooms(studio: Chain) -> None:
    """Rooms in room-id order: B1 and B2 with bars, P1 and P2 without."""
    for room, bars in (("B1", True), ("B2", True), ("P1", False), ("P2", False)):
        studio.room(room, has_bars=bars)


def test_bar_work_goes_to_bar_rooms_and_other_work_to_plain_rooms(studio: Chain) -> None:
    bar_and_plain_rooms(studio)
    studio.booking("A", "10:00", "11:00", room=None, service="Ashiatsu 60")
    studio.booking("B", "10:00", "11:00", room=None, service="Swedish 60", therapist="T2")
    studio.booking("C", "10:30", "11:30", room=None, service="Ashiatsu 60", therapist="T3")
    studio.booking("D", "11:00", "12:00", room=None, service="Ashiatsu 60", therapist="T4")
    # cancelled: frees its slot, gets no room
    studio.booking("X", "10:00", "11:00", room=None, status="cancelled", therapist="T5")
    studio.build()

    # A (bar) -> B1, the first bar room. B (not bar) -> P1, the first room without bars.
    # C (bar, 10:30) -> B1 is taken until 11:00 -> B2. D (bar, 11:00) -> B1 is free again at
    # 11:00 (A ends as D starts: no overlap) -> B1.
    assert rooms_of(studio) == {
        "A": ("B1", "inferred"),
        "B": ("P1", "inferred"),
        "C": ("B2", "inferred"),
        "D": ("B1", "inferred"),
        "X": (None, None),
    }
    # The room marts count inferred bookings like any other: B1 holds A and D (09:00-17:00
    # open, 10:00-12:00 occupied = 120 minutes, all bar work); B2 holds C (60); P1 holds B
    # (60 minutes, none of it bar work); P2 is empty.
    occupied = studio.rows(
        "select room_id, occupied_minutes, bar_minutes from fct_room_days order by room_id"
    )
    assert occupied == [("B1", 120, 120), ("B2", 60, 60), ("P1", 60, 0), ("P2", 0, 0)]
    day = studio.row("fct_location_days", location_id="L1")
    # 240 occupied of 4 x 480 available; never 0% because the export named no room
    assert day["room_utilization"] == pytest.approx(240 / 1920)
    assert issues(studio, "more_bookings_than_rooms") == []


def test_other_work_overflows_into_a_bar_room_and_bar_work_then_finds_none(studio: Chain) -> None:
    studio.room("B1", has_bars=True)
    studio.room("P1", has_bars=False)
    studio.booking("N1", "10:00", "11:00", room=None, service="Swedish 60")
    studio.booking("N2", "10:30", "11:30", room=None, service="Swedish 60", therapist="T2")
    studio.booking("S1", "10:45", "11:15", room=None, service="Ashiatsu 30", therapist="T3")
    studio.booking("N3", "11:30", "12:00", room=None, service="Swedish 30", therapist="T4")
    studio.build()

    # N1 -> P1. N2 (10:30): P1 is held until 11:00 -> the first free bar room, B1.
    # S1 (bar, 10:45): B1 is held by N2 until 11:30, and a bar booking never takes P1, so it
    # stays without a room. N3 (11:30): P1 is free again (N1 ended at 11:00) -> P1.
    assert rooms_of(studio) == {
        "N1": ("P1", "inferred"),
        "N2": ("B1", "inferred"),
        "S1": (None, None),
        "N3": ("P1", "inferred"),
    }
    found = issues(studio, "more_bookings_than_rooms")
    detail = "booking S1 (10:45-11:15) names no room and no bar room was free then"
    assert found == [("S1", date(2024, 3, 4), detail)]
    # S1 occupies no room: B1 holds only N2 (60 minutes, none of it bar work)
    assert studio.row("fct_room_days", room_id="B1")["bar_minutes"] == 0
    assert studio.row("fct_room_days", room_id="B1")["occupied_minutes"] == 60


def test_ties_longer_first_then_booking_id(studio: Chain) -> None:
    studio.room("P1", has_bars=False)
    studio.room("P2", has_bars=False)
    studio.room("P3", has_bars=False)
    # all start at 10:00: "A" is 30 minutes, "Z" is 60, "M" and "K" 45 each
    studio.booking("A", "10:00", "10:30", room=None, service="Swedish")
    studio.booking("Z", "10:00", "11:00", room=None, service="Swedish", therapist="T2")
    studio.booking("M", "10:00", "10:45", room=None, service="Swedish", therapist="T3")
    studio.booking("K", "10:00", "10:45", room=None, service="Swedish", therapist="T4")
    studio.build()

    # Order: Z (60, longest) -> P1; then K and M (45 each, by booking id: K before M) -> P2,
    # P3; A (30, shortest) finds every room taken.
    assert rooms_of(studio) == {
        "Z": ("P1", "inferred"),
        "K": ("P2", "inferred"),
        "M": ("P3", "inferred"),
        "A": (None, None),
    }
    assert [entity for entity, _, _ in issues(studio, "more_bookings_than_rooms")] == ["A"]


def test_bookings_that_name_their_room_are_placed_first(studio: Chain) -> None:
    studio.room("P1", has_bars=False)
    studio.room("P2", has_bars=False)
    # U starts first but names no room; E names P1 from 10:00
    studio.booking("U", "09:30", "10:30", room=None, service="Swedish")
    studio.booking("E", "10:00", "11:00", room="P1", service="Swedish", therapist="T2")
    studio.booking("V", "11:00", "12:00", room=None, service="Swedish", therapist="T3")
    studio.build()

    # E holds P1 10:00-11:00 before anything is placed, so U (09:30-10:30) overlaps it and
    # takes P2; V (11:00) starts as E ends -> P1.
    assert rooms_of(studio) == {
        "U": ("P2", "inferred"),
        "E": ("P1", "export"),
        "V": ("P1", "inferred"),
    }
    assert issues(studio, "room_double_booked") == []


def test_the_profile_order_of_rooms_comes_before_room_id(studio: Chain) -> None:
    # the profile lists "oak" before "birch" (both without bars); by id birch would be first
    for order, room in enumerate(("oak", "birch")):
        studio.con.execute(
            "insert into profile_rooms values (?, 'L1', ?, null, false, '09:00', '17:00', 0, ?)",
            [DAY, room, order],
        )
    studio.booking("A", "10:00", "11:00", room=None, service="Swedish")
    studio.booking("B", "10:30", "11:30", room=None, service="Swedish", therapist="T2")
    studio.build()

    # A -> oak (first in the profile); B (10:30) -> oak is held until 11:00 -> birch
    assert rooms_of(studio) == {"A": ("oak", "inferred"), "B": ("birch", "inferred")}


def test_no_room_calendar_that_day_means_no_room_and_no_finding(studio: Chain) -> None:
    studio.room("P1", has_bars=False, date="2024-03-05")  # the next day only
    studio.booking("A", "10:00", "11:00", room=None, service="Swedish")
    studio.build()

    assert rooms_of(studio) == {"A": (None, None)}
    assert issues(studio, "more_bookings_than_rooms") == []


# --- unknown bar training ----------------------------------------------------------------------


def test_bar_training_unknown_is_not_untrained(studio: Chain) -> None:
    studio.room("B1", has_bars=True)
    # T1: a shift file said "not bar-trained" on 03-01; the profile (unknown) on 03-02
    studio.shift("09:00", "17:00", therapist="T1", date="2024-03-01", bar_trained=False)
    studio.shift("09:00", "17:00", therapist="T1", date="2024-03-02", bar_trained=None)
    # T2: nobody ever said
    studio.shift("09:00", "17:00", therapist="T2", date="2024-03-02", bar_trained=None)
    # bar work on DAY (03-04), when neither has a shift
    studio.booking("S1", "10:00", "11:00", room="B1", therapist="T1")
    studio.booking("S2", "11:00", "12:00", room="B1", therapist="T2")
    studio.build()

    # T1's latest known training is the false of 03-01 (the later unknown row does not erase
    # it): a finding. T2's training is unknown: no finding, and NULL in dim_therapists.
    trained = dict(studio.rows("select therapist_id, bar_trained from dim_therapists"))
    assert trained == {"T1": False, "T2": None}
    found = issues(studio, "bar_session_by_untrained_therapist")
    assert [entity for entity, _, _ in found] == ["S1"]


# --- incremental refresh -----------------------------------------------------------------------

START = date(2024, 1, 1)


@pytest.fixture(scope="module")
def roomless(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated studio (2 locations x 40 days) whose bookings export names no room, loaded."""
    root = tmp_path_factory.mktemp("roomless")
    write_chain(root / "all", locations=2, days=40, seed=5, start=START)
    exports = root / "exports"
    exports.mkdir()
    for kind in ("rooms", "therapist_shifts"):
        shutil.copyfile(root / "all" / f"{kind}.csv", exports / f"{kind}.csv")
    write_export(
        exports / "bookings.csv",
        root / "all" / "bookings.csv",
        "select * exclude (room_id) from export",
    )
    db = root / "base.duckdb"
    load_files(db, [exports])
    return {"root": root, "db": db}


def busiest_inferred_day(con: duckdb.DuckDBPyConnection) -> tuple[str, date]:
    """The location-day with the most inferred rooms (ties: first location, first day)."""
    return con.execute(
        """
        select location_id, booking_date from fct_bookings
        where room_source = 'inferred'
        group by all order by count(*) desc, location_id, booking_date limit 1
        """
    ).fetchone()


def inferred_rooms(con: duckdb.DuckDBPyConnection, location: str, day: date) -> dict[str, str]:
    """Each booking of that location-day with an inferred room, and the room."""
    return dict(
        con.execute(
            "select booking_id, room_id from fct_bookings "
            "where location_id = ? and booking_date = ? and room_source = 'inferred'",
            [location, day],
        ).fetchall()
    )


def test_an_earlier_booking_moves_other_clients_rooms_incrementally(
    roomless: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(roomless["db"], db)
    with connect(db, read_only=True) as con:
        # the busiest location-day with inferred rooms, and its rooms before
        location, day = busiest_inferred_day(con)
        before = inferred_rooms(con, location, day)
    # A new client's long non-bar booking that starts before everything else that day takes
    # the first room without bars for the whole day, so the day's other bookings move on.
    path = tmp_path / "early.csv"
    path.write_text(
        "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status\n"
        f"EARLY1,{location},{location}-T01,C-NEW-1,Swedish 60,{day} 00:01,{day} 23:59,booked\n"
    )
    load_files(db, [path])
    with connect(db, read_only=True) as con:
        assert con.execute("select mode from mart_build_state").fetchone()[0] == "incremental"
        after = inferred_rooms(con, location, day)
    moved = [b for b in before if after.get(b) != before[b]]
    assert moved, "the early booking should push other bookings into other rooms"
    assert_equals_full_rebuild(db, tmp_path)


def test_a_room_calendar_change_is_refreshed_incrementally(
    roomless: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(roomless["db"], db)
    # one day's calendar again with every room's bars removed: that day's bar bookings lose
    # their rooms (findings), the others spread over every room
    with connect(db, read_only=True) as con:
        location, day = con.execute(
            "select location_id, date from fct_room_days order by date desc, location_id limit 1"
        ).fetchone()
    write_export(
        tmp_path / "rooms-again.csv",
        roomless["root"] / "all" / "rooms.csv",
        "select * replace ('false' as has_bars) from export where location_id = ? and date = ?",
        location,
        str(day),
    )
    load_files(db, [tmp_path / "rooms-again.csv"])
    with connect(db, read_only=True) as con:
        assert con.execute("select mode from mart_build_state").fetchone()[0] == "incremental"
        unplaced = con.execute(
            "select count(*) from dq_issues where kind = 'more_bookings_than_rooms' "
            "and location_id = ? and date = ?",
            [location, day],
        ).fetchone()[0]
    assert unplaced > 0  # bar work found no bar room that day
    assert_equals_full_rebuild(db, tmp_path)


def test_a_replaced_booking_is_placed_in_its_new_form_only(
    roomless: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(roomless["db"], db)
    with connect(db, read_only=True) as con:
        # the busiest location-day with inferred rooms, its first booking without bars in
        # placement order (start, longer first, booking id) that a later one without bars
        # starts during, and the day's rooms before
        location, day = busiest_inferred_day(con)
        (first,) = con.execute(
            """
            with plain as (
                select booking_id, start_at, end_at from fct_bookings
                where location_id = ? and booking_date = ? and room_source = 'inferred'
                    and not uses_bars
            )
            select plain.booking_id from plain
            semi join plain as later
                on
                    later.booking_id <> plain.booking_id
                    and later.start_at >= plain.start_at
                    and later.start_at < plain.end_at
            order by plain.start_at, plain.end_at desc, plain.booking_id limit 1
            """,
            [location, day],
        ).fetchone()
        before = inferred_rooms(con, location, day)
    # The same booking exported again, cancelled: it holds no room any more, so the booking
    # that started during it takes its room. Read in its stored (held) form as well, it
    # would keep the room and nothing would move.
    path = tmp_path / "cancelled.csv"
    write_export(
        path,
        roomless["root"] / "all" / "bookings.csv",
        """
        select * exclude (room_id) replace ('cancelled' as status, created_at as cancelled_at)
        from export where booking_id = ?
        """,
        first,
    )
    load_files(db, [path])
    with connect(db, read_only=True) as con:
        assert con.execute("select mode from mart_build_state").fetchone()[0] == "incremental"
        after = inferred_rooms(con, location, day)
    assert first not in after  # cancelled: no room
    moved = [b for b in before if b != first and after.get(b) != before[b]]
    assert moved, "cancelling the booking should free its room for the one after it"
    assert_equals_full_rebuild(db, tmp_path)


def test_a_day_whose_calendar_arrives_places_its_stored_bookings_incrementally(
    roomless: dict[str, Path], tmp_path: Path
) -> None:
    # The roomless studio loaded without the room calendar of its busiest inferred
    # location-day: that day's bookings (none names a room) get no room. The calendar loaded
    # on its own then changes no booking and no client, so only the stored bookings say that
    # the day has bookings to place: they must get the rooms the studio loaded with its whole
    # calendar gave them.
    with connect(roomless["db"], read_only=True) as con:
        location, day = busiest_inferred_day(con)
        expected = inferred_rooms(con, location, day)
    exports = tmp_path / "exports"
    exports.mkdir()
    for name in ("bookings.csv", "therapist_shifts.csv"):
        shutil.copyfile(roomless["root"] / "exports" / name, exports / name)
    for where, target in (("not", exports / "rooms.csv"), ("", tmp_path / "day-rooms.csv")):
        write_export(
            target,
            roomless["root"] / "all" / "rooms.csv",
            f"select * from export where {where} (location_id = ? and date = ?)",
            location,
            str(day),
        )
    db = tmp_path / "warehouse.duckdb"
    load_files(db, [exports])
    with connect(db, read_only=True) as con:
        assert inferred_rooms(con, location, day) == {}  # no calendar that day: no room
    load_files(db, [tmp_path / "day-rooms.csv"])
    with connect(db, read_only=True) as con:
        assert con.execute("select mode from mart_build_state").fetchone()[0] == "incremental"
        assert inferred_rooms(con, location, day) == expected
    assert expected
    assert_equals_full_rebuild(db, tmp_path)


def test_a_day_whose_bookings_all_name_their_rooms_now_keeps_no_placement(
    roomless: dict[str, Path], tmp_path: Path
) -> None:
    # Every booking of the busiest inferred location-day exported again with its room named
    # (the generator's): nothing of that day is left to place, but its placements stored
    # before must go.
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(roomless["db"], db)
    with connect(db, read_only=True) as con:
        location, day = busiest_inferred_day(con)
    path = tmp_path / "named.csv"
    write_export(
        path,
        roomless["root"] / "all" / "bookings.csv",
        "select * from export "
        "where location_id = ? and cast(cast(start_at as timestamp) as date) = ?",
        location,
        day,
    )
    load_files(db, [path])
    with connect(db, read_only=True) as con:
        assert con.execute("select mode from mart_build_state").fetchone()[0] == "incremental"
        assert inferred_rooms(con, location, day) == {}
        placements = con.execute(
            "select count(*) from int_booking_rooms where location_id = ? and booking_date = ?",
            [location, day],
        ).fetchone()[0]
    assert placements == 0
    assert_equals_full_rebuild(db, tmp_path)
