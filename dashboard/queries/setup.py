"""The Setup page's queries: the stored studio profile and a suggested one (owners only)."""

from __future__ import annotations

from dashboard.queries.snapshot import everything_allowed, query, warehouse_path
from pipelines.profile import Profile, parse_profile
from pipelines.warehouse.store import WarehouseError


def stored_profile() -> Profile | None:
    """The studio profile loaded last (table studio_profile, the latest row wins), or None.

    Owners only (the Setup page): a profile describes every location. A warehouse built before
    profiles existed has no such table, which is the same as no profile.
    """
    exists = query(
        "select count(*) from duckdb_tables() where table_name = 'studio_profile' "
        "and not temporary and ?",
        everything_allowed(),
    )
    if not exists.iloc[0, 0]:
        return None
    frame = query(
        """
        select profile_toml, file_name
        from studio_profile
        order by loaded_at desc, rowid desc
        limit 1
        """
    )
    if frame.empty:
        return None
    return parse_profile(frame.iloc[0, 0], frame.iloc[0, 1])


def profile_suggestion() -> str:
    """A profile proposed from the loaded data, as TOML with comments saying what was guessed
    (pipelines.profile.suggest, like `studio-ops profile suggest`); owners only. ProfileError
    when nothing is loaded yet."""
    from pipelines.profile import suggest
    from pipelines.warehouse.snapshot import open_snapshot

    if not everything_allowed():
        raise WarehouseError("a suggested profile describes every location: owners only")
    con = open_snapshot(warehouse_path())  # read-only, closed at once: one click, no cache
    try:
        return suggest(con)
    finally:
        con.close()
