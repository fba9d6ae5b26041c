"""Issue 17, sign-in that lasts: a signed-in browser stays signed in across reloads, edited
links, new tabs and an app restart for `sign_in_hours`, through a signed, expiring cookie
(itsdangerous) whose secret is kept in a file beside the access file; sign-out, a password
change and removing the user end it. `studio-ops access remove-user`, and `add-user` refusing
location ids the warehouse does not know.
"""

from __future__ import annotations

import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines import access
from pipelines.settings import SETTINGS_ENV, SettingsError, load_settings
from tests.hostile import run_cli

PASSWORDS = {"olga": "owner-pass-123", "maria": "manager-pass-123", "kai": "kai-pass-1234"}


@pytest.fixture
def access_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An owner and a manager of L01; no secret file yet, none pointed to elsewhere."""
    monkeypatch.delenv(access.SECRET_ENV, raising=False)
    path = tmp_path / "access.toml"
    access.add_user(path, "olga", "owner", [], PASSWORDS["olga"])
    access.add_user(path, "maria", "manager", ["L01"], PASSWORDS["maria"])
    return path


# --- the token ------------------------------------------------------------------------------


def test_a_token_round_trips_and_expires_after_sign_in_hours(access_file: Path) -> None:
    users = access.load_users(access_file)
    now = [1_000_000.0]
    tokens = access.SignInTokens(hours=12, clock=lambda: now[0])
    token = tokens.mint(users["maria"])
    assert tokens.user_for(token, users) == users["maria"]
    # 12 h = 43,200 s: the cookie's Max-Age right after sign-in
    assert tokens.seconds_left(token) == 43_200
    now[0] += 43_199  # one second before the end: still maria
    assert tokens.user_for(token, users) == users["maria"]
    assert tokens.seconds_left(token) == 1
    now[0] += 1  # 12 h after it was made: over
    assert tokens.user_for(token, users) is None
    assert tokens.seconds_left(token) == 0
    # a shorter setting applies to tokens already out (the hours count from sign-in)
    now[0] -= 43_200 - 3_600  # back to one hour after sign-in
    assert tokens.user_for(token, users) == users["maria"]
    tokens.hours = 1
    assert tokens.user_for(token, users) is None


def test_a_tampered_or_foreign_token_signs_nobody_in(access_file: Path) -> None:
    users = access.load_users(access_file)
    tokens = access.SignInTokens()
    token = tokens.mint(users["maria"])
    payload, made, signature = token.rsplit(".", 2)  # itsdangerous: payload.time.signature
    # one character of the signature changed
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert tokens.user_for(f"{payload}.{made}.{flipped}", users) is None
    # olga's payload under maria's signature
    olga_payload = tokens.mint(users["olga"]).rsplit(".", 2)[0]
    assert tokens.user_for(f"{olga_payload}.{made}.{signature}", users) is None
    # a token signed with another secret (another app's, or before the secret file was replaced)
    assert access.SignInTokens().user_for(token, users) is None
    for junk in ("", ".", "x.y.z", "a" * 5000, None, 42, payload):
        assert tokens.user_for(junk, users) is None


def test_a_password_change_or_removing_the_user_ends_their_tokens(access_file: Path) -> None:
    tokens = access.SignInTokens()
    users = access.load_users(access_file)
    maria, olga = tokens.mint(users["maria"]), tokens.mint(users["olga"])
    access.add_user(access_file, "maria", "manager", ["L01"], "a-new-password-456")
    users = access.load_users(access_file)
    assert tokens.user_for(maria, users) is None  # the password fingerprint no longer matches
    assert tokens.user_for(tokens.mint(users["maria"]), users) == users["maria"]  # a new one does
    access.remove_user(access_file, "olga")
    users = access.load_users(access_file)
    assert tokens.user_for(olga, users) is None
    assert set(users) == {"maria"}


def test_sign_out_revokes_one_token_only(access_file: Path) -> None:
    users = access.load_users(access_file)
    tokens = access.SignInTokens()
    first, second = tokens.mint(users["olga"]), tokens.mint(users["olga"])
    tokens.revoke(first)
    assert tokens.user_for(first, users) is None
    assert tokens.user_for(second, users) == users["olga"]  # olga's other browser stays in


# --- the secret: a file beside the access file, so a restart keeps everyone signed in ----------


def test_the_secret_survives_a_restart_and_its_file_is_0600(access_file: Path) -> None:
    secret = access.secret_path(access_file)
    assert secret == access_file.with_name("access.toml.secret")
    assert not secret.exists()
    users = access.load_users(access_file)
    before = access.SignInTokens.from_file(secret)  # the app before the restart makes the file
    token = before.mint(users["maria"])
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    after = access.SignInTokens.from_file(secret)  # a new process reads the same file
    assert after is not before
    assert after.user_for(token, users) == users["maria"]
    # the file holds 32 random bytes as hex, nothing of the users
    assert len(bytes.fromhex(secret.read_text().strip())) == 32
    # deleting it signs everyone out: the next secret is a new one
    secret.unlink()
    assert access.SignInTokens.from_file(secret).user_for(token, users) is None


def test_the_app_notices_a_deleted_secret_file_and_signs_everyone_out(access_file: Path) -> None:
    users = access.load_users(access_file)
    running = access.sign_in_tokens(access_file, hours=12)  # what the dashboard asks every run
    token = running.mint(users["olga"])
    assert access.sign_in_tokens(access_file, hours=12) is running  # read once, not every run
    access.secret_path(access_file).unlink()
    fresh = access.sign_in_tokens(access_file, hours=12)  # the next click: a new secret file
    assert fresh is not running and access.secret_path(access_file).exists()
    assert fresh.user_for(token, users) is None


def test_first_uses_at_once_agree_on_one_secret(access_file: Path) -> None:
    secret = access.secret_path(access_file)
    found: list[bytes] = []
    start = threading.Barrier(8)

    def first_use() -> None:
        start.wait()
        found.append(access.load_secret(secret))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # eight first uses at once: one file, written once, the same 32 bytes for all
    assert len(set(found)) == 1 and len(found[0]) == 32
    assert [p.name for p in access_file.parent.iterdir() if p.name.startswith(".")] == []


def test_a_damaged_secret_file_is_one_line_naming_it(access_file: Path) -> None:
    secret = access.secret_path(access_file)
    secret.write_text("not hex\n")
    with pytest.raises(access.AccessError) as error:
        access.load_secret(secret)
    message = str(error.value)
    assert message.startswith(f"{secret}: the sign-in secret is damaged") and "\n" not in message
    assert secret.read_text() == "not hex\n"  # left for the owner to look at, not overwritten


def test_the_secret_file_can_live_elsewhere(
    access_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "keys" / "sign-in.secret"
    elsewhere.parent.mkdir()
    monkeypatch.setenv(access.SECRET_ENV, str(elsewhere))
    assert access.secret_path(access_file) == elsewhere
    access.sign_in_tokens(access_file)
    assert elsewhere.exists() and not access_file.with_name("access.toml.secret").exists()


def test_the_dashboard_reads_sign_in_hours_from_the_settings(
    access_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import auth

    settings = tmp_path / "studio-ops.toml"
    settings.write_text("sign_in_hours = 3\n")
    monkeypatch.setenv(SETTINGS_ENV, str(settings))
    monkeypatch.setenv(access.ACCESS_ENV, str(access_file))
    assert load_settings().sign_in_hours == 3
    assert auth._tokens().lifetime == 3 * 3600
    settings.write_text("sign_in_hours = 0\n")  # a sign-in that ends before its page opens
    with pytest.raises(SettingsError, match="sign_in_hours must be a whole number >= 1, got 0"):
        load_settings()


# --- the CLI: remove-user, and add-user checking location ids ----------------------------------


def small_warehouse(db: Path) -> Path:
    """A warehouse file whose dim_locations knows L01 and L07 (all add-user reads of it)."""
    with duckdb.connect(str(db)) as con:
        con.execute("create table dim_locations (location_id varchar, name varchar)")
        con.execute("insert into dim_locations values ('L07', 'Uptown'), ('L01', 'Downtown')")
    return db


def test_remove_user_takes_the_user_out_and_refuses_an_unknown_name(access_file: Path) -> None:
    before = access_file.read_bytes()
    run = run_cli("access", "remove-user", "kai", "--file", str(access_file))
    assert run.returncode == 2
    assert run.lines == [
        f"studio-ops: {access_file}: no user 'kai' (users: maria, olga); nothing written"
    ]
    assert access_file.read_bytes() == before
    run = run_cli("access", "remove-user", "maria", "--file", str(access_file))
    assert run.returncode == 0, run.stderr
    assert run.lines == [
        f"{access_file}: removed maria (manager); their sign-ins end at their next click"
    ]
    assert set(access.load_users(access_file)) == {"olga"}
    assert stat.S_IMODE(access_file.stat().st_mode) == 0o600


def test_add_user_refuses_location_ids_the_warehouse_does_not_know(
    access_file: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    db = small_warehouse(tmp_path / "studio.duckdb")
    before = access_file.read_bytes()

    def add(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "access", "add-user", "kai", "--role",
             "manager", "--password-stdin", "--file", str(access_file), *args],
            input="kai-pass-1234\n", capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    # L1 is a typo of L01 and L09 is not loaded: both named, and the two the warehouse has
    run = add("--locations", "L01,L1,L09", "--db", str(db))
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [
        f"studio-ops: {db} has no location L1, L09 (it has: L01, L07); nothing written. "
        "For a location not loaded yet, pass --allow-new"
    ]
    assert access_file.read_bytes() == before
    # no warehouse at all: say so, and ask for --allow-new
    missing = tmp_path / "none" / "studio.duckdb"
    run = add("--locations", "L01", "--db", str(missing))
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        f"studio-ops: no warehouse at {missing}: cannot check the location ids; "
        "pass --allow-new to add them unchecked"
    ]
    assert access_file.read_bytes() == before
    # known ids pass; --allow-new lets a location not loaded yet through
    assert add("--locations", "L07", "--db", str(db)).returncode == 0
    assert access.load_users(access_file)["kai"].locations == ("L07",)
    run = add("--locations", "L09", "--db", str(missing), "--allow-new")
    assert run.returncode == 0, run.stderr
    assert access.load_users(access_file)["kai"].locations == ("L09",)


# --- a real browser ---------------------------------------------------------------------------

from tests.browser import (  # noqa: E402
    VIEWPORT,
    browser_test,
    chromium,
    streamlit_app,
    studio_env,
    wait_until_idle,
)


@pytest.fixture(scope="module")
def app_files(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The demo warehouse, an access file (olga, maria, kai) and the app's environment. The file
    watcher is off: people editing the checkout must not rerun the app under the test."""
    folder = tmp_path_factory.mktemp("sign_in_lasts")
    access_file = folder / "access.toml"
    access.add_user(access_file, "olga", "owner", [], PASSWORDS["olga"])
    access.add_user(access_file, "maria", "manager", ["L01"], PASSWORDS["maria"])
    access.add_user(access_file, "kai", "scheduler", ["L02"], PASSWORDS["kai"])
    db = folder / "studio.duckdb"
    shutil.copyfile(demo_warehouse, db)
    env = studio_env(db, access_file=access_file, STREAMLIT_SERVER_FILE_WATCHER_TYPE="none")
    env[access.SECRET_ENV] = None
    yield {"folder": folder, "access_file": access_file, "env": env}


