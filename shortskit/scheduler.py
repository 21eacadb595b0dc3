"""Per-provider limits (jobs at once, requests a minute) and retries with backoff that honour Retry-After.

Every call to a provider goes through :func:`call`: it waits for a slot of the provider's :class:`Limit`
(a semaphore for concurrency, an ``aiolimiter`` leaky bucket for the request rate), and retries failures
that are worth retrying (429, 5xx, timeouts, dropped connections) with ``tenacity``. User errors (400, 401,
403, a bad story) fail at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from shortskit.errors import ProviderError
from shortskit.ratelimit import shared_rate

__all__ = ["Limit", "RetryPolicy", "call", "is_retryable", "shared_limit"]

log = logging.getLogger("shortskit")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How failed provider calls are retried."""

    attempts: int = 5  # tries in all, the first one included
    initial: float = 1.0  # seconds before the first retry (doubles each time)
    maximum: float = 60.0  # longest backoff between two tries, seconds
    jitter: float = 0.5  # up to this many random seconds added, so parallel jobs do not retry in step
    max_retry_after: float = 300.0  # longest server-requested wait (Retry-After) we accept, seconds


class Limit:
    """How many jobs may run at once for one provider, and how many may start a minute."""

    def __init__(
        self,
        name: str,
        *,
        concurrency: int = 1,
        rate_per_minute: float | None = None,
        burst: int | None = None,
        within: Limit | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        # a story's own, lower limit runs inside the operator's shared one (which alone is shared across processes)
        self.within = within
        self.name = name
        self.concurrency = concurrency
        self.rate_per_minute = rate_per_minute
        self._sem = asyncio.Semaphore(concurrency)
        # A leaky bucket: a burst of `burst` requests (default: a minute's worth, as APIs count per minute),
        # then one every 60/rate seconds.
        self._rate = None
        if rate_per_minute:
            size = burst or max(1, int(rate_per_minute))
            self._rate = AsyncLimiter(size, 60 * size / rate_per_minute)
        # a batch's rate across processes, if it set one
        self._shared = shared_rate(name, rate_per_minute, burst) if within is None else None
        self.waiting = 0  # jobs waiting for a slot
        self.in_flight = 0  # jobs running now
        self.max_in_flight = 0  # the most that ever ran at once (tests and benchmarks read it)
        self.started = 0  # jobs started, retries included

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one job slot (and one request of the rate budget) for the duration of the block."""
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        try:
            if self._rate is not None:
                await self._rate.acquire()
            if self._shared is not None:
                await self._shared.acquire()
            async with self.within.slot() if self.within is not None else contextlib.nullcontext():
                self.in_flight += 1
                self.started += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    yield
                finally:
                    self.in_flight -= 1
        finally:
            self._sem.release()


# Limits shared by every render running on one event loop (``start_many``, a batch in one process), so
# that three stories at once still send a 6-a-minute API six requests a minute, not eighteen.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Limit]] = weakref.WeakKeyDictionary()


def shared_limit(
    name: str,
    *,
    concurrency: int = 1,
    rate_per_minute: float | None = None,
    burst: int | None = None,
    within: Limit | None = None,
) -> Limit:
    """The :class:`Limit` for ``name`` with these settings on the running event loop, made on first use.

    Renders that name the same provider with the same settings share one. A story's own, lower limits are made
    ``within`` the operator's shared one, so a story's numbers never get a bucket outside the operator's.
    """
    table = _SHARED.setdefault(asyncio.get_running_loop(), {})
    key = f"{name}|{concurrency}|{rate_per_minute}|{burst}|{id(within) if within is not None else ''}"
    limit = table.get(key)
    if limit is None:
        limit = table[key] = Limit(
            name, concurrency=concurrency, rate_per_minute=rate_per_minute, burst=burst, within=within
        )
    return limit


def is_retryable(exc: BaseException) -> bool:
    """True for failures a later try may not have: 429, 5xx, timeouts, dropped connections."""
    if isinstance(exc, ProviderError):
        return exc.retryable
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return True
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a core dependency
        return False
    return isinstance(exc, (httpx.TimeoutException, httpx.TransportError))


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(max(float(retry_after), 0.0), policy.max_retry_after)
        backoff = min(policy.maximum, policy.initial * 2 ** (state.attempt_number - 1))
        return backoff + random.uniform(0, policy.jitter)

    return wait


async def call(
    fn: Callable[[], Awaitable[T]],
    *,
    limit: Limit,
    policy: RetryPolicy | None = None,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
    stop: Callable[[], BaseException | None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> T:
    """Run ``fn()`` within ``limit``, retrying retryable failures as ``policy`` says.

    ``on_retry(error, attempt, wait_seconds)`` is told before each wait. When the tries run out the last
    error is raised, its message saying how many tries were made. ``stop()`` is asked once a slot is free,
    before each try: an error it returns is raised instead of calling ``fn`` (a key already rejected).
    ``on_error(error)`` hears each failed try while its slot is still held, so what it records is seen by
    every call waiting for that slot.
    """
    policy = policy or RetryPolicy()

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("%s: try %d failed (%s); retrying in %.1f s", limit.name, state.attempt_number, exc, wait)
        if on_retry is not None and exc is not None:
            on_retry(exc, state.attempt_number, wait)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_wait(policy),
        retry=retry_if_exception(is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
    attempts = 0
    try:
        async for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                async with limit.slot():
                    stopped = stop() if stop is not None else None
                    if stopped is not None:
                        raise stopped
                    try:
                        return await fn()
                    except Exception as exc:
                        if on_error is not None:
                            on_error(exc)
                        raise
    except ProviderError as exc:
        if exc.retryable and attempts > 1:
            raise _gave_up(exc, attempts) from None
        raise
    raise AssertionError("unreachable")  # pragma: no cover - AsyncRetrying either returns or raises


def _gave_up(exc: ProviderError, attempts: int) -> ProviderError:
    return exc.replace(message=f"{exc.message} (gave up after {attempts} tries)", retryable=False)
