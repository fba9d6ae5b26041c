"""Load export files into the warehouse: per-file atomic, idempotent, then publish.

Each file runs in its own transaction on the private building copy (pipelines.warehouse.store):
a file that cannot be read, or whose rows are all invalid, is rolled back and leaves no trace;
invalid rows of a good file go to `rejected_rows` and the rest loads. Rows replace earlier rows
with the same key (loading is idempotent), so overlapping exports never duplicate, and a later
export of a booking updates it. The marts are rebuilt and the copy published only when at
least one file loaded; otherwise the published warehouse is not touched at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from pipelines.canonical import KINDS
from pipelines.ingest import pii
from pipelines.ingest.formats import (
    ADAPTER_MODULES,
    ExportError,
    ExportRows,
    is_profile,
    read_export,
)
from pipelines.ingest.formats.common import is_office_lock_file
from pipelines.ingest.formats.mapped import mappings_folder
from pipelines.ingest.formats.needs import MappingNeeded
from pipelines.ingest.validate import (
    DATETIME_FORMATS,
    capped_raw,
    capped_raw_sql,
    typed_columns,
    validate,
)
from pipelines.profile import (
    ProfileError,
    apply_names,
    expand_profile,
    read_profile_file,
    store_profile,
    stored_profile,
)
from pipelines.settings import Settings, load_settings
from pipelines.warehouse import build, snapshot, store

# Natural keys per kind (loading is idempotent).
KEYS: dict[str, tuple[str, ...]] = {name: kind.key for name, kind in KINDS.items()}
RAW_TABLES = {kind: f"raw_{kind}" for kind in KEYS}
# Files in an export folder that are never exports (mapping files, notes); named files load.
# A .toml in a folder that is a studio profile (by its content) loads, mapping files do not.
NOT_EXPORTS = {".toml", ".md", ".txt", ".pdf"}
# Files Windows Explorer leaves in a folder (hidden there, plain files once copied elsewhere):
# never exports, and Thumbs.db reads as an old binary workbook.
SYSTEM_FILES = {"thumbs.db", "ehthumbs.db", "desktop.ini"}
PROFILE_FORMAT = "studio-profile"
# The kinds whose rows name locations, rooms or therapists the studio profile may name too.
NAMED_KINDS = {"bookings", "rooms", "therapist_shifts"}
# A file's checked rows (validate) are temp table CHECKED, changed in place by the rules that
# reject more rows; they are read through temp view `export_checked`, which numbers them when
# the read streamed them in file order without line numbers (ExportRows.numbered).
CHECKED = "export_checked_rows"
LOAD_RUN_COLUMNS = (
    "load_id, file_name, sha256, kind, format, rows_read, rows_loaded, rows_rejected, "
    "started_at, finished_at, outcome, message, rows_repeated, rows_skipped"
)


@dataclass
class FileResult:
    """The outcome of loading one file, as the CLI and the upload page report it."""

    file_name: str
    outcome: str  # loaded | skipped | failed
    kind: str | None = None
    format: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    # rows whose key (a booking's id) a later row of the same file repeats: not stored, the
    # last row of each key is (rows_read = rows_loaded + rows_rejected + rows_repeated)
    rows_repeated: int = 0
    # rows that are not bookings (Jane's Never Booked, Vagaro's Personal Off): left out and
    # counted, `skip_note` saying which (rows_read = loaded + rejected + repeated + skipped)
    rows_skipped: int = 0
    skip_note: str = ""
    message: str = ""
    # a file whose mapping lacks answers: formats.needs.MappingNeeded.to_dict (the Data page
    # asks its questions)
    needs: dict | None = None

    def summary(self) -> str:
        """One line for people: what happened to the file and why."""
        if self.outcome == "failed":
            return f"{self.file_name}: not loaded: {self.message}"
        if self.outcome == "skipped":
            return f"{self.file_name}: skipped, {self.message}"
        line = (
            f"{self.file_name}: {self.kind} ({self.format}): {self.rows_read} "
            f"row{'s' * (self.rows_read != 1)} read, "
            f"{self.rows_loaded} loaded, {self.rows_rejected} rejected"
        )
        if self.rows_skipped:
            line += f", {self.rows_skipped} skipped" + (
                f" ({self.skip_note})" if self.skip_note else ""
            )
        notes = [self.message] if self.message else []
        if self.rows_repeated:
            notes.append(repeated_note(self.rows_repeated))
        return f"{line} ({'; '.join(notes)})" if notes else line


def skip_note(skipped: dict[str, int], why: str) -> str:
    """`1 Never Booked, 2 Archived: not appointments`: what a file's skipped rows were."""
    counts = ", ".join(f"{count} {word}" for word, count in skipped.items())
    return f"{counts}: {why}" if why else counts


def repeated_note(count: int) -> str:
    """What a file's rows that repeat an earlier id became, in the summary line."""
    if count == 1:
        return "1 row repeats an earlier id; the last one was kept"
    return f"{count} rows repeat an earlier id; the last one was kept"


class _OutcomeReportLater(Exception):
    """An outcome report read while other files of the load wait: it loads after them."""


