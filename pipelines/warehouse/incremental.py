"""Incremental builds: refresh only the marts' rows that a load's change log touched.

The load (pipelines.ingest.load) records `changed_location_days` and `changed_clients` as temp
tables; `refresh_marts` turns them into scope tables and runs each mart with its
`--incremental:` lines switched on. The result must equal a full rebuild (tests/test_incremental).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines.warehouse.models import INCREMENTAL_LINE, execute, model_scripts, run_script
from pipelines.warehouse.store import SQL_DIR, WarehouseError, exists, timed

# Marts refreshed key by key in an incremental build: the scope table whose keys are replaced
# and the key columns. Their SQL reads the scope through `--incremental:` lines (see below).
REFRESHED = {
    "fct_bookings": ("scope_clients", ("client_id",)),
    "int_booking_rooms": ("scope_booking_days", ("location_id", "booking_date")),
    "int_client_visits": ("scope_clients", ("client_id",)),
    "fct_room_days": ("scope_days", ("location_id", "date")),
    "fct_therapist_days": ("scope_days", ("location_id", "date")),
    "fct_hourly_capacity": ("scope_days", ("location_id", "date")),
    "fct_location_days": ("scope_days", ("location_id", "date")),
    "dq_issues": ("scope_days", ("location_id", "date")),
    "fct_therapist_weeks": ("scope_weeks", ("location_id", "week_start")),
    "dim_clients": ("scope_clients_as_of", ("client_id",)),
}
# Marts of counts over clients, adjusted in an incremental build: their `--incremental:` lines
# read the mart as it was, add the changed clients' rows as they are now and subtract the same
# clients' rows before the load (`fct_bookings__before`), so no row outside the scope is lost.
# The client reports adjust by dim_clients' refreshed clients (`dim_clients__fresh`, and their
# rows before: `dim_clients__before`) and, for retention, the clients the moved as-of date
# reaches (`rpt_as_of__before`); they are rebuilt whole when dim_clients is.
ADJUSTED = {"rpt_cohort_activity", "rpt_retention_long", "rpt_win_back"}
ADJUSTED_BY_CLIENT_ROWS = ("rpt_retention_long", "rpt_win_back")
# Refreshed marts with a column that depends on rpt_as_of (dim_clients.next_booking_at): their
# scope widens when the as-of date moves forward (`_scope_as_of_dependent`); when it moves back
# they are rebuilt whole.
AS_OF_DEPENDENT = {"dim_clients"}
# Marts an incremental build runs first: the client marts, and the dims whose latest bar
# equipment / training dq_issues falls back on (a change there widens the refreshed days).
REFRESHED_FIRST = ("fct_bookings", "int_client_visits", "dim_rooms", "dim_therapists")
# Small marts of facts about every booking of a location or source, which fct_bookings reads
# for every client (a location's new_clients_from, whether a source records created_at). An
# incremental build rebuilds them before anything else; when a row moved (an earlier first
# booking, a new opened_on, a source's first created_at), bookings of clients outside the
# change log move too, so everything is rebuilt.
WHOLE_BOOKING_FACTS = ("int_location_history", "int_booking_sources")
# Rooms inferred for bookings that name none: a booking's room depends on every booking of its
# location-day, not only its client's, so an incremental build places the changed
# location-days' bookings again before the client marts, and the clients whose booking got
# another room join the changed clients (`_refresh_booking_rooms`).
REFRESHED_BY_DAY_FIRST = ("int_booking_rooms",)
# A change log covering more than this share of the location-days rebuilds everything.
INCREMENTAL_MAX_SHARE = 0.2
# Days around a changed day whose marts can change (opening hours, shifts and bookings run past
# midnight), and days around a refreshed day whose raw rows its figures read.
REFRESH_MARGIN_DAYS = 2


def can_refresh(con: duckdb.DuckDBPyConnection, fingerprint: tuple[str, str]) -> bool:
    """Whether an incremental refresh may run (else a full build)."""
    change_log = ("changed_location_days", "changed_clients", "changed_booking_loads")
    tables = _tables(con)
    if not all((name, True) in tables for name in change_log):
        return False
    if not all((name, False) in tables for name in [*REFRESHED, *ADJUSTED, "mart_build_state"]):
        return False
    state = con.execute("select settings_hash, sql_hash from mart_build_state").fetchall()
    if state != [fingerprint]:
        return False
    changed, total = con.execute(
        "select (select count(*) from (select distinct * from changed_location_days)), "
        "(select count(*) from fct_location_days)"
    ).fetchone()
    return total > 0 and changed <= INCREMENTAL_MAX_SHARE * total


def _tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, bool]]:
    """Every table's (name, temporary): one look at the catalog instead of one per name
    (each look about 1 ms)."""
    return set(con.execute("select table_name, temporary from duckdb_tables()").fetchall())


def refresh_marts(con: duckdb.DuckDBPyConnection) -> str:
    """Refresh the marts for the change log's scope; 'full' when the scope turns out too big."""
    # Staging views with `--incremental:` lines are shadowed by scoped temp tables for this
    # build: bookings (by client, with the clients' rows before) at once, rooms and shifts (by
    # day) once the dims that read them whole are rebuilt and the days are known.
    shadowed: list[str] = []
    try:
        _stage_changed_clients(con, shadowed)
        with timed("rooms of the changed days' bookings"):
            rooms_moved = _refresh_booking_rooms(con)
        if rooms_moved:
            # clients the load left alone whose booking got another room: refreshed too, so
            # their rows are kept and staged with the others' (one more search of every
            # booking)
            _stage_changed_clients(con, shadowed)
        as_of_before = _as_of(con)
        con.execute("create or replace temp table rpt_as_of__before as from rpt_as_of")
        # the same SQL a full build checked (can_refresh): ordered by its headers only
        scripts = {p.stem: p for p in model_scripts(con, checked=False)}
        with timed("history start and booking sources"):
            if _whole_booking_facts_moved(con, scripts):
                return "full"
        for name in REFRESHED_FIRST:
            _run_scoped(con, scripts[name])
        with timed("scope of the refresh"):
            _build_scope(con)
        changed, total = con.execute(
            "select (select count(*) from scope_days), (select count(*) from fct_location_days)"
        ).fetchone()
        if changed > INCREMENTAL_MAX_SHARE * total:
            return "full"
        _shadow_staging(con, ["stg_exports__rooms", "stg_exports__therapist_shifts"], shadowed)
        for name, script in scripts.items():
            if name in REFRESHED_BY_DAY_FIRST:
                continue
            if name in REFRESHED_FIRST or name in WHOLE_BOOKING_FACTS:
                continue
            # asked when the mart's turn comes: rpt_as_of reads marts refreshed before it
            if name in AS_OF_DEPENDENT and not _scope_as_of_dependent(con, as_of_before):
                run_script(con, script)
            elif name in ADJUSTED_BY_CLIENT_ROWS and not exists(
                con, "dim_clients__before", temporary=True
            ):
                run_script(con, script)  # dim_clients was rebuilt whole
            else:
                _run_scoped(con, script)
        # the unique_keys check reads the refreshed clients' rows here (every row of those
        # clients: their rows before were all deleted) instead of searching dim_clients for
        # them (10M: 0.15 s of CPU); all of them, through a view, when the mart was rebuilt
        # whole
        if not exists(con, "dim_clients__fresh", temporary=True):
            con.execute("create temp view dim_clients__fresh as from dim_clients")
    finally:
        for name in shadowed:
            con.execute(f"drop table if exists temp.main.{name}")
        for name in (
            "dim_clients__before",
            "dim_clients__before_rows",
            "dim_clients__reached",
            "rpt_as_of__before",
        ):
            con.execute(f"drop table if exists temp.main.{name}")
    return "incremental"


