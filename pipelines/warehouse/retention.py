"""Marts whose shape depends on settings, built in Python after the SQL marts.

`rpt_retention` has one `eligible_N` / `returned_N` column pair per configured retention
window, so its column list cannot be fixed SQL text. It is pivoted from the long table
`rpt_retention_long` (sql/marts) with conditional aggregates. Only validated whole numbers are
formatted into the SQL; no user text is.
"""

from __future__ import annotations

import duckdb

from pipelines.settings import Settings


def build_settings_marts(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Build the marts whose columns depend on settings (run after the SQL marts)."""
    con.execute(retention_sql(settings.retention_windows_days))


def retention_sql(windows: tuple[int, ...]) -> str:
    """The `rpt_retention` statement: one eligible/returned pair per window, in window order."""
    days = sorted({int(window) for window in windows})
    if not days or any(window <= 0 for window in days):
        raise ValueError(f"retention windows must be whole days > 0, got {windows!r}")
    pairs = ",\n".join(
        f"        cast(coalesce(sum(eligible) filter (where window_days = {n}), 0) as integer)"
        f" as eligible_{n},\n"
        f"        cast(coalesce(sum(returned) filter (where window_days = {n}), 0) as integer)"
        f" as returned_{n}"
        for n in days
    )
    return f"""
create or replace table rpt_retention as

with

retention_long as (
    select * from rpt_retention_long
),

final as (
    select
        -- ids
        cohort_month,
        location_id,

        -- cohort size (the same in every window's rows)
        cast(sum(new_clients) filter (where window_days = {days[0]}) as integer) as new_clients,

        -- one pair per retention window
{pairs},
    from retention_long
    group by cohort_month, location_id
)

select * from final
"""
