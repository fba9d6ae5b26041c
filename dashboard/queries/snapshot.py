"""The published warehouse as the dashboard reads it: cached, location-scoped, parameterised.

The only module that touches pipelines' snapshot reader and dashboard.auth; each page's SQL sits
in its own module beside this one (today.py, capacity.py, ...) and runs through `query`.

Rules (readers never block the loader, scoping lives here, SQL takes parameters):
- Each query function takes the set of locations the viewer picked and filters on it in SQL,
  after intersecting it with the locations the signed-in user may see (`scope`), so a
  location named in the URL that the user may not see returns nothing.
- All values reach DuckDB as bound parameters; no user text is ever formatted into SQL.
- The published snapshot is read through one shared read-only connection per snapshot
  (pipelines.warehouse.snapshot.SnapshotReader), which a new publish replaces on the next query.
- Results are cached by the snapshot's path, mtime and size, so a newly published load shows
  up on the next rerun without restarting the app.
- Aggregation happens in DuckDB; only the aggregated rows come back.
- Before any page, the router removes a killed load's leftovers and, on first start, builds the
  demo (`remove_load_leftovers`, `ensure_warehouse`).
- Outside Streamlit (`studio-ops digest`), `acting_for(locations)` says whose locations the
  queries run for, in place of the signed-in viewer.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dashboard import auth
from pipelines.ingest.load import IS_DEMO_SQL, build_demo
from pipelines.settings import Settings, load_settings, shown_db_path
from pipelines.warehouse.snapshot import SnapshotReader
from pipelines.warehouse.store import WarehouseError, remove_leftovers

Locations = tuple[str, ...]


GRAINS = ("day", "week", "month")

# Whose locations the queries run for when no browser session is there to say (the daily digest
# runs every page query once per recipient). _VIEWER: the signed-in viewer decides (the app).
_VIEWER = object()
_ACTING_FOR: contextvars.ContextVar[object] = contextvars.ContextVar(
    "studio_ops_acting_for", default=_VIEWER
)


@contextmanager
def acting_for(locations: Locations | None) -> Iterator[None]:
    """Run the queries inside the block for someone who may see `locations` (None: every
    location), whoever is signed in, e.g. one recipient of the daily digest."""
    token = _ACTING_FOR.set(None if locations is None else tuple(sorted(locations)))
    try:
        yield
    finally:
        _ACTING_FOR.reset(token)


def allowed_locations() -> Locations | None:
    """The locations the queries may read (None: every location): those `acting_for` names,
    else the signed-in viewer's (dashboard.auth)."""
    acting = _ACTING_FOR.get()
    if acting is not _VIEWER:
        return acting  # type: ignore[return-value]
    return auth.allowed_locations()


@dataclass(frozen=True)
class Snapshot:
    """The published warehouse file, as a cache key: a new publish gives a new key."""

    path: str
    inode: int
    mtime_ns: int
    size: int