def _whole_booking_facts_moved(con: duckdb.DuckDBPyConnection, scripts: dict[str, Path]) -> bool:
    """Rebuild WHOLE_BOOKING_FACTS; True when a row differs from before (or none was kept).
    Left as they are when this load's bookings and the rows they replaced cannot move them."""
    if _booking_facts_stand(con):
        return False
    moved = False
    for name in WHOLE_BOOKING_FACTS:
        if not exists(con, name):
            moved = True
            run_script(con, scripts[name])
            continue
        before = con.execute(f"select * from {name}").fetchall()
        run_script(con, scripts[name])
        after = con.execute(f"select * from {name}").fetchall()
        moved = moved or sorted(before, key=repr) != sorted(after, key=repr)
    return moved


def _booking_facts_stand(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether WHOLE_BOOKING_FACTS stay as they are, judged from this load's bookings and the
    stored rows they replaced (`fct_bookings__before` holds those: their clients are changed
    clients) instead of rebuilding them from every booking (10M: 0.2 s of CPU). False when
    unsure: then they are rebuilt and compared. A location's first booking day stands when no
    new booking is earlier and a replaced row on that day leaves another booking there; a
    source's created_at flag when no new booking of a source without it has one and a
    replaced row that had one leaves a new one of the source with one. The history lists every
    location named anywhere: each changed location must be one with bookings before, and no
    location's details may have changed."""
    tables = _tables(con)
    if not all((name, False) in tables for name in WHOLE_BOOKING_FACTS):
        return False
    if ("changed_locations", True) not in tables:
        return False
    (stand,) = con.execute(
        """
        with
        loaded as materialized (
            select source, booking_id, location_id, cast(start_at as date) as day, created_at
            from raw_bookings
            where load_id in (select load_id from changed_booking_loads)
        ),
        replaced as materialized (
            select source, location_id, booking_date as day, created_at
            from fct_bookings__before
            semi join loaded using (source, booking_id)
        ),
        history as (select * from int_location_history),
        sources as (select * from int_booking_sources)
        select
            not exists (from changed_locations)
            -- a location with bookings keeps them (replaced by the same location's): still
            -- named, so still listed
            and not exists (
                select location_id from changed_location_days
                anti join (from history where first_booking_date is not null)
                    using (location_id)
            )
            and not exists (select source from loaded anti join sources using (source))
            and not exists (
                from loaded join sources using (source)
                where loaded.created_at is not null and not sources.records_created_at
            )
            and not exists (
                from replaced
                where replaced.created_at is not null and not exists (
                    from loaded
                    where loaded.source = replaced.source and loaded.created_at is not null
                )
            )
            and not exists (
                from loaded join history using (location_id)
                where history.first_booking_date is null or loaded.day < history.first_booking_date
            )
            and not exists (
                from replaced join history using (location_id)
                where replaced.day = history.first_booking_date and not exists (
                    from loaded
                    where loaded.location_id = replaced.location_id and loaded.day = replaced.day
                )
            )
        """
    ).fetchone()
    return stand


def _stage_changed_clients(con: duckdb.DuckDBPyConnection, shadowed: list[str]) -> None:
    """`scope_clients` from the change log, their bookings as the marts had them, and the
    staged bookings shadowed by them: this load's rows (`changed_booking_loads`) and their
    other rows from `fct_bookings__before`, so every booking is searched once (10M: the raw
    rows' search cost 0.3-0.45 s more)."""
    con.execute(
        "create or replace temp table scope_clients as "
        "select distinct client_id from changed_clients"
    )
    with timed("changed clients and the rows they had"):
        _snapshot_before(con)
    _shadow_staging(con, ["stg_exports__bookings"], shadowed)


def _refresh_booking_rooms(con: duckdb.DuckDBPyConnection) -> bool:
    """Place the bookings of the changed location-days again (int_booking_rooms), reading the
    staging view shadowed by the load's changed clients (`scope_clients`) and fct_bookings as
    it was for the other clients; the clients of bookings whose room changed are added to
    `changed_clients`, so fct_bookings is refreshed for them too. True when one of those is
    not in `scope_clients`. Nothing is placed when those days have no held booking without
    the export's room, now or before (exports that name every room)."""
    con.execute(
        """
        create or replace temp table scope_booking_days as
        select distinct location_id, date as booking_date from changed_location_days;
        create or replace temp table int_booking_rooms__before as
        select source, booking_id, client_id, room_id from int_booking_rooms
        semi join scope_booking_days using (location_id, booking_date);
        """
    )
    if not _bookings_to_place(con):
        # int_booking_rooms keeps no row of those days and would get none: the placement's
        # steps cost 0.04-0.05 s at 10M, this look 0.005 s
        con.execute("drop table int_booking_rooms__before")
        return False
    # The room calendar of those days only: the staging view of rooms reads its export rows
    # twice, so DuckDB materializes every row of it before the days are picked (1.3 s of
    # operator time at 10M bookings). Shadowed by the days' rows instead, until the dims read
    # the whole calendar.
    con.execute(
        "create or replace temp table scope_input_days as "
        "select location_id, booking_date as date from scope_booking_days"
    )
    shadowed: list[str] = []
    try:
        _shadow_staging(con, ["stg_exports__rooms"], shadowed)
        for name in REFRESHED_BY_DAY_FIRST:
            _run_scoped(con, SQL_DIR / "intermediate" / f"{name}.sql")
    finally:
        for name in shadowed:
            con.execute(f"drop table if exists temp.main.{name}")
        con.execute("drop table scope_input_days")
    con.execute(
        """
        create or replace temp table rooms_moved_clients as
        select client_id from (
            (
                select source, booking_id, client_id, room_id from int_booking_rooms__before
                except
                select source, booking_id, client_id, room_id from int_booking_rooms
                semi join scope_booking_days using (location_id, booking_date)
            )
            union all
            (
                select source, booking_id, client_id, room_id from int_booking_rooms
                semi join scope_booking_days using (location_id, booking_date)
                except
                select source, booking_id, client_id, room_id from int_booking_rooms__before
            )
        );
        drop table int_booking_rooms__before;
        insert into changed_clients select client_id from rooms_moved_clients;
        """
    )
    (outside,) = con.execute(
        "select exists (from rooms_moved_clients anti join scope_clients using (client_id))"
    ).fetchone()
    con.execute("drop table rooms_moved_clients")
    return outside


def _bookings_to_place(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether int_booking_rooms may have rows on `scope_booking_days`: it had some before, or
    a held booking of those days has no room from its export, among what the placement reads
    (the changed clients' staged rows, the other clients' rows as fct_bookings stored them;
    an inferred room there is placed again)."""
    (to_place,) = con.execute(
        """
        select
            exists (from int_booking_rooms__before)
            or exists (
                from stg_exports__bookings
                semi join scope_booking_days using (location_id, booking_date)
                where is_held and room_id is null
            )
            or exists (
                from fct_bookings
                semi join scope_booking_days using (location_id, booking_date)
                anti join scope_clients using (client_id)
                where is_held and (room_source is distinct from 'export' or room_id is null)
            )
        """
    ).fetchone()
    return to_place


def _snapshot_before(con: duckdb.DuckDBPyConnection) -> None:
    """The changed clients' bookings as the marts had them (every column: the staged
    bookings read those this load did not replace), and the dims' bar facts."""
    con.execute(
        """
        -- their row ids first (the client column alone), then those rows: a join reads the
        -- other columns of every booking too (10M, CPU 0.77 -> 0.65 s). The client ids come
        -- with the row ids, so the second scan leaves out the column that costs the most to
        -- read (10M, CPU 1.01 -> 0.81 s)
        create or replace temp table fct_bookings__before_ids as
        select rowid as row_id, client_id
        from fct_bookings semi join scope_clients using (client_id);
        create or replace temp table fct_bookings__before as
        select
            fct_bookings.rowid as row_id,
            fct_bookings.* replace (fct_bookings__before_ids.client_id as client_id),
        from fct_bookings
        join fct_bookings__before_ids on fct_bookings.rowid = fct_bookings__before_ids.row_id;
        drop table fct_bookings__before_ids;
        create or replace temp table dim_rooms__before as
        select location_id, room_id, has_bars from dim_rooms;
        create or replace temp table dim_therapists__before as
        select location_id, therapist_id, bar_trained from dim_therapists;
        """
    )


def _scope_as_of_dependent(con: duckdb.DuckDBPyConnection, as_of_before: list[tuple]) -> bool:
    """Make `scope_clients_as_of`: the changed clients, plus, when the as-of date moved forward,
    the clients whose next booking falls before the new date (their next_booking_at moves on;
    a client with none before has none after), and keep their rows as they are before the
    refresh (`dim_clients__before`, for the client reports). False when the date moved back or
    appeared: then the mart is rebuilt whole."""
    as_of = _as_of(con)
    if as_of == as_of_before:
        con.execute("create or replace temp table scope_clients_as_of as from scope_clients")
    elif as_of_before[0][0] is None or as_of[0][0] is None or as_of[0][0] < as_of_before[0][0]:
        return False
    else:
        with timed("clients whose next booking the as-of date passed"):
            con.execute(
                """
                create or replace temp table scope_clients_as_of as
                select client_id from scope_clients
                union
                select client_id from dim_clients
                where cast(next_booking_at as date) < ?
                """,
                [as_of[0][0]],
            )
    # by row id: the row ids first (one column), then those rows, which the refresh then
    # deletes by row id too (a join reads every column of every client, a delete by client
    # scans them all again)
    with timed("their client rows before"):
        con.execute(
            """
            create or replace temp table dim_clients__before_rows as
            select rowid as row_id from dim_clients
            semi join scope_clients_as_of using (client_id);
            -- the columns the client reports and the key check read (not client_ref, the
            -- costliest to read at rows spread over the table)
            create or replace temp table dim_clients__before as
            select
                client_id, cohort_month, first_location_id, first_therapist_id,
                first_visit_date, second_visit_date, is_new_client, last_visit_date,
                next_booking_at,
            from dim_clients where rowid in (select row_id from dim_clients__before_rows);
            """
        )
    with timed("clients whose retention window the as-of date closed"):
        _reached_by_as_of(con, as_of_before[0][0], as_of[0][0])
    return True


def _reached_by_as_of(con: duckdb.DuckDBPyConnection, before: date, now: date) -> None:
    """`dim_clients__reached`: the new clients outside the refresh whose retention window
    ended after the old as-of date and by the new one (first_visit_date + window in
    (before, now]), so rpt_retention_long counts them eligible now. Their first-visit days
    are listed as constants, which the scan of dim_clients filters on directly."""
    windows = con.execute("select window_days from settings_retention_windows").fetchall()
    windows = [window for (window,) in windows]
    moved_days = (now - before).days if before is not None and now is not None else 0
    days = sorted(
        {
            before + timedelta(days=step - window)
            for window in windows
            for step in range(1, moved_days + 1)
        }
    )
    listed = ", ".join(f"date '{day.isoformat()}'" for day in days) or "null"
    # the columns rpt_retention_long reads: the others (client_ref above all) cost more to
    # read at the ~10k rows found than the scan that finds them (10M: 0.025 -> 0.013 s)
    con.execute(
        "create or replace temp table dim_clients__reached as "
        "select client_id, cohort_month, first_location_id, first_therapist_id, "
        "first_visit_date, second_visit_date "
        "from dim_clients anti join scope_clients_as_of using (client_id) "
        f"where is_new_client and first_visit_date in ({listed})"
    )


def _as_of(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select as_of_date from rpt_as_of").fetchall()


def _shadow_staging(con: duckdb.DuckDBPyConnection, names: list[str], shadowed: list[str]) -> None:
    """Shadow the named staging views with temp tables of their `--incremental:` rows.

    Tables, not views: the scoped rows are few, and each mart reading them would otherwise
    repeat the semi join against the whole raw table. For the same reason a CTE the full
    build leaves `not materialized` (to stream millions of rows) is materialized here."""
    for name in names:
        script = SQL_DIR / "staging" / f"{name}.sql"
        text = INCREMENTAL_LINE.sub(r"\1", script.read_text())
        text = text.replace(" as not materialized (", " as materialized (")
        header = f"create or replace view {name} as"
        if header not in text:
            raise WarehouseError(f"{script.name}: expected '{header}'")
        execute(con, script, text.replace(header, f"create or replace temp table {name} as", 1))
        shadowed.append(name)


def _build_scope(con: duckdb.DuckDBPyConnection) -> None:
    """The keys to refresh (`scope_days`, `scope_weeks`) and the raw days they read
    (`scope_input_days`, `scope_week_days`), once fct_bookings and the dims are refreshed."""
    # dq_issues falls back on a room's latest bar equipment and a therapist's latest training
    # for bookings outside the calendar or shifts
    con.execute(
        """
        create or replace temp table rooms_changed as
        select location_id, room_id from dim_rooms__before
        full join dim_rooms using (location_id, room_id)
        where dim_rooms__before.has_bars is distinct from dim_rooms.has_bars;
        -- therapists in the dim before and after only: the dim lists every therapist of a
        -- booking, so a new one's bookings are all this load's (their days already refreshed),
        -- and one gone has none left
        create or replace temp table therapists_changed as
        select location_id, therapist_id from dim_therapists__before
        join dim_therapists using (location_id, therapist_id)
        where dim_therapists__before.bar_trained is distinct from dim_therapists.bar_trained;
        """
    )
    fallback_days = ""
    if con.execute("select count(*) from rooms_changed").fetchone()[0] and _outside_days(con):
        fallback_days += """
            union
            -- bar bookings not inside their day's opening hours, on the days dq_issues
            -- found a booking outside its room's calendar (_outside_days)
            select location_id, booking_date from fct_bookings
            semi join rooms_changed using (location_id, room_id)
            semi join outside_room_calendar_days as outside
                on
                    fct_bookings.location_id = outside.location_id
                    and fct_bookings.booking_date = outside.date
            where uses_bars and not exists (
                select 1 from stg_exports__rooms as rooms
                where
                    rooms.location_id = fct_bookings.location_id
                    and rooms.room_id = fct_bookings.room_id
                    and rooms.date = fct_bookings.booking_date
                    and fct_bookings.start_at >= rooms.open_at
                    and fct_bookings.end_at <= rooms.close_at
            )"""
    if con.execute("select count(*) from therapists_changed").fetchone()[0]:
        fallback_days += """
            union
            -- bar bookings without a shift that day
            select location_id, booking_date from fct_bookings
            semi join therapists_changed using (location_id, therapist_id)
            where uses_bars and not exists (
                select 1 from stg_exports__therapist_shifts as shifts
                where
                    shifts.location_id = fct_bookings.location_id
                    and shifts.therapist_id = fct_bookings.therapist_id
                    and shifts.date = fct_bookings.booking_date
            )"""
    con.execute(
        f"""
        create or replace temp table scope_days as
        with
        -- the refreshed rows of the changed clients (fct_bookings__fresh) against their rows
        -- before: client flags (first visit, rebooked) that moved count where they were and are
        flags_before as (
            select
                source, booking_id, location_id, booking_date, is_first_visit, is_new_client,
                is_rebooked
            from fct_bookings__before
        ),
        flags_after as (
            select
                source, booking_id, location_id, booking_date, is_first_visit, is_new_client,
                is_rebooked
            from fct_bookings__fresh
        ),
        moved_bookings as (
            (select * from flags_before except all select * from flags_after)
            union all
            (select * from flags_after except all select * from flags_before)
        ),
        -- raw rows count on the days around them (past midnight); moved client flags and
        -- dq fallbacks count on their booking day only
        raw_days as (
            select distinct location_id, date + cast(day_offset as integer) as date
            from changed_location_days
            cross join range(-{REFRESH_MARGIN_DAYS}, {REFRESH_MARGIN_DAYS + 1})
                as offsets(day_offset)
        ),
        final as (
            select location_id, date from raw_days
            union
            select location_id, booking_date from moved_bookings{fallback_days}
        )
        select * from final;
        """
    )
    con.execute(
        f"""
        create or replace temp table scope_input_days as
        select distinct location_id, date + cast(day_offset as integer) as date
        from scope_days
        cross join range(-{REFRESH_MARGIN_DAYS}, {REFRESH_MARGIN_DAYS + 1}) as offsets(day_offset)
        union
        -- bookings spanning more than one midnight are read when they reach the refreshed
        -- days' margin (bookings are in date order, so the bound on end_at skips the row
        -- groups of earlier days: 10M, a scan of every booking's times 0.05-0.1 s of CPU)
        select location_id, booking_date from fct_bookings
        where
            end_at > booking_date + interval 1 day
            and end_at >= (
                select min(date) - {REFRESH_MARGIN_DAYS} from scope_days
            )::timestamp;

        create or replace temp table scope_weeks as
        select distinct location_id, cast(date_trunc('week', date) as date) as week_start
        from scope_days;

        create or replace temp table scope_week_days as
        select location_id, week_start + cast(day_offset as integer) as date
        from scope_weeks
        cross join range(0, 7) as offsets(day_offset);
        """
    )


def _outside_days(con: duckdb.DuckDBPyConnection) -> bool:
    """`outside_room_calendar_days`: the location-days where dq_issues, as the last build left
    it, found a booking outside its room's calendar; False when there is none.

    dq_issues falls back on a room's latest bars (dim_rooms.has_bars) only for a held booking
    piece that touches none of its room's opening hours that day (an empty segment of
    int_room_booking_segments), and such a booking always has a `booking_outside_room_calendar`
    finding on its booking day (its minutes inside are fewer than its minutes). Days the load
    changed are refreshed anyway; on the others nothing changed since that finding was made.
    So the search for bookings of rooms whose bars changed reads those days only, instead of
    every bar booking's room (10M: 0.11-0.13 s of CPU; the bench's days have none)."""
    con.execute(
        """
        create or replace temp table outside_room_calendar_days as
        select distinct location_id, date from dq_issues
        where kind = 'booking_outside_room_calendar'
        """
    )
    (found,) = con.execute("select count(*) from outside_room_calendar_days").fetchone()
    return found > 0


def _run_scoped(con: duckdb.DuckDBPyConnection, script: Path) -> None:
    """Run a mart script with its `--incremental:` lines on; a refreshed mart's new rows
    replace the rows of its scope's keys, any other mart is rebuilt whole."""
    name = script.stem
    original = script.read_text()
    text = INCREMENTAL_LINE.sub(r"\1", _materialize_scoped_ctes(original))
    if name not in REFRESHED:
        scoped = text != original and name not in ADJUSTED
        temporary = (f"create or replace temp {kind} {name} as" for kind in ("table", "view"))
        if scoped and not any(header in text for header in temporary):
            # a scoped published table would lose every row outside the scope
            raise WarehouseError(
                f"{script.name}: --incremental: lines need a REFRESHED key or ADJUSTED"
            )
        execute(con, script, text)
        return
    scope, keys = REFRESHED[name]
    fresh = f"{name}__fresh"
    header = f"create or replace table {name} as"
    if header not in text:
        raise WarehouseError(f"{script.name}: expected '{header}'")
    execute(con, script, text.replace(header, f"create or replace temp table {fresh} as", 1))
    matches = " and ".join(f"{name}.{key} = {scope}.{key}" for key in keys)
    with timed(f"{name}: replace the scope's rows"):
        if name == "fct_bookings":
            # checked on the bookings' key alone: a row at a kept row id with the kept key is
            # the kept row (keys are unique), and the client ids cost the most to read (10M:
            # CPU 0.26 -> 0.06 s)
            _delete_kept_rows(
                con,
                "fct_bookings",
                "fct_bookings__before",
                "fct_bookings__before",
                "source, booking_id",
                "changed clients",
            )
        elif name == "dim_clients" and exists(con, "dim_clients__before_rows", temporary=True):
            _delete_kept_rows(
                con,
                "dim_clients",
                "dim_clients__before_rows",
                "dim_clients__before",
                "client_id",
                "refreshed clients",
            )
        else:
            con.execute(f"delete from {name} using {scope} where {matches}")
        con.execute(
            f"insert into {name} select * from {fresh} semi join {scope} using ({', '.join(keys)})"
        )
    # _build_scope compares fct_bookings' with fct_bookings__before; dim_clients reads
    # int_client_visits'; the client reports read dim_clients'
    if name not in ("fct_bookings", "int_client_visits", "dim_clients"):
        con.execute(f"drop table {fresh}")


def _materialize_scoped_ctes(text: str) -> str:
    """Materialize each `not materialized` CTE whose body has `--incremental:` lines.

    A full build streams such a CTE to every place that reads it rather than copy millions
    of rows; scoped, its rows are few, and streaming would repeat the scope's search (a scan
    of a whole table by client or by day) for each reader: at 10M bookings dim_clients' three
    reads of its clients' bookings took 1.6 s of CPU against 0.9 s materialized."""
    lines = text.split("\n")
    for start, line in enumerate(lines):
        if not line.endswith(" as not materialized ("):
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(")")), start)
        if any(INCREMENTAL_LINE.search(body) for body in lines[start + 1 : end]):
            lines[start] = line.replace(" as not materialized (", " as materialized (")
    return "\n".join(lines)


def _delete_kept_rows(
    con: duckdb.DuckDBPyConnection, table: str, row_ids: str, kept: str, columns: str, whose: str
) -> None:
    """Delete `table`'s rows at the row ids the scope kept (`row_ids`, column `row_id`).

    Finding the rows by client again would scan the whole table (fct_bookings: 0.2 s at 10M);
    the row ids hold because nothing checkpoints the build's copy before it is published. The
    rows at those row ids must be exactly the kept rows (`kept`, on `columns`), else the build
    stops. They are read before the delete rather than returned by it: a delete returning its
    rows read those columns of every booking (10M, CPU 0.43 s, against 0.17 s for both)."""
    at_row_ids = f"where rowid in (select row_id from {row_ids})"
    found = con.execute(f"select {columns} from {table} {at_row_ids}").fetchall()
    expected = con.execute(f"select {columns} from {kept}").fetchall()
    if sorted(found) != sorted(expected):
        raise WarehouseError(
            f"{table}: the refresh would delete {len(found)} rows, expected the "
            f"{len(expected)} rows of the {whose}; nothing was published"
        )
    con.execute(f"delete from {table} {at_row_ids}")
