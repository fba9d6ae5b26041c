"""Export formats: recognise a file by its content and read it into canonical text rows.

Every adapter ends in the same place: a temp table of canonical columns as text (plus
`line_number` and `raw_row`), which pipelines.ingest.validate then types and checks. Everything
downstream of that table is shared by all formats.

`read_export` is a small registry: each vendor adapter (one module each) looks at the file's
content (magic bytes, an HTML table, BEGIN:VCALENDAR, header fields) in a fixed order; the
native format is tried last, through its fast DuckDB CSV path. File names are never consulted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipelines.ingest import pii
from pipelines.ingest.formats import native
from pipelines.ingest.formats.base import ExportError, ExportRows
from pipelines.ingest.formats.common import Context, sniff
from pipelines.ingest.formats.mapped import (
    SAMPLE_ROWS,
    choose_mapping,
    columns_needed,
    mapping_files,
    saved_for,
    saved_mapping,
    unfit_mapping,
)
from pipelines.ingest.formats.mapping import load_mapping
from pipelines.ingest.formats.needs import MappingNeeded
from pipelines.ingest.formats.tabular import (
    csv_cells,
    plain_record_count,
    read_header,
    read_table,
)

# The vendor adapters in detection order (the most specific signatures first). Imported when
# first needed: ics pulls in icalendar, dateutil and recurring-ical-events, which `studio-ops
# inspect` of a native file never needs; a load imports them while the warehouse is copied.
ADAPTER_MODULES = tuple(
    f"pipelines.ingest.formats.{name}"
    for name in "ics mindbody acuity calendly fresha vagaro square jane mapped".split()
)


def _adapters():
    """Vendor adapters in detection order (ADAPTER_MODULES)."""
    return tuple(importlib.import_module(name) for name in ADAPTER_MODULES)


def read_export(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    target: str,
    location: str | None = None,
    mapping=None,
    salt: Callable[[], str] | None = None,
    fast: bool = True,
    limits=None,
    mappings: Path | None = None,
) -> ExportRows:
    """Read `path` into temp table `target` of canonical text rows, or raise ExportError.

    `mapping` is a parsed pipelines.ingest.formats.mapping.Mapping, a path to a mapping file, a list
    of mapping files and folders (each file takes the one that fits it: mapped.choose_mapping),
    or None.
    `salt` returns the client-key salt (pipelines.ingest.pii); only vendor files with client PII
    call it.
    `fast` lets a native CSV take the fast path: DuckDB's parallel parser, its line numbers
    checked by the caller (see ExportRows); False forces the careful reader. `limits` is the
    Settings whose file limits apply (None: the defaults). `mappings` is the folder of saved
    mappings (pipelines.ingest.formats.mapped.saved_mapping): without `mapping`, a vendor export
    takes its vendor's saved mapping, and a table no format knows a saved generic one that fits it.
    """
    given = None  # several mapping files (--mapping given more than once, or a folder)
    if isinstance(mapping, list | tuple):
        given = [load_mapping(m) for m in mapping_files(list(mapping))]
        mapping = None
    elif mapping is not None and not hasattr(mapping, "columns"):
        mapping = load_mapping(mapping)
    sniffed = sniff(path, limits)
    if given is not None:
        vendor = _vendor_of(sniffed, given)
        if vendor is not None:
            # the mappings with which its adapter knows the file (one whose [headers] rename
            # an Italian Fresha export's columns; any, for an export in English)
            adapter = importlib.import_module(f"pipelines.ingest.formats.{vendor}")
            given = [m for m in given if adapter.detect(sniffed, m)] or given
        mapping = choose_mapping(given, sniffed, vendor)
    if mapping is None and mappings is not None:
        mapping = _saved_mapping(sniffed, mappings)
    if salt is None:
        salt = pii.env_salt
    context = Context(
        con=con, target=target, location=location, mapping=mapping, salt=salt, limits=limits
    )
    for adapter in _adapters():
        if adapter.detect(sniffed, mapping):
            try:
                return adapter.read(sniffed, context)
            except MappingNeeded as need:
                if not need.header and not need.sample and sniffed.rows:
                    # the file's first rows, for the questions they raise (needs.py: prices
                    # written with a decimal comma)
                    need.header = list(sniffed.header)
                    need.sample = [list(r) for r in sniffed.rows[1 : 1 + SAMPLE_ROWS]]
                raise
    if native.detect(sniffed.header) is None:
        # a generic mapping was given but fits no header here: say which of its columns the
        # file lacks, rather than that the header matches no known export
        unfit = unfit_mapping(given if given is not None else [mapping], sniffed)
        if unfit is not None:
            raise unfit
    if sniffed.container == "html":
        raise ExportError(
            "an HTML page that is not a report this loader knows (expected a Mindbody "
            "appointment export: one table per staff member)"
        )
    return _read_native(
        path, con, target, location, fast and sniffed.container == "csv", sniffed.limits, salt
    )


def accepting_formats(sniffed, mapping=None) -> list[str]:
    """Every format that would accept the sniffed file, in the order `read_export` tries them
    (the first one reads it): adapter names, then `native-<kind>` when the header is a native
    export's. `studio-ops inspect` shows the runner-up."""
    found = [adapter.NAME for adapter in _adapters() if adapter.detect(sniffed, mapping)]
    if sniffed.container in ("csv", "xlsx") and sniffed.rows:
        kind = native.detect(sniffed.header)
        if kind is not None:
            found.append(f"native-{kind.name}")
    return found


