"""Fresha's appointments export as studios write it (issue 15): one row per booked service,
numeric dates ordered by the account's locale, a full timestamp in `Scheduled time`, `45min`;
and a Location column's display name resolved to a location id, never made a new location."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from pipelines.ingest.load import load_files
from tests.hostile import PEAK_MB, SECONDS, fingerprint, run_cli
from tests.test_load import query, write

SALT = "test-salt-not-secret"
# Fresha's header, in its own order (invented people below)
HEADER = [
    "Appointment reference", "Client", "Client email", "Client phone", "Scheduled date",
    "Scheduled time", "Duration", "Services", "Team member", "Location", "Status", "Price",
]  # fmt: skip
UNKNOWN = (
    "location 'Covent Garden Spa' is not known: add it to the studio profile or to "
    "[locations] in the mapping"
)


@pytest.fixture(autouse=True)
def _salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_OPS_SALT", SALT)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        out.writerows(rows)
    return path


def line(ref, date, time, minutes, service, location="Covent Garden Spa", price="£95.00"):
    return [ref, "Poppy Hartley", "poppy@example.co.uk", "", date, time, minutes, service,
            "Isla Moreno", location, "Completed", price]  # fmt: skip


VISITS = [
    # #B1: two services on one scheduled time -> one visit
    line("#B1", "06/07/2024", "10:30", "1h", "Ashiatsu 60"),
    line("#B1", "06/07/2024", "10:30", "45min", "Foot ritual", price="£40.00"),
    # #B2: two services with their own times -> a booking each
    line("#B2", "06/07/2024", "14:00", "1h", "Ashiatsu 60"),
    line("#B2", "06/07/2024", "15:00", "45min", "Foot ritual", price="£40.00"),
]
GB = '[source]\nname = "cg"\n[fresha]\nlocale = "en-GB"\n'
LOCATIONS = '[locations]\n"Covent Garden Spa" = "L03"\n'


def test_the_services_of_a_visit_are_one_booking_and_lines_with_own_times_one_each(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    path = write_csv(tmp_path / "appointments.csv", VISITS)
    mapping = write(tmp_path / "fresha.toml", GB + LOCATIONS)
    [result] = load_files(db, [path], mapping=mapping)
    assert result.outcome == "loaded", result.summary()
    # 4 lines: #B1's two are one booking, #B2's two a booking each -> 3 loaded, 1 line joined
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 3, 0)
    assert result.rows_read == result.rows_loaded + result.rows_rejected + result.rows_skipped
    assert "1 service lines joined into their visit's booking" in result.summary()
    rows = query(
        db,
        "select booking_id, location_id, start_at::varchar, end_at::varchar, service, "
        "price::varchar from raw_bookings order by booking_id",
    )
    assert rows == [
        # en-GB: 06/07/2024 is 6 July; same start, the latest end (1h > 45min); £95 + £40
        ("#B1", "L03", "2024-07-06 10:30:00", "2024-07-06 11:30:00",
         "Ashiatsu 60 + Foot ritual", "135.00"),
        ("#B2", "L03", "2024-07-06 14:00:00", "2024-07-06 15:00:00", "Ashiatsu 60", "95.00"),
        # 15:00 + 45min
        ("#B2-2", "L03", "2024-07-06 15:00:00", "2024-07-06 15:45:00", "Foot ritual", "40.00"),
    ]  # fmt: skip


def test_month_first_accounts_and_a_full_timestamp_in_scheduled_time(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = write_csv(
        tmp_path / "appointments.csv",
        [
            line("#C1", "06/07/2024", "10:30", "45min", "Swedish 45"),
            line("#C2", "", "2024-06-08 09:15:00", "1h 15min", "Ashiatsu 75"),
            line("#C3", "08 Jun 2024", "08 Jun 2024, 4:00pm", "30m", "Scrub"),
        ],
    )
    mapping = write(tmp_path / "fresha.toml", '[fresha]\nlocale = "en-US"\n' + LOCATIONS)
    [result] = load_files(db, [path], mapping=mapping)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 3, 0)
    assert query(
        db, "select booking_id, start_at::varchar, end_at::varchar from raw_bookings order by 1"
    ) == [
        ("#C1", "2024-06-07 10:30:00", "2024-06-07 11:15:00"),  # en-US: June 7; + 45min
        ("#C2", "2024-06-08 09:15:00", "2024-06-08 10:30:00"),  # + 75 minutes
        ("#C3", "2024-06-08 16:00:00", "2024-06-08 16:30:00"),
    ]


def test_an_unknown_location_name_is_a_rejected_row_never_a_new_location(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    rows = [*VISITS[:1], line("#D1", "06/07/2024", "12:00", "1h", "Ashiatsu 60", "L07")]
    path = write_csv(tmp_path / "appointments.csv", rows)
    # L07 is known: a booking of it is loaded first (a native export)
    native = write(
        tmp_path / "bookings.csv",
        "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status\n"
        "n1,L07,t1,c1,Swedish 60,2024-07-01 10:00,2024-07-01 11:00,completed\n",
    )
    assert load_files(db, [native])[0].outcome == "loaded"
    [result] = load_files(db, [path], mapping=write(tmp_path / "f.toml", GB))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
    assert query(db, "select reason from rejected_rows") == [(UNKNOWN,)]
    assert query(db, "select distinct location_id from raw_bookings order by 1") == [("L07",)]


def test_display_names_resolve_through_the_profile_and_location(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    profile = write(
        tmp_path / "studio.toml",
        '[[location]]\nid = "L03"\nname = "Covent Garden Spa"\ntimezone = "Europe/London"\n',
    )
    path = write_csv(tmp_path / "a.csv", [line("#E1", "06/07/2024", "10:30", "1h", "Swedish 60",
                                                "  covent garden SPA ")])  # fmt: skip
    results = load_files(db, [profile, path], mapping=write(tmp_path / "f.toml", GB))
    assert [r.outcome for r in results] == ["loaded", "loaded"], results[-1].summary()
    assert query(db, "select location_id from raw_bookings") == [("L03",)]
    # a one-location file whose name nothing knows takes --location
    other = tmp_path / "o.duckdb"
    path = write_csv(tmp_path / "b.csv", [line("#E2", "06/07/2024", "10:30", "1h", "Swedish 60")])
    [result] = load_files(other, [path], location="L09", mapping=write(tmp_path / "g.toml", GB))
    assert result.rows_loaded == 1, result.summary()
    assert query(other, "select location_id from raw_bookings") == [("L09",)]


def test_a_file_of_many_unknown_location_names_is_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    seed = write(
        tmp_path / "seed.csv",
        "booking_id,location_id,therapist_id,client_id,service,start_at,end_at,status\n"
        "n1,L01,t1,c1,Swedish 60,2024-07-01 10:00,2024-07-01 11:00,completed\n",
    )
    assert run_cli("load", str(seed), "--db", str(db)).returncode == 0
    before = fingerprint(db)
    # 200,000 rows, each naming a location of its own that nothing knows
    path = tmp_path / "hostile.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for n in range(200_000):
            out.writerow(line(f"#H{n}", "06/07/2024", "10:30", "1h", "Swedish", f"Spa {n}"))
    mapping = write(tmp_path / "f.toml", GB)
    run = run_cli("load", str(path), "--db", str(db), "--mapping", str(mapping))
    assert run.returncode == 1
    assert run.lines[0] == (
        f"{path}: not loaded: every row was rejected (first: line 2: location 'Spa 0' is not "
        "known: add it to the studio profile or to [locations] in the mapping)"
    ), run.lines
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB, (run.seconds, run.peak_mb)
    assert fingerprint(db) == before


# --- rooms set up as team members, and accounts writing a decimal comma (issue 24) ------------


def staffed(ref, time, minutes, service, member, price=""):
    return [ref, "Poppy Hartley", "", "", "04/07/2026", time, minutes, service, member,
            "Covent Garden Spa", "Completed", price]  # fmt: skip


# added to GB's [fresha] table
ROOMS = 'rooms = ["CABINA 1", "cabina 2"]\n' + LOCATIONS + '[formats]\ndecimal = ","\n'


def test_a_room_line_joins_its_therapists_visit_and_comma_prices_are_read(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    rows = [
        # #R1: the therapist's service and the room booked as a team member, same start
        staffed("#R1", "10:00", "1h", "Ashiatsu 60", "Isla Moreno", "€95,00"),
        staffed("#R1", "10:00", "1h 10m", "Cabina", "CABINA 1", "€0,00"),
        # #R2: two therapists (four hands) and one room: the room is each one's; the room's
        # own line names no single therapist, so it is rejected, saying so
        staffed("#R2", "14:00", "1h", "Ashiatsu 60", "Jonah Pell", "€1.095,50"),
        staffed("#R2", "14:00", "1h", "Foot ritual", "Isla Moreno", "€40,00"),
        staffed("#R2", "14:00", "1h", "Cabina", "Cabina 2"),
    ]
    path = write_csv(tmp_path / "appointments.csv", rows)
    mapping = write(tmp_path / "fresha.toml", GB + ROOMS)
    [result] = load_files(db, [path], mapping=mapping)
    # 5 lines = 3 loaded + 1 rejected + 1 joined into #R1's visit
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 3, 1)
    assert result.rows_skipped == 1, result.summary()
    rows = query(
        db,
        "select booking_id, therapist_id, room_id, service, start_at::varchar, end_at::varchar, "
        "price::varchar from raw_bookings order by booking_id",
    )
    assert rows == [
        # en-GB: 4 July; the therapist's service (1h: the room's 1h 10m is not hers, and the
        # room's line is no service); €95,00 + €0,00
        ("#R1", "Isla Moreno", "CABINA 1", "Ashiatsu 60", "2026-07-04 10:00:00",
         "2026-07-04 11:00:00", "95.00"),
        # €1.095,50 is one thousand and ninety-five fifty
        ("#R2", "Jonah Pell", "Cabina 2", "Ashiatsu 60", "2026-07-04 14:00:00",
         "2026-07-04 15:00:00", "1095.50"),
        ("#R2-2", "Isla Moreno", "Cabina 2", "Foot ritual", "2026-07-04 14:00:00",
         "2026-07-04 15:00:00", "40.00"),
    ]  # fmt: skip
    assert query(db, "select line_number, reason from rejected_rows") == [
        (6, "the team member 'Cabina 2' is a room ([fresha] rooms) and no one therapist of its "
            "appointment starts with it: a room alone is no booking")
    ]  # fmt: skip


def test_inspect_names_freshas_own_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "appointments.csv", VISITS[:1])
    mapping = write(tmp_path / "fresha.toml", GB + LOCATIONS)
    run = run_cli("inspect", str(path), "--mapping", str(mapping))
    assert run.returncode == 0, run.lines
    fields = {cells[0]: cells[1] for cells in (re.split(r"\s{2,}", x.strip()) for x in run.lines)
              if len(cells) > 2}  # fmt: skip
    # the export's headers, not the names of the table the visits are grouped in
    assert fields["booking_id"] == "Appointment reference"
    assert fields["therapist_id"] == "Team member"
    assert fields["end_at"] == "Duration"
    assert fields["client_id"] == "Client email, Client phone, Client"
    assert fields["created_at"] == "–"  # Fresha's export has no such column


def test_durations_written_with_hours_and_minutes_in_words(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    rows = [
        line("#W1", "06/07/2024", "09:00", "2 hours", "Ashiatsu 120"),
        line("#W2", "06/07/2024", "12:00", "1hr 15mins", "Ashiatsu 75"),
        line("#W3", "06/07/2024", "15:00", "90 minutes", "Ashiatsu 90"),
    ]
    path = write_csv(tmp_path / "appointments.csv", rows)
    [result] = load_files(db, [path], mapping=write(tmp_path / "f.toml", GB + LOCATIONS))
    assert (result.rows_loaded, result.rows_rejected) == (3, 0), result.summary()
    # by hand: 9:00 + 120, 12:00 + 75, 15:00 + 90 minutes
    assert query(db, "select end_at::varchar from raw_bookings order by booking_id") == [
        ("2024-07-06 11:00:00",),
        ("2024-07-06 13:15:00",),
        ("2024-07-06 16:30:00",),
    ]


def test_an_xlsx_export_with_date_and_time_cells(tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    # Excel's own date and time cells, as a workbook saved again holds them
    sheet.append(
        [
            "#X1",
            "Poppy Hartley",
            "",
            "",
            dt.datetime(2026, 7, 4),
            dt.time(15, 0),
            "1h 30m",
            "Ashiatsu 90",
            "Isla Moreno",
            "Covent Garden Spa",
            "Completed",
            135,
        ]
    )
    sheet.append(["#X2", "Poppy Hartley", "", "", dt.datetime(2026, 7, 5), "10:00am", "45m",
                  "Foot ritual", "Isla Moreno", "Covent Garden Spa", "Booked", 40])  # fmt: skip
    path = tmp_path / "appointments.xlsx"
    book.save(path)
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [path], mapping=write(tmp_path / "f.toml", GB + LOCATIONS))
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    # was: '2026-07-04 00:00:00 15:00:00' is not a date-time
    assert query(db, "select start_at::varchar, end_at::varchar from raw_bookings order by 1") == [
        ("2026-07-04 15:00:00", "2026-07-04 16:30:00"),  # + 1h 30m
        ("2026-07-05 10:00:00", "2026-07-05 10:45:00"),  # + 45m
    ]


NUMERIC = [
    line("#N1", "06/07/2024", "10:30", "1h", "Ashiatsu 60"),
    line("#N2", "13/07/2024", "10:30", "1h", "Ashiatsu 60"),
]


def test_numeric_dates_without_the_locale_are_refused_saying_what_to_add(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = write_csv(tmp_path / "appointments.csv", NUMERIC)
    [result] = load_files(db, [path], mapping=write(tmp_path / "f.toml", LOCATIONS))
    assert result.outcome == "failed"
    # no start reads: the order is the account's, which only the mapping can say (was: every
    # row rejected, "not a date-time (expected YYYY-MM-DD HH:MM)")
    assert result.message == (
        "line 2: the date '06/07/2024 10:30' is written in numbers, whose order follows the "
        'Fresha account\'s locale: add [fresha] locale = "en-GB" (day first: 06/07 is 6 July) '
        'or "en-US" (month first) to the mapping'
    )


def test_a_locale_the_dates_contradict_refuses_the_file(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = write_csv(tmp_path / "appointments.csv", NUMERIC)
    mapping = write(tmp_path / "f.toml", '[fresha]\nlocale = "en-US"\n' + LOCATIONS)
    [result] = load_files(db, [path], mapping=mapping)
    assert result.outcome == "failed"
    # 13/07 has no month 13: the account writes day first, so #N1 would load as June 7
    assert result.message == (
        "line 3: the date '13/07/2024 10:30' does not read in the order [fresha] locale "
        "'en-US' in the mapping gives, only the other way round: correct it, or the file's "
        "other dates would load with day and month swapped"
    )
    # en-GB reads both: 6 and 13 July
    mapping = write(tmp_path / "g.toml", GB + LOCATIONS)
    [result] = load_files(db, [path], mapping=mapping)
    assert (result.rows_loaded, result.rows_rejected) == (2, 0), result.summary()
    assert query(db, "select start_at::varchar from raw_bookings order by 1") == [
        ("2024-07-06 10:30:00",),
        ("2024-07-13 10:30:00",),
    ]


# Fresha in Italian (invented people): the account's language names the columns and months,
# and writes prices with a decimal comma
ITALIAN = """\
Riferimento appuntamento,Cliente,Data programmata,Ora programmata,Durata,Servizi,Membro del team,Sede,Stato,Prezzo
#2001,Giulia Ferri,04 lug 2026,15:00,1h 30m,Ashiatsu 90,"Sara Lodi, CABINA 1",Studio Milano,Completato,"135,00 €"
#2001,Giulia Ferri,04 lug 2026,15:00,30m,Foot ritual,"Sara Lodi, CABINA 1",Studio Milano,Completato,"40,00 €"
#2002,Marco Dal,5 dic 2026,10:00,45m,Foot ritual,Sara Lodi,Studio Milano,Prenotato,"40,00 €"
"""  # noqa: E501
ITALIAN_MAPPING = """\
[fresha]
rooms = ["CABINA 1"]
[headers]
"Riferimento appuntamento" = "Appointment reference"
"Cliente" = "Client"
"Data programmata" = "Scheduled date"
"Ora programmata" = "Scheduled time"
"Durata" = "Duration"
"Servizi" = "Services"
"Membro del team" = "Team member"
"Sede" = "Location"
"Stato" = "Status"
"Prezzo" = "Price"
[formats]
decimal = ","
[status_words]
"Completato" = "completed"
"Prenotato" = "booked"
[locations]
"Studio Milano" = "L01"
"""


def test_an_account_in_another_language_reads_as_fresha_through_headers(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    path = write(tmp_path / "appuntamenti.csv", ITALIAN)
    [result] = load_files(db, [path], mapping=write(tmp_path / "it.toml", ITALIAN_MAPPING))
    # as Fresha, not a [columns] table: #2001's two services are one visit (with [columns]
    # the second line would repeat the reference and replace the first)
    assert result.format == "fresha-csv", result.summary()
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 0)
    rows = query(
        db,
        "select booking_id, location_id, room_id, therapist_id, service, start_at::varchar, "
        "end_at::varchar, status, price::varchar from raw_bookings order by booking_id",
    )
    assert rows == [
        # lug = July; the latest end (1h 30m); 135,00 + 40,00
        ("#2001", "L01", "CABINA 1", "Sara Lodi", "Ashiatsu 90 + Foot ritual",
         "2026-07-04 15:00:00", "2026-07-04 16:30:00", "completed", "175.00"),
        # dic = December; + 45m
        ("#2002", "L01", None, "Sara Lodi", "Foot ritual", "2026-12-05 10:00:00",
         "2026-12-05 10:45:00", "booked", "40.00"),
    ]  # fmt: skip


def test_a_folder_of_mappings_gives_the_italian_export_its_fresha_mapping(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    folder = tmp_path / "mappings"
    folder.mkdir()
    write(folder / "fresha-it.toml", ITALIAN_MAPPING)
    write(folder / "cg.toml", GB + LOCATIONS)  # another account's, without [headers]
    path = write(tmp_path / "appuntamenti.csv", ITALIAN)
    [result] = load_files(db, [path], mapping=[folder])
    # the [headers] of fresha-it.toml make it a Fresha export, and its [fresha] section picks
    # that mapping (was: "the header matches no known export")
    assert (result.format, result.rows_loaded) == ("fresha-csv", 2), result.summary()


# --- a room's line longer than the service; Extra Time; walk-ins (issue 24) --------------------

# Fresha's header with the Extra Time column some accounts export (a buffer after the service)
EXTRA = [*HEADER, "Extra Time"]


def write_extra(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(EXTRA)
        out.writerows(rows)
    return path


def test_a_room_held_longer_than_the_service_keeps_the_therapists_minutes(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    rows = [
        # #L1: the therapist's 60-minute service, 10 minutes' Extra Time after it, and the
        # room booked as a team member for 70 minutes (the service and its turnover)
        [*staffed("#L1", "10:00", "1h", "Ashiatsu 60", "Isla Moreno", "€95,00"), "10m"],
        [*staffed("#L1", "10:00", "1h 10m", "Cabina", "CABINA 1", "€0,00"), ""],
        # #L2: two services of the therapist's, and the room for both plus 15 minutes
        [*staffed("#L2", "14:00", "45m", "Ashiatsu 45", "Isla Moreno", "€70,00"), "15m"],
        [*staffed("#L2", "14:00", "1h", "Foot ritual", "Isla Moreno", "€40,00"), "15m"],
        [*staffed("#L2", "14:00", "1h 15m", "Cabina", "CABINA 1"), ""],
    ]
    path = write_extra(tmp_path / "appointments.csv", rows)
    [result] = load_files(db, [path], mapping=write(tmp_path / "fresha.toml", GB + ROOMS))
    # 5 lines = 2 visits loaded + 3 lines joined into them
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 0)
    assert query(
        db,
        "select booking_id, therapist_id, room_id, service, strftime(end_at, '%H:%M'), minutes, "
        "price::varchar from fct_bookings order by booking_id",
    ) == [
        # the therapist's hands-on minutes are the service's: 10:00 + 1h = 11:00, 60 minutes
        # (was 11:10, 70: the room's line stretched it); neither the room's 10 more minutes
        # nor the Extra Time is a minute of the therapist's. The room line names no service.
        ("#L1", "Isla Moreno", "CABINA 1", "Ashiatsu 60", "11:00", 60, "95.00"),
        # the longer of the therapist's services (1h): 14:00-15:00, not the room's 1h 15m;
        # €70 + €40
        ("#L2", "Isla Moreno", "CABINA 1", "Ashiatsu 45 + Foot ritual", "15:00", 60, "110.00"),
    ]  # fmt: skip


WALK_INS = [
    # two walk-ins (Fresha's Client "Walk-In", or left empty) and a named client, one each
    ["#K1", "Walk-In", "", "", "06/07/2024", "10:00", "1h", "Ashiatsu 60", "Isla Moreno",
     "Covent Garden Spa", "Completed", "£95.00"],
    ["#K2", "", "", "", "06/07/2024", "12:00", "1h", "Ashiatsu 60", "Isla Moreno",
     "Covent Garden Spa", "Completed", "£95.00"],
    ["#K3", "walk-in", "", "", "07/07/2024", "10:00", "1h", "Ashiatsu 60", "Jonah Pell",
     "Covent Garden Spa", "Completed", "£95.00"],
    line("#K4", "07/07/2024", "12:00", "1h", "Ashiatsu 60"),  # Poppy Hartley
]  # fmt: skip


def test_walk_ins_are_bookings_without_a_client_never_one_client(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    # the location opened on 1 July: its clients are new from then
    profile = write(
        tmp_path / "studio.toml",
        '[[location]]\nid = "L03"\nname = "Covent Garden Spa"\ntimezone = "Europe/London"\n'
        'opened_on = "2024-07-01"\n',
    )
    path = write_csv(tmp_path / "appointments.csv", WALK_INS)
    *_, result = load_files(db, [profile, path], mapping=write(tmp_path / "f.toml", GB))
    # as in every other export (a native file, Acuity, Square), a booking without a client
    # is rejected, saying so: the three walk-ins; only Poppy's visit loads (was: "Walk-In" and
    # "walk-in" loaded as one client with two visits, new on 6 July; the empty one rejected
    # as "client_id is missing")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 1, 3)
    walk_in = (
        "the client is a walk-in (no name, email or phone): a booking without a client is not "
        "loaded; give the appointment its client in Fresha to count it"
    )
    assert query(db, "select line_number, reason from rejected_rows order by 1") == [
        (2, walk_in),
        (3, walk_in),
        (4, walk_in),
    ]
    # by hand: one client (Poppy), one first visit, new (7 July, after the opening), and no
    # client with the walk-ins' visits (before: 2 clients, 2 first visits, 2 new)
    assert query(
        db,
        "select count(distinct client_id), count(*) filter (where is_first_visit), "
        "count(*) filter (where is_new_client), max(booking_id) from fct_bookings",
    ) == [(1, 1, 1, "#K4")]
    assert query(db, "select count(*) from dim_clients") == [(1,)]
