"""Helpers for the hostile-input tests: a warehouse fingerprint and a bounded CLI run.

Each hostile test builds its input with a small generator (never a committed large file), runs
the real `studio-ops` command in a child process, and asserts three things: the one-line
message, a time and memory bound generous enough for a loaded 2-core machine, and a warehouse
that is byte-for-byte what it was.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Generous on purpose: the suite runs two workers on two cores, so a test may get half a core.
SECONDS = 60
PEAK_MB = 1500


def fingerprint(db: Path) -> str:
    """sha256 of the published warehouse file (a missing file fingerprints as 'absent')."""
    if not db.exists():
        return "absent"
    return hashlib.sha256(db.read_bytes()).hexdigest()


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float

    @property
    def lines(self) -> list[str]:
        return [line for line in (self.stdout + self.stderr).splitlines() if line.strip()]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    """Run `studio-ops ARGS` in a child process; its wall time and its own peak RSS (wait4)."""
    full_env = {**os.environ, "STUDIO_OPS_SALT": "test-salt", **(env or {})}
    full_env.pop("STUDIO_OPS_DEBUG", None)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", *args],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=err,
            text=True,
        )
        # The child's own peak is VmHWM of its address space, read until it exits. (wait4's
        # ru_maxrss would not do: Linux keeps it across exec, so it starts at the size of the
        # forking test worker, hundreds of MB late in a suite.)
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _peak_kb(child.pid))
            pid, status, _ = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                child.kill()
                os.wait4(child.pid, 0)
                raise TimeoutError(f"studio-ops {' '.join(args)} ran over {timeout} s")
            time.sleep(0.01)
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(child.returncode, out.read(), err.read(), seconds, peak_kb / 1024)


def _peak_kb(pid: int) -> int:
    """VmHWM (peak resident set) of a running process, 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
