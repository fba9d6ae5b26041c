"""The daily digest (`studio-ops digest`): one HTML email per person in the access file.

For each recipient and the locations they may see (an owner every location, a manager theirs),
the email holds a day's tiles with their change against the same weekday a week earlier, the
day's no-shows and late cancels, the next 7 days' overload warnings and booked share, and two
charts as inline PNG images. Every number comes from the dashboard's own queries
(dashboard.queries: kpis, today, ahead), run outside Streamlit through
`snapshot.acting_for(locations)`, so the email and the pages never disagree. Every data value
is escaped (html.escape) before it meets the HTML.

pipelines.cli imports this module inside its `digest` command only: pipelines never import the
dashboard at module level.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pandas as pd

from dashboard import charts, tiles
from dashboard import format as fmt
from dashboard.queries import ahead, kpis, snapshot, today
from dashboard.queries import digest as queries
from pipelines.access import EMAIL_PATTERN, AccessError, load_users

# An owner of a big chain gets the chain's table and this many locations in full: the ones
# with the most to act on (no-shows, late cancels, overload warnings).
LOCATIONS_IN_FULL = 3
# Overload warnings listed before "and N more" (the Next 7 days page has them all).
WARNINGS_LISTED = 30
DAYS_AHEAD = 7
CHART_WIDTH = 560

ACT_ON = ("No-show", "Late cancel")
SEVERITY = {"bar_sessions": 0, "hands_on": 1, "weekly": 2, "back_to_back": 3}
DEFINITIONS = (
    "Figures use the dashboard's definitions: utilization is time booked over time open (rooms, "
    "ceiling-bar rooms used for bar work, therapists' shifts), RevPATH is revenue per open "
    "room hour, a late cancel is one made less than {late} h before the start, and each change "
    "compares with the same weekday a week earlier. The dashboard's Metric dictionary page "
    "gives every formula."
)


class DigestError(ValueError):
    """Recipients that cannot be worked out; the text is one line."""


@dataclass(frozen=True)
class Recipient:
    """One person the digest goes to: their address and the locations they may see."""

    address: str
    name: str
    locations: tuple[str, ...] | None  # None: every location (an owner, or no access file)


@dataclass(frozen=True)
class Chart:
    """One chart as a PNG, referenced from the HTML as cid:<cid>."""

    cid: str
    png: bytes
    alt: str


@dataclass
class Digest:
    """One recipient's email: subject, HTML (charts by cid:), plain text and the charts."""

    recipient: Recipient
    day: dt.date
    subject: str
    html: str
    text: str
    charts: list[Chart] = field(default_factory=list)
    location_names: tuple[str, ...] = ()


def recipients(to: Sequence[str], access_file: Path | None) -> list[Recipient]:
    """Who gets the digest: every user of the access file with an email, or those of them
    `to` names; without an access file, the `to` addresses, each for every location."""
    for address in to:
        if not EMAIL_PATTERN.fullmatch(address):
            raise DigestError(f"--to {address}: not an email address")
    if access_file is None:
        if not to:
            raise DigestError(
                "no recipients: there is no access file to take them from, so name them with "
                "--to EMAIL (each gets every location)"
            )
        return [Recipient(address, address, None) for address in dict.fromkeys(to)]
    try:
        users = load_users(access_file)
    except AccessError as error:
        raise DigestError(str(error)) from None
    by_address: dict[str, Recipient] = {}
    for user in users.values():
        if user.email and user.email.lower() not in by_address:
            by_address[user.email.lower()] = Recipient(user.email, user.name, user.allowed())
    if not to:
        if not by_address:
            raise DigestError(
                f"{access_file}: nobody has an email: give users one with "
                "`studio-ops access add-user NAME --email ADDRESS ...`"
            )
        return list(by_address.values())
    chosen = []
    for address in dict.fromkeys(to):
        if address.lower() not in by_address:
            raise DigestError(f"--to {address}: no user in {access_file} has this email")
        chosen.append(by_address[address.lower()])
    return chosen


