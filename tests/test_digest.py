"""`studio-ops digest`: the real command, a real local SMTP server (aiosmtpd), a hand-made
two-location warehouse and an access file with an owner and a manager.

The warehouse (loaded with the real pipeline from native CSVs written here):
- L01 Eastside Ashiatsu, L02 Northgate Barefoot; one bar room each (R1, 09:00-18:00) every day
  from DAY - 7 to DAY + 7.
- DAY (Tue 8 Sep 2026) at L01: a completed visit 10:00-11:00 (Maya), a no-show 12:00-13:00
  (Maya, Hot Stone 60) and a booking for 14:00-15:00 (Sam, Swedish 60) cancelled at 11:00 the
  same day, 3 h before: under late_cancel_hours (24), so a late cancel. 3 bookings in all.
  DAY - 7 at L01: one completed visit, so the Bookings tile changes by 3 - 1 = +2.
- DAY at L02: a no-show 16:00-17:00 (Jo, Deep Tissue 60) and a completed visit 10:00-11:00.
- DAY + 1 at L01: Maya booked for six Ashiatsu sessions, 09:00, 10:15, ... 15:15 (an hour each,
  15 min apart: not back-to-back, 360 min hands-on: not over 360), so the only warning of the
  next 7 days is "6 bar sessions (limit 5)" at Eastside.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
from pathlib import Path

import pytest

from pipelines.ingest.load import load_files
from pipelines.settings import Settings
from tests.browser import browser_test, chromium_page, free_port
from tests.hostile import run_cli
from tests.test_load import write_csv

DAY = dt.date(2026, 9, 8)
OWNER, MANAGER = "olivia@studio.example", "maria@studio.example"
# Northgate's name is markup on purpose: every data value must reach the HTML escaped
EAST, NORTH = "Eastside Ashiatsu", 'Northgate <b>Barefoot</b> & "Co"'
NORTH_HTML = html.escape(NORTH)
SENDER = "digest@studio.example"
TITLE = "Studio digest for Tuesday 08 September 2026"


def _at(day: dt.date, hour: int, minute: int = 0) -> str:
    return f"{dt.datetime.combine(day, dt.time(hour, minute)):%Y-%m-%d %H:%M}"


def _booking(number, location, therapist, client, service, day, hour, status, minute=0, **more):
    start = dt.datetime.combine(day, dt.time(hour, minute))
    return {
        "booking_id": f"B{number}",
        "location_id": location,
        "room_id": "R1",
        "therapist_id": therapist,
        "client_id": client,
        "service": service,
        "start_at": f"{start:%Y-%m-%d %H:%M}",
        "end_at": f"{start + dt.timedelta(hours=1):%Y-%m-%d %H:%M}",
        "status": status,
        "price": "100.00",
        "created_at": _at(day - dt.timedelta(days=3), 9),
        **more,
    }


def build_warehouse(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    before, after = DAY - dt.timedelta(days=7), DAY + dt.timedelta(days=1)
    bookings = [
        _booking(1, "L01", "maya", "C1", "Ashiatsu 60", DAY, 10, "completed"),
        _booking(2, "L01", "maya", "C2", "Hot Stone 60", DAY, 12, "no_show"),
        _booking(3, "L01", "sam", "C3", "Swedish 60", DAY, 14, "cancelled",
                 cancelled_at=_at(DAY, 11)),
        _booking(4, "L01", "maya", "C4", "Ashiatsu 60", before, 10, "completed"),
        _booking(5, "L02", "jo", "C5", "Deep Tissue 60", DAY, 16, "no_show"),
        _booking(6, "L02", "jo", "C6", "Swedish 60", DAY, 10, "completed"),
    ]  # fmt: skip
    for n in range(6):  # 09:00, 10:15, ... 15:15
        minutes = 9 * 60 + n * 75
        bookings.append(
            _booking(
                10 + n, "L01", "maya", f"C{10 + n}", "Ashiatsu 60", after,
                minutes // 60, "booked", minute=minutes % 60,
            )
        )  # fmt: skip
    header = ["booking_id", "location_id", "room_id", "therapist_id", "client_id", "service"]
    header += ["start_at", "end_at", "status", "price", "created_at", "cancelled_at"]
    rooms = [
        {"date": f"{DAY + dt.timedelta(days=d)}", "location_id": location, "room_id": "R1",
         "room_name": "Cedar", "has_bars": "yes", "opens_at": "09:00", "closes_at": "18:00"}
        for d in range(-7, 8)
        for location in ("L01", "L02")
    ]  # fmt: skip
    files = [
        write_csv(folder / "locations.csv", ["location_id", "name", "timezone"],
                  [{"location_id": "L01", "name": EAST, "timezone": "America/Chicago"},
                   {"location_id": "L02", "name": NORTH, "timezone": "America/Chicago"}]),
        write_csv(folder / "bookings.csv", header, bookings),
        write_csv(folder / "rooms.csv", ["date", "location_id", "room_id", "room_name",
                  "has_bars", "opens_at", "closes_at"], rooms),
    ]  # fmt: skip
    db = folder / "studio.duckdb"
    results = load_files(db, files, Settings())
    assert all(r.rows_rejected == 0 for r in results), [r for r in results if r.rows_rejected]
    return db


def write_access(path: Path) -> Path:
    path.write_text(
        f'[users.olivia]\nrole = "owner"\nemail = "{OWNER}"\n\n'
        f'[users.maria]\nrole = "manager"\nlocations = ["L02"]\nemail = "{MANAGER}"\n\n'
        '[users.sam]\nrole = "scheduler"\nlocations = ["L01"]\n',  # no email: no digest
        encoding="utf-8",
    )
    return path


def write_settings(path: Path, port: int) -> Path:
    path.write_text(
        f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_starttls = false\n'
        f'smtp_from = "{SENDER}"\n',
        encoding="utf-8",
    )
    return path


class Inbox:
    """An aiosmtpd handler keeping every message; it refuses the addresses in `refuse`."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.envelopes: list = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def smtp_server(handler: Inbox):
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("digest")
    return {
        "folder": folder,
        "db": build_warehouse(folder / "warehouse"),
        "access": write_access(folder / "access.toml"),
    }