def snapshot() -> Snapshot:
    """The published warehouse as it is now (raises WarehouseError when there is none).

    The studio's own warehouse once it exists, else the demo (pipelines.settings.shown_db_path):
    `studio-ops init` switches the app to the studio's data on the next rerun."""
    path = shown_db_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise WarehouseError(
            f"{path}: no warehouse yet (start one with `studio-ops init`)"
        ) from None
    return Snapshot(str(Path(path).resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_size)


@st.cache_resource(show_spinner=False)
def _reader() -> SnapshotReader:
    """The process's one reader of published snapshots (shared by every session)."""
    return SnapshotReader()


# A query's parameters are hashed by their text: Streamlit's own hashing visits every item
# of a tuple, and a chain's 300 location ids, passed up to five times a query, made each
# cached query cost milliseconds on every rerun.
@st.cache_data(show_spinner=False, max_entries=512, hash_funcs={tuple: repr})
def _frame(snap: Snapshot, sql: str, params: tuple) -> pd.DataFrame:
    bound = [list(p) if isinstance(p, tuple) else p for p in params]
    try:
        return _reader().query(snap.path, snap, sql, bound)
    except (duckdb.BinderException, duckdb.CatalogException):
        # a column or table today's pages read is missing: marts built by an older studio-ops
        # (the next load rebuilds them, and so does `studio-ops rebuild`)
        raise WarehouseError(
            f"{Path(snap.path).name} was built by an older version of studio-ops: run "
            f"studio-ops rebuild --db {snap.path} (or load any export) to bring its figures "
            "up to date"
        ) from None
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WarehouseError(f"{Path(snap.path).name}: {first}") from None


def query(sql: str, *params: object) -> pd.DataFrame:
    """Run SQL with bound parameters on the published snapshot (cached per snapshot)."""
    return _frame(snapshot(), sql, tuple(params))


def scope(locations: Locations) -> tuple[str, ...]:
    """What the viewer picked, intersected with what the signed-in user may see."""
    chosen = {x for x in locations if isinstance(x, str)}
    allowed = allowed_locations()
    if allowed is not None:
        chosen &= set(allowed)
    return tuple(sorted(chosen))


def everything_allowed() -> bool:
    """True when the signed-in user may see every location (an owner, or an open app)."""
    return allowed_locations() is None


def locations() -> pd.DataFrame:
    """The locations the viewer may see: location_id and a display name."""
    allowed = allowed_locations()
    return query(
        """
        select location_id, display_name as location_name
        from dim_locations
        where ? or list_contains(?, location_id)
        order by location_name, location_id
        """,
        allowed is None,
        tuple(sorted(allowed or ())),
    )


def as_of_date() -> dt.date | None:
    """The day the data is complete through (rpt_as_of.as_of_date), or None when empty."""
    frame = query("select as_of_date from rpt_as_of")
    if frame.empty or pd.isna(frame.iloc[0, 0]):
        return None
    return pd.Timestamp(frame.iloc[0, 0]).date()


def date_bounds() -> tuple[dt.date, dt.date] | None:
    """The first and last day of the viewer's locations' location-day rows, or None."""
    allowed = allowed_locations()
    frame = query(
        """
        select min("date") as first_day, max("date") as last_day
        from fct_location_days
        where ? or list_contains(?, location_id)
        """,
        allowed is None,
        tuple(sorted(allowed or ())),
    )
    if frame.empty or pd.isna(frame.iloc[0, 0]):
        return None
    return pd.Timestamp(frame.iloc[0, 0]).date(), pd.Timestamp(frame.iloc[0, 1]).date()


def is_demo() -> bool:
    """True when the warehouse holds the generated demo chain and nothing loaded since."""
    return bool(query(IS_DEMO_SQL).iloc[0, 0])


def settings_in_force() -> Settings:
    """The settings the marts were built with (the warehouse `settings` table), else the file."""
    base = load_settings()
    try:
        frame = query("select * from settings limit 1")
        windows = query("select window_days from settings_retention_windows order by 1")
    except WarehouseError:
        return base
    if frame.empty:
        return base
    row = frame.iloc[0].to_dict()
    values: dict[str, object] = {}
    for name in base.as_rows():
        if name in row and not pd.isna(row[name]):
            values[name] = int(row[name])
    if isinstance(row.get("currency_symbol"), str):
        values["currency_symbol"] = row["currency_symbol"]
    if len(windows):
        values["retention_windows_days"] = tuple(int(v) for v in windows["window_days"])
    return dataclasses.replace(base, **values)


def has_column(table: str, column: str) -> bool:
    """Whether the published warehouse has `table.column` (columns other engineers add land
    one load at a time: a warehouse built before them has none)."""
    frame = query(
        """
        select count(*) as found
        from information_schema.columns
        where table_name = ? and column_name = ?
        """,
        table,
        column,
    )
    return bool(frame.iloc[0, 0])


def history_start(locations: Locations) -> pd.DataFrame:
    """Per location whose new clients are counted from later than its data starts: the first
    booking day and new_clients_from (dim_locations; no rows before those columns exist)."""
    if not (
        has_column("dim_locations", "new_clients_from")
        and has_column("dim_locations", "first_booking_date")
    ):
        return pd.DataFrame(columns=["location_name", "first_booking_date", "new_clients_from"])
    return query(
        """
        select
            display_name as location_name,
            first_booking_date,
            new_clients_from
        from dim_locations
        where list_contains(?, location_id) and new_clients_from > first_booking_date
        order by location_name
        """,
        scope(locations),
    )


def warehouse_path() -> Path:
    """The warehouse the dashboard shows (the Setup page keeps the profile file beside it)."""
    return Path(snapshot().path)


@st.cache_resource(show_spinner=False)
def _remove_load_leftovers(db: str) -> bool:
    """Once per process and warehouse: remove a killed load's copy and spill (raw client rows)."""
    return remove_leftovers(db)


def remove_load_leftovers() -> None:
    """Before any page: a killed load's leftovers (they hold raw client rows) are removed."""
    _remove_load_leftovers(str(shown_db_path()))


def ensure_warehouse() -> None:
    """The studio's own warehouse once `studio-ops init` made it, else the demo in its own file,
    built on first start; the two never mix (pipelines.ingest.load refuses the mix)."""
    shown = shown_db_path()
    if not shown.exists():
        with st.spinner(
            "First run: building a demo chain of three studios so you can look around…"
        ):
            build_demo(shown)
