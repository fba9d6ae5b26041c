"""`studio-ops inspect FILE`: what the loader sees, changing no warehouse (issue 15).

Each test writes a small file (invented people), runs the real command, and checks the text a
manager reads against values worked out by hand from the file.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.ingest import pii
from tests.hostile import PEAK_MB, SECONDS, fingerprint, run_cli

SALT = "test-salt"
NATIVE = (
    "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status,price\n"
    "B1,L01,T1,maya@example.com,Ashiatsu 60,2026-03-02 09:00,2026-03-02 10:00,completed,95.00\n"
    "B2,L01,T1,C-77,Swedish 60,2026-03-02 11:00,2026-03-02 10:00,booked,\n"
    "B3,L01,T2,C-78,Ashiatsu 90,2026-03-03 13:00,2026-03-03 14:30,No Show,135\n"
)
# Another system's appointment book: no format knows it; day-first dates, 12-hour times in
# their own column, and a status word ("Done") the loader does not know.
GENERIC = (
    "Ref,Date,Time,Finish,Customer,Email,Stylist,Treatment,Outcome,Total\n"
    "7001,14/03/2026,2:30 PM,3:30 PM,Maya Okafor,maya@example.com,Elena Novak,Ashiatsu 60,"
    "Done,95.00\n"
    "7002,15/03/2026,10:00 AM,11:30 AM,Theo Brooks,theo@example.com,Elena Novak,Ashiatsu 90,"
    "Completed,135.00\n"
    "7003,15/03/2026,1:00 PM,2:00 PM,Ana Ruiz,ana@example.com,Jon Park,Swedish 60,No Show,90.00\n"
)


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pii.SALT_ENV, SALT)


def inspect(capsys, *args: str) -> tuple[int, str]:
    code = main(["inspect", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def field_row(out: str, name: str) -> list[str]:
    """A row of the fields table, split on its column gaps (two spaces or more)."""
    line = next(x for x in out.splitlines() if re.match(rf"\s+{name}\s", x))
    return re.split(r"\s{2,}", line.strip())


def test_native_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bookings.csv"
    path.write_text(NATIVE)
    db = tmp_path / "w.duckdb"
    code, out = inspect(capsys, path, "--db", db)
    assert code == 0, out
    assert "format: native-bookings (a native export)" in out
    assert "runner-up: none (no other format accepts this file)" in out
    # 3 data rows: B2 ends (10:00) before it starts (11:00), the other two load
    assert "rows: 3 read, 2 would load, 1 would be rejected" in out
    assert "line 3: end_at '2026-03-02 10:00' is not after start_at '2026-03-02 11:00'" in out
    # the first rows as stored: lines 2 and 4; a client_id that is an email is its key
    assert field_row(out, "field")[2:] == ["line 2", "line 4"]
    assert field_row(out, "client_id") == [
        "client_id",
        "client_id",
        pii.client_key(SALT, "maya@example.com", None, None),
        "C-78",
    ]
    assert field_row(out, "status") == ["status", "status", "completed", "no_show"]
    assert field_row(out, "end_at")[2:] == ["2026-03-02 10:00:00", "2026-03-03 14:30:00"]
    assert "maya@example.com" not in out
    # no room, created_at or cancelled_at column: each said once, with what it costs
    assert "room_id: not in this export" in out
    assert "created_at: not in this export" in out
    assert "would load: yes (2 of 3 rows stored)" in out
    assert not db.exists() and not (tmp_path / pii.SALT_FILE).exists()


def test_a_one_row_file_says_row(tmp_path: Path, capsys) -> None:
    # one booking (NATIVE's first): '1 of 1 row stored', never '1 rows'
    path = tmp_path / "bookings.csv"
    path.write_text("".join(NATIVE.splitlines(keepends=True)[:2]))
    code, out = inspect(capsys, path)
    assert code == 0, out
    assert "would load: yes (1 of 1 row stored)" in out


def test_repeated_ids_are_counted(tmp_path: Path, capsys) -> None:
    """Rows that repeat an earlier id: said as a load says it, and counted once as stored."""
    path = tmp_path / "bookings.csv"
    # B1 twice (the later row is kept), B3 once: 3 rows read, 2 stored, 1 repeat
    path.write_text(
        NATIVE.replace(
            "B2,L01,T1,C-77,Swedish 60,2026-03-02 11:00,2026-03-02 10:00",
            "B1,L01,T1,C-77,Swedish 60,2026-03-02 11:00,2026-03-02 12:00",
        )
    )
    code, out = inspect(capsys, path)
    assert code == 0, out
    assert (
        "rows: 3 read, 2 would load, 0 would be rejected; 1 row repeats an earlier id; the last "
        "one was kept" in out
    )


def test_no_salt_yet_writes_none(tmp_path: Path, capsys, monkeypatch) -> None:
    """Without STUDIO_OPS_SALT and before the warehouse has a salt file, the keys shown use a
    salt of this run only (said so); the warehouse's salt file is not created."""
    monkeypatch.delenv(pii.SALT_ENV)
    path = tmp_path / "bookings.csv"
    path.write_text(NATIVE)
    code, out = inspect(capsys, path, "--db", tmp_path / "w.duckdb")
    assert code == 0, out
    assert "salt for this run only" in out
    assert not (tmp_path / pii.SALT_FILE).exists()


