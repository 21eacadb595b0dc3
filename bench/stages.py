"""Where a fresh render's CPU goes, stage by stage: the real render, with its stages made to take turns.

:func:`profile` runs ``render_sync`` in a fresh workspace with each stage function of
:mod:`shortskit.stages` (and the sidecar writing) wrapped so that only one runs at a time, and counts the CPU
seconds (this process and its ffmpeg children) each one takes. Lazy imports count where they happen. The
clip stage is then split by running each clip's filter chain again with no encoder: what is left of the
clip is the x264 encode. Run it in a fresh process: the CPU already spent when it starts is the process
start (Python and the imports a render needs).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.frames import filters_cpu, record_specs
from bench.measure import cpu
from shortskit import load_story, pipeline, render_sync, soundtrack, stages

__all__ = ["profile", "stage_rows"]

# shortskit.stages function -> the stage it counts for
STAGES = {
    "picture": "image",
    "voice": "voice",
    "captions": "captions",
    "clip": "clip",
    "music_bed": "music bed",
    "soundtrack": "soundtrack",
    "final": "merge",
}


def _take_turns(spent: dict[str, float]) -> None:
    """Wrap every stage so that one runs at a time, adding its CPU seconds to ``spent[stage]``."""
    turn: list[asyncio.Lock] = []  # made on the render's own event loop

    def serial(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not turn:
                turn.append(asyncio.Lock())
            async with turn[0]:
                c = cpu()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    spent[name] += cpu() - c

        return wrapper

    for attr, name in STAGES.items():
        setattr(stages, attr, serial(name, getattr(stages, attr)))
    pipeline._sidecars = serial("sidecars", pipeline._sidecars)  # type: ignore[assignment]
    pipeline._deliver = serial("sidecars", pipeline._deliver)  # type: ignore[assignment]
    measure = soundtrack.measure

    def measured(*args: Any, **kwargs: Any) -> Any:  # runs inside the soundtrack stage's turn
        c = cpu()
        try:
            return measure(*args, **kwargs)
        finally:
            spent["loudness measurement"] += cpu() - c

    soundtrack.measure = measured  # type: ignore[assignment]


def profile(story_path: Path, out: Path, ws: Path, started: float) -> dict[str, Any]:
    """CPU seconds per stage of one fresh render of ``story_path`` (``started``: when the process began, time.time())."""
    spent: dict[str, float] = defaultdict(float)
    spent["process start"] = cpu()
    start_wall = time.time() - started
    _take_turns(spent)
    specs: list[Any] = []
    record_specs(specs)
    c, t = cpu(), time.perf_counter()
    result = render_sync(load_story(story_path), out, workspace=ws)
    wall, render_cpu = time.perf_counter() - t, cpu() - c
    spent["other"] = render_cpu - sum(v for k, v in spent.items() if k not in ("process start", "loudness measurement"))
    spent["soundtrack"] -= spent["loudness measurement"]
    spent["clip filters"] = sum(filters_cpu(s).cpu for _, s in specs)
    spent["clip"] -= spent["clip filters"]
    short = {"duration": result.duration, "frames": sum(s.frames for _, s in specs), "scenes": len(specs)}
    return {"cpu": dict(spent), "wall": wall, "start_wall": start_wall, **short}


# label, the keys it adds up
ROWS: list[tuple[str, tuple[str, ...]]] = [
    ("process start (Python + imports)", ("process start",)),
    ("image (procedural + PNG)", ("image",)),
    ("voice (eSpeak + word timings)", ("voice",)),
    ("captions (grouping + ASS)", ("captions",)),
    ("clip filters (PNG, scale, motion, ass)", ("clip filters",)),
    ("encode (x264 in the clips)", ("clip",)),
    ("soundtrack", ("music bed", "loudness measurement", "soundtrack")),
    ("  music bed", ("music bed",)),
    ("  loudness measurement (ebur128)", ("loudness measurement",)),
    ("  mix + limiter + AAC", ("soundtrack",)),
    ("merge (concat, copy)", ("merge",)),
    ("sidecars (SRT, metadata)", ("sidecars",)),
    ("other (checks, scheduling)", ("other",)),
]


def stage_rows(result: dict[str, Any]) -> list[str]:
    """The stage table: CPU seconds and share of the whole, per stage."""
    spent = result["cpu"]
    total = sum(v for k, v in spent.items())
    lines = [f"{'stage':<52}{'CPU s':>8}{'share':>8}"]
    for label, keys in ROWS:
        v = sum(spent.get(k, 0.0) for k in keys)
        lines.append(f"{label:<52}{v:>8.2f}{100 * v / total:>7.1f}%")
    lines.append(f"{'total (stages one at a time)':<52}{total:>8.2f}{100.0:>7.1f}%")
    walls = f"wall: process start {result['start_wall']:.2f} s, the render with its stages one at a time {result['wall']:.1f} s"
    return [*lines, walls]
