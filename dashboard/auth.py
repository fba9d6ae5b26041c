"""Who is looking, and which locations they may see (location scoping lives in the data layer).

The router calls :func:`gate` once per run, before any page: it works out the signed-in user
from the access file (pipelines.access), stores the resulting :class:`Viewer` in the session,
and shows the sign-in form instead of the page when nobody is signed in. dashboard.queries reads
:func:`allowed_locations` for every query and intersects it with what the viewer picked, so a
location a user may not see never reaches SQL, whatever the URL says.

Two ways to sign in, both mapped through the same access file:
- a user name and password (argon2 hash in the file);
- Streamlit's own ``st.login`` (OIDC), when ``.streamlit/secrets.toml`` has an ``[auth]``
  section: the identity's email is looked up in the file's ``email`` fields.

Without an access file the app is open, and :func:`gate` says so on every page.
"""

from __future__ import annotations

import json
import math
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import streamlit as st

from dashboard.format import md_text
from pipelines import access
from pipelines.access import AccessError, User
from pipelines.settings import SettingsError, load_settings

SESSION_USER = "auth_user_name"
SESSION_VIEWER = "auth_viewer"
SESSION_TOKEN = "auth_token"  # the signed token minted at sign-in (pipelines.access)
SESSION_CONNECTION = "auth_connection"  # a weak reference to the websocket that signed in
SESSION_ENDED = "auth_ended"  # why a sign-in just ended, shown once above the form
# The browser keeps the sign-in token in this cookie, so a reload, an edited link, a new tab or
# an app restart stays signed in (for the setting sign_in_hours).
COOKIE = "studio_ops_sign_in"
SIGN_IN_ENDED = (
    "Your sign-in has ended: it expired, or your password was changed or your user removed. "
    "Sign in again."
)
# one line at 1280 px (the README's Access control says how to add sign-in)
OPEN_ACCESS_NOTE = (
    ":material/lock_open: **Open access:** no access file, so anyone who can reach this "
    "address sees every location (README: *Access control*)."
)


@dataclass(frozen=True)
class Viewer:
    """The person looking at the app: their user entry, or nobody in particular (open access)."""

    user: User | None

    @property
    def open_access(self) -> bool:
        """True when no access file is configured (everyone sees everything)."""
        return self.user is None

    def allowed(self) -> tuple[str, ...] | None:
        """The locations this viewer may see; None means every location."""
        return None if self.user is None else self.user.allowed()

    @property
    def may_upload(self) -> bool:
        """Owners and managers (and everyone on an open app) may load exports."""
        return self.user is None or self.user.may_upload

    @property
    def sees_every_location(self) -> bool:
        """Owners, and everyone on an open app."""
        return self.user is None or self.user.sees_every_location


def _oidc_configured() -> bool:
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # a broken secrets file means no single sign-on, not a broken app
        return False


@lru_cache(maxsize=8)
def _users_cached(path: str, mtime_ns: int, size: int) -> dict[str, User]:
    return access.load_users(Path(path))


def _users(path: Path) -> dict[str, User]:
    stat = path.stat()  # FileNotFoundError: configured but missing, handled by callers
    return _users_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _tokens() -> access.SignInTokens:
    """The sign-in tokens of the access file in force (their secret is kept in a file, so they
    outlive a restart), lasting the setting sign_in_hours from the moment they are made."""
    return access.sign_in_tokens(access.access_path(), load_settings().sign_in_hours)


def _connection() -> object | None:
    """The websocket connection this run came through, or None when there is none.

    A browser always reaches a session through a websocket, whose handshake carries its
    cookies. Only Streamlit's AppTest (a mock runtime) runs a script without one; there the
    session state is all there is, and no real client can write it.
    """
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:
        return None
    ctx = get_script_run_ctx()
    client = Runtime.instance().get_client(ctx.session_id) if ctx else None
    return client if client is not None else _NO_CONNECTION


# A real runtime whose session has no websocket right now (it disconnected mid-run): nothing
# can be shown to anybody, and no sign-in holds.
_NO_CONNECTION = object()


def _end_sign_in(why: str | None = None) -> None:
    for key in (SESSION_USER, SESSION_TOKEN, SESSION_CONNECTION, SESSION_VIEWER):
        st.session_state.pop(key, None)
    if why:
        st.session_state[SESSION_ENDED] = why


