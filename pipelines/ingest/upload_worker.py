"""Load the Data page's uploads in a child process: `python -m pipelines.ingest.upload_worker DIR`.

The app (dashboard.uploads) writes the uploaded files and `job.json` into DIR, starts this
module and watches it; this module runs pipelines.ingest.load.load_files and writes one
FileResult per file to `results.json`. A file that needs more memory than the app can spare
kills this child, never the app.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
from pathlib import Path

from pipelines.ingest.load import DemoWarehouseError, FileResult, load_files
from pipelines.settings import Settings

JOB = "job.json"
RESULTS = "results.json"


def settings_from_json(values: dict) -> Settings:
    """Settings as dataclasses.asdict wrote them (JSON turns the tuples into lists)."""
    return Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def main(folder: Path) -> int:
    job = json.loads((folder / JOB).read_text(encoding="utf-8"))
    settings = settings_from_json(job["settings"])
    # A backstop for a spike faster than the parent's watch: address space, not resident
    # memory, so it sits well above the watched limit (DuckDB and numpy map ~0.8 GB unused).
    ceiling = (settings.upload_memory_mb + 2048) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    paths = [Path(path) for path, _ in job["files"]]
    try:
        results = load_files(
            job["db"],
            paths,
            settings,
            location=job["location"],
            display_names={Path(path): name for path, name in job["files"]},
            allowed_locations=job["allowed"],
        )
    except DemoWarehouseError as error:  # the demo takes no uploads: every file says why
        results = [FileResult(name, "failed", message=str(error)) for _, name in job["files"]]
    done = folder / (RESULTS + ".part")
    done.write_text(json.dumps([dataclasses.asdict(r) for r in results]), encoding="utf-8")
    done.replace(folder / RESULTS)  # whole or absent: the parent never reads half a list
    return 0


def read_results(folder: Path) -> list[FileResult] | None:
    """The child's results, or None when it wrote none (killed, or it crashed)."""
    try:
        rows = json.loads((folder / RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return [FileResult(**row) for row in rows]


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