def digest(world: dict, *args: str, port: int | None = None, access: bool = True):
    env = {"STUDIO_OPS_ACCESS": str(world["access"]) if access else ""}
    settings = world["folder"] / f"settings-{port}.toml"
    if port is not None:
        env["STUDIO_OPS_SETTINGS"] = str(write_settings(settings, port))
    else:
        settings.write_text("", encoding="utf-8")
        env["STUDIO_OPS_SETTINGS"] = str(settings)
    return run_cli("digest", "--db", str(world["db"]), *args, env=env)


@pytest.fixture(scope="module")
def sent(world: dict) -> dict:
    """Every digest of DAY, sent to a real local SMTP server: {address: parsed message}."""
    inbox = Inbox()
    controller = smtp_server(inbox)
    try:
        run = digest(world, "--date", str(DAY), port=controller.port)
    finally:
        controller.stop()
    assert run.returncode == 0, run.lines
    messages = {}
    for envelope in inbox.envelopes:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for address in envelope.rcpt_tos:
            messages[address] = parsed
    return {"run": run, "messages": messages, "envelopes": inbox.envelopes}


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def act_on_rows(page: str) -> list[tuple[str, str, str, str]]:
    """(time, status, therapist, service) of each row of the no-shows and late cancels tables."""
    cell = r"<td[^>]*>([^<]*)</td>"
    found = re.findall(r"<tr>" + cell * 4, page)
    return [row for row in found if row[1] in ("No-show", "Late cancel")]


def test_each_person_with_an_email_gets_one_digest_and_one_progress_line(sent: dict) -> None:
    # olivia and maria have emails, sam (a scheduler) has none: two messages, one each
    assert sorted(sent["messages"]) == [MANAGER, OWNER]
    assert [sorted(e.rcpt_tos) for e in sent["envelopes"]] in ([[OWNER], [MANAGER]],
                                                               [[MANAGER], [OWNER]])  # fmt: skip
    for address, message in sent["messages"].items():
        assert message["To"] == address
        assert message["From"] == SENDER
        assert "Tue 08 Sep 2026" in message["Subject"]
    run = sent["run"]
    assert run.stderr == "", run.stderr  # no Streamlit warnings, no progress bars
    assert run.stdout.splitlines() == [
        f"sent the digest of {DAY} to {OWNER} ({EAST}, {NORTH})",
        f"sent the digest of {DAY} to {MANAGER} ({NORTH})",
    ]


