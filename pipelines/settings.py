"""One settings file for every location: metric thresholds, windows and paths.

Defaults are the README's (Settings). A TOML file overrides them: the path comes from the
environment variable STUDIO_OPS_SETTINGS, else ``studio-ops.toml`` in the working folder.
Pipelines and dashboard both read settings through :func:`load_settings`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_DB = Path("data") / "studio.duckdb"  # the studio's own data (`studio-ops init`)
DEMO_NAME = "demo.duckdb"  # the built-in demo chain, beside it
SETTINGS_ENV = "STUDIO_OPS_SETTINGS"
DB_ENV = "STUDIO_OPS_DB"
SETTINGS_FILE = "studio-ops.toml"

DEFAULT_BAR_KEYWORDS = (
    "ashiatsu",
    "barefoot",
    "deepfeet",
    "deep feet",
    "bar therapy",
    "ashi-thai",
    "fasciashi",
)


class SettingsError(ValueError):
    """A settings file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Settings:
    """Thresholds and windows used by the marts and the dashboard (README, Settings)."""

    late_cancel_hours: int = 24
    turnover_minutes: int = 15
    max_bar_sessions_per_day: int = 5
    max_hands_on_minutes_per_day: int = 360
    weekly_hands_on_hours_limit: int = 25
    retention_windows_days: tuple[int, ...] = (30, 60, 90)
    at_risk_days: int = 45
    lapsed_days: int = 90
    # History start: a location's first visits count as new clients only from its profile's
    # opened_on, else from this many days after its first booking (0: from the first booking).
    # Clients seen earlier were probably clients already: the data just starts there.
    new_client_lookback_days: int = 90
    bar_service_keywords: tuple[str, ...] = DEFAULT_BAR_KEYWORDS
    currency_symbol: str = "$"
    access_file: str | None = None  # pipelines.access; STUDIO_OPS_ACCESS wins
    # A password sign-in lasts this long in a browser (a signed cookie; pipelines.access):
    # reloads, edited links, new tabs and app restarts stay signed in until then.
    sign_in_hours: int = 12
    max_upload_mb: int = 200  # the Data page refuses bigger uploads with one line
    # An upload loads in a child process (dashboard.uploads) stopped past these, with one line:
    # a hostile file cannot take the app's memory or hold a page run.
    upload_memory_mb: int = 2000  # the child's resident memory
    upload_timeout_seconds: int = 900  # the child's wall time
    max_upload_session_mb: int = 600  # uploads one browser session may hold at once
    # DuckDB memory of one load; past it the load spills to a private folder beside the
    # warehouse (removed when the load ends), and a step that cannot spill fails with one line
    load_memory_mb: int = 1500
    # Export files beyond these are refused with one line naming the limit
    # (pipelines.ingest.formats):
    # they keep a load within its memory promise whatever a file holds.
    max_line_kb: int = 1024  # one CSV row (all its lines, when a quoted cell spans several)
    max_columns: int = 1000  # header columns of a CSV or a sheet
    max_sheet_rows: int = 300_000  # rows of an .xlsx sheet (bigger exports load as CSV)
    max_workbook_mb: int = 300  # an .xlsx's parts, unpacked
    max_zip_ratio: int = 200  # how many times its packed size an .xlsx part (over 1 MB) unpacks to
    max_html_mb: int = 100  # a Mindbody HTML (".xls") export
    # A booking longer than this is a rejected row: a session lasts hours, and a booking that
    # spans years would make the interval marts cut it into every minute of every day.
    max_booking_hours: int = 24
    # Calendars (.ics): repeating events are expanded only inside the load's window, from
    # calendar_days_back days before the load day to calendar_days_ahead after it, and capped
    # (pipelines.ingest.formats.ics), so a small file cannot become millions of bookings.
    calendar_days_back: int = 3650
    calendar_days_ahead: int = 400
    calendar_max_per_event: int = 5000  # occurrences of one repeating event inside the window
    calendar_max_per_file: int = 100_000  # appointments in one calendar file
    # The studio profile (pipelines.profile) fills the room calendar and shifts up to this many
    # days after the load day, so the coming weeks' capacity is there without a new export.
    profile_days_ahead: int = 28
    max_profile_kb: int = 1024  # largest studio profile file (hundreds of locations fit)
    # `studio-ops digest` sends its emails through this SMTP server (none: only --out works).
    # The password is never in the file: it comes from STUDIO_OPS_SMTP_PASSWORD.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True  # upgrade the connection with STARTTLS before signing in
    smtp_user: str | None = None  # sign in as this user (none: send without signing in)
    smtp_from: str | None = None  # the digest's From address (none: smtp_user)
    # Optional targets ([targets] for every location, [targets.<location id>] overriding it):
    # (location id or None for every location, metric, fraction 0-1); none by default. Pages
    # draw them as reference lines and say on each tile whether they are met.
    targets: tuple[tuple[str | None, str, float], ...] = ()
    source_file: str | None = field(default=None, compare=False)

    def as_rows(self) -> dict[str, object]:
        """The numeric settings as one row, for the warehouse `settings` table."""
        return {
            "late_cancel_hours": self.late_cancel_hours,
            "turnover_minutes": self.turnover_minutes,
            "max_bar_sessions_per_day": self.max_bar_sessions_per_day,
            "max_hands_on_minutes_per_day": self.max_hands_on_minutes_per_day,
            "weekly_hands_on_hours_limit": self.weekly_hands_on_hours_limit,
            "at_risk_days": self.at_risk_days,
            "lapsed_days": self.lapsed_days,
            "new_client_lookback_days": self.new_client_lookback_days,
        }


