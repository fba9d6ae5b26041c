"""Security: who sees which locations, hostile text through every input, no client PII stored."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import auth, navigation
from dashboard.format import md_text
from pipelines import access
from pipelines.ingest import pii
from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.apptest import show_every_table
from tests.test_load import BOOKING_HEADER, booking, write_csv

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
FIXTURES = Path(__file__).parent / "fixtures"
PAGES = navigation.names()  # every page a signed-in viewer sees (Setup: owners only)
TIMEOUT = 60
HOSTILE = [
    "'",
    '"',
    "L01'; drop table fct_bookings; --",
    'L01"); drop table dim_locations; --',
    "L0’1 ünïcödé 🦶 Ω",
    "%' or '1'='1",
    "L01\\",
    "x" * 5000,
]
PASSWORDS = {"olga": "owner-pass-123", "maria": "manager-pass-123", "sam": "scheduler-pass-1"}


@pytest.fixture
def access_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An access file with an owner, a manager of L01 and a scheduler of L03, in force."""
    path = tmp_path / "access.toml"
    access.add_user(path, "olga", "owner", [], PASSWORDS["olga"])
    access.add_user(path, "maria", "manager", ["L01"], PASSWORDS["maria"])
    access.add_user(path, "sam", "scheduler", ["L03"], PASSWORDS["sam"])
    monkeypatch.setenv(access.ACCESS_ENV, str(path))
    monkeypatch.setattr(access, "SIGN_INS", access.SignInThrottle())  # no counts from other tests
    return path


@pytest.fixture(autouse=True)
def app_env(demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch):
    """The app on the session demo warehouse, no access file unless a test adds one."""
    monkeypatch.setenv("STUDIO_OPS_DB", str(demo_warehouse))
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv(access.ACCESS_ENV, raising=False)
    monkeypatch.setenv(pii.SALT_ENV, "security-test-salt")
    st.cache_data.clear()
    auth._users_cached.cache_clear()
    yield
    st.cache_data.clear()


def open_page(page: str, query: dict[str, object] | None = None, user: str | None = None):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if user:
        at.session_state[auth.SESSION_USER] = user
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"dashboard/pages/{page}.py").run()
    # every table too (behind its toggle): what a viewer could open
    return show_every_table(at)


def shown_text(at: AppTest) -> str:
    """Everything a viewer can read on the page: text, tables, tiles and widget options."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [d.value.to_csv() for d in at.dataframe]
    for widget in list(at.multiselect) + list(at.selectbox):
        parts += [str(widget.format_func(o)) if hasattr(widget, "format_func") else str(o)
                  for o in widget.options]  # fmt: skip
        parts.append(str(widget.value))
    for chart in at.get("arrow_vega_lite_chart"):
        parts.append(str(chart.proto))
    return "\n".join(parts)


def location_names(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("select location_id, name from dim_locations").fetchall())


def table_counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}


# --- access control ------------------------------------------------------------------------


def test_access_file_stores_only_an_argon2_hash(tmp_path: Path) -> None:
    path = tmp_path / "access.toml"
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "access", "add-user", "maria", "--role",
         "manager", "--locations", "L01,L02", "--password-stdin", "--file", str(path),
         "--allow-new"],  # the ids are not checked against a warehouse here
        input="a long secret 123\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "maria (manager) sees L01, L02" in run.stdout
    text = path.read_text()
    assert "a long secret" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = access.load_users(path)
    assert users["maria"].password_hash.startswith("$argon2id$")
    assert users["maria"].locations == ("L01", "L02")
    assert access.check_password(users, "maria", "a long secret 123") == users["maria"]
    assert access.check_password(users, "maria", "a long secret 124") is None
    assert access.check_password(users, "nobody", "a long secret 123") is None
    # A plain password written by hand is refused, not used.
    path.write_text('[users.eve]\nrole = "owner"\npassword = "letmein"\n')
    with pytest.raises(access.AccessError, match="plain passwords are not accepted"):
        access.load_users(path)


def test_sign_in_rejects_a_wrong_password_and_accepts_the_right_one(access_file: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert [t.value for t in at.title] == ["Sign in"]
    assert not at.metric and not at.dataframe  # nothing of the data before signing in
    at.text_input(key="sign_in_name").input("maria")
    at.text_input(key="sign_in_password").input("manager-pass-124")
    at.get("form_submit_button")[0].click().run()
    assert "Wrong user name or password." in [e.value for e in at.error]
    assert auth.SESSION_USER not in at.session_state

    at.text_input(key="sign_in_name").input("maria")
    at.text_input(key="sign_in_password").input(PASSWORDS["maria"])
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    assert at.session_state[auth.SESSION_USER] == "maria"
    assert at.selectbox(key="filter_location").value == "L01"  # the Today page now shows
    at.sidebar.button(key="sign_out").click().run()
    assert [t.value for t in at.title] == ["Sign in"]


def _sign_in(name: str, password: str) -> AppTest:
    """A new browser session that submits the sign-in form once."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    return at.get("form_submit_button")[0].click().run()


