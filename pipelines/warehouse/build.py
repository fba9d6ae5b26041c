"""The mart build: staging views and marts from the raw tables, checked before publishing.

`build_marts` runs inside `store.building`: a full build runs every model in dependency order
(pipelines.warehouse.models); an incremental one refreshes what the load changed
(pipelines.warehouse.incremental). Then the settings-shaped `rpt_retention`
(pipelines.warehouse.retention) and the data tests of sql/checks.
"""

from __future__ import annotations

import hashlib
import json

import duckdb

from pipelines.settings import Settings
from pipelines.warehouse import rooms
from pipelines.warehouse.incremental import can_refresh, refresh_marts
from pipelines.warehouse.models import (
    INCREMENTAL_LINE,
    MODEL_FOLDERS,
    model_scripts,
    run_script,
    staging_scripts,
)
from pipelines.warehouse.retention import build_settings_marts, retention_sql
from pipelines.warehouse.store import SQL_DIR, DataQualityError, timed


def write_settings(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Store the settings in force as tables the mart SQL reads (no values in SQL text)."""
    row = settings.as_rows()
    columns = ", ".join(f"{name} integer" for name in row)
    con.execute(f"create or replace table settings ({columns}, currency_symbol varchar)")
    placeholders = ", ".join("?" for _ in row)
    con.execute(
        f"insert into settings values ({placeholders}, ?)",
        [*row.values(), settings.currency_symbol],
    )
    con.execute("create or replace table settings_bar_keywords (keyword varchar)")
    con.executemany(
        "insert into settings_bar_keywords values (?)",
        [[word.lower()] for word in settings.bar_service_keywords],
    )
    con.execute("create or replace table settings_retention_windows (window_days integer)")
    con.executemany(
        "insert into settings_retention_windows values (?)",
        [[days] for days in settings.retention_windows_days],
    )


def build_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """Build staging views and mart tables from the raw tables, check them; return the mode.

    A full build ('full') runs every script as written. An incremental build ('incremental')
    refreshes only what the load's change log (pipelines.ingest.load: temp tables
    `changed_location_days`, `changed_clients`) touched: the same scripts run with their
    `--incremental:` lines switched on, which semi-join their inputs to scope tables, and their
    rows replace the rows of the scope's keys (ADJUSTED marts instead add the changed clients'
    counts to the table as it was and subtract their counts before the load). It runs when the
    marts exist, were built with the same settings and SQL (`mart_build_state`), and the change
    covers at most INCREMENTAL_MAX_SHARE of the location-days.
    """
    write_settings(con, settings)
    rooms.register(con)  # assign_rooms(), which int_booking_rooms calls
    # No mart relies on the order its rows are stored in unless its SQL says ORDER BY, and
    # letting DuckDB write rows in any order takes 2-4 s off each of the biggest marts at
    # 10M bookings (the CSV reader sets it back for its line numbers).
    con.execute("set preserve_insertion_order = false")
    fingerprint = build_fingerprint(settings)
    mode = "full"
    with timed("can the marts be refreshed"):
        refreshable = can_refresh(con, fingerprint)
    if refreshable:
        mode = refresh_marts(con)
    if mode == "full":
        for script in staging_scripts(con):
            run_script(con, script)
        for script in model_scripts(con):
            run_script(con, script)
    with timed("rpt_retention"):
        build_settings_marts(con, settings)
    check_marts(con, incremental=mode == "incremental")
    con.execute(
        "create or replace table mart_build_state as "
        "select ? as settings_hash, ? as sql_hash, ? as mode, now()::timestamp as built_at",
        [*fingerprint, mode],
    )
    return mode


def build_fingerprint(settings: Settings) -> tuple[str, str]:
    """Hashes of the settings the marts read and of the SQL that builds and checks them."""
    used = {
        **settings.as_rows(),
        "currency_symbol": settings.currency_symbol,
        "bar_service_keywords": sorted(word.lower() for word in settings.bar_service_keywords),
        "retention_windows_days": sorted(set(settings.retention_windows_days)),
    }
    settings_hash = hashlib.sha256(json.dumps(used, sort_keys=True).encode()).hexdigest()
    sql = hashlib.sha256()
    for folder in ("staging", *MODEL_FOLDERS, "checks"):
        for script in sorted((SQL_DIR / folder).glob("*.sql")):
            sql.update(f"{folder}/{script.name}\n".encode() + script.read_bytes())
    sql.update(retention_sql(settings.retention_windows_days).encode())
    return settings_hash, sql.hexdigest()


def check_marts(con: duckdb.DuckDBPyConnection, incremental: bool = False) -> None:
    """Run the data tests in sql/checks (queries returning offending rows) before publishing.

    After an incremental build their `--incremental:` lines restrict them to the refreshed
    keys (the rest of each mart was checked when it was built)."""
    for script in sorted((SQL_DIR / "checks").glob("*.sql")):
        text = script.read_text()
        if incremental:
            text = INCREMENTAL_LINE.sub(r"\1", text)
        with timed(f"check {script.stem}"):
            rows = con.execute(text).fetchall()
        if rows:
            raise DataQualityError(f"{script.stem}: {len(rows)} offending rows, first {rows[0]}")
