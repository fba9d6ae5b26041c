"""Booking-system exports: detection by content, parsing, PII, ids, mappings, bad files, and a
round trip (the same generated chain, native and in each vendor format, gives the same marts)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from tests.hostile import fingerprint
from tests.test_load import file_digest, query

FIXTURES = Path(__file__).parent / "fixtures" / "vendors"
SALT = "test-salt-not-secret"

# fixture -> (adapter format, mapping text)
MAPPING = """
[source]
location = "L01"
[acuity]
calendar = "therapist"
[fresha]
rooms = ["CABINA 1", "CABINA 2"]
[ics]
location_is = "room"
"""
VENDOR_FILES = {
    "appointments-export.csv": "acuity-csv",
    "events-export.csv": "calendly-csv",
    "appointments.csv": "fresha-csv",
    "ScheduleAtAGlance.xls": "mindbody-html",
    "AppointmentSummary.xlsx": "vagaro-xlsx",
    "history.csv": "square-csv",
    "report.csv": "jane-csv",
    "calendar.ics": "ics",
}
# Every name, email and phone the fixtures hold (none may reach the warehouse).
PII = [
    "Okafor", "Maya", "maya.okafor", "447762992312", "7762992312", "Brooks", "theo.b",
    "Garcia", "3035550199", "555-0199", "Kim", "ava.kim", "Patel", "zoe@example",
    "Liam", "liam.chen", "Rosa Diaz", "rosa@example", "Ivy Park", "Giulia", "Bianchi",
    "giulia@example", "Marco Verdi", "Anna Neri", "555-0142", "3035550142", "Grace",
    "Whitfield", "720-555-0110", "555 0123", "Novak-Whitfield", "303.555.0142",
]  # fmt: skip


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(pii.SALT_ENV, SALT)
    return SALT


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "studio.toml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def copy_as(tmp_path: Path, fixture: str, name: str) -> Path:
    target = tmp_path / "in" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / fixture, target)
    return target


def bookings(db: Path, source: str) -> dict[str, tuple]:
    rows = query(
        db,
        "select booking_id, status, start_at::varchar, end_at::varchar, therapist_id, room_id,"
        " client_id, service, price::varchar, created_at::varchar from raw_bookings "
        "where source = ?",
        [source],
    )
    return {r[0]: r[1:] for r in rows}


def rejected(db: Path) -> list[tuple]:
    return query(db, "select line_number, reason, raw_row from rejected_rows order by all")


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture, expected", sorted(VENDOR_FILES.items()))
def test_detected_by_content_not_by_name(
    tmp_path: Path, mapping: Path, fixture: str, expected: str
) -> None:
    """Every vendor file is recognised under a misleading name and extension."""
    path = copy_as(tmp_path, fixture, "bookings.parquet")
    [result] = load_files(tmp_path / "w.duckdb", [path], mapping=mapping)
    assert result.outcome == "loaded", result.summary()
    assert result.format == expected
    assert result.kind == "bookings"


def test_folder_of_mixed_vendor_files_just_works(tmp_path: Path, mapping: Path) -> None:
    for fixture in VENDOR_FILES:
        copy_as(tmp_path, fixture, fixture)
    results = load_files(tmp_path / "w.duckdb", [tmp_path / "in"], mapping=mapping)
    assert {r.format for r in results} == set(VENDOR_FILES.values())
    assert all(r.outcome == "loaded" for r in results), [r.summary() for r in results]
    sources = {r[0] for r in query(tmp_path / "w.duckdb", "select source from raw_bookings")}
    assert sources == {
        "acuity",
        "calendly",
        "fresha",
        "mindbody",
        "vagaro",
        "square",
        "jane",
        "ics",
    }


def test_native_files_still_take_the_native_path(tmp_path: Path) -> None:
    path = tmp_path / "acuity.csv"  # a misleading name the other way round
    path.write_text(
        "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status\n"
        "B1,L01,T1,C1,Swedish 60,2026-03-02 09:00,2026-03-02 10:00,completed\n",
        encoding="utf-8",
    )
    [result] = load_files(tmp_path / "w.duckdb", [path])
    assert result.format == "native-csv"
    assert not (tmp_path / pii.SALT_FILE).exists()  # native ids need no salt


# --- parsing per vendor ----------------------------------------------------------------------


def test_acuity_long_dates_labels_and_intake_columns(tmp_path: Path, mapping: Path) -> None:
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [FIXTURES / "appointments-export.csv"], mapping=mapping)
    rows = bookings(db, "acuity")
    # am/pm long form, and the 24-hour variant some accounts use
    assert rows["380001"][:4] == (
        "completed",
        "2020-12-02 09:00:00",
        "2020-12-02 10:30:00",
        "Elena Novak",
    )
    assert rows["380002"][1:3] == ("2020-12-02 13:00:00", "2020-12-02 14:00:00")
    assert rows["380003"][0] == "no_show"  # a `No Show` label
    assert rows["380004"][0] == "completed"  # the free label "VIP" is not a status: past day
    assert rows["380001"][8] == "2020-11-20 00:00:00"  # Date Scheduled -> created_at
    assert rows["380003"][7] == "110.00"
    # A date that does not parse is passed through, so the reason shows the raw value.
    [(line, reason, _)] = rejected(db)
    assert line == 7 and "'December 32, 2020 9:00 am'" in reason
    assert result.rows_read == 5  # the quoted newline in an intake answer is one record


def test_calendly_flags_and_times(tmp_path: Path, mapping: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [FIXTURES / "events-export.csv"], mapping=mapping)
    rows = bookings(db, "calendly")
    assert rows["INV-1001"][:3] == ("completed", "2026-03-02 09:00:00", "2026-03-02 10:30:00")
    assert rows["INV-1002"][0] == "cancelled"
    assert rows["INV-1003"][:2] == ("no_show", "2026-03-04 16:15:00")
    assert rows["INV-1004"][0] == "booked"  # in the future
    assert rejected(db) == []


def test_fresha_dates_durations_and_pseudo_staff_rooms(tmp_path: Path, mapping: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [FIXTURES / "appointments.csv"], mapping=mapping)
    rows = bookings(db, "fresha")
    assert rows["#A1F3"][:5] == (
        "completed", "2026-07-04 15:00:00", "2026-07-04 16:30:00", "Sara Conti", "CABINA 1"
    )  # fmt: skip
    assert rows["#A1F4"][1:5] == (
        "2026-07-04 10:15:00",
        "2026-07-04 11:00:00",
        "Luca Russo",
        "CABINA 2",
    )
    assert rows["#A1F6"][:3] == ("completed", "2026-07-12 09:00:00", "2026-07-12 11:00:00")
    assert rows["#A1F3"][7] == "135.00"  # the euro sign is stripped
    [(_, reason, _)] = rejected(db)
    assert reason.startswith("start_at '13/07/2026 09:00'")  # never a day/month guess


def test_mindbody_tables_per_staff_and_statuses(tmp_path: Path, mapping: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [FIXTURES / "ScheduleAtAGlance.xls"], mapping=mapping)
    rows = sorted(bookings(db, "mindbody").values(), key=lambda r: (r[1], r[3]))
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("completed", "2026-03-02 09:00:00", "Elena Novak", "Willow"),
        ("completed", "2026-03-02 09:00:00", "Marcus Silva", "Cedar"),  # Arrived
        ("no_show", "2026-03-02 11:00:00", "Elena Novak", "Willow"),
        ("late_cancelled", "2026-03-03 13:15:00", "Elena Novak", "Cedar"),
        ("booked", "2026-03-30 16:00:00", "Marcus Silva", "Cedar"),
    ]
    [(_, reason, _)] = rejected(db)
    assert reason == "unknown status 'Rescheduled Online'"


def test_vagaro_preamble_totals_and_one_file_per_status(tmp_path: Path, mapping: Path) -> None:
    db = tmp_path / "w.duckdb"
    files = [FIXTURES / "AppointmentSummary.xlsx", FIXTURES / "AppointmentSummary (1).xlsx"]
    results = load_files(db, files, mapping=mapping)
    assert [r.rows_read for r in results] == [3, 2]  # the totals rows are not bookings
    rows = sorted(bookings(db, "vagaro").values(), key=lambda r: r[1])
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("completed", "2026-03-04 10:00:00", "Elena Novak"),  # an Excel date cell
        ("completed", "2026-03-05 14:00:00", "Marcus Silva"),
        ("completed", "2026-03-06 09:30:00", "Elena Novak"),  # Excel time cells; Show
        ("cancelled", "2026-03-07 11:00:00", "Marcus Silva"),
    ]
    assert [r[1] for r in rejected(db)] == ["unknown status 'Rescheduled'"]


def test_square_and_jane_statuses(tmp_path: Path, mapping: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [FIXTURES / "history.csv", FIXTURES / "report.csv"], mapping=mapping)
    square = {k: v[0] for k, v in bookings(db, "square").items()}
    assert square == {
        "sq_7Hk2aQ": "completed",  # ACCEPTED, in the past
        "sq_7Hk2aR": "no_show",
        "sq_7Hk2aS": "cancelled",
        "sq_7Hk2aT": "cancelled",  # DECLINED
        "sq_7Hk2aU": "booked",  # ACCEPTED, in the future
    }
    assert bookings(db, "square")["sq_7Hk2aQ"][4] == "Willow"  # the room resource
    jane = {k: v[0] for k, v in bookings(db, "jane").items()}
    assert jane == {
        "J-501": "completed",
        "J-502": "completed",
        "J-503": "no_show",
        "J-504": "booked",
        "J-505": "cancelled",  # Rescheduled: the old slot of a moved appointment
    }
    reasons = sorted(r[1] for r in rejected(db))
    assert reasons == ["unknown status 'PENDING_SELLER_REVIEW'"]


def test_ics_folding_zones_recurrence_and_cancelled_occurrences(
    tmp_path: Path, mapping: Path
) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [FIXTURES / "calendar.ics"], mapping=mapping)
    rows = bookings(db, "ics")
    weekly = sorted((k, v[0], v[1]) for k, v in rows.items() if k.startswith("weekly-theo"))
    # 5 Tuesdays, the 17th excluded (EXDATE), the 10th moved to Thursday the 12th, the 24th
    # cancelled; DST starts on March 8 and the wall-clock time stays 10:00.
    assert weekly == [
        ("weekly-theo-7h3k@google.com@20260303T170000Z", "completed", "2026-03-03 10:00:00"),
        ("weekly-theo-7h3k@google.com@20260310T160000Z", "completed", "2026-03-12 14:00:00"),
        ("weekly-theo-7h3k@google.com@20260324T160000Z", "cancelled", "2026-03-24 10:00:00"),
        ("weekly-theo-7h3k@google.com@20260331T160000Z", "completed", "2026-03-31 10:00:00"),
    ]
    # UTC -> X-WR-TIMEZONE (America/Denver); the calendar name is the therapist; LOCATION room
    assert rows["4k2j8f0s1d9q@google.com"][1:5] == (
        "2026-03-02 09:00:00", "2026-03-02 10:30:00", "Elena Novak", "Willow"
    )  # fmt: skip
    assert rows["4k2j8f0s1d9q@google.com"][8] == "2026-02-20 11:00:00"  # CREATED, local
    # TZID=America/New_York 15:00 EST is 13:00 in Denver; STATUS:CANCELLED; DURATION
    assert rows["ny-tz-event-91@google.com"][:3] == (
        "cancelled", "2026-03-05 13:00:00", "2026-03-05 14:30:00"
    )  # fmt: skip
    # a floating time is taken as it is; a folded SUMMARY is unfolded before matching
    assert rows["floating-1@google.com"][1] == "2026-03-09 15:00:00"
    reasons = {r[1] for r in rejected(db)}
    assert reasons == {
        "an all-day event is not an appointment",
        "SUMMARY does not match the [ics] summary pattern",
    }


def test_generic_mapping_file(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [FIXTURES / "legacy-bookings.csv"], mapping=FIXTURES / "legacy.toml")
    assert result.format == "mapped-csv", result.summary()
    rows = bookings(db, "mapped-legacy-eastside")
    assert {k: v[:2] for k, v in rows.items()} == {
        "7001": ("completed", "2026-03-02 09:00:00"),  # 02/03 is 2 March: the format says so
        "7002": ("no_show", "2026-03-03 14:00:00"),
        "7003": ("cancelled", "2026-03-04 16:00:00"),
        "7004": ("completed", "2026-03-05 16:00:00"),  # ISO is never ambiguous
    }
    assert {r[0] for r in query(db, "select location_id from raw_bookings")} == {"L09"}


def test_unmapped_word_is_rejected_and_mapped_word_accepted(tmp_path: Path, mapping: Path) -> None:
    text = mapping.read_text() + '[status_words]\n"Rescheduled Online" = "cancelled"\n'
    mapping.write_text(text)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [FIXTURES / "ScheduleAtAGlance.xls"], mapping=mapping)
    assert result.rows_rejected == 0
    assert "cancelled" in {v[0] for v in bookings(db, "mindbody").values()}


# --- PII -------------------------------------------------------------------------------------


def test_no_client_details_in_any_table_or_in_the_warehouse_file(
    tmp_path: Path, mapping: Path
) -> None:
    db = tmp_path / "w.duckdb"
    files = [FIXTURES / f for f in VENDOR_FILES] + [FIXTURES / "AppointmentSummary (1).xlsx"]
    results = load_files(db, files, mapping=mapping)
    assert all(r.outcome == "loaded" for r in results)
    assert rejected(db)  # the rejected rows are searched too
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        for table in tables:
            text = " ".join(map(str, con.execute(f'select * from "{table}"').fetchall())).lower()
            for needle in PII:
                assert needle.lower() not in text, (table, needle)
    finally:
        con.close()
    data = db.read_bytes().lower()
    for needle in PII:
        assert needle.lower().encode() not in data, needle
    keys = query(db, "select distinct client_id from raw_bookings")
    assert all(k[0].startswith("c_") and len(k[0]) == 18 for k in keys)


def test_same_client_across_vendors_and_locations_is_one_client(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    (tmp_path / "a.toml").write_text(
        '[source]\nlocation = "L01"\n[acuity]\ncalendar = "therapist"\n'
    )
    (tmp_path / "b.toml").write_text('[source]\nlocation = "L02"\n')
    load_files(db, [FIXTURES / "appointments-export.csv"], mapping=tmp_path / "a.toml")
    load_files(
        db, [FIXTURES / "events-export.csv", FIXTURES / "report.csv"], mapping=tmp_path / "b.toml"
    )
    # Maya Okafor's email is written in three cases across Acuity, Calendly and Jane.
    keys = query(
        db,
        "select distinct client_id from raw_bookings where "
        "(source = 'acuity' and booking_id = '380001') or "
        "(source = 'calendly' and booking_id = 'INV-1001') or "
        "(source = 'jane' and booking_id = 'J-501')",
    )
    assert keys == [(pii.client_key(SALT, "maya.okafor@example.com", None, None),)]
    locations = query(db, "select distinct location_id from raw_bookings order by 1")
    assert locations == [("L01",), ("L02",)]


def test_identity_rules() -> None:
    key = pii.client_key
    assert key(SALT, " A@B.com", "1", "x") == key(SALT, "a@b.com", None, None)
    assert key(SALT, None, "'+44 7762 992312", "x") == key(SALT, "", "+447762992312", None)
    assert key(SALT, None, None, "Okafor,  Maya") == key(SALT, None, None, "maya okafor")
    assert key(SALT, None, None, None) is None
    assert key("other salt", "a@b.com", None, None) != key(SALT, "a@b.com", None, None)


def test_salt_file_is_created_beside_the_warehouse_private(
    tmp_path: Path, mapping: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(pii.SALT_ENV)
    db = tmp_path / "data" / "w.duckdb"
    load_files(db, [FIXTURES / "events-export.csv"], mapping=mapping)
    salt_file = db.parent / pii.SALT_FILE
    assert salt_file.stat().st_mode & 0o777 == 0o600
    salt = salt_file.read_text().strip()
    assert len(salt) == 64
    first = query(db, "select client_id from raw_bookings where booking_id = 'INV-1001'")[0][0]
    assert first == pii.client_key(salt, "maya.okafor@example.com", None, None)


# --- ids, overlaps, re-exports ---------------------------------------------------------------


def test_overlapping_mindbody_exports_load_without_duplicates(
    tmp_path: Path, mapping: Path
) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [FIXTURES / "ScheduleAtAGlance.xls"], mapping=mapping)
    load_files(db, [FIXTURES / "ScheduleAtAGlance_Q1.xls"], mapping=mapping)
    rows = query(
        db, "select start_at::varchar, therapist_id, status from raw_bookings order by 1, 2"
    )
    assert len(rows) == 6  # 5 from March + 1 from February; the overlap counted once
    assert ("2026-03-30 16:00:00", "Marcus Silva", "booked") in rows


def test_reexport_with_a_changed_status_updates_the_booking(tmp_path: Path, mapping: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [FIXTURES / "history.csv"], mapping=mapping)
    changed = tmp_path / "history-later.csv"
    text = (FIXTURES / "history.csv").read_text()
    text = text.replace("03/04/2099,3:00 PM,4:00 PM", "03/04/2099,4:00 PM,5:00 PM")
    changed.write_text(text.replace(",DECLINED,", ",ACCEPTED,"))
    load_files(db, [changed], mapping=mapping)
    rows = bookings(db, "square")
    assert len(rows) == 5
    assert rows["sq_7Hk2aT"][0] == "completed"
    assert rows["sq_7Hk2aU"][1] == "2099-03-04 16:00:00"


def test_source_name_from_the_mapping_keeps_accounts_apart(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    for blank_lines, name in enumerate(("downtown", "acuity-uptown"), start=1):
        path = tmp_path / f"{name}.toml"
        path.write_text(
            f'[source]\nname = "{name}"\nlocation = "L01"\n[acuity]\ncalendar = "therapist"\n'
        )
        copy = tmp_path / f"{name}.csv"
        # trailing blank lines: different bytes, so the second file is not skipped as a copy
        copy.write_bytes(
            (FIXTURES / "appointments-export.csv").read_bytes() + b"\r\n" * blank_lines
        )
        load_files(db, [copy], mapping=path)
    counts = query(db, "select source, count(*) from raw_bookings group by 1 order by 1")
    assert counts == [("acuity-downtown", 4), ("acuity-uptown", 4)]


# --- missing mappings and bad files ----------------------------------------------------------


@pytest.fixture
def warehouse(tmp_path: Path, mapping: Path) -> Path:
    """A warehouse that already holds one vendor file."""
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [FIXTURES / "history.csv"], mapping=mapping)
    assert result.outcome == "loaded"
    return db


@pytest.mark.parametrize(
    "fixture, mapping_text, message",
    [
        (
            "appointments-export.csv",
            '[source]\nlocation = "L01"\n',
            "Acuity export: say what the Calendar column means: add [acuity] calendar = "
            '"therapist" (or "room" or "location") to the mapping file (--mapping)',
        ),
        (
            "events-export.csv",
            None,
            "Calendly export has no location column: pass --location LOC, or add [source] "
            'location = "L01" to the mapping file (--mapping)',
        ),
        (
            "AppointmentSummary (2).xlsx",
            None,
            "cannot open the workbook (BadZipFile: File is not a zip file)",
        ),
        (
            "not-a-report.xls",
            None,
            "an HTML page that is not a report this loader knows",
        ),
        ("legacy-bookings.csv", None, "the header matches no known export"),
    ],
)
def test_bad_or_unmapped_file_is_one_clear_line_and_changes_nothing(
    tmp_path: Path, warehouse: Path, fixture: str, mapping_text: str | None, message: str
) -> None:
    before = fingerprint(warehouse)
    mapping = None
    if mapping_text is not None:
        mapping = tmp_path / "partial.toml"
        mapping.write_text(mapping_text)
    [result] = load_files(warehouse, [FIXTURES / fixture], mapping=mapping)
    assert result.outcome == "failed"
    assert result.message.startswith(message), result.message
    assert "\n" not in result.message
    assert fingerprint(warehouse) == before


def test_an_empty_calendar_is_skipped_as_a_quiet_day(warehouse: Path) -> None:
    # A calendar with nothing booked in its range (a VCALENDAR and no VEVENT) is a quiet day,
    # as a header-only export is: skipped in its own words, exit 0, the warehouse unchanged
    # (was: refused, exit 1, stopping the morning's scheduled load)
    empty = FIXTURES / "empty.ics"
    before = file_digest(warehouse)
    cli = [sys.executable, "-m", "pipelines.cli", "load", "--db", str(warehouse), str(empty)]
    done = subprocess.run(cli, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"{empty}: skipped, the calendar has no events: nothing to load",
        f"nothing loaded; {warehouse} is unchanged",
    ]
    assert "Traceback" not in done.stderr
    assert file_digest(warehouse) == before


def test_broken_mapping_file_is_reported(tmp_path: Path, warehouse: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[acuity]\ncalendar = "staff"\n')
    [result] = load_files(warehouse, [FIXTURES / "appointments-export.csv"], mapping=bad)
    assert result.outcome == "failed"
    assert "[acuity] calendar must be one of therapist, room, location" in result.message


def test_cli_load_with_mapping(tmp_path: Path, mapping: Path, capsys) -> None:
    from pipelines.cli import main

    db = tmp_path / "w.duckdb"
    code = main(
        ["load", str(FIXTURES / "calendar.ics"), "--db", str(db), "--mapping", str(mapping)]
    )
    assert code == 0
    assert "bookings (ics): 9 rows read, 7 loaded, 2 rejected" in capsys.readouterr().out


# --- round trip ------------------------------------------------------------------------------

# What each format cannot carry, and so what the round trip cannot compare:
# - acuity: cancelled appointments (left out of the export) -> bookings and cancellations differ
# - ics: no-shows (a calendar cannot record them: past events are completed) and prices
# - calendly, fresha, jane, ics, acuity: rooms or cancellation times (late cancels); these do not
#   enter the compared columns. Every other compared column must be equal.
ROUND_TRIP_LOSSES = {
    "acuity": {"bookings", "cancellations", "clients"},  # clients who only cancelled
    "ics": {"completed", "no_shows", "revenue", "sessions"},
}


def _marts(db: Path) -> dict[str, tuple]:
    days = query(
        db,
        "select location_id, sum(bookings), sum(completed), sum(no_shows), sum(cancellations), "
        "sum(revenue) from fct_location_days group by 1",
    )
    sessions = query(
        db,
        "select location_id, therapist_id, date::varchar, sessions, booked_minutes "
        "from fct_therapist_days order by all",
    )
    [(clients,)] = query(db, "select count(distinct client_id) from fct_bookings")
    names = ("bookings", "completed", "no_shows", "cancellations", "revenue")
    out = {name: sorted((r[0], r[i + 1]) for r in days) for i, name in enumerate(names)}
    out["sessions"] = [(r[0], r[1], r[2], r[3]) for r in sessions]
    out["booked_minutes"] = [(r[0], r[1], r[2], r[4]) for r in sessions]
    out["clients"] = clients
    return out


@pytest.fixture(scope="module")
def native_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    from pipelines.demo.generate import write_chain

    base = tmp_path_factory.mktemp("chain")
    write_chain(base / "native", locations=1, days=12, seed=5)
    results = load_files(base / "native.duckdb", [base / "native"])
    assert all(r.outcome == "loaded" for r in results)
    return base, _marts(base / "native.duckdb")


@pytest.mark.parametrize(
    "vendor", ["acuity", "calendly", "fresha", "mindbody", "vagaro", "square", "jane", "ics"]
)
def test_round_trip_native_and_vendor_give_the_same_marts(
    native_chain: tuple[Path, dict], vendor: str, tmp_path: Path
) -> None:
    from pipelines.demo.vendor_writers import write_vendor

    base, expected = native_chain
    folder = tmp_path / vendor
    shutil.copytree(base / "native", folder)
    write_vendor(folder, vendor)
    assert not (folder / "bookings.csv").exists()
    db = tmp_path / "w.duckdb"
    files = [folder / "rooms.csv", folder / "therapist_shifts.csv", folder / "locations.csv"]
    results = load_files(db, [*files, folder / "L01"], mapping=folder / "mappings" / "L01.toml")
    assert all(r.outcome == "loaded" and r.rows_rejected == 0 for r in results), [
        r.summary() for r in results
    ]
    assert {r.format.split("-")[0] for r in results if r.kind == "bookings"} == {vendor}
    got = _marts(db)
    for column, value in expected.items():
        if column in ROUND_TRIP_LOSSES.get(vendor, set()):
            continue
        assert got[column] == value, (vendor, column)
    if vendor == "ics":  # no-shows come back as completed visits, with no price
        assert got["no_shows"] == [("L01", 0)]
        assert got["completed"][0][1] == expected["completed"][0][1] + expected["no_shows"][0][1]
    if vendor == "acuity":
        assert got["cancellations"] == [("L01", 0)]


def test_mapping_names_therapists_and_bar_services(tmp_path: Path, mapping: Path) -> None:
    text = (
        mapping.read_text()
        + '[therapists]\n"Elena Novak" = "L01-T01"\n'
        + '[services]\nbar_services = ["Swedish 60"]\n'
    )
    mapping.write_text(text)
    db = tmp_path / "w.duckdb"
    load_files(db, [FIXTURES / "events-export.csv"], mapping=mapping)
    rows = query(
        db, "select booking_id, therapist_id, uses_bars from raw_bookings order by booking_id"
    )
    assert rows == [
        ("INV-1001", "L01-T01", None),  # not listed: the bar keywords decide in staging
        ("INV-1002", "L01-T01", True),
        ("INV-1003", "Marcus Silva", None),
        ("INV-1004", "Marcus Silva", True),
    ]
