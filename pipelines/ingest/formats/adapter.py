"""The Adapter protocol: what every export adapter is.

An adapter is a module (acuity.py, calendly.py, fresha.py, ics.py, jane.py, mapped.py,
mindbody.py, square.py, vagaro.py) with a `NAME` and two functions, `detect` and `read`;
pipelines.ingest.formats.read_export asks each in turn whether it knows the file, and the
first that does reads it. The native format (native.py) is tried last, by its header.

Apart from base.py because its types come from above base: the read context (common.py) and
the mapping file (mapping.py) both import base. Nothing imports this module but the test that
checks every adapter against it.
"""

from __future__ import annotations

from typing import Protocol

from pipelines.ingest.formats.base import ExportRows, Sniff
from pipelines.ingest.formats.common import Context
from pipelines.ingest.formats.mapping import Mapping


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
