"""Read a tabular export (CSV, XLSX, Parquet) into a DuckDB temp table of text columns.

Every reader produces the same thing: a temp table whose first column is `line_number` (the
line of the file, or the spreadsheet row, that the record starts on) followed by one VARCHAR
column per header field, named `c0`, `c1`, ... by position. Header text never becomes SQL:
adapters map positions to canonical names from their own fixed lists.

Big CSVs go through DuckDB's parser. When a file is not plain (a quoted newline, a blank line,
a row with the wrong number of fields, text that is not UTF-8), the slower Python `csv` path
reads it instead, because it knows each record's exact line and can reject single rows.

Text encodings: UTF-8 (a BOM is fine). A file that starts with a UTF-16 byte-order mark (what
Excel writes for "Unicode Text") is decoded as UTF-16 by the slow path, and when its first line
has tabs and no commas it is read as tab-separated, as Excel writes it. Nothing else is
guessed: a file that is not valid UTF-8 (Windows-1252 or Latin-1, say) is rejected with the
line, the byte and how to re-save it, because a wrong guess would load wrong names silently.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pandas as pd

XLSX_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"
TEXT_SAMPLE_BYTES = 64 * 1024
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
MAX_COLUMNS = 1000  # far beyond any booking system's export; 10,000 is an attack, not data


class ExportError(ValueError):
    """A file that cannot be loaded at all; the message is one line and names the problem."""


@dataclass
class Table:
    """A file read into a temp table: its header and rows rejected before validation."""

    name: str
    header: list[str]
    container: str  # csv | xlsx | parquet
    rows_read: int = 0
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, raw


def sniff_container(path: Path) -> str:
    """Tell CSV text from XLSX and Parquet by the file's first bytes, not its name."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if head == PARQUET_MAGIC:
        return "parquet"
    return "csv"


def read_header(path: Path) -> list[str]:
    """The header fields of a file (first row), read cheaply for kind detection."""
    container = sniff_container(path)
    if container == "xlsx":
        rows = _xlsx_rows(path, limit=1)
        return rows[0][1] if rows else []
    if container == "parquet":
        with duckdb.connect() as con:
            rows = con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()
        return [row[0] for row in rows]
    with open(path, "rb") as handle:
        sample = handle.read(TEXT_SAMPLE_BYTES)
    text = _decode_sample(sample, complete=len(sample) < TEXT_SAMPLE_BYTES)
    if not text.strip("\ufeff \t\r\n"):
        raise ExportError("the file is empty")
    if "\x00" in text:
        raise ExportError("this is not a text export (it contains NUL bytes)")
    text = text.lstrip("\r\n")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(sample, text))
    try:
        first = next(reader, [])
    except csv.Error as error:
        raise ExportError(f"line 1: cannot read the header ({error})") from None
    if len(first) > MAX_COLUMNS:
        raise ExportError(
            f"the header has {len(first):,} columns; an export has at most {MAX_COLUMNS:,}"
        )
    return [cell.strip() for cell in first]


def is_utf16(path: Path) -> bool:
    """Whether a text file starts with a UTF-16 byte-order mark (read by the slow path only)."""
    with open(path, "rb") as handle:
        return handle.read(2) in UTF16_BOMS


def _decode_sample(sample: bytes, complete: bool) -> str:
    """The text of a file's first bytes; a character cut at the sample's end is dropped."""
    if sample[:2] in UTF16_BOMS:
        import codecs

        return codecs.getincrementaldecoder("utf-16")("replace").decode(sample, final=complete)
    if b"\x00" in sample:
        raise ExportError("this is not a text export (it contains NUL bytes)")
    try:
        return sample.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the sample's end is fine; anything earlier is not.
        if complete or error.start < len(sample) - 4:
            raise ExportError(_not_utf8(sample, error.start)) from None
        return sample[: error.start].decode("utf-8-sig")


