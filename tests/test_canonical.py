"""The canonical model (pipelines.canonical) is the one definition every stage follows: the raw
tables, the validator's typed columns, the loader's keys, the native headers, the demo
generator's headers. The adapter protocol is typed and documented, and ingest has no import
circle."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import duckdb

from pipelines.canonical import HELD, KINDS, LINEAGE, STATUSES, WORKED
from pipelines.demo.generate import HEADERS
from pipelines.ingest import load, validate
from pipelines.ingest.formats import _adapters, native
from pipelines.ingest.formats.adapter import Adapter
from pipelines.warehouse import store

ROOT = Path(__file__).resolve().parent.parent


def test_raw_tables_have_exactly_the_canonical_columns_and_types(tmp_path: Path) -> None:
    # A fresh warehouse, migrated by the real DDL (sql/raw/001_tables.sql), then read back from
    # DuckDB's catalogue: each raw table must hold the kind's raw columns plus load_id and
    # line_number, name for name and type for type, NOT NULL where the model says.
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute((ROOT / "sql" / "raw" / "001_tables.sql").read_text(encoding="utf-8"))
    for kind in KINDS.values():
        rows = con.execute(
            "select column_name, data_type, is_nullable from duckdb_columns() "
            "where table_name = ? order by column_index",
            [kind.raw_table],
        ).fetchall()
        found = {name: (dtype, nullable) for name, dtype, nullable in rows}
        wanted = {c.name: (c.type, not c.not_null) for c in (*kind.raw, *LINEAGE)}
        assert found == wanted, kind.name
        # the export columns come first, in the model's order (opened_on is added later)
        exported = [c.name for c in kind.raw if c.from_export]
        assert [name for name, _, _ in rows][: len(exported)] == exported, kind.name
    con.close()
    assert store is not None  # the warehouse package applies the same file (store.migrate)


def test_validation_types_every_canonical_column_and_no_other() -> None:
    for name, kind in KINDS.items():
        assert validate.typed_columns(name) == kind.typed_columns()
        assert set(validate._TYPED_SQL[name]) == set(kind.typed_columns()), name


def test_loader_keys_and_native_kinds_are_the_canonical_ones() -> None:
    assert load.KEYS == {name: kind.key for name, kind in KINDS.items()}
    assert native.KINDS is KINDS
    for kind in KINDS.values():
        raw = {c.name for c in kind.raw}
        assert set(kind.key) <= raw and set(kind.required) <= set(kind.columns)


def test_demo_generator_writes_canonical_headers() -> None:
    # every header the generator writes is an export column of its kind, and a native load of
    # its files finds every required column (and end_at or duration_minutes for bookings)
    assert set(HEADERS) == set(KINDS)
    for name, header in HEADERS.items():
        kind = KINDS[name]
        assert set(header) <= set(kind.columns), name
        assert set(kind.required) <= set(header), name
        assert not kind.one_of or set(kind.one_of) & set(header), name
        assert native.detect(list(header)) is kind, name


def test_statuses_held_and_worked_match_staging() -> None:
    # stg_exports__bookings defines is_held and is_worked by status lists: they must be the
    # model's sets, and every status word the validator knows maps to a canonical status.
    sql = (ROOT / "sql" / "staging" / "stg_exports__bookings.sql").read_text(encoding="utf-8")
    held = "in (" + ", ".join(f"'{s}'" for s in STATUSES if s in HELD) + ") as is_held"
    worked = "in (" + ", ".join(f"'{s}'" for s in STATUSES if s in WORKED) + ") as is_worked"
    assert held in sql and worked in sql
    assert set(validate.STATUS_WORDS.values()) == set(STATUSES)
    assert validate.CANONICAL_STATUSES == STATUSES


def test_every_adapter_implements_the_typed_documented_protocol() -> None:
    # The annotations as written (every module uses `from __future__ import annotations`):
    # each adapter's detect and read take and return exactly what the Adapter protocol declares.
    assert Adapter.detect.__doc__ and Adapter.read.__doc__
    for adapter in _adapters():
        assert isinstance(adapter.NAME, str) and adapter.NAME
        assert "Adapter protocol" in (adapter.__doc__ or ""), adapter.__name__
        protocol = (Adapter.detect, Adapter.read)
        for function, declared in zip((adapter.detect, adapter.read), protocol, strict=True):
            assert function.__annotations__ == declared.__annotations__, function.__qualname__
            names = list(inspect.signature(declared).parameters)[1:]  # without self
            assert list(inspect.signature(function).parameters) == names, function.__qualname__


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The pipelines modules a file imports anywhere, inside functions too (an import there
    that only dodges a circle is still a circle), leaving out `if TYPE_CHECKING:` blocks.
    `from package import module` imports that module, not the package's own names (Python
    runs a package's __init__ before any of its modules in any case)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipelines"):
            named = {f"{node.module}.{a.name}" for a in node.names}
            found.update(named & modules)
            if named - modules:  # names defined in the module itself
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipelines"))
    return found


# The modules the rest of ingest builds on: none of them may sit on an import circle.
FOUNDATIONS = [
    "pipelines.canonical",
    "pipelines.ingest.pii",
    "pipelines.ingest.validate",
    "pipelines.ingest.formats.base",
    "pipelines.ingest.formats.sql_expr",
    "pipelines.ingest.formats.tabular",
    "pipelines.ingest.formats.native",
    "pipelines.ingest.formats.needs",
]


def test_no_import_circle_through_the_foundations_of_ingest() -> None:
    # Before sql_expr.py, pii imported common's E/Expr inside functions while common imported
    # pii: common -> pii -> common. Walk every import of pipelines/ingest (and canonical).
    paths = [*(ROOT / "pipelines" / "ingest").rglob("*.py"), ROOT / "pipelines" / "canonical.py"]
    files = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in paths
    }
    graph = {
        m: {i for i in _imports(p, set(files)) if i in files and i != m} for m, p in files.items()
    }

    def cycle_from(start: str, path: list[str]) -> list[str] | None:
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                return [*path, nxt]
            if nxt not in path:
                found = cycle_from(start, [*path, nxt])
                if found:
                    return found
        return None

    # ... and every module of the formats package: before mapping.py, common imported mapped
    # inside a function (generic_mapping_fits) while mapped imported common, mapped imported ics
    # for [ics] summary while ics took mapped's Mapping, and mapped.preview imported the package
    # (read_export) that imports mapped.
    formats = sorted(m for m in graph if m.startswith("pipelines.ingest.formats"))
    assert "pipelines.ingest.formats.mapped" in formats and len(formats) > len(FOUNDATIONS)
    for module in [*FOUNDATIONS, *formats]:
        assert module in graph
        assert cycle_from(module, [module]) is None, " -> ".join(cycle_from(module, [module]))