class _NothingToPublish(Exception):
    """Raised inside the building block so that an unchanged warehouse is not republished."""


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files named, and the export files inside folders named (sorted; hidden files, Excel's
    lock files, Windows' Thumbs.db and desktop.ini, and mapping or note files skipped, studio
    profiles kept). Studio profiles come first, so the exports loaded with them already match
    its names."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and (p.suffix.lower() not in NOT_EXPORTS or _is_profile_file(p))
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and not is_office_lock_file(p)  # ~$Book.xlsx: Excel has Book.xlsx open
                and p.name.lower() not in SYSTEM_FILES
            )
        else:
            files.append(path)
    return sorted(files, key=lambda p: not _is_profile_file(p))  # stable: profiles first


def _is_profile_file(path: Path) -> bool:
    try:
        return path.is_file() and is_profile(path)
    except OSError:
        return False  # reported when the file's turn comes


def load_files(
    db: Path | str,
    paths: Iterable[Path | str],
    settings: Settings | None = None,
    location: str | None = None,
    progress: Callable[[FileResult], None] | None = None,
    display_names: dict[Path, str] | None = None,
    mapping: Path | list[Path] | None = None,
    allowed_locations: Iterable[str] | None = None,
) -> list[FileResult]:
    """Load files and folders into the warehouse at `db`; one result per file, in order.

    `display_names` gives the names to report and record for files (uploads are saved under
    temp names). `progress` is called after each file. `mapping` is a mapping file (TOML,
    pipelines.ingest.formats.mapped) for vendor exports, or a list of files and folders of them
    (each file takes the one its header fits); without it, each file takes its source's
    saved mapping from `mappings/` beside `db`, if any. Client details are hashed with the salt of
    pipelines.ingest.pii (STUDIO_OPS_SALT, else `client-salt` beside `db`). `allowed_locations`,
    when given, is the set of locations the person loading may write (the dashboard passes a
    manager's locations): rows of any other location are rejected with that reason.
    """
    from pipelines.ingest.pii import SaltSource

    settings = settings or load_settings()
    vendor = {
        "mapping": mapping,
        "mappings": None if mapping is not None else mappings_folder(db),
        "salt": SaltSource(db),
        "allowed": allowed_locations,
        "limits": settings,
    }
    files = expand_paths(paths)
    display_names = display_names or {}
    results: list[FileResult] = []
    try:
        with store.building(db, memory_mb=settings.load_memory_mb, preload=ADAPTER_MODULES) as con:
            # under the warehouse lock, so a demo swapped in meanwhile is refused as well
            if is_demo(con):
                raise DemoWarehouseError(
                    f"{db} holds the built-in demo chain (made-up data), which never mixes "
                    "with a studio's own exports: start your own warehouse with "
                    "`studio-ops init`, then load into it"
                )
            _start_change_log(con)
            # outcome reports (no-shows, cancellations) update bookings: they load after the
            # other files of the load, whatever their names, so their bookings are there
            first_pass = {**vendor, "outcomes_later": len(files) > 1}
            reports = []
            for path in files:
                name = display_names.get(path, str(path))
                result = _load_file(con, path, name, location, first_pass)
                if result is None:
                    reports.append(path)
                    continue
                results.append(result)
                if progress:
                    progress(result)
            for path in reports:
                result = _load_file(con, path, display_names.get(path, str(path)), location, vendor)
                results.append(result)
                if progress:
                    progress(result)
            if not any(r.outcome == "loaded" for r in results):
                raise _NothingToPublish
            # every load re-makes the profile's rooms and shifts: the days ahead move on
            with store.timed("studio profile: rooms and shifts"):
                expand_profile(con, settings.profile_days_ahead, date.today())
            build.build_marts(con, settings)
    except _NothingToPublish:
        pass
    return results


def _load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    file_name: str,
    location: str | None,
    vendor: dict | None = None,
) -> FileResult | None:
    """Load one file; None: an outcome report put off to the end of the load."""
    if not path.exists():
        return FileResult(file_name, "failed", message="no such file")
    if not path.is_file():
        return FileResult(file_name, "failed", message="not a file")
    try:
        refused = _not_an_export(path)
        if refused:
            return FileResult(file_name, "failed", message=refused)
        digest = _sha256(path)
    except OSError as error:
        return FileResult(file_name, "failed", message=f"cannot read the file ({error.strerror})")
    # a profile loaded before may be loaded again after another: it is skipped only when it
    # is the profile in force (_load_profile)
    profile = _is_profile_file(path)
    prior = (
        None
        if profile
        else con.execute(
            "select file_name from load_runs where sha256 = ? and outcome = 'loaded' limit 1",
            [digest],
        ).fetchone()
    )
    if prior:
        return FileResult(
            file_name, "skipped", message=f"already loaded (same content as {prior[0]})"
        )

    started = datetime.now()
    try:
        if profile:
            return _load_profile(con, path, file_name, digest, started, vendor or {})
        return _load_rows(con, path, file_name, location, digest, started, vendor or {})
    except _OutcomeReportLater:
        return None
    except MappingNeeded as error:
        return FileResult(file_name, "failed", message=str(error), needs=error.to_dict())
    except ExportError as error:
        return FileResult(file_name, "failed", message=str(error))
    except (duckdb.Error, OSError, MemoryError) as error:
        reason = store.disk_full_reason(error)
        if reason:  # nothing more can be written: the whole load stops, publishing nothing
            raise store.DiskFullError(
                f"{file_name}: not loaded: disk full ({reason}); the load stopped, "
                "nothing was published"
            ) from None
        if store.out_of_memory(error):
            limit = store.memory_advice(store.load_memory_mb(con))
            return FileResult(file_name, "failed", message=f"ran out of memory ({limit})")
        if isinstance(error, duckdb.Error):
            return FileResult(file_name, "failed", message=_first_line(error))
        return _unexpected(file_name, error)
    except Exception as error:  # a reader bug on a strange file fails that file, not the load
        return _unexpected(file_name, error)


