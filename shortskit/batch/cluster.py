"""The same per-story job on Dask: a LocalCluster (``cluster="local"``) or an existing scheduler's workers.

Each worker gets one job slot (a warm kernel on its own thread) from a worker plugin, so a model loads once
per worker; stories are submitted as tasks and their records come back as they finish. Outputs are written by
the workers, so OUTDIR must be a path every worker sees. Secrets stay in the workers' own environment: a
task's arguments (which dask prints in its logs) hold paths and parameters only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from shortskit.batch.jobs import Job
from shortskit.batch.runner import JobSlot, OnRecord, SlotSettings
from shortskit.errors import ConfigError

try:
    from distributed import WorkerPlugin
except ImportError:  # without the dask extra, run_dask says what to install
    WorkerPlugin = object

__all__ = ["PLUGIN", "SlotPlugin", "run_dask", "story_task"]

PLUGIN = "shortskit-slot"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError("--cluster needs dask: pip install 'shortskit[dask]'") from None
    return distributed


class SlotPlugin(WorkerPlugin):  # type: ignore[misc, valid-type]
    """One job slot per worker, made when the worker joins (the kernel starts with its first story)."""

    idempotent = True  # registering it again (a second batch on the same cluster) keeps the warm slots

    def __init__(self, settings: SlotSettings) -> None:
        self.settings = settings  # pickled to every worker: it must hold nothing live
        self.slot: JobSlot | None = None

    def setup(self, worker: Any) -> None:
        self.slot = JobSlot(self.settings)

    def teardown(self, worker: Any) -> None:
        if self.slot is not None:
            self.slot.close()


def story_task(job: Job) -> dict[str, Any]:
    """A dask task: run ``job`` in this worker's slot (on the slot's own thread) and return its record."""
    from distributed import get_worker

    slot = get_worker().plugins[PLUGIN].slot
    return slot.run(job)


@contextmanager
def _client(address: str, workers: int) -> Iterator[Any]:
    distributed = _distributed()
    if address == "local":
        # Our own cluster's chatter (workers joining, leaving) is not news: warnings and errors only.
        chatter = logging.getLogger("distributed")
        level = chatter.level
        chatter.setLevel(max(level, logging.WARNING))
        # One single-threaded worker process per job: each runs one story at a time in its slot. Port 0:
        # any free port, so that two batches on one machine do not collide.
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", scheduler_port=0
        )
        try:
            with distributed.Client(cluster, set_as_default=False) as client:
                yield client
        finally:
            cluster.close()
            chatter.setLevel(level)
        return
    try:
        client = distributed.Client(address, set_as_default=False, timeout=30)
    except OSError as exc:
        raise ConfigError(f"cannot reach the dask scheduler at {address}: {exc}") from None
    with client:
        yield client


def run_dask(jobs: Sequence[Job], *, address: str, workers: int, settings: SlotSettings, on_record: OnRecord) -> None:
    """Run ``jobs`` on a dask cluster (``address``: ``local`` or ``tcp://host:8786``), one story per worker."""
    if not jobs:
        return
    distributed = _distributed()
    with _client(address, workers) as client:
        client.register_plugin(SlotPlugin(settings), name=PLUGIN)
        # pure=False and a key per story: a story submitted again really runs again.
        futures = {
            client.submit(story_task, job, key=f"story-{job.slug}-{job.digest[:8]}", pure=False): job for job in jobs
        }
        try:
            with client.as_current():  # where as_completed looks for its client
                for fut in distributed.as_completed(futures):
                    job = futures[fut]
                    if fut.status != "error":
                        on_record(fut.result())
                        continue
                    exc = fut.exception()
                    on_record({"slug": job.slug, "story": str(job.story), "title": job.title, "status": "failed",
                               "error": f"worker failed: {type(exc).__name__}: {exc}".splitlines()[0],
                               "failed_scenes": []})  # fmt: skip
        finally:
            client.cancel(list(futures))
            futures.clear()
