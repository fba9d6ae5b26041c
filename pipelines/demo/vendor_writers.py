"""Rewrite a generated chain's bookings in a booking system's export format (demo data).

`studio-ops generate OUTDIR --format VENDOR` first writes the native chain
(pipelines.demo.generate.write_chain), then this module replaces `bookings.csv` by one folder per
location, `OUTDIR/<location>/`, holding that location's bookings as the vendor exports them,
and a mapping file per location, `OUTDIR/mappings/<location>.toml` (the location, and what the
vendor's columns mean). Rooms, shifts and locations stay native. Load with:

    studio-ops load OUTDIR/rooms.csv OUTDIR/therapist_shifts.csv OUTDIR/locations.csv
    studio-ops load OUTDIR/L01 --mapping OUTDIR/mappings/L01.toml      # per location

Clients get fake names and `@example.com` emails made from their ids, so each client has one
identity (and the loader's hash key is one per client). Staff are written by therapist id, so
the native shift files still match. What each format cannot carry is in CANNOT_CARRY.
"""

from __future__ import annotations

import csv
import hashlib
import html
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

VENDORS = ("acuity", "calendly", "fresha", "mindbody", "vagaro", "square", "jane", "ics")

# What each format loses compared with the native export (the round-trip test relies on it).
CANNOT_CARRY: dict[str, set[str]] = {
    "acuity": {"room", "cancellations", "cancelled_at"},  # cancelled rows are not exported
    "calendly": {"room", "late_cancel", "cancelled_at"},
    "fresha": {"created_at", "cancelled_at", "late_cancel"},
    "mindbody": {"created_at", "cancelled_at"},
    "vagaro": {"cancelled_at", "late_cancel"},
    "square": {"cancelled_at", "late_cancel"},
    "jane": {"created_at", "cancelled_at", "late_cancel"},
    "ics": {"no_show", "price", "cancelled_at", "late_cancel"},
}

_FIRST = ("Maya", "Jordan", "Priya", "Elena", "Marcus", "Aiko", "Sofia", "Daniel", "Leah", "Tomas")
_LAST = ("Chen", "Rivera", "Patel", "Novak", "Okafor", "Tanaka", "Garcia", "Kim", "Brooks", "Silva")