def build(recipient: Recipient, day: dt.date) -> Digest:
    """The recipient's digest for `day`, from the published warehouse (dashboard.queries)."""
    with snapshot.acting_for(recipient.locations):
        return _Builder(recipient, day).build()


class _Builder:
    def __init__(self, recipient: Recipient, day: dt.date) -> None:
        self.recipient, self.day = recipient, day
        self.week_before = day - dt.timedelta(days=7)
        settings = snapshot.settings_in_force()
        self.settings, self.symbol = settings, settings.currency_symbol
        self.charts: list[Chart] = []
        self.html: list[str] = []
        self.text: list[str] = []

    # -- output helpers: every data value goes through _e (html) or _plain (text)
    def heading(self, words: str, level: int = 2) -> None:
        size = {1: 22, 2: 18, 3: 16}[level]
        self.html.append(
            f'<h{level} style="font-size:{size}px;margin:24px 0 8px;color:#1f2937">'
            f"{_e(words)}</h{level}>"
        )
        self.text += ["", words, "=" * len(words) if level == 1 else "-" * len(words)]

    def para(self, words: str, muted: bool = False) -> None:
        color = "#6b7280" if muted else "#1f2937"
        self.html.append(f'<p style="margin:6px 0;color:{color}">{_e(words)}</p>')
        self.text.append(words)

    def build(self) -> Digest:
        day_words = f"{self.day:%A %d %B %Y}"
        places = snapshot.locations()
        scope = tuple(places["location_id"])
        names = dict(zip(places["location_id"], places["location_name"], strict=True))
        self.single = len(scope) == 1
        self.heading(f"Studio digest for {day_words}", 1)
        self.para(f"For {self.recipient.name}: " + _where(list(names.values())))
        warehouse = snapshot.warehouse_path()
        demo = " (the built-in demo chain: made-up data)" if snapshot.is_demo() else ""
        self.para(f"Warehouse: {warehouse}{demo}.", muted=True)
        self.para(DEFINITIONS.format(late=self.settings.late_cancel_hours), muted=True)
        if not scope:
            self.para("None of your locations is in the warehouse yet: there is nothing to show.")
            return self._done(names, 0, 0, 0)

        runs = queries.bookings_run(scope)
        last_day = {r.location_id: _day(r.last_day) for r in runs.itertuples()}
        now = kpis.kpis_by_location(scope, self.day, self.day)
        before = kpis.kpis_by_location(scope, self.week_before, self.week_before)
        warnings = ahead.overload_ahead(scope, self.day, DAYS_AHEAD)
        history = snapshot.history_start(scope)
        self.too_early = {
            name
            for name, start in zip(
                history["location_name"], history["new_clients_from"], strict=True
            )
            if self.day < pd.Timestamp(start).date()
        }

        rows = now[~now["is_total"]] if len(now) else now
        has_day = {
            r.location_id for r in rows.itertuples() if r.bookings and not pd.isna(r.bookings)
        }
        to_act = {loc: _act_on(loc, self.day) for loc in has_day}
        no_shows = sum(int((f["status"] == "No-show").sum()) for f in to_act.values())
        late = sum(int((f["status"] == "Late cancel").sum()) for f in to_act.values())

        if len(scope) > 1:
            self._chain(scope, names, now, before, has_day, last_day, warnings)
        busy = sorted(
            scope,
            key=lambda loc: (
                -(len(to_act.get(loc, ())) + int((warnings["location_name"] == names[loc]).sum())),
                names[loc],
            ),
        )
        in_full = busy if len(scope) <= LOCATIONS_IN_FULL else busy[:LOCATIONS_IN_FULL]
        if len(in_full) < len(scope):
            self.para(
                f"Below: the {len(in_full)} locations with the most to act on (no-shows, late "
                f"cancels, overload warnings); the table above lists all {len(scope):,}.",
                muted=True,
            )
        for loc in in_full:
            self._location(loc, names[loc], now, before, to_act.get(loc), last_day.get(loc))
        self._ahead(scope, warnings)
        return self._done(names, no_shows, late, len(warnings))

    def _done(self, names: dict, no_shows: int, late: int, warnings: int) -> Digest:
        where = _where(list(names.values()))
        counts = f"{no_shows} no-shows, {late} late cancels, {warnings} overload warnings ahead"
        subject = _one_line(f"Studio digest {self.day:%a %d %b %Y}: {where}: {counts}")
        self.html.append(
            '<p style="margin:24px 0 0;color:#6b7280;font-size:12px">Sent by studio-ops digest. '
            "Open the dashboard for every figure, the Day page for the day's full list.</p>"
        )
        body = "\n".join(self.html)
        page = (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_e(subject)}</title></head>"
            '<body style="margin:0;padding:16px;background:#f3f4f6">'
            '<div style="max-width:760px;margin:0 auto;background:#fff;padding:16px 24px;'
            "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
            f'font-size:14px;line-height:1.45">{body}</div></body></html>\n'
        )
        text = "\n".join(self.text).strip() + "\n"
        return Digest(
            self.recipient,
            self.day,
            subject,
            page,
            text,
            self.charts,
            tuple(names.values()),
        )

    # -- sections
    def _chain(self, scope, names, now, before, has_day, last_day, warnings) -> None:
        self.heading(f"All your locations ({len(scope):,})")
        total = now[now["is_total"]]
        if not has_day:
            self._no_data("your locations", [d for d in last_day.values() if d])
            return
        self._tiles(total.iloc[0].to_dict(), _total(before), chain=True)
        counts = warnings.groupby("location_name").size() if len(warnings) else pd.Series()
        header = ["Location", "Room utilization", "Bar utilization", "Bookings", "No-shows"]
        header += ["Late cancels", "Revenue", f"Warnings (next {DAYS_AHEAD} days)"]
        table = []
        for r in now[~now["is_total"]].itertuples():
            table.append(
                [
                    r.location_name,
                    fmt.pct(r.room_utilization),
                    fmt.pct(r.bar_utilization),
                    fmt.count(r.bookings),
                    fmt.count(r.no_shows),
                    fmt.count(r.late_cancellations),
                    fmt.money(r.revenue, self.symbol),
                    fmt.count(counts.get(r.location_name, 0)),
                ]
            )
        quiet = [names[loc] for loc in scope if loc not in has_day]
        self._table(header, table)
        if quiet:
            self.para("No bookings on this day: " + ", ".join(quiet) + ".", muted=True)
        self._glance(scope, names, now)

    def _location(self, loc, name, now, before, act_on, last_day) -> None:
        self.heading(name)
        row = now[(~now["is_total"]) & (now["location_id"] == loc)]
        if act_on is None or row.empty:
            self._no_data(name, [last_day] if last_day else [])
            return
        previous = before[(~before["is_total"]) & (before["location_id"] == loc)]
        values = row.iloc[0].to_dict()
        if name in self.too_early:
            values["new_clients"] = None
        self._tiles(values, previous.iloc[0].to_dict() if len(previous) else {})
        if self.single:
            self._glance((loc,), {loc: name}, now)
        self.heading("No-shows and late cancels", 3)
        if act_on.empty:
            self.para("None: every client came or cancelled in time.")
            return
        header = ["Time", "Status", "Therapist", "Service", "Room", "Client ref", "Booked"]
        header.append("Cancelled")
        table = [
            [
                f"{_stamp(r.start_at, '%H:%M')}–{_stamp(r.end_at, '%H:%M')}",
                r.status,
                r.therapist,
                r.service,
                r.room,
                _client(r.client_ref, r.booking_system),
                _stamp(r.booked_at, "%d %b %H:%M"),
                _stamp(r.cancelled_at, "%d %b %H:%M"),
            ]
            for r in act_on.itertuples()
        ]
        self._table(header, table)

    def _ahead(self, scope, warnings) -> None:
        first = self.day + dt.timedelta(days=1)
        last = self.day + dt.timedelta(days=DAYS_AHEAD)
        self.heading(f"Next {DAYS_AHEAD} days ({first:%a %d %b} – {last:%a %d %b})")
        self.heading("Overload warnings", 3)
        if warnings.empty:
            self.para(
                "None: nobody is booked over the daily bar-session, hands-on or weekly limits, "
                "or back-to-back beyond the turnover rule."
            )
        else:
            several = len(scope) > 1
            # the ones that hurt most first (a sixth bar session before a short turnover),
            # so a long list cut at WARNINGS_LISTED keeps them
            warnings = warnings.assign(
                order=warnings["kind"].map(SEVERITY).fillna(len(SEVERITY))
            ).sort_values(["order", "date", "location_name", "therapist"], kind="stable")
            header = ["Day"] + (["Location"] if several else []) + ["Therapist", "Warning"]
            table = [
                [_stamp(r.date, "%a %d %b")]
                + ([r.location_name] if several else [])
                + [r.therapist, r.warning]
                for r in warnings.head(WARNINGS_LISTED).itertuples()
            ]
            self._table(header, table)
            if len(warnings) > WARNINGS_LISTED:
                self.para(
                    f"…and {len(warnings) - WARNINGS_LISTED:,} more on the dashboard's next "
                    f"{DAYS_AHEAD} days page.",
                    muted=True,
                )
        pacing = today.pacing(scope, self.day, DAYS_AHEAD)
        self.heading("Booked share of room time", 3)
        if pacing.empty:
            self.para(
                "No room calendar for these days yet: the Setup page's studio profile fills "
                "the weeks ahead.",
                muted=True,
            )
            return
        words = ", ".join(
            f"{_stamp(r.date, '%a %d')} {fmt.pct(r.booked_share)}" for r in pacing.itertuples()
        )
        self._chart(
            charts.pacing(pacing).properties(height=220),
            f"Booked share of room time for the next {DAYS_AHEAD} days: {words}",
        )

    def _glance(self, scope, names, now) -> None:
        """The day's chart: room utilization by location (several), else the room timeline."""
        if len(scope) > 1:
            rows = now[(~now["is_total"]) & now["room_utilization"].notna()]
            if rows.empty:
                return
            self.heading(f"Room utilization on {self.day:%a %d %b}", 3)
            shown, _ = charts.ends(rows, "room_utilization", words=("busiest", "quietest"))
            words = ", ".join(
                f"{r.location_name} {fmt.pct(r.room_utilization)}" for r in shown.itertuples()
            )
            self._chart(
                charts.ranked_bars(shown, "location_name", "room_utilization", "Room utilization"),
                f"Room utilization by location on {self.day:%d %b}: {words}",
            )
            return
        bookings = today.room_timeline(scope, self.day)
        if bookings.empty:
            return
        self.heading("Rooms through the day", 3)
        rooms = today.rooms(scope)
        room_list = list(zip(rooms["room"], rooms["has_bars"], strict=True))
        self._chart(
            charts.room_timeline(bookings, room_list),
            f"Rooms through {self.day:%d %b} at {names[scope[0]]}: {len(bookings)} "
            f"booking{'s' * (len(bookings) != 1)} "
            "by room and time (bar sessions, other treatments, no-shows)",
        )

    # -- building blocks
    def _no_data(self, what: str, last_days: list[dt.date]) -> None:
        if last_days:
            end = max(last_days)
            where = f"the data ends on {end:%A %d %B %Y}"
        else:
            where = "no bookings are loaded for it yet"
        self.para(f"No bookings in the warehouse for {what} on {self.day:%A %d %B %Y}: {where}.")

    def _tiles(self, now: dict, before: dict, chain: bool = False) -> None:
        cells, lines = [], []
        for tile in tiles.DAY_TILES:
            label, name, kind = tile.label, tile.metric, tile.kind
            rise_is_bad = tile.rise_is_bad
            value, previous = now.get(name), before.get(name)
            shown = (
                fmt.money(value, self.symbol, 2)
                if name == "revpath"
                else {"rate": fmt.pct, "count": fmt.count}.get(
                    kind, lambda v: fmt.money(v, self.symbol)
                )(value)
            )
            change = fmt.change(value, previous, kind, self.symbol)
            color = "#6b7280"
            if change and fmt.is_finite(value) and fmt.is_finite(previous) and value != previous:
                up = float(value) > float(previous)
                color = "#b91c1c" if up == rise_is_bad else "#15803d"
            cells.append(
                '<td style="width:20%;padding:8px;border:1px solid #e5e7eb;vertical-align:top">'
                f'<div style="font-size:12px;color:#6b7280">{_e(label)}</div>'
                f'<div style="font-size:20px;font-weight:600">{_e(shown)}</div>'
                f'<div style="font-size:12px;color:{color}">'
                f"{_e(change or 'no comparison')}</div></td>"
            )
            lines.append(f"{label}: {shown}" + (f" ({change} on a week earlier)" if change else ""))
        rows = "".join(
            "<tr>" + "".join(cells[i : i + 5]) + "</tr>" for i in range(0, len(cells), 5)
        )
        self.html.append(
            '<table role="presentation" style="border-collapse:collapse;width:100%;'
            f'margin:4px 0 8px">{rows}</table>'
        )
        self.text += lines

    def _table(self, header: list[str], rows: list[list[object]]) -> None:
        cell = 'style="padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left"'
        head = "".join(f"<th {cell}>{_e(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td {cell}>{_e(v)}</td>" for v in row) + "</tr>" for row in rows
        )
        self.html.append(
            '<table style="border-collapse:collapse;width:100%;font-size:13px;margin:4px 0 8px">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
        self.text.append(" | ".join(header))
        self.text += [" | ".join(_plain(v) for v in row) for row in rows]

    def _chart(self, chart, alt_text: str) -> None:
        png = _png(chart.properties(width=CHART_WIDTH))
        cid = make_msgid(domain="studio-ops.digest")[1:-1]
        self.charts.append(Chart(cid, png, alt_text))
        self.html.append(
            f'<img src="cid:{_e(cid)}" alt="{_e(alt_text)}" '
            'style="max-width:100%;height:auto;display:block;margin:4px 0 8px">'
        )
        self.text.append(f"[chart] {alt_text}")


def message(digest: Digest, sender: str) -> EmailMessage:
    """The email: plain text, and HTML with its charts as related image parts (cid:)."""
    mail = EmailMessage()
    mail["Subject"] = digest.subject
    mail["From"] = sender
    mail["To"] = digest.recipient.address
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain="studio-ops.digest")
    mail.set_content(digest.text)
    mail.add_alternative(digest.html, subtype="html")
    html_part = mail.get_payload()[1]
    for number, chart in enumerate(digest.charts, start=1):
        html_part.add_related(
            chart.png, "image", "png", cid=f"<{chart.cid}>", filename=f"chart-{number}.png"
        )
    return mail


