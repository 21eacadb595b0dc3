"""Running a batch's stories: a job slot (one warm kernel on its own thread) runs one story at a time through
papermill and leaves its record; here, ``jobs`` slots in this process share the stories out.

A story that fails is recorded (its executed notebook keeps the failing cell) and the slot goes on with the
next one; a kernel that died or hung is restarted first. Records never hold a secret: every value of a
secret-looking variable of the environment is blanked in the files a story leaves.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shortskit.batch.jobs import Job, blank, secret_values
from shortskit.workspace import atomic_path

__all__ = [
    "DEFAULT_STORY_TIMEOUT",
    "PATH_ENVS",
    "PATH_LISTS",
    "JobSlot",
    "SlotSettings",
    "absolute_paths",
    "read_record",
    "run_local",
    "scrub",
]

OnRecord = Callable[[dict[str, Any]], None]
# Environment variables that hold a path (PYTHONPATH: a list of them). A kernel runs in its notebook's folder, so
# a relative one is made absolute against the folder the batch was started from before the kernel starts.
PATH_ENVS = ("SHORTSKIT_WORKSPACE", "SHORTSKIT_RATE_DB", "SHORTSKIT_CHATTERBOX_DIR", "SHORTSKIT_MMS_MODEL",
             "SHORTSKIT_WHISPER_MODEL", "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "TORCH_HOME")  # fmt: skip
PATH_LISTS = ("PYTHONPATH", "SHORTSKIT_ALLOW_DIRS")  # os.pathsep-separated paths


# Seconds one story of a batch may run when the caller does not say: a hung kernel is killed and the story
# reported as failed, never waited on for ever.
DEFAULT_STORY_TIMEOUT = 1800.0
_GRACE = 5.0  # seconds past it before the kernel is killed from outside


@dataclass(frozen=True)
class SlotSettings:
    """How every slot of a batch starts its kernel (the same for all: it is sent to dask workers as is)."""

    env: dict[str, str] = field(default_factory=dict)  # added to the worker's environment (nothing secret)
    # seconds a story (and each of its cells) may run, then its kernel is killed; None: no limit
    timeout: float | None = None
    kernel_name: str = "python3"


def scrub(paths: Sequence[Path], secrets: Sequence[str]) -> None:
    """Blank every secret in these text files (a traceback or a print that echoed a key)."""
    for path in paths:
        if not secrets or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        clean = blank(text, secrets)
        if clean != text:
            with atomic_path(path) as tmp:
                tmp.write_text(clean, encoding="utf-8")


def absolute_paths(env: dict[str, str], base: Path) -> dict[str, str]:
    """``env`` with every relative path of :data:`PATH_ENVS` and :data:`PATH_LISTS` made absolute under ``base``."""

    def absolute(value: str) -> str:
        if not value or Path(value).expanduser().is_absolute():
            return value
        return str(base / value)

    fixed = dict(env)
    for name in PATH_ENVS:
        if fixed.get(name, "").strip():
            fixed[name] = absolute(fixed[name].strip())
    for name in PATH_LISTS:
        if fixed.get(name):
            fixed[name] = os.pathsep.join(absolute(p) for p in fixed[name].split(os.pathsep))
    return fixed


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _failure(exc: Any, result: dict[str, Any] | None) -> dict[str, Any]:
    """Why a notebook failed: the story's own error when the notebook recorded one, else papermill's."""
    scenes = (result or {}).get("failed_scenes") or []
    reason = (result or {}).get("error") or f"{exc.ename}: {exc.evalue}".strip(": ")
    return {"error": str(reason).splitlines()[0] if reason else exc.ename, "failed_scenes": scenes,
            "ename": exc.ename, "cell": exc.exec_count}  # fmt: skip


class JobSlot:
    """One warm kernel and the one thread that drives it; :meth:`run` runs a job there."""

    def __init__(self, settings: SlotSettings) -> None:
        self.settings = settings
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shortskit-slot")
        self.kernel: Any = None  # a WarmKernel, started by the first job
        self._stats: dict[str, Any] = {"cpu": 0.0, "loads": {}}
        self.stopping = False  # set by kill(): a lost kernel is then not restarted

    def submit(self, job: Job) -> Future[dict[str, Any]]:
        return self.pool.submit(self._run, job)

    def run(self, job: Job) -> dict[str, Any]:
        """Run ``job`` on the slot's thread and wait for its record (used by dask workers)."""
        return self.submit(job).result()

    def kill(self) -> None:
        """Interrupt the story running now (its kernel is killed); :meth:`close` then returns at once."""
        self.stopping = True
        if self.kernel is not None:
            self.kernel.kill()

    def close(self) -> None:
        def stop() -> None:
            if self.kernel is not None:
                self.kernel.shutdown()
                self.kernel = None

        self.pool.submit(stop).result()
        self.pool.shutdown(wait=True)

    def _kernel(self, notebook: Path) -> Any:
        from shortskit.batch.warm import WarmKernel

        if self.kernel is None:
            # this process's folder: where the batch was started (or, on dask, where the worker was)
            env = absolute_paths({**os.environ, **self.settings.env}, Path.cwd())
            self.kernel = WarmKernel(kernel_name=self.settings.kernel_name, cwd=notebook.parent, env=env)
            self._stats = self.kernel.stats()
        return self.kernel

    def _measured(self) -> dict[str, Any]:
        """CPU seconds and model loads since the last call (0 when the kernel cannot say: it died)."""
        try:
            now = self.kernel.stats()
        except Exception:
            return {"cpu_seconds": None, "model_loads": {}}
        before, self._stats = self._stats, now
        loads = {k: n - before["loads"].get(k, 0) for k, n in now["loads"].items() if n > before["loads"].get(k, 0)}
        return {"cpu_seconds": round(now["cpu"] - before["cpu"], 2), "model_loads": loads}

    def _recover(self, *, hung: bool = False) -> None:
        """A kernel that died, hung or failed to reset: a new process, warmed up again (else a new kernel).

        A kernel that ``hung`` (past its time limit) is killed with everything it runs and dropped: the next
        story starts a kernel of its own (its client may still wait on the hung cell's messages).
        """
        if hung:
            with contextlib.suppress(Exception):
                self.kernel.kill()
            with contextlib.suppress(Exception):
                self.kernel.shutdown()
            self.kernel = None
            return
        try:
            self.kernel.restart()
            self._stats = self.kernel.stats()
        except Exception:  # it would not come back: the next story starts a kernel of its own
            with contextlib.suppress(Exception):
                self.kernel.shutdown()
            self.kernel = None

    def _run(self, job: Job) -> dict[str, Any]:
        import papermill as pm

        from shortskit.batch.warm import ENGINE, KERNEL_LOST, KernelSetupError

        job.folder.mkdir(parents=True, exist_ok=True)
        for stale in (job.result, job.record):
            stale.unlink(missing_ok=True)
        started, t0 = _now(), time.perf_counter()
        overran = threading.Event()  # set when the story ran past its time limit
        record: dict[str, Any] = {"slug": job.slug, "story": str(job.story), "digest": job.digest,
                                  "worker": f"{socket.gethostname()}:{os.getpid()}", "started": started}  # fmt: skip
        try:
            kernel = self._kernel(job.notebook)
            try:
                kernel.reset()
            except KernelSetupError:
                self._recover()
                kernel = self._kernel(job.notebook)
                kernel.reset()

            # A cell past the limit raises CellTimeoutError (not an interrupt a hung C call never sees), and the
            # whole story past it has its kernel killed: either way the kernel is restarted for the next story.
            def overrun() -> None:
                overran.set()
                kernel.kill()

            limit = self.settings.timeout
            # a little after a cell's own limit, so a story of one long cell ends as that cell's timeout
            watchdog = threading.Timer(limit + _GRACE, overrun) if limit else None
            if watchdog is not None:
                watchdog.daemon = True
                watchdog.start()
            try:
                pm.execute_notebook(
                    str(job.notebook), str(job.executed), parameters=job.parameters, engine_name=ENGINE,
                    warm_kernel=kernel, kernel_name=self.settings.kernel_name, progress_bar=False,
                    execution_timeout=self.settings.timeout, interrupt_on_timeout=False,
                )  # fmt: skip
            finally:
                if watchdog is not None:
                    watchdog.cancel()
            record["status"] = "done"
        except pm.PapermillExecutionError as exc:
            record.update(status="failed", **_failure(exc, read_record(job.result)))
        except Exception as exc:  # the kernel would not start or reset: this story fails, the slot goes on
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}".splitlines()[0], failed_scenes=[])
        if overran.is_set() or record.get("ename") == "CellTimeoutError":
            limit = self.settings.timeout or 0
            record.update(status="failed", failed_scenes=[], ename=record.get("ename") or "CellTimeoutError",
                          error=f"ran past the batch's time limit of {limit:g} s; its kernel was killed")  # fmt: skip
        lost = (
            overran.is_set()
            or record.get("ename") in KERNEL_LOST
            or (self.kernel is not None and not _alive(self.kernel))
        )
        record.update(self._measured() if not lost else {"cpu_seconds": None, "model_loads": {}})
        if lost and self.kernel is not None and not self.stopping:
            self._recover(hung=overran.is_set() or record.get("ename") == "CellTimeoutError")
        result = read_record(job.result) or {}
        if record["status"] == "done" and not (result.get("ok") and job.video.is_file()):
            record.update(status="failed", error="the notebook finished without making the short", failed_scenes=[])
        for k in ("title", "duration", "scenes"):
            if k in result:
                record[k] = result[k]
        record.setdefault("title", result.get("title") or job.title)
        record.update(seconds=round(time.perf_counter() - t0, 2), finished=_now())
        secrets = secret_values({**os.environ, **self.settings.env})
        with atomic_path(job.record) as tmp:
            tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        scrub([job.executed, job.result, job.record], secrets)
        return read_record(job.record) or record


