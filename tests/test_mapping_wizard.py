"""Exports that need a mapping (issue 14, point 6): each adapter says what it lacks in a
structured way (MappingNeeded), the answers become a mapping file in `mappings/` beside the
warehouse, and later files of the same source (CLI or Data page) load with it, no questions."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.ingest import pii
from pipelines.ingest.formats.mapped import AnswerError, mappings_folder, save_answers
from pipelines.ingest.formats.needs import MappingNeeded
from pipelines.ingest.formats.preview import preview
from pipelines.ingest.load import load_files
from tests.browser import (
    ROOT,
    browser_test,
    chromium_page,
    streamlit_app,
    studio_env,
    wait_until_idle,
)
from tests.hostile import fingerprint
from tests.test_inspect import ITALIAN_HEADERS
from tests.test_load import query, write

SHOTS = ROOT / "screenshots"
VENDORS = ("acuity", "calendly", "fresha", "mindbody", "vagaro", "square", "jane", "ics")
# The README's example of another system's export (day-first dates, split date and times).
LEGACY = (
    "Appt #,Day,From,Until,Guest,Guest Mail,Therapist,Treatment,Result,Amount\n"
    "7001,02/03/2026,09:00,10:30,Maya Okafor,maya@example.com,Elena Novak,Ashiatsu 90,Done,135.00\n"
    "7002,03/03/2026,13:00,14:00,Theo Brooks,theo@example.com,Elena Novak,Swedish 60,"
    "Completed,90.00\n"
)
# The studio's answers about LEGACY's columns (day first, as it writes its dates).
LEGACY_ANSWERS = {
    "source.name": "legacy",
    "columns.booking_id": "Appt #",
    "columns.start_at": "Day",
    "columns.start_time": "From",
    "columns.end_at": "Until",
    "formats.datetime": "%d/%m/%Y %H:%M",
    "columns.therapist_id": "Therapist",
    "columns.service": "Treatment",
    "columns.status": "Result",
    "columns.client_email": "Guest Mail",
    "source.location": "L01",
}


@pytest.fixture(autouse=True)
def salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pii.SALT_ENV, "test-salt")


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A one-location chain of 6 days written in every vendor's format (folder per vendor)."""
    from pipelines.demo.generate import write_chain
    from pipelines.demo.vendor_writers import write_vendor

    base = tmp_path_factory.mktemp("chains")
    write_chain(base / "native", locations=1, days=6, seed=7)
    out = {}
    for vendor in VENDORS:
        shutil.copytree(base / "native", base / vendor)
        write_vendor(base / vendor, vendor)
        shutil.rmtree(base / vendor / "mappings")  # the writer's own mappings are not used here
        out[vendor] = base / vendor
    out["native"] = base / "native"
    return out


def _warehouse(tmp_path: Path, chain: Path) -> Path:
    """A studio's warehouse holding the chain's locations, rooms and shifts (native files)."""
    db = tmp_path / "data" / "studio.duckdb"
    results = load_files(
        db, [chain / "locations.csv", chain / "rooms.csv", chain / "therapist_shifts.csv"]
    )
    assert all(r.outcome == "loaded" for r in results), [r.summary() for r in results]
    return db


def _bookings(db: Path) -> list[tuple]:
    return query(
        db, "select source, location_id, count(*) from raw_bookings group by all order by all"
    )


def _split_acuity(chain: Path, out: Path) -> tuple[Path, Path]:
    """The Acuity export cut in two files of the same source (each with the header)."""
    with open(chain / "L01" / "schedule.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    half = len(rows) // 2
    out.mkdir(parents=True, exist_ok=True)
    first, second = out / "acuity-week1.csv", out / "acuity-week2.csv"
    for path, part in ((first, rows[1:half]), (second, rows[half:])):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, quoting=csv.QUOTE_ALL).writerows([rows[0], *part])
    return first, second