def test_the_owner_digest_holds_both_locations_and_the_managers_only_theirs(sent: dict) -> None:
    owner = html_of(sent["messages"][OWNER])
    manager = html_of(sent["messages"][MANAGER])
    assert EAST in owner and NORTH_HTML in owner
    assert NORTH_HTML in manager
    # Eastside's name, its therapists and its warning appear nowhere in the manager's email
    message = sent["messages"][MANAGER]
    whole = html_of(message) + text_of(message) + message["Subject"]
    for word in (EAST, "Eastside", "maya", "sam", "Hot Stone", "6 bar sessions"):
        assert not re.search(rf"\b{word}\b", whole), word


def test_the_no_shows_and_late_cancels_listed_are_the_hand_made_ones(sent: dict) -> None:
    owner = html_of(sent["messages"][OWNER])
    manager = html_of(sent["messages"][MANAGER])
    # Eastside: the no-show at 12:00 and the late cancel at 14:00 (cancelled 3 h before);
    # Northgate: the no-show at 16:00. The completed visits are not listed.
    assert sorted(act_on_rows(owner)) == sorted(
        [
            ("12:00–13:00", "No-show", "maya", "Hot Stone 60"),
            ("14:00–15:00", "Late cancel", "sam", "Swedish 60"),
            ("16:00–17:00", "No-show", "jo", "Deep Tissue 60"),
        ]
    )
    assert act_on_rows(manager) == [("16:00–17:00", "No-show", "jo", "Deep Tissue 60")]


def test_tiles_compare_with_a_week_earlier_and_warnings_look_ahead(sent: dict) -> None:
    text = text_of(sent["messages"][OWNER])
    # Eastside: 3 bookings on DAY (completed, no-show, late cancel), 1 a week earlier: +2.
    # The chain: 3 + 2 = 5 on DAY, 1 a week earlier: +4.
    assert "Bookings: 5 (+4 on a week earlier)" in text
    assert "Bookings: 3 (+2 on a week earlier)" in text
    assert "6 bar sessions (limit 5)" in text
    assert "Warehouse: " in text and "Metric dictionary" in text
    assert "Bookings: 2 (+2 on a week earlier)" in text_of(sent["messages"][MANAGER])


def test_the_charts_are_inline_png_images_with_alt_text(sent: dict) -> None:
    for message in sent["messages"].values():
        page = html_of(message)
        images = [part for part in message.walk() if part.get_content_type() == "image/png"]
        assert 1 <= len(images) <= 2
        for image in images:
            assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
            cid = image["Content-ID"].strip("<>")
            assert f'src="cid:{cid}"' in page
        assert len(re.findall(r'<img src="cid:[^"]+" alt="[^"]{10,}"', page)) == len(images)


def test_one_refused_address_does_not_stop_the_others(world: dict) -> None:
    inbox = Inbox(refuse=(OWNER,))
    controller = smtp_server(inbox)
    try:
        run = digest(world, "--date", str(DAY), port=controller.port)
    finally:
        controller.stop()
    assert run.returncode == 1
    assert [e.rcpt_tos for e in inbox.envelopes] == [[MANAGER]]
    errors = run.stderr.splitlines()
    assert errors[0].startswith(f"studio-ops: {OWNER}: not sent: the SMTP server refused {OWNER}")
    assert errors[1] == f"studio-ops: 1 of 2 digests not sent: {OWNER}"
    assert run.stdout.splitlines() == [f"sent the digest of {DAY} to {MANAGER} ({NORTH})"]


