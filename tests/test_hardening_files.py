"""Hardening (issue 13, items 7, 8, 15 and 18's counts): hostile export files.

Every hostile input is made here by a small generator. Each goes through the real
`studio-ops load` in a child process (tests/hostile.py): one line naming the file, the problem
and, for a limit, the limit and the setting that raises it; time and peak memory bounds; and a
warehouse that is byte-for-byte what it was. Limits are lowered through the settings file to
show the mechanism on small inputs, with one case at the defaults for each.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.hostile import PEAK_MB, SECONDS, fingerprint, run_cli
from tests.test_load import BOOKING_HEADER, booking, write_csv

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "vendors"
MINDBODY = FIXTURES / "ScheduleAtAGlance.xls"
HEADER = ",".join(BOOKING_HEADER)
GOOD_ROW = ",".join(booking().values())
MB = 1024 * 1024


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seed")
    db = folder / "studio.duckdb"
    rows = [
        booking(
            booking_id=f"S{i}",
            start_at=f"2024-03-0{i + 1} 10:00",
            end_at=f"2024-03-0{i + 1} 11:00",
        )
        for i in range(3)
    ]
    load_files(db, [write_csv(folder / "seed.csv", BOOKING_HEADER, rows)], Settings())
    return db


@pytest.fixture
def db(tmp_path: Path, seeded_template: Path) -> Path:
    """A published warehouse holding three bookings."""
    path = tmp_path / "studio.duckdb"
    shutil.copyfile(seeded_template, path)
    return path


def with_settings(tmp_path: Path, **values: int) -> dict[str, str]:
    """The environment of a run whose settings file lowers some limits."""
    path = tmp_path / "studio-ops.toml"
    path.write_text("".join(f"{name} = {value}\n" for name, value in values.items()))
    return {"STUDIO_OPS_SETTINGS": str(path)}


def refused(db: Path, path: Path, pattern: str, env: dict[str, str] | None = None):
    """Load `path` with the real CLI: it must fail with one line matching `pattern`, within the
    time and memory bounds, and leave the warehouse as it was."""
    before = fingerprint(db)
    run = run_cli("load", str(path), "--db", str(db), "--location", "L01", env=env)
    assert run.returncode == 1, run.lines
    assert "Traceback" not in run.stdout + run.stderr
    assert run.lines[0].startswith(f"{path}: not loaded: "), run.lines
    assert re.search(pattern, run.lines[0]), run.lines[0]
    assert len(run.lines[0]) < 400
    assert run.seconds < SECONDS, f"{run.seconds:.1f} s"
    assert run.peak_mb < PEAK_MB, f"{run.peak_mb:.0f} MB"
    assert fingerprint(db) == before
    return run


# --- Mindbody HTML (item 7) --------------------------------------------------------------------


def test_mindbody_html_with_200k_unclosed_tags_is_read_in_linear_time(
    tmp_path: Path, db: Path
) -> None:
    # html.parser rescans the rest of the input at every unclosed `<a`: 50,000 took 10 s and
    # 200,000 107 s. A linear parser reads this (400 KB) in well under a second.
    path = tmp_path / "ScheduleAtAGlance.xls"
    head = "<html><body><table><tr><th>Date</th><th>Client</th><th>Status</th></tr>"
    path.write_text(head + "<a" * 200_000)
    # the header's table holds no row: nothing to load, a skip like any header-only export
    before = fingerprint(db)
    run = run_cli("load", str(path), "--db", str(db), "--location", "L01")
    assert run.returncode == 0, run.lines
    assert run.lines[0] == f"{path}: skipped, the file has a header but no rows: nothing to load"
    assert fingerprint(db) == before
    assert run.seconds < 20, f"{run.seconds:.1f} s"


def test_mindbody_html_over_the_size_limit_is_refused_unread(tmp_path: Path, db: Path) -> None:
    # 3.1 MB of well-formed rows (40,000 copies of one 82-byte row) against a 2 MB limit.
    path = tmp_path / "ScheduleAtAGlance.xls"
    row = "<tr><td>3/2/2026</td><td>9:00 AM</td><td>Okafor, Maya</td><td>Completed</td></tr>\n"
    body = "<table><tr><th>Date</th><th>Start Time</th><th>Client</th><th>Status</th></tr>\n"
    path.write_text("<html><body>" + body + row * 40_000 + "</table></body></html>")
    size_mb = round(path.stat().st_size / MB)
    refused(
        db,
        path,
        rf"the HTML export is {size_mb} MB, over the 2 MB limit \(the max_html_mb setting "
        r"raises it\)",
        env=with_settings(tmp_path, max_html_mb=2),
    )


def test_mindbody_fixture_still_loads_with_lines_and_staff(tmp_path: Path) -> None:
    # The fixture: two staff tables with 3 and 2 appointments (5 rows), staff from the
    # "Staff: Last, First" row above each header.
    mapping = tmp_path / "m.toml"
    mapping.write_text('[source]\nlocation = "L01"\n')
    [result] = load_files(tmp_path / "w.duckdb", [MINDBODY], Settings(), mapping=mapping)
    assert result.outcome == "loaded", result.summary()
    assert result.rows_read == result.rows_loaded + result.rows_rejected + result.rows_repeated


# --- xlsx bombs and huge sheets (item 8, 15) ---------------------------------------------------

SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def base_workbook() -> bytes:
    """A real two-row bookings workbook (openpyxl), the parts a hostile one is built from."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(BOOKING_HEADER)
    book.active.append(list(booking().values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def workbook(path: Path, replace: dict[str, object]) -> Path:
    """The base workbook with some parts replaced: bytes, or a generator of byte chunks
    (streamed through deflate, so a GB-sized part costs no GB of memory here)."""
    with (
        zipfile.ZipFile(io.BytesIO(base_workbook())) as base,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        names = [info.filename for info in base.infolist()]
        for name in names + [n for n in replace if n not in names]:
            content = replace.get(name, base.read(name) if name in names else b"")
            if isinstance(content, bytes):
                out.writestr(name, content)
            else:
                with out.open(name, "w", force_zip64=True) as part:
                    for chunk in content:
                        part.write(chunk)
    return path


def inline_row(number: int, values: list[str], columns: list[str] | None = None) -> str:
    letters = columns or [chr(ord("A") + i) for i in range(len(values))]
    cells = "".join(
        f'<c r="{col}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for col, v in zip(letters, values, strict=True)
    )
    return f'<row r="{number}">{cells}</row>'


def test_shared_strings_bomb_is_refused_before_inflating(tmp_path: Path, db: Path) -> None:
    # 40 MB of one repeated string deflates about 1,000 to 1: over the default ratio of 200,
    # while the whole workbook (40 MB) stays under the default 300 MB.
    def bomb():
        yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        for _ in range(40):
            yield b"<si><t>x</t></si>" * (MB // 16)
        yield b"</sst>"

    path = workbook(tmp_path / "AppointmentSummary.xlsx", {"xl/sharedStrings.xml": bomb()})
    refused(
        db,
        path,
        r"the workbook part 'xl/sharedStrings.xml' unpacks to [\d,]+ times its packed size, "
        r"over the limit of 200 \(the max_zip_ratio setting raises it\)",
    )


def test_workbook_unpacking_beyond_the_size_limit_is_refused(tmp_path: Path, db: Path) -> None:
    # Shared strings of distinct numbers (about 5 to 1 packed): 6 MB against a 5 MB limit.
    def strings():
        yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        yield b"".join(b"<si><t>%d</t></si>" % i for i in range(6 * MB // 20))
        yield b"</sst>"

    path = workbook(tmp_path / "big.xlsx", {"xl/sharedStrings.xml": strings()})
    refused(
        db,
        path,
        r"the workbook unpacks to \d+ MB, over the 5 MB limit \(the max_workbook_mb setting "
        r"raises it\)",
        env=with_settings(tmp_path, max_workbook_mb=5),
    )


def test_sheet_declaring_a_million_rows_is_refused_at_the_default(tmp_path: Path, db: Path) -> None:
    # The sheet's own <dimension> says A1:N1048576 (Excel's last row); the limit is 300,000.
    sheet = (
        SHEET_HEAD + '<dimension ref="A1:N1048576"/><sheetData>'
        + inline_row(1, BOOKING_HEADER) + inline_row(2, list(booking().values()))
        + "</sheetData></worksheet>"
    ).encode()  # fmt: skip
    path = workbook(tmp_path / "sheet.xlsx", {"xl/worksheets/sheet1.xml": sheet})
    refused(
        db,
        path,
        r"the sheet says it has 1,048,576 rows; the limit is 300,000 rows \(the max_sheet_rows "
        r"setting raises it; a bigger export loads as CSV\)",
    )


def test_sheet_with_more_rows_than_the_limit_is_refused_while_streaming(
    tmp_path: Path, db: Path
) -> None:
    # No <dimension>: 2,001 stored rows (a header and 2,000 bookings) against a limit of 1,000.
    def sheet():
        yield (SHEET_HEAD + "<sheetData>" + inline_row(1, BOOKING_HEADER)).encode()
        values = list(booking().values())
        for number in range(2, 2002):
            yield inline_row(number, values).encode()
        yield b"</sheetData></worksheet>"

    path = workbook(tmp_path / "sheet.xlsx", {"xl/worksheets/sheet1.xml": sheet()})
    refused(
        db,
        path,
        r"the sheet has more than 1,000 rows; the limit is 1,000 rows \(the max_sheet_rows "
        r"setting raises it",
        env=with_settings(tmp_path, max_sheet_rows=1000),
    )


def test_very_wide_sheet_is_refused_without_padding_every_row(tmp_path: Path, db: Path) -> None:
    # 50,000 rows, each with one value in column XFD (16,384, Excel's last): openpyxl's row
    # iterator padded every row to 16,384 cells (820M cells) before anything was checked.
    def sheet():
        yield (SHEET_HEAD + '<dimension ref="A1:XFD50000"/><sheetData>').encode()
        yield inline_row(1, BOOKING_HEADER).encode()
        for number in range(2, 50_001):
            yield inline_row(number, ["x"], ["XFD"]).encode()
        yield b"</sheetData></worksheet>"

    path = workbook(tmp_path / "wide.xlsx", {"xl/worksheets/sheet1.xml": sheet()})
    refused(
        db,
        path,
        r"row 2 has a value in column 16,384; an export has at most 1,000 columns "
        r"\(the max_columns setting raises this limit\)",
    )


# --- huge CSV lines and headers (items 8, 15, 18) ---------------------------------------------


def test_a_60_mb_single_line_is_refused_at_the_default_line_limit(tmp_path: Path, db: Path) -> None:
    # Line 3 holds 30M fields ("x," times 30M, 60 MB). Before: DuckDB's parser held the line
    # (a 100 MB line took 18 s and 1.6 GB), then the slow path read the whole file again and
    # stored the line as a rejected row.
    path = tmp_path / "export.csv"
    with open(path, "w") as handle:
        handle.write(HEADER + "\n" + GOOD_ROW + "\n")
        for _ in range(30):
            handle.write("x," * (MB // 2))
        handle.write("\n")
    run = refused(
        db,
        path,
        r"line 3: the row is larger than 1,024 KB, the limit \(the max_line_kb setting raises "
        r"it\)",
    )
    assert run.peak_mb < 400, f"{run.peak_mb:.0f} MB"


def test_a_quoted_row_over_many_lines_is_held_to_the_line_limit(tmp_path: Path, db: Path) -> None:
    # A quoted service of 200 lines of 20 characters (4.2 KB) starting on line 3, against a
    # 2 KB limit: each line is short, the row is not.
    path = tmp_path / "export.csv"
    long_cell = '"' + ("y" * 20 + "\n") * 200 + '"'
    path.write_text(
        HEADER + "\n" + GOOD_ROW + "\n" + GOOD_ROW.replace("Ashiatsu 60", long_cell) + "\n"
    )
    refused(
        db,
        path,
        r"line 3: the row is larger than 2 KB, the limit \(the max_line_kb setting raises it\)",
        env=with_settings(tmp_path, max_line_kb=2),
    )


def test_a_100000_column_header_is_counted_whole(tmp_path: Path, db: Path) -> None:
    # 13 booking columns + 100,000 extra = 100,013 (the first 64 KB alone held 10,945).
    path = tmp_path / "export.csv"
    extra = ",".join(f"x{i}" for i in range(100_000))
    path.write_text(HEADER + "," + extra + "\n" + GOOD_ROW + "," * 100_000 + "\n")
    refused(
        db,
        path,
        r"the header has 100,013 columns; an export has at most 1,000 \(the max_columns "
        r"setting raises this limit\)",
    )


def test_vendor_rows_read_are_loaded_plus_rejected(tmp_path: Path) -> None:
    # Jane's report.csv fixture plus one row of 3 fields (the header has 11): that row is
    # rejected before checking, and must be counted as read too.
    fixture = FIXTURES / "report.csv"
    with open(fixture, newline="", encoding="utf-8-sig") as handle:
        fixture_rows = sum(1 for _ in csv.reader(handle)) - 1  # records after the header
    path = tmp_path / "report.csv"
    path.write_text(fixture.read_text(encoding="utf-8") + "J-999,2026-03-02,9:00 AM\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[source]\nlocation = "L01"\n')
    [result] = load_files(tmp_path / "w.duckdb", [path], Settings(), mapping=mapping)
    assert result.outcome == "loaded", result.summary()
    assert result.rows_read == fixture_rows + 1, result.summary()
    assert result.rows_read == result.rows_loaded + result.rows_rejected + result.rows_repeated, (
        result.summary()
    )


# --- bounded fuzzing of HTML (Mindbody) and xlsx ---------------------------------------------

FUZZ = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
HTML = MINDBODY.read_bytes()
TAG_SOUP = [b"<a", b"<table", b"</table>", b"<tr>", b"</tr>", b"<td>", b"<!--", b"&#", b"<br>"]


def _xlsx_variants():
    """The base workbook cut or spliced as bytes, or with its sheet XML cut or spliced."""
    base = base_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")

    def rezip(xml: bytes) -> bytes:
        out = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(base)) as old,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new,
        ):
            for info in old.infolist():
                data = xml if info.filename == "xl/worksheets/sheet1.xml" else old.read(info)
                new.writestr(info.filename, data)
        return out.getvalue()

    cut = hs.integers(0, len(sheet))
    return hs.one_of(
        hs.tuples(hs.integers(0, len(base)), hs.binary(max_size=40)).map(
            lambda t: base[: t[0]] + t[1] + base[t[0] :]
        ),
        hs.tuples(cut, hs.binary(max_size=60)).map(
            lambda t: rezip(sheet[: t[0]] + t[1] + sheet[t[0] :])
        ),
        cut.map(lambda n: rezip(sheet[:n])),
    )


def _html_variants():
    """The Mindbody fixture cut, or spliced with random bytes or runs of tag soup."""
    at = hs.integers(0, len(HTML))
    soup = hs.tuples(hs.sampled_from(TAG_SOUP), hs.integers(1, 2000)).map(lambda t: t[0] * t[1])
    return hs.one_of(
        at.map(lambda n: HTML[:n]),
        hs.tuples(at, hs.one_of(hs.binary(min_size=1, max_size=40), soup)).map(
            lambda t: HTML[: t[0]] + t[1] + HTML[t[0] :]
        ),
    )


def _one_outcome(db: Path, path: Path, content: bytes) -> None:
    path.write_bytes(content)
    before = fingerprint(db)
    [result] = load_files(db, [path], Settings(), location="L01")  # never raises
    line = result.summary()
    assert "\n" not in line and line.startswith(f"{path}: "), line
    assert "Traceback" not in line
    if result.outcome == "failed":
        assert fingerprint(db) == before
    else:
        assert (
            result.rows_read == result.rows_loaded + result.rows_rejected + result.rows_repeated
        ), line


@settings(max_examples=25, **FUZZ)
@given(content=_html_variants())
def test_fuzzed_mindbody_html_never_crashes_the_loader(
    tmp_path: Path, db: Path, content: bytes
) -> None:
    _one_outcome(db, tmp_path / "ScheduleAtAGlance.xls", content)


@settings(max_examples=25, **FUZZ)
@given(content=_xlsx_variants())
def test_fuzzed_xlsx_never_crashes_the_loader(tmp_path: Path, db: Path, content: bytes) -> None:
    _one_outcome(db, tmp_path / "AppointmentSummary.xlsx", content)
