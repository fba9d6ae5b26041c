"""The SQL models: what each reads, the order they run in, and running one script.

Every model in sql/staging, sql/intermediate and sql/marts says what it reads in a header
line, ``-- reads: stg_exports__rooms, int_booking_pieces`` (a line ending in a comma goes on
in the next comment line). The build runs the staging views first, then the intermediate and
mart models, each after the models it declares (`model_scripts`). Before ordering, each
model's statement is parsed by DuckDB's own parser (``json_serialize_sql``) and the tables it
reads are compared with its header: a model that reads an undeclared table, or declares one it
does not read, stops the build with one line naming the file. An incremental build runs the
same scripts with their `--incremental:` lines switched on (pipelines.warehouse.incremental);
those lines read the build's scope tables and are not part of the header.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.warehouse.store import SQL_DIR, WarehouseError, first_line, timed

# A line an incremental build switches on (the comment marker is removed, the SQL kept).
INCREMENTAL_LINE = re.compile(r"^(\s*)--incremental: ?", re.MULTILINE)
READS = "-- reads:"
# Folders of models run in dependency order, after the staging views.
MODEL_FOLDERS = ("intermediate", "marts")
# How a model's statement starts: `<kind> <model name> as`, the name being the file's.
STATEMENTS = (
    "create or replace table",
    "create or replace temp table",
    "create or replace view",
    "create or replace temp view",
)


@dataclass(frozen=True)
class Model:
    """One SQL model: its file, and the tables and views its header says it reads."""

    name: str
    path: Path
    reads: frozenset[str]

    @property
    def where(self) -> str:
        return str(self.path.relative_to(SQL_DIR.parent))


def read_model(path: Path, parser: duckdb.DuckDBPyConnection | None) -> Model:
    """The model in `path`, its header checked against the tables its statement reads; with
    no `parser`, its header alone (SQL a build has already checked)."""
    text = path.read_text()
    model = Model(path.stem, path, declared_reads(path, text))
    if parser is None:
        return model
    read = tables_read(model, text, parser)
    undeclared = sorted(read - model.reads)
    if undeclared:
        raise WarehouseError(
            f"{model.where}: reads {', '.join(undeclared)}, which its '{READS}' line "
            "does not declare; add it there"
        )
    unread = sorted(model.reads - read)
    if unread:
        raise WarehouseError(
            f"{model.where}: its '{READS}' line declares {', '.join(unread)}, "
            "which it does not read; remove it there"
        )
    return model


def declared_reads(path: Path, text: str) -> frozenset[str]:
    """The names on the model's `-- reads:` line (and the lines it goes on to)."""
    lines = text.splitlines()
    starts = [number for number, line in enumerate(lines) if line.startswith(READS)]
    if len(starts) != 1:
        raise WarehouseError(
            f"{path.relative_to(SQL_DIR.parent)}: needs one '{READS} <table>, ...' line "
            f"naming what it reads (found {len(starts)})"
        )
    number = starts[0]
    names = lines[number][len(READS) :]
    while names.rstrip().endswith(",") and number + 1 < len(lines):
        number += 1
        names += lines[number].removeprefix("--")
    return frozenset(name.strip() for name in names.split(",") if name.strip())


def tables_read(model: Model, text: str, parser: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables and views the model's statement reads, as DuckDB's parser sees them.

    Comments (the `--incremental:` lines included) are not read; common table expressions
    are not tables, except a reference inside a CTE to the name it defines (`settings as
    (select * from settings)` reads the table)."""
    header = next(
        (f"{kind} {model.name} as" for kind in STATEMENTS if f"{kind} {model.name} as" in text),
        None,
    )
    if header is None:
        raise WarehouseError(f"{model.where}: expected 'create or replace table {model.name} as'")
    query = text.split(header, 1)[1]
    tree = json.loads(parser.execute("select json_serialize_sql(?)", [query]).fetchone()[0])
    if tree.get("error"):
        raise WarehouseError(f"{model.where}: {tree.get('error_message', 'cannot be parsed')}")
    found: set[str] = set()
    _collect_tables(tree, frozenset(), found)
    return found


def _collect_tables(node: object, ctes: frozenset[str], found: set[str]) -> None:
    """Add to `found` every base table under `node` that is not a CTE visible there."""
    if isinstance(node, list):
        for item in node:
            _collect_tables(item, ctes, found)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "BASE_TABLE" and node.get("table_name"):
        if node["table_name"] not in ctes:
            found.add(node["table_name"])
    visible = set(ctes)
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        for entry in cte_map.get("map", []):
            # a CTE sees the ones before it, not itself
            _collect_tables(entry.get("value"), frozenset(visible), found)
            visible.add(entry.get("key"))
    for key, value in node.items():
        if key != "cte_map":
            _collect_tables(value, frozenset(visible), found)


def staging_scripts(con: duckdb.DuckDBPyConnection | None = None) -> list[Path]:
    """The staging views (they read the raw tables only), headers checked, by name.

    `con` parses the SQL (any connection: parsing reads and changes nothing); default a new
    in-memory one."""
    parser = con or duckdb.connect()
    paths = sorted((SQL_DIR / "staging").glob("*.sql"))
    return [read_model(path, parser).path for path in paths]


def model_scripts(con: duckdb.DuckDBPyConnection | None = None, checked: bool = True) -> list[Path]:
    """The intermediate and mart models in dependency order: each after what it reads.

    `con` parses the SQL, as for `staging_scripts`. `checked=False` orders them by their
    headers alone, without parsing: for an incremental build, whose SQL (the same text, by
    its hash in mart_build_state) a full build checked before (10M: 0.04 s of a 3 s day)."""
    parser = (con or duckdb.connect()) if checked else None
    models: dict[str, Model] = {}
    for folder in MODEL_FOLDERS:
        for path in sorted((SQL_DIR / folder).glob("*.sql")):
            model = read_model(path, parser)
            if model.name in models:
                raise WarehouseError(f"{model.where}: {models[model.name].where} has that name")
            models[model.name] = model
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise WarehouseError(f"{models[name].where}: circular reads through {name}")
        visiting.add(name)
        for other in sorted(models[name].reads & models.keys()):
            visit(other)
        visiting.discard(name)
        ordered.append(name)

    for name in sorted(models):
        visit(name)
    return [models[name].path for name in ordered]


# Models whose SQL lists their input rows and a Python function sums them (module, function):
# the function gets the statement as the build would run it (full or scoped). The SQL keeps
# its `-- reads:` header, which orders and checks it like any other model.
PYTHON_MODELS = {"fct_hourly_capacity": ("pipelines.warehouse.hourly", "build")}


def run_script(con: duckdb.DuckDBPyConnection, script: Path) -> None:
    execute(con, script, script.read_text())


def execute(con: duckdb.DuckDBPyConnection, script: Path, text: str) -> None:
    try:
        with timed(script.stem):
            if script.stem in PYTHON_MODELS:
                module, function = PYTHON_MODELS[script.stem]
                getattr(importlib.import_module(module), function)(con, text)
            else:
                con.execute(text)
    except duckdb.Error as error:
        raise WarehouseError(f"{script.relative_to(SQL_DIR.parent)}: {first_line(error)}") from None