def _unexpected(file_name: str, error: Exception) -> FileResult:
    """A reader bug on a strange file fails that file, not the load; one line for people."""
    if os.environ.get("STUDIO_OPS_DEBUG"):
        raise error
    # kept for developers (STUDIO_OPS_DEBUG re-raises); users get the one line below
    logging.getLogger("studio_ops.load").debug("%s failed", file_name, exc_info=error)
    return FileResult(
        file_name,
        "failed",
        message=f"cannot read the file ({type(error).__name__}: {_first_line(error)})",
    )


def _load_rows(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    file_name: str,
    location: str | None,
    digest: str,
    started: datetime,
    vendor: dict,
) -> FileResult:
    vendor = dict(vendor)
    allowed = vendor.pop("allowed", None)
    with store.timed(f"read and check {path.name}"):
        rows = _read_and_validate(con, path, location, vendor)
        # display names -> the studio profile's ids (a room calendar's "Willow" is the
        # profile's willow, as a booking's is); nothing to do without a profile
        if rows.kind in NAMED_KINDS:
            apply_names(con, CHECKED)
    _reject_other_locations(con, allowed)
    _reject_moved_bookings(con, rows.kind)
    if rows.rows_read == 0:
        # a quiet day's export (a location closed, a report with nothing in its range) is no
        # failure: a daily load of such a file must not stop a scheduled job, and nothing in
        # the warehouse depends on it (a booking missing from an export is never removed)
        return FileResult(
            file_name,
            "skipped",
            kind=rows.kind,
            format=rows.format,
            message=f"{rows.empty_why}: nothing to load",
        )
    valid, rejected = con.execute(
        "select count(*) filter (reason is null), count(*) filter (reason is not null) "
        "from export_checked"
    ).fetchone()
    rejected += len(rows.rejects)
    if valid == 0 and rejected:  # (a file of skipped rows only loads, storing nothing)
        first = con.execute(
            "select line_number, reason from export_checked where reason is not null "
            "order by line_number limit 1"
        ).fetchone()
        if rows.rejects and (first is None or rows.rejects[0][0] < first[0]):
            first = rows.rejects[0][:2]
        raise ExportError(f"every row was rejected (first: line {first[0]}: {first[1]})")
    repeated = _repeated_rows(con, rows.kind)

    # Reading and checking used temp tables only; the writes below are one transaction.
    con.execute("begin transaction")
    try:
        with store.timed(f"write {path.name}"):
            _write_rows(con, rows, file_name, digest, started, valid - repeated, rejected, repeated)
            con.execute("commit")
    except BaseException:
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass  # a failed commit (a full disk) already ended it; report the first error
        raise
    con.execute(f"drop table if exists export_rows; drop view export_checked; drop table {CHECKED}")
    return FileResult(
        file_name,
        "loaded",
        kind=rows.kind,
        format=rows.format,
        rows_read=rows.rows_read,
        rows_loaded=valid - repeated,
        rows_rejected=rejected,
        rows_repeated=repeated,
        rows_skipped=sum(rows.skipped.values()),
        skip_note=skip_note(rows.skipped, rows.skip_why),
    )


def _repeated_rows(con: duckdb.DuckDBPyConnection, kind: str) -> int:
    """How many valid rows of the file repeat the key of a later valid row (`_upsert` keeps
    only the last): reported, so that '1905 loaded' never stands for 794 stored bookings.

    The repeated keys and their last lines are kept in temp table `repeated_keys` for
    `_upsert`: grouping every row by its key is the costly part, and is done once."""
    key_list = ", ".join(KEYS[kind])
    # Keys repeated within the file are rare: found with a hash aggregate, not a sort. The
    # rows are first grouped by a hash of their key, a number, which is cheaper to group 10M
    # rows by than the key's text; only the rows of the hashes seen twice are then grouped by
    # the key itself (two keys may share a hash, so it is only a first sieve).
    con.execute(
        f"""
        create or replace temp table repeated_keys as
        with repeated_hashes as (
            select hash({key_list}) as key_hash
            from export_checked
            where reason is null
            group by all
            having count(*) > 1
        )
        select {key_list}, max(line_number) as last_line, count(*) as rows
        from export_checked
        where reason is null and hash({key_list}) in (select key_hash from repeated_hashes)
        group by all
        having count(*) > 1
        """
    )
    return con.execute("select coalesce(sum(rows - 1), 0)::bigint from repeated_keys").fetchone()[0]