def _delimiter(raw_head: bytes, text: str) -> str:
    """Tab for a UTF-16 file whose first line has tabs and no commas (Excel's Unicode Text)."""
    first_line = text.split("\n", 1)[0]
    if raw_head[:2] in UTF16_BOMS and "\t" in first_line and "," not in first_line:
        return "\t"
    return ","


def read_table(path: Path, con: duckdb.DuckDBPyConnection, name: str) -> Table:
    """Read `path` into the temp table `name` (line_number, c0, c1, ...), all text."""
    container = sniff_container(path)
    if container == "xlsx":
        return _read_xlsx(path, con, name)
    if container == "parquet":
        return _read_parquet(path, con, name)
    return _read_csv(path, con, name)


def read_csv_cells(path: Path, con: duckdb.DuckDBPyConnection, name: str, header: list[str]) -> int:
    """Read the records of a CSV after its header into temp table `name` (c0, c1, ... as text),
    in file order; return how many there are. Raises duckdb.Error on a malformed record.

    DuckDB parses the file in parallel and keeps file order, so `rowid + 2` is a record's line
    number when every record is one line; `plain_record_count` says how many records that
    needs, and callers fall back to `read_table`'s careful reader when the count differs.
    (A row_number() window would number the rows too, but it runs on a single thread.)
    """
    columns = "{" + ", ".join(f"'c{i}': 'varchar'" for i in range(len(header))) + "}"
    con.execute("set preserve_insertion_order = true")  # DuckDB's default; the rowids rely on it
    con.execute(
        f"""
        create or replace temp table {name} as
        select * from read_csv(
            $path, header = false, skip = 1, all_varchar = true, auto_detect = false,
            delim = ',', quote = '"', escape = '"', strict_mode = true,
            columns = {columns}
        )
        """,
        {"path": str(path)},
    )
    return con.execute(f"select count(*) from {name}").fetchone()[0]


def plain_record_count(path: Path) -> int:
    """Records a CSV has if each is exactly one line (lines after the header, no blank ones)."""
    newlines, last = 0, b""
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    return newlines - 1 if last == b"\n" else newlines


def _read_csv(path: Path, con: duckdb.DuckDBPyConnection, name: str) -> Table:
    header = read_header(path)
    if is_utf16(path):
        return _read_csv_slow(path, con, name, header)
    try:
        rows = read_csv_cells(path, con, f"{name}_cells", header)
    except duckdb.Error:
        rows = None
    # The line numbers are right only when every record is exactly one line.
    if rows is not None and plain_record_count(path) == rows:
        con.execute(
            f"create or replace temp table {name} as "
            f"select rowid + 2 as line_number, * from {name}_cells"
        )
        con.execute(f"drop table {name}_cells")
        return Table(name=name, header=header, container="csv", rows_read=rows)
    con.execute(f"drop table if exists {name}_cells")
    return _read_csv_slow(path, con, name, header)


def _read_csv_slow(
    path: Path, con: duckdb.DuckDBPyConnection, name: str, header: list[str]
) -> Table:
    raw = path.read_bytes()
    if raw[:2] in UTF16_BOMS:
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ExportError(
                f"not valid UTF-16 text (at byte {error.start}) although it starts with a "
                "UTF-16 byte-order mark; export or save the file as CSV UTF-8"
            ) from None
    else:
        if b"\x00" in raw:
            line = raw[: raw.index(b"\x00")].count(b"\n") + 1
            raise ExportError(f"line {line}: NUL byte; this is not a text export")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ExportError(_not_utf8(raw, error.start)) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ExportError(f"line {line}: NUL character; this is not a text export")
    width = len(header)
    table = Table(name=name, header=header, container="csv")
    records: list[list[str | None]] = []
    delimiter = _delimiter(raw[:2], text.lstrip("\ufeff\r\n"))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter)
    line_before = 0
    try:
        for cells in reader:
            start_line, line_before = line_before + 1, reader.line_num
            if start_line == 1 or not any(cell.strip() for cell in cells):
                continue  # the header, or a blank line
            table.rows_read += 1
            if len(cells) != width:
                table.rejects.append(
                    (start_line, f"expected {width} fields, found {len(cells)}", ",".join(cells))
                )
                continue
            records.append([start_line, *cells])
    except csv.Error as error:
        raise ExportError(f"line {reader.line_num}: cannot read CSV ({error})") from None
    _create_from_records(con, name, records, width)
    return table


