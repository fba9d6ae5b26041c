"""The Setup page: owners see and edit the studio profile; a save is checked, written and loaded.

Each test builds a small warehouse in tmp_path (one booking and a profile, loaded with the real
pipeline) and drives the real app in Streamlit's AppTest.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import auth, profile_form
from dashboard.format import WORD_JOINER
from pipelines import access
from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from pipelines.profile import parse_profile, stored_profile, to_toml
from pipelines.settings import Settings
from tests.hostile import fingerprint
from tests.test_load import BOOKING_HEADER, booking, write_csv

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
SETUP = "dashboard/pages/setup.py"
TIMEOUT = 120
PASSWORDS = {"olga": "owner-pass-123", "maria": "manager-pass-123", "sam": "scheduler-pass-1"}

PROFILE = """
[[location]]
id = "L01"
name = "Eastside Ashiatsu"
opening_hours = { tue = "09:00-20:00", sat = "09:00-18:00" }
rooms = [
  { id = "cedar", name = "Cedar", bars = true },
  { id = "oak", name = "Oak", bars = false },
]

[[location.therapist]]
id = "maya"
name = "Maya Chen"
also_known_as = ["Chen, Maya"]
bar_trained = true
shifts = { tue = "09:00-17:00", sat = "10:00-16:00" }
break_minutes = 30
"""


def last_tuesday() -> dt.date:
    """A Tuesday one to two weeks before today: a booking day inside the profile's rows."""
    today = dt.date.today()
    return today - dt.timedelta(days=7 + (today.weekday() - 1) % 7)


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse with one booking of L01 and the profile above, shown by the app."""
    yield from make_studio(tmp_path, monkeypatch, with_profile=True)


@pytest.fixture
def bookings_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The same booking, and no profile yet."""
    yield from make_studio(tmp_path, monkeypatch, with_profile=False)


def make_studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_profile: bool):
    db = tmp_path / "studio.duckdb"
    day = last_tuesday().isoformat()
    export = write_csv(
        tmp_path / "bookings.csv",
        BOOKING_HEADER,
        [
            booking(
                location_id="L01",
                room_id="cedar",
                therapist_id="maya",
                start_at=f"{day} 10:00",
                end_at=f"{day} 11:00",
                created_at=f"{day} 08:00",
            )
        ],
    )
    profile = tmp_path / "eastside.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    monkeypatch.setenv(pii.SALT_ENV, "setup-test-salt")
    files = [export, profile] if with_profile else [export]
    results = load_files(db, files, Settings())
    assert {r.outcome for r in results} == {"loaded"}, [r.summary() for r in results]
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv(access.ACCESS_ENV, raising=False)
    st.cache_data.clear()
    auth._users_cached.cache_clear()
    yield db
    st.cache_data.clear()


@pytest.fixture
def access_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An owner, a manager of L01 and a scheduler of L01, in force."""
    path = tmp_path / "access.toml"
    access.add_user(path, "olga", "owner", [], PASSWORDS["olga"])
    access.add_user(path, "maria", "manager", ["L01"], PASSWORDS["maria"])
    access.add_user(path, "sam", "scheduler", ["L01"], PASSWORDS["sam"])
    monkeypatch.setenv(access.ACCESS_ENV, str(path))
    monkeypatch.setattr(access, "SIGN_INS", access.SignInThrottle())
    return path


def open_setup(user: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if user:
        at.session_state[auth.SESSION_USER] = user
    at.run()
    at.switch_page(SETUP).run()
    return at


def warehouse(db: Path, sql: str, *params: object) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def loaded_profile(db: Path):
    with duckdb.connect(str(db), read_only=True) as con:
        return stored_profile(con)


def plain(shown: str) -> str:
    """A line as the viewer reads it: md_text's backslash escapes and word joiners removed."""
    return re.sub(r"\\(.)", r"\1", shown).replace(WORD_JOINER, "")


def save(at: AppTest) -> AppTest:
    [button] = [b for b in at.get("form_submit_button") if b.label == "Save and reload"]
    return button.click().run()


# --- the form and the profile are one thing ---------------------------------------------------