def _load_profile(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    file_name: str,
    digest: str,
    started: datetime,
    vendor: dict,
) -> FileResult:
    """Load a studio profile: checked whole (a bad one fails in one line naming the key and
    changes nothing), kept as the profile in force, its locations written as location rows.
    The marts are then rebuilt whole (a new profile can change every day of the calendar)."""
    limits = vendor.get("limits") or Settings()
    try:
        text, profile = read_profile_file(path, file_name, limits.max_profile_kb)
    except ProfileError as error:
        message = str(error).removeprefix(f"{file_name}: ")
        return FileResult(file_name, "failed", kind="profile", message=message)
    current = con.execute(
        "select profile_toml from studio_profile order by loaded_at desc, rowid desc limit 1"
    ).fetchone()
    if current and current[0] == text:
        return FileResult(file_name, "skipped", message="already the studio profile in force")
    allowed = vendor.get("allowed")
    if allowed is not None:
        # a profile describes the whole studio: a person who may load only some locations
        # would replace the others' rooms and shifts too
        before = stored_profile(con)
        ids = {loc.id for loc in profile.locations}
        ids |= {loc.id for loc in before.locations} if before else set()
        outside = sorted(ids - set(allowed))
        if outside:
            return FileResult(
                file_name,
                "failed",
                kind="profile",
                message=f"the studio profile describes location {outside[0]}, which is not "
                "one of your locations (an owner loads the profile)",
            )
    count = len(profile.locations)
    con.execute("begin transaction")
    try:
        load_id = con.execute("select nextval('load_id_seq')").fetchone()[0]
        store_profile(con, profile, text, file_name, load_id)
        con.execute(
            f"insert into load_runs ({LOAD_RUN_COLUMNS}) values "
            "(?, ?, ?, 'profile', ?, ?, ?, 0, ?, now()::timestamp, 'loaded', null, 0, 0)",
            [load_id, file_name, digest, PROFILE_FORMAT, count, count, started],
        )
        con.execute("commit")
    except BaseException:
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass
        raise
    _stop_change_log(con)
    rooms = sum(len(loc.rooms) for loc in profile.locations)
    therapists = sum(len(loc.therapists) for loc in profile.locations)
    return FileResult(
        file_name,
        "loaded",
        kind="profile",
        format=PROFILE_FORMAT,
        rows_read=count,
        rows_loaded=count,
        message=f"{count} location{'s' * (count != 1)}, {rooms} room{'s' * (rooms != 1)}, "
        f"{therapists} therapist{'s' * (therapists != 1)}",
    )


def _read_and_validate(
    con: duckdb.DuckDBPyConnection, path: Path, location: str | None, vendor: dict
) -> ExportRows:
    """Read and validate a file into temp table CHECKED, read through view `export_checked`.

    A native CSV is read in one pass: DuckDB's parallel parser streams its cells into the
    checks, and only the checked, typed rows are stored (numbered by row id, in file order).
    When the parser refuses the file or its records are not one line each (so line numbers
    would be off), it is read again by the careful path, which rejects single rows with exact
    lines. Client ids that are emails or phones are hashed: a file that has one is checked
    again with them hashed (the salt is only asked for then).
    """
    vendor = dict(vendor)
    later = vendor.pop("outcomes_later", False)
    rows = read_export(path, con, "export_rows", location, **vendor)
    if rows.outcome is not None and later:
        con.execute(f"drop table if exists {rows.table}")
        raise _OutcomeReportLater
    if rows.outcome is not None:  # a no-show or cancellation report: it updates, never adds
        _match_outcomes(con, rows)
        _number_checked(con, numbered=True)
        return rows
    longest = (vendor.get("limits") or Settings()).max_booking_hours
    if rows.plain_records is not None:
        try:
            _check(con, rows, longest)
            count = con.execute(f"select count(*) from {CHECKED}").fetchone()[0]
            if count == rows.plain_records:
                if rows.hashed is not None and _has_contact_client_ids(con):
                    rows.table, rows.params, rows.raw_row = rows.hashed()
                    _check(con, rows, longest)
                rows.rows_read = count
                con.execute("drop table if exists export_rows")
                _number_checked(con, rows.numbered)
                return rows
        except duckdb.Error:
            pass
        rows = read_export(path, con, "export_rows", location, fast=False, **vendor)
    _check(con, rows, longest)
    con.execute("drop table if exists export_rows")
    _number_checked(con, rows.numbered)
    return rows


def _check(con: duckdb.DuckDBPyConnection, rows: ExportRows, longest: int) -> None:
    """Validate what the file's read gives into CHECKED; a streamed native read keeps every
    row's client_id (the rejected rows' too), for `_has_contact_client_ids`."""
    kept = ("client_id",) if rows.hashed is not None else ()
    validate(
        con,
        rows.kind,
        rows.table,
        CHECKED,
        rows.params,
        rows.raw_row,
        longest,
        numbered=rows.numbered,
        kept=kept,
    )


