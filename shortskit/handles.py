"""Renders that run in the background: ``start()`` returns a handle at once, so notebook cells stay free.

``handle = shortskit.start(story, "short.mp4")`` schedules :func:`~shortskit.pipeline.render` on the running
event loop (Jupyter's); ``handle.progress`` and ``handle.events`` follow it, ``await handle`` gives the result.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any

from shortskit.errors import ConfigError
from shortskit.pipeline import RenderResult, render
from shortskit.progress import Event
from shortskit.story import Story, load_story

__all__ = ["RenderHandle", "running_loop", "start", "start_many"]

StoryLike = Story | str | Path


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running now (Jupyter's, or the caller's ``asyncio.run``), or None outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    # Older kernels (tornado on asyncio) run callbacks on a loop that is running but not "current" here.
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if loop.is_running():
            return loop
    return None


class RenderHandle:
    """A render running in the background: watch it, cancel it, or ``await`` it for the RenderResult."""

    def __init__(self, story: Story, out: Path, on_progress: Callable[[Event], Any] | None = None) -> None:
        self.story = story  # the story being rendered
        self.out = out  # the MP4 it writes
        self.events: list[Event] = []  # every progress event so far, in order
        self.progress = 0.0  # share of the render done, 0..1 (the latest event's fraction)
        self._user_hook = on_progress
        self._task: asyncio.Task[RenderResult] | None = None

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self.progress = max(self.progress, event.fraction)
        if self._user_hook is not None:
            self._user_hook(event)

    def _started(self, task: asyncio.Task[RenderResult]) -> None:
        self._task = task
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[RenderResult]) -> None:
        # Retrieve the outcome so an unawaited failure is not reported as "exception never retrieved";
        # it stays available through result() and exception().
        if not task.cancelled() and task.exception() is None:
            self.progress = 1.0

    @property
    def task(self) -> asyncio.Task[RenderResult]:
        """The asyncio task running the render."""
        assert self._task is not None
        return self._task

    @property
    def status(self) -> str:
        """``running``, ``done``, ``failed`` or ``cancelled``."""
        if not self.task.done():
            return "running"
        if self.task.cancelled():
            return "cancelled"
        return "failed" if self.task.exception() is not None else "done"

    def done(self) -> bool:
        """True once the render finished, failed or was cancelled."""
        return self.task.done()

    def cancel(self) -> bool:
        """Stop the render (running ffmpeg jobs are killed); False if it had already finished."""
        return self.task.cancel()

    def cancelled(self) -> bool:
        """True if the render was cancelled."""
        return self.task.cancelled()

    def result(self) -> RenderResult:
        """The finished render; raises its error if it failed, ``InvalidStateError`` while it runs."""
        if not self.task.done():
            raise asyncio.InvalidStateError(f"render of {self.out.name} is still running; `await` the handle")
        return self.task.result()

    def exception(self) -> BaseException | None:
        """The error the render failed with, or None (raises ``InvalidStateError`` while it runs)."""
        if not self.task.done():
            raise asyncio.InvalidStateError(f"render of {self.out.name} is still running; `await` the handle")
        return self.task.exception()

    def add_done_callback(self, fn: Callable[[RenderHandle], Any]) -> None:
        """Call ``fn(handle)`` when the render ends, however it ends."""
        self.task.add_done_callback(lambda _t: fn(self))

    async def wait(self) -> RenderResult:
        """Wait for the render and return its result (raising its error)."""
        # shield: cancelling the awaiting cell must not cancel the render itself; cancel() does that
        return await asyncio.shield(self.task)

    def __await__(self) -> Generator[Any, None, RenderResult]:
        return self.wait().__await__()

    def __repr__(self) -> str:
        state = self.status if self._task is not None else "new"
        return f"<RenderHandle {self.out.name} {state} {self.progress:.0%}>"


def _as_story(story: StoryLike) -> Story:
    # A snapshot: the user may keep editing the story in another cell while this render runs.
    return story.model_copy(deep=True) if isinstance(story, Story) else load_story(story)


def start(
    story: StoryLike, out: str | Path, *, on_progress: Callable[[Event], Any] | None = None, **options: Any
) -> RenderHandle:
    """Start rendering ``story`` (a Story or a story file) into ``out`` and return a handle at once.

    ``options`` are :func:`~shortskit.pipeline.render`'s keyword arguments. Needs a running event loop: a
    Jupyter cell has one; in a script call it from async code, or use ``render_sync``.
    """
    loop = running_loop()
    if loop is None:
        raise ConfigError(
            "shortskit.start() needs a running event loop: call it in Jupyter or from async code "
            "(in a plain script use shortskit.render_sync)"
        )
    handle = RenderHandle(_as_story(story), Path(out), on_progress)
    handle._started(loop.create_task(render(handle.story, handle.out, on_progress=handle._on_event, **options)))
    return handle


def start_many(
    jobs: Iterable[tuple[StoryLike, str | Path] | tuple[StoryLike, str | Path, dict[str, Any]]], **options: Any
) -> list[RenderHandle]:
    """Start several renders at once: ``jobs`` are ``(story, out)`` or ``(story, out, options)`` tuples.

    ``options`` apply to every job (a job's own options win). One failing render does not stop the others;
    ``await asyncio.gather(*handles, return_exceptions=True)`` waits for all of them.
    """
    handles: list[RenderHandle] = []
    try:
        for job in jobs:
            story, out, *rest = job
            own: dict[str, Any] = rest[0] if rest else {}
            handles.append(start(story, out, **{**options, **own}))
    except BaseException:
        for h in handles:  # a bad job (missing story file) cancels the ones already started
            h.cancel()
        raise
    return handles