def _signed_in(users: dict[str, User]) -> User | None:
    if _oidc_configured() and st.user.is_logged_in:
        return access.user_for_email(users, st.user.get("email"))
    name = st.session_state.get(SESSION_USER)
    token = st.session_state.get(SESSION_TOKEN)
    connection = _connection()
    if connection is None:  # AppTest: no websocket, no cookies; the session state decides
        if token is None:
            return users.get(name) if isinstance(name, str) else None
        user = _tokens().user_for(token, users)
        if user is None or user.name != name:
            _end_sign_in(SIGN_IN_ENDED)
            return None
        return user
    if connection is _NO_CONNECTION:
        return None
    # A browser. Streamlit's session id is no proof of anything (it shows in upload URLs and
    # any client can present it to reattach to the session), so a sign-in holds only on the
    # websocket that typed the password, or on one whose handshake brought a valid token
    # cookie for the same user (a reconnect or a reload of the same browser).
    presented = st.context.cookies.get(COOKIE)
    from_cookie = _tokens().user_for(presented, users) if presented else None
    if isinstance(name, str) and token is not None:
        user = _tokens().user_for(token, users)
        if user is None or user.name != name:
            _end_sign_in(SIGN_IN_ENDED)
            return None
        bound = st.session_state.get(SESSION_CONNECTION)
        if (bound is not None and bound() is connection) or (
            from_cookie is not None and from_cookie.name == name
        ):
            st.session_state[SESSION_CONNECTION] = weakref.ref(connection)
            return user
        _end_sign_in()  # a replayed session id from a client without the cookie
        return None
    if name is not None or token is not None:
        _end_sign_in()  # never set by a real sign-in: refuse rather than trust it
    if from_cookie is None:
        return None
    st.session_state[SESSION_USER] = from_cookie.name
    st.session_state[SESSION_TOKEN] = presented
    st.session_state[SESSION_CONNECTION] = weakref.ref(connection)
    return from_cookie


def current_viewer() -> Viewer | None:
    """The viewer for this run; None when an access file exists and nobody is signed in.

    Raises AccessError when the access file is configured but missing or broken: the app then
    stays closed rather than open.
    """
    try:
        path = access.access_path()
    except SettingsError as error:
        raise AccessError(str(error)) from None
    if path is None:
        return Viewer(None)
    try:
        users = _users(path)
    except FileNotFoundError:
        raise AccessError(f"{path}: access file not found; nobody can sign in") from None
    user = _signed_in(users)
    return Viewer(user) if user else None


def viewer() -> Viewer | None:
    """The viewer the router stored for this run (computed now if it has not run)."""
    if SESSION_VIEWER in st.session_state:
        return st.session_state[SESSION_VIEWER]
    try:
        return current_viewer()
    except AccessError:
        return None


def allowed_locations() -> tuple[str, ...] | None:
    """Locations the viewer may see (None: every location); nobody signed in sees none."""
    found = viewer()
    return () if found is None else found.allowed()


def gate() -> Viewer | None:
    """Sign-in for this run: the viewer, or None after showing the sign-in form (or an error).

    Call once per run, before the page: the viewer is stored for dashboard.queries.
    """
    st.session_state.pop(SESSION_VIEWER, None)
    try:
        found = current_viewer()
    except (AccessError, SettingsError) as error:
        st.session_state[SESSION_VIEWER] = None
        st.error(md_text(str(error)))
        return None
    st.session_state[SESSION_VIEWER] = found
    if found is None:
        try:
            _sign_in_form()
        except SettingsError as error:
            # a sign-in lasts sign_in_hours, read from the settings file: a broken file is
            # one line naming it (never a traceback), and nobody is signed in meanwhile
            st.session_state.pop(SESSION_USER, None)
            st.error(md_text(str(error)))
        return None
    if found.open_access:
        st.caption(OPEN_ACCESS_NOTE)
    else:
        _sidebar_account(found.user)
    return found