def _has_contact_client_ids(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any checked row's client_id (as written, trimmed) is an email or a phone."""
    return con.execute(
        f"select exists (select 1 from {CHECKED} where {pii.contact_shaped_sql('client_id')})"
    ).fetchone()[0]


def _number_checked(con: duckdb.DuckDBPyConnection, numbered: bool) -> None:
    """View `export_checked` over CHECKED, with each row's line: a streamed read's rows are in
    file order after the header, one line each (checked against plain_records)."""
    line = "" if numbered else "rowid + 2 as line_number, "
    con.execute(f"create or replace temp view export_checked as select {line}* from {CHECKED}")


# What an outcome report's match fields compare: the report row's value, the stored booking's.
_OUTCOME_MATCH_SQL = {
    "client": "stored.client_id = report.client_id",
    "date": "cast(stored.start_at as date) = report.day_value",
    "start": "stored.start_at = report.start_value",
    "therapist": "stored.therapist_id = report.therapist_id",
    "service": "lower(trim(stored.service)) = lower(trim(report.service))",
    "room": "stored.room_id = report.room_id",
    "booking_id": "stored.booking_id = report.booking_id",
}
# ... and the report cell each needs (a row without it is rejected with this reason).
_OUTCOME_NEEDS = {
    "client": ("client_id is null", "'client is missing'"),
    "date": ("start_at is null", "'date is missing'"),
    "start": ("start_at is null", "'start is missing'"),
    "therapist": ("therapist_id is null", "'therapist_id is missing'"),
    "service": ("service is null", "'service is missing'"),
    "room": ("room_id is null", "'room_id is missing'"),
    "booking_id": ("booking_id is null", "'booking_id is missing'"),
}


def _match_outcomes(con: duckdb.DuckDBPyConnection, rows: ExportRows) -> None:
    """An outcome report's rows (temp table `rows.table`) -> `export_checked`, as validate
    makes it: each row that matches exactly one stored booking of its source and location on
    the [outcome] match fields becomes that booking with the report's status (and its
    cancellation time, when the report gives one); any other row is rejected with a reason.

    The rows then take the path of every booking row (`_reject_other_locations`,
    `_reject_moved_bookings`, `_upsert`), so a report never creates a booking, never moves
    one, only changes a manager's own locations, and logs the changed days and clients for the
    incremental refresh. Rows are matched after the profile's names are applied, as the
    appointment book's were."""
    assert rows.outcome is not None
    match, status = rows.outcome["match"], rows.outcome["status"]
    source = rows.outcome.get("source")  # [outcome] source, else the report's own
    apply_names(con, rows.table)
    formats = "[" + ", ".join(f"'{f}'" for f in DATETIME_FORMATS) + "]"
    needs = [
        (
            "location_id is null",
            "'location_id is missing (add the column or pass --location)'",
        )
    ]
    needs += [_OUTCOME_NEEDS[m] for m in match]
    if "date" in match:
        needs.append(("day_value is null", "'date ' || quoted(start_at) || ' is not a date'"))
    if "start" in match:
        needs.append(
            (
                "start_value is null",
                "'start ' || quoted(start_at) || ' has no time of day' "
                "|| case when day_value is null then ' or is not a date' else '' end",
            )
        )
    needs.append(
        (
            "cancelled_at is not null and cancelled_value is null",
            "'cancelled_at ' || quoted(cancelled_at) || ' is not a date-time'",
        )
    )
    own_reason = "case " + " ".join(f"when {c} then {why}" for c, why in needs) + " end"
    fields = ", ".join(m.replace("_", " ") for m in match)
    on = " and ".join(_OUTCOME_MATCH_SQL[m] for m in match)
    typed = typed_columns("bookings")
    taken = {
        "status": "?",
        "status_word": "?",
        "cancelled_at": "coalesce(report.cancelled_value, stored.cancelled_at)",
    }
    picked = ", ".join(
        f"case when report.reason is null then {taken.get(c, f'stored.{c}')} end as {c}"
        for c in typed
    )
    con.execute("create or replace temp macro quoted(x) as chr(39) || left(x, 60) || chr(39)")
    con.execute(
        f"""
        create or replace temp table {CHECKED} as
        with parsed as (
            select *,
                try_strptime(start_at, {formats}) as start_value,
                coalesce(
                    cast(try_strptime(start_at, {formats}) as date),
                    cast(try_strptime(start_at, '%Y-%m-%d') as date)
                ) as day_value,
                try_strptime(cancelled_at, {formats}) as cancelled_value
            from {rows.table}
        ),
        checked as (select *, {own_reason} as own_reason from parsed),
        matched as (
            select report.line_number, count(*) as bookings, min(stored.rowid) as row_id
            from checked as report
            join raw_bookings as stored
                on stored.source = coalesce(?, report.source)
                and stored.location_id = report.location_id
                and {on}
            where report.own_reason is null
            group by report.line_number
        ),
        report as (
            select checked.*, matched.row_id, coalesce(
                own_reason,
                case
                    when matched.bookings is null then
                        'matches no booking loaded (same location and {fields}); load the '
                        || 'appointment book first'
                    when matched.bookings > 1 then
                        'matches ' || matched.bookings || ' bookings (same location and '
                        || '{fields}); add a field to [outcome] match to tell them apart'
                end
            ) as reason
            from checked left join matched using (line_number)
        )
        select report.line_number,
            case when report.reason is not null then {capped_raw_sql(f"({rows.raw_row})")} end
                as raw_row,
            report.reason, {picked}
        from report left join raw_bookings as stored on stored.rowid = report.row_id
        """,
        [source, status, status],
    )
    con.execute(f"drop table if exists {rows.table}")


def _reject_other_locations(con: duckdb.DuckDBPyConnection, allowed: Iterable[str] | None) -> None:
    """Reject rows of locations the person loading may not write (None: any location)."""
    if allowed is None:
        return
    con.execute(
        f"""
        update {CHECKED}
        set reason = printf('location_id ''%s'' is not one of your locations', location_id)
        where reason is null and not list_contains(?, location_id)
        """,
        [sorted(set(allowed))],
    )


def _reject_moved_bookings(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Reject bookings whose key is already stored under another location, for every loader.

    Bookings are keyed by (source, booking_id), without the location, so without this an
    export saying L01 could replace L02's rows (a manager of L01 could cancel L02's bookings).
    A booking never moves location: such a row is rejected with the stored location as reason.
    Leaves the stored rows the file's valid rows replace in temp table `replaced_rows` (row id
    and key), so `_upsert` needs no second scan of raw_bookings.
    """
    con.execute("drop table if exists replaced_rows")
    if kind != "bookings":
        return
    if not con.execute("select exists (select 1 from raw_bookings)").fetchone()[0]:
        return  # a chain's first bookings: nothing stored, nothing to replace (see _upsert)
    con.execute(
        """
        create temp table replaced_rows as
        select stored.rowid as row_id, stored.source, stored.booking_id, stored.location_id
        from raw_bookings as stored
        semi join (
            select distinct source, booking_id from export_checked where reason is null
        ) as new_keys
            on stored.source = new_keys.source and stored.booking_id = new_keys.booking_id
        """
    )
    moved = con.execute(
        f"""
        update {CHECKED} as new
        set reason = printf(
            'booking %s belongs to location %s; a booking never moves location',
            new.booking_id, stored.location_id
        )
        from replaced_rows as stored
        where new.reason is null
          and new.source = stored.source
          and new.booking_id = stored.booking_id
          and new.location_id is distinct from stored.location_id
        """
    ).fetchone()[0]
    if moved:  # the stored rows of rejected keys stay as they are
        con.execute(
            """
            delete from replaced_rows as stored
            where not exists (
                select 1 from export_checked as new
                where new.reason is null
                  and new.source = stored.source
                  and new.booking_id = stored.booking_id
            )
            """
        )


def _write_rows(
    con: duckdb.DuckDBPyConnection,
    rows: ExportRows,
    file_name: str,
    digest: str,
    started: datetime,
    loaded: int,
    rejected: int,
    repeated: int = 0,
) -> None:
    load_id = con.execute("select nextval('load_id_seq')").fetchone()[0]
    con.execute(
        """
        insert into rejected_rows
        select ?, ?, line_number, reason, raw_row from export_checked where reason is not null
        """,
        [load_id, file_name],
    )
    if rows.rejects:
        con.executemany(
            "insert into rejected_rows values (?, ?, ?, ?, ?)",
            # capped like the checked rows' raw text (a calendar event's, say, can be long)
            [
                [load_id, file_name, line, reason, capped_raw(raw)]
                for line, reason, raw in rows.rejects
            ],
        )
    _upsert(con, rows.kind, load_id)
    con.execute(
        f"""
        insert into load_runs ({LOAD_RUN_COLUMNS})
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, now()::timestamp, 'loaded', ?, ?, ?)
        """,
        [
            load_id,
            file_name,
            digest,
            rows.kind,
            rows.format,
            rows.rows_read,
            loaded,
            rejected,
            started,
            # what the skipped rows were (`2 Never Booked: not appointments`), else nothing
            skip_note(rows.skipped, rows.skip_why) or None,
            repeated,
            sum(rows.skipped.values()),
        ],
    )


def _upsert(con: duckdb.DuckDBPyConnection, kind: str, load_id: int) -> None:
    """Replace rows with the same natural key; within a file the last line wins."""
    table, key = RAW_TABLES[kind], KEYS[kind]
    columns = ", ".join(typed_columns(kind))
    key_list = ", ".join(key)
    new_rows = "(select * from export_checked where reason is null)"
    # An empty table (a chain's first load) has nothing to replace: skip the key lookups. Its
    # bookings, rooms or shifts touch every day of the marts, so they are rebuilt whole and
    # the change log is dropped (recording it took 1.2 s at 10M bookings).
    if not con.execute(f"select exists (select 1 from {table})").fetchone()[0]:
        if kind != "locations":
            _stop_change_log(con)
    else:
        if kind != "bookings":  # bookings: found by _reject_moved_bookings, in the same scan
            matches = " and ".join(f"{table}.{k} is not distinct from new_keys.{k}" for k in key)
            new_keys = f"(select distinct {key_list} from export_checked where reason is null)"
            # one scan finds the rows being replaced; a new day's rows usually replace none
            con.execute(
                f"""
                create or replace temp table replaced_rows as
                select rowid as row_id from {table} semi join {new_keys} as new_keys on {matches}
                """
            )
        if con.execute("select count(*) from replaced_rows").fetchone()[0]:
            replaced = f"(select * from {table} where rowid in (select row_id from replaced_rows))"
            _record_changes(con, kind, replaced)
            con.execute(f"delete from {table} where rowid in (select row_id from replaced_rows)")
        con.execute("drop table replaced_rows")
    _record_changes(con, kind, new_rows)
    # A key repeated within the file keeps its last line only (`repeated_keys`, found once by
    # _repeated_rows), rather than sorting every row in a window.
    later = " and ".join(f"new.{k} is not distinct from repeated.{k}" for k in key)
    con.execute(
        f"""
        insert into {table} ({columns}, load_id, line_number)
        select {", ".join(f"new.{c}" for c in typed_columns(kind))}, ?, new.line_number
        from {new_rows} as new
        anti join repeated_keys as repeated
            on {later} and new.line_number < repeated.last_line
        """,
        [load_id],
    )
    con.execute("drop table repeated_keys")
    if kind == "bookings" and store.exists(con, "changed_booking_loads", temporary=True):
        # an incremental build stages this load's bookings by their load id
        con.execute("insert into changed_booking_loads values (?)", [load_id])


def _start_change_log(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables of what this load touched, for the incremental mart refresh.

    `changed_location_days`: every (location_id, date) whose raw rows were added, replaced or
    removed (a booking counts on each date it spans); `changed_clients`: every client with a
    booking added or replaced; `changed_locations`: locations whose details changed;
    `changed_booking_loads`: the load ids of the bookings this load wrote.
    """
    con.execute(
        """
        create or replace temp table changed_location_days (location_id varchar, date date);
        create or replace temp table changed_clients (client_id varchar);
        create or replace temp table changed_locations (location_id varchar);
        create or replace temp table changed_booking_loads (load_id bigint);
        """
    )