def _read_xlsx(path: Path, con: duckdb.DuckDBPyConnection, name: str) -> Table:
    rows = _xlsx_rows(path)
    if not rows:
        raise ExportError("the workbook's first sheet is empty")
    _, header = rows[0]
    width = len(header)
    table = Table(name=name, header=header, container="xlsx")
    records = []
    for line, cells in rows[1:]:
        table.rows_read += 1
        cells = (cells + [None] * width)[:width] if len(cells) <= width else cells
        if len(cells) > width and any(c not in (None, "") for c in cells[width:]):
            raw = ",".join("" if c is None else c for c in cells)
            table.rejects.append((line, f"expected {width} fields, found {len(cells)}", raw))
            continue
        records.append([line, *cells[:width]])
    _create_from_records(con, name, records, width)
    return table


def _xlsx_rows(path: Path, limit: int | None = None) -> list[tuple[int, list[str | None]]]:
    """Non-blank rows of the first sheet as text, with their spreadsheet row numbers."""
    import openpyxl  # imported here: only xlsx files need it

    try:
        # A file object, not a path: openpyxl judges paths by extension, we judge by content.
        book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a broken zip or xml
        raise ExportError(f"cannot open the workbook ({type(error).__name__}: {error})") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and cells[-1] in (None, ""):
                cells.pop()
            if not cells:
                continue
            rows.append((number, cells))
            if limit is not None and len(rows) >= limit:
                break
        return rows
    except Exception as error:
        raise ExportError(f"cannot read the workbook ({type(error).__name__}: {error})") from None
    finally:
        book.close()


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_parquet(path: Path, con: duckdb.DuckDBPyConnection, name: str) -> Table:
    header = read_header(path)
    casts = ", ".join(f"cast(#{i + 1} as varchar) as c{i}" for i in range(len(header)))
    try:
        con.execute(
            f"""
            create or replace temp table {name} as
            select row_number() over () as line_number, *
            from (select {casts} from read_parquet(?))
            """,
            [str(path)],
        )
    except duckdb.Error as error:
        raise ExportError(f"cannot read the Parquet file ({str(error).splitlines()[0]})") from None
    rows = con.execute(f"select count(*) from {name}").fetchone()[0]
    return Table(name=name, header=header, container="parquet", rows_read=rows)


def _create_from_records(
    con: duckdb.DuckDBPyConnection, name: str, records: list[list], width: int
) -> None:
    """Temp table `name` (line_number, c0, c1, ... as text) from [line, cell, cell, ...] rows."""
    import pandas as pd  # here, not at the top: a plain native CSV load never needs pandas

    frame = pd.DataFrame(records, columns=["line_number", *[f"c{i}" for i in range(width)]])
    _create_from_frame(con, name, frame, width)


def _create_from_frame(
    con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, width: int
) -> None:
    columns = ", ".join(f"cast(c{i} as varchar) as c{i}" for i in range(width))
    con.register(f"{name}_frame", frame)
    try:
        con.execute(
            f"""
            create or replace temp table {name} as
            select cast(line_number as bigint) as line_number, {columns} from {name}_frame
            """
        )
    finally:
        con.unregister(f"{name}_frame")


def _not_utf8(raw: bytes, position: int) -> str:
    line = raw[:position].count(b"\n") + 1
    byte = raw[position]
    guess = ""
    if byte >= 0x80:
        # Name the likely 8-bit encoding and what the byte would mean in it, but do not guess.
        char = bytes([byte]).decode("cp1252", errors="replace")
        if char.isprintable() and char != "\ufffd":
            guess = f", perhaps Windows-1252 or Latin-1 for '{char}'"
    return (
        f"line {line}: not UTF-8 text (byte 0x{byte:02x}{guess}); "
        "export or save the file as CSV UTF-8"
    )
