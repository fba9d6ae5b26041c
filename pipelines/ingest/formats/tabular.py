"""Read a tabular export (CSV, XLSX, Parquet) into a DuckDB temp table of text columns.

Every reader produces the same thing: a temp table whose first column is `line_number` (the
line of the file, or the spreadsheet row, that the record starts on) followed by one VARCHAR
column per header field, named `c0`, `c1`, ... by position. Header text never becomes SQL:
adapters map positions to canonical names from their own fixed lists.

Big CSVs go through DuckDB's parser. When a file is not plain (a quoted newline, a blank line,
a row with the wrong number of fields, text that is not UTF-8), the slower Python `csv` path
reads it instead, because it knows each record's exact line and can reject single rows.

Limits (pipelines.settings, each refusal names its setting): a CSV row longer than
`max_line_kb`, a header wider than `max_columns`, an .xlsx whose parts unpack beyond
`max_workbook_mb` or `max_zip_ratio` times their packed size (checked in the zip's directory,
before anything is inflated), or a sheet with more than `max_sheet_rows` rows. Text is read a
line at a time and rows go to DuckDB in batches, so memory follows the limits, not the file.

Text encodings: UTF-8 (a BOM is fine). A file that starts with a UTF-16 byte-order mark (what
Excel writes for "Unicode Text") is decoded as UTF-16 by the slow path, and when its first line
has tabs and no commas it is read as tab-separated, as Excel writes it. Nothing else is
guessed: a file that is not valid UTF-8 (Windows-1252 or Latin-1, say) is rejected with the
line, the byte and how to re-save it, because a wrong guess would load wrong names silently.
"""

from __future__ import annotations

import codecs
import csv
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.ingest.formats.base import ExportError
from pipelines.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

XLSX_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"
TEXT_SAMPLE_BYTES = 64 * 1024
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
MB = 1024 * 1024
BATCH_ROWS = 50_000  # rows handed to DuckDB at a time by the careful readers


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


def limits_or_defaults(limits: Settings | None) -> Settings:
    """The settings whose file limits apply (the defaults when a caller passes none)."""
    return limits if limits is not None else Settings()


def too_many_columns(count: int, limits: Settings) -> ExportError:
    return ExportError(
        f"the header has {count:,} columns; an export has at most {limits.max_columns:,} "
        "(the max_columns setting raises this limit)"
    )


def read_header(path: Path, limits: Settings | None = None) -> list[str]:
    """The header fields of a file (first row), read cheaply for kind detection."""
    limits = limits_or_defaults(limits)
    container = sniff_container(path)
    if container == "xlsx":
        rows = _xlsx_rows(path, limit=1, limits=limits)
        if not rows:
            raise ExportError("every sheet of the workbook is empty")
        return rows[0][1]
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
    delimiter = _delimiter(sample, text.lstrip("\r\n"))
    # The whole first row, read line by line up to max_line_kb: a sample would cut a wide
    # header short and miscount its columns.
    first: list[str] = []
    with _open_text(path) as handle:
        lines = _Lines(handle, limits)
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            for cells in reader:
                if cells:
                    first = cells
                    break
                lines.start_record()
        except csv.Error as error:
            raise ExportError(f"line {lines.line}: cannot read the header ({error})") from None
        except UnicodeDecodeError:
            raise ExportError(_bad_text(path)) from None
    if len(first) > limits.max_columns:
        raise too_many_columns(len(first), limits)
    return [cell.strip() for cell in first]


def _open_text(path: Path):
    """The file as text, read lazily: UTF-16 when it starts with its byte-order mark, else
    UTF-8 (a BOM is dropped). Lines keep their endings, as csv.reader needs."""
    encoding = "utf-16" if is_utf16(path) else "utf-8-sig"
    return open(path, encoding=encoding, errors="strict", newline="")