def _stop_change_log(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the change log: this load's marts are rebuilt whole (no incremental refresh)."""
    con.execute(
        """
        drop table if exists changed_location_days;
        drop table if exists changed_clients;
        drop table if exists changed_locations;
        drop table if exists changed_booking_loads;
        """
    )


def _record_changes(con: duckdb.DuckDBPyConnection, kind: str, rows: str) -> None:
    """Add the location-days and clients of `rows` (a parenthesised SELECT) to the change log."""
    if not store.exists(con, "changed_clients", temporary=True):
        return  # stopped: the marts are rebuilt whole
    if kind == "bookings":
        con.execute(
            f"""
            insert into changed_location_days
            select distinct location_id, unnest(range(
                cast(start_at as date), cast(end_at as date) + interval 1 day, interval 1 day
            ))::date
            from {rows}
            """
        )
        con.execute(f"insert into changed_clients select distinct client_id from {rows}")
    elif kind == "locations":
        con.execute(f"insert into changed_locations select distinct location_id from {rows}")
    else:
        con.execute(
            f"insert into changed_location_days select distinct location_id, date from {rows}"
        )


class RealDataError(store.WarehouseError):
    """`build_demo` found real data where the demo was to go, and left it as it was."""


class DemoWarehouseError(store.WarehouseError):
    """A load into the demo's warehouse: refused whole, the demo left as it was."""


class NotEmptyError(store.WarehouseError):
    """`init_warehouse` found its file changed by a load or a demo meanwhile, and left it."""


# warehouse_info key: the last load of the demo chain. The demo is loaded into a fresh file,
# so its loads are the first ones; any later load (real data) has a higher id.
DEMO_LAST_LOAD = "demo_last_load_id"
# Whether the warehouse holds the demo chain and nothing else: it follows from what was loaded,
# not from a flag. Loads into the demo are refused (load_files), so only a warehouse from
# before that rule can hold the demo and real data; it counts as real data.
IS_DEMO_SQL = f"""
select coalesce((
    select not exists (
        select 1 from load_runs
        where outcome = 'loaded' and load_id > coalesce(try_cast(info.value as bigint), -1)
    )
    from warehouse_info as info
    where info.key = '{DEMO_LAST_LOAD}'
), false) as is_demo
"""


def build_demo(
    db: Path | str, *, settings: Settings | None = None, replace: bool = False
) -> list[FileResult]:
    """Generate the default demo chain (3 locations, a year) into a fresh warehouse at `db`.

    The demo is built beside `db` and swapped in with one rename, so an open dashboard never
    sees it half-built. It holds the warehouse's lock from its check to its swap, the lock
    every load holds, so a load and a demo never interleave: a load either finds the new demo
    (and is refused, see load_files) or is replaced by it. Without `replace`, a warehouse
    holding real data, or made empty by `init_warehouse`, is left as it is (RealDataError),
    even if that data was loaded while the demo waited for the lock.
    """
    from pipelines.demo.generate import write_chain  # the generator is only needed for demos

    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    fresh = db.with_name(db.name + ".demo")
    with store.exclusive_lock(db):
        state = "demo" if replace else _warehouse_state(db)
        if state == "real":
            raise RealDataError(f"{db} holds real data, not the demo")
        if state == "empty":  # made by `studio-ops init` for a studio's own exports
            raise RealDataError(f"{db} is a studio's own warehouse (empty), not the demo")
        for leftover in (fresh, fresh.with_name(fresh.name + ".building")):
            leftover.unlink(missing_ok=True)
        exports = Path(tempfile.mkdtemp(prefix="studio-ops-demo-"))
        try:
            write_chain(exports)
            results = load_files(fresh, [exports], settings=settings)
            with store.building(fresh) as con:
                last = con.execute("select max(load_id) from load_runs").fetchone()[0]
                store.set_info(con, DEMO_LAST_LOAD, str(last))
            fresh.replace(db)
        finally:
            shutil.rmtree(exports, ignore_errors=True)
            fresh.unlink(missing_ok=True)
            fresh.with_name(fresh.name + ".lock").unlink(missing_ok=True)
            store.previous_snapshot(fresh).unlink(missing_ok=True)
    return results


def rebuild_marts(db: Path | str, *, settings: Settings | None = None) -> str:
    """Rebuild the marts of the warehouse at `db` whole, with today's SQL and settings, and
    publish them (`studio-ops rebuild`): a warehouse built by an older studio-ops gets the
    columns today's pages read, without loading a file. Returns the build's mode."""
    db = Path(db)
    if not db.is_file():
        raise store.WarehouseError(f"{db}: no warehouse here (studio-ops init creates one)")
    settings = settings or load_settings()
    with store.building(db, memory_mb=settings.load_memory_mb) as con:
        with store.timed("studio profile: rooms and shifts"):
            expand_profile(con, settings.profile_days_ahead, date.today())
        return build.build_marts(con, settings)


def init_warehouse(db: Path | str, *, settings: Settings | None = None) -> str:
    """Create an empty warehouse for a studio's own data at `db`; returns what was done.

    Its tables and marts exist (empty), so every page opens on it and says what to load. A
    warehouse holding only the demo chain is replaced (the demo is made up, and `studio-ops
    demo` rebuilds it in its own file); one holding loaded exports ("holds data") or none
    ("exists") is already what `init` makes, and is left as it is."""
    db = Path(db)
    state = _warehouse_state(db)
    if state in ("real", "empty"):
        return "holds data" if state == "real" else "exists"
    # Built beside `db` and swapped in with one rename, under the lock every load holds.
    fresh = db.with_name(db.name + ".init")
    fresh.unlink(missing_ok=True)
    try:
        with store.building(fresh) as con:
            build.build_marts(con, settings or load_settings())
        with store.exclusive_lock(db):
            if _warehouse_state(db) != state:  # a load or a demo got there first: keep it
                raise NotEmptyError(
                    f"{db} changed while init ran (a load or a demo); nothing changed, "
                    "run `studio-ops init` again"
                )
            fresh.replace(db)
    finally:
        fresh.unlink(missing_ok=True)
        fresh.with_name(fresh.name + ".lock").unlink(missing_ok=True)
    return "created" if state == "absent" else "replaced the demo"


def _warehouse_state(db: Path) -> str:
    """absent | demo | empty (no loaded file) | real (loaded exports)."""
    if not db.exists():
        return "absent"
    con = snapshot.open_snapshot(db)
    try:
        if is_demo(con):
            return "demo"
        if not store.exists(con, "load_runs"):
            return "empty"
        loaded = con.execute("select count(*) from load_runs where outcome = 'loaded'")
        return "real" if loaded.fetchone()[0] else "empty"
    finally:
        con.close()


def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds the built-in demo chain and nothing loaded since."""
    if not store.exists(con, "warehouse_info") or not store.exists(con, "load_runs"):
        return False
    return bool(con.execute(IS_DEMO_SQL).fetchone()[0])


# A block of the file system: a sparse file's holes, which read as NUL bytes, are this size.
BLOCK = 4096


def _not_an_export(path: Path) -> str | None:
    """Why `path` cannot be an export, found before it is hashed (None: it may be one).

    Hashing reads every byte: a 20 GB sparse file took 55 s before the reader refused its NUL
    bytes. So a file that starts with a block of NUL bytes, or has holes, is refused first."""
    with open(path, "rb") as handle:
        head = handle.read(BLOCK)
        if head and not head.strip(b"\0"):
            return "this is not an export (it starts with NUL bytes)"
        if _has_holes(handle.fileno()):
            return "this is not an export (a sparse file: its holes read as NUL bytes)"
    return None


def _has_holes(fd: int) -> bool:
    size = os.fstat(fd).st_size
    try:
        return os.lseek(fd, 0, os.SEEK_HOLE) < size
    except OSError:  # no SEEK_HOLE here: far fewer blocks than bytes means holes
        blocks = os.fstat(fd).st_blocks
        return size > 1 << 20 and blocks * 512 < size // 16


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
