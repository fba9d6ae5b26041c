"""Who may see which locations: the access file (TOML), shared by the dashboard and the CLI.

The access file is optional. Without one the dashboard is open to anyone who can reach it (and
says so on every page). With one, every viewer signs in, and sees only the locations the file
gives them:

```toml
[users.maria]
role = "manager"              # owner | manager | scheduler
locations = ["L01", "L02"]    # owners see every location and need none
email = "maria@example.com"   # the identity st.login (OIDC) reports, when that is configured
password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."
```

Passwords are stored only as argon2id hashes (argon2-cffi); `studio-ops access add-user`
writes them. The path comes from the environment variable STUDIO_OPS_ACCESS, else the
`access_file` setting (relative to the settings file), else there is none.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import sys
import tempfile
import threading
import time
import tomllib
import types
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipelines.settings import Settings, load_settings

ACCESS_ENV = "STUDIO_OPS_ACCESS"
ROLES = ("owner", "manager", "scheduler")
UPLOAD_ROLES = ("owner", "manager")
# Names and location ids go into TOML keys and values as they are: keep them plain.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
LOCATION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
EMAIL_PATTERN = re.compile(r"[^@\s\"\\]+@[^@\s\"\\]+")


class AccessError(ValueError):
    """An access file or a user entry that cannot be used; the message is one line."""


@dataclass(frozen=True)
class User:
    """One person who may sign in: a role and the locations they may see."""

    name: str
    role: str
    locations: tuple[str, ...] = ()
    email: str | None = None
    password_hash: str | None = None

    @property
    def sees_every_location(self) -> bool:
        """Owners see every location, including ones loaded later."""
        return self.role == "owner"

    @property
    def may_upload(self) -> bool:
        """Owners and managers load exports; schedulers only read."""
        return self.role in UPLOAD_ROLES

    def allowed(self) -> tuple[str, ...] | None:
        """The locations this user may see; None means every location."""
        return None if self.sees_every_location else self.locations


def access_path(settings: Settings | None = None) -> Path | None:
    """The access file in force (it may not exist yet), or None when none is configured."""
    env = os.environ.get(ACCESS_ENV)
    if env:
        return Path(env)
    settings = settings or load_settings()
    if not settings.access_file:
        return None
    path = Path(settings.access_file).expanduser()
    if not path.is_absolute() and settings.source_file:
        path = Path(settings.source_file).parent / path
    return path


def load_users(path: Path) -> dict[str, User]:
    """Every user in the access file by name; a broken file raises AccessError."""
    try:
        # utf-8-sig: Windows Notepad starts a UTF-8 file with a byte-order mark
        raw = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise AccessError(f"{path}: access file not found") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise AccessError(f"{path}: not a readable TOML access file ({error})") from None
    users_table = raw.get("users", {})
    if not isinstance(users_table, dict):
        raise AccessError(f"{path}: [users] must be a table of users")
    users: dict[str, User] = {}
    for name, entry in users_table.items():
        users[name] = _user(path, name, entry)
    return users


def _user(path: Path, name: str, entry: object) -> User:
    where = f"{path}: user {name!r}"
    if not isinstance(entry, dict):
        raise AccessError(f"{where} must be a table ([users.{name}])")
    if "password" in entry:
        raise AccessError(
            f"{where}: plain passwords are not accepted; set one with `studio-ops access add-user`"
        )
    unknown = sorted(set(entry) - {"role", "locations", "email", "password_hash"})
    if unknown:
        raise AccessError(f"{where}: unknown key '{unknown[0]}'")
    role = entry.get("role")
    if role not in ROLES:
        raise AccessError(f"{where}: role must be one of {', '.join(ROLES)}, got {role!r}")
    locations = entry.get("locations", [])
    if not isinstance(locations, list) or not all(isinstance(x, str) for x in locations):
        raise AccessError(f"{where}: locations must be a list of location ids")
    if role != "owner" and not locations:
        raise AccessError(f"{where}: a {role} needs at least one location")
    email = entry.get("email")
    if email is not None and not isinstance(email, str):
        raise AccessError(f"{where}: email must be text")
    password_hash = entry.get("password_hash")
    if password_hash is not None and (
        not isinstance(password_hash, str) or not password_hash.startswith("$argon2")
    ):
        raise AccessError(f"{where}: password_hash must be an argon2 hash (use add-user)")
    return User(
        name=name,
        role=role,
        locations=tuple(dict.fromkeys(x.strip() for x in locations if x.strip())),
        email=email.strip().lower() if email else None,
        password_hash=password_hash,
    )


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (argon2-cffi's recommended parameters)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def check_password(users: dict[str, User], name: str, password: str) -> User | None:
    """The user when `name` and `password` match an entry with a password, else None.

    Every call runs one argon2 verify, also for an unknown name (against a dummy hash with the
    same parameters), so the answer's timing does not tell which names exist."""
    from argon2 import PasswordHasher
    from argon2.exceptions import Argon2Error, InvalidHashError

    user = users.get(name.strip())
    usable = user is not None and bool(user.password_hash) and bool(password)
    try:
        PasswordHasher().verify(user.password_hash if usable else _dummy_hash(), password or "-")
    except (Argon2Error, InvalidHashError):
        return None
    return user if usable else None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password nobody knows: what unknown names are verified against."""
    return hash_password(secrets.token_hex(16))


# Wrong passwords allowed per user name in a window; past that the name is refused until the
# oldest of them is a window old. argon2 makes each guess slow; this caps how many there are.
MAX_FAILED_SIGN_INS = 5
SIGN_IN_WINDOW_SECONDS = 15 * 60
# Sign-in attempts for all names together, per minute: caps the argon2 work a flood of made-up
# names costs the server, and with it how many names the throttle has to remember.
SIGN_INS_PER_MINUTE = 60


class Wait(float):
    """Seconds until a sign-in may be tried again (0: go ahead); `everyone` tells the global
    limit (every name waits) from one name's lock."""

    everyone: bool = False

    def __new__(cls, seconds: float, everyone: bool = False) -> Wait:
        wait = super().__new__(cls, seconds)
        wait.everyone = everyone
        return wait