_INT_SETTINGS = {
    "late_cancel_hours",
    "turnover_minutes",
    "max_bar_sessions_per_day",
    "max_hands_on_minutes_per_day",
    "weekly_hands_on_hours_limit",
    "at_risk_days",
    "lapsed_days",
    "new_client_lookback_days",
    "max_upload_mb",
    "upload_memory_mb",
    "upload_timeout_seconds",
    "max_upload_session_mb",
    "calendar_days_back",
    "calendar_days_ahead",
    "calendar_max_per_event",
    "calendar_max_per_file",
    "profile_days_ahead",
    "max_profile_kb",
    "load_memory_mb",
    "max_line_kb",
    "max_columns",
    "max_sheet_rows",
    "max_workbook_mb",
    "max_zip_ratio",
    "max_html_mb",
    "max_booking_hours",
    "smtp_port",
    "sign_in_hours",
}


# The metrics a target may be set for (percent 0-100 in the file, fractions in Settings).
TARGET_METRICS = (
    "room_utilization",
    "bar_utilization",
    "therapist_utilization",
    "rebooking_rate",
    "return_90",
)


def _targets(path: Path, raw: object) -> tuple[tuple[str | None, str, float], ...]:
    """[targets] (every location) and [targets.<location id>] (one location, overriding it)."""
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: targets must be a table ([targets])")
    found: list[tuple[str | None, str, float]] = []
    tables: list[tuple[str | None, dict]] = [(None, raw)]
    for location, values in raw.items():
        if isinstance(values, dict):
            tables.append((str(location), values))
    for location, values in tables:
        where = "targets" if location is None else f"targets.{location}"
        for name, value in values.items():
            if location is None and isinstance(value, dict):
                continue  # a location's own table, read in its turn
            if name not in TARGET_METRICS:
                raise SettingsError(
                    f"{path}: unknown target '{where}.{name}' (known: {', '.join(TARGET_METRICS)})"
                )
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value <= 100
            ):
                raise SettingsError(
                    f"{path}: target {where}.{name} must be a percentage from 0 to 100, "
                    f"got {value!r}"
                )
            found.append((location, name, float(value) / 100))
    return tuple(found)


# Largest value of a whole-number setting: the warehouse keeps them as INTEGER
# (pipelines.warehouse.build.write_settings). A lookback of more than 100 years would put
# new_clients_from past any calendar a page can show.
_INT_MAX = 2_147_483_647
_INT_MAXIMA = {"new_client_lookback_days": 36_500, "sign_in_hours": 8_760}  # a year
# A sign-in of 0 hours would end before the page it opens.
_INT_MINIMA = {"sign_in_hours": 1}