def test_five_wrong_passwords_lock_the_name_even_from_new_sessions(access_file: Path) -> None:
    # MAX_FAILED_SIGN_INS = 5: four wrong guesses in one session, the fifth in a new one
    first = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    for guess in range(4):
        first.text_input(key="sign_in_name").input("maria")
        first.text_input(key="sign_in_password").input(f"guess-{guess}")
        first.get("form_submit_button")[0].click().run()
        assert [e.value for e in first.error] == ["Wrong user name or password."]
    assert [e.value for e in _sign_in(" Maria", "guess-4").error] == [
        "Wrong user name or password."
    ]
    # the right password is now refused without being checked, in any session, for 15 min
    locked = _sign_in("maria", PASSWORDS["maria"])
    assert [e.value for e in locked.error] == [
        "Too many wrong passwords for this user name. Try again in 15 min, or ask the studio owner."
    ]
    assert auth.SESSION_USER not in locked.session_state
    # other users are not affected
    assert _sign_in("olga", PASSWORDS["olga"]).session_state[auth.SESSION_USER] == "olga"


def test_the_sign_in_throttle_counts_a_sliding_window_per_name() -> None:
    now = [1000.0]
    throttle = access.SignInThrottle(limit=3, window=600, clock=lambda: now[0])
    for seconds in (0, 10, 20):  # three wrong passwords, at t=1000, 1010 and 1020
        now[0] = 1000 + seconds
        assert throttle.attempt("maria") == 0
    # locked until the oldest of them (t=1000) is a window old: 1000 + 600 - 1020 = 580 s;
    # a refused attempt is not counted
    assert throttle.attempt("MARIA ") == 580
    now[0] = 1599
    assert throttle.attempt("maria") == 1
    now[0] = 1600  # t=1000 has left the window: one more try, then locked until 1010 + 600
    assert throttle.attempt("maria") == 0
    assert throttle.attempt("maria") == 10
    throttle.succeeded("Maria")  # a right password clears the name
    assert throttle.attempt("maria") == 0

    # a name is forgotten only once its newest attempt is a window old, never to make room
    # (tests/test_hardening_sessions.py floods it with 100,000 names)
    quiet = access.SignInThrottle(limit=2, window=600, clock=lambda: now[0])
    for name in ("a", "a", "b", "c"):  # "a" is locked after two
        now[0] += 1
        assert quiet.attempt(name) == 0
    assert quiet.tracked_names() == 3
    assert quiet.attempt("a") == 600 - 3  # locked until its first (3 s ago) is 600 s old
    now[0] += 600  # every name's newest attempt is now over a window old
    assert quiet.attempt("c") == 0
    assert quiet.tracked_names() == 1


