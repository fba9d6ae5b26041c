"""Client PII: names, emails and phones become a salted hash key before anything is stored.

The key is `c_` + the first 16 hex digits of sha256(salt + identity), where identity is the
lowercased email when there is one, else the phone's digits (an Excel guard apostrophe, spaces
and punctuation dropped, the country code kept), else the normalised name (`Last, First` turned
round, case and spaces folded). The same client gives the same key in every file, vendor and
location, so a client seen at two studios is one client.

The salt is local configuration, never in the repository: the environment variable
STUDIO_OPS_SALT, else the file `client-salt` next to the warehouse file, created with 32 random
bytes (mode 0600) the first time it is needed. Keep that file with the warehouse: a new salt
gives every client a new key. Hashing runs in DuckDB (sha256 over whole columns), not row by row.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.formats.common import Expr

SALT_ENV = "STUDIO_OPS_SALT"
SALT_FILE = "client-salt"
KEY_PREFIX = "c_"
KEY_HEX = 16

_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[a-z]{2,}", re.I)
_PHONE = re.compile(r"^\s*'?\+?[\d\s().\-]{7,}\s*$")


class SaltSource:
    """The salt for a warehouse, resolved (and the file created) only when first needed."""

    def __init__(self, db: Path | str) -> None:
        self.path = Path(db).parent / SALT_FILE
        self._salt: str | None = None

    def __call__(self) -> str:
        if self._salt is None:
            self._salt = salt_for(self.path)
        return self._salt


def env_salt() -> str:
    """The salt from STUDIO_OPS_SALT, for callers that have no warehouse file."""
    from pipelines.formats.tabular import ExportError

    env = os.environ.get(SALT_ENV)
    if not env:
        raise ExportError(f"client details need a salt: set {SALT_ENV} or load with load_files")
    return env


def salt_for(path: Path) -> str:
    """STUDIO_OPS_SALT, else the salt file at `path` (created, mode 0600, when missing)."""
    env = os.environ.get(SALT_ENV)
    if env:
        return env
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(salt + "\n")
    return salt


def identity(email: str | None, phone: str | None, name: str | None) -> str | None:
    """The text that identifies a client (Python twin of the SQL in client_key_sql)."""
    if email and email.strip():
        return "e:" + email.strip().lower()
    digits = re.sub(r"[^0-9]", "", phone or "")
    if digits:
        return "t:" + digits
    if name and name.strip():
        text = re.sub(r"\s+", " ", name.strip())
        if "," in text:
            last, _, first = text.partition(",")
            text = f"{first.strip()} {last.strip()}"
        return "n:" + re.sub(r"\s+", " ", text.lower()).strip()
    return None


def client_key(salt: str, email: str | None, phone: str | None, name: str | None) -> str | None:
    """The client key for one client (Python twin of client_key_sql)."""
    ident = identity(email, phone, name)
    if ident is None:
        return None
    return KEY_PREFIX + hashlib.sha256((salt + ident).encode()).hexdigest()[:KEY_HEX]


def client_key_sql(email: Expr, phone: Expr, name: Expr) -> Expr:
    """SQL for the client key from cell expressions; `ctx.salt` comes from the vendor_ctx row."""
    from pipelines.formats.common import E

    mail = E("nullif(lower(trim({})), '')", email)
    digits = E("nullif(regexp_replace(coalesce({}, ''), '[^0-9]', '', 'g'), '')", phone)
    spaced = E("nullif(regexp_replace(trim({}), '\\s+', ' ', 'g'), '')", name)
    person = E(
        "lower(regexp_replace(trim(case when {} like '%,%' then "
        "trim(split_part({}, ',', 2)) || ' ' || trim(split_part({}, ',', 1)) "
        "else {} end), '\\s+', ' ', 'g'))",
        spaced,
        spaced,
        spaced,
        spaced,
    )
    ident = E("coalesce('e:' || {}, 't:' || {}, 'n:' || {})", mail, digits, person)
    return E("'" + KEY_PREFIX + "' || left(sha256(ctx.salt || {}), " + str(KEY_HEX) + ")", ident)


def looks_like_contact(text: str) -> bool:
    """Whether a cell looks like an email address or a phone number."""
    return bool(_EMAIL.search(text or "")) or bool(_PHONE.match(text or ""))