@pytest.fixture(scope="module")
def acuity(tmp_path_factory) -> Path:
    """A one-location chain of three days as Acuity exports it, with its mapping."""
    from pipelines.demo.generate import write_chain
    from pipelines.demo.vendor_writers import write_vendor

    base = tmp_path_factory.mktemp("acuity")
    write_chain(base, locations=1, days=3, seed=3)
    write_vendor(base, "acuity")
    return base


def _acuity_file(base: Path) -> Path:
    return next(p for p in sorted(base.rglob("*.csv")) if "Appointment ID" in p.read_text())


def test_acuity_export_without_mapping_names_the_questions(acuity: Path, capsys, tmp_path) -> None:
    path = _acuity_file(acuity)
    code, out = inspect(capsys, path, "--db", tmp_path / "w.duckdb")
    assert code == 1
    assert "format: acuity (an Acuity Scheduling export)" in out
    # the Data page's questions (acuity._check_mapping), all at once
    assert "acuity.calendar: What is a Calendar in your Acuity account? [therapist, room, " in out
    assert "would load: no: Acuity export: say what the Calendar column means" in out


def test_acuity_export_with_its_mapping(acuity: Path, capsys, tmp_path) -> None:
    path = _acuity_file(acuity)
    mapping = next((acuity / "mappings").glob("*.toml"))
    with open(path, newline="", encoding="utf-8-sig") as handle:
        records = list(csv.DictReader(handle))
    code, out = inspect(capsys, path, "--mapping", mapping, "--db", tmp_path / "w.duckdb")
    assert code == 0, out
    # every generated appointment is valid: rows read = data rows of the file, all load
    n = len(records)
    assert f"rows: {n} read, {n} would load, 0 would be rejected" in out
    assert field_row(out, "booking_id")[:2] == ["booking_id", "Appointment ID"]
    assert field_row(out, "start_at")[:2] == ["start_at", "Start Time"]
    assert field_row(out, "therapist_id")[:2] == ["therapist_id", "Calendar"]
    assert field_row(out, "client_id")[:2] == ["client_id", "Email, Phone, First Name, Last Name"]
    # the first row as stored: its id, and its client as the key of its email
    first = records[0]
    row = field_row(out, "booking_id")
    assert row[2] == first["Appointment ID"]
    assert field_row(out, "client_id")[2] == pii.client_key(SALT, first["Email"], None, None)
    assert first["Email"] not in out and first["Last Name"] not in out


def test_runner_up_is_every_other_format_that_accepts_the_file(
    acuity: Path, capsys, tmp_path
) -> None:
    """A generic mapping whose [columns] the Acuity header holds: both formats accept the file;
    Acuity, tried first, reads it and the generic one is the runner-up."""
    mapping = tmp_path / "generic.toml"
    mapping.write_text(
        '[source]\nlocation = "L01"\n[columns]\nbooking_id = "Appointment ID"\n'
        'start_at = "Start Time"\n[acuity]\ncalendar = "therapist"\n'
    )
    code, out = inspect(capsys, _acuity_file(acuity), "--mapping", mapping)
    assert "format: acuity (an Acuity Scheduling export)" in out
    assert "runner-up: mapped" in out