# --- every adapter says what it lacks ------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_unmapped_vendor_export_says_what_it_needs(
    chains: dict[str, Path], tmp_path: Path, vendor: str
) -> None:
    db = _warehouse(tmp_path, chains[vendor])
    before = fingerprint(db)
    export = sorted((chains[vendor] / "L01").iterdir())[0]
    [result] = load_files(db, [export])
    assert result.outcome == "failed"
    assert "\n" not in result.message
    need = MappingNeeded.from_dict(result.needs)
    assert need.vendor == vendor
    assert need.source == vendor  # no account name: the vendor is the source
    keys = [q.key for q in need.questions]
    if vendor == "acuity":
        # all three asked at once; the location only for therapist/room calendars, the
        # therapist only for room/location calendars
        assert keys == ["acuity.calendar", "source.location", "acuity.therapist"]
        assert need.questions[1].only_if == {"acuity.calendar": ("therapist", "room")}
        assert need.questions[2].only_if == {"acuity.calendar": ("room", "location")}
        assert result.message.startswith("Acuity export: say what the Calendar column means")
        # the Calendar values of the first rows (therapist ids, as the writer puts them)
        assert need.sample and all(row[0].startswith("L01-T") for row in need.sample)
    else:
        assert keys == ["source.location"]
        assert "has no location column" in result.message
    assert fingerprint(db) == before


def test_acuity_answers_give_only_what_applies(tmp_path: Path, chains: dict[str, Path]) -> None:
    db = _warehouse(tmp_path, chains["acuity"])
    [result] = load_files(db, [chains["acuity"] / "L01" / "schedule.csv"])
    need = MappingNeeded.from_dict(result.needs)
    folder = mappings_folder(db)
    with pytest.raises(AnswerError, match="Which location"):
        save_answers(folder, need, {"acuity.calendar": "therapist"})
    # a location calendar: no location asked, but the one therapist is
    with pytest.raises(AnswerError, match="Who gives these treatments"):
        save_answers(folder, need, {"acuity.calendar": "location", "source.location": "L01"})
    path = save_answers(folder, need, {"acuity.calendar": "therapist", "source.location": "L01"})
    assert path == tmp_path / "data" / "mappings" / "acuity.toml"
    text = path.read_text()
    assert '[acuity]\ncalendar = "therapist"' in text and 'location = "L01"' in text
    assert "therapist =" not in text.split("[acuity]")[1]  # not asked for therapist calendars


def test_a_manager_can_only_answer_with_their_locations(
    tmp_path: Path, chains: dict[str, Path]
) -> None:
    db = _warehouse(tmp_path, chains["calendly"])
    [result] = load_files(db, [sorted((chains["calendly"] / "L01").iterdir())[0]])
    need = MappingNeeded.from_dict(result.needs)
    with pytest.raises(AnswerError, match=r"L02 is not one of your locations \(L01\)"):
        save_answers(mappings_folder(db), need, {"source.location": "L02"}, ("L01",))
    assert not mappings_folder(db).exists()  # nothing saved
    save_answers(mappings_folder(db), need, {"source.location": "L01"}, ("L01",))
    assert (mappings_folder(db) / "calendly.toml").exists()


# --- the mappings folder ---------------------------------------------------------------


