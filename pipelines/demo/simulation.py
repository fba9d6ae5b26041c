"""The day-by-day simulation of one demo location: its calendars (rooms and shifts), the
clients who want a visit (returning and new), placing them (slots.find_slot) and what became
of each booking, streamed to the CSV writers as the days go by.

Every random draw comes from the location's one ``random.Random``, in a fixed order, so the
same seed always gives the same rows.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from pipelines.demo.problems import DeliberateProblems
from pipelines.demo.slots import find_slot, occupy
from pipelines.demo.world import (
    BAR_CUM_WEIGHTS,
    BAR_SERVICES,
    CLOCK,
    DAY,
    FIRST_VISIT,
    MONTH_DEMAND,
    NON_BAR_SERVICES,
    PLAIN_CUM_WEIGHTS,
    WEEKDAY_DEMAND,
    Booking,
    Calendar,
    Client,
    Location,
    Request,
    Service,
    Therapist,
    between,
    rotated,
    slot_mask,
    weighted,
)

FUTURE_DAYS = 14  # bookings (and calendars) exist this far past the history: next-14-days view
LATE_CANCEL_MINUTES = 24 * 60
STAR_DAY_CHANCE = 0.12  # busy days (Thu-Sat) on which the star therapist works a double
NO_SHOW_RATE = 0.019  # of all past bookings: ~2% of held ones
CANCEL_RATE = 0.10
LATE_SHARE = 0.30  # of cancellations; half of them exported as `late_cancelled`
BACK_TO_BACK_SHARE = 0.2  # bookings made with a 0-10 minute turnover instead of 15


class Ids:
    """Booking and client ids of one location: a block per location keeps them unique
    chain-wide while locations are simulated independently (and possibly in parallel)."""

    def __init__(self, index: int) -> None:
        self.prefix = f"{index + 1:03d}"
        self.booking = 0
        self.client = 0

    def next_booking(self) -> str:
        # 10**6 bookings per location is ~70 years of a busy studio; past it ids could clash.
        self.booking += 1
        return f"B{self.prefix}{self.booking:06d}"

    def next_client(self) -> str:
        self.client += 1
        return f"C{self.prefix}{self.client:06d}"


class Dates:
    """ISO date strings by day index, for the whole simulated range plus lead times."""

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self.offset = 40  # bookings are created up to 30 days before the first day
        first = start - timedelta(days=self.offset)
        self.iso = [(first + timedelta(days=i)).isoformat() for i in range(days + 60 + 40)]

    def day(self, day: int) -> str:
        return self.iso[day + self.offset]

    def stamp(self, absolute: int) -> str:
        day, minute = divmod(absolute, DAY)
        return f"{self.iso[day + self.offset]} {CLOCK[minute]}"

    def weekday_month(self, day: int) -> tuple[int, int]:
        d = self.start + timedelta(days=day)
        return d.weekday(), d.month


class LocationSimulation:
    """Day-by-day simulation of one location, streaming its rows to the writers."""

    def __init__(
        self,
        loc: Location,
        rng: random.Random,
        dates: Dates,
        days: int,
        ids: Ids,
        writers: dict[str, Any],
        counts: dict[str, int],
    ) -> None:
        self.loc = loc
        self.rng = rng
        self.dates = dates
        self.days = days
        self.now = days * DAY  # the export was taken at midnight after the last history day
        self.ids = ids
        self.writers = writers
        self.counts = counts
        self.pending: dict[int, list[Request]] = {}
        self.trained = [t.bar_trained for t in loc.therapists]
        self.problems = DeliberateProblems(rng, days, self.trained, self._book_held)
        self.today: Calendar

    # ---- the day loop

    def run(self) -> None:
        """Write the location row, then every day of history and the 14 future days."""
        loc = self.loc
        self._write("locations", [(loc.location_id, loc.name, loc.timezone)])
        for day in range(self.days + FUTURE_DAYS):
            weekday, month = self.dates.weekday_month(day)
            hours = loc.hours[weekday]
            if hours is None or self._holiday(day):
                self._postpone(day)
                continue
            self.today = self._open_day(day, weekday, hours)
            requests = self._returning(day, month)
            requests += self._new_clients(day, weekday, month, len(requests))
            self._serve(requests, weekday)
            if day < self.days:
                self.problems.make(self.today, day)
            self._write_bookings()

    def _holiday(self, day: int) -> bool:
        iso = self.dates.day(day)
        return iso.endswith(("-12-25", "-01-01"))

    def _returning(self, day: int, month: int) -> list[Request]:
        """Clients due back today; in slow months some put their visit off a few weeks."""
        requests = self.pending.pop(day, [])
        slack = 1.5 * (1 - MONTH_DEMAND[month - 1])
        if slack <= 0:
            return requests
        due = []
        for req in requests:
            if req.created is None and self.rng.random() < slack:
                self._plan(day + self.rng.randint(7, 21), req)
            else:
                due.append(req)
        return due

    def _postpone(self, day: int) -> None:
        """Clients who wanted a closed day come the next day instead."""
        waiting = self.pending.pop(day, None)
        if waiting:
            self.pending.setdefault(day + 1, []).extend(waiting)

    # ---- calendars: rooms and shifts

    def _open_day(self, day: int, weekday: int, hours: tuple[int, int]) -> Calendar:
        """Lay out today's room calendar and shifts, and write their rows."""
        rng, loc = self.rng, self.loc
        opens, closes = hours
        iso = self.dates.day(day)
        room_rows, room_busy, bar_rooms, plain_rooms = [], [], [], []
        for i, room in enumerate(loc.rooms):
            bars = room.has_bars(day)
            blocked = 0
            busy = 0
            if rng.random() < 0.04:  # deep clean or maintenance, kept out of the bookable time
                blocked = rng.choice((30, 30, 60, 60, 90, 120, 240))
                at = opens if rng.random() < 0.5 else rng.randrange(opens, closes - blocked, 30)
                busy = slot_mask(at, at + blocked)
            room_busy.append(busy)
            (bar_rooms if bars else plain_rooms).append(i)
            name = f"{room.name} (bars)" if bars else room.name
            room_rows.append(
                (iso, loc.location_id, room.room_id, name, _bool(bars),
                 CLOCK[opens], CLOCK[closes], blocked)
            )  # fmt: skip
        self._write("rooms", room_rows)

        count = len(loc.therapists)
        shift_mask, capacity, shift_rows, on_shift = [0] * count, [0] * count, [], []
        # Now and then on a busy day the studio's Ashiatsu star works open to close and takes
        # every bar client she can: this is where over-the-limit bar days come from.
        star_day = weekday in (3, 4, 5) and rng.random() < STAR_DAY_CHANCE
        for i, therapist in enumerate(loc.therapists):
            if star_day and i == loc.star:
                shifts = [(opens, closes, 30)]
            else:
                shifts = self._shifts(therapist, weekday, opens, closes)
            for start, end, pause in shifts:
                shift_mask[i] |= slot_mask(start, end)
                capacity[i] += end - start - pause
                shift_rows.append(
                    (iso, loc.location_id, therapist.therapist_id, therapist.name,
                     _bool(therapist.bar_trained), CLOCK[start], CLOCK[end], pause)
                )  # fmt: skip
            if shift_mask[i]:
                on_shift.append(i)
        self._write("therapist_shifts", shift_rows)
        return Calendar(
            day=day,
            opens=opens,
            closes=closes,
            room_busy=room_busy,
            bar_rooms=bar_rooms,
            plain_rooms=plain_rooms,
            shift_mask=shift_mask,
            capacity=capacity,
            ther_busy=[0] * count,
            bar_sessions=[0] * count,
            on_shift=on_shift,
            bar_team=[t for t in on_shift if loc.therapists[t].bar_trained],
            star=loc.star if star_day else -1,
        )

    def _shifts(
        self, therapist: Therapist, weekday: int, opens: int, closes: int
    ) -> list[tuple[int, int, int]]:
        """Today's shifts (start, end, break minutes): none on days off, sometimes split."""
        rng = self.rng
        works = weekday in therapist.workdays
        if works and rng.random() < 0.03:  # sick or swapped away
            return []
        if not works and rng.random() > 0.02:  # covering for a colleague, rarely
            return []
        length = min(therapist.hours, closes - opens)
        if closes - opens >= 9 * 60 and rng.random() < 0.1:
            # Split shift: morning and evening, with the quiet afternoon off.
            return [(opens, opens + 240, 0), (closes - 240, closes, 0)]
        if therapist.style == "early":
            start = opens
        elif therapist.style == "late":
            start = closes - length
        else:
            start = opens + 30 * rng.randint(0, (closes - opens - length) // 30)
        return [(start, start + length, 30 if length > 360 else 0)]

    # ---- demand

    def _new_clients(self, day: int, weekday: int, month: int, returning: int) -> list[Request]:
        """First-time clients: whatever the day's demand leaves after returning clients."""
        rng, loc = self.rng, self.loc
        demand = (
            loc.demand
            * WEEKDAY_DEMAND[weekday]
            * MONTH_DEMAND[month - 1]
            * (1 + loc.growth * day / 365)
            * rng.lognormvariate(0, 0.12)
        )
        count = max(round(0.22 * demand), round(demand) - returning)
        requests = []
        for _ in range(count):
            client = self._new_client()
            service = FIRST_VISIT if rng.random() < 0.45 else self._menu_choice()
            requests.append(Request(client, service))
        return requests

    def _new_client(self) -> Client:
        """A new client with a return habit: one-timer, occasional or regular."""
        rng = self.rng
        kind = rng.random()
        cid = self.ids.next_client()
        if kind < 0.42:
            return Client(cid, 0.08, rng.uniform(40, 90), False, 0.3)
        if kind < 0.80:
            return Client(cid, 0.55, rng.uniform(28, 60), False, 0.5)
        return Client(cid, 0.9, rng.uniform(14, 28), rng.random() < 0.6, 0.8)

    def _menu_choice(self) -> Service:
        rng = self.rng
        if rng.random() < self.loc.bar_share:
            return weighted(rng, BAR_SERVICES, BAR_CUM_WEIGHTS)
        return weighted(rng, NON_BAR_SERVICES, PLAIN_CUM_WEIGHTS)

    # ---- booking

    def _serve(self, requests: list[Request], weekday: int) -> None:
        """Place today's requests, longest-ago booked first (they got the pick of slots)."""
        rng, cal = self.rng, self.today
        same_day = cal.day * DAY + DAY  # same-day bookings come last: made on the day itself
        order = []
        for i, req in enumerate(requests):
            created = self._created(req, cal.day)
            order.append((same_day if created is None else created, i, created))
        order.sort()
        starts, cum = self.loc.start_grids[weekday]
        for made, i, created in order:
            req = requests[i]
            if made >= self.now:
                continue  # not booked yet when the export was taken
            wish = weighted(rng, starts, cum)
            if rng.random() < 0.15:
                wish += rng.choice((5, 10))
            booking = self._book(req, wish, created)
            if booking is None and req.service.uses_bars and rng.random() < 0.6:
                req.service = rng.choice(NON_BAR_SERVICES[:2])  # "any massage will do"
                booking = self._book(req, wish, created)
            if booking is None:
                self._retry_later(req)

    def _created(self, req: Request, day: int) -> int | None:
        """When the booking was made (absolute minute); None = same day, set once placed."""
        if req.created is not None:
            return req.created
        rng = self.rng
        u = rng.random()
        if u < 0.18:
            return None
        if u < 0.3:
            lead = between(rng, 1, 2)
        elif u < 0.7:
            lead = between(rng, 2, 7)  # most book within the week
        else:
            lead = between(rng, 8, 30)
        return (day - lead) * DAY + 5 * between(rng, 8 * 12, 21 * 12 - 1)

    def _book(self, req: Request, wish: int, created: int | None) -> Booking | None:
        """Find a slot for a request near its wished start and commit it, or None."""
        cal, service, rng = self.today, req.service, self.rng
        if service.uses_bars:
            rooms = rotated(rng, cal.bar_rooms)
            team = rotated(rng, cal.bar_team)
        else:  # bar rooms only when the plain rooms are taken
            rooms = rotated(rng, cal.plain_rooms) + cal.bar_rooms
            team = rotated(rng, cal.on_shift)
        if not rooms or not team:
            return None
        usual = req.client.therapist
        if usual is not None and rng.random() < req.client.loyalty:
            if usual in team:
                team.remove(usual)
                team.insert(0, usual)
            elif rng.random() < 0.5:
                return None  # they would rather wait for their therapist's next day
        if cal.star in team:  # the front desk offers the star first, and for bar work only
            team.remove(cal.star)
            if service.uses_bars:
                team.insert(0, cal.star)
        gap = 15 if rng.random() >= BACK_TO_BACK_SHARE else 5 * between(rng, 0, 2)
        slot = find_slot(cal, rng, service, wish, gap, rooms, team)
        if slot is None:
            return None
        return self._commit(req, slot, created)

    def _commit(
        self, req: Request, slot: tuple[int, int, int], created: int | None, *, held: bool = False
    ) -> Booking:
        """Decide what became of the booking, mark the calendar, and plan what comes next."""
        rng, cal = self.rng, self.today
        start, room, t = slot
        service = req.service
        end = start + service.minutes
        day_start = cal.day * DAY
        if created is None:  # booked the same day, a little before
            created = max(day_start + 7 * 60, day_start + start - between(rng, 30, 300))
        status, cancelled = self._outcome(day_start + start, created, held)
        booking = Booking(start, end, room, t, req.client.client_id, service, status, created,
                          cancelled)  # fmt: skip
        cal.bookings.append(booking)
        if status in ("completed", "booked", "no_show"):  # held: occupies room and therapist
            occupy(cal, booking)
        self._follow_up(req, booking, day_start)
        return booking

    def _outcome(self, start: int, created: int, held: bool) -> tuple[str, int | None]:
        """Status and cancellation time: future ones are booked, past ones mostly completed."""
        if start >= self.now:
            return "booked", None
        if held:
            return "completed", None
        rng = self.rng
        u = rng.random()
        if u < NO_SHOW_RATE:
            return "no_show", None
        if u >= NO_SHOW_RATE + CANCEL_RATE:
            return "completed", None
        notice = start - created
        if rng.random() < LATE_SHARE or notice <= LATE_CANCEL_MINUTES + 60:
            cancelled = start - rng.randint(30, max(30, min(notice, LATE_CANCEL_MINUTES - 30)))
            # Some systems say "late cancel", others just "cancelled": derived from the times.
            word = "late_cancelled" if rng.random() < 0.5 else "cancelled"
            return word, max(created, cancelled)
        return "cancelled", rng.randint(created, start - LATE_CANCEL_MINUTES - 60)

    def _follow_up(self, req: Request, booking: Booking, day_start: int) -> None:
        """Plan the client's next visit: a return, a reschedule, or nothing."""
        rng, client, day = self.rng, req.client, self.today.day
        if booking.status == "completed":
            client.visits += 1
            client.therapist = booking.therapist
            client.usual = BAR_SERVICES[1] if booking.service is FIRST_VISIT else booking.service
            if rng.random() >= client.propensity:
                return
            gap = client.gap_days * rng.lognormvariate(0, 0.35)
            # Season: visits come sooner when they would fall in a busy month, later in August.
            _, month = self.dates.weekday_month(day + round(gap))
            gap = max(7, round(gap / MONTH_DEMAND[month - 1] ** 2))
            if client.same_weekday:
                gap = 7 * max(1, round(gap / 7))
            service = client.usual if rng.random() < 0.7 else self._menu_choice()
            created = None
            # "Rebooking at checkout": regulars especially book the next visit on the way out.
            if rng.random() < (0.6 if client.same_weekday else 0.35):
                created = day_start + booking.end + between(rng, 2, 15)
            self._plan(day + gap, Request(client, service, created))
        elif booking.status == "no_show":
            if rng.random() < 0.5:
                self._plan(day + between(rng, 3, 14), Request(client, req.service))
        elif booking.status != "booked" and rng.random() < 0.6:
            self._plan(day + between(rng, 2, 21), Request(client, req.service))

    def _retry_later(self, req: Request) -> None:
        """No slot today: returning clients try another day; some new ones do too."""
        if req.retries >= 3 or (req.client.visits == 0 and self.rng.random() < 0.5):
            return
        req.retries += 1
        req.created = None
        self._plan(self.today.day + between(self.rng, 1, 3), req)

    def _plan(self, day: int, req: Request) -> None:
        if day < self.days + FUTURE_DAYS:
            self.pending.setdefault(day, []).append(req)

    def _book_held(self, service: Service, slot: tuple[int, int, int]) -> Booking:
        """A new client's held visit in the slot: how a deliberate problem is booked."""
        return self._commit(Request(self._new_client(), service), slot, None, held=True)

    # ---- output

    def _write_bookings(self) -> None:
        """Today's bookings in start order, numbered in the location's id block."""
        loc, dates, cal = self.loc, self.dates, self.today
        day_start = cal.day * DAY
        rooms, team = loc.rooms, loc.therapists
        rows = []
        for b in sorted(cal.bookings, key=lambda b: (b.start, b.room, b.therapist, b.created)):
            rows.append(
                (
                    self.ids.next_booking(),
                    loc.location_id,
                    rooms[b.room].room_id,
                    team[b.therapist].therapist_id,
                    b.client_id,
                    _client_ref(b.client_id),
                    b.service.name,
                    _bool(b.service.uses_bars),
                    dates.stamp(day_start + b.start),
                    dates.stamp(day_start + b.end),
                    b.status,
                    dates.stamp(b.created),
                    "" if b.cancelled is None else dates.stamp(b.cancelled),
                    "" if b.status in CANCELLED else loc.prices[b.service.name],
                )
            )
        self._write("bookings", rows)

    def _write(self, kind: str, rows: list[tuple]) -> None:
        self.writers[kind].writerows(rows)
        self.counts[kind] += len(rows)


CANCELLED = ("cancelled", "late_cancelled")


def _client_ref(client_id: str) -> str:
    """The made-up booking system's own client number (client_ref): C001000013 -> 1000013
    (at most 9 digits up to 999 locations; a bare number of 10 or more would read as a phone
    and not be kept)."""
    return str(int(client_id.lstrip("C")))


def _bool(value: bool) -> str:
    return "true" if value else "false"