@pytest.fixture(scope="module")
def browser(app_files):
    with chromium() as browser:
        yield browser


def sign_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/capacity")
    wait_until_idle(page)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for(timeout=60_000)
    wait_until_idle(page)


def signed_in(page) -> bool:
    """True when the page settles signed in, False when it settles on the sign-in form."""
    page.locator("h1").first.wait_for(timeout=60_000)
    wait_until_idle(page)
    page.wait_for_timeout(500)  # a rerun a moment later (the cookie's check) may change it
    wait_until_idle(page)
    if page.get_by_text("Signed in as").count():
        return True
    assert page.locator("h1").first.inner_text().strip() == "Sign in"
    return False


@browser_test
def test_reloads_edited_links_new_tabs_and_a_restart_stay_signed_in(
    app_files: dict, browser
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        with streamlit_app(app_files["folder"] / "first.log", app_files["env"]) as app:
            page = context.new_page()
            sign_in(page, app.url, "maria")
            [cookie] = [c for c in context.cookies() if c["name"] == "studio_ops_sign_in"]
            assert cookie["sameSite"] == "Strict"
            page.reload()
            assert signed_in(page)
            # an edited link: another page and other dates typed into the address bar
            page.goto(f"{app.url}/therapists?from=2026-10-01&to=2026-10-31")
            assert signed_in(page)
            assert "from=2026-10-01" in page.url
            # a bookmark opened in a new tab
            tab = context.new_page()
            tab.goto(f"{app.url}/clients")
            assert signed_in(tab)
            tab.close()
        # the app stopped and started again (on another port; cookies go by host, not port)
        with streamlit_app(app_files["folder"] / "second.log", app_files["env"]) as app:
            page.goto(f"{app.url}/capacity")
            assert signed_in(page)
            assert page.get_by_text("Signed in as maria").count() == 1
    finally:
        context.close()


@browser_test
def test_sign_out_and_a_removed_user_get_the_form_on_the_next_reload(
    app_files: dict, browser
) -> None:
    with streamlit_app(app_files["folder"] / "third.log", app_files["env"]) as app:
        olga = browser.new_context(viewport=VIEWPORT)
        kai = browser.new_context(viewport=VIEWPORT)
        try:
            page = olga.new_page()
            sign_in(page, app.url, "olga")
            page.get_by_role("button", name="Sign out").click()
            assert not signed_in(page)
            page.reload()  # the cookie was cleared and its token revoked
            assert not signed_in(page)
            assert [c for c in olga.cookies() if c["name"] == "studio_ops_sign_in"] == []

            page = kai.new_page()
            sign_in(page, app.url, "kai")
            access_file = str(app_files["access_file"])
            run = run_cli("access", "remove-user", "kai", "--file", access_file)
            assert run.returncode == 0, run.stderr
            page.reload()
            assert not signed_in(page)
        finally:
            olga.close()
            kai.close()
