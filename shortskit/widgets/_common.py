"""What the widgets share: the status-line note, media previews and running button work in the background."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import ipywidgets as w

from shortskit.errors import ShortskitError
from shortskit.handles import running_loop

__all__ = ["THUMB", "Background", "media", "note"]

THUMB = "135px"  # preview width: a 9:16 picture or clip at a glance


def note(text: str, kind: str = "info") -> str:
    color = {"info": "#555", "ok": "#1b7f3b", "error": "#b00020"}[kind]
    return f'<span style="color:{color}">{html.escape(text, quote=False)}</span>'


def media(widget: w.Image | w.Audio | w.Video, path: Path) -> None:
    widget.format = path.suffix.lstrip(".").lower().replace("jpg", "jpeg")
    widget.value = path.read_bytes()


class Background:
    """Runs button work as tasks on the running loop and shows what went wrong in a status line."""

    _tasks: set[asyncio.Task[Any]]
    error: BaseException | None

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        loop = running_loop()
        if loop is None:  # a plain script or test: nothing else to keep responsive, so run it now
            asyncio.run(coro)
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait(self) -> None:
        """Wait until the work the buttons started has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _guard(self, status: w.HTML, coro: Coroutine[Any, Any, Any]) -> Any:
        self.error = None
        try:
            return await coro
        except asyncio.CancelledError:
            status.value = note("cancelled")
            raise
        except ShortskitError as exc:
            self.error = exc
            status.value = note(str(exc), "error")
        except Exception as exc:  # shown rather than lost in the kernel's log
            self.error = exc
            status.value = note(f"{type(exc).__name__}: {exc}", "error")
        return None