def test_a_location_read_into_the_form_and_written_back_is_the_same_profile() -> None:
    profile = parse_profile(PROFILE, "eastside.toml")
    drafts = [profile_form.draft(loc) for loc in profile.locations]
    assert profile_form.check(drafts, "eastside.toml") == profile


def test_the_page_shows_the_loaded_profile(studio: Path) -> None:
    at = open_setup()
    assert not at.exception
    assert not at.error
    assert at.title[0].value == "Setup"
    assert at.selectbox(key="setup_location").value == "L01"
    assert at.text_input(key=profile_form.editor_key("hours-tue", "L01", 0)).value == (
        "09:00-20:00"
    )
    assert at.text_input(key=profile_form.editor_key("hours-mon", "L01", 0)).value == ""
    [rooms, therapists, shifts] = at.dataframe
    assert rooms.value.to_dict("records") == [
        {"id": "cedar", "name": "Cedar", "bars": True},
        {"id": "oak", "name": "Oak", "bars": False},
    ]
    [maya] = therapists.value.to_dict("records")
    assert (maya["id"], maya["bar_training"], maya["break_minutes"], maya["also_known_as"]) == (
        "maya",
        "yes",
        30,
        "Chen, Maya",
    )
    [week] = shifts.value.to_dict("records")
    assert (week["id"], week["mon"], week["tue"], week["sat"]) == (
        "maya",
        "",
        "09:00-17:00",
        "10:00-16:00",
    )
    # the download is the loaded profile's TOML
    [download] = at.get("download_button")
    assert download.proto.label == "Download TOML"


def test_an_owner_adds_a_room_and_saves_and_the_room_calendar_follows(studio: Path) -> None:
    # Before: cedar (bars) and oak on every open day (Tuesdays and Saturdays) from the first
    # booking to load day + profile_days_ahead.
    before = dict(warehouse(studio, "select room_id, count(*) from fct_room_days group by room_id"))
    assert set(before) == {"cedar", "oak"}
    at = open_setup()
    at.session_state[profile_form.editor_key("rooms", "L01", 0)] = {
        "edited_rows": {},
        "added_rows": [{"id": "birch", "name": "Birch", "bars": True}],
        "deleted_rows": [],
    }
    save(at)
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    [line] = [s.value for s in at.success]
    assert plain(line).startswith("studio-profile.toml: ")

    # The warehouse's profile now has the room, and so does the file beside it.
    profile = loaded_profile(studio)
    rooms = [(r.id, r.name, r.bars) for r in profile.location("L01").rooms]
    assert rooms == [("cedar", "Cedar", True), ("oak", "Oak", False), ("birch", "Birch", True)]
    beside = studio.with_name("studio-profile.toml")
    assert profile_form.file_profile(studio) == profile
    assert beside.read_text(encoding="utf-8") == to_toml(profile)

    # The room calendar: birch gets a row on exactly the days cedar has one (the same open
    # days), and the booking's Tuesday now has two bar rooms: 2 x 11 h = 1,320 bar-room minutes.
    after = dict(warehouse(studio, "select room_id, count(*) from fct_room_days group by room_id"))
    assert after["birch"] == after["cedar"] >= before["cedar"]
    [(bar_rooms, bar_minutes, rooms_that_day)] = warehouse(
        studio,
        """
        select bar_rooms, bar_room_available_minutes, rooms
        from fct_location_days where location_id = 'L01' and "date" = ?
        """,
        last_tuesday(),
    )
    assert (bar_rooms, bar_minutes, rooms_that_day) == (2, 1320, 3)
    # The page now shows the saved profile, birch included, from a fresh form.
    rooms_shown = at.dataframe[0].value["id"].tolist()
    assert rooms_shown == ["cedar", "oak", "birch"]


def test_hours_that_end_before_they_start_are_refused_in_one_line_and_nothing_changes(
    studio: Path,
) -> None:
    before = fingerprint(studio)
    at = open_setup()
    at.text_input(key=profile_form.editor_key("hours-tue", "L01", 0)).input("20:00-09:00")
    save(at)
    assert not at.exception
    [error] = [e.value for e in at.error]
    # one line, naming the file, the location and the key, in the profile loader's words
    assert "\n" not in error
    assert plain(error) == (
        "Not saved: studio-profile.toml: location L01: opening_hours.tue: '20:00-09:00' ends "
        "before it starts (a range cannot cross midnight)"
    )
    assert fingerprint(studio) == before
    assert not studio.with_name("studio-profile.toml").exists()