def test_generic_csv_draft_mapping_then_loads(tmp_path: Path, capsys) -> None:
    path = tmp_path / "appointment-book.csv"
    path.write_text(GENERIC)
    draft = tmp_path / "draft.toml"
    db = tmp_path / "w.duckdb"
    code, out = inspect(capsys, path, "--write-mapping", draft, "--db", db)
    assert code == 1  # it cannot load before its mapping exists
    assert "format: none recognised (a table no format knows" in out
    assert "columns.booking_id: Which column holds the booking (appointment) number?" in out
    assert f"wrote a draft mapping to {draft}" in out
    text = draft.read_text()
    guessed = {
        m[1]: m[2] for m in re.finditer(r'^(\w+) = "([^"]*)"\s+# guessed', text, re.MULTILINE)
    }
    assert guessed == {
        "name": "mapped-appointment-book",  # answers_to_data names a generic source mapped-*
        "booking_id": "Ref",
        "start_date": "Date",  # a date column, with its time in "Time"
        "start_time": "Time",
        "end_time": "Finish",
        "client_name": "Customer",
        "client_email": "Email",
        "therapist_id": "Stylist",
        "service": "Treatment",
        "status": "Outcome",
        "price": "Total",
    }
    # 14/03/2026 can only be day first; the times are 12-hour with AM/PM
    assert re.search(r'^datetime = \["%d/%m/%Y %I:%M %p"\]\s+# guessed: .*day first', text, re.M)
    # what it cannot guess is a commented-out question; so is the unknown status word
    assert '# location = ""   # Which location are these bookings from?' in text
    assert '# "Done" = ""' in text
    assert not db.exists()

    # the manager answers the status word; the location comes with --location
    draft.write_text(text.replace('# "Done" = ""', '"Done" = "completed" #'))
    code, out = inspect(capsys, path, "--mapping", draft, "--location", "L01", "--db", db)
    assert code == 0, out
    assert "rows: 3 read, 3 would load, 0 would be rejected" in out
    assert not db.exists()

    code, out = main_load(capsys, path, "--mapping", draft, "--location", "L01", "--db", db)
    assert code == 0, out
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute(
            "select booking_id, location_id, therapist_id, status, start_at::varchar, "
            "end_at::varchar, price from raw_bookings order by booking_id"
        ).fetchall()
    finally:
        con.close()
    # by hand from GENERIC: 14/03 2:30 PM -> 14:30, day first; Done -> completed
    assert stored == [
        (
            "7001",
            "L01",
            "Elena Novak",
            "completed",
            "2026-03-14 14:30:00",
            "2026-03-14 15:30:00",
            95,
        ),
        (
            "7002",
            "L01",
            "Elena Novak",
            "completed",
            "2026-03-15 10:00:00",
            "2026-03-15 11:30:00",
            135,
        ),
        ("7003", "L01", "Jon Park", "no_show", "2026-03-15 13:00:00", "2026-03-15 14:00:00", 90),
    ]


def test_several_mappings_each_file_takes_the_one_that_fits(tmp_path: Path, capsys) -> None:
    """--mapping given twice (an Acuity mapping and a generic one): the generic table takes
    the generic mapping, as a load would choose it."""
    path = tmp_path / "book.csv"
    path.write_text(GENERIC.replace("Done", "Completed"))
    acuity_toml = tmp_path / "acuity.toml"
    acuity_toml.write_text('[source]\nlocation = "L01"\n[acuity]\ncalendar = "therapist"\n')
    generic = tmp_path / "generic.toml"
    generic.write_text(
        '[source]\nname = "book"\nlocation = "L02"\n[columns]\nbooking_id = "Ref"\n'
        'start_date = "Date"\nstart_time = "Time"\nend_time = "Finish"\n'
        'client_email = "Email"\ntherapist_id = "Stylist"\nservice = "Treatment"\n'
        'status = "Outcome"\n[formats]\ndatetime = "%d/%m/%Y %I:%M %p"\n'
    )
    # (argparse alone would keep only the last one given, the Acuity mapping)
    code, out = inspect(capsys, path, "--mapping", generic, "--mapping", acuity_toml)
    assert code == 0, out
    assert "format: mapped" in out
    assert field_row(out, "location_id")[2:] == ["L02", "L02", "L02"]


