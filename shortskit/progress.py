"""Progress of a render: typed events (what stage of which scene changed state) and the count behind them.

A render reports every step as an :class:`Event` to the ``on_progress`` hook a tqdm bar, a widget or a log
listens to; ``fraction`` is the share of the whole render done, cached steps counting as done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["STAGES", "Event", "Progress", "ProgressHook", "Stage", "State"]

log = logging.getLogger("shortskit")

Stage = Literal["image", "voice", "captions", "clip", "soundtrack", "merge"]
State = Literal["started", "cached", "done", "retrying", "failed"]
STAGES: tuple[Stage, ...] = ("image", "voice", "captions", "clip", "soundtrack", "merge")

# Steps a scene reports as done or cached (image, voice, captions, clip); the soundtrack and merge add two.
SCENE_STEPS = 4


@dataclass(frozen=True)
class Event:
    """A progress report: what stage of which scene changed state."""

    stage: Stage
    state: State
    scene: int | None = None  # 1-based; None for the soundtrack and the merge
    fraction: float = 0.0  # share of the whole render done (cached steps count as done), 0..1
    path: Path | None = None  # the artefact, once there
    error: BaseException | None = None  # set when state is "failed" or "retrying"
    message: str = ""  # a short human note (e.g. the retry wait)


ProgressHook = Callable[[Event], Any]


class Progress:
    """Counts a render's steps, logs them and hands each one to the hook as an :class:`Event`."""

    def __init__(self, scenes: int, hook: ProgressHook | None = None) -> None:
        self.hook = hook
        self.total = SCENE_STEPS * scenes + 2
        self.done_steps = 0
        self.made: dict[str, int] = dict.fromkeys(STAGES, 0)  # artefacts made (not reused) per stage

    def emit(self, stage: Stage, state: State, scene: int | None = None, **details: Any) -> None:
        """Report that ``stage`` of ``scene`` (None: the whole short) is now ``state``."""
        where = f"scene {scene}" if scene else "short"
        if state in ("cached", "done"):
            self.done_steps += 1
            if state == "done":
                self.made[stage] += 1
            log.info("%s %s: %s", where, stage, "reused" if state == "cached" else "made")
        elif state == "failed":
            log.debug("%s %s failed: %s", where, stage, details.get("error"))
        if self.hook is not None:
            self.hook(Event(stage, state, scene, fraction=self.done_steps / self.total, **details))
