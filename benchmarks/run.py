"""The studio-ops benchmark: load, incremental load, dashboard queries, page render, memory.

    make bench                 # 1M bookings (the default)
    SCALE=10m make bench       # 10M bookings
    .venv/bin/python benchmarks/run.py --scale 100k --repeats 3

Everything is measured in one run on the same generated files, each several times; medians are
reported (p50/p95 for dashboard queries). Generated exports are cached in bench-data/<scale>/.
Results print as a table and go to bench-results.json with the machine's cores and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard import navigation  # noqa: E402
from tests.browser import CHROMIUM, VIEWPORT, chromium, streamlit_app  # noqa: E402

# scale -> (locations, days); the generator makes about 25 bookings per location-day.
SCALES = {"100k": (10, 365), "1m": (50, 730), "10m": (300, 1350)}
START = date(2021, 1, 4)
SEED = 7
# (url path, page file) for every page; the render clock stops when the main chart is drawn.
PAGES = [(page.url_path, page.name) for page in navigation.visible(owner=False)]
CHARTLESS = {page.name for page in navigation.PAGES if not page.has_chart}
PAGE_NAMES = {name for _, name in PAGES}
FLOOR_LABELS = {
    "floor_streamlit_page": "  Streamlit page floor (one chart)",
    "floor_page_skeleton": "  page skeleton floor (filters, table, chart)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="1m", choices=sorted(SCALES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results.json")
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()

    data_dir = ROOT / "bench-data" / args.scale
    exports, next_day = prepare_exports(data_dir, *SCALES[args.scale])
    bookings = count_lines(exports / "bookings.csv") - 1
    work = Path(tempfile.mkdtemp(prefix="studio-ops-bench-"))
    results: dict[str, object] = {
        "scale": args.scale,
        "bookings": bookings,
        "repeats": args.repeats,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "pandas": pd.__version__,
            "streamlit": _version("streamlit"),
            "platform": platform.platform(),
        },
    }
    try:
        results["demo_build"] = measure_demo(work, args.repeats)
        results["full_load"] = measure_full_load(exports, work, args.repeats)
        results["floor_duckdb_read_csv"] = measure_floor(exports, work, args.repeats)
        results["baseline_pandas"] = measure_pandas(exports, args.repeats)
        full_db = work / "full.duckdb"
        results["incremental_day"] = measure_incremental(full_db, next_day, work, args.repeats)
        results["queries"] = measure_queries(full_db, args.repeats)
        if not args.skip_browser and CHROMIUM.exists():
            results["pages"] = measure_pages(full_db, args.repeats)
            results.update(measure_page_floors(work, args.repeats))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print_table(results)
    print(f"\nwrote {args.out}")
    return 0


# ----------------------------------------------------------------------------- data


def prepare_exports(data_dir: Path, locations: int, days: int) -> tuple[Path, Path]:
    """Generate (once) the chain and a one-more-day export for every location."""
    exports, next_day = data_dir / "exports", data_dir / "next-day"
    if not (exports / "bookings.csv").exists():
        print(f"generating {locations} locations x {days} days into {exports} ...", flush=True)
        run_cli("generate", str(exports), "--locations", str(locations), "--days", str(days),
                "--seed", str(SEED), "--start", START.isoformat())  # fmt: skip
    if not (next_day / "bookings.csv").exists():
        # The day after the history: generate it with another seed, keep only that day, and
        # give its bookings ids of their own so that they add to the warehouse, not replace.
        day = START + timedelta(days=days)
        scratch = data_dir / "next-day-scratch"
        run_cli("generate", str(scratch), "--locations", str(locations), "--days", "1",
                "--seed", str(SEED + 1), "--start", day.isoformat())  # fmt: skip
        next_day.mkdir(parents=True, exist_ok=True)
        with duckdb.connect() as con:
            for kind, date_column in (
                ("rooms", "date"),
                ("therapist_shifts", "date"),
                ("bookings", "start_at"),
            ):
                replace = "replace ('N' || booking_id as booking_id)" if kind == "bookings" else ""
                con.execute(
                    f"""
                    copy (
                        select * {replace}
                        from read_csv(?, all_varchar = true)
                        where {date_column}[:10] = ?
                    ) to '{next_day / (kind + ".csv")}' (header, delimiter ',')
                    """,
                    [str(scratch / f"{kind}.csv"), day.isoformat()],
                )
        shutil.rmtree(scratch)
    return exports, next_day


def run_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pipelines.cli", *args], check=True, cwd=ROOT)


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))


def timed_process(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in MB) of that process alone.

    The peak is polled from /proc (VmHWM): getrusage would report the benchmark's own peak too,
    because Linux carries the parent's high-water mark into a child across fork and exec.
    """
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, peak_rss_mb(process.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, peak


def summary(samples: list[float]) -> dict[str, object]:
    return {"median": statistics.median(samples), "samples": samples}


# ---------------------------------------------------------------------- measurements


def measure_demo(work: Path, repeats: int) -> dict[str, object]:
    """`studio-ops demo` into a fresh warehouse (what `make run` does on first start)."""
    times = []
    for i in range(repeats):
        db = work / f"demo-{i}.duckdb"
        seconds, _ = timed_process([sys.executable, "-m", "pipelines.cli", "demo", "--db", str(db)])
        times.append(seconds)
    print(f"demo build: median {statistics.median(times):.2f}s", flush=True)
    return summary(times)


def measure_full_load(exports: Path, work: Path, repeats: int) -> dict[str, object]:
    """`studio-ops load` of the whole chain into an empty warehouse, marts included."""
    times, memory = [], []
    for i in range(repeats):
        db = work / f"full-{i}.duckdb"
        seconds, rss = timed_process(
            [sys.executable, "-m", "pipelines.cli", "load", str(exports), "--db", str(db)]
        )
        times.append(seconds)
        memory.append(rss)
        if i < repeats - 1:
            db.unlink()
        else:
            db.rename(work / "full.duckdb")
        print(f"full load {i + 1}/{repeats}: {seconds:.1f}s, peak {rss:.0f} MB", flush=True)
    return {**summary(times), "peak_rss_mb": max(memory)}


def measure_floor(exports: Path, work: Path, repeats: int) -> dict[str, object]:
    """DuckDB's bare `create table as select * from read_csv(...)` of the same files."""
    times = []
    for i in range(repeats):
        db = work / f"floor-{i}.duckdb"
        started = time.perf_counter()
        with duckdb.connect(str(db)) as con:
            con.execute("set enable_progress_bar = false")
            for csv_file in sorted(exports.glob("*.csv")):
                con.execute(
                    f"create table {csv_file.stem} as select * from read_csv(?)", [str(csv_file)]
                )
        times.append(time.perf_counter() - started)
        db.unlink()
    print(f"duckdb read_csv floor: median {statistics.median(times):.2f}s", flush=True)
    return summary(times)


def measure_pandas(exports: Path, repeats: int) -> dict[str, object]:
    """What an analyst would write instead: pandas read_csv + daily room utilization."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        bookings = pd.read_csv(exports / "bookings.csv", parse_dates=["start_at", "end_at"])
        rooms = pd.read_csv(exports / "rooms.csv", parse_dates=["date"])
        held = bookings[bookings["status"].isin(["completed", "booked", "no_show"])].copy()
        held["date"] = held["start_at"].dt.normalize()
        held["minutes"] = (held["end_at"] - held["start_at"]).dt.total_seconds() / 60
        occupied = held.groupby(["location_id", "room_id", "date"], as_index=False)["minutes"].sum()
        opens = pd.to_timedelta(rooms["opens_at"])
        closes = pd.to_timedelta(rooms["closes_at"])
        rooms["available"] = (closes - opens).dt.total_seconds() / 60 - rooms["blocked_minutes"]
        days = rooms.merge(occupied, on=["location_id", "room_id", "date"], how="left")
        days["utilization"] = days["minutes"].fillna(0) / days["available"]
        days.groupby(["location_id", "date"])["utilization"].mean()
        times.append(time.perf_counter() - started)
    print(f"pandas baseline: median {statistics.median(times):.2f}s", flush=True)
    return summary(times)


def measure_incremental(full_db: Path, next_day: Path, work: Path, repeats: int) -> dict:
    """One more day of exports for every location into the full warehouse, end to end."""
    times, memory = [], []
    for i in range(repeats):
        db = work / f"incremental-{i}.duckdb"
        shutil.copyfile(full_db, db)
        # A chain's warehouse has been on disk since yesterday's load; without this the timed
        # load would also wait for the disk to write out this copy and the runs before it.
        os.sync()
        seconds, rss = timed_process(
            [sys.executable, "-m", "pipelines.cli", "load", str(next_day), "--db", str(db)]
        )
        times.append(seconds)
        memory.append(rss)
        db.unlink()
        print(f"incremental day {i + 1}/{repeats}: {seconds:.2f}s", flush=True)
    return {**summary(times), "peak_rss_mb": max(memory)}


def measure_queries(db: Path, repeats: int) -> dict[str, object]:
    """Every query each page runs (captured from the real page), timed uncached."""
    os.environ["STUDIO_OPS_DB"] = str(db)
    from streamlit.testing.v1 import AppTest

    from dashboard.queries import snapshot

    with duckdb.connect(str(db), read_only=True) as con:
        first_location = con.execute("select min(location_id) from fct_location_days").fetchone()[0]
    captured: list[tuple[str, tuple]] = []
    original = snapshot._frame

    def capture(snap, sql, params):
        captured.append((sql, params))
        return original(snap, sql, params)

    from pipelines.warehouse.snapshot import SnapshotReader

    reader = SnapshotReader()
    results: dict[str, object] = {}
    snapshot._frame = capture
    try:
        for scope, params in (("all locations", {}), ("one location", {"first": first_location})):
            for path, name in PAGES:
                captured.clear()
                original.clear()
                app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
                if params:
                    app.query_params["locations"] = params["first"]
                    app.query_params["location"] = params["first"]
                app.run()
                if path:
                    app.switch_page(f"dashboard/pages/{name}.py").run()
                queries = list(dict.fromkeys(captured))
                samples = [time_queries(reader, db, queries) for _ in range(max(repeats, 7))]
                results[f"{scope} / {name}"] = {
                    "queries": len(queries),
                    "p50_ms": 1000 * percentile(samples, 50),
                    "p95_ms": 1000 * percentile(samples, 95),
                }
                print(f"queries {scope} / {name}: {len(queries)} queries, "
                      f"p50 {1000 * percentile(samples, 50):.0f} ms", flush=True)  # fmt: skip
    finally:
        snapshot._frame = original
        reader.close()
    return results


def time_queries(reader, db: Path, queries: list[tuple[str, tuple]]) -> float:
    """Run a page's queries the way the app does (one shared read-only snapshot reader)."""
    key = os.stat(db).st_ino
    started = time.perf_counter()
    for sql, params in queries:
        reader.query(db, key, sql, [list(p) if isinstance(p, tuple) else p for p in params])
    return time.perf_counter() - started


def percentile(samples: list[float], pct: int) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure_pages(db: Path, repeats: int) -> dict[str, object]:
    """Each page in headless Chromium, from navigation to the main chart drawn."""
    results: dict[str, object] = {}
    env = {"STUDIO_OPS_DB": str(db)}
    with streamlit_app(db.parent / "streamlit.log", env, seconds=120) as app:
        for path, name in PAGES:
            selector = "[data-testid='stDataFrame']" if name in CHARTLESS else CHART
            samples = time_page(app.port, path, selector, repeats)
            results[name] = {kind: summary(times) for kind, times in samples.items()}
            print(f"page {name}: {_visits(samples)}", flush=True)
        results["app_peak_rss_mb"] = peak_rss_mb(app.process.pid)
    return results


# The page floors: Streamlit apps with no data of ours, measured like a page. Most of a
# page's time is Streamlit's own (loading its scripts, opening the session, drawing), which no
# query or chart of ours can remove. The one-chart app is the least any page costs; the
# skeleton has what every dashboard page draws before its main chart (the sidebar's two
# filters and a table), with three-row data.
FLOOR_APPS = {
    "floor_streamlit_page": """
import altair as alt
import pandas as pd
import streamlit as st

st.title("Floor")
bars = pd.DataFrame({"x": ["a", "b", "c"], "y": [1, 2, 3]})
st.altair_chart(alt.Chart(bars).mark_bar().encode(x="x", y="y"))
""",
    "floor_page_skeleton": """
import altair as alt
import pandas as pd
import streamlit as st

st.title("Floor")
st.sidebar.multiselect("Locations", ["a", "b", "c"])
st.sidebar.date_input("Dates", [])
bars = pd.DataFrame({"x": ["a", "b", "c"], "y": [1, 2, 3]})
st.dataframe(bars)
st.altair_chart(alt.Chart(bars).mark_bar().encode(x="x", y="y"))
""",
}


def measure_page_floors(work: Path, repeats: int) -> dict[str, dict]:
    """The same clock on the floor apps: what any page costs on this machine."""
    results = {}
    for name, source in FLOOR_APPS.items():
        script = work / f"{name}.py"
        script.write_text(source)
        with streamlit_app(work / f"{name}.log", {}, script=script, seconds=120) as app:
            samples = time_page(app.port, "", CHART, max(repeats, 5))
        print(f"{name}: {_visits(samples)}", flush=True)
        results[name] = {kind: summary(times) for kind, times in samples.items()}
    return results


CHART = ".vega-embed canvas, .vega-embed svg"


def _visits(samples: dict[str, list[float]]) -> str:
    return ", ".join(
        f"{kind.replace('_', ' ')} median {statistics.median(times):.2f}s"
        for kind, times in samples.items()
    )


def time_page(port: int, path: str, selector: str, repeats: int) -> dict[str, list[float]]:
    """Seconds from navigation to `selector` drawn, each sample in a fresh tab, two ways.

    First visit: a new browser profile each time, so Streamlit's scripts are fetched and
    compiled (once per browser, ever). Return visit: tabs of one profile that has opened the
    page before, as a manager's browser has every morning (Streamlit serves its scripts as
    immutable for a year, so they come from the browser's cache).
    """
    url = f"http://127.0.0.1:{port}/{path}"
    samples: dict[str, list[float]] = {"first_visit": [], "return_visit": []}

    def visit(context, kind: str | None) -> None:
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(selector, timeout=120_000)
        if kind:
            samples[kind].append(time.perf_counter() - started)
        page.close()

    with chromium() as browser:
        returning = browser.new_context(viewport=VIEWPORT)
        visit(returning, None)  # yesterday's visit: fills the browser's cache
        for _ in range(repeats):
            first = browser.new_context(viewport=VIEWPORT)
            visit(first, "first_visit")
            first.close()
            visit(returning, "return_visit")
    return samples


def peak_rss_mb(pid: int) -> float:
    """A running process's peak resident memory so far (VmHWM), in MB; 0 once it has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


# -------------------------------------------------------------------------------- report


def print_table(results: dict) -> None:
    floor = results["floor_duckdb_read_csv"]["median"]
    full = results["full_load"]["median"]
    pandas_time = results["baseline_pandas"]["median"]
    incremental = results["incremental_day"]["median"]
    print(f"\nstudio-ops benchmark: {results['bookings']:,} bookings, "
          f"{results['machine']['cores']} cores, medians of {results['repeats']}")  # fmt: skip
    rows = [
        ("demo build (studio-ops demo)", f"{results['demo_build']['median']:.2f} s", "<= 10 s"),
        ("full load, marts included", f"{full:.1f} s", f"<= {3 * floor:.1f} s (3x floor)"),
        ("  DuckDB read_csv floor", f"{floor:.1f} s", f"ratio {full / floor:.1f}x"),
        ("  pandas baseline", f"{pandas_time:.1f} s", f"ratio {full / pandas_time:.2f}x"),
        ("incremental day", f"{incremental:.2f} s",
         f"<= 5 s and <= {full / 10:.1f} s (ratio {incremental / full:.2f})"),
        ("load peak memory", f"{results['full_load']['peak_rss_mb']:.0f} MB", "<= 2048 MB"),
    ]  # fmt: skip
    for name, value in results["queries"].items():
        rows.append((f"queries {name}", f"p50 {value['p50_ms']:.0f} / p95 {value['p95_ms']:.0f} ms",
                     "p95 <= 300 ms"))  # fmt: skip
    pages = results.get("pages", {})
    drawn = [(f"page {name} drawn", value) for name, value in pages.items() if name in PAGE_NAMES]
    for name, label in FLOOR_LABELS.items():
        if name in results:
            drawn.append((label, results[name]))
    for label, value in drawn:
        times = f"{value['return_visit']['median']:.2f} / {value['first_visit']['median']:.2f} s"
        rows.append((label, times, "<= 2 s (return / first visit)"))
    if "app_peak_rss_mb" in pages:
        rows.append(("app peak memory", f"{pages['app_peak_rss_mb']:.0f} MB", "<= 1024 MB"))
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>22}  {target}")


if __name__ == "__main__":
    sys.exit(main())