@pytest.mark.parametrize("page", PAGES)
def test_a_manager_sees_nothing_of_another_location_even_from_the_url(
    access_file: Path, demo_warehouse: Path, page: str
) -> None:
    names = location_names(demo_warehouse)
    at = open_page(page, {"locations": ["L02", "L03"], "location": "L02"}, user="maria")
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    text = shown_text(at)
    assert names["L02"] not in text and names["L03"] not in text
    if page not in ("loads", "metric_dictionary"):
        assert names["L01"] in text  # the manager's own location still shows
    if page == "loads":
        assert not at.get("dataframe") or "File" not in text  # no whole-chain load history


def test_an_owner_sees_every_location(access_file: Path, demo_warehouse: Path) -> None:
    at = open_page("locations", user="olga")
    assert not at.exception
    text = shown_text(at)
    assert all(name in text for name in location_names(demo_warehouse).values())
    # nothing picked means every location; the list offers all three
    assert at.multiselect(key="filter_locations").value == []
    options = set(at.multiselect(key="filter_locations").options)
    assert options == set(location_names(demo_warehouse).values())


def test_a_scheduler_reads_but_cannot_upload(access_file: Path) -> None:
    at = open_page("loads", user="sam")
    assert not at.exception
    assert not at.get("file_uploader")
    assert any("for owners and managers" in c.value for c in at.caption)
    manager = open_page("loads", user="maria")
    assert manager.get("file_uploader")


def test_a_manager_cannot_load_rows_of_another_location(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    export = write_csv(
        tmp_path / "a.csv",
        BOOKING_HEADER,
        [booking(), booking(booking_id="B2", location_id="L02", room_id="L02-R1")],
    )
    [result] = load_files(db, [export], Settings(), allowed_locations=["L01"])
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select distinct location_id from raw_bookings").fetchall() == [("L01",)]
        [(reason,)] = con.execute("select reason from rejected_rows").fetchall()
    assert reason == "location_id 'L02' is not one of your locations"


def test_a_broken_or_missing_access_file_keeps_the_app_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(access.ACCESS_ENV, str(tmp_path / "missing.toml"))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.metric
    assert "access file not found" in at.error[0].value
    (tmp_path / "broken.toml").write_text("[users.x\nrole=")
    monkeypatch.setenv(access.ACCESS_ENV, str(tmp_path / "broken.toml"))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.metric
    assert "not a readable TOML access file" in at.error[0].value


def test_single_sign_on_identity_maps_to_role_and_locations(tmp_path: Path) -> None:
    path = tmp_path / "access.toml"
    access.add_user(path, "maria", "manager", ["L01"], None, email="Maria@Example.com")
    users = access.load_users(path)
    assert access.user_for_email(users, "maria@example.COM").allowed() == ("L01",)
    assert access.user_for_email(users, "mallory@example.com") is None
    assert access.user_for_email(users, None) is None


# --- SQL: hostile text through every filter, the upload form and the CLI ---------------------


@pytest.mark.parametrize("page", PAGES)
def test_hostile_url_parameters_on_every_page_of_an_open_app(
    demo_warehouse: Path, page: str
) -> None:
    """No access file: hostile URL values change nothing, and the page says it is open."""
    before = table_counts(demo_warehouse)
    query = {
        "locations": HOSTILE,
        "location": HOSTILE[2],
        "from": HOSTILE[0],
        "to": HOSTILE[4],
        "day": HOSTILE[5],
    }
    at = open_page(page, query)
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Open access" in c.value for c in at.caption)
    text = shown_text(at)
    assert not any(h in text for h in HOSTILE[2:4])  # ignored, not echoed into the view
    assert table_counts(demo_warehouse) == before


def test_hostile_location_in_the_upload_form_is_a_bound_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [write_csv(tmp_path / "seed.csv", BOOKING_HEADER, [booking()])], Settings())
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    header = [c for c in BOOKING_HEADER if c != "location_id"]
    hostile_locations = [HOSTILE[2], HOSTILE[4], HOSTILE[7]]
    rows = [{**booking(booking_id=f"H{i}")} for i in range(len(hostile_locations))]
    for number, hostile in enumerate(hostile_locations):
        export = write_csv(tmp_path / f"h{number}.csv", header, [rows[number]])
        at = open_page("loads")
        at.get("file_uploader")[0].set_value((export.name, export.read_bytes(), "text/csv"))
        at.text_input[0].input(hostile)
        at.get("form_submit_button")[0].click().run()
        assert not at.exception
        # result lines are shown as text (md_text): the markdown source is escaped
        assert [s.value for s in at.success] == [
            md_text(f"{export.name}: bookings (native-csv): 1 row read, 1 loaded, 0 rejected")
        ]
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute(
            "select location_id from raw_bookings where booking_id like 'H%' order by booking_id"
        ).fetchall()
        assert con.execute("select count(*) from fct_bookings").fetchone()[0] == 4
    assert sorted(r[0] for r in stored) == sorted(hostile_locations)


