"""Issue 14 (3, 7): a studio starts from an empty warehouse of its own, never the demo's, and the
README's "Set up your studio" runs as written.

The walkthrough test reads its commands out of the README section's code blocks, so the README
and the test cannot drift; every other test here runs the real `studio-ops` command in a child
process (tests/hostile.py) against files in tmp_path.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import navigation, uploads
from pipelines.ingest.load import is_demo
from pipelines.settings import Settings
from tests.apptest import show_every_table
from tests.hostile import PEAK_MB, ROOT, SECONDS, fingerprint, run_cli
from tests.test_load import BOOKING_HEADER, booking, write_csv

APP = ROOT / "streamlit_app.py"
README = ROOT / "README.md"
PAGES = navigation.names()  # every page a signed-in viewer sees (Setup: owners only)
DEMO_LINE = "This is the built-in demo chain (made-up data). Start your own with `studio-ops init`"
REFUSED = (
    "holds the built-in demo chain (made-up data), which never mixes with a studio's own "
    "exports: start your own warehouse with `studio-ops init`, then load into it"
)


@pytest.fixture(autouse=True)
def clean_app(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STUDIO_OPS_SETTINGS", raising=False)
    monkeypatch.delenv("STUDIO_OPS_ACCESS", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page(f"dashboard/pages/{page}.py").run()
    show_every_table(at)
    return at


def bookings_count(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select count(*) from raw_bookings").fetchone()[0]


def demo_flag(db: Path) -> bool:
    with duckdb.connect(str(db), read_only=True) as con:
        return is_demo(con)


# --- init: an empty warehouse of the studio's own ------------------------------------------


def test_init_makes_an_empty_warehouse_that_every_page_opens_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "studio.duckdb"

    run = run_cli("init", "--db", str(db))

    assert run.returncode == 0, run.stderr
    assert run.lines == [
        f"created an empty warehouse for your studio in {db}; next: studio-ops load "
        f"YOUR-EXPORTS --db {db} (README: Set up your studio)"
    ]
    assert bookings_count(db) == 0 and not demo_flag(db)
    # The app shows it (not the demo) and says so in one line; no page fails on it.
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    for page in PAGES:
        at = open_page(page)
        assert not at.exception, page
        assert not [e.value for e in at.error], page
        assert not any(DEMO_LINE in i.value for i in at.info), page
        captions = [c.value for c in at.sidebar.caption]
        assert any("Your studio's warehouse:" in c for c in captions), (page, captions)
    assert not (tmp_path / "demo.duckdb").exists(), "the demo was not built beside it"


def test_init_keeps_a_studio_warehouse_and_replaces_only_the_demo(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    real = tmp_path / "studio.duckdb"
    export = write_csv(tmp_path / "bookings.csv", BOOKING_HEADER, [booking()])
    assert run_cli("load", str(export), "--db", str(real)).returncode == 0
    before = fingerprint(real)

    kept = run_cli("init", "--db", str(real))

    assert kept.returncode == 0
    assert kept.lines[0].startswith(f"{real} already holds your studio's data; nothing changed")
    assert fingerprint(real) == before

    # A warehouse holding only the demo (as `make run` made it before the demo had its own
    # file) becomes the studio's, empty: the made-up bookings are gone, the demo flag too.
    old_demo = tmp_path / "old" / "studio.duckdb"
    old_demo.parent.mkdir()
    shutil.copyfile(demo_warehouse, old_demo)
    assert bookings_count(old_demo) > 0 and demo_flag(old_demo)

    replaced = run_cli("init", "--db", str(old_demo))

    assert replaced.returncode == 0
    assert replaced.lines[0].startswith(f"replaced the demo chain in {old_demo} by an empty")
    assert bookings_count(old_demo) == 0 and not demo_flag(old_demo)


def test_init_refuses_the_demos_file(tmp_path: Path) -> None:
    demo = tmp_path / "demo.duckdb"

    run = run_cli("init", "--db", str(demo), env={"STUDIO_OPS_DB": str(tmp_path / "studio.duckdb")})

    assert run.returncode == 2
    assert run.seconds < SECONDS and run.peak_mb < PEAK_MB
    assert run.lines == [
        f"studio-ops: {demo} is the demo's file; your studio's warehouse needs another "
        "(leave out --db for data/studio.duckdb)"
    ]
    assert fingerprint(demo) == "absent"


# --- the demo lives in its own file and takes no real data ---------------------------------


def test_demo_builds_beside_the_studio_warehouse_never_in_it(tmp_path: Path) -> None:
    real = tmp_path / "studio.duckdb"

    run = run_cli("demo", env={"STUDIO_OPS_DB": str(real)})

    assert run.returncode == 0, run.stderr
    assert run.lines[0].startswith(f"built the demo chain in {tmp_path / 'demo.duckdb'}: ")
    assert not real.exists()
    assert demo_flag(tmp_path / "demo.duckdb")


def test_an_upload_into_the_demo_is_refused_in_one_line(
    demo_warehouse: Path, tmp_path: Path
) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_warehouse, db)
    before = fingerprint(db)
    content = write_csv(tmp_path / "mine.csv", BOOKING_HEADER, [booking()]).read_bytes()

    [result] = uploads.load_uploads(db, [("mine.csv", content)], Settings())

    assert result.outcome == "failed"
    assert result.summary() == f"mine.csv: not loaded: {db.resolve()} {REFUSED}"
    assert fingerprint(db) == before


# --- make run: the demo only until a real warehouse exists ---------------------------------


def fake_make_run(tmp_path: Path, studio_db: Path) -> list[str]:
    """`make run` with stand-ins for `studio-ops` and `streamlit` that only record their calls
    (the venv and its install stamp are faked too, so nothing is installed or served)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    calls = tmp_path / "calls.log"
    for tool in ("python", "studio-ops", "streamlit"):
        stub = venv / "bin" / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n')
        stub.chmod(0o755)
    (venv / ".run-installed").touch()  # newer than pyproject.toml: no install
    calls.unlink(missing_ok=True)
    subprocess.run(
        ["make", "-s", "-C", str(ROOT), "run", f"VENV={venv}"],
        env={**os.environ, "STUDIO_OPS_DB": str(studio_db)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return calls.read_text().splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_builds_the_demo_only_until_the_studio_has_a_warehouse(tmp_path: Path) -> None:
    studio_db = tmp_path / "studio.duckdb"
    # nothing yet: the demo is built (in its own file), then served
    assert fake_make_run(tmp_path, studio_db) == [
        "studio-ops demo",
        "streamlit run streamlit_app.py",
    ]
    # once `studio-ops init` made the studio's warehouse, the demo is not built again
    assert run_cli("init", "--db", str(studio_db)).returncode == 0
    assert fake_make_run(tmp_path, studio_db) == ["streamlit run streamlit_app.py"]


# --- the project explains itself -----------------------------------------------------------


def test_nothing_points_outside_the_repository() -> None:
    """The spec files beside the repository are not part of it: no file may send a reader
    there (the export formats are in docs/exports.md)."""
    offenders = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if parts[0].startswith(".") or parts[0] in {"data", "node_modules"} or not path.is_file():
            continue
        if path.suffix not in {".py", ".md", ".toml", ".sql", ".txt"} and path.name != "Makefile":
            continue
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            # the spec files' names in code, docs and messages (tests may cite the spec)
            named = parts[0] != "tests" and re.search(r"\b(EXPORTS|METRICS|DESIGN)\.md\b", line)
            if "../shared" in line or named:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_readme_links_to_the_export_reference_that_exists() -> None:
    text = README.read_text()
    assert "docs/exports.md" in text
    reference = (ROOT / "docs" / "exports.md").read_text()
    # every anchor the reference's own contents list points to one of its headings
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", reference, re.M)
    }
    for anchor in re.findall(r"\]\(#([^)]+)\)", reference):
        assert anchor in headings, anchor


# --- the walkthrough -----------------------------------------------------------------------


def walkthrough() -> tuple[list[str], str]:
    """The commands of the README's "Set up your studio" (its ```sh blocks, in order) and the
    mapping file it shows (its ```toml block)."""
    text = README.read_text()
    section = re.search(r"^## Set up your studio\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "the README has a section 'Set up your studio'"
    body = section.group(1)
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", body, re.S):
        for line in block.splitlines():
            command = line.split(" #")[0].strip()
            if command:
                commands.append(command)
    [mapping] = re.findall(r"```toml\n(.*?)```", body, re.S)
    return commands, mapping


def profile_suggest_exists() -> bool:
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "profile", "suggest", "--help"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    return run.returncode == 0


def test_walkthrough_commands_are_the_ones_the_section_shows() -> None:
    commands, mapping = walkthrough()
    programs = [shlex.split(c)[0] for c in commands]
    assert programs[0] == ".venv/bin/studio-ops" and shlex.split(commands[0])[1] == "init"
    assert tomllib.loads(mapping)["acuity"]["calendar"] == "therapist"
    assert commands[-1] == "make run"


def acuity_export(folder: Path) -> Path:
    """Seven weeks of one studio's bookings as Acuity exports them (no rooms, no shifts), with
    therapists' calendars named as people, not ids."""
    from pipelines.demo.generate import write_chain
    from pipelines.demo.vendor_writers import write_vendor

    chain = folder / "chain"
    write_chain(chain, locations=1, days=49, seed=14)
    write_vendor(chain, "acuity")
    [export] = sorted((chain / "L01").glob("*.csv"))
    return export


def run_command(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """One README line, run as written in `cwd` (a `> FILE` redirect writes FILE)."""
    words = shlex.split(command)
    out = None
    if ">" in words:
        at = words.index(">")
        words, out = words[:at], cwd / words[at + 1]
    if words[0] == ".venv/bin/studio-ops":
        words = [sys.executable, "-m", "pipelines.cli", *words[1:]]
    run = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{command}: {run.stderr}"
    assert "Traceback" not in run.stderr, command
    if out is not None:
        out.write_text(run.stdout)
    return run


def edit_profile(path: Path) -> None:
    """What the owner does in the editor: the three rooms (two with bars), who is bar-trained
    (one therapist left unknown), and shifts on the opening hours."""
    from dataclasses import replace

    from pipelines.profile import Room, parse_profile, to_toml

    profile = parse_profile(path.read_text(), str(path))
    locations = []
    for location in profile.locations:
        rooms = (
            Room("cedar", "Cedar", True),
            Room("birch", "Birch", True),
            Room("oak", "Oak", False),
        )
        therapists = tuple(
            replace(
                therapist,
                bar_trained=None if number == 0 else number % 2 == 1,
                shifts={day: (hours,) for day, hours in location.opening_hours.items()},
            )
            for number, therapist in enumerate(location.therapists)
        )
        locations.append(replace(location, rooms=rooms, therapists=therapists))
    path.write_text(to_toml(replace(profile, locations=tuple(locations))))


@pytest.mark.skipif(
    not profile_suggest_exists(),
    reason="`studio-ops profile suggest` is not built yet (issue 14, point 3)",
)
def test_the_readme_walkthrough_gets_an_acuity_studio_onto_every_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands, mapping = walkthrough()
    studio = tmp_path / "studio"
    (studio / "exports").mkdir(parents=True)
    shutil.copyfile(acuity_export(tmp_path), studio / "exports" / "appointments.csv")
    (studio / "exports" / "acuity.toml").write_text(mapping)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STUDIO_OPS_SALT": "walkthrough"}
    env.pop("STUDIO_OPS_DB", None)
    env.pop("STUDIO_OPS_SETTINGS", None)

    for command in commands[:-1]:  # the last one, `make run`, is the app opened below
        run_command(command, studio, env)
        if command.endswith("> studio.toml"):
            edit_profile(studio / "studio.toml")  # the section's "edit it" step

    db = studio / "data" / "studio.duckdb"
    assert not (studio / "data" / "demo.duckdb").exists(), "the demo never came into it"
    with duckdb.connect(str(db), read_only=True) as con:
        assert not is_demo(con)
        # Acuity names no room: rooms are inferred, and room and bar utilization are above 0
        inferred = con.execute(
            "select count(*) filter (room_source = 'inferred'), count(*) from fct_bookings"
        ).fetchone()
        assert inferred[0] > 0, inferred
        room, bar = con.execute(
            "select sum(occupied_minutes) / sum(available_minutes), "
            "sum(bar_room_bar_minutes) / sum(bar_room_available_minutes) from fct_location_days"
        ).fetchone()
        assert room > 0 and bar > 0, (room, bar)

    monkeypatch.chdir(studio)  # the app finds data/studio.duckdb as `make run` would
    monkeypatch.delenv("STUDIO_OPS_DB", raising=False)
    for page in [*PAGES, "setup"]:  # an open app: everyone is an owner, Setup included
        at = open_page(page)
        assert not at.exception, page
        assert not [e.value for e in at.error], page
        assert not any(DEMO_LINE in i.value for i in at.info), page
        shown = at.metric or at.dataframe or at.get("arrow_vega_lite_chart")
        assert shown or page in ("metric_dictionary", "setup"), f"{page} shows no figures"
        lines = [
            e.value for kind in ("markdown", "caption", "info", "warning") for e in at.get(kind)
        ]
        assert not any("Bar-trained: no" in line for line in lines), page
        if page in ("capacity", "bar_rooms"):  # room figures from inferred rooms say so
            assert any("were inferred" in line for line in lines), (page, lines)
        if page == "therapists":  # the first therapist's training was left out: unknown
            cells = {str(v) for frame in at.dataframe for v in frame.value.to_numpy().ravel()}
            assert "unknown" in cells, page


# --- a studio's first week: the profile's rooms and an export that names them -----------------

WESTSIDE_PROFILE = """\
[[location]]
id = "westside"
name = "Westside Barefoot"
opening_hours = { thu = "10:00-18:00" }
rooms = [
  { id = "willow", name = "Willow", bars = true },
  { id = "fern", name = "Fern", bars = false },
]

[[location.therapist]]
id = "june"
name = "June Okoro"
also_known_as = ["Okoro, June"]
shifts = { thu = "10:00-18:00" }
"""

# Square's appointments history, one Thursday: its Resource column names the room as the
# studio sees it ("Willow", "FERN "), never the profile's id.
WESTSIDE_SQUARE = """\
Appointment ID,Date,Start Time,End Time,Customer Name,Service,Team Member,Resource,Status
sq_W1,11/26/2026,10:00 AM,11:30 AM,Ivo Stran,Ashiatsu 90,"Okoro, June",Willow,ACCEPTED
sq_W2,11/26/2026,12:00 PM,1:00 PM,Bea Lunde,Swedish 60,"Okoro, June",FERN ,ACCEPTED
sq_W3,11/26/2026,2:00 PM,3:00 PM,Cal Vesey,Swedish 60,"Okoro, June",,ACCEPTED
sq_W4,11/26/2026,3:30 PM,4:30 PM,Dot Marr,Ashiatsu Deep Feet 60,"Okoro, June",willow,NO_SHOW
"""


@pytest.mark.parametrize("profile_first", [True, False], ids=["profile first", "profile after"])
def test_rooms_an_export_names_as_the_studio_does_are_the_profiles_rooms(
    tmp_path: Path, profile_first: bool
) -> None:
    """A booking system names a room by its display name ("Willow"), the profile by its id
    ("willow"): the booking is in the profile's room, so room and bar figures count it,
    whichever of the two was loaded first."""
    db = tmp_path / "studio.duckdb"
    (tmp_path / "studio.toml").write_text(WESTSIDE_PROFILE)
    (tmp_path / "history.csv").write_text(WESTSIDE_SQUARE)
    (tmp_path / "square.toml").write_text('[source]\nname = "square"\nlocation = "westside"\n')
    files = [str(tmp_path / "studio.toml"), str(tmp_path / "history.csv")]
    mapping = ["--mapping", str(tmp_path / "square.toml")]
    for file in files if profile_first else files[::-1]:
        run = run_cli("load", file, "--db", str(db), *mapping)
        assert run.returncode == 0, run.stderr

    with duckdb.connect(str(db), read_only=True) as con:
        rooms = con.execute(
            "select booking_id, room_id, room_source from fct_bookings order by booking_id"
        ).fetchall()
        day = con.execute(
            "select available_minutes, occupied_minutes, bar_room_available_minutes, "
            "bar_room_bar_minutes from fct_location_days where date = '2026-11-26'"
        ).fetchone()
        findings = con.execute("select count(*) from dq_issues").fetchone()[0]
    # W1 and W4 name Willow (any case), W2 "FERN ": the profile's rooms; W3 names none and
    # takes the first free room without bars, Fern.
    assert rooms == [
        ("sq_W1", "willow", "export"),
        ("sq_W2", "fern", "export"),
        ("sq_W3", "fern", "inferred"),
        ("sq_W4", "willow", "export"),
    ]
    # Open 10:00-18:00 in 2 rooms: 2 x 480 = 960 minutes; occupied W1 90 + W2 60 + W3 60 +
    # W4 60 (a no-show holds its room) = 270; Willow alone has bars (480 minutes), and its bar
    # work is W1 90 + W4 60 = 150.
    assert day == (960, 270, 480, 150)
    assert findings == 0  # no booking outside its room's calendar


def test_one_inferred_room_is_said_in_the_singular() -> None:
    """Westside's Thursday above infers one room (sq_W3): "The room of 1 booking was
    inferred", never "Rooms of 1 bookings were inferred"; more keep the plural."""
    import pandas as pd

    from dashboard.gaps import lines

    def said(inferred: int) -> str:
        gaps = pd.DataFrame({"location_name": ["Westside Barefoot"], "inferred_rooms": [inferred]})
        [(_, sentence)] = lines(gaps, ("inferred",))
        return sentence.partition(":")[0]

    assert said(1) == "The room of 1 booking was inferred"
    assert said(84) == "Rooms of 84 bookings were inferred"


def test_profile_suggest_gives_bars_to_the_rooms_a_booking_export_booked_bar_work_in(
    tmp_path: Path,
) -> None:
    """Square's export names the room (Resource) but not the bars: bar work is read from the
    service (the bar keywords), as the figures read it. Willow had an Ashiatsu 90 and an
    Ashiatsu Deep Feet 60, so the suggested profile gives it bars; Fern only Swedish, none."""
    db = tmp_path / "studio.duckdb"
    (tmp_path / "history.csv").write_text(WESTSIDE_SQUARE)
    (tmp_path / "square.toml").write_text('[source]\nname = "square"\nlocation = "westside"\n')
    loaded = run_cli(
        "load", str(tmp_path / "history.csv"), "--db", str(db),
        "--mapping", str(tmp_path / "square.toml"),
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr

    run = run_cli("profile", "suggest", "--db", str(db))

    assert run.returncode == 0, run.stderr
    rooms = tomllib.loads(run.stdout)["location"][0]["rooms"]
    # "Willow" and "willow", "FERN " and no other Fern: two rooms, not one per spelling (a
    # room per spelling would double the room time open)
    assert [(room["name"].strip().lower(), room["bars"]) for room in rooms] == [
        ("fern", False),
        ("willow", True),
    ]


def test_a_broken_settings_file_is_one_line_on_the_sign_in_page_never_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner adds a line to studio-ops.toml and leaves it half-written: signing in read
    sign_in_hours from it and the page showed Python's traceback. Now one line naming the file
    and the problem, and nobody is signed in until it is fixed."""
    from pipelines import access

    db = tmp_path / "studio.duckdb"
    assert run_cli("init", "--db", str(db)).returncode == 0
    users = tmp_path / "access.toml"
    access.add_user(users, "olga", "owner", [], "owner-pass-123")
    settings = tmp_path / "studio-ops.toml"
    settings.write_text("late_cancel_hours = 24\nturnover_minutes =\n")
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    monkeypatch.setenv("STUDIO_OPS_ACCESS", str(users))
    monkeypatch.setenv("STUDIO_OPS_SETTINGS", str(settings))

    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if at.text_input:  # the form may already say why nobody can sign in
        at.text_input(key="sign_in_name").input("olga")
        at.text_input(key="sign_in_password").input("owner-pass-123")
        at.get("form_submit_button")[0].click().run()

    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value.replace("\\", "") for e in at.error]  # shown as text: escaped markdown
    assert len(errors) == 1 and str(settings) in errors[0], errors
    assert "not valid TOML" in errors[0] and "\n" not in errors[0]


# Room-calendar and shift exports name rooms, locations and therapists as the studio sees them
# ("Willow", "Westside Barefoot", "Okoro, June"), as a booking export does.
WESTSIDE_BOOKINGS = """\
booking_id,location_id,room_id,therapist_id,client_id,service,uses_bars,start_at,end_at,status
W1,westside,willow,june,c1,Ashiatsu 90,true,2026-11-26 10:00,2026-11-26 11:30,completed
W2,westside,fern,june,c2,Swedish 60,false,2026-11-26 12:00,2026-11-26 13:00,completed
"""
WESTSIDE_ROOMS = """\
date,location_id,room_id,room_name,has_bars,opens_at,closes_at,blocked_minutes
2026-11-26,westside,Willow,Willow,true,10:00,16:00,0
2026-11-26,Westside Barefoot,FERN ,Fern,false,10:00,16:00,0
"""
WESTSIDE_SHIFTS = """\
date,location_id,therapist_id,therapist_name,bar_trained,shift_start,shift_end,break_minutes
2026-11-26,Westside Barefoot,"Okoro, June",June Okoro,true,10:00,14:00,0
"""


@pytest.mark.parametrize("profile_first", [True, False], ids=["profile first", "profile after"])
def test_room_and_shift_exports_that_name_the_studios_rooms_are_the_profiles_rooms(
    tmp_path: Path, profile_first: bool
) -> None:
    """A room calendar naming "Willow" and "FERN " at "Westside Barefoot", and a shift file
    naming "Okoro, June", describe the profile's rooms willow and fern and its therapist june:
    their rows replace the profile's for the day (never a second Willow beside willow, which
    doubled the open room time), whichever was loaded first."""
    db = tmp_path / "studio.duckdb"
    files = []
    for name, text in (
        ("studio.toml", WESTSIDE_PROFILE),
        ("bookings.csv", WESTSIDE_BOOKINGS),
        ("rooms.csv", WESTSIDE_ROOMS),
        ("shifts.csv", WESTSIDE_SHIFTS),
    ):
        (tmp_path / name).write_text(text)
        files.append(str(tmp_path / name))
    for file in files if profile_first else files[1:] + files[:1]:
        run = run_cli("load", file, "--db", str(db))
        assert run.returncode == 0, run.stderr

    with duckdb.connect(str(db), read_only=True) as con:
        rooms = con.execute(
            "select location_id, room_id, opens_at::varchar, closes_at::varchar "
            "from fct_room_days where date = '2026-11-26' order by room_id"
        ).fetchall()
        day = con.execute(
            "select location_id, available_minutes, occupied_minutes, room_utilization, "
            "scheduled_minutes from fct_location_days where date = '2026-11-26'"
        ).fetchall()
        therapists = con.execute(
            "select therapist_id, scheduled_minutes from fct_therapist_days "
            "where date = '2026-11-26'"
        ).fetchall()
        locations = con.execute("select location_id from dim_locations").fetchall()
    # the export's rows (10:00-16:00) replace the profile's (10:00-18:00) for both rooms
    assert rooms == [
        ("westside", "fern", "10:00:00", "16:00:00"),
        ("westside", "willow", "10:00:00", "16:00:00"),
    ]
    # 2 rooms open 10:00-16:00: 2 x 360 = 720 available minutes; occupied W1 90 + W2 60 = 150;
    # room utilization 150 / 720 = 0.2083 (was 1,680 minutes, the profile's two rooms 10-18
    # plus the export's two: 150 / 1680 = 0.089); June's one shift 10:00-14:00 = 240 minutes
    # (was 240 + the profile's 480 for a second "Okoro, June")
    assert day == [("westside", 720, 150, pytest.approx(150 / 720), 240)]
    assert therapists == [("june", 240)]
    assert locations == [("westside",)]


@pytest.mark.parametrize("last", ["Willow", "willow"])
def test_a_room_spelt_two_ways_before_the_profile_keeps_the_latest_load(
    tmp_path: Path, last: str
) -> None:
    """Two room calendars of the same day, one naming "Willow" and a later one "willow", were
    two rooms until the profile said they are one: then the later load's row is the day's, as
    a later export of the same room and day replaces the earlier."""
    db = tmp_path / "studio.duckdb"
    header = "date,location_id,room_id,room_name,has_bars,opens_at,closes_at,blocked_minutes\n"
    first = "Willow" if last == "willow" else "willow"
    thursday = "2026-11-26,westside"
    (tmp_path / "early.csv").write_text(header + f"{thursday},{first},,true,10:00,12:00,0\n")
    (tmp_path / "late.csv").write_text(header + f"{thursday},{last},,true,11:00,17:00,0\n")
    (tmp_path / "studio.toml").write_text(WESTSIDE_PROFILE)
    for name in ("early.csv", "late.csv", "studio.toml"):
        run = run_cli("load", str(tmp_path / name), "--db", str(db))
        assert run.returncode == 0, run.stderr

    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute(
            "select room_id, opens_at::varchar, closes_at::varchar from raw_rooms"
        ).fetchall()
        day = con.execute(
            "select available_minutes from fct_location_days where date = '2026-11-26'"
        ).fetchall()
    assert stored == [("willow", "11:00:00", "17:00:00")]  # the later load's hours
    # willow 11:00-17:00 (the later export) = 360 minutes, counted once; the profile's own
    # rows start at the first booking, and with none at the load day, after this Thursday
    assert day == [(360,)]