def test_an_unreachable_server_is_one_line_and_a_failure(world: dict) -> None:
    port = free_port()  # nothing listens there
    run = digest(world, "--date", str(DAY), "--to", MANAGER, port=port)
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        f"studio-ops: cannot reach the SMTP server 127.0.0.1:{port}: connection refused (is "
        f"the server running and the port right?); not sent: {MANAGER}"
    ]


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (("--date", "2026-13-01"), 2, "studio-ops: --date 2026-13-01: not a date (YYYY-MM-DD)"),
        (
            ("--to", "nobody@studio.example"),
            1,
            "studio-ops: --to nobody@studio.example: no user in {access} has this email",
        ),
        (
            (),
            1,
            "studio-ops: no SMTP server configured: set smtp_host in {settings} (see Daily "
            "digest in the README), or write the emails to files with --out DIR",
        ),
    ],
)
def test_bad_input_is_one_line(world: dict, args: tuple, code: int, line: str) -> None:
    run = digest(world, *args)
    assert run.returncode == code
    expected = line.format(access=world["access"], settings=world["folder"] / "settings-None.toml")
    assert run.lines == [expected]


def test_a_day_without_data_says_where_the_data_ends(world: dict, tmp_path: Path) -> None:
    later = DAY + dt.timedelta(days=30)
    run = digest(world, "--date", str(later), "--to", MANAGER, "--out", str(tmp_path))
    assert run.returncode == 0, run.lines
    page = (tmp_path / f"{MANAGER}.html").read_text(encoding="utf-8")
    # Northgate's last booking that happened is its no-show and visit on DAY
    assert (
        f"No bookings in the warehouse for {NORTH_HTML} on Thursday 08 October 2026: the data "
        "ends on Tuesday 08 September 2026." in page
    )
    assert "Bookings</div>" not in page  # no tiles of zeros


def test_without_an_access_file_to_addresses_get_every_location(
    world: dict, tmp_path: Path
) -> None:
    run = digest(world, "--date", str(DAY), "--to", "a@x.example", "--out", str(tmp_path),
                 access=False)  # fmt: skip
    assert run.returncode == 0, run.lines
    page = (tmp_path / "a@x.example.html").read_text(encoding="utf-8")
    assert EAST in page and NORTH_HTML in page


@pytest.fixture(scope="module")
def written(world: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("digest-out")
    run = digest(world, "--date", str(DAY), "--out", str(out))
    assert run.returncode == 0, run.lines
    assert run.stdout.splitlines() == [
        f"wrote {out / (OWNER + '.html')}: the digest of {DAY} for {OWNER} ({EAST}, {NORTH})",
        f"wrote {out / (MANAGER + '.html')}: the digest of {DAY} for {MANAGER} ({NORTH})",
    ]
    return out


def test_out_writes_one_html_file_per_recipient_with_the_images_inlined(written: Path) -> None:
    assert sorted(p.name for p in written.iterdir()) == [f"{MANAGER}.html", f"{OWNER}.html"]
    page = (written / f"{MANAGER}.html").read_text(encoding="utf-8")
    assert "cid:" not in page
    assert 'src="data:image/png;base64,iVBORw0KGgo' in page  # a PNG's first bytes in base64
    assert EAST not in page


@browser_test
def test_a_written_digest_renders_in_chromium(written: Path, tmp_path: Path) -> None:
    with chromium_page() as page:
        page.goto((written / f"{OWNER}.html").as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(tmp_path / "digest.png"), full_page=True)
        assert page.get_by_text(TITLE).is_visible()
        assert page.get_by_text("6 bar sessions (limit 5)").is_visible()
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        assert len(widths) == 2 and all(w > 0 for w in widths)
        # nothing wider than the 1280 px window
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_data_values_are_escaped(sent: dict, written: Path) -> None:
    # the location named with markup shows as those characters, never as bold text
    pages = [html_of(m) for m in sent["messages"].values()]
    pages += [p.read_text(encoding="utf-8") for p in written.iterdir()]
    for page in pages:
        assert NORTH_HTML in page
        assert "<b>Barefoot</b>" not in page
    assert NORTH in text_of(sent["messages"][MANAGER])  # the plain text keeps it as it is


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('smtp_starttls = "yes"', "smtp_starttls must be true or false"),
        ("smtp_host = 12", "smtp_host must be one line of text"),
        ("smtp_port = -1", "smtp_port must be a whole number >= 0, got -1"),
    ],
)
def test_bad_smtp_settings_are_one_line_naming_the_setting(
    tmp_path: Path, line: str, error: str
) -> None:
    from pipelines.settings import SettingsError, load_settings

    path = tmp_path / "studio-ops.toml"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    assert str(raised.value) == f"{path}: {error}"
