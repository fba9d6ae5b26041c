"""fct_hourly_capacity: each interval's minutes summed per clock hour in numpy.

The model's SQL (sql/marts/fct_hourly_capacity.sql) lists the intervals, one row each with
its kind and weights: opening hours (rooms sharing them listed once), the new parts of room
bookings, of shifts and of therapist bookings. Here no interval is cut into hours: each adds
to a difference array per measure, location and hour (+60 minutes a unit from its first hour
to its last, less the minutes before its start and after its end), and a running sum along
the hours gives every hour's minutes. The full bar-room minutes come from a sweep of the bar
rooms' open and occupied events per location-day, in time order. The intervals are read from
DuckDB in Arrow batches, so only the arrays (about 40 MB per measure at 10M bookings: one
int32 per location-hour) stay in memory.

The figures are those of the SQL that cut every interval into hours: an hour's minutes are
least(end, hour end) - greatest(start, hour start) in whole minutes (timestamps floored to
the minute), over the hours from the one holding the start to the one holding the last
instant; a row for every location-hour any interval touches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.warehouse.store import WarehouseError

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
DAY_US = 24 * HOUR_US
# the kinds of interval the model's SQL lists (its `kind` column)
OPENING, ROOM_BOOKED, SHIFT, THERAPIST_BOOKED = 0, 1, 2, 3
MEASURES = (
    "room_available_minutes",
    "room_occupied_minutes",
    "bar_room_available_minutes",
    "bar_room_occupied_minutes",
    "bar_rooms_full_minutes",
    "therapist_scheduled_minutes",
    "therapist_booked_minutes",
)
ROOM_AVAILABLE, ROOM_OCCUPIED, BAR_AVAILABLE, BAR_OCCUPIED, BAR_FULL, SCHEDULED, BOOKED = range(7)
# the last array counts the intervals over each hour: the hours that get a row
TOUCHED = len(MEASURES)
# a day's hour slots: its 24 hours, and one where its last hour's running sums end
SLOTS = 25
BATCH_ROWS = 1 << 18
# DuckDB's share of the load's memory limit while the arrays are held (outside DuckDB's
# limit). At 10M bookings, 0.55 left the load's peak at 1.93 GB (during this model); 0.4
# keeps it at 1.68 GB, no higher than other models reach, at the cost of spilling some of
# the intermediates DuckDB reads
DUCKDB_SHARE = 0.4
HEADER = re.compile(r"create or replace (temp )?table \w+ as", re.IGNORECASE)
# a bar event's instant packed into one int64 sort key: location-day, microseconds since the
# day's midnight (up to 2**OFFSET_BITS), and the kind of event in the lowest 2 bits
OFFSET_BITS = 37
OPENS, CLOSES, OCCUPIED_FROM, OCCUPIED_UNTIL = 0, 1, 2, 3


class HourSums:
    """Difference arrays [measure, location, day, hour slot], grown as intervals arrive.

    Only the calendar days some interval touches get slots, 24 hours and one after the last,
    so a date typed years away from the rest adds one day, not the years between."""

    def __init__(self) -> None:
        self.locations: dict[str, int] = {}
        self.days = np.zeros(0, dtype=np.int64)  # sorted, days since 1970-01-01
        self.diffs = np.zeros((TOUCHED + 1, 0, 0, SLOTS), dtype=np.int32)

    def location_numbers(self, column: pa.Array) -> np.ndarray:
        """Each row's location as a number, the same in every batch."""
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        names = encoded.dictionary.to_pylist()
        numbers = np.array(
            [self.locations.setdefault(name, len(self.locations)) for name in names],
            dtype=np.int64,
        )
        return numbers[_numbers(encoded.indices)]

    def _day_slots(self, day: np.ndarray) -> np.ndarray:
        """Each day's slot, making room for every location so far and for new days."""
        low = int(day.min())
        seen = np.zeros(int(day.max()) - low + 1, dtype=bool)
        seen[day - low] = True
        days = low + np.flatnonzero(seen)
        _, locations, known, _ = self.diffs.shape
        new_days = np.setdiff1d(days, self.days, assume_unique=True)
        if len(new_days) or locations < len(self.locations):
            merged = np.union1d(self.days, new_days)
            grown = np.zeros((TOUCHED + 1, len(self.locations), len(merged), SLOTS), np.int32)
            grown[:, :locations, np.searchsorted(merged, self.days)] = self.diffs
            self.diffs, self.days = grown, merged
        slot = np.zeros(len(seen), dtype=np.int64)
        slot[days - low] = np.searchsorted(self.days, days)
        return slot[day - low]

    def add(self, measures: list[tuple[int, np.ndarray | None]], loc, s_us, e_us) -> None:
        """Add intervals [s_us, e_us) of the locations `loc` to the measures, each with its
        weights (None: 1 each), and count them over their hours."""
        first = s_us // HOUR_US
        last = (e_us - 1) // HOUR_US
        keep = last >= first  # an empty interval on the hour touches no hour
        crosses = keep & (last // 24 > first // 24)
        if crosses.any():
            # the model's pieces are cut at midnight already; this keeps any other interval
            # within its day's slots, with the same minutes per hour
            keep &= ~crosses
            across = np.flatnonzero(crosses)
            count = (last[across] // 24 - first[across] // 24 + 1).astype(np.int64)
            piece = np.repeat(across, count)
            nth = np.arange(len(piece)) - np.repeat(np.cumsum(count) - count, count)
            midnight = (s_us[piece] // DAY_US + nth) * DAY_US
            whole = np.flatnonzero(keep)
            rows = np.concatenate([whole, piece])
            loc = loc[rows]
            s_us = np.concatenate([s_us[whole], np.maximum(s_us[piece], midnight)])
            e_us = np.concatenate([e_us[whole], np.minimum(e_us[piece], midnight + DAY_US)])
            measures = [(m, None if w is None else w[rows]) for m, w in measures]
            first, last = s_us // HOUR_US, (e_us - 1) // HOUR_US
        elif not keep.all():
            loc, s_us, e_us, first, last = (
                loc[keep],
                s_us[keep],
                e_us[keep],
                first[keep],
                last[keep],
            )
            measures = [(m, None if w is None else w[keep]) for m, w in measures]
        if not len(loc):
            return
        slot = self._day_slots(first // 24)
        _, locations, days, _ = self.diffs.shape
        cell = (loc * days + slot) * SLOTS
        at_first = cell + first % 24
        at_last = cell + last % 24
        # minutes of the first hour before the start, of the last hour after the end; int32
        # like the arrays (np.add.at is ten times slower when it has to cast)
        before = (first * 60 - s_us // MINUTE_US).astype(np.int32)
        after = (e_us // MINUTE_US - last * 60 - 60).astype(np.int32)
        flat = self.diffs.reshape(-1)
        plane = locations * days * SLOTS
        for measure, weight in measures:
            w = np.int32(1) if weight is None else weight.astype(np.int32)
            base = measure * plane
            np.add.at(flat, base + at_first, (60 + before) * w)
            np.add.at(flat, base + at_first + 1, -before * w)
            np.add.at(flat, base + at_last, after * w)
            np.add.at(flat, base + at_last + 1, -(60 + after) * w)
        base = TOUCHED * plane
        np.add.at(flat, base + at_first, np.int32(1))
        np.add.at(flat, base + at_last + 1, np.int32(-1))

    def columns(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """One row per location-hour any interval touches, hour by hour (location numbers),
        and the locations' names by number."""

        def running(measure: int) -> np.ndarray:
            # an hour's running sum along its day is its minutes (int32 holds them); as
            # [day, hour, location], so the rows come hour by hour
            hours = np.cumsum(self.diffs[measure], axis=2, dtype=np.int32)[:, :, :24]
            return hours.transpose(1, 2, 0)

        touched = running(TOUCHED) > 0
        slot, hour, loc = np.nonzero(touched)
        sums = {
            "location_number": loc.astype(np.int32),
            "hour_key": (self.days[slot] * 24 + hour).astype(np.int32),
        }
        for measure, name in enumerate(MEASURES):
            sums[name] = running(measure)[touched]
        locations = {
            "location_number": np.arange(len(self.locations), dtype=np.int32),
            "location_id": np.array(list(self.locations), dtype=object),
        }
        return sums, locations


@contextmanager
def _room_for_arrays(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Lower DuckDB's memory limit in a load while the arrays live outside it."""
    [(limit_mb,)] = con.execute("select getvariable('load_memory_mb')").fetchall()
    if limit_mb is None:
        yield
        return
    con.execute("set memory_limit = ?", [f"{int(limit_mb * DUCKDB_SHARE)}MB"])
    try:
        yield
    finally:
        con.execute("set memory_limit = ?", [f"{limit_mb}MB"])


def build(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Run the model: `text` is its SQL, `create or replace [temp] table NAME as <intervals>`."""
    with _room_for_arrays(con):
        _build(con, text)


def _build(con: duckdb.DuckDBPyConnection, text: str) -> None:
    header = HEADER.search(text)
    if header is None:
        raise WarehouseError("fct_hourly_capacity: expected 'create or replace table ... as'")
    intervals = text[header.end() :]
    sums = HourSums()
    bar_parts: list[tuple[np.ndarray, ...]] = []
    reader = con.sql(
        f"""
        select
            location_id,
            kind,
            rooms,
            bar_rooms,
            cast(piece_date - date '1970-01-01' as bigint) as piece_day,
            epoch_us(start_at) as s_us,
            epoch_us(end_at) as e_us,
        from ({intervals})
        """
    ).to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        loc = sums.location_numbers(batch.column("location_id"))
        kind, rooms, bar_rooms, day, s_us, e_us = (
            _numbers(batch.column(name))
            for name in ("kind", "rooms", "bar_rooms", "piece_day", "s_us", "e_us")
        )
        for code, measures in (
            (OPENING, ((ROOM_AVAILABLE, "rooms"), (BAR_AVAILABLE, "bar_rooms"))),
            (ROOM_BOOKED, ((ROOM_OCCUPIED, None), (BAR_OCCUPIED, "bar_rooms"))),
            (SHIFT, ((SCHEDULED, None),)),
            (THERAPIST_BOOKED, ((BOOKED, None),)),
        ):
            pick = np.flatnonzero(kind == code)
            if not len(pick):
                continue
            weights = {"rooms": rooms[pick], "bar_rooms": bar_rooms[pick], None: None}
            sums.add([(m, weights[w]) for m, w in measures], loc[pick], s_us[pick], e_us[pick])
            if code in (OPENING, ROOM_BOOKED):
                bars = pick[bar_rooms[pick] > 0]
                bar_parts.append(
                    (
                        code,
                        loc[bars].astype(np.int32),
                        day[bars].astype(np.int32),
                        s_us[bars],
                        e_us[bars],
                        bar_rooms[bars],
                    )
                )
    _add_bar_rooms_full(sums, bar_parts)
    # numpy arrays, not an Arrow table: DuckDB imports pandas (0.4 s) to scan Arrow objects
    rows, locations = sums.columns()
    del sums
    con.register("fct_hourly_capacity__sums", rows)
    con.register("fct_hourly_capacity__locations", locations)
    try:
        con.execute(
            f"""
            {header.group(0)}
            select
                locations.location_id,
                cast(timestamp '1970-01-01' + to_hours(hour_key) as date) as date,
                cast(hour(timestamp '1970-01-01' + to_hours(hour_key)) as integer) as hour,
                {", ".join(f"cast({name} as bigint) as {name}" for name in MEASURES)},
            from fct_hourly_capacity__sums as sums
            join fct_hourly_capacity__locations as locations using (location_number)
            order by date
            """
        )
    finally:
        con.unregister("fct_hourly_capacity__sums")
        con.unregister("fct_hourly_capacity__locations")


def _numbers(column: pa.Array) -> np.ndarray:
    """A column of integers as numpy, read from its Arrow buffer (pyarrow's to_numpy imports
    pandas, 0.4 s, which a load of native files otherwise never does)."""
    if column.null_count:
        raise WarehouseError(f"fct_hourly_capacity: an interval without {column.type} values")
    dtype = np.dtype(f"int{column.type.bit_width}")
    data = column.buffers()[1]
    return np.frombuffer(data, dtype, count=len(column), offset=column.offset * dtype.itemsize)


def _per_bar_room(part: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """(kind, location, day, start, end) of the bar intervals, opening hours once per bar room."""
    kind, loc, day, s_us, e_us, bar_rooms = part
    if kind == OPENING:
        loc, day = np.repeat(loc, bar_rooms), np.repeat(day, bar_rooms)
        s_us, e_us = np.repeat(s_us, bar_rooms), np.repeat(e_us, bar_rooms)
    return kind, loc, day, s_us, e_us


def _offsets_fit(day: np.ndarray, s_us: np.ndarray, e_us: np.ndarray) -> bool:
    """Whether every start and end lies within 2**OFFSET_BITS microseconds after its day."""
    midnight = day.astype(np.int64) * DAY_US
    return all(
        0 <= int((at - midnight).min()) and int((at - midnight).max()) < 2**OFFSET_BITS
        for at in (s_us, e_us)
    )


def _add_bar_rooms_full(sums: HourSums, parts: list[tuple[np.ndarray, ...]]) -> None:
    """Minutes when at least one bar room is open and every open one is occupied.

    Per location and calendar day of the pieces, the events in time order; all events of one
    instant count before the state holds, until the next instant of that day."""
    parts = [_per_bar_room(part) for part in parts if len(part[1])]
    if not parts:
        return
    first_day = min(int(part[2].min()) for part in parts)
    days = max(int(part[2].max()) for part in parts) - first_day + 1
    group_bits = (len(sums.locations) * days).bit_length()
    packable = group_bits + OFFSET_BITS + 2 < 64 and all(
        _offsets_fit(p_day, s_us, e_us) for _, _, p_day, s_us, e_us in parts
    )
    if packable:
        # one int64 per event, sorted in place: the least memory next to the hour arrays
        key = np.empty(2 * sum(len(part[1]) for part in parts), dtype=np.int64)
        at = 0
        while parts:
            kind, p_loc, p_day, s_us, e_us = parts.pop()
            group = p_loc.astype(np.int64) * days + (p_day - first_day)
            head = (group << OFFSET_BITS) - p_day.astype(np.int64) * DAY_US
            starts, ends = (OPENS, CLOSES) if kind == OPENING else (OCCUPIED_FROM, OCCUPIED_UNTIL)
            key[at : at + len(head)] = ((head + s_us) << 2) | starts
            at += len(head)
            key[at : at + len(head)] = ((head + e_us) << 2) | ends
            at += len(head)
        key.sort()
        code = (key & 3).astype(np.int8)
        key >>= 2
        instant = key
        group = instant >> OFFSET_BITS
        at = (instant & (2**OFFSET_BITS - 1)) + (group % days + first_day) * DAY_US
    else:  # an instant far from its piece's day: sort by (location-day, time) instead
        group, at, code = [], [], []
        for kind, p_loc, p_day, s_us, e_us in parts:
            starts, ends = (OPENS, CLOSES) if kind == OPENING else (OCCUPIED_FROM, OCCUPIED_UNTIL)
            p_group = p_loc.astype(np.int64) * days + (p_day - first_day)
            group += [p_group, p_group]
            at += [s_us, e_us]
            code += [np.full(len(s_us), starts, np.int8), np.full(len(e_us), ends, np.int8)]
        group, at, code = (np.concatenate(x) for x in (group, at, code))
        order = np.lexsort((at, group))
        group, at, code = group[order], at[order], code[order]
        instant = None
    open_rooms = np.cumsum((code == OPENS).astype(np.int32) - (code == CLOSES))
    occupied = np.cumsum((code == OCCUPIED_FROM).astype(np.int32) - (code == OCCUPIED_UNTIL))
    # the last event of each instant carries the state until the day's next instant
    last = np.ones(len(at), dtype=bool)
    if instant is not None:
        last[:-1] = instant[1:] != instant[:-1]
    else:
        last[:-1] = (group[1:] != group[:-1]) | (at[1:] != at[:-1])
    ends = np.flatnonzero(last)
    now, then = ends[:-1], ends[1:]
    full = np.flatnonzero(
        (group[then] == group[now]) & (open_rooms[now] > 0) & (occupied[now] >= open_rooms[now])
    )
    now, then = now[full], then[full]
    sums.add([(BAR_FULL, None)], group[now] // days, at[now], at[then])
