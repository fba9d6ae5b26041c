"""`studio-ops status`: what is in the warehouse, for people at a terminal."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.warehouse.snapshot import open_snapshot

RECENT_LOADS = 10
# What is stored, in the studio's words: the tables a studio's own data lives in (the others
# are steps of the build, named in words nowhere a studio reads).
STORED = (
    ("raw_bookings", "bookings"),
    ("dim_clients", "clients"),
    ("dim_locations", "locations"),
    ("dim_rooms", "rooms"),
    ("dim_therapists", "therapists"),
    ("raw_rooms", "room-calendar days from exports"),
    ("profile_rooms", "room-calendar days from the studio profile"),
    ("raw_therapist_shifts", "shifts from exports"),
    ("profile_shifts", "shifts from the studio profile"),
    ("load_runs", "files loaded"),
    ("rejected_rows", "rejected rows"),
    ("dq_issues", "data-quality findings"),
)
RECENT_REJECTED = 20  # rejected rows listed one by one (file, line, reason); the rest counted


def warehouse_status(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """The status report's sections as rows (used by the CLI and the tests)."""
    tables = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_type = 'BASE TABLE' order by table_name"
        ).fetchall()
    ]
    counts = [(t, con.execute(f'select count(*) from "{t}"').fetchone()[0]) for t in tables]
    report = {
        "loads": con.execute(
            """
            select load_id, file_name, kind, format, rows_read, rows_loaded, rows_rejected,
                   strftime(finished_at, '%Y-%m-%d %H:%M')
            from load_runs order by load_id desc limit ?
            """,
            [RECENT_LOADS],
        ).fetchall(),
        "tables": counts,
        "dates": con.execute(
            """
            select location_id,
                   min(start_at)::date, max(start_at)::date, count(*)
            from raw_bookings group by location_id order by location_id
            """
        ).fetchall(),
        "rejected": con.execute(
            """
            select regexp_replace(reason, '''[^'']*''', '''…''', 'g') as reason_kind, count(*)
            from rejected_rows group by reason_kind order by count(*) desc, reason_kind
            """
        ).fetchall(),
        "locations": [
            row[0]
            for row in con.execute(
                "select location_id from raw_bookings union select location_id "
                "from raw_locations where location_id is not null order by 1"
            ).fetchall()
        ],
        "built_with": [
            row[0]
            for row in con.execute(
                "select settings_hash from mart_build_state"
                if "mart_build_state" in tables
                else "select null where false"
            ).fetchall()
        ],
        # what a load's "5 rejected" were: the newest loads' rows first, in line order
        "latest_rejected": con.execute(
            """
            select file_name, line_number, reason from rejected_rows
            order by load_id desc, line_number limit ?
            """,
            [RECENT_REJECTED],
        ).fetchall(),
        "quality": [],
    }
    if "dq_issues" in tables:
        report["quality"] = con.execute(
            "select kind, count(*) from dq_issues group by kind order by count(*) desc, kind"
        ).fetchall()
    return report


def print_status(db: Path) -> None:
    """Print loads, row counts, date ranges, rejected rows by reason and quality findings."""
    from pipelines.ingest.load import is_demo

    con = open_snapshot(db)
    try:
        report = warehouse_status(con)
        demo = is_demo(con)
    finally:
        con.close()
    print(f"warehouse {db}")
    if demo:
        print("holds only the built-in demo chain (made-up data)")
    print(f"\nlatest loads ({len(report['loads'])} shown):")
    for load_id, name, kind, fmt, read, loaded, rejected, finished in report["loads"]:
        print(
            f"  #{load_id} {finished} {name}: {kind} ({fmt}), "
            f"{read} read, {loaded} loaded, {rejected} rejected"
        )
    print("\nwhat is stored:")
    counts = dict(report["tables"])
    for table, words in STORED:
        if table in counts:
            print(f"  {words:<44} {counts[table]:>12,}")
    print("\nbookings per location:")
    for location, first, last, count in report["dates"]:
        print(f"  {location}: {first} to {last}, {count:,} booking{'s' * (count != 1)}")
    print("\nrejected rows by reason:" + ("" if report["rejected"] else " none"))
    for reason, count in report["rejected"]:
        print(f"  {count:>8,}  {reason}")
    if report["rejected"]:
        total = sum(count for _, count in report["rejected"])
        shown = len(report["latest_rejected"])
        print(f"\nlatest rejected rows ({shown} of {total:,}; fix them, then load the file again):")
        for file_name, line, reason in report["latest_rejected"]:
            print(f"  {file_name} line {line}: {reason}")
    print("\ndata-quality findings:" + ("" if report["quality"] else " none"))
    for kind, count in report["quality"]:
        print(f"  {count:>8,}  {kind}")
    problems = settings_problems(report["locations"], report["built_with"])
    print("\nsettings:" + ("" if problems else " fine"))
    for problem in problems:
        print(f"  {problem}")


def settings_problems(locations: list[str], built_with: list[str]) -> list[str]:
    """What is wrong with the settings file, in one line each: a file that does not load, one
    changed since the figures were built (`built_with`: the build's settings hash; the pages
    show the figures of the last build), or a [targets.<id>] table naming no location the
    warehouse has (ids match exactly, so L1 or l01 for L01 would show its targets on no page,
    silently)."""
    from pipelines.settings import SettingsError, load_settings, settings_path
    from pipelines.warehouse.build import build_fingerprint

    try:
        settings = load_settings()
    except SettingsError as error:
        return [str(error)]
    problems = []
    if built_with and built_with[0] != build_fingerprint(settings)[0]:
        where = settings_path() or "the default settings"
        problems.append(
            f"{where} changed since the figures were built: studio-ops rebuild applies it "
            "(so does the next load)"
        )
    unknown = sorted(
        {where for where, _, _ in settings.targets if where is not None} - set(locations)
    )
    return problems + [
        f"{settings_path()}: [targets.{where}] names no location of this warehouse (it has: "
        f"{', '.join(locations) or 'none'}); its targets show on no page"
        for where in unknown
    ]