def _alive(kernel: Any) -> bool:
    try:
        return bool(kernel.is_alive())
    except Exception:
        return False


def _outcome(job: Job, fut: Future[dict[str, Any]]) -> dict[str, Any]:
    exc = fut.exception()
    if exc is None:
        return fut.result()
    # A bug or a full disk, not the story: recorded as a failure, and the other stories go on.
    return {"slug": job.slug, "story": str(job.story), "title": job.title, "status": "failed",
            "error": f"internal error: {type(exc).__name__}: {exc}".splitlines()[0], "failed_scenes": []}  # fmt: skip


def run_local(jobs: Sequence[Job], *, slots: int, settings: SlotSettings, on_record: OnRecord) -> None:
    """Run ``jobs`` on ``slots`` job slots in this process; ``on_record`` is told each record as it comes."""
    if not jobs:
        return
    idle = [JobSlot(settings) for _ in range(min(slots, len(jobs)))]
    made = list(idle)
    done: queue.Queue[tuple[JobSlot, Job, Future[dict[str, Any]]]] = queue.Queue()
    pending = 0
    clean = False
    try:
        for job in jobs:
            if not idle:  # wait for a slot to come free
                slot, finished, fut = done.get()
                pending -= 1
                on_record(_outcome(finished, fut))
                idle.append(slot)
            slot = idle.pop()
            slot.submit(job).add_done_callback(lambda f, s=slot, j=job: done.put((s, j, f)))
            pending += 1
        while pending:
            _, finished, fut = done.get()
            pending -= 1
            on_record(_outcome(finished, fut))
        clean = True
    finally:
        for slot in made:
            if not clean:  # interrupted: stop the running stories now rather than wait for them
                slot.kill()
            slot.close()