class SignInThrottle:
    """Wrong passwords per user name, kept in the server's memory (a new browser session does
    not reset them): at most `limit` in any `window` seconds; and at most `per_minute` attempts
    a minute for all names together.

    Names are counted as typed (case and spaces ignored), known or not, so a refusal says
    nothing about which names exist. A name is forgotten only when its newest attempt is a
    window old (its lock has then ended too), never to make room: with the global limit at most
    `per_minute` x window-minutes names are remembered, so a flood of made-up names can neither
    grow the memory nor push a locked name out. Someone who knows a user name can keep that
    user out for the window, and a flood keeps everyone out while it lasts; the owner can still
    add another user to the access file.
    """

    def __init__(
        self,
        limit: int = MAX_FAILED_SIGN_INS,
        window: float = SIGN_IN_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        per_minute: int = SIGN_INS_PER_MINUTE,
    ) -> None:
        self._limit, self._window, self._clock = limit, window, clock
        # name -> its attempts, oldest first; the names in order of their newest attempt
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._recent: deque[float] = deque(maxlen=per_minute)  # every name's, last minute
        self._lock = threading.Lock()

    @staticmethod
    def _key(name: str) -> str:
        return name.strip().lower()

    def attempt(self, name: str) -> Wait:
        """Count a sign-in attempt for `name`, unless it is refused; return the seconds until it
        may try again (0: go ahead and check the password; a right one calls `succeeded`).

        Counting before the password is checked keeps parallel sessions from slipping extra
        guesses in while argon2 works. A refused attempt is not counted."""
        now = self._clock()
        with self._lock:
            while self._failures:  # drop names whose newest attempt is a window old
                oldest_name, attempts = next(iter(self._failures.items()))
                if attempts[-1] + self._window > now:
                    break
                del self._failures[oldest_name]
            key = self._key(name)
            failures = self._failures.get(key)
            if failures is not None and len(failures) == self._limit:
                wait = failures[0] + self._window - now
                if wait > 0:
                    return Wait(wait)
            if len(self._recent) == self._recent.maxlen:
                wait = self._recent[0] + 60 - now
                if wait > 0:
                    return Wait(wait, everyone=True)
            self._recent.append(now)
            self._failures.setdefault(key, deque(maxlen=self._limit)).append(now)
            self._failures.move_to_end(key)
            return Wait(0.0)

    def succeeded(self, name: str) -> None:
        """Forget `name`'s attempts after a right password."""
        with self._lock:
            self._failures.pop(self._key(name), None)

    def tracked_names(self) -> int:
        """How many names the throttle remembers now (its memory is about this many deques)."""
        with self._lock:
            return len(self._failures)


