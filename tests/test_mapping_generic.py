"""The generic mapping ([columns]) without pre-processing: constants, ids derived when the
export has none, ISO date-times with offsets, dates without a time of day, client codes,
pseudo-staff, several mappings at once, and every missing field named in one line.

Every file here is written by the test (invented people only), in the shape of a real salon's
reports: a date and a 12-hour time in separate columns, no appointment ids, no durations."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from tests.hostile import fingerprint
from tests.test_load import query, write

SALT = "test-salt-not-secret"


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(pii.SALT_ENV, SALT)
    return SALT


def stored(db: Path) -> list[tuple]:
    return query(
        db,
        "select booking_id, location_id, start_at::varchar, end_at::varchar, therapist_id, "
        "client_id, service, status from raw_bookings order by start_at, booking_id",
    )


def reasons(db: Path) -> list[tuple]:
    return query(db, "select line_number, reason from rejected_rows order by line_number")


def derived(location: str, client: str, start: str, therapist: str, service: str) -> str:
    """The documented rule (docs/exports.md): `m` + 16 hex of sha256 over the location, the
    client's key, the ISO start, the therapist and the service, lowercased, joined by |."""
    text = "|".join([location.lower(), client, start, therapist.lower(), service.lower()])
    return "m" + hashlib.sha256(text.encode()).hexdigest()[:16]


def name_key(name: str) -> str:
    return pii.client_key(SALT, None, None, name)


# --- the salon's appointment book: constants and derived ids ---------------------------------

SALON_BOOK = """\
Date,Time,Client,Stylist,Service
04/29/2016,9:30 AM,Wren Abernathy,Corin Vale,Ashiatsu 60
04/29/2016,1:15 PM,Juniper Holt,Corin Vale,Ashiatsu 60
04/30/2016,10:00 AM,Wren Abernathy,Tamsin Roe,Swedish 60
"""
SALON_MAPPING = """\
[source]
name = "salon"
location = "L01"
[columns]
start_date = "Date"
start_time = "Time"
client_name = "Client"
therapist_id = "Stylist"
service = "Service"
[formats]
datetime = "%m/%d/%Y %I:%M %p"
[constants]
status = "completed"
duration_minutes = 60
"""


