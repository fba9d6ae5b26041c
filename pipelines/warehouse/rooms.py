"""Rooms an export does not name: the placement rule behind `int_booking_rooms`.

Many booking systems (Acuity, Calendly, calendars, Square) record no room. Per location and
day, the held bookings without a room are placed one after another, in the order the SQL gives
(start, longer first, booking id), after the bookings that name their room:

- a booking that uses the bars takes the first free room with bars, never one without;
- any other booking takes the first free room without bars, else the first free bar room;
- "free": no held booking already placed there overlaps its interval; "first": the room
  order of the day's room calendar (the profile's order, else room id);
- a booking keeps its room for its whole length; one that finds no free room gets none.

Each booking's choice depends on every earlier one, so this is a loop, not a set operation.
The mart SQL gathers each location-day into lists and calls `assign_rooms` (a DuckDB function
registered on the build's connection by `register`) once per day.
"""

from __future__ import annotations

import duckdb
from duckdb import sqltypes

FUNCTION = "assign_rooms"


def assign_rooms(
    room_ids: list[str],
    room_bars: list[bool],
    named_rooms: list[str],
    named_starts: list[int],
    named_ends: list[int],
    starts: list[int],
    ends: list[int],
    bars: list[bool],
) -> list[str | None]:
    """The room of each queued booking (None: no free room), in queue order.

    Rooms come in calendar order with whether they have bars; `named_*` are the held
    bookings that name a room (placed first); `starts`, `ends` (minutes from the day's
    midnight) and `bars` describe the queued bookings, already in placement order.
    """
    # Rooms by their position in the calendar order (a room is listed once a day).
    count = len(room_ids)
    position = {room: index for index, room in enumerate(room_ids)}
    named: list[list[tuple[int, int]] | None] = [None] * count
    for room, start, end in zip(named_rooms, named_starts, named_ends, strict=True):
        index = position.get(room)
        if index is not None and end > start:
            if named[index] is None:
                named[index] = []
            named[index].append((start, end))
    # Queued bookings arrive by start, so one placed before this one started no later: it
    # overlaps this one exactly when it ends after this one starts. The latest end placed in
    # each room is all that needs keeping (an empty booking overlaps nothing, and is never
    # in the way).
    latest_end = [-(2**62)] * count
    bar_rooms = [index for index in range(count) if room_bars[index]]
    anywhere = [index for index in range(count) if not room_bars[index]] + bar_rooms
    placed: list[str | None] = []
    for start, end, uses_bars in zip(starts, ends, bars, strict=True):
        candidates = bar_rooms if uses_bars else anywhere
        if end <= start:
            placed.append(room_ids[candidates[0]] if candidates else None)
            continue
        for index in candidates:
            if latest_end[index] <= start and (
                named[index] is None or not any(s < end and e > start for s, e in named[index])
            ):
                latest_end[index] = end  # later than the latest end, which is <= start
                placed.append(room_ids[index])
                break
        else:
            placed.append(None)
    return placed


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make `assign_rooms(...)` callable in the build's SQL (again if already there)."""
    text, flag, minute = sqltypes.VARCHAR, sqltypes.BOOLEAN, sqltypes.BIGINT
    # the connection's list_type, not duckdb.list_type: that one opens DuckDB's default
    # in-memory database first (0.015-0.04 s), which nothing else in a load uses
    try:
        con.remove_function(FUNCTION)
    except duckdb.InvalidInputException:
        pass  # not registered on this connection yet
    con.create_function(
        FUNCTION,
        assign_rooms,
        [
            con.list_type(text),
            con.list_type(flag),
            con.list_type(text),
            con.list_type(minute),
            con.list_type(minute),
            con.list_type(minute),
            con.list_type(minute),
            con.list_type(flag),
        ],
        con.list_type(text),
        side_effects=False,
    )
