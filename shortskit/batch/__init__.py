"""Many stories headless: papermill runs a parameterized notebook per story in warm kernels, in parallel,
resumable, with a report in the morning, here or on a Dask cluster.

``shortskit.run_batch(["stories/"], "out")`` (or ``shortskit batch stories/ -o out``). The rooms: ``jobs``
(stories found, slugs, parameters, input digests), ``warm`` (the warm-kernel papermill engine), ``runner``
(job slots on this machine), ``cluster`` (the same jobs on Dask), ``report`` (summary and gallery),
``topics`` (stories written from topics), ``driver`` (the whole run).
"""

from __future__ import annotations

from shortskit.batch.driver import BatchResult, run_batch

__all__ = ["BatchResult", "run_batch"]