def _vendor_of(sniffed, mappings=()) -> str | None:
    """The booking system whose export the file is, by content (None: any other table); an
    export whose columns a mapping's [headers] rename (Fresha in Italian) counts too."""
    renaming = [m for m in mappings if m.headers]
    for adapter in _adapters()[:-1]:  # the last, mapped, needs a mapping to detect anything
        if adapter.detect(sniffed, None) or any(adapter.detect(sniffed, m) for m in renaming):
            return adapter.NAME
    return None


def _saved_mapping(sniffed, folder: Path):
    """The saved mapping of the file's vendor; for a table no format knows (not a native
    export either), a saved generic mapping whose columns its header holds."""
    for adapter in _adapters()[:-1]:  # the last, mapped, needs a mapping to detect anything
        if adapter.detect(sniffed, None):
            return saved_mapping(folder, adapter.NAME, sniffed)
    for adapter in _adapters()[:-1]:
        # an export its adapter knows only through a saved mapping's [headers] (Fresha in
        # another language, as the Data page saves it)
        renaming = [
            m
            for m in map(load_mapping, saved_for(folder, adapter.NAME))
            if m.headers and adapter.detect(sniffed, m)
        ]
        if len(renaming) == 1:
            return renaming[0]
        if renaming:
            return saved_mapping(folder, adapter.NAME, sniffed)  # several: says so
    if sniffed.container in ("csv", "xlsx") and native.detect(sniffed.header) is None:
        return saved_mapping(folder, None, sniffed)
    return None


def _read_native(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    target: str,
    location: str | None,
    fast: bool,
    limits,
    salt: Callable[[], str],
) -> ExportRows:
    header = read_header(path, limits)
    if not any(cell for cell in header):
        raise ExportError("the first line is empty; expected a header row")
    kind = native.detect(header)
    if kind is None:
        # a table of another booking system: the Data page asks which column is which
        raise columns_needed(
            "the header matches no known export "
            f"({native.closest_kind_hint(header)}; see docs/exports.md)",
            path,
            header,
            limits,
        )
    if fast:
        # The fast path: DuckDB's parser streams the cells in parallel straight into
        # validation, which types and checks them in the same pass (no table of text cells).
        # A malformed record fails that pass: the caller then takes the careful path, which
        # says which row. The rows are numbered once checked (ExportRows.numbered).
        plain_records = plain_record_count(path, limits)  # refuses an overlong line first
        cells, params = csv_cells(path, header, limits)

        def read(hashing: bool) -> tuple[str, dict[str, object], str]:
            # client_ids that are emails or phones are hashed; only then is the salt needed
            given = {**params, "location": location, **({"salt": salt()} if hashing else {})}
            select = native.canonical_select(cells, header, kind, True, hashing, numbered=False)
            return select, given, native.raw_row_expression(header, kind, hashing)

        table, given, raw_row = read(False)
        return ExportRows(
            kind=kind.name,
            format="native-csv",
            table=table,
            rows_read=None,
            params=given,
            plain_records=plain_records,
            raw_row=raw_row,
            numbered=False,
            hashed=(lambda: read(True)) if native.client_cell(header, kind) is not None else None,
        )
    table = read_table(path, con, f"{target}_text", limits)
    hashing = native.has_contact_client_ids(con, table.name, table.header, kind)
    native.to_canonical(con, table, kind, target, location, salt() if hashing else None)
    con.execute(f"drop table {target}_text")
    return ExportRows(
        kind=kind.name,
        format=f"native-{table.container}",
        table=target,
        rows_read=table.rows_read,
        # a row of the wrong width: its cells cannot be told apart, so all are masked by shape
        rejects=pii.mask_rejects(table.rejects),
    )


def is_profile(path: Path) -> bool:
    """Whether `path` is a studio profile (pipelines.profile), by its content: a TOML file
    with [[location]] tables. Profiles are loaded by pipelines.ingest.load, not read as exports."""
    from pipelines.profile import PROFILE_HEAD_BYTES, starts_like_profile

    with open(path, "rb") as handle:
        return starts_like_profile(handle.read(PROFILE_HEAD_BYTES))


__all__ = ["ExportError", "ExportRows", "is_profile", "read_export"]