def test_a_room_id_used_twice_is_refused_and_nothing_changes(studio: Path) -> None:
    before = fingerprint(studio)
    at = open_setup()
    at.session_state[profile_form.editor_key("rooms", "L01", 0)] = {
        "edited_rows": {},
        "added_rows": [{"id": "Cedar", "name": "Cedar too", "bars": False}],
        "deleted_rows": [],
    }
    save(at)
    [error] = [e.value for e in at.error]
    assert (
        plain(error)
        == "Not saved: studio-profile.toml: location L01: room id 'Cedar' is used twice"
    )
    assert fingerprint(studio) == before


@pytest.mark.parametrize("user", ["maria", "sam"])
def test_managers_and_schedulers_do_not_get_the_setup_page(
    studio: Path, access_file: Path, user: str
) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state[auth.SESSION_USER] = user
    at.run()
    assert not at.exception
    # not in their navigation at all: the app registers no such page for them
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(SETUP)
    owner = open_setup(user="olga")  # the same app, an owner: the page is there
    assert [t.value for t in owner.title] == ["Setup"]


def test_going_back_to_an_earlier_profile_loads_it_again(studio: Path) -> None:
    # Add birch, take it out, add it again: the third save is byte for byte the first one's
    # file, and must still become the profile in force (3 rooms), not be skipped as "already
    # loaded" while the warehouse keeps the second (2 rooms).
    at = open_setup()
    for version, change in enumerate(
        [
            {"added_rows": [{"id": "birch", "name": "Birch", "bars": True}]},
            {"deleted_rows": [2]},
            {"added_rows": [{"id": "birch", "name": "Birch", "bars": True}]},
        ]
    ):
        at.session_state[profile_form.editor_key("rooms", "L01", version)] = {
            "edited_rows": {},
            "added_rows": [],
            "deleted_rows": [],
            **change,
        }
        save(at)
        assert not at.error, [e.value for e in at.error]
        assert [s.value for s in at.success], "each save loads"
        rooms = [room.id for room in loaded_profile(studio).location("L01").rooms]
        assert rooms == (["cedar", "oak"] if version == 1 else ["cedar", "oak", "birch"])


def test_shifts_for_a_therapist_the_table_does_not_have_are_refused(studio: Path) -> None:
    before = fingerprint(studio)
    at = open_setup()
    at.session_state[profile_form.editor_key("shifts", "L01", 0)] = {
        "edited_rows": {},
        "added_rows": [{"id": "jo", "tue": "09:00-17:00"}],
        "deleted_rows": [],
    }
    save(at)
    [error] = [e.value for e in at.error]
    assert plain(error) == (
        "Not saved: studio-profile.toml: location L01: shifts: 'jo' is not a therapist id of "
        "the therapists table (add the therapist there, with the same id)"
    )
    assert fingerprint(studio) == before


def test_suggest_from_my_data_fills_the_form_and_saves_only_when_asked(
    bookings_only: Path,
) -> None:
    studio = bookings_only
    before = fingerprint(studio)
    at = open_setup()
    assert any("No studio profile loaded yet" in i.value for i in at.info)
    [suggest] = [b for b in at.button if b.label == "Suggest from my data"]
    suggest.click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Suggested from your data, not saved yet" in w.value for w in at.warning)
    # the one booking names location L01, room cedar and therapist maya: the suggestion has
    # them, and opening hours of its Tuesday (10:00-11:00, the only booking)
    assert at.selectbox(key="setup_location").value == "L01"
    assert at.dataframe[0].value["id"].tolist() == ["cedar"]
    assert at.dataframe[1].value["id"].tolist() == ["maya"]
    assert fingerprint(studio) == before  # a suggestion is not saved
    save(at)
    assert not at.error, [e.value for e in at.error]
    assert [r.id for r in loaded_profile(studio).location("L01").rooms] == ["cedar"]
    assert not any("Suggested from your data" in w.value for w in at.warning)
