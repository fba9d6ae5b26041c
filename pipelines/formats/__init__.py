"""Export formats: recognise a file by its content and read it into canonical text rows.

Every adapter ends in the same place: a temp table of canonical columns as text (plus
`line_number` and `raw_row`), which pipelines.validate then types and checks. Everything
downstream of that table is shared by all formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.formats import native
from pipelines.formats.tabular import ExportError, read_header, read_table


@dataclass
class ExportRows:
    """What an adapter read: the kind, the format, and rows rejected before validation."""

    kind: str
    format: str
    table: str
    rows_read: int
    rejects: list[tuple[int, str, str]] = field(default_factory=list)


def read_export(
    path: Path, con: duckdb.DuckDBPyConnection, target: str, location: str | None = None
) -> ExportRows:
    """Read `path` into temp table `target` of canonical text rows, or raise ExportError."""
    header = read_header(path)
    if not any(cell for cell in header):
        raise ExportError("the first line is empty; expected a header row")
    kind = native.detect(header)
    if kind is None:
        raise ExportError(
            "the header matches no known export "
            f"({native.closest_kind_hint(header)}; see EXPORTS.md)"
        )
    table = read_table(path, con, f"{target}_text")
    native.to_canonical(con, table, kind, target, location)
    con.execute(f"drop table {target}_text")
    return ExportRows(
        kind=kind.name,
        format=f"native-{table.container}",
        table=target,
        rows_read=table.rows_read,
        rejects=table.rejects,
    )


__all__ = ["ExportError", "ExportRows", "read_export"]
