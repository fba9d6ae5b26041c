"""Compare two warehouses table by table: every row of BASE in NEW and every row of NEW in BASE.

    .venv/bin/python benchmarks/compare.py BASE.duckdb NEW.duckdb [--ignore table.column ...]

For every table and view in BASE's main schema (marts, raw tables, bookkeeping) it runs
`EXCEPT ALL` both ways on the columns the two share, and prints one line per table with the
rows found only in BASE and only in NEW. A table, view or column of BASE that NEW lacks is a
difference; columns and tables only NEW has are listed, not counted. Bookkeeping columns that
differ from one load to the next (load times, load ids, durations, file paths, the SQL hash)
are left out by default, with a note saying which. Both files are opened read-only.

Exit status: 0 when every table is identical, 1 on any difference, 2 when a file cannot be
opened.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

# Columns that legitimately differ between two loads of the same files: when and how long,
# which run, where the file lay, and the hash of the SQL that built the marts (which is what
# changes when the models change). `*` matches any table.
BOOKKEEPING = (
    "*.load_id",
    "load_runs.file_name",
    "load_runs.started_at",
    "load_runs.finished_at",
    "rejected_rows.file_name",
    "mart_build_state.built_at",
    "mart_build_state.sql_hash",
    "studio_profile.loaded_at",
    "studio_profile.file_name",
)
FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL"}


@dataclass
class TableResult:
    name: str
    base_rows: int | None = None
    new_rows: int | None = None
    only_base: int | None = None
    only_new: int | None = None
    ignored: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.problems) or bool(self.only_base) or bool(self.only_new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the warehouse to compare against")
    parser.add_argument("new", type=Path, help="the warehouse to check")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="TABLE.COLUMN",
        help="leave out a column (table.column, `*` for any table) or a whole table; repeatable",
    )
    parser.add_argument(
        "--no-default-ignores",
        action="store_true",
        help="compare the bookkeeping columns as well",
    )
    parser.add_argument(
        "--float-digits",
        type=int,
        metavar="N",
        help="round DOUBLE columns to N decimals before comparing (exact by default)",
    )
    parser.add_argument("--memory-limit", default="1500MB", help="DuckDB's limit (default 1500MB)")
    args = parser.parse_args(argv)

    for path in (args.base, args.new):
        if not path.is_file():
            print(f"{path}: no such warehouse file", file=sys.stderr)
            return 2
    ignores = list(args.ignore) + ([] if args.no_default_ignores else list(BOOKKEEPING))
    try:
        results = compare(
            args.base,
            args.new,
            ignores,
            float_digits=args.float_digits,
            memory_limit=args.memory_limit,
        )
    except duckdb.Error as error:
        print(f"cannot open the warehouses: {error}".splitlines()[0], file=sys.stderr)
        return 2
    print_report(results, args.base, args.new, args.no_default_ignores)
    return 1 if any(r.differs for r in results) else 0


def compare(
    base: Path,
    new: Path,
    ignores: list[str],
    float_digits: int | None = None,
    memory_limit: str = "1500MB",
) -> list[TableResult]:
    """Compare every table and view of `base`'s main schema with `new`'s."""
    con = duckdb.connect(config={"memory_limit": memory_limit})
    try:
        con.execute("ATTACH ? AS base (READ_ONLY)", [str(base)])
        con.execute("ATTACH ? AS new (READ_ONLY)", [str(new)])
        base_tables = _tables(con, "base")
        new_tables = _tables(con, "new")
        results = []
        for name, kind in base_tables.items():
            result = TableResult(name)
            results.append(result)
            if _ignored(name, None, ignores):
                result.notes.append("table ignored")
                continue
            if name not in new_tables:
                result.problems.append(f"{kind.lower()} missing in NEW")
                result.base_rows = _count(con, "base", name, result)
                continue
            _compare_table(con, result, ignores, float_digits)
        extra = sorted(set(new_tables) - set(base_tables))
        if extra:
            note = TableResult("(only in NEW)")
            note.notes.append(", ".join(extra))
            results.append(note)
        return results
    finally:
        con.close()


def _compare_table(
    con: duckdb.DuckDBPyConnection,
    result: TableResult,
    ignores: list[str],
    float_digits: int | None,
) -> None:
    name = result.name
    base_cols = _columns(con, "base", name)
    new_cols = _columns(con, "new", name)
    compared = []
    for column, base_type in base_cols.items():
        if _ignored(name, column, ignores):
            result.ignored.append(column)
        elif column not in new_cols:
            result.problems.append(f"column {column} missing in NEW")
        else:
            if new_cols[column] != base_type:
                result.notes.append(f"{column} {base_type} -> {new_cols[column]}")
            compared.append(column)
    result.extra_columns = [c for c in new_cols if c not in base_cols]
    result.base_rows = _count(con, "base", name, result)
    result.new_rows = _count(con, "new", name, result)
    if not compared or result.base_rows is None or result.new_rows is None:
        return

    def select(db: str, types: dict[str, str]) -> str:
        parts = []
        for column in compared:
            quoted = _quote(column)
            if float_digits is not None and types[column] in FLOAT_TYPES:
                parts.append(f"round({quoted}, {int(float_digits)}) AS {quoted}")
            else:
                parts.append(quoted)
        return f"SELECT {', '.join(parts)} FROM {db}.main.{_quote(name)}"

    base_select, new_select = select("base", base_cols), select("new", new_cols)
    try:
        result.only_base = con.execute(
            f"SELECT count(*) FROM ({base_select} EXCEPT ALL {new_select})"
        ).fetchone()[0]
        result.only_new = con.execute(
            f"SELECT count(*) FROM ({new_select} EXCEPT ALL {base_select})"
        ).fetchone()[0]
    except duckdb.Error as error:
        result.problems.append(f"cannot compare: {str(error).splitlines()[0]}")


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables"
        " WHERE table_catalog = ? AND table_schema = 'main' ORDER BY table_name",
        [db],
    ).fetchall()
    return {name: "VIEW" if kind == "VIEW" else "TABLE" for name, kind in rows}


def _columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = ? AND table_schema = 'main' AND table_name = ?"
        " ORDER BY ordinal_position",
        [db, table],
    ).fetchall()
    return dict(rows)


def _count(con: duckdb.DuckDBPyConnection, db: str, table: str, result: TableResult) -> int | None:
    try:
        return con.execute(f"SELECT count(*) FROM {db}.main.{_quote(table)}").fetchone()[0]
    except duckdb.Error as error:  # a view whose tables are gone
        result.problems.append(f"cannot read {db.upper()}: {str(error).splitlines()[0]}")
        return None


def _ignored(table: str, column: str | None, ignores: list[str]) -> bool:
    for pattern in ignores:
        if "." not in pattern:
            if column is None and fnmatch.fnmatchcase(table, pattern):
                return True
            continue
        if column is None:
            continue
        table_pattern, column_pattern = pattern.split(".", 1)
        if fnmatch.fnmatchcase(table, table_pattern) and fnmatch.fnmatchcase(
            column, column_pattern
        ):
            return True
    return False


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _fmt(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def print_report(
    results: list[TableResult], base: Path, new: Path, all_columns: bool = False
) -> None:
    print(f"BASE {base}\nNEW  {new}")
    if not all_columns:
        print(
            "note: bookkeeping columns left out by default (--no-default-ignores compares them):"
            f" {', '.join(BOOKKEEPING)}"
        )
    width = max((len(r.name) for r in results), default=10)
    for r in results:
        if r.name == "(only in NEW)":
            print(f"{r.name:<{width}}  tables not in BASE (not compared): {r.notes[0]}")
            continue
        status = "DIFFERS" if r.differs else "same"
        line = (
            f"{r.name:<{width}}  {status:<7}  rows {_fmt(r.base_rows)} / {_fmt(r.new_rows)}"
            f"  only in BASE {_fmt(r.only_base)}  only in NEW {_fmt(r.only_new)}"
        )
        extras = list(r.problems) + list(r.notes)
        if r.ignored:
            extras.append("ignored " + ", ".join(r.ignored))
        if r.extra_columns:
            extras.append("NEW also has " + ", ".join(r.extra_columns))
        if extras:
            line += "  (" + "; ".join(extras) + ")"
        print(line)
    differing = [r.name for r in results if r.differs]
    compared = sum(1 for r in results if r.name != "(only in NEW)")
    if differing:
        print(f"{len(differing)} of {compared} differ: {', '.join(differing)}")
    else:
        print(f"all {compared} identical")


if __name__ == "__main__":
    sys.exit(main())