def test_cli_second_acuity_file_loads_without_mapping_once_the_folder_has_it(
    tmp_path: Path, chains: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    from pipelines.cli import main

    db = _warehouse(tmp_path, chains["acuity"])
    first, second = _split_acuity(chains["acuity"], tmp_path / "exports")
    before = fingerprint(db)
    assert main(["load", str(first), "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "acuity-week1.csv: not loaded: Acuity export: say what the Calendar column" in out
    assert fingerprint(db) == before

    # the Data page's answers for the first file (the same function the page calls)
    [result] = load_files(db, [first])
    save_answers(
        mappings_folder(db),
        MappingNeeded.from_dict(result.needs),
        {"acuity.calendar": "therapist", "source.location": "L01"},
    )
    assert main(["load", str(second), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "acuity-week2.csv: bookings (acuity-csv)" in out
    [(source, location, count)] = _bookings(db)
    # every row of the second half is a booking of L01 (Acuity leaves cancellations out)
    with open(second, encoding="utf-8") as handle:
        assert (source, location, count) == ("acuity", "L01", sum(1 for _ in handle) - 1)


def test_an_explicit_mapping_wins_over_the_folder(tmp_path: Path, chains: dict[str, Path]) -> None:
    db = _warehouse(tmp_path, chains["calendly"])
    folder = mappings_folder(db)
    folder.mkdir()
    (folder / "calendly.toml").write_text('[source]\nlocation = "L01"\n')
    explicit = tmp_path / "other.toml"
    explicit.write_text('[source]\nname = "calendly-annex"\nlocation = "L01"\n')
    export = sorted((chains["calendly"] / "L01").iterdir())[0]
    [result] = load_files(db, [export], mapping=explicit)
    assert result.outcome == "loaded", result.summary()
    # the explicit file's account name became the source, not the folder's plain "calendly"
    assert [row[0] for row in _bookings(db)] == ["calendly-annex"]


def test_two_saved_mappings_for_one_vendor_are_one_clear_line(
    tmp_path: Path, chains: dict[str, Path]
) -> None:
    db = _warehouse(tmp_path, chains["calendly"])
    folder = mappings_folder(db)
    folder.mkdir()
    for name in ("calendly-a", "calendly-b"):
        (folder / f"{name}.toml").write_text(f'[source]\nname = "{name}"\nlocation = "L01"\n')
    before = fingerprint(db)
    [result] = load_files(db, [sorted((chains["calendly"] / "L01").iterdir())[0]])
    assert result.outcome == "failed"
    assert result.message == (
        f"several saved mappings in {folder} fit this file (calendly-a.toml, calendly-b.toml): "
        "pass the one to use with --mapping, or remove the others"
    )
    assert fingerprint(db) == before


def test_another_systems_export_gets_column_questions_a_preview_and_then_loads(
    tmp_path: Path, chains: dict[str, Path]
) -> None:
    db = _warehouse(tmp_path, chains["native"])
    export = tmp_path / "legacy.csv"
    export.write_text(LEGACY, encoding="utf-8")
    [result] = load_files(db, [export])
    assert result.message.startswith("the header matches no known export")
    need = MappingNeeded.from_dict(result.needs)
    assert need.vendor == "mapped" and need.header[0] == "Appt #"
    assert need.sample[0][:2] == ["7001", "02/03/2026"]
    answers = {**LEGACY_ANSWERS, "columns.price": "Amount"}
    shown = preview(need, answers)
    # 02/03/2026 is 2 March (day first, as the answer says); "Done" is no status word yet
    assert list(shown["start"].astype(str)) == ["2026-03-02 09:00:00", "2026-03-03 13:00:00"]
    assert list(shown["end"].astype(str)) == ["2026-03-02 10:30:00", "2026-03-03 14:00:00"]
    assert shown["would load?"][0].startswith("unknown status")
    assert shown["would load?"][1] == "ok"
    # month first instead: 02/03/2026 is 3 February
    month_first = preview(need, {**answers, "formats.datetime": "%m/%d/%Y %H:%M"})
    assert str(month_first["start"][0]) == "2026-02-03 09:00:00"
    with pytest.raises(AnswerError, match="client"):
        preview(need, {**answers, "columns.client_email": ""})

    path = save_answers(mappings_folder(db), need, answers)
    assert path.name == "mapped-legacy.toml"
    [result] = load_files(db, [export])  # found in the folder by its columns
    assert (result.outcome, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1)
    assert _bookings(db) == [("mapped-legacy", "L01", 1)]


def test_a_small_table_that_is_no_booking_export_gets_no_questions(tmp_path: Path) -> None:
    export = tmp_path / "not-an-export.csv"
    export.write_text("hello,world\n1,2\n")
    [result] = load_files(tmp_path / "w.duckdb", [export])
    assert result.message.startswith("the header matches no known export")
    assert result.needs is None


# --- the Data page, in a browser ---------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path, chains: dict[str, Path]) -> Iterator[tuple[str, Path]]:
    """`streamlit run` on a studio warehouse holding the chain's rooms, shifts and location."""
    db = _warehouse(tmp_path, chains["acuity"])
    env = studio_env(db, STUDIO_OPS_SALT="test-salt")
    with streamlit_app(tmp_path / "streamlit.log", env) as server:
        yield server.url, db
    assert "Traceback" not in server.log.read_text()


@browser_test
def test_browser_acuity_upload_asks_once_then_a_second_file_loads_without_questions(
    app: tuple[str, Path], chains: dict[str, Path], tmp_path: Path
) -> None:
    base, db = app
    first, second = _split_acuity(chains["acuity"], tmp_path / "exports")
    with chromium_page() as page:
        page.goto(f"{base}/loads")
        wait_until_idle(page)

        def upload(path: Path) -> None:
            page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
            page.get_by_text(path.name).first.wait_for(timeout=30_000)
            page.get_by_role("button", name="Load files").click()

        upload(first)
        page.get_by_text("What is a Calendar in your Acuity account?").wait_for(timeout=60_000)
        wait_until_idle(page)
        page.get_by_text("A therapist: each Calendar is one person's schedule").click()
        wait_until_idle(page)
        page.get_by_text("Which location are these bookings from?").wait_for(timeout=30_000)
        # the location question lists the warehouse's location (L01, from locations.csv)
        page.get_by_role("combobox", name="Which location are these bookings from?").click()
        page.get_by_role("option", name=re.compile(r"\(L01\)")).click()
        wait_until_idle(page)
        page.get_by_text("Who gives these treatments?").wait_for(state="detached")
        SHOTS.mkdir(exist_ok=True)
        page.get_by_text("needs a few answers").first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "data_mapping_questions.png"))
        page.get_by_role("button", name="Save and load").click()
        # (a page line holds a word joiner after each colon: no link can start there)
        done = page.get_by_text(re.compile(r"acuity-week1\.csv:\W*bookings \(acuity-csv\)"))
        done.wait_for(timeout=120_000)
        wait_until_idle(page)
        assert (db.parent / "mappings" / "acuity.toml").exists()
        loaded = _bookings(db)
        assert [(s, loc) for s, loc, _ in loaded] == [("acuity", "L01")]

        upload(second)
        second_done = re.compile(r"acuity-week2\.csv:\W*bookings \(acuity-csv\)")
        page.get_by_text(second_done).wait_for(timeout=120_000)
        wait_until_idle(page)
        assert page.get_by_text("What is a Calendar in your Acuity account?").count() == 0
        assert page.locator("[data-testid='stException']").count() == 0
        with open(second, encoding="utf-8") as handle:
            assert _bookings(db)[0][2] == loaded[0][2] + sum(1 for _ in handle) - 1


def test_the_preview_shows_rows_whose_date_time_the_answer_does_not_read(tmp_path: Path) -> None:
    export = tmp_path / "legacy.csv"
    export.write_text(LEGACY, encoding="utf-8")
    [result] = load_files(tmp_path / "w.duckdb", [export])
    need = MappingNeeded.from_dict(result.needs)
    # the file writes 02/03/2026: no row reads
    answers = {**LEGACY_ANSWERS, "formats.datetime": "%d-%m-%Y %H:%M"}
    shown = preview(need, answers)
    # both rows, each with the reason (was: an empty table, saying nothing)
    assert list(shown["line"]) == [2, 3]
    assert list(shown["would load?"]) == [
        "start '02/03/2026 09:00' does not match [formats] datetime '%d-%m-%Y %H:%M' in your "
        "answers",
        "start '03/03/2026 13:00' does not match [formats] datetime '%d-%m-%Y %H:%M' in your "
        "answers",
    ]


def test_an_answer_the_dates_contradict_is_one_line_about_the_answers(tmp_path: Path) -> None:
    export = tmp_path / "legacy.csv"
    export.write_text(LEGACY.replace("03/03/2026", "13/03/2026"), encoding="utf-8")
    [result] = load_files(tmp_path / "w.duckdb", [export])
    need = MappingNeeded.from_dict(result.needs)
    # month first, but 13/03/2026 has no month 13
    answers = {**LEGACY_ANSWERS, "formats.datetime": "%m/%d/%Y %H:%M"}
    with pytest.raises(AnswerError) as raised:
        preview(need, answers)
    # never the temporary file the preview writes the answers to
    assert str(raised.value) == (
        "line 3: start '13/03/2026 13:00' is written day first, but [formats] datetime "
        "'%m/%d/%Y %H:%M' in your answers reads month first: fix it to '%d/%m/%Y %H:%M', or "
        "the other rows would load with day and month swapped"
    )


# --- what the file's first rows ask: a decimal comma, Fresha in another language ---------------

APP = ROOT / "streamlit_app.py"
LOADS = "dashboard/pages/loads.py"
# Another system's export from Europe (invented people): semicolons, day.month dates, prices
# with a decimal comma and a point between thousands.
EUROPEAN = (
    "Termin-Nr;Datum;Beginn;Ende;Kunde;E-Mail;Therapeut;Behandlung;Status;Preis (brutto, EUR)\n"
    "501;02.03.2026;09:00;10:30;Lena Vogt;lena@example.com;Jana Roth;Ashiatsu 90;Completed;"
    "1.234,50 €\n"
    "502;03.03.2026;13:00;14:00;Paul Kern;paul@example.com;Jana Roth;Ashiatsu 60;Completed;"
    "95,00 €\n"
)
EUROPEAN_ANSWERS = {
    "source.name": "praxis",
    "columns.booking_id": "Termin-Nr",
    "columns.start_at": "Datum",
    "columns.start_time": "Beginn",
    "columns.end_at": "Ende",
    "formats.datetime": "%d.%m.%Y %H:%M",
    "columns.therapist_id": "Therapeut",
    "columns.service": "Behandlung",
    "columns.status": "Status",
    "columns.client_email": "E-Mail",
    "columns.price": "Preis (brutto, EUR)",
}
# Fresha in Italian (invented people): columns and months in Italian, prices with a decimal
# comma; #2001 is one visit of two services (two lines with the same reference).
ITALIAN_FRESHA = (
    "Riferimento appuntamento,Cliente,Data programmata,Ora programmata,Durata,Servizi,"
    "Membro del team,Sede,Stato,Prezzo\n"
    '#2001,Giulia Ferri,04 lug 2026,15:00,1h 30m,Ashiatsu 90,"Sara Lodi, CABINA 1",Studio Milano,Completato,"135,00 €"\n'  # noqa: E501
    '#2001,Giulia Ferri,04 lug 2026,15:00,30m,Foot ritual,"Sara Lodi, CABINA 1",Studio Milano,Completato,"40,00 €"\n'  # noqa: E501
    '#2002,Marco Dal,5 dic 2026,10:00,45m,Foot ritual,Sara Lodi,Studio Milano,Prenotato,"1.040,00 €"\n'  # noqa: E501
)  # fmt: skip


def _waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str):
    """The Data page (AppTest, an owner without sign-in) with `text` uploaded as `name` and
    waiting for answers, as show_results leaves it; the warehouse holds location L01."""
    from streamlit.testing.v1 import AppTest

    from dashboard import mapping_questions
    from pipelines import access

    db = tmp_path / "data" / "studio.duckdb"
    places = write(tmp_path / "locations.csv", "location_id,name\nL01,Studio Milano\n")
    assert load_files(db, [places])[0].outcome == "loaded"
    export = write(tmp_path / name, text)
    [result] = load_files(db, [export])
    assert result.needs is not None, result.summary()
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv(access.ACCESS_ENV, raising=False)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page(LOADS)
    pending = {"name": name, "data": export.read_bytes(), "needs": result.needs, "location": None}
    at.session_state[mapping_questions.PENDING] = [pending]
    return at.run(), db


def test_data_page_asks_how_prices_are_written_when_they_have_a_decimal_comma(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, db = _waiting(tmp_path, monkeypatch, "praxis.csv", EUROPEAN)
    assert not at.exception
    # not asked before the price column is chosen (the comma is read from its cells)
    assert not [r for r in at.radio if r.key == "map-1-formats.decimal"]
    at.text_input(key="map-1-source.name").set_value(EUROPEAN_ANSWERS["source.name"])
    for key, value in EUROPEAN_ANSWERS.items():
        if key != "source.name":
            at.selectbox(key=f"map-1-{key}").set_value(value)
    at.selectbox(key="map-1-source.location").set_value("L01")
    at.run()
    decimal = at.radio(key="map-1-formats.decimal")
    assert decimal.label == "How are its prices written?"
    assert decimal.value == ","  # proposed: its cells show a comma before the cents
    at.button(key="map-1-save").click().run()
    assert not at.exception
    saved = (db.parent / "mappings" / "mapped-praxis.toml").read_text()
    assert '[formats]\ndatetime = ["%d.%m.%Y %H:%M"]\ndecimal = ","' in saved
    # 1.234,50 € is 1234.50 and 95,00 € is 95.00 (a point between thousands, a comma before
    # the cents); both rows load (was: both rejected, "has a decimal comma")
    assert query(db, "select booking_id, price::varchar from raw_bookings order by booking_id") == [
        ("501", "1234.50"),
        ("502", "95.00"),
    ]


def test_data_page_asks_an_italian_fresha_export_for_its_headers_not_its_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, db = _waiting(tmp_path, monkeypatch, "appuntamenti.csv", ITALIAN_FRESHA)
    assert not at.exception
    assert "a Fresha export in another language needs a few answers" in at.markdown[0].value
    assert at.selectbox(key="map-1-headers.Data programmata").label == (
        "Data programmata  (e.g. 04 lug 2026) is Fresha's column"
    )
    # each Italian column is proposed as the Fresha column its values and name say
    proposed = {b.key.removeprefix("map-1-headers."): b.value for b in at.selectbox
                if b.key and b.key.startswith("map-1-headers.")}  # fmt: skip
    assert proposed == ITALIAN_HEADERS
    assert not [b for b in at.selectbox if b.key == "map-1-columns.booking_id"]  # no [columns]
    assert at.radio(key="map-1-formats.decimal").value == ","
    # "Sara Lodi, CABINA 1": the room set up as a team member is proposed as a room
    assert at.multiselect(key="map-1-fresha.rooms").value == ["CABINA 1"]
    at.selectbox(key="map-1-status_words.Completato").set_value("completed")
    at.selectbox(key="map-1-status_words.Prenotato").set_value("booked")
    at.selectbox(key="map-1-locations.Studio Milano").set_value("L01")
    at.run()
    at.button(key="map-1-save").click().run()
    assert not at.exception
    saved = (db.parent / "mappings" / "fresha.toml").read_text()
    assert '"Data programmata" = "Scheduled date"' in saved and 'decimal = ","' in saved
    # #2001's room is CABINA 1 and its therapist Sara Lodi (was: one therapist of both names)
    assert query(db, "select booking_id, room_id, therapist_id from raw_bookings order by 1") == [
        ("#2001", "CABINA 1", "Sara Lodi"),
        ("#2002", None, "Sara Lodi"),
    ]
    rows = query(
        db,
        "select booking_id, location_id, service, start_at::varchar, end_at::varchar, status, "
        "price::varchar from raw_bookings order by booking_id",
    )
    assert rows == [
        # one visit: lug = July, 15:00 + the longest service (1h 30m); 135,00 + 40,00
        ("#2001", "L01", "Ashiatsu 90 + Foot ritual", "2026-07-04 15:00:00",
         "2026-07-04 16:30:00", "completed", "175.00"),
        # dic = December, 10:00 + 45m; 1.040,00 is 1040.00
        ("#2002", "L01", "Foot ritual", "2026-12-05 10:00:00", "2026-12-05 10:45:00",
         "booked", "1040.00"),
    ]  # fmt: skip
    # the next export of this account loads with the saved mapping, no questions
    later = write(tmp_path / "luglio.csv", ITALIAN_FRESHA.replace("#2002", "#2003"))
    [result] = load_files(db, [later])
    assert (result.outcome, result.format, result.rows_loaded) == ("loaded", "fresha-csv", 2)


def test_data_page_asks_a_fresha_export_with_decimal_commas_how_prices_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fresha in English from an account that writes €1.135,00, without a Location column
    export = (
        "Appointment reference,Client,Scheduled date,Scheduled time,Duration,Services,"
        "Team member,Status,Price\n"
        '#3001,Anna Berg,04 Jul 2026,3:00pm,1h 30m,Ashiatsu 90,Sara Lodi,Completed,"€1.135,00"\n'
        '#3002,Ben Ode,05 Jul 2026,10:00am,45m,Foot ritual,Sara Lodi,Booked,"€40,00"\n'
    )
    at, db = _waiting(tmp_path, monkeypatch, "appointments.csv", export)
    assert not at.exception
    # asked with the location (was: only the location, then every row rejected for its price)
    assert at.radio(key="map-1-formats.decimal").value == ","
    at.selectbox(key="map-1-source.location").set_value("L01")
    at.run()
    at.button(key="map-1-save").click().run()
    assert not at.exception
    # €1.135,00 is 1135.00 (a point between thousands), €40,00 is 40.00
    assert query(
        db, "select booking_id, location_id, price::varchar from raw_bookings order by 1"
    ) == [("#3001", "L01", "1135.00"), ("#3002", "L01", "40.00")]


def test_data_page_asks_an_italian_fresha_export_with_numeric_dates_its_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # numeric dates in the account's order; 13/07/2026 can only be day first
    export = (
        ITALIAN_FRESHA.replace("04 lug 2026", "13/07/2026")
        .replace("5 dic 2026", "05/12/2026")
        .replace('"135,00 €"', "135.00")  # prices with a point: no decimal question
        .replace('"40,00 €"', "40.00")
        .replace('"1.040,00 €"', "1040.00")
    )
    at, db = _waiting(tmp_path, monkeypatch, "appuntamenti.csv", export)
    assert not at.exception
    assert at.selectbox(key="map-1-headers.Data programmata").value == "Scheduled date"
    assert not [r for r in at.radio if r.key == "map-1-formats.decimal"]
    assert at.radio(key="map-1-fresha.locale").value == "en-GB"  # proposed: day first
    at.selectbox(key="map-1-status_words.Completato").set_value("completed")
    at.selectbox(key="map-1-status_words.Prenotato").set_value("booked")
    at.selectbox(key="map-1-locations.Studio Milano").set_value("L01")
    at.run()
    at.button(key="map-1-save").click().run()
    assert not at.exception
    # 13/07/2026 is 13 July, 05/12/2026 is 5 December (day first, as the locale says)
    assert query(db, "select booking_id, start_at::varchar from raw_bookings order by 1") == [
        ("#2001", "2026-07-13 15:00:00"),
        ("#2002", "2026-12-05 10:00:00"),
    ]