def process_wide(name: str, make: Callable[[], object]):
    """One object per server process. Streamlit re-imports the project's modules when a source
    file changes; a module-level object would then start afresh (a new token secret signs
    everyone out, an empty throttle forgets every lock), so it is kept on a module of its own
    that has no file, which Streamlit does not watch or re-import."""
    holder = sys.modules.setdefault(_PROCESS_STATE, types.ModuleType(_PROCESS_STATE))
    if not hasattr(holder, name):
        setattr(holder, name, make())
    return getattr(holder, name)


_PROCESS_STATE = "_studio_ops_process_state"

# The dashboard's throttle: one per server process, shared by every session.
SIGN_INS: SignInThrottle = process_wide("sign_ins", SignInThrottle)


# How long a password sign-in lasts by default (the setting `sign_in_hours` overrides it).
SIGN_IN_HOURS = Settings.sign_in_hours
# The signing secret's file: this environment variable, else `<access file>.secret`.
SECRET_ENV = "STUDIO_OPS_SIGN_IN_SECRET"
SECRET_BYTES = 32
# itsdangerous mixes this into its key, so a token made for anything else never passes here.
_SALT = "studio-ops sign-in"


def secret_path(access_file: Path) -> Path:
    """Where the sign-in secret is kept: $STUDIO_OPS_SIGN_IN_SECRET, else beside the access
    file (never in the repository or the warehouse, which are shared more widely)."""
    env = os.environ.get(SECRET_ENV)
    return Path(env) if env else access_file.with_name(access_file.name + ".secret")


def load_secret(path: Path) -> bytes:
    """The signing secret in `path`, made on first use: random, mode 0600, and written whole
    before it appears (a temp file hard-linked into place), so two app processes starting
    together agree on one secret and none ever reads half a file."""
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    except OSError as error:
        raise AccessError(f"{path}: cannot create the sign-in secret ({error.strerror})") from None
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(SECRET_BYTES) + "\n")
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    except OSError as error:
        raise AccessError(f"{path}: cannot create the sign-in secret ({error.strerror})") from None
    finally:
        Path(temp).unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        why = getattr(error, "strerror", None) or "not text"
        raise AccessError(f"{path}: cannot read the sign-in secret ({why})") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < SECRET_BYTES:
        raise AccessError(
            f"{path}: the sign-in secret is damaged; delete the file (everyone signs in again)"
        )
    return secret