def test_a_manager_typing_another_location_in_the_upload_form_loads_nothing(
    access_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    load_files(db, [write_csv(tmp_path / "seed.csv", BOOKING_HEADER, [booking()])], Settings())
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    before = db.read_bytes()
    export = write_csv(
        tmp_path / "x.csv", [c for c in BOOKING_HEADER if c != "location_id"], [booking()]
    )
    at = open_page("loads", user="maria")
    at.get("file_uploader")[0].set_value((export.name, export.read_bytes(), "text/csv"))
    at.text_input[0].input("L02'; drop table raw_bookings; --")
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("L02'; drop table raw_bookings; --: not loaded: not one of your")
    assert db.read_bytes() == before


@pytest.mark.parametrize("hostile", [HOSTILE[2], HOSTILE[4], HOSTILE[0]])
def test_hostile_cli_location_is_stored_as_text(tmp_path: Path, hostile: str) -> None:
    db = tmp_path / "w.duckdb"
    export = write_csv(
        tmp_path / "a.csv", [c for c in BOOKING_HEADER if c != "location_id"], [booking()]
    )
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "load", str(export), "--db", str(db),
         "--location", hostile],
        capture_output=True, text=True, timeout=120, env={**os.environ},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select location_id from fct_bookings").fetchall() == [(hostile,)]
        assert con.execute("select count(*) from dim_locations").fetchone()[0] >= 1


# --- PII ----------------------------------------------------------------------------------

# A small Acuity-style export written for this test: fake clients, with PII in the name,
# email, phone, notes and intake columns, and one row that is rejected (so raw rows count).
ACUITY_PII = """\
"Start Time","End Time","First Name","Last Name","Phone","Email","Type","Calendar",\
"Appointment Price","Paid?","Amount Paid Online","Certificate Code","Notes","Date Scheduled",\
"Label","Scheduled By","Date Rescheduled","Appointment ID"
"March 2, 2026 9:00 am","March 2, 2026 10:30 am","Zelda","Quasimodo-Fairweather",\
"'+13035557788","zelda.qf@example.net","Ashiatsu 90","Elena Novak","135.00","yes","0.00","",\
"Call Zelda Quasimodo-Fairweather at 303-555-7788","2026-02-20","Completed","","","990001"
"March 2, 2026 11:00 am","March 2, 2026 12:00 pm","Józef","Wróblewski-Øster",\
"+44 7700 900461","jozef.wrob@example.org","Swedish 60","Marcus Silva","95.00","no","0.00","",\
"","2026-02-21","","","","990002"
"not a date","March 2, 2026 12:00 pm","Ximena","Oyelaran-Thistlewood","(720) 555-3141",\
"ximena.ot@example.com","Swedish 60","Marcus Silva","95.00","no","0.00","","","2026-02-21",\
"","","","990003"
"""
ACUITY_PII_NEEDLES = [
    "Zelda", "Quasimodo", "Fairweather", "zelda.qf", "3035557788", "555-7788", "Józef",
    "Wróblewski", "jozef.wrob", "7700 900461", "7700900461", "Ximena", "Oyelaran",
    "Thistlewood", "ximena.ot", "555-3141", "7205553141",
]  # fmt: skip
VENDOR_FIXTURE_NEEDLES = [
    "Okafor", "maya.okafor", "447762992312", "theo.b", "3035550199", "555-0199",
    "giulia@example", "Bianchi", "Marco Verdi", "303.555.0142", "liam.chen",
]  # fmt: skip
VENDOR_MAPPING = """
[source]
location = "L01"
[acuity]
calendar = "therapist"
[fresha]
rooms = ["CABINA 1", "CABINA 2"]
[ics]
location_is = "room"
"""