def main_load(capsys, *args) -> tuple[int, str]:
    code = main(["load", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_draft_never_overwrites(tmp_path: Path, capsys) -> None:
    path = tmp_path / "book.csv"
    path.write_text(GENERIC)
    draft = tmp_path / "draft.toml"
    draft.write_text("# mine\n")
    code, out = inspect(capsys, path, "--write-mapping", draft)
    assert code == 2
    assert (
        out.strip() == f"studio-ops: {draft} exists; name another file for the draft, or remove it"
    )
    assert draft.read_text() == "# mine\n"


def test_missing_file_is_one_line(tmp_path: Path, capsys) -> None:
    code, out = inspect(capsys, tmp_path / "nope.csv")
    assert code == 1
    assert out.strip().splitlines()[-1] == "would load: no: no such file"


def test_hostile_sparse_file(tmp_path: Path) -> None:
    """A 4 GB sparse file (all holes): refused before it is read through, in one line."""
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.truncate(4 << 30)
    db = tmp_path / "w.duckdb"
    before = fingerprint(db)
    run = run_cli("inspect", str(path), "--db", str(db))
    assert run.returncode == 1
    assert run.lines[-1] == "would load: no: this is not an export (it starts with NUL bytes)"
    assert not any("Traceback" in line for line in run.lines)
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert fingerprint(db) == before


def test_usage_error_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["inspect"])
    assert exit_.value.code == 2


# Another system's export from Europe (invented people): semicolons, prices with a decimal
# comma and a point between thousands.
DECIMAL_COMMA = (
    "Ref;Date;Time;Finish;Customer;Email;Stylist;Treatment;Outcome;Total\n"
    "7001;14/03/2026;14:30;15:30;Maya Okafor;maya@example.com;Elena Novak;Ashiatsu 60;"
    "Completed;1.234,50 €\n"
    "7002;15/03/2026;10:00;11:30;Theo Brooks;theo@example.com;Elena Novak;Ashiatsu 90;"
    "Completed;95,00 €\n"
)


def test_draft_of_a_decimal_comma_export_says_how_its_prices_are_written(
    tmp_path: Path, capsys
) -> None:
    path = tmp_path / "praxis.csv"
    path.write_text(DECIMAL_COMMA, encoding="utf-8")
    draft = tmp_path / "draft.toml"
    code, out = inspect(capsys, path, "--write-mapping", draft)
    assert code == 1, out
    text = draft.read_text()
    # the Total column's cells have a comma before the cents (was: no [formats] decimal, so
    # both rows were rejected, "has a decimal comma")
    assert re.search(r'^decimal = ","\s+# guessed: its prices have a comma', text, re.M), text
    draft.write_text(text.replace('# location = ""', 'location = "L01" #'))
    db = tmp_path / "w.duckdb"
    code, out = main_load(capsys, path, "--mapping", draft, "--db", db)
    assert code == 0, out
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute(
            "select booking_id, price::varchar from raw_bookings order by 1"
        ).fetchall()
    finally:
        con.close()
    # 1.234,50 € is 1234.50 (a point between thousands); 95,00 € is 95.00
    assert stored == [("7001", "1234.50"), ("7002", "95.00")]


# Fresha's column for each of ITALIAN_FRESHA's, as its values and name say (what the draft and
# the Data page propose)
ITALIAN_HEADERS = {
    "Riferimento appuntamento": "Appointment reference",
    "Cliente": "Client",
    "Data programmata": "Scheduled date",
    "Ora programmata": "Scheduled time",
    "Durata": "Duration",
    "Servizi": "Services",
    "Membro del team": "Team member",
    "Sede": "Location",
    "Stato": "Status",
    "Prezzo": "Price",
}

# Fresha in Italian (invented people): columns, months and statuses in Italian, prices with a
# decimal comma; #2001 is one visit of two services (two lines with the same reference).
ITALIAN_FRESHA = (
    "Riferimento appuntamento,Cliente,Data programmata,Ora programmata,Durata,Servizi,"
    "Membro del team,Sede,Stato,Prezzo\n"
    "#2001,Giulia Ferri,04 lug 2026,15:00,1h 30m,Ashiatsu 90,Sara Lodi,Studio Milano,"
    'Completato,"135,00 €"\n'
    "#2001,Giulia Ferri,04 lug 2026,15:00,30m,Foot ritual,Sara Lodi,Studio Milano,"
    'Completato,"40,00 €"\n'
    "#2002,Marco Dal,5 dic 2026,10:00,45m,Foot ritual,Sara Lodi,Studio Milano,Prenotato,"
    '"1.040,00 €"\n'
)


def test_draft_of_fresha_in_another_language_names_its_headers_not_its_columns(
    tmp_path: Path, capsys
) -> None:
    path = tmp_path / "appuntamenti.csv"
    path.write_text(ITALIAN_FRESHA, encoding="utf-8")
    draft = tmp_path / "draft.toml"
    code, out = inspect(capsys, path, "--write-mapping", draft)
    assert code == 1, out
    assert "it looks like a Fresha export in another language" in out
    text = draft.read_text()
    # [headers], never [columns] (which loads one booking per line: #2001's second service
    # would replace its first)
    assert "[columns]" not in text and "[headers]" in text
    headers = dict(re.findall(r'^"?([^"=\n]+?)"? = "([^"]*)"\s+# guessed: its values', text, re.M))
    assert headers == ITALIAN_HEADERS
    assert re.search(r'^decimal = ","\s+# guessed', text, re.M)
    # what the rows cannot say: the status words and the location, as commented questions
    assert '# Completato = ""   # What does the status “Completato” mean?' in text
    assert '# "Studio Milano" = ""   # Which of your locations is “Studio Milano”?' in text
    answered = (
        text.replace('# Completato = ""', 'Completato = "completed" #')
        .replace('# Prenotato = ""', 'Prenotato = "booked" #')
        .replace('# "Studio Milano" = ""', '"Studio Milano" = "L01" #')
    )
    draft.write_text(answered, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    places = tmp_path / "locations.csv"
    places.write_text("location_id,name\nL01,Studio Milano\n")
    code, out = main_load(capsys, places, path, "--mapping", draft, "--db", db)
    assert code == 0, out
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute(
            "select booking_id, service, start_at::varchar, end_at::varchar, status, "
            "price::varchar from raw_bookings order by 1"
        ).fetchall()
    finally:
        con.close()
    assert stored == [
        # one visit: lug = July, 15:00 + the longest service (1h 30m); 135,00 + 40,00
        ("#2001", "Ashiatsu 90 + Foot ritual", "2026-07-04 15:00:00", "2026-07-04 16:30:00",
         "completed", "175.00"),
        # dic = December, 10:00 + 45m; 1.040,00 is 1040.00
        ("#2002", "Foot ritual", "2026-12-05 10:00:00", "2026-12-05 10:45:00", "booked",
         "1040.00"),
    ]  # fmt: skip


def test_draft_of_fresha_in_another_language_with_numeric_dates_says_their_order(
    tmp_path: Path, capsys
) -> None:
    # 13/07/2026 can only be day first (no 13th month)
    path = tmp_path / "appuntamenti.csv"
    numeric = ITALIAN_FRESHA.replace("04 lug 2026", "13/07/2026").replace("5 dic", "05/12/2026")
    path.write_text(numeric.replace("/2026 2026", "/2026"), encoding="utf-8")
    draft = tmp_path / "draft.toml"
    code, out = inspect(capsys, path, "--write-mapping", draft)
    assert code == 1 and "unexpected error" not in out, out
    text = draft.read_text()
    assert re.search(r'^\[fresha\]\nlocale = "en-GB"\s+# guessed: .*day first', text, re.M)
    answered = (
        text.replace('# Completato = ""', 'Completato = "completed" #')
        .replace('# Prenotato = ""', 'Prenotato = "booked" #')
        .replace('# "Studio Milano" = ""', '"Studio Milano" = "L01" #')
    )
    draft.write_text(answered, encoding="utf-8")
    code, out = inspect(capsys, path, "--mapping", draft)
    # 13/07/2026 15:00 -> 13 July; the two lines of #2001 are one visit
    assert "rows: 3 read, 2 would load, 0 would be rejected" in out, out
    assert "2026-07-13 15:00" in out