class SignInTokens:
    """Signed, expiring sign-in tokens (itsdangerous' URLSafeTimedSerializer): what binds a
    dashboard session to the person who typed the password, instead of Streamlit's session id
    (which shows in upload URLs). The browser keeps one in a cookie, so a reload, an edited
    link, a new tab or an app restart stays signed in.

    A token carries the user name, a keyed fingerprint of the user's password hash and a
    random nonce, with the time it was made, signed under the secret. It stops working when it
    is `hours` old, when the user's password is changed or the user removed (the fingerprint no
    longer matches), and when it is revoked (sign-out). Revoked nonces are kept in memory until
    their token would have expired anyway.
    """

    def __init__(
        self,
        secret: bytes | None = None,
        *,
        hours: float = SIGN_IN_HOURS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from itsdangerous import TimestampSigner, URLSafeTimedSerializer

        self._secret = secret or secrets.token_bytes(SECRET_BYTES)
        self.hours, self._clock = hours, clock
        self._revoked: dict[str, float] = {}  # nonce -> expiry; kept only until it expires
        self._lock = threading.Lock()
        # itsdangerous reads the time through its signer: give it ours (tests move the clock)
        signer = type("Signer", (TimestampSigner,), {"get_timestamp": lambda _: int(clock())})
        self._serializer = URLSafeTimedSerializer(self._secret, salt=_SALT, signer=signer)

    @classmethod
    def from_file(cls, path: Path, **kwargs) -> SignInTokens:
        """Tokens signed with the secret kept in `path` (made on first use)."""
        return cls(load_secret(path), **kwargs)

    @property
    def lifetime(self) -> int:
        """Seconds a token lasts from the moment it is made."""
        return int(self.hours * 3600)

    def _fingerprint(self, user: User) -> str:
        # keyed, so the readable token body tells nothing about the hash
        message = b"password:" + (user.password_hash or "").encode()
        return hmac.new(self._secret, message, "sha256").hexdigest()[:32]

    def mint(self, user: User) -> str:
        """A new token for `user` (who just gave the right password)."""
        payload = {"user": user.name, "password": self._fingerprint(user)}
        return self._serializer.dumps({**payload, "nonce": secrets.token_hex(16)})

    def _payload(self, token: object) -> tuple[dict, int] | None:
        """The token's payload and its expiry (epoch seconds), or None when it is not one of
        ours, was tampered with, or has expired."""
        from itsdangerous import BadData

        if not isinstance(token, str) or len(token) > 1024:
            return None
        try:
            payload, made = self._serializer.loads(
                token, max_age=self.lifetime, return_timestamp=True
            )
        except BadData:
            return None
        expires = int(made.timestamp()) + self.lifetime
        if not isinstance(payload, dict) or expires <= self._clock():
            return None
        return payload, expires

    def user_for(self, token: object, users: dict[str, User]) -> User | None:
        """The user a token signs in, or None when it is forged, expired, revoked, or its user
        was removed or given a new password since."""
        found = self._payload(token)
        if found is None:
            return None
        payload = found[0]
        with self._lock:
            if payload.get("nonce") in self._revoked:
                return None
        user = users.get(payload.get("user"))  # type: ignore[arg-type]
        if user is None or not user.password_hash:
            return None
        if not hmac.compare_digest(str(payload.get("password")), self._fingerprint(user)):
            return None
        return user

    def seconds_left(self, token: object) -> int:
        """Seconds until a (valid) token expires: the cookie's Max-Age."""
        found = self._payload(token)
        return 0 if found is None else max(0, int(found[1] - self._clock()))

    def revoke(self, token: object) -> None:
        """End a token before it expires (sign-out)."""
        found = self._payload(token)
        if found is None:
            return
        now = self._clock()
        with self._lock:
            for nonce in [n for n, expires in self._revoked.items() if expires <= now]:
                del self._revoked[nonce]
            self._revoked[str(found[0].get("nonce"))] = found[1]


# The dashboard's tokens, one per secret file per server process (process_wide): read once,
# and read again when the file is replaced or deleted (deleting it signs everyone out).
_TOKENS: dict[str, tuple[tuple[int, int], SignInTokens]] = process_wide("sign_in_tokens", dict)
_TOKENS_LOCK: threading.Lock = process_wide("sign_in_tokens_lock", threading.Lock)


def sign_in_tokens(access_file: Path, hours: float = SIGN_IN_HOURS) -> SignInTokens:
    """The dashboard's tokens for this access file, lasting `hours` (the setting in force)."""
    path = secret_path(access_file)
    with _TOKENS_LOCK:
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is None:
            load_secret(path)
            stat = path.stat()
        identity = (stat.st_ino, stat.st_mtime_ns)
        key = str(path.resolve())
        held = _TOKENS.get(key)
        if held is None or held[0] != identity:
            held = (identity, SignInTokens(load_secret(path), hours=hours))
            _TOKENS[key] = held
        held[1].hours = hours
        return held[1]


def user_for_email(users: dict[str, User], email: str | None) -> User | None:
    """The user whose `email` is the identity st.login reported (case ignored), else None."""
    if not email:
        return None
    wanted = email.strip().lower()
    matches = [u for u in users.values() if u.email == wanted]
    return matches[0] if len(matches) == 1 else None


def add_user(
    path: Path,
    name: str,
    role: str,
    locations: list[str],
    password: str | None,
    email: str | None = None,
) -> User:
    """Add or replace a user in the access file (created mode 0600); returns the user.

    The file is rewritten whole (other users kept, comments not) and replaced atomically.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise AccessError(
            f"user name {name!r}: use letters, digits and . _ @ + - (at most 64 characters)"
        )
    if role not in ROLES:
        raise AccessError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    locations = list(dict.fromkeys(x.strip() for x in locations if x.strip()))
    for location in locations:
        if not LOCATION_PATTERN.fullmatch(location):
            raise AccessError(f"location id {location!r}: use letters, digits and . _ -")
    if role != "owner" and not locations:
        raise AccessError(f"a {role} needs --locations (for example --locations L01,L02)")
    if email is not None and not EMAIL_PATTERN.fullmatch(email.strip()):
        raise AccessError(f"email {email!r} does not look like an email address")
    if password is None and email is None:
        raise AccessError("give a password, an --email for single sign-on, or both")
    users = load_users(path) if path.exists() else {}
    user = User(
        name=name,
        role=role,
        locations=tuple(locations),
        email=email.strip().lower() if email else None,
        password_hash=hash_password(password) if password is not None else None,
    )
    users[name] = user
    _write(path, users)
    return user


def remove_user(path: Path, name: str) -> User:
    """Take `name` out of the access file (rewritten atomically, like add_user); returns the
    removed user. Their sign-ins end on their next click: their tokens name a user who is gone.
    """
    users = load_users(path)
    if name not in users:
        known = ", ".join(sorted(users)) or "none"
        raise AccessError(f"{path}: no user {name!r} (users: {known}); nothing written")
    removed = users.pop(name)
    _write(path, users)
    return removed


def warehouse_locations(db: Path) -> list[str]:
    """The location ids the warehouse at `db` knows (its dim_locations), sorted.

    Raises AccessError (one line) when there is no warehouse there or it cannot be read."""
    import duckdb

    from pipelines.warehouse.snapshot import open_snapshot
    from pipelines.warehouse.store import WarehouseError

    if not db.exists():
        raise AccessError(f"no warehouse at {db}")
    try:
        con = open_snapshot(db)
        try:
            rows = con.execute("select location_id from dim_locations order by 1").fetchall()
        finally:
            con.close()
    except (WarehouseError, duckdb.Error) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise AccessError(f"{db}: cannot read its locations ({first})") from None
    return [row[0] for row in rows]


def _write(path: Path, users: dict[str, User]) -> None:
    lines = [
        "# studio-ops access file: who may sign in and which locations they see.",
        "# Written by `studio-ops access add-user`; passwords are argon2 hashes only.",
    ]
    for user in users.values():
        lines += ["", f'[users."{_toml_text(user.name)}"]', f'role = "{user.role}"']
        if user.locations:
            quoted = ", ".join(f'"{_toml_text(x)}"' for x in user.locations)
            lines.append(f"locations = [{quoted}]")
        if user.email:
            lines.append(f'email = "{_toml_text(user.email)}"')
        if user.password_hash:
            lines.append(f'password_hash = "{_toml_text(user.password_hash)}"')
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _toml_text(value: str) -> str:
    """Text for a TOML basic string (inputs are checked plain; this guards the rest)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