class _Lines:
    """The physical lines of a text file for csv.reader, refusing a row longer than
    max_line_kb (all its lines, when a quoted cell spans several) and NUL characters.

    Call `start_record()` before each row is read; `line` is the last line handed out. Lengths
    are counted in characters, which is bytes for the ASCII most exports are made of.
    """

    def __init__(self, handle, limits: Settings) -> None:
        self.handle = handle
        self.limit_kb = limits.max_line_kb
        self.max_chars = limits.max_line_kb * 1024
        self.line = 0
        self.record_line = 1
        self.record_chars = 0
        # csv's own cap on one cell (128 KB by default) would refuse legitimate rows sooner.
        csv.field_size_limit(max(self.max_chars, 128 * 1024))

    def start_record(self) -> None:
        self.record_line, self.record_chars = self.line + 1, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        # Never more than the row's remaining allowance plus one character is read.
        text = self.handle.readline(self.max_chars - self.record_chars + 1)
        if not text:
            raise StopIteration
        self.line += 1
        self.record_chars += len(text)
        if self.record_chars > self.max_chars:
            raise ExportError(
                f"line {self.record_line}: the row is larger than {self.limit_kb:,} KB, the "
                "limit (the max_line_kb setting raises it)"
            )
        if "\x00" in text:
            raise ExportError(f"line {self.line}: NUL byte; this is not a text export")
        return text