def standalone_html(digest: Digest) -> str:
    """The HTML with its charts inlined as data: URIs, to open in a browser (--out)."""
    page = digest.html
    for chart in digest.charts:
        data = base64.b64encode(chart.png).decode("ascii")
        page = page.replace(f'src="cid:{_e(chart.cid)}"', f'src="data:image/png;base64,{data}"')
    return page


def file_name(recipient: Recipient) -> str:
    """`<address>.html`, with anything but letters, digits, @ . + - _ replaced."""
    return re.sub(r"[^A-Za-z0-9@.+_-]", "_", recipient.address) + ".html"


def _act_on(location: str, day: dt.date) -> pd.DataFrame:
    frame = today.appointments((location,), day)
    return frame[frame["status"].isin(ACT_ON)]


def _total(frame: pd.DataFrame) -> dict:
    total = frame[frame["is_total"]] if len(frame) else frame
    return total.iloc[0].to_dict() if len(total) else {}


def _png(chart) -> bytes:
    """The chart as a PNG (vl-convert, through Altair), twice the pixels for sharp screens."""
    buffer = io.BytesIO()
    chart.save(buffer, format="png", scale_factor=2)
    return buffer.getvalue()


def _where(names: list[str]) -> str:
    if not names:
        return "no locations"
    if len(names) <= 3:
        return ", ".join(names)
    return f"{len(names):,} locations"


