"""The canonical model: the kinds of rows a studio loads, their columns, keys and statuses.

Every stage reads this one definition: the native format's headers (ingest.formats.native), the
validator's typed columns (ingest.validate), the loader's keys (ingest.load), the demo
generator's headers (demo.generate, checked by a test) and the raw tables of
sql/raw/001_tables.sql (checked by a test against a fresh warehouse).

A kind has two column lists:
- `columns`: what an export file of the kind may hold, in the native format's order
  (docs/exports.md). `required` must be in its header, and at least one of `one_of`. Left
  out, it is the raw columns an export fills (only bookings' files differ from their table).
- `raw`: what the raw table stores, in its order, with the DuckDB type and whether it is NOT
  NULL. A file's `duration_minutes` becomes `end_at`, and the export's own status word is kept
  beside the canonical one (`status_word`); `opened_on` comes from the studio profile, not a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One raw-table column: its name, DuckDB type, and whether every row has a value."""

    name: str
    type: str
    not_null: bool = False
    # False: filled by the studio profile, never by an export (raw_locations.opened_on)
    from_export: bool = True


@dataclass(frozen=True)
class Kind:
    """One export kind: its export columns, which the header must have, raw columns, key."""

    name: str
    required: tuple[str, ...]
    columns: tuple[str, ...] = ()
    # Columns of which at least one must be present (e.g. end_at or duration_minutes).
    one_of: tuple[str, ...] = ()
    raw: tuple[Column, ...] = ()
    # The natural key: loading a row with a stored key replaces that row (loads are idempotent)
    key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.columns:
            object.__setattr__(self, "columns", tuple(self.typed_columns()))

    @property
    def raw_table(self) -> str:
        return f"raw_{self.name}"

    def typed_columns(self) -> list[str]:
        """The raw columns a load fills from an export (ingest.validate's typed columns)."""
        return [c.name for c in self.raw if c.from_export]


# Every raw table ends with these: which load stored the row, and its line in that file.
LINEAGE: tuple[Column, ...] = (
    Column("load_id", "BIGINT", not_null=True),
    Column("line_number", "BIGINT", not_null=True),
)

# location_id is not required in the header: `--location` supplies it for exports without it.
KINDS: dict[str, Kind] = {
    "bookings": Kind(
        "bookings",
        columns=(
            "source",
            "booking_id",
            "location_id",
            "room_id",
            "therapist_id",
            "client_id",
            "client_ref",
            "service",
            "uses_bars",
            "start_at",
            "end_at",
            "duration_minutes",
            "status",
            "created_at",
            "cancelled_at",
            "price",
        ),
        required=("booking_id", "therapist_id", "client_id", "service", "start_at", "status"),
        one_of=("end_at", "duration_minutes"),
        raw=(
            Column("source", "VARCHAR", not_null=True),
            Column("booking_id", "VARCHAR", not_null=True),
            Column("location_id", "VARCHAR", not_null=True),
            Column("room_id", "VARCHAR"),
            Column("therapist_id", "VARCHAR", not_null=True),
            Column("client_id", "VARCHAR", not_null=True),
            # the booking system's own client id or code, never a name, email or phone
            # (pipelines.ingest.pii.client_ref_sql); NULL when the export carries none
            Column("client_ref", "VARCHAR"),
            Column("service", "VARCHAR", not_null=True),
            Column("uses_bars", "BOOLEAN"),
            Column("status", "VARCHAR", not_null=True),
            Column("status_word", "VARCHAR"),
            Column("price", "DECIMAL(12,2)"),
            Column("start_at", "TIMESTAMP", not_null=True),
            Column("end_at", "TIMESTAMP", not_null=True),
            Column("created_at", "TIMESTAMP"),
            Column("cancelled_at", "TIMESTAMP"),
        ),
        key=("source", "booking_id"),
    ),
    "rooms": Kind(
        "rooms",
        required=("date", "room_id", "has_bars", "opens_at", "closes_at"),
        raw=(
            Column("date", "DATE", not_null=True),
            Column("location_id", "VARCHAR", not_null=True),
            Column("room_id", "VARCHAR", not_null=True),
            Column("room_name", "VARCHAR"),
            Column("has_bars", "BOOLEAN", not_null=True),
            Column("opens_at", "TIME", not_null=True),
            Column("closes_at", "TIME", not_null=True),
            Column("blocked_minutes", "INTEGER", not_null=True),
        ),
        key=("location_id", "room_id", "date"),
    ),
    "therapist_shifts": Kind(
        "therapist_shifts",
        required=("date", "therapist_id", "bar_trained", "shift_start", "shift_end"),
        raw=(
            Column("date", "DATE", not_null=True),
            Column("location_id", "VARCHAR", not_null=True),
            Column("therapist_id", "VARCHAR", not_null=True),
            Column("therapist_name", "VARCHAR"),
            Column("bar_trained", "BOOLEAN"),  # NULL: unknown (no file says), never "no"
            Column("shift_start", "TIME", not_null=True),
            Column("shift_end", "TIME", not_null=True),
            Column("break_minutes", "INTEGER", not_null=True),
        ),
        key=("location_id", "therapist_id", "date", "shift_start"),
    ),
    "locations": Kind(
        "locations",
        required=("location_id", "name"),
        raw=(
            Column("location_id", "VARCHAR", not_null=True),
            Column("name", "VARCHAR"),
            Column("timezone", "VARCHAR"),
            Column("opened_on", "DATE", from_export=False),
        ),
        key=("location_id",),
    ),
}

# Canonical booking statuses (docs/exports.md, Status words). A held booking took its slot
# (the room and therapist were kept for it); a worked one was, or will be, carried out.
STATUSES = ("completed", "booked", "no_show", "cancelled", "late_cancelled")
HELD = frozenset({"completed", "booked", "no_show"})
WORKED = frozenset({"completed", "booked"})


def normalise(column: str) -> str:
    """How docs/exports.md matches column names: case-insensitive, no spaces or underscores."""
    return re.sub(r"[\s_]+", "", column.strip().lstrip("\ufeff")).lower()
