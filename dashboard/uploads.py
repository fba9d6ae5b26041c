"""Load the Data page's uploads in a child process, from a private folder beside the warehouse.

The uploaded files are written to `<warehouse>.uploads/<pid>-<random>/` (mode 0700, owned by
the app), loaded by `python -m pipelines.ingest.upload_worker` with the same pipeline as the CLI,
and the folder is removed whether the load succeeds or fails. The child is stopped when its resident
memory passes `upload_memory_mb` or it runs past `upload_timeout_seconds`, so a hostile file costs
the app nothing: the app's memory stays where it was. Folders left by an app that was killed
mid-upload are removed when the app starts (:func:`clean_leftovers`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from pipelines.ingest import upload_worker
from pipelines.ingest.load import FileResult
from pipelines.settings import Settings

LOG = logging.getLogger("studio_ops.uploads")
WATCH_SECONDS = 0.05  # how often the child's memory is read


class UploadFolderError(Exception):
    """The private upload folder cannot be used; the message is one line for people."""


def upload_root(db: Path | str) -> Path:
    """`<warehouse>.uploads`: created mode 0700; refused when another account owns it."""
    root = Path(db).with_name(Path(db).name + ".uploads")
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        root.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = root.lstat()
    if root.is_symlink() or not root.is_dir() or info.st_uid != os.getuid():
        raise UploadFolderError(f"{root}: not a folder of the account that runs the app")
    if info.st_mode & 0o077:
        root.chmod(0o700)  # uploads hold client details: nobody else may read them
    return root


def clean_leftovers(db: Path | str) -> list[Path]:
    """Remove upload folders whose app is gone (killed mid-upload); returns what was removed.

    A folder is named after the process that made it, so an upload still running in another
    app process on the same warehouse is left alone.
    """
    root = Path(db).with_name(Path(db).name + ".uploads")
    if not root.is_dir():
        return []
    removed = []
    for folder in root.iterdir():
        owner = folder.name.split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and _alive(int(owner)):
            continue
        shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink()
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_uploads(
    db: Path | str,
    files: Sequence[tuple[str, BinaryIO | bytes]],
    settings: Settings,
    *,
    location: str | None = None,
    allowed: Iterable[str] | None = None,
) -> list[FileResult]:
    """Load uploaded files (name, content) in a child process; one FileResult per file."""
    names = [Path(name).name for name, _ in files]
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=upload_root(db)))
    except (OSError, UploadFolderError) as error:
        return _all_failed(names, f"cannot keep the upload ({_one_line(error)})")
    try:
        job_files = []
        for number, (name, (_, content)) in enumerate(zip(names, files, strict=True)):
            # one sub-folder per upload keeps the original file name, even for two same names
            path = folder / str(number) / name
            path.parent.mkdir()
            with open(path, "wb") as out:
                if isinstance(content, bytes):
                    out.write(content)
                else:
                    content.seek(0)
                    shutil.copyfileobj(content, out, 1024 * 1024)
            job_files.append((str(path), name))
        job = {
            "db": str(Path(db).resolve()),
            "files": job_files,
            "location": location,
            "allowed": None if allowed is None else list(allowed),
            "settings": dataclasses.asdict(settings),
        }
        (folder / upload_worker.JOB).write_text(json.dumps(job), encoding="utf-8")
        return _run_child(Path(db), folder, names, settings)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_child(db: Path, folder: Path, names: list[str], settings: Settings) -> list[FileResult]:
    published_before = _published(db)
    with open(folder / "child.log", "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "pipelines.ingest.upload_worker", str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started = time.monotonic()
        stopped = None
        limit_kb = settings.upload_memory_mb * 1024
        while child.poll() is None:
            if _rss_kb(child.pid) > limit_kb:
                stopped = (
                    f"loading it needed more than {settings.upload_memory_mb} MB of memory "
                    "(the limit is the setting upload_memory_mb)"
                )
            elif time.monotonic() - started > settings.upload_timeout_seconds:
                stopped = (
                    f"loading it took longer than {settings.upload_timeout_seconds} s "
                    "(the limit is the setting upload_timeout_seconds)"
                )
            if stopped:
                child.kill()
                child.wait()
                break
            time.sleep(WATCH_SECONDS)
    results = upload_worker.read_results(folder)
    if results is not None:
        return results
    output = (folder / "child.log").read_text(encoding="utf-8", errors="replace")
    LOG.warning("upload load stopped (exit %s): %s", child.returncode, output[-4000:])
    if stopped is None:
        stopped = "the load stopped unexpectedly (the server log has the details)"
    if _published(db) != published_before:
        # killed between publishing and reporting: what it loaded is in the Loads table
        return _all_failed(names, f"{stopped}; part of it may have loaded, see Loads")
    return _all_failed(names, f"{stopped}; load it with `studio-ops load` instead")


def _published(db: Path) -> tuple[int, int] | None:
    try:
        info = db.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def _rss_kb(pid: int) -> int:
    """Resident memory of a process, from /proc (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _all_failed(names: list[str], message: str) -> list[FileResult]:
    return [FileResult(name, "failed", message=message) for name in names]


def _one_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