def _client(client_id: str) -> tuple[str, str, str, str]:
    """Fake first name, last name, full name and email for a generated client id."""
    digest = int(hashlib.sha256(client_id.encode()).hexdigest()[:8], 16)
    first, last = _FIRST[digest % 10], _LAST[(digest // 10) % 10]
    return (
        first,
        f"{last} {client_id}",
        f"{first} {last} {client_id}",
        f"{client_id.lower()}@example.com",
    )


def _dt(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _ampm(moment: datetime, spaced: bool = True, lower: bool = True) -> str:
    suffix = moment.strftime("%p")
    suffix = suffix.lower() if lower else suffix
    return f"{moment.hour % 12 or 12}:{moment.minute:02d}{' ' if spaced else ''}{suffix}"


def _mdy(moment: datetime | date) -> str:
    return f"{moment.month}/{moment.day}/{moment.year}"


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def write_vendor(outdir: Path | str, vendor: str, today: date | None = None) -> dict[str, int]:
    """Replace OUTDIR/bookings.csv by per-location vendor exports; bookings written per location."""
    if vendor not in VENDORS:
        raise ValueError(f"unknown format '{vendor}' (one of: {', '.join(VENDORS)})")
    outdir = Path(outdir)
    today = today or date.today()
    by_location: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _rows(outdir / "bookings.csv"):
        by_location[row["location_id"]].append(row)
    zones = {r["location_id"]: r.get("timezone") or "UTC" for r in _rows(outdir / "locations.csv")}
    rooms = sorted({r["room_id"] for r in _rows(outdir / "rooms.csv")})
    (outdir / "mappings").mkdir(exist_ok=True)
    counts = {}
    for location, rows in sorted(by_location.items()):
        folder = outdir / location
        folder.mkdir(exist_ok=True)
        writer = globals()[f"_write_{vendor}"]
        writer(folder, rows, today=today, zone=zones.get(location, "UTC"))
        _write_mapping(outdir / "mappings" / f"{location}.toml", vendor, location, rooms)
        counts[location] = len(rows)
    (outdir / "bookings.csv").unlink()
    return counts


def _write_mapping(path: Path, vendor: str, location: str, rooms: list[str]) -> None:
    lines = ["[source]", f'location = "{location}"']
    if vendor == "acuity":
        lines += ["[acuity]", 'calendar = "therapist"']
    if vendor == "fresha":
        lines += ["[fresha]", "rooms = [" + ", ".join(f'"{r}"' for r in rooms) + "]"]
    if vendor == "ics":
        lines += ["[ics]", 'location_is = "room"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _csv(path: Path, header: list[str], rows: list[list[str]], **options) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, **options)
        writer.writerow(header)
        writer.writerows(rows)


def _write_acuity(folder: Path, rows, **_) -> None:
    header = [
        "Start Time", "End Time", "Timezone", "First Name", "Last Name", "Phone", "Email",
        "Type", "Calendar", "Appointment Price", "Paid?", "Amount Paid Online",
        "Certificate Code", "Notes", "Date Scheduled", "Label", "Scheduled By",
        "Date Rescheduled", "How did you hear about us? ", "Appointment ID",
    ]  # fmt: skip
    out = []
    for r in rows:
        if r["status"] in ("cancelled", "late_cancelled"):
            continue  # Acuity leaves cancelled appointments out unless asked
        start, end = _dt(r["start_at"]), _dt(r["end_at"])
        first, last, _, email = _client(r["client_id"])
        label = {"completed": "Completed", "no_show": "No Show"}.get(r["status"], "")
        long = "%B {d}, %Y "
        out.append([
            start.strftime(long.format(d=start.day)) + _ampm(start),
            end.strftime(long.format(d=end.day)) + _ampm(end),
            "", first, last, "", email, r["service"], r["therapist_id"], r["price"], "no",
            "0.00", "", "", r["created_at"][:10], label, "", "", "Instagram, a friend",
            r["booking_id"],
        ])  # fmt: skip
    _csv(folder / "schedule.csv", header, out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")


def _write_calendly(folder: Path, rows, **_) -> None:
    header = (
        "User Name,Team,Invitee Name,Invitee First Name,Invitee Last Name,Invitee Email,"
        "Invitee Time Zone,Invitee accepted marketing emails,Text Reminder Number,"
        "Event Type Name,Start Date & Time,End Date & Time,Location,"
        "Event Created Date & Time,Canceled,Canceled By,Cancellation reason,Question 1,"
        "Response 1,UTM Campaign,UTM Source,UTM Medium,UTM Term,UTM Content,Salesforce UUID,"
        "Event Price,Payment Currency,Guest Email(s),Invitee Reconfirmed,Marked as No-Show,"
        "Meeting Notes,Group,User Email,Event UUID,Invitee UUID,Invitee scheduled by,"
        "Scheduling method"
    ).split(",")
    out = []
    for r in rows:
        first, last, name, email = _client(r["client_id"])
        start, end, created = _dt(r["start_at"]), _dt(r["end_at"]), _dt(r["created_at"])
        cancelled = r["status"] in ("cancelled", "late_cancelled")
        cells = dict.fromkeys(header, "")
        cells.update({
            "User Name": r["therapist_id"], "Invitee Name": name, "Invitee First Name": first,
            "Invitee Last Name": last, "Invitee Email": email,
            "Invitee Time Zone": "Mountain Time - US & Canada",
            "Event Type Name": r["service"],
            "Start Date & Time": f"{start:%Y-%m-%d} {_ampm(start)}",
            "End Date & Time": f"{end:%Y-%m-%d} {_ampm(end)}",
            "Event Created Date & Time": f"{created:%Y-%m-%d} {_ampm(created)}",
            "Canceled": "true" if cancelled else "false",
            "Question 1": "Anything we should know?",
            "Response 1": "Lower back, please.\nNo oils, thanks" if start.day % 7 == 0 else "",
            "Event Price": r["price"], "Payment Currency": "USD",
            "Marked as No-Show": "Yes" if r["status"] == "no_show" else "No",
            "Event UUID": "EVT-" + r["booking_id"], "Invitee UUID": r["booking_id"],
        })  # fmt: skip
        out.append([cells[h] for h in header])
    _csv(folder / "events.csv", header, out)


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return " ".join(p for p in (f"{hours}h" if hours else "", f"{rest}m" if rest else "") if p)


def _write_fresha(folder: Path, rows, **_) -> None:
    header = [
        "Appointment reference", "Client", "Client email", "Scheduled date", "Duration",
        "Services", "Team member", "Status", "Price",
    ]  # fmt: skip
    words = {
        "completed": "Completed", "booked": "Booked", "no_show": "No-show",
        "cancelled": "Cancelled", "late_cancelled": "Cancelled",
    }  # fmt: skip
    out = []
    for r in rows:
        start, end = _dt(r["start_at"]), _dt(r["end_at"])
        _, _, name, email = _client(r["client_id"])
        team = ", ".join(x for x in (r["therapist_id"], r["room_id"]) if x)
        out.append([
            r["booking_id"], name, email,
            f"{start:%d %b %Y}, {_ampm(start, spaced=False)}",
            _duration(int((end - start).total_seconds() // 60)), r["service"], team,
            words[r["status"]], f"€{r['price']}" if r["price"] else "",
        ])  # fmt: skip
    _csv(folder / "appointments.csv", header, out)


def _write_mindbody(folder: Path, rows, **_) -> None:
    words = {
        "completed": "Completed", "booked": "Booked", "no_show": "NoShow",
        "cancelled": "Cancelled", "late_cancelled": "Late Cancel",
    }  # fmt: skip
    by_staff: dict[str, list] = defaultdict(list)
    for r in rows:
        by_staff[r["therapist_id"]].append(r)
    header = [
        "Date", "Start Time", "End Time", "Client", "Email", "Appointment Type", "Room",
        "Status", "Price", "Booked On", "Appt ID",
    ]  # fmt: skip
    parts = ['<html><head><meta charset="utf-8"><title>Schedule at a Glance</title></head><body>']
    for staff, items in sorted(by_staff.items()):
        parts.append('<table border="1">')
        parts.append(
            f'<tr><td colspan="{len(header)}"><b>Staff: {html.escape(staff)}</b></td></tr>'
        )
        parts.append("<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>")
        for r in items:
            start, end, created = _dt(r["start_at"]), _dt(r["end_at"]), _dt(r["created_at"])
            _, _, name, email = _client(r["client_id"])
            cells = [
                _mdy(start), _ampm(start, lower=False), _ampm(end, lower=False),
                name, email, r["service"], r["room_id"], words[r["status"]], r["price"],
                f"{_mdy(created)} {_ampm(created, lower=False)}", r["booking_id"],
            ]  # fmt: skip
            parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table><br>")
    parts.append("</body></html>")
    (folder / "ScheduleAtAGlance.xls").write_text("\n".join(parts), encoding="utf-8")


def _write_vagaro(folder: Path, rows, **_) -> None:
    import openpyxl

    words = {
        "completed": "Service Completed", "booked": "Confirmed", "no_show": "No-Show",
        "cancelled": "Cancelled", "late_cancelled": "Cancelled",
    }  # fmt: skip
    header = [
        "Appointment Date", "Start Time", "End Time", "Customer", "Email", "Service",
        "Service Provider", "Resource", "Status", "Service Price", "Booked On", "Appointment ID",
    ]  # fmt: skip
    by_word: dict[str, list] = defaultdict(list)
    for r in rows:
        by_word[words[r["status"]]].append(r)
    for number, (word, items) in enumerate(sorted(by_word.items())):
        book = openpyxl.Workbook()
        sheet = book.active
        sheet["A1"], sheet["A2"], sheet["A3"] = "Demo Studio", "Appointments Summary", word
        sheet["A6"] = "Generated by Vagaro"
        for column, name in enumerate(header, start=1):
            sheet.cell(23, column, name)
        line = 24
        for r in items:
            start, end = _dt(r["start_at"]), _dt(r["end_at"])
            _, _, name, email = _client(r["client_id"])
            values = [
                _mdy(start), _ampm(start, lower=False), _ampm(end, lower=False), name, email,
                r["service"], r["therapist_id"], r["room_id"], word,
                f"${r['price']}" if r["price"] else "", _mdy(_dt(r["created_at"])),
                r["booking_id"],
            ]  # fmt: skip
            for column, value in enumerate(values, start=1):
                sheet.cell(line, column, value)
            line += 1
        sheet.cell(line, 1, "Total")
        sheet.cell(line, 4, len(items))
        suffix = f" ({number})" if number else ""
        book.save(folder / f"AppointmentSummary{suffix}.xlsx")


def _write_square(folder: Path, rows, today: date, **_) -> None:
    words = {
        "completed": "ACCEPTED", "booked": "ACCEPTED", "no_show": "NO_SHOW",
        "cancelled": "CANCELLED_BY_CUSTOMER", "late_cancelled": "CANCELLED_BY_CUSTOMER",
    }  # fmt: skip
    header = [
        "Appointment ID", "Date", "Start Time", "End Time", "Customer Name", "Customer Email",
        "Service", "Team Member", "Resource", "Status", "Price", "Created At",
    ]  # fmt: skip
    out = []
    for r in rows:
        start, end = _dt(r["start_at"]), _dt(r["end_at"])
        _, _, name, email = _client(r["client_id"])
        out.append([
            r["booking_id"], _mdy(start), _ampm(start, lower=False), _ampm(end, lower=False),
            name, email, r["service"], r["therapist_id"], r["room_id"], words[r["status"]],
            f"${r['price']}" if r["price"] else "", _dt(r["created_at"]).isoformat(),
        ])  # fmt: skip
    _csv(folder / "appointments-history.csv", header, out)


def _write_jane(folder: Path, rows, **_) -> None:
    words = {
        "completed": "Arrived", "booked": "Booked Online", "no_show": "No Show",
        "cancelled": "Cancelled", "late_cancelled": "Cancelled",
    }  # fmt: skip
    header = [
        "ID", "Date", "Start", "End", "Patient", "Patient Email", "Practitioner", "Room",
        "Treatment", "State", "Price", "Booked At",
    ]  # fmt: skip
    out = []
    for r in rows:
        start, end = _dt(r["start_at"]), _dt(r["end_at"])
        _, _, name, email = _client(r["client_id"])
        out.append([
            r["booking_id"], f"{start:%Y-%m-%d}", _ampm(start, lower=False),
            _ampm(end, lower=False), name, email, r["therapist_id"], r["room_id"],
            r["service"], words[r["status"]], r["price"], r["created_at"],
        ])  # fmt: skip
    _csv(folder / "appointments-report.csv", header, out)


def _fold(line: str) -> str:
    """RFC 5545 folding: lines longer than 75 octets continue on lines starting with a space."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:
            end -= 1  # never cut a UTF-8 character
        parts.append(raw[start:end].decode())
        start, limit = end, 74
    return "\r\n ".join(parts)


def _write_ics(folder: Path, rows, zone: str, **_) -> None:
    tz = ZoneInfo(zone)
    by_staff: dict[str, list] = defaultdict(list)
    for r in rows:
        by_staff[r["therapist_id"]].append(r)

    def utc(moment: datetime) -> str:
        return moment.replace(tzinfo=tz).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    stamp = utc(datetime(2026, 1, 1))
    for staff, items in sorted(by_staff.items()):
        lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//studio-ops demo//EN",
            f"X-WR-CALNAME:{staff}", f"X-WR-TIMEZONE:{zone}",
        ]  # fmt: skip
        for r in items:
            start, end = _dt(r["start_at"]), _dt(r["end_at"])
            _, _, name, _ = _client(r["client_id"])
            cancelled = r["status"] in ("cancelled", "late_cancelled")
            lines += [
                "BEGIN:VEVENT",
                f"UID:{r['booking_id']}@demo.studio-ops",
                f"DTSTAMP:{stamp}",
                f"DTSTART:{utc(start)}",
                f"DTEND:{utc(end)}",
                f"CREATED:{utc(_dt(r['created_at']))}",
                f"LOCATION:{r['room_id']}",
                f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
                _fold(f"SUMMARY:{r['service']} - {name}"),
                "END:VEVENT",
            ]
        lines.append("END:VCALENDAR")
        (folder / f"{staff}.ics").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
