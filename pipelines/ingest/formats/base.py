"""What every export adapter is: the Adapter protocol, the sniffed file it decides on, what
it reads into, and the one error a file that cannot be loaded raises.

An adapter is a module (acuity.py, calendly.py, fresha.py, ics.py, jane.py, mapped.py,
mindbody.py, square.py, vagaro.py) with a `NAME` and two functions, `detect` and `read`;
pipelines.ingest.formats.read_export asks each in turn whether it knows the file, and the
first that does reads it. The native format (native.py) is tried last, by its header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pipelines.canonical import normalise
from pipelines.settings import Settings

if TYPE_CHECKING:  # for the protocol's types only: common and mapped import this module
    from pipelines.ingest.formats.common import Context
    from pipelines.ingest.formats.mapped import Mapping


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
    # An outcome report (a mapping's [outcome]): {"status": ..., "match": [...]}. Its rows
    # update the status of bookings already loaded (pipelines.ingest.load._match_outcomes).
    outcome: dict | None = None
    # canonical field -> the export's columns it is read from (`studio-ops inspect` shows it)
    columns: dict[str, list[str]] = field(default_factory=dict)
    # Rows that are not bookings (Jane's Never Booked, Vagaro's Personal Off staff blocks):
    # what they are -> how many; counted apart (rows_read = loaded + rejected + skipped).
    skipped: dict[str, int] = field(default_factory=dict)
    skip_why: str = ""


class Adapter(Protocol):
    """A booking system's export reader (one module per booking system implements it)."""

    NAME: str  # the vendor's name, as mapping files and `[source]` spell it

    def detect(self, sniff: Sniff, mapping: Mapping | None) -> bool:
        """Whether this file is this booking system's export, judged by its content only
        (container, header, first rows), never its name; `mapping` is the mapping in force."""
        ...

    def read(self, sniff: Sniff, ctx: Context) -> ExportRows:
        """Read the file into temp table `ctx.target` of canonical booking columns as text
        (plus `line_number` and `raw_row`), client details already keys; raise ExportError
        (one line) for a file that cannot be loaded at all."""
        ...