def _client(ref: object, system: object) -> str:
    if _missing(ref):
        return fmt.DASH
    return f"{ref} ({system})" if not _missing(system) else str(ref)


def _stamp(value: object, pattern: str) -> str:
    if _missing(value):
        return fmt.DASH
    return pd.Timestamp(value).strftime(pattern)


def _day(value: object) -> dt.date | None:
    return None if _missing(value) else pd.Timestamp(value).date()


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _plain(value: object) -> str:
    return fmt.DASH if _missing(value) else str(value)


def _e(value: object) -> str:
    """A data value as HTML text: escaped, an empty value as a dash."""
    return html.escape(_plain(value), quote=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def run(date_text: str | None, to: Sequence[str], out: Path | None, db: Path | None) -> int:
    """`studio-ops digest`: build each recipient's digest for the day and send it (or write it
    to `out`); one line per recipient, one line per failure, never a traceback. Exit code 0
    when every digest went out, 1 when one did not, 2 for a bad --date."""
    import os
    import sys

    from pipelines import mailer
    from pipelines.access import access_path
    from pipelines.settings import DB_ENV, db_path, load_settings

    def say(line: str, error: bool = False) -> None:
        print(("studio-ops: " if error else "") + line, file=sys.stderr if error else sys.stdout)

    if date_text is None:
        day = dt.date.today() - dt.timedelta(days=1)
    else:
        try:
            day = dt.date.fromisoformat(date_text)
        except ValueError:
            say(f"--date {date_text}: not a date (YYYY-MM-DD)", error=True)
            return 2
    settings = load_settings()
    warehouse = db_path(db)
    if not warehouse.is_file():
        say(
            f"{warehouse}: no warehouse here (start one with `studio-ops init`, or name one "
            "with --db)",
            error=True,
        )
        return 1
    os.environ[DB_ENV] = str(warehouse)  # the dashboard's queries read the warehouse it names
    try:
        people = recipients(to, access_path(settings))
    except DigestError as error:
        say(str(error), error=True)
        return 1
    server = None
    if out is None:
        try:
            server = mailer.Server.from_settings(settings)
        except mailer.MailError as error:
            say(str(error), error=True)
            return 1
    else:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            say(f"{out}: cannot write here ({error.strerror or error})", error=True)
            return 1

    failed: list[str] = []
    for number, person in enumerate(people):
        digest = build(person, day)
        where = _where(list(digest.location_names))
        if server is None:
            path = out / file_name(person)
            try:
                path.write_text(standalone_html(digest), encoding="utf-8")
            except OSError as error:
                say(f"{path}: not written ({error.strerror or error})", error=True)
                failed.append(person.address)
                continue
            say(f"wrote {path}: the digest of {day} for {person.address} ({where})")
            continue
        try:
            with mailer.connected(server) as smtp:
                mailer.send(smtp, message(digest, server.sender))
        except mailer.RefusedError as error:
            say(f"{person.address}: not sent: {error}", error=True)
            failed.append(person.address)
            continue
        except mailer.MailError as error:
            # the server itself cannot be used: the same for everyone left
            left = [p.address for p in people[number:]]
            say(f"{error}; not sent: {', '.join(left)}", error=True)
            failed += left
            break
        say(f"sent the digest of {day} to {person.address} ({where})")
    if failed:
        if len(people) > 1:
            say(f"{len(failed)} of {len(people)} digests not sent: {', '.join(failed)}", True)
        return 1
    return 0