def settings_path() -> Path | None:
    """The settings file in force, or None when only the defaults apply."""
    env = os.environ.get(SETTINGS_ENV)
    if env:
        return Path(env)
    local = Path(SETTINGS_FILE)
    return local if local.exists() else None


def load_settings(path: Path | str | None = None) -> Settings:
    """Read settings from `path` (or the file in force); unknown keys and bad values fail."""
    path = Path(path) if path is not None else settings_path()
    if path is None:
        return Settings()
    try:
        # utf-8-sig: Windows Notepad starts a UTF-8 file with a byte-order mark
        raw = tomllib.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: settings file not found") from None
    except UnicodeDecodeError as error:
        raise SettingsError(
            f"{path}: not UTF-8 text (byte {error.start + 1}); save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML ({error})") from None

    # Settings may sit at the top level or under [metrics].
    values = dict(raw.get("metrics", {}))
    values.update({k: v for k, v in raw.items() if not isinstance(v, dict)})
    known = {f.name for f in fields(Settings)} - {"source_file"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(
            f"{path}: unknown setting '{unknown[0]}' (known: {', '.join(sorted(known))})"
        )

    clean: dict[str, object] = {}
    for name, value in values.items():
        if name in _INT_SETTINGS:
            minimum = _INT_MINIMA.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise SettingsError(
                    f"{path}: {name} must be a whole number >= {minimum}, got {value!r}"
                )
            maximum = _INT_MAXIMA.get(name, _INT_MAX)
            if value > maximum:
                raise SettingsError(
                    f"{path}: {name} must be a whole number from {minimum} to {maximum:,}, "
                    f"got {value!r}"
                )
            clean[name] = value
        elif name == "retention_windows_days":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
            ):
                raise SettingsError(
                    f"{path}: retention_windows_days must be a list of whole days > 0"
                )
            clean[name] = tuple(sorted(set(value)))
        elif name == "bar_service_keywords":
            if not isinstance(value, list) or not all(
                isinstance(v, str) and v.strip() for v in value
            ):
                raise SettingsError(f"{path}: bar_service_keywords must be a list of words")
            clean[name] = tuple(v.strip().lower() for v in value)
        elif name == "currency_symbol":
            if not isinstance(value, str):
                raise SettingsError(f"{path}: currency_symbol must be text")
            clean[name] = value
        elif name == "access_file":
            if not isinstance(value, str) or not value.strip():
                raise SettingsError(f"{path}: access_file must be a file path")
            clean[name] = value.strip()
        elif name in ("smtp_host", "smtp_user", "smtp_from"):
            if not isinstance(value, str) or not value.strip() or "\n" in value:
                raise SettingsError(f"{path}: {name} must be one line of text")
            clean[name] = value.strip()
        elif name == "smtp_starttls":
            if not isinstance(value, bool):
                raise SettingsError(f"{path}: smtp_starttls must be true or false")
            clean[name] = value
    if "targets" in raw:
        clean["targets"] = _targets(path, raw["targets"])
    return Settings(**clean, source_file=str(path))


def db_path(explicit: str | Path | None = None) -> Path:
    """The studio's own warehouse: `--db`, else STUDIO_OPS_DB, else data/studio.duckdb."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(DB_ENV)
    return Path(env) if env else DEFAULT_DB


def demo_db_path(explicit: str | Path | None = None) -> Path:
    """The demo chain's own file: `--db`, else demo.duckdb beside the studio's warehouse.

    The demo never shares a file with real data, so a studio's exports cannot end up mixed
    into made-up bookings (pipelines.ingest.load refuses to load into it)."""
    if explicit:
        return Path(explicit)
    real = db_path()
    return real.with_name(DEMO_NAME if real.name != DEMO_NAME else "demo-chain.duckdb")


def shown_db_path() -> Path:
    """The warehouse the dashboard shows: the studio's own once it exists, else the demo."""
    real = db_path()
    return real if real.exists() else demo_db_path()
