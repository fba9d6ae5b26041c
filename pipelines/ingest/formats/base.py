"""What every export adapter works with: the sniffed file it decides on, what it reads into,
and the one error a file that cannot be loaded raises.

The bottom of the formats package: it imports no other module of it, so every adapter, the
mapping file model (mapping.py) and the read context (common.py) can import it. The protocol
the adapters implement is in adapter.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.canonical import normalise
from pipelines.settings import Settings


class ExportError(ValueError):
    """A file that cannot be loaded at all; the message is one line and names the problem."""


@dataclass
class Sniff:
    """A file's container (by its bytes) and, for tables, its first rows."""

    path: Path
    container: str  # csv | xlsx | parquet | html | ics
    text_head: str = ""
    rows: list[list[str]] = field(default_factory=list)
    limits: Settings = field(default_factory=Settings)  # the file limits in force

    def header_row(self, *names: str) -> int | None:
        """Index in `rows` of the first row holding every one of `names` (normalised)."""
        wanted = {normalise(n) for n in names}
        for index, row in enumerate(self.rows):
            if wanted <= {normalise(c) for c in row if c}:
                return index
        return None

    @property
    def header(self) -> list[str]:
        return self.rows[0] if self.rows else []


@dataclass
class ExportRows:
    """What an adapter read: the kind, the format, and rows rejected before validation."""

    kind: str
    format: str
    table: str
    rows_read: int | None  # None: not known until the fast read's `table` is validated
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    # A fast read: `table` is a parenthesised SELECT taking these named parameters, and
    # `plain_records` is how many records it must give for its line numbers to be right.
    params: dict[str, object] = field(default_factory=dict)
    plain_records: int | None = None
    # The SQL of a row's raw text over `table` (computed for rejected rows only).
    raw_row: str = "raw_row"
    # False: `table` has no line_number; its rows are in file order and the checked table
    # numbers them by row id (a native CSV streamed straight from DuckDB's parser).
    numbered: bool = True
    # The same read with client_ids that are emails or phones hashed, as (table, params,
    # raw_row): a streamed read finds out only once checked whether it needs the salt.
    hashed: Callable[[], tuple[str, dict[str, object], str]] | None = None
    # An outcome report (a mapping's [outcome]): {"status": ..., "match": [...]}. Its rows
    # update the status of bookings already loaded (pipelines.ingest.load._match_outcomes).
    outcome: dict | None = None
    # canonical field -> the export's columns it is read from (`studio-ops inspect` shows it)
    columns: dict[str, list[str]] = field(default_factory=dict)
    # Rows that are not bookings (Jane's Never Booked, Vagaro's Personal Off staff blocks):
    # what they are -> how many; counted apart (rows_read = loaded + rejected + skipped).
    skipped: dict[str, int] = field(default_factory=dict)
    skip_why: str = ""
    # what a read of no rows at all is, in the file's words (skipped: nothing to load)
    empty_why: str = "the file has a header but no rows"