def test_constants_and_derived_ids_load_an_appointment_book_with_no_ids(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    mapping = write(tmp_path / "salon.toml", SALON_MAPPING)
    book = write(tmp_path / "book.csv", SALON_BOOK)
    [result] = load_files(db, [book], mapping=mapping)
    assert (result.outcome, result.rows_read, result.rows_loaded) == ("loaded", 3, 3), (
        result.summary()
    )
    # by hand: 9:30 AM + 60 minutes (the constant) is 10:30; 1:15 PM is 13:15 to 14:15
    wren, juniper = name_key("Wren Abernathy"), name_key("Juniper Holt")
    rows = [
        ("2016-04-29 09:30:00", "2016-04-29 10:30:00", "Corin Vale", wren),
        ("2016-04-29 13:15:00", "2016-04-29 14:15:00", "Corin Vale", juniper),
        ("2016-04-30 10:00:00", "2016-04-30 11:00:00", "Tamsin Roe", wren),
    ]
    services = ["Ashiatsu 60", "Ashiatsu 60", "Swedish 60"]
    assert stored(db) == [
        (derived("L01", c, s, t, v), "L01", s, e, t, c, v, "completed")
        for (s, e, t, c), v in zip(rows, services, strict=True)
    ]
    # the next export repeats two of the rows and adds one: 4 bookings, not 6
    later = SALON_BOOK + "05/02/2016,4:00 PM,Juniper Holt,Tamsin Roe,Swedish 60\n"
    [again] = load_files(db, [write(tmp_path / "book-may.csv", later)], mapping=mapping)
    assert again.outcome == "loaded", again.summary()
    assert len(stored(db)) == 4


def test_a_constant_for_a_field_the_columns_name_too_is_one_line(tmp_path: Path) -> None:
    mapping = write(tmp_path / "m.toml", SALON_MAPPING + 'service = "Haircut"\n')
    [result] = load_files(
        tmp_path / "w.duckdb", [write(tmp_path / "b.csv", SALON_BOOK)], mapping=mapping
    )
    assert result.outcome == "failed"
    assert "service is in both [columns] and [constants]" in result.message


# --- ISO 8601: no [formats] needed, offsets become the location's wall-clock -----------------

PROFILE = """\
[[location]]
id = "L01"
name = "Eastside Ashiatsu"
timezone = "America/Chicago"
opening_hours = { mon = "08:00-20:00", tue = "08:00-20:00" }
rooms = [{ id = "cedar", bars = true }]
[[location.therapist]]
id = "corin"
name = "Corin Vale"
"""
ISO_EXPORT = """\
Ref,Starts,Ends,Client,Therapist,Treatment,State
A1,2026-03-02T15:00:00Z,2026-03-02T16:00:00Z,Wren Abernathy,Corin Vale,Ashiatsu 60,done
A2,2026-03-10T15:00:00Z,2026-03-10T16:00:00Z,Wren Abernathy,Corin Vale,Ashiatsu 60,done
A3,2026-03-02T10:00:00-05:00,2026-03-02T11:30:00-05:00,Juniper Holt,Corin Vale,Swedish 90,done
A4,2026-03-03 11:00,2026-03-03 12:00,Juniper Holt,Corin Vale,Swedish 60,done
"""
ISO_MAPPING = """\
[source]
name = "isobook"
location = "L01"
[columns]
booking_id = "Ref"
start_at = "Starts"
end_at = "Ends"
client_name = "Client"
therapist_id = "Therapist"
service = "Treatment"
status = "State"
[status_words]
"done" = "completed"
"""


def _iso_times(db: Path) -> dict[str, tuple[str, str]]:
    rows = query(db, "select booking_id, start_at::varchar, end_at::varchar from raw_bookings")
    return {r[0]: (r[1], r[2]) for r in rows}


# by hand: Chicago is UTC-6 until 8 March 2026 (CST) and UTC-5 after it (CDT);
# 15:00Z on 2 March is 09:00, on 10 March 10:00; 10:00-05:00 on 2 March is 15:00Z, so 09:00;
# a time without an offset is already local and stays as written
CHICAGO = {
    "A1": ("2026-03-02 09:00:00", "2026-03-02 10:00:00"),
    "A2": ("2026-03-10 10:00:00", "2026-03-10 11:00:00"),
    "A3": ("2026-03-02 09:00:00", "2026-03-02 10:30:00"),
    "A4": ("2026-03-03 11:00:00", "2026-03-03 12:00:00"),
}


def test_iso_with_z_or_offset_becomes_the_profile_locations_wall_clock(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    [profile] = load_files(db, [write(tmp_path / "studio.toml", PROFILE)])
    assert profile.outcome == "loaded", profile.summary()
    mapping = write(tmp_path / "iso.toml", ISO_MAPPING)  # no [formats] section
    [result] = load_files(db, [write(tmp_path / "iso.csv", ISO_EXPORT)], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (4, 0), result.summary()
    assert _iso_times(db) == CHICAGO


def test_iso_offsets_use_the_mappings_timezone_without_a_profile(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    text = ISO_MAPPING.replace('location = "L01"', 'location = "L01"\ntimezone = "America/Chicago"')
    mapping = write(tmp_path / "iso.toml", text)
    [result] = load_files(db, [write(tmp_path / "iso.csv", ISO_EXPORT)], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (4, 0), result.summary()
    assert _iso_times(db) == CHICAGO


def test_an_offset_without_a_known_time_zone_is_rejected_naming_the_setting(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    mapping = write(tmp_path / "iso.toml", ISO_MAPPING)
    [result] = load_files(db, [write(tmp_path / "iso.csv", ISO_EXPORT)], mapping=mapping)
    # A1-A3 carry an offset and L01's zone is nowhere: rejected; A4 is local time
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 1, 3)
    assert _iso_times(db) == {"A4": CHICAGO["A4"]}
    assert [r[0] for r in reasons(db)] == [2, 3, 4]
    assert reasons(db)[0][1] == (
        "start '2026-03-02T15:00:00Z' carries a UTC offset and the time zone of location L01 "
        "is unknown (set timezone in the studio profile, or [source] timezone in the mapping)"
    )


# --- dates without a time of day --------------------------------------------------------------

DATE_ONLY_EXPORT = """\
Ref,Starts,Client,Therapist,Treatment,State
D1,2016-04-29T00:00:00Z,Wren Abernathy,Corin Vale,Ashiatsu 60,done
D2,2016-04-30,Juniper Holt,Corin Vale,Ashiatsu 60,done
D3,2016-04-30T14:00:00,Juniper Holt,Corin Vale,Ashiatsu 60,done
"""
DATE_ONLY_MAPPING = """\
[source]
name = "dateonly"
location = "L01"
timezone = "America/Chicago"
[columns]
booking_id = "Ref"
start_at = "Starts"
client_name = "Client"
therapist_id = "Therapist"
service = "Treatment"
status = "State"
[constants]
duration_minutes = 60
[status_words]
"done" = "completed"
"""


def test_a_date_without_a_time_of_day_is_rejected_never_midnight(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    mapping = write(tmp_path / "d.toml", DATE_ONLY_MAPPING)
    [result] = load_files(db, [write(tmp_path / "d.csv", DATE_ONLY_EXPORT)], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    assert _iso_times(db) == {"D3": ("2016-04-30 14:00:00", "2016-04-30 15:00:00")}
    found = reasons(db)
    assert [r[0] for r in found] == [2, 3]
    assert all(r[1].startswith("no time of day: start '2016-04-") for r in found), found
    assert 'date_only = "HH:MM"' in found[0][1]


def test_date_only_says_what_time_a_date_without_one_takes(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    text = DATE_ONLY_MAPPING.replace("[constants]", '[formats]\ndate_only = "10:00"\n[constants]')
    mapping = write(tmp_path / "d.toml", text)
    [result] = load_files(db, [write(tmp_path / "d.csv", DATE_ONLY_EXPORT)], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (3, 0), result.summary()
    # the date as the system wrote it (never moved by the UTC offset), at 10:00, for 60 min
    assert _iso_times(db) == {
        "D1": ("2016-04-29 10:00:00", "2016-04-29 11:00:00"),
        "D2": ("2016-04-30 10:00:00", "2016-04-30 11:00:00"),
        "D3": ("2016-04-30 14:00:00", "2016-04-30 15:00:00"),
    }


def test_a_date_column_without_a_time_column_is_no_time_of_day(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    mapping = write(tmp_path / "salon.toml", SALON_MAPPING.replace('start_time = "Time"\n', ""))
    [result] = load_files(db, [write(tmp_path / "b.csv", SALON_BOOK)], mapping=mapping)
    assert result.outcome == "failed"
    assert result.message == (
        "every row was rejected (first: line 2: no time of day: start '04/29/2016' has a date "
        "only (never taken as midnight: map the time column, or say what to do with [formats] "
        'date_only = "HH:MM" in the mapping))'
    )


# --- client codes ---------------------------------------------------------------------------


def test_a_client_code_is_hashed_like_a_name(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    export = write(
        tmp_path / "codes.csv",
        "Ref,Starts,Ends,Client Code,Therapist,Treatment,State\n"
        "K1,2026-03-02 09:00,2026-03-02 10:00,CL-88213,Corin Vale,Ashiatsu 60,done\n"
        "K2,2026-03-03 09:00,2026-03-03 10:00,cl-88213 ,Corin Vale,Ashiatsu 60,done\n"
        "K3,2026-03-03 09:00,soon,CL-40417,Corin Vale,Ashiatsu 60,done\n",
    )
    text = ISO_MAPPING.replace('client_name = "Client"', 'client_id = "Client Code"')
    mapping = write(tmp_path / "codes.toml", text.replace('"Starts"', '"Starts"'))
    mapping.write_text(mapping.read_text().replace('"isobook"', '"codes"'))
    [result] = load_files(db, [export], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (2, 1), result.summary()
    # by hand: sha256(salt + "i:" + source + ":" + the code trimmed and lowercased)
    key = "c_" + hashlib.sha256(f"{SALT}i:mapped-codes:cl-88213".encode()).hexdigest()[:16]
    assert query(db, "select distinct client_id from raw_bookings") == [(key,)]
    # the rejected row's raw text holds the key, not the code
    [(raw,)] = query(db, "select raw_row from rejected_rows")
    assert "40417" not in raw and raw.count("c_") == 1


# --- what a mapping lacks: one line ------------------------------------------------------------


def test_every_missing_field_is_named_in_one_line_and_nothing_changes(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [write(tmp_path / "studio.toml", PROFILE)])
    before = fingerprint(db)
    mapping = write(tmp_path / "thin.toml", '[columns]\nstart_date = "Date"\n')
    [result] = load_files(db, [write(tmp_path / "b.csv", SALON_BOOK)], mapping=mapping)
    assert result.outcome == "failed"
    assert result.message == (
        f"mapped export: the mapping file {mapping} lacks [columns] end_at, end_time or "
        "duration_minutes (or "
        "[constants]); [columns] therapist_id (or [constants] therapist_id); [columns] service "
        "(or [constants] service); [columns] status (or [constants] status); [columns] "
        'client_name, client_email, client_phone or client_id; [source] location = "L01" (or '
        '--location LOC); [formats] datetime = "%d/%m/%Y %H:%M" (strptime codes: how '
        "'04/29/2016' is written)"
    )
    assert fingerprint(db) == before


# --- several mappings: each file takes the one its header fits ---------------------------------


def _two_mappings(tmp_path: Path) -> tuple[Path, Path, Path]:
    folder = tmp_path / "mappings"
    write(folder / "salon.toml", SALON_MAPPING)
    text = ISO_MAPPING.replace('location = "L01"', 'location = "L01"\ntimezone = "America/Chicago"')
    write(folder / "iso.toml", text)
    book = write(tmp_path / "in" / "book.csv", SALON_BOOK)
    iso = write(tmp_path / "in" / "iso.csv", ISO_EXPORT)
    return folder, book, iso


def test_several_mappings_each_apply_to_the_files_whose_header_they_fit(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    folder, book, iso = _two_mappings(tmp_path)
    results = load_files(db, [book, iso], mapping=sorted(folder.glob("*.toml")))
    # by hand: 3 rows in the book (salon mapping), 4 in the ISO export (iso mapping)
    assert [(r.format, r.rows_loaded, r.rows_rejected) for r in results] == [
        ("mapped-csv", 3, 0),
        ("mapped-csv", 4, 0),
    ], [r.summary() for r in results]
    sources = query(db, "select source, count(*) from raw_bookings group by 1 order by 1")
    assert sources == [("mapped-isobook", 4), ("mapped-salon", 3)]


def test_cli_mapping_accepts_a_folder_and_repeats(tmp_path: Path) -> None:
    from pipelines.cli import main

    folder, book, iso = _two_mappings(tmp_path)
    db = tmp_path / "folder.duckdb"
    assert main(["load", str(book), str(iso), "--db", str(db), "--mapping", str(folder)]) == 0
    assert len(stored(db)) == 7
    db = tmp_path / "twice.duckdb"
    files = ["--mapping", str(folder / "iso.toml"), "--mapping", str(folder / "salon.toml")]
    assert main(["load", str(book), str(iso), "--db", str(db), *files]) == 0
    assert len(stored(db)) == 7


def test_two_mappings_fitting_one_file_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    folder, book, _ = _two_mappings(tmp_path)
    write(folder / "salon2.toml", SALON_MAPPING.replace('"salon"', '"salon2"'))
    [result] = load_files(db, [book], mapping=[folder])
    assert result.outcome == "failed"
    assert result.message == (
        "several mappings given fit this file (salon.toml, salon2.toml): give each file its "
        "own, or make their [columns] tell the files apart"
    )
    assert not db.exists() or query(db, "select count(*) from raw_bookings") == [(0,)]


# --- pseudo-staff --------------------------------------------------------------------------


def test_pseudo_staff_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    book = SALON_BOOK + (
        "04/30/2016,11:00 AM,Wren Abernathy,HOUSE,Room hire\n"
        "05/01/2016,11:00 AM,Juniper Holt, house ,Room hire\n"
    )
    mapping = write(tmp_path / "s.toml", SALON_MAPPING + '[therapists]\nignore = ["HOUSE"]\n')
    [result] = load_files(db, [write(tmp_path / "b.csv", book)], mapping=mapping)
    # by hand: 5 rows read = 3 loaded + 0 rejected + 2 skipped (HOUSE, case and spaces aside)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_skipped) == (
        5,
        3,
        0,
        2,
    ), result.summary()
    assert "pseudo-staff" in result.summary()
    assert {r[4] for r in stored(db)} == {"Corin Vale", "Tamsin Roe"}


# --- a studio's own mapping mistakes, and Europe's CSV (issue 24) ------------------------------

LEGACY_BOOK = """\
Appt #,Day,From,Until,Guest,Therapist,Treatment,Result
7001,02/03/2026,09:00,10:30,Maya Okafor,Elena Novak,Ashiatsu 90,Done
7002,13/03/2026,14:00,15:00,Liam Chen,Elena Novak,Swedish 60,Done
"""
LEGACY_MAPPING = """\
[source]
name = "legacy"
location = "L09"
[columns]
booking_id = "Appt #"
start_date = "Day"
start_time = "From"
end_time = "Until"
client_name = "Guest"
therapist_id = "Therapist"
service = "Treatment"
status = "Result"
[formats]
datetime = "%d/%m/%Y %H:%M"
[status_words]
"Done" = "completed"
"""


def _refused(tmp_path: Path, book: str, mapping_text: str) -> tuple[str, Path]:
    """Load `book` with the mapping into a warehouse holding a profile: the failed file's
    message and the mapping's path; the warehouse must be unchanged."""
    db = tmp_path / "w.duckdb"
    load_files(db, [write(tmp_path / "studio.toml", PROFILE)])
    before = fingerprint(db)
    mapping = write(tmp_path / "legacy.toml", mapping_text)
    [result] = load_files(db, [write(tmp_path / "book.csv", book)], mapping=mapping)
    assert result.outcome == "failed", result.summary()
    assert fingerprint(db) == before
    return result.message, mapping


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        # a misspelt key would be passed over: the location then looks missing
        ('location = "L09"', 'locaton = "L09"',
         "line 3: [source] locaton is not a key of [source] (known: name, location, timezone)"),
        # `[fresha] room` for `rooms`: every room would load as a therapist
        ("[formats]", '[fresha]\nroom = ["CABINA 1"]\n[formats]',
         "line 14: [fresha] room is not a key of [fresha] (known: rooms, locale)"),
        ("[columns]", "[column]", "line 4: unknown section [column]"),
        ("status = ", "statuss = ", "line 12: [columns] statuss is not a field"),
        ('"Done" = "completed"', '"Done" = "complete"',
         "line 16: [status_words] 'Done' = 'complete': use one of completed"),
        # a format as a studio writes it, or a code strptime does not have: never a reader's
        # "Invalid Input Error: Failed to parse format specifier"
        ("%d/%m/%Y %H:%M", "dd/mm/yyyy HH:MM",
         "line 14: [formats] datetime 'dd/mm/yyyy HH:MM' holds no strptime code: write it in "
         'strptime codes, such as "%d/%m/%Y %H:%M" for 31/12/2026 14:30'),
        ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%i",
         "line 14: [formats] datetime '%d/%m/%Y %H:%i' has a code strptime does not know (%i)"),
    ],
)  # fmt: skip
def test_a_mistake_in_the_mapping_is_one_line_naming_its_file_and_line(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    message, mapping = _refused(tmp_path, LEGACY_BOOK, LEGACY_MAPPING.replace(old, new, 1))
    # the lines counted by hand in LEGACY_MAPPING (after the change)
    assert message.startswith(f"mapping file {mapping} {said}"), message


def test_a_mapping_naming_columns_the_file_lacks_says_which_and_where(tmp_path: Path) -> None:
    text = LEGACY_MAPPING.replace('"Guest"', '"Guests"').replace('"Day"', '"Date"')
    message, mapping = _refused(tmp_path, LEGACY_BOOK, text)
    # never "the header matches no known export": the mapping was given and fits no header
    assert message == (
        f"mapping file {mapping} line 6: [columns] start_date = 'Date' is not a column of this "
        f"file; mapping file {mapping} line 9: [columns] client_name = 'Guests' is not a column "
        "of this file (it has 'Guest'): name the columns as the file's header writes them"
    )


def test_a_day_first_file_under_a_month_first_format_is_refused_whole(tmp_path: Path) -> None:
    text = LEGACY_MAPPING.replace("%d/%m/%Y", "%m/%d/%Y")
    message, mapping = _refused(tmp_path, LEGACY_BOOK, text)
    # 02/03/2026 reads month first (3 February) but 13/03/2026 only day first: loading the
    # first row would put it on the wrong day, so nothing loads
    assert message == (
        "line 3: start '13/03/2026 14:00' is written day first, but [formats] datetime "
        f"'%m/%d/%Y %H:%M' in mapping file {mapping} reads month first: fix it to "
        "'%d/%m/%Y %H:%M', or the other rows would load with day and month swapped"
    )


def test_a_date_time_the_format_does_not_read_is_rejected_naming_the_format(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    book = LEGACY_BOOK + "7003,04/03/2026,9am,10:00,Ava Kim,Marcus Silva,Swedish 60,Done\n"
    mapping = write(tmp_path / "legacy.toml", LEGACY_MAPPING)
    [result] = load_files(db, [write(tmp_path / "book.csv", book)], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (2, 1), result.summary()
    assert reasons(db) == [
        (4, f"start '04/03/2026 9am' does not match [formats] datetime '%d/%m/%Y %H:%M' in "
            f"mapping file {mapping}"),
    ]  # fmt: skip


# A German studio's Excel CSV: semicolons, dd.mm.yyyy, prices with a decimal comma.
EUROPEAN_BOOK = """\
Termin-Nr;Datum;Beginn;Ende;Kunde;Therapeut;Behandlung;Status;Preis
501;02.03.2026;09:00;10:30;Lena Vogt;Anke Roth;Ashiatsu 90;Erledigt;1.234,50 €
502;13.03.2026;14:00;15:00;Jonas Beck;Anke Roth;Ashiatsu 60;Nicht erschienen;95,00 €
503;14.03.2026;16:00;17:00;Jonas Beck;Udo Lenz;Ashiatsu 60;Storniert;EUR 1 234,5
504;15.03.2026;16:00;17:00;Jonas Beck;Udo Lenz;Ashiatsu 60;Erledigt;1,234.50
"""
EUROPEAN_MAPPING = """\
[source]
name = "termine"
location = "L01"
[columns]
booking_id = "Termin-Nr"
start_date = "Datum"
start_time = "Beginn"
end_time = "Ende"
client_name = "Kunde"
therapist_id = "Therapeut"
service = "Behandlung"
status = "Status"
price = "Preis"
[formats]
datetime = "%d.%m.%Y %H:%M"
decimal = ","
[status_words]
"Erledigt" = "completed"
"Nicht erschienen" = "no_show"
"Storniert" = "cancelled"
"""


def test_a_semicolon_csv_with_decimal_comma_prices_loads_through_a_mapping(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    book = write(tmp_path / "termine.csv", EUROPEAN_BOOK)
    mapping = write(tmp_path / "termine.toml", EUROPEAN_MAPPING)
    [result] = load_files(db, [book], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 3, 1)
    rows = query(
        db,
        "select booking_id, start_at::varchar, end_at::varchar, status, price::varchar "
        "from raw_bookings order by booking_id",
    )
    assert rows == [
        # 02.03.2026 is 2 March; 1.234,50 is one thousand two hundred and thirty-four fifty
        ("501", "2026-03-02 09:00:00", "2026-03-02 10:30:00", "completed", "1234.50"),
        ("502", "2026-03-13 14:00:00", "2026-03-13 15:00:00", "no_show", "95.00"),
        # a space between thousands, one decimal
        ("503", "2026-03-14 16:00:00", "2026-03-14 17:00:00", "cancelled", "1234.50"),
    ]
    # 1,234.50 is not written as the mapping says: rejected, never read as 1.23450
    assert reasons(db) == [
        (5, f"price '1,234.50' is not a price with a decimal comma, as [formats] decimal in "
            f"mapping file {mapping} says"),
    ]  # fmt: skip


def test_a_decimal_comma_without_the_setting_is_rejected_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    book = write(tmp_path / "termine.csv", EUROPEAN_BOOK)
    mapping = write(tmp_path / "t.toml", EUROPEAN_MAPPING.replace('decimal = ","\n', ""))
    [result] = load_files(db, [book], mapping=mapping)
    # 1,234.50 is a thousands comma (as every price); the other three have a decimal comma
    assert (result.rows_loaded, result.rows_rejected) == (1, 3), result.summary()
    assert reasons(db)[0] == (
        2,
        f"price '1.234,50 €' has a decimal comma: add [formats] decimal = \",\" to mapping file "
        f"{mapping}",
    )


# Fresha in Italian: headers, month names and prices in the account's language.
ITALIAN_FRESHA = """\
Riferimento appuntamento,Cliente,Data programmata,Ora programmata,Durata,Servizi,Membro del team,Sede,Stato,Prezzo
#2001,Giulia Ferri,04 lug 2026,15:00,1h 30m,Ashiatsu 90,Sara Lodi,Studio Milano,Completato,"135,00 €"
#2002,Marco Dal,5 DIC. 2026,10:00,45m,Foot ritual,Sara Lodi,Studio Milano,Prenotato,"40,00 €"
#2003,Marco Dal,6 dic 2026,10:00,45m,Foot ritual,Sara Lodi,Studio Roma,Prenotato,"40,00 €"
"""  # noqa: E501
ITALIAN_MAPPING = """\
[source]
name = "fresha-it"
[columns]
booking_id = "Riferimento appuntamento"
client_name = "Cliente"
start_date = "Data programmata"
start_time = "Ora programmata"
duration_minutes = "Durata"
service = "Servizi"
therapist_id = "Membro del team"
location_id = "Sede"
status = "Stato"
price = "Prezzo"
[formats]
datetime = "%d %b %Y %H:%M"
decimal = ","
[status_words]
"Completato" = "completed"
"Prenotato" = "booked"
[locations]
"Studio Milano" = "L01"
"""


def test_another_languages_export_loads_with_its_month_names_and_location_names(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    book = write(tmp_path / "appuntamenti.csv", ITALIAN_FRESHA)
    mapping = write(tmp_path / "it.toml", ITALIAN_MAPPING)
    [result] = load_files(db, [book], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (2, 1), result.summary()
    rows = query(
        db,
        "select booking_id, location_id, start_at::varchar, end_at::varchar, status, "
        "price::varchar from raw_bookings order by booking_id",
    )
    assert rows == [
        # lug = July; 15:00 + 1h 30m; Studio Milano is L01 by [locations]
        ("#2001", "L01", "2026-07-04 15:00:00", "2026-07-04 16:30:00", "completed", "135.00"),
        # DIC. = December, in capitals with a dot; 10:00 + 45m
        ("#2002", "L01", "2026-12-05 10:00:00", "2026-12-05 10:45:00", "booked", "40.00"),
    ]  # fmt: skip
    # a name [locations] does not know is a rejected row, never a new location
    [(line, reason)] = reasons(db)
    assert line == 4 and reason.startswith("location 'Studio Roma' is not known"), reason


def test_an_export_in_another_language_without_a_mapping_says_how_to_map_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [write(tmp_path / "appuntamenti.csv", ITALIAN_FRESHA)])
    assert result.outcome == "failed"
    # no native column at all: not "closest is locations", which no studio can act on
    assert result.message == (
        "the header matches no known export: a booking system's appointments the loader does "
        "not know (or whose headers are not in English) load through a mapping that names "
        "their columns (the Data page asks for them; studio-ops inspect FILE --write-mapping "
        "mapping.toml drafts one)"
    )


def test_a_date_format_without_a_time_reads_the_time_column_after_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    # the date and the time have their own columns: "%d/%m/%Y" is how the date is written
    text = LEGACY_MAPPING.replace("%d/%m/%Y %H:%M", "%d/%m/%Y")
    mapping = write(tmp_path / "legacy.toml", text)
    [result] = load_files(db, [write(tmp_path / "book.csv", LEGACY_BOOK)], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    assert [r[2:4] for r in stored(db)] == [
        ("2026-03-02 09:00:00", "2026-03-02 10:30:00"),  # 2 March, 09:00 to 10:30
        ("2026-03-13 14:00:00", "2026-03-13 15:00:00"),
    ]
    # and the order is checked as with a time: month first is refused (13 is no month)
    message, mapping = _refused(tmp_path / "m", LEGACY_BOOK, text.replace("%d/%m", "%m/%d"))
    assert message.startswith("line 3: start '13/03/2026 14:00' is written day first"), message


def test_a_mapping_not_saved_as_utf8_is_one_line_naming_its_line(tmp_path: Path) -> None:
    text = LEGACY_MAPPING.replace('"Done" = "completed"', '"Terminé" = "completed"')
    path = tmp_path / "m" / "legacy.toml"
    path.parent.mkdir()
    path.write_bytes(text.encode("cp1252"))  # as Windows Notepad once saved it
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [write(tmp_path / "book.csv", LEGACY_BOOK)], mapping=path)
    assert result.outcome == "failed"
    # é is byte 0xe9 in Windows-1252, on line 16
    assert result.message == (
        f"mapping file {path} line 16: not UTF-8 text (byte 0xe9): save it as UTF-8"
    )


def test_an_xlsx_book_with_date_and_time_cells(tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in LEGACY_BOOK.splitlines():
        sheet.append(row.split(","))
    # the first booking's date and times as Excel's own cells
    sheet["B2"], sheet["C2"], sheet["D2"] = dt.datetime(2026, 3, 2), dt.time(9), dt.time(10, 30)
    path = tmp_path / "book.xlsx"
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=write(tmp_path / "m.toml", LEGACY_MAPPING))
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    # was: '2026-03-02 00:00:00 09:00:00' does not match [formats] datetime
    assert [r[2:4] for r in stored(db)] == [
        ("2026-03-02 09:00:00", "2026-03-02 10:30:00"),
        ("2026-03-13 14:00:00", "2026-03-13 15:00:00"),
    ]


def test_a_semicolon_header_with_a_comma_in_a_name_is_read_with_semicolons(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    book = EUROPEAN_BOOK.replace("Preis", "Preis (brutto, EUR)", 1).replace("\n", "\r\n")
    path = tmp_path / "termine.csv"
    path.write_bytes(b"\xef\xbb\xbf" + book.encode("utf-8"))  # Excel's "CSV UTF-8": a BOM
    text = EUROPEAN_MAPPING.replace('price = "Preis"', 'price = "Preis (brutto, EUR)"')
    [result] = load_files(db, [path], mapping=write(tmp_path / "t.toml", text))
    # eight semicolons and one comma in the header: the semicolon separates; as the test
    # above: 3 loaded, 1,234.50 rejected
    assert (result.rows_loaded, result.rows_rejected) == (3, 1), result.summary()
    assert query(db, "select sum(price)::varchar from raw_bookings") == [("2564.00",)]


def test_a_mapping_for_another_export_shows_the_header_it_met(tmp_path: Path) -> None:
    message, mapping = _refused(tmp_path, LEGACY_BOOK, EUROPEAN_MAPPING)
    # by hand: EUROPEAN_MAPPING's [columns] has 9 columns, none in LEGACY_BOOK's header
    assert message == (
        f"mapping file {mapping}: none of the 9 columns its [columns] names is in this file, "
        "whose header reads 'Appt #', 'Day', 'From', 'Until', 'Guest', 'Therapist', ...: name "
        "the columns as the file's header writes them"
    )


def test_an_end_at_column_of_times_beside_a_date_column_ends_on_that_date(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    # end_at names "Until", which holds times only: as end_time would (was: every row
    # rejected, "end '10:30' does not match [formats] datetime")
    text = LEGACY_MAPPING.replace('end_time = "Until"', 'end_at = "Until"')
    mapping = write(tmp_path / "legacy.toml", text)
    [result] = load_files(db, [write(tmp_path / "book.csv", LEGACY_BOOK)], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    assert [r[2:4] for r in stored(db)] == [
        ("2026-03-02 09:00:00", "2026-03-02 10:30:00"),
        ("2026-03-13 14:00:00", "2026-03-13 15:00:00"),
    ]


def test_inspect_says_a_mapped_export_has_no_booking_or_cancellation_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli import main

    book = write(tmp_path / "appuntamenti.csv", ITALIAN_FRESHA)
    mapping = write(tmp_path / "it.toml", ITALIAN_MAPPING)
    main(["inspect", str(book), "--mapping", str(mapping)])
    out = capsys.readouterr().out
    # no column gives them (was: shown as read from 'Sede', the location column the time
    # zone is looked up by, and so never listed as missing)
    assert re.search(r"^  created_at +– ", out, re.M), out
    assert "created_at: not in this export" in out
    assert "cancelled_at: not in this export" in out


def test_excels_unicode_text_loads_through_a_mapping(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = tmp_path / "book.txt"
    # Excel's "Unicode Text": UTF-16 with its byte-order mark, tabs between cells
    path.write_bytes(LEGACY_BOOK.replace(",", "\t").encode("utf-16"))
    mapping = write(tmp_path / "legacy.toml", LEGACY_MAPPING)
    [result] = load_files(db, [path], mapping=mapping)
    # was: the header matches no known export (the mapping was never tried on it)
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    assert [r[0] for r in stored(db)] == ["7001", "7002"]