def assert_no_needles(db: Path, needles: list[str]) -> None:
    """No needle in any table's text, nor in the warehouse file's bytes (after checkpoint)."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        for table in tables:
            frame = con.execute(f'select * from "{table}"').df()
            text = frame.astype(str).to_csv().lower()
            for needle in needles:
                assert needle.lower() not in text, (table, needle)
    data = db.read_bytes().lower()
    for needle in needles:
        for encoded in {needle.lower().encode(), needle.lower().encode("utf-16-le")}:
            assert encoded not in data, needle


def test_no_client_pii_in_any_table_or_in_the_warehouse_bytes(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "acuity-pii.csv").write_text(ACUITY_PII, encoding="utf-8")
    vendor = FIXTURES / "vendors"
    for name in ("appointments-export.csv", "events-export.csv", "appointments.csv",
                 "history.csv", "report.csv", "calendar.ics", "AppointmentSummary.xlsx",
                 "ScheduleAtAGlance.xls"):  # fmt: skip
        if (vendor / name).exists():
            shutil.copyfile(vendor / name, exports / name)
    mapping = tmp_path / "studio.toml"
    mapping.write_text(VENDOR_MAPPING)
    db = tmp_path / "w.duckdb"
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "load", str(exports), "--db", str(db),
         "--mapping", str(mapping)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "acuity-pii.csv: bookings (acuity-csv): 3 rows read, 2 loaded, 1 rejected" in run.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from rejected_rows").fetchone()[0] >= 1
    assert_no_needles(db, ACUITY_PII_NEEDLES + VENDOR_FIXTURE_NEEDLES)


def test_no_pii_from_ignored_columns_of_a_native_export(tmp_path: Path) -> None:
    header = [*BOOKING_HEADER, "client_email", "client_phone"]
    rows = [
        {**booking(), "client_email": "quentin.pii@example.com", "client_phone": "303-555-6061"},
        {**booking(booking_id="B2", start_at="31/02/2026 25:61"),
         "client_email": "ursula.pii@example.com", "client_phone": "303-555-6062"},
    ]  # fmt: skip
    db = tmp_path / "w.duckdb"
    [result] = load_files(db, [write_csv(tmp_path / "a.csv", header, rows)], Settings())
    assert result.rows_rejected == 1
    assert_no_needles(db, ["quentin.pii", "ursula.pii", "555-6061", "555-6062"])


def test_dashboard_data_queries_take_the_viewers_scope(
    access_file: Path, demo_warehouse: Path
) -> None:
    """The data layer itself (not the pages) drops locations the viewer may not see."""
    from dashboard.queries import data as data_queries
    from dashboard.queries import kpis, snapshot, today

    st.session_state[auth.SESSION_VIEWER] = auth.Viewer(access.load_users(access_file)["maria"])
    try:
        bounds = snapshot.date_bounds()
        frame = kpis.kpis_by_location(("L01", "L02", "L03"), *bounds)
        assert set(frame["location_id"].dropna()) == {"L01"}
        assert list(snapshot.locations()["location_id"]) == ["L01"]
        assert data_queries.load_runs().empty and data_queries.rejected_rows().empty
        assert isinstance(today.room_timeline(("L02",), bounds[1]), pd.DataFrame)
        assert today.room_timeline(("L02",), bounds[1]).empty
    finally:
        del st.session_state[auth.SESSION_VIEWER]
