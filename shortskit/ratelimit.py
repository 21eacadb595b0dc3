"""A provider's request rate shared by every process of a batch: a sliding window in a SQLite file or on Dask.

Each render limits its providers on its own event loop (:mod:`shortskit.scheduler`), so four stories rendering
in four kernels at once would send a 6-a-minute API 24 requests a minute. A batch sets one of two variables for
its workers, and every rate-limited provider then also takes a permit before each request:

- ``SHORTSKIT_RATE_DB``, a file: one table per provider and rate, counted under a file lock by pyrate-limiter,
  for every process on this host (SQLite's write-ahead log needs a local disk, not a network share);
- ``SHORTSKIT_RATE_DASK``, a dask scheduler's address: a semaphore on that scheduler whose leases are each given
  back a window after they were taken, for every process of the cluster (no shared disk or clock needed).

Unset, nothing here runs and renders behave as before.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from typing import Any

from shortskit.errors import ConfigError

__all__ = ["RATE_DASK_ENV", "RATE_DB_ENV", "SharedRate", "shared_rate", "window"]

RATE_DB_ENV = "SHORTSKIT_RATE_DB"
RATE_DASK_ENV = "SHORTSKIT_RATE_DASK"

# A permit is granted a little later than the bare rate allows: a request reaches the server some
# milliseconds after its permit (more on a busy machine), and a server counting a rolling minute must never
# see one request too many.
MARGIN = 0.02  # share of the window added
MARGIN_S = 0.25  # and seconds added

_LIMITERS: dict[tuple[str, str], Any] = {}
_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


def window(rate_per_minute: float, burst: int | None = None) -> tuple[int, float]:
    """``(requests, seconds)``: at most that many requests in any window of that many seconds.

    Like the per-process limit: a burst of ``burst`` (default: a minute's worth) and the same average rate.
    """
    size = burst or max(1, int(rate_per_minute))
    return size, 60.0 * size / rate_per_minute * (1 + MARGIN) + MARGIN_S


class SharedRate:
    """One provider's rate, shared through a table of the SQLite file ``db`` or a dask scheduler's semaphore."""

    def __init__(self, name: str, *, requests: int, seconds: float, db: str = "", dask: str = "") -> None:
        self.name = name  # the provider, as the scheduler names its limit
        self.requests = requests  # at most this many requests ...
        self.seconds = seconds  # ... in any window of this many seconds
        # One table (or semaphore) holds one limit: the rate is part of its name, so all agree on it.
        ident = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        self.table = f"rate_{ident}_{requests}_per_{round(seconds * 1000)}ms"
        self._limiter = _limiter(db, self.table, requests, seconds) if db else None
        self._semaphore = _semaphore(dask, self.table, requests) if dask else None

    async def acquire(self) -> None:
        """Wait until a request may start (as long as it takes: the window bounds the wait)."""
        if self._limiter is not None:
            await self._limiter.try_acquire_async(self.table, timeout=-1)
            return
        await asyncio.to_thread(self._semaphore.acquire)
        # The lease goes back a window later: no more than `requests` start in any window.
        later = threading.Timer(self.seconds, self._semaphore.release)
        later.daemon = True
        later.start()


def _semaphore(address: str, name: str, leases: int) -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"{RATE_DASK_ENV} is set but dask is not installed: pip install 'shortskit[dask]'") from None
    with _LOCK:  # one client per scheduler in a process; it keeps the leases alive while they are held
        client = _CLIENTS.get(address)
        if client is None:
            client = _CLIENTS[address] = distributed.Client(address, set_as_default=False, timeout=60)
    return distributed.Semaphore(
        max_leases=leases, name=f"shortskit-{name}", scheduler_rpc=client.scheduler, loop=client.loop
    )


def _limiter(db: str, table: str, requests: int, seconds: float) -> Any:
    # One limiter per file and table in a process: each starts a thread that forgets old permits.
    with _LOCK:
        found = _LIMITERS.get((db, table))
        if found is None:
            try:
                from pyrate_limiter import Limiter, Rate, SQLiteBucket
            except ImportError:  # pragma: no cover - a core dependency
                raise ConfigError(
                    f"{RATE_DB_ENV} is set but pyrate-limiter is not installed: pip install 'pyrate-limiter[filelock]'"
                ) from None
            bucket = SQLiteBucket.init_from_file(
                [Rate(requests, round(seconds * 1000))], table=table, db_path=db, use_file_lock=True
            )
            found = _LIMITERS[(db, table)] = Limiter(bucket)
        return found


def shared_rate(name: str, rate_per_minute: float | None, burst: int | None = None) -> SharedRate | None:
    """The shared rate for provider ``name`` when a batch set one up (and it has a rate), else None."""
    dask = os.environ.get(RATE_DASK_ENV, "").strip()
    db = "" if dask else os.environ.get(RATE_DB_ENV, "").strip()
    if not (db or dask) or not rate_per_minute:
        return None
    requests, seconds = window(rate_per_minute, burst)
    return SharedRate(name, requests=requests, seconds=seconds, db=db, dask=dask)
