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

from pipelines.ingest.formats.sql_expr import E, Expr
from pipelines.ingest.formats.tabular import ExportError
from pipelines.ingest.validate import (
    FALSE_WORDS,
    RAW_ROW_LIMIT,
    STATUS_WORDS,
    TRUE_WORDS,
    capped_raw,
)

SALT_ENV = "STUDIO_OPS_SALT"
SALT_FILE = "client-salt"
KEY_PREFIX = "c_"
KEY_HEX = 16

_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[a-z]{2,}", re.I)
_PHONE = re.compile(r"^\s*'?\+?[\d\s().\-]{7,}\s*$")
# A date written with digits only (2026-03-02, 02.03.2026) is not a phone number.
_DATE = re.compile(r"^\s*(\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})\s*$")
# The same shapes as DuckDB (RE2) patterns, for whole columns.
_EMAIL_SQL = r"[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}"
_PHONE_SQL = r"\s*''?\+?[0-9\s().\-]{7,}\s*"  # '' is a quote inside a SQL string
_DATE_SQL = (
    r"\s*([0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}|[0-9]{1,2}[-./][0-9]{1,2}[-./][0-9]{2,4})\s*"
)
# What replaces a cell of a row whose columns cannot be told apart (see mask_unaligned_row).
MASK_EMAIL, MASK_PHONE, MASK_TEXT = "[email]", "[phone]", "[text]"


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


def looks_like_email(text: str) -> bool:
    return bool(_EMAIL.search(text or ""))


def looks_like_phone(text: str) -> bool:
    """7 to 15 digits with only phone punctuation, not a date; bare digits need 10 or more,
    so that a booking system's numeric client or booking id (1234567) is not taken for one."""
    text = text or ""
    if not _PHONE.match(text) or _DATE.match(text):
        return False
    digits = len(re.sub(r"[^0-9]", "", text))
    return 7 <= digits <= 15 and (digits >= 10 or not text.strip().lstrip("'").isdigit())


def looks_like_contact(text: str) -> bool:
    """Whether a cell looks like an email address or a phone number."""
    return looks_like_email(text) or looks_like_phone(text)


def _email_sql(cell: str) -> str:
    """SQL twin of looks_like_email (`contains` first: a tenth of the regular expression's
    time on a column of ids without an @)."""
    return f"(contains({cell}, '@') and regexp_matches({cell}, '{_EMAIL_SQL}'))"


def _phone_sql(cell: str) -> str:
    """SQL twin of looks_like_phone over a cell expression (a phone starts with a digit, a
    sign, a bracket, a quote or a space, never a letter: ids such as C0123 are passed over
    before the regular expressions, which took about 6 s of CPU over 10M bookings)."""
    digits = f"length(regexp_replace({cell}, '[^0-9]', '', 'g'))"
    letter = f"(ascii({cell}) between 65 and 90 or ascii({cell}) between 97 and 122)"
    return (
        f"(not {letter} and regexp_full_match({cell}, '{_PHONE_SQL}') "
        f"and not regexp_full_match({cell}, "
        f"'{_DATE_SQL}') and {digits} between 7 and 15 and ({digits} >= 10 "
        f"or not regexp_full_match(ltrim(trim({cell}), ''''), '[0-9]+')))"
    )


def contact_shaped_sql(cell: str) -> str:
    """SQL: whether a cell is an email address or a phone number (looks_like_contact)."""
    return f"({_email_sql(cell)} or {_phone_sql(cell)})"


def contact_key_sql(cell: str, salt: str) -> str:
    """SQL of a native client_id cell: the client key, as client_key computes it, when the
    cell is an email address or a phone number; else the cell as written. `cell` and `salt`
    are SQL expressions."""
    key = "'" + KEY_PREFIX + "' || left(sha256(" + salt + " || {}), " + str(KEY_HEX) + ")"
    email = key.format(f"'e:' || lower(trim({cell}))")
    phone = key.format(f"'t:' || regexp_replace({cell}, '[^0-9]', '', 'g')")
    return (
        f"case when {_email_sql(cell)} then {email} "
        f"when {_phone_sql(cell)} then {phone} else {cell} end"
    )


# A client reference (raw_bookings.client_ref) is the booking system's own client id or code,
# kept so that a manager can look the client up there. It is kept only when it cannot be a
# person: one token of letters, digits and - _ . / : # + (no spaces, so no "Maya Okafor"), with
# at least one digit (a lone word such as "Okafor" may be a name), at most CLIENT_REF_LIMIT
# characters, and not shaped like an email address or a phone number (a bare number of 10 to
# 15 digits counts as a phone). Anything else is not stored: the row loads with client_ref NULL.
CLIENT_REF_LIMIT = 64
_REF_TOKEN = r"[A-Za-z0-9_./:#+\-]+"