def _sign_in_form() -> None:
    path = access.access_path()
    users = _users(path)
    st.title("Sign in")
    ended = st.session_state.pop(SESSION_ENDED, None)
    if ended:
        st.info(ended)
    _write_cookie(None)  # whatever token this browser still holds is no longer good
    oidc = _oidc_configured()
    if oidc and st.user.is_logged_in:
        identity = md_text(st.user.get("email") or "an unknown identity")
        st.warning(
            f"You are signed in as {identity}, but the "
            "access file gives that identity no access. Ask the studio owner to add you."
        )
        st.button("Sign out", on_click=st.logout, key="sign_out_unknown")
        return
    if oidc:
        st.button("Sign in with single sign-on", on_click=st.login, type="primary")
    if any(u.password_hash for u in users.values()) or not oidc:
        with st.form("sign_in"):
            name = st.text_input("User name", key="sign_in_name")
            password = st.text_input("Password", type="password", key="sign_in_password")
            submitted = st.form_submit_button("Sign in", type="primary")
        if submitted:
            _check_sign_in(users, name, password)


def _check_sign_in(users: dict[str, User], name: str, password: str) -> None:
    wait = access.SIGN_INS.attempt(name)
    if wait and wait.everyone:
        st.error(
            f"Too many sign-in attempts on this app just now. Try again in {math.ceil(wait / 60)} "
            "min."
        )
        return
    if wait:
        st.error(
            f"Too many wrong passwords for this user name. Try again in {math.ceil(wait / 60)} "
            "min, or ask the studio owner."
        )
        return
    user = access.check_password(users, name, password)
    if user is None:
        st.error("Wrong user name or password.")
        return
    try:
        token = _tokens().mint(user)
    except AccessError as error:  # the secret file cannot be made or read: say which and why
        st.error(md_text(str(error)))
        return
    access.SIGN_INS.succeeded(name)
    st.session_state[SESSION_USER] = user.name
    st.session_state[SESSION_TOKEN] = token
    connection = _connection()
    if connection is not None and connection is not _NO_CONNECTION:
        st.session_state[SESSION_CONNECTION] = weakref.ref(connection)
    st.rerun()


def _sign_out() -> None:
    try:
        tokens = _tokens()
    except (AccessError, SettingsError):
        tokens = None  # the sign-in ends below all the same; its cookie is cleared by the form
    if tokens is not None:
        tokens.revoke(st.session_state.get(SESSION_TOKEN))
        if _connection() is not None:
            tokens.revoke(st.context.cookies.get(COOKIE))
    _end_sign_in()
    if _oidc_configured() and st.user.is_logged_in:
        st.logout()


def _write_cookie(token: str | None) -> None:
    """Set (or, with None, clear) the sign-in cookie in the browser.

    A script can only send HTML to the page, not a Set-Cookie header, so a tiny script sets it:
    SameSite=Strict (never sent by another site's page), Secure over HTTPS, and expiring with
    the token. It cannot be HttpOnly for that reason. The server reads it from the websocket
    handshake (st.context.cookies), so it counts from the next connection on; until then the
    session is bound to the websocket that signed in."""
    connection = _connection()
    if connection is None or connection is _NO_CONNECTION:
        return  # AppTest: no browser to keep a cookie
    if token is None:  # cleared even when the handshake had none: one set since is not listed
        max_age, value = 0, ""
    elif st.context.cookies.get(COOKIE) == token:
        return  # the browser holds it already
    else:
        max_age, value = _tokens().seconds_left(token), token
    secure = "; Secure" if (st.context.url or "").startswith("https:") else ""
    cookie = f"{COOKIE}={value}; Path=/; Max-Age={max_age}; SameSite=Strict{secure}"
    st.html(
        f"<script>document.cookie = {json.dumps(cookie)};</script>",
        unsafe_allow_javascript=True,
    )


def _sidebar_account(user: User) -> None:
    where = "every location" if user.sees_every_location else ", ".join(user.locations)
    with st.sidebar:
        # user names and location ids come from the access file: shown as text, not markdown
        st.caption(f"Signed in as **{md_text(user.name)}** ({user.role}: {md_text(where)})")
        if st.session_state.get(SESSION_TOKEN):
            _write_cookie(st.session_state[SESSION_TOKEN])
        st.button("Sign out", on_click=_sign_out, icon=":material/logout:", key="sign_out")
