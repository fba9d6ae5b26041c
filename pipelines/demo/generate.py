"""Demo data: native-format exports of a realistic synthetic chain of Ashiatsu studios.

The chain is simulated location by location and day by day and streamed to the CSV writers,
so memory stays bounded at any scale: only one location's rooms, therapists, today's calendar
and the clients waiting for a future visit are alive at a time (per process). Every random draw
comes from one ``random.Random`` per location, seeded from ``seed`` and the location number, and
each location numbers its ids in its own block, so locations are independent: big chains are
simulated by a process pool and concatenated in location order, and the same arguments always
give byte-identical files, with or without the pool. Callers that generate big chains from a
script need the usual ``if __name__ == "__main__":`` guard (the pool spawns processes).

The parts: world.py (the menu, names, demand and the records; drawing a location),
simulation.py (one location day by day), slots.py (where a booking fits), problems.py (the
deliberate data problems), vendor_writers.py (the same chain as booking systems export it).
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import random
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipelines.canonical import KINDS
from pipelines.demo.simulation import Dates, Ids, LocationSimulation
from pipelines.demo.world import build_location

# --- export layout -------------------------------------------------------------------------

# The canonical columns of each kind (pipelines.canonical), less what the demo's exports leave
# out: the booking source (native) and duration_minutes (every booking has its end_at).
HEADERS: dict[str, tuple[str, ...]] = {
    name: tuple(c for c in KINDS[name].columns if c not in ("source", "duration_minutes"))
    for name in ("locations", "rooms", "therapist_shifts", "bookings")
}

PARALLEL_FROM_LOCATIONS = 8  # chains this big are simulated by a process pool


# --- public entry point --------------------------------------------------------------------


@dataclass(frozen=True)
class _Chain:
    """What every location's simulation needs to know about the whole run (picklable)."""

    outdir: Path
    days: int
    seed: int
    start: date


def _simulate(chain: _Chain, index: int, writers: dict[str, Any]) -> dict[str, int]:
    """Simulate one location into the writers; return its row counts."""
    # A string seed is hashed with SHA-512 by random.Random: stable across runs and machines.
    rng = random.Random(f"studio-ops:{chain.seed}:{index}")
    loc = build_location(index, rng, chain.days)
    counts = dict.fromkeys(HEADERS, 0)
    dates = Dates(chain.start, chain.days)
    LocationSimulation(loc, rng, dates, chain.days, Ids(index), writers, counts).run()
    return counts


def _simulate_to_parts(chain: _Chain, index: int) -> tuple[dict[str, int], dict[str, Path]]:
    """Worker process: simulate one location into its own headerless part files."""
    parts = {kind: chain.outdir / f".{kind}.part{index:05d}.csv" for kind in HEADERS}
    with ExitStack() as stack:
        writers = {
            kind: csv.writer(
                stack.enter_context(open(path, "w", encoding="utf-8", newline="")),
                lineterminator="\n",
            )
            for kind, path in parts.items()
        }
        counts = _simulate(chain, index, writers)
    return counts, parts


def _worker_count(locations: int) -> int:
    """Processes to use: one per CPU for big chains; small ones are quicker in-process."""
    if locations < PARALLEL_FROM_LOCATIONS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, locations))


def _locations_in_parallel(
    chain: _Chain, locations: int, workers: int
) -> Iterator[tuple[dict[str, int], dict[str, Path]]]:
    """Each location's counts and part files, in location order, simulated by a pool."""
    # "spawn": never fork a process that may be running threads (Streamlit, test runners).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # Submit a bounded window ahead, so finished parts never pile up on disk.
        window: deque[Future] = deque()
        for index in range(locations):
            window.append(pool.submit(_simulate_to_parts, chain, index))
            if len(window) > 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def write_chain(
    outdir: Path,
    *,
    locations: int = 3,
    days: int = 365,
    seed: int = 42,
    start: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Write native exports of a synthetic chain into outdir; return row counts per kind.

    The history covers [start, start + days) (default: ending yesterday); bookings, rooms and
    shifts continue 14 days past it, with the future bookings all `booked`.
    """
    if locations < 1 or days < 1:
        raise ValueError("locations and days must be positive")
    if start is None:
        start = date.today() - timedelta(days=days)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    chain = _Chain(outdir, days, seed, start)
    workers = _worker_count(locations)
    counts = dict.fromkeys(HEADERS, 0)
    with ExitStack() as stack:
        handles = {
            kind: stack.enter_context(
                open(outdir / f"{kind}.csv", "w", encoding="utf-8", newline="")
            )
            for kind in HEADERS
        }
        writers = {
            kind: csv.writer(handle, lineterminator="\n") for kind, handle in handles.items()
        }
        for kind, header in HEADERS.items():
            writers[kind].writerow(header)
        if workers == 1:
            # Stream straight into the files: one location in memory at a time.
            for index in range(locations):
                _add(counts, _simulate(chain, index, writers))
                if progress is not None:
                    progress(index + 1, locations)
        else:
            for done, (location_counts, parts) in enumerate(
                _locations_in_parallel(chain, locations, workers), start=1
            ):
                for kind, path in parts.items():
                    handles[kind].flush()
                    with open(path, encoding="utf-8", newline="") as part:
                        shutil.copyfileobj(part, handles[kind], 1 << 20)
                    path.unlink()
                _add(counts, location_counts)
                if progress is not None:
                    progress(done, locations)
    return counts


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for kind, count in more.items():
        total[kind] += count