def keeps_client_ref(text: str | None) -> bool:
    """Whether a cell is kept as a client reference (Python twin of client_ref_sql)."""
    text = (text or "").strip()
    return (
        0 < len(text) <= CLIENT_REF_LIMIT
        and re.fullmatch(_REF_TOKEN, text) is not None
        and any(ch.isdigit() for ch in text)
        and not looks_like_contact(text)
    )


# A bare number of up to 9 digits is kept by the rules below (too short for a phone); telling
# so with one match costs a tenth of their regular expressions (about 6 s of CPU over 10M
# bookings), so the SQL tries it first.
_BARE_REF_SQL = "regexp_full_match({}, '[0-9]{{1,9}}')"


def _ref_kept_sql(cell: str) -> str:
    return (
        f"(length({cell}) <= {CLIENT_REF_LIMIT} and regexp_full_match({cell}, '{_REF_TOKEN}') "
        f"and regexp_matches({cell}, '[0-9]') and not {contact_shaped_sql(cell)})"
    )


def client_ref_sql(cell: str) -> str:
    """SQL of a client_ref from a trimmed cell expression (NULL when blank): the cell when it is
    kept (keeps_client_ref), else NULL."""
    return (
        f"case when {_BARE_REF_SQL.format(cell)} then {cell} "
        f"when {_ref_kept_sql(cell)} then {cell} end"
    )


def client_ref_raw_sql(cell: str) -> str:
    """SQL of a client_ref cell in a rejected row's raw text: as stored when kept, else masked
    as mask_cell would ([email], [phone] or [text]), never the name, email or phone itself."""
    return (
        f"case when {cell} is null then '' when {_ref_kept_sql(cell)} then {cell} "
        f"when {_email_sql(cell)} then '{MASK_EMAIL}' when {_phone_sql(cell)} "
        f"then '{MASK_PHONE}' else '{MASK_TEXT}' end"
    )


def client_ref_expr(cell: Expr, raw: bool = False) -> Expr:
    """client_ref_sql (or, with `raw`, client_ref_raw_sql) over an expression with parameters."""
    template = (client_ref_raw_sql if raw else client_ref_sql)("{}")
    return E(template, *[cell] * template.count("{}"))


def mask_cell(cell: str, words: frozenset[str] = frozenset()) -> str:
    """One cell of a row whose columns cannot be told apart: kept only when it is plainly not
    a person (blank; no letters, as dates, times and prices; one id-like token with a digit; a
    status or yes/no word), else masked: [email], [phone] or [text]."""
    text = cell.strip()
    if not text:
        return cell
    if looks_like_email(text):
        return MASK_EMAIL
    if looks_like_phone(text):
        return MASK_PHONE
    if len(text) > 64:
        return MASK_TEXT  # no id, date or number is this long
    if not any(ch.isalpha() for ch in text):
        return text
    if re.fullmatch(r"[\w\-./:#+]+", text) and any(ch.isdigit() for ch in text):
        return text
    return text if re.sub(r"[^a-z]", "", text.lower()) in words else MASK_TEXT


def mask_unaligned_row(raw: str) -> str:
    """The raw text of a row rejected before its columns were known (a wrong field count):
    its cells may have shifted, so no header says which one is a client's name, email or
    phone. Each comma-separated piece is masked by its shape (mask_cell), and the text is
    capped like every rejected row's (validate.capped_raw): pieces are masked up to the cap."""
    words = frozenset(STATUS_WORDS) | frozenset(TRUE_WORDS) | frozenset(FALSE_WORDS)
    pieces, length, start = [], -1, 0  # length: of the pieces joined by commas
    while start <= len(raw) and length <= RAW_ROW_LIMIT:
        end = raw.find(",", start)
        end = len(raw) if end < 0 else end
        pieces.append(mask_cell(raw[start:end], words))
        length += len(pieces[-1]) + 1
        start = end + 1
    return capped_raw(",".join(pieces), len(raw))  # the note gives the row's whole length


def mask_rejects(rejects: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """Rows rejected before validation, their raw text masked by mask_unaligned_row."""
    return [(line, reason, mask_unaligned_row(raw)) for line, reason, raw in rejects]
