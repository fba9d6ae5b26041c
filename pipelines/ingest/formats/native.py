"""The native export format (docs/exports.md): one file per kind, recognised by its header.

Column names match case-insensitively, ignoring spaces and underscores. The adapter maps the
file's columns by position onto the canonical names of its kind; columns it does not know are
ignored, and optional columns that are absent become NULL.
"""

from __future__ import annotations

import duckdb

from pipelines.canonical import KINDS, Kind, normalise
from pipelines.ingest import pii
from pipelines.ingest.formats.tabular import Table


def column_positions(header: list[str], kind: Kind) -> dict[str, int]:
    """Canonical column -> position in the header (the first match wins)."""
    wanted = {normalise(c): c for c in kind.columns}
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        canonical = wanted.get(normalise(name))
        if canonical and canonical not in positions:
            positions[canonical] = index
    return positions


def detect(header: list[str]) -> Kind | None:
    """The kind whose required columns the header has (most specific kind first)."""
    for name in ("bookings", "therapist_shifts", "rooms", "locations"):
        kind = KINDS[name]
        present = column_positions(header, kind)
        if all(c in present for c in kind.required) and (
            not kind.one_of or any(c in present for c in kind.one_of)
        ):
            return kind
    return None


def closest_kind_hint(header: list[str]) -> str:
    """Say which kind the header resembles most and which required columns it lacks."""
    best, missing = None, None
    for kind in KINDS.values():
        present = column_positions(header, kind)
        lacking = [c for c in kind.required if c not in present]
        if kind.one_of and not any(c in present for c in kind.one_of):
            lacking.append(" or ".join(kind.one_of))
        if missing is None or len(lacking) < len(missing):
            best, missing = kind, lacking
    return f"closest is {best.name}, which also needs {', '.join(missing)}"


def canonical_select(
    source: str,
    header: list[str],
    kind: Kind,
    keep_cells: bool = False,
    hash_contacts: bool = False,
    numbered: bool = True,
) -> str:
    """A SELECT of canonical text columns (plus line_number, raw_row) over `source`.

    `source` is a table name or a parenthesised SELECT with columns line_number, c0, c1, ...
    Blank cells become NULL; the parameter `$location` fills a missing or blank location_id.
    With `keep_cells`, the cells the kind reads are passed through instead of raw_row, so that
    validation builds the raw text (`raw_row_expression`) of rejected rows only. With
    `hash_contacts`, a client_id that is an email address or a phone number becomes its client
    key (pipelines.ingest.pii, salted with the parameter `$salt`), as a vendor export's client
    would. Without `numbered`, `source` has no line_number and the SELECT gives none.
    """
    positions = column_positions(header, kind)
    selects = ["line_number"] if numbered else []
    for column in kind.columns:
        if column in positions:
            # trimmed only on a row that may need it (trim copies every cell it is given)
            cell = f"c{positions[column]}"
            expression = f"nullif(case when cells_spaced then trim({cell}) else {cell} end, '')"
        else:
            expression = "cast(null as varchar)"
        if column == "location_id":
            expression = f"coalesce({expression}, $location)"
        if column == "client_id" and hash_contacts and column in positions:
            expression = pii.contact_key_sql(expression, "$salt")
        if column == "client_ref" and column in positions:
            # a name, email or phone is never stored as a reference
            expression = pii.client_ref_sql(expression)
        selects.append(f"{expression} as {column}")
    if keep_cells:
        selects.extend(f"c{i}" for i in sorted(positions.values()))
    else:
        selects.append(f"{raw_row_expression(header, kind, hash_contacts)} as raw_row")
    return f"(select {', '.join(selects)} from {_with_spaced(source, positions)})"


def _with_spaced(source: str, positions: dict[str, int]) -> str:
    """`source` with `cells_spaced`: true on a row where trimming may change a cell it reads.

    DuckDB's trim removes spaces, ASCII and Unicode (U+00A0, U+3000, ...), from both ends. A
    cell can lose some only if it starts or ends with a space, or holds a character beyond
    ASCII (its length in characters then differs from its length in bytes). The cells are
    joined with commas once per row and tested together: at 10M bookings that costs about
    1.4 s less CPU than trimming every cell. A false alarm (a comma then a space inside a
    cell, say) only trims that row's cells, which is always right."""
    if not positions:
        return f"(select *, false as cells_spaced from {source})"
    cells = ", ".join(f"c{i}" for i in sorted(positions.values()))
    return (
        "(select *, strlen(cells_line) <> length(cells_line) or cells_line ^@ ' ' "
        "or suffix(cells_line, ' ') or contains(cells_line, ' ,') "
        "or contains(cells_line, ', ') as cells_spaced "
        f"from (select *, concat_ws(',', {cells}) as cells_line from {source}))"
    )


def client_cell(header: list[str], kind: Kind) -> int | None:
    """Position of the client_id column (bookings only), the one native column that may hold
    a client's email or phone."""
    return column_positions(header, kind).get("client_id")


def raw_row_expression(header: list[str], kind: Kind, hash_contacts: bool = False) -> str:
    """The raw text of a record, kept for rejected_rows: only the cells this kind reads, so
    that an extra column (a client's email, say) never reaches the warehouse; with
    `hash_contacts`, a client_id that is an email or phone shows as its key, as it is stored,
    and a client_ref that is not kept is masked."""
    read = sorted(column_positions(header, kind).values())
    client = client_cell(header, kind)
    ref = column_positions(header, kind).get("client_ref") if kind.name == "bookings" else None
    cells = []
    for i in read:
        cell = f"c{i}"
        if i == client and hash_contacts:
            cell = pii.contact_key_sql(f"trim({cell})", "$salt")
        if i == ref:  # a client_ref that is not kept shows masked ([email], [phone], [text])
            cell = pii.client_ref_raw_sql(f"nullif(trim({cell}), '')")
        cells.append(f"coalesce({cell}, '')")
    return " || ',' || ".join(cells) or "''"


def has_contact_client_ids(con: duckdb.DuckDBPyConnection, table: str, header, kind) -> bool:
    """Whether any client_id cell of `table` (c0, c1, ...) is an email address or a phone
    number, so that the salt is asked for (and its file created) only when it is needed."""
    client = client_cell(header, kind)
    if client is None:
        return False
    cell = f"c{client}"
    return con.execute(
        f"select exists (select 1 from {table} where {pii.contact_shaped_sql(cell)})"
    ).fetchone()[0]


def to_canonical(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    kind: Kind,
    target: str,
    location: str | None,
    salt: str | None = None,
) -> None:
    """Create temp table `target` (line_number, canonical columns as text) from a read table;
    with a `salt`, contact-shaped client_ids become client keys (canonical_select)."""
    select = canonical_select(table.name, table.header, kind, hash_contacts=salt is not None)
    params = {"location": location} if salt is None else {"location": location, "salt": salt}
    con.execute(f"create or replace temp table {target} as select * from {select}", params)