def _bad_text(path: Path) -> str:
    """The message for a file that does not decode: the line and byte (UTF-8), found by
    reading it again in chunks."""
    if is_utf16(path):
        return (
            "not valid UTF-16 text although it starts with a UTF-16 byte-order mark; "
            "export or save the file as CSV UTF-8"
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines_before = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                # error.object is the decoder's few pending bytes (no newline) and this chunk.
                seen = error.object
                line = lines_before + seen[: error.start].count(b"\n") + 1
                return _not_utf8_at(line, seen[error.start])
            if not chunk:
                return "not UTF-8 text; export or save the file as CSV UTF-8"
            lines_before += chunk.count(b"\n")


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
    """Tab for a UTF-16 file whose first line has tabs and no commas (Excel's Unicode Text);
    a semicolon for a header line with more semicolons than commas (Excel's CSV where the
    comma is the decimal mark: most of Europe; a name may hold a comma, `Preis (brutto, EUR)`);
    else a comma."""
    first_line = text.split("\n", 1)[0]
    if raw_head[:2] in UTF16_BOMS and "\t" in first_line and "," not in first_line:
        return "\t"
    if first_line.count(";") > first_line.count(","):
        return ";"
    return ","


def csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV file's records (see _delimiter)."""
    with open(path, "rb") as handle:
        head = handle.read(TEXT_SAMPLE_BYTES)
    encoding = "utf-16" if head[:2] in UTF16_BOMS else "utf-8-sig"
    return _delimiter(head[:2], head.decode(encoding, errors="replace").lstrip("\ufeff\r\n"))


def read_table(
    path: Path, con: duckdb.DuckDBPyConnection, name: str, limits: Settings | None = None
) -> Table:
    """Read `path` into the temp table `name` (line_number, c0, c1, ...), all text."""
    limits = limits_or_defaults(limits)
    container = sniff_container(path)
    if container == "xlsx":
        return _read_xlsx(path, con, name, limits)
    if container == "parquet":
        return _read_parquet(path, con, name, limits)
    return _read_csv(path, con, name, limits)


def read_csv_cells(
    path: Path,
    con: duckdb.DuckDBPyConnection,
    name: str,
    header: list[str],
    limits: Settings | None = None,
) -> int:
    """Read the records of a CSV after its header into temp table `name` (c0, c1, ... as text),
    in file order; return how many there are. Raises duckdb.Error on a malformed record.

    DuckDB parses the file in parallel and keeps file order, so `rowid + 2` is a record's line
    number when every record is one line; `plain_record_count` says how many records that
    needs, and callers fall back to `read_table`'s careful reader when the count differs.
    (A row_number() window would number the rows too, but it runs on a single thread.)
    """
    con.execute("set preserve_insertion_order = true")  # DuckDB's default; the rowids rely on it
    cells, params = csv_cells(path, header, limits)
    con.execute(f"create or replace temp table {name} as select * from {cells}", params)
    return con.execute(f"select count(*) from {name}").fetchone()[0]


def csv_cells(
    path: Path, header: list[str], limits: Settings | None = None
) -> tuple[str, dict[str, object]]:
    """The records of a CSV after its header as a parenthesised SELECT of text cells (c0, c1,
    ...) in file order, and the named parameters it takes ($path, $max_line). Reading it
    raises duckdb.Error on a malformed record. It has no line numbers: a table created from it
    (nothing reordering the rows, preserve_insertion_order on) numbers them `rowid + 2` when
    every record is one line (`plain_record_count`)."""
    columns = "{" + ", ".join(f"'c{i}': 'varchar'" for i in range(len(header))) + "}"
    select = f"""(
        select * from read_csv(
            $path, header = false, skip = 1, all_varchar = true, auto_detect = false,
            delim = ',', quote = '"', escape = '"', strict_mode = true,
            columns = {columns}, max_line_size = $max_line
        )
    )"""
    params = {"path": str(path), "max_line": limits_or_defaults(limits).max_line_kb * 1024}
    return select, params


def plain_record_count(path: Path, limits: Settings | None = None) -> int:
    """Records a CSV has if each is exactly one line (lines after the header, no blank ones).

    The same pass refuses a line longer than max_line_kb, before DuckDB's parser sees it:
    DuckDB holds a whole line in memory before judging its length (a 100 MB line took 18 s
    and 1.5 GB). It reads half the limit at a time: a longer line then spans at least one
    whole piece without a line break, so only a piece's first and last breaks need finding.
    """
    limit_kb = limits_or_defaults(limits).max_line_kb
    max_bytes = limit_kb * 1024
    newlines, last, run = 0, b"", 0  # run: bytes since the last line break
    with open(path, "rb") as handle:
        while chunk := handle.read(max(max_bytes // 2, 1)):
            first = _first_break(chunk)
            if first < 0:
                run += len(chunk)
            else:
                run += first
            if run > max_bytes:
                raise ExportError(
                    f"line {newlines + 1}: the row is larger than {limit_kb:,} KB, the limit "
                    "(the max_line_kb setting raises it)"
                )
            if first >= 0:
                run = len(chunk) - 1 - max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    return newlines - 1 if last == b"\n" else newlines


def _first_break(chunk: bytes) -> int:
    """Position of the first line break (\\n or \\r) in chunk, -1 when there is none."""
    breaks = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
    return min(breaks) if breaks else -1


def _read_csv(path: Path, con: duckdb.DuckDBPyConnection, name: str, limits: Settings) -> Table:
    header = read_header(path, limits)
    if is_utf16(path) or csv_delimiter(path) != ",":
        return _read_csv_slow(path, con, name, header, limits)
    plain_records = plain_record_count(path, limits)  # refuses an overlong line first
    try:
        rows = read_csv_cells(path, con, f"{name}_cells", header, limits)
    except duckdb.Error:
        rows = None
    # The line numbers are right only when every record is exactly one line.
    if rows is not None and plain_records == rows:
        con.execute(
            f"create or replace temp table {name} as "
            f"select rowid + 2 as line_number, * from {name}_cells"
        )
        con.execute(f"drop table {name}_cells")
        return Table(name=name, header=header, container="csv", rows_read=rows)
    con.execute(f"drop table if exists {name}_cells")
    return _read_csv_slow(path, con, name, header, limits)


def csv_rows(path: Path, limits: Settings) -> Iterator[tuple[int, list[str]]]:
    """Every record of a CSV with the line it starts on (blank ones included), read a line at
    a time within max_line_kb; a file that cannot be read raises ExportError with its line."""
    with open(path, "rb") as handle:
        head = handle.read(TEXT_SAMPLE_BYTES)
    encoding = "utf-16" if head[:2] in UTF16_BOMS else "utf-8-sig"
    delimiter = _delimiter(head[:2], head.decode(encoding, errors="replace").lstrip("\ufeff\r\n"))
    with _open_text(path) as handle:
        lines = _Lines(handle, limits)
        reader = csv.reader(lines, strict=True, delimiter=delimiter)
        try:
            while True:
                lines.start_record()
                cells = next(reader, None)
                if cells is None:
                    return
                yield lines.record_line, cells
        except csv.Error as error:
            raise ExportError(f"line {lines.line}: cannot read CSV ({error})") from None
        except UnicodeDecodeError:
            raise ExportError(_bad_text(path)) from None


def _read_csv_slow(
    path: Path, con: duckdb.DuckDBPyConnection, name: str, header: list[str], limits: Settings
) -> Table:
    width = len(header)
    table = Table(name=name, header=header, container="csv")
    writer = RowWriter(con, name, width)
    seen_header = False
    for start_line, cells in csv_rows(path, limits):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if not seen_header:
            seen_header = True  # the header, read by read_header
            continue
        table.rows_read += 1
        if len(cells) != width:
            table.rejects.append(
                (start_line, f"expected {width} fields, found {len(cells)}", ",".join(cells))
            )
            continue
        writer.add([start_line, *cells])
    writer.close()
    return table


def _read_xlsx(path: Path, con: duckdb.DuckDBPyConnection, name: str, limits: Settings) -> Table:
    rows = _xlsx_iter(path, limits)
    first = next(rows, None)
    if first is None:
        raise ExportError("every sheet of the workbook is empty")
    _, header = first
    width = len(header)
    table = Table(name=name, header=header, container="xlsx")
    writer = RowWriter(con, name, width)
    for line, cells in rows:
        table.rows_read += 1
        cells = (cells + [None] * width)[:width] if len(cells) <= width else cells
        if len(cells) > width and any(c not in (None, "") for c in cells[width:]):
            raw = ",".join("" if c is None else c for c in cells)
            table.rejects.append((line, f"expected {width} fields, found {len(cells)}", raw))
            continue
        writer.add([line, *cells[:width]])
    writer.close()
    return table


def check_workbook(path: Path, limits: Settings) -> None:
    """Refuse a workbook whose parts would unpack beyond the limits, from the sizes its zip
    directory declares, before anything is inflated. Python's zipfile never unpacks a part
    beyond its declared size (it stops there and the CRC check fails), so the sizes hold."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise ExportError(f"cannot open the workbook ({type(error).__name__}: {error})") from None
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.max_workbook_mb * MB:
        raise ExportError(
            f"the workbook unpacks to {unpacked / MB:,.0f} MB, over the "
            f"{limits.max_workbook_mb:,} MB limit (the max_workbook_mb setting raises it)"
        )
    for part in parts:
        # Real sheets pack 5-30 times; a zip bomb about 1,000 times. Small parts are left
        # alone: whatever their ratio, they cannot unpack to much.
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > MB and ratio > limits.max_zip_ratio:
            label = " ".join(part.filename.split())[:60]
            raise ExportError(
                f"the workbook part {label!r} unpacks to {ratio:,.0f} times its packed size, "
                f"over the limit of {limits.max_zip_ratio:,} (the max_zip_ratio setting "
                "raises it)"
            )


def _xlsx_rows(
    path: Path, limit: int | None = None, limits: Settings | None = None
) -> list[tuple[int, list[str | None]]]:
    """The first `limit` non-blank rows of the sheet read (all when None); see _xlsx_iter."""
    rows = []
    for row in _xlsx_iter(path, limits_or_defaults(limits)):
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    return rows


def _xlsx_iter(path: Path, limits: Settings) -> Iterator[tuple[int, list[str | None]]]:
    """Non-blank rows of the workbook's first sheet that has any (visible sheets first) as
    text, with their spreadsheet row numbers, streamed from the sheet's XML within the
    workbook, row and column limits."""
    import openpyxl  # imported here: only xlsx files need it
    from openpyxl.worksheet._reader import WorkSheetParser

    check_workbook(path, limits)
    with open(path, "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it drops
        try:
            # A file object, not a path: openpyxl judges paths by extension, we judge by content.
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many types for a broken zip or xml
            raise ExportError(
                f"cannot open the workbook ({type(error).__name__}: {_first_line(error)})"
            ) from None
        try:
            # The first sheet that holds anything, visible sheets before hidden ones: an
            # empty "Sheet1" left before the report (or a hidden one) is not the export.
            sheets = sorted(book.worksheets, key=lambda s: s.sheet_state != "visible")
            for sheet in sheets:
                declared = sheet.max_row or 0  # the sheet's own <dimension>, when it has one
                if declared > limits.max_sheet_rows:
                    raise too_many_rows(f"says it has {declared:,} rows", limits)
                # openpyxl's row iterator pads every row to the declared width and fills gaps
                # in the row numbers with empty rows; the parser gives the rows as stored.
                source = sheet._get_source()
                parser = WorkSheetParser(
                    source,
                    sheet._shared_strings,
                    data_only=True,
                    epoch=book.epoch,
                    date_formats=book._date_formats,
                    timedelta_formats=book._timedelta_formats,
                )
                stored = found = 0
                merged = _MergedDown(sheet)
                try:
                    for number, row in parser.parse():
                        stored += 1
                        if stored > limits.max_sheet_rows:
                            raise too_many_rows(
                                f"has more than {limits.max_sheet_rows:,} rows", limits
                            )
                        cells = _row_cells(row, limits)
                        if cells:
                            found += 1
                            yield number, merged.fill(number, cells)
                finally:
                    source.close()
                if found:
                    return
        except ExportError:
            raise
        except Exception as error:
            raise ExportError(
                f"cannot read the workbook ({type(error).__name__}: {_first_line(error)})"
            ) from None
        finally:
            book.close()


# A merged range in the sheet's XML: <mergeCell ref="A2:A4"/> (any namespace prefix).
_MERGE_CELL = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')
_MERGE_SCAN_BYTES = 1 << 20
MAX_MERGED_RANGES = 100_000  # a real report merges a few hundred cells at most


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


class _MergedDown:
    """The sheet's cells merged down over several rows: Excel shows the top cell's value in
    each row of the range (a date merged over the day's appointments), so each later row of
    the range that has cells of its own reads that value in the range's first column, where
    the file stores nothing. Ranges one row high (a title across the columns) change nothing.

    The ranges sit after the rows in the sheet's XML, so they are found first by scanning its
    bytes (no XML is parsed; a sheet without `mergeCell` costs one pass of decompression)."""

    def __init__(self, sheet) -> None:
        self.starts: dict[int, list[tuple[int, int]]] = {}  # first row -> [(column, last row)]
        self.active: list[tuple[int, int, str | None]] = []  # (column, last row, value)
        source = sheet._get_source()
        try:
            tail = b""
            count = 0
            while chunk := source.read(_MERGE_SCAN_BYTES):
                text = tail + chunk
                cut = text.rfind(b"<")  # a tag cut at the chunk's end is read with the next
                cut = cut if cut > 0 else len(text)
                for match in _MERGE_CELL.finditer(text, 0, cut):
                    first, last = int(match[2]), int(match[4])
                    count += 1
                    if count > MAX_MERGED_RANGES:
                        raise ExportError(
                            f"the sheet has more than {MAX_MERGED_RANGES:,} merged cell ranges"
                        )
                    if last > first:
                        column = _column_number(match[1])
                        self.starts.setdefault(first, []).append((column, last))
                tail = text[cut:]
        finally:
            source.close()

    def fill(self, number: int, cells: list[str | None]) -> list[str | None]:
        if not self.starts and not self.active:
            return cells
        self.active = [a for a in self.active if a[1] >= number]
        for column, _last, value in self.active:
            if value in (None, ""):
                continue
            if len(cells) < column:
                cells = cells + [None] * (column - len(cells))
            if cells[column - 1] in (None, ""):
                cells[column - 1] = value
        for column, last in self.starts.pop(number, ()):
            value = cells[column - 1] if column <= len(cells) else None
            self.active.append((column, last, value))
        return cells


def too_many_rows(what: str, limits: Settings) -> ExportError:
    return ExportError(
        f"the sheet {what}; the limit is {limits.max_sheet_rows:,} rows (the max_sheet_rows "
        "setting raises it; a bigger export loads as CSV)"
    )


def _row_cells(row: list[dict], limits: Settings) -> list[str | None]:
    """A parsed row's cell texts by column, trailing blanks dropped; a value beyond
    max_columns refuses the sheet."""
    values = {}
    for cell in row:
        text = _cell_text(cell["value"])
        if text in (None, ""):
            continue
        column = cell["column"]
        if column > limits.max_columns:
            raise ExportError(
                f"row {cell['row']:,} has a value in column {column:,}; an export has at most "
                f"{limits.max_columns:,} columns (the max_columns setting raises this limit)"
            )
        values[column] = text
    if not values:
        return []
    cells: list[str | None] = [None] * max(values)
    for column, text in values.items():
        cells[column - 1] = text
    return cells


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


def _read_parquet(path: Path, con: duckdb.DuckDBPyConnection, name: str, limits: Settings) -> Table:
    header = read_header(path, limits)
    if len(header) > limits.max_columns:
        raise too_many_columns(len(header), limits)
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


class RowWriter:
    """Temp table `name` (line_number, c0, c1, ... as text) written from [line, cell, cell, ...]
    rows in batches of BATCH_ROWS, so a long file never sits in memory whole."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str, width: int) -> None:
        self.con, self.name, self.width = con, name, width
        self.batch: list[list] = []
        self.created = False

    def add(self, record: list) -> None:
        self.batch.append(record)
        if len(self.batch) >= BATCH_ROWS:
            self.flush()

    def extend(self, records: Iterable[list]) -> None:
        for record in records:
            self.add(record)

    def flush(self) -> None:
        if self.batch or not self.created:
            _create_from_records(self.con, self.name, self.batch, self.width, not self.created)
            self.created = True
            self.batch = []

    def close(self) -> None:
        self.flush()


def _create_from_records(
    con: duckdb.DuckDBPyConnection,
    name: str,
    records: list[list],
    width: int,
    create: bool = True,
) -> None:
    """Temp table `name` (line_number, c0, c1, ... as text) from [line, cell, cell, ...] rows;
    `create` False appends to it."""
    import pandas as pd  # here, not at the top: a plain native CSV load never needs pandas

    frame = pd.DataFrame(records, columns=["line_number", *[f"c{i}" for i in range(width)]])
    frame = frame.astype({f"c{i}": "object" for i in range(width)})
    _create_from_frame(con, name, frame, width, create)


def _create_from_frame(
    con: duckdb.DuckDBPyConnection,
    name: str,
    frame: pd.DataFrame,
    width: int,
    create: bool = True,
) -> None:
    columns = ", ".join(f"cast(c{i} as varchar) as c{i}" for i in range(width))
    into = f"create or replace temp table {name} as" if create else f"insert into {name}"
    con.register(f"{name}_frame", frame)
    try:
        con.execute(
            f"{into} select cast(line_number as bigint) as line_number, {columns} from {name}_frame"
        )
    finally:
        con.unregister(f"{name}_frame")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else ""


def _not_utf8(raw: bytes, position: int) -> str:
    return _not_utf8_at(raw[:position].count(b"\n") + 1, raw[position])


def _not_utf8_at(line: int, byte: int) -> str:
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
