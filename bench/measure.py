"""How bench/render.py measures: CPU seconds (user + system) of this process and its children, one child
process's own wall and CPU seconds (``os.wait4``: the child and every descendant it waited for), and peak
RSS (``ru_maxrss``, and the ffmpeg descendants sampled from /proc).

CPU seconds are the primary figure: on a shared machine wall time depends on what else runs, CPU time much
less. Wall ratios are only worth reading as medians of alternated runs (``--pairs``).
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ChildPeak", "Run", "cpu", "rss_mb", "run_child"]


def cpu() -> float:
    """CPU seconds (user + system) of this process and of its children waited for so far."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass(frozen=True)
class Run:
    """One child process, start to exit."""

    wall: float  # seconds
    cpu: float  # CPU seconds of the child and its descendants
    maxrss_mb: float  # the largest resident set among them (an upper bound for forked ffmpeg, see ChildPeak)
    stdout: str


def run_child(argv: Sequence[str | Path], *, what: str) -> Run:
    """Run ``argv`` to its end: its own wall and CPU (os.wait4), its stdout; SystemExit with its stderr if it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout)


class ChildPeak:
    """Samples the peak RSS (VmHWM) of every ffmpeg descendant of this process, from /proc (Linux).

    ``ru_maxrss`` of RUSAGE_CHILDREN over-reports: a forked child's high-water mark starts from its
    parent's resident memory, so it is kept only as an upper bound beside this sampled figure. The sampling
    itself costs CPU, so a render timed for the ratios runs without it.
    """

    def __init__(self, every: float = 0.2) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def __enter__(self) -> ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self, every: float) -> None:
        me = os.getpid()
        while not self._stop.wait(every):
            parents: dict[int, int] = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        stat = Path(f"/proc/{entry}/stat").read_text()
                        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                    except (OSError, IndexError, ValueError):
                        continue
            mine = {me}
            for _ in range(4):  # children, grandchildren, ...
                mine |= {pid for pid, ppid in parents.items() if ppid in mine}
            for pid in mine - {me}:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                if "ffmpeg" not in status.split("\n", 1)[0]:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))


def rss_mb(sampler: ChildPeak) -> dict[str, float]:
    """Peak RSS in MB of this process and of its largest ffmpeg child (sampled; else the rusage bound)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    bound = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    child = sampler.peak_kb / 1024 if sampler.peak_kb else bound
    return {"python_mb": own, "child_mb": child, "child_bound_mb": bound, "peak_mb": max(own, child)}
