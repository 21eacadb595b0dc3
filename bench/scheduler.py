"""Scheduling benchmark: how close a story gets to its critical-path lower bound.

Simulated providers with fixed latencies (image 3 s at 6 images a minute, voice 1 s one at a time, clip
render 1 s, two renders at once) run through three strategies in one run:

- sequential: one scene after another, waiting out the image rate limit before each image;
- naive gather: every scene at once with ``asyncio.gather``, a semaphore of 1 around images and a 12 s
  sleep after each image (how a first version of such a tool usually respects "6 a minute");
- ours: the real ``shortskit.render`` pipeline with the same latencies as registered providers and a clip
  engine that waits 1 s, then writes a real (tiny) clip; the final merge is real ffmpeg.

Each time is printed over the lower bound: the latest of (the last image the rate limit lets start, plus
its latency and one clip render), (all voices back to back, plus one clip render) and (all clip renders
two at a time, after the first scene is ready), plus the merge. ``--scale`` shrinks every latency and the
rate period alike (the ratios do not change), so the run is short.

    python bench/scheduler.py                 # 5 and 20 scenes, scale 0.2 (about 2 minutes)
    python bench/scheduler.py --scale 1       # real seconds (about 7 minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import shortskit
from shortskit.engines.base import ClipSpec
from shortskit.engines.ffmpeg import render_clip

IMAGE_S, VOICE_S, CLIP_S = 3.0, 1.0, 1.0
RATE_PER_MIN = 6
RENDER_JOBS = 2
NAIVE_SLEEP_S = 12.0
SPOKEN_S = 2.0  # every simulated voice-over lasts this long


class Sim:
    """The latencies of one benchmark run (all multiplied by ``scale``)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.image, self.voice, self.clip = IMAGE_S * scale, VOICE_S * scale, CLIP_S * scale
        self.period = 60.0 * scale  # the rate limit's minute
        self.naive_sleep = NAIVE_SLEEP_S * scale


def _silent_wav(path: Path, seconds: float, rate: int = 16000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))


def providers(sim: Sim) -> None:
    """Register the simulated image and voice providers."""

    class SimImages:
        name, version = "sim-images", "1"
        max_concurrency = RATE_PER_MIN  # a remote API: as many in flight as the rate lets start
        rate_per_minute = RATE_PER_MIN / sim.scale  # 6 a (scaled) minute
        rate_burst = RATE_PER_MIN

        def settings(self) -> dict[str, Any]:
            return {"scale": sim.scale}

        async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
            from PIL import Image

            await asyncio.sleep(sim.image)
            Image.new("RGB", (width, height), (40, 90, 160)).save(out)
            return out

    class SimVoice:
        name, version = "sim-voice", "1"
        max_concurrency = 1

        def settings(self) -> dict[str, Any]:
            return {"scale": sim.scale}

        async def synthesize(self, text: str, out: Path, *, language: str) -> shortskit.Speech:
            await asyncio.sleep(sim.voice)
            _silent_wav(out, SPOKEN_S)
            words = tuple(
                shortskit.Word(w, i * SPOKEN_S / len(text.split()), (i + 1) * SPOKEN_S / len(text.split()))
                for i, w in enumerate(text.split())
            )
            return shortskit.Speech(out, SPOKEN_S, 16000, words)

    shortskit.register_image("sim", SimImages)
    shortskit.register_voice("sim", SimVoice)


class SimEngine:
    """Waits the simulated render time, then writes a real clip (tiny, so ffmpeg's own time is small)."""

    name, version = "sim", "1"

    def __init__(self, sim: Sim, template: Path) -> None:
        self.sim, self.template = sim, template

    async def render_clip(self, spec: ClipSpec, out: Path, **_: Any) -> Path:
        await asyncio.sleep(self.sim.clip)
        shutil.copyfile(self.template, out)
        return out


def story(n: int) -> shortskit.Story:
    return shortskit.parse_story(
        {
            "title": "bench",
            "language": "en",
            "pause": 0.0,
            "voice": {"provider": "sim"},
            "images": {"provider": "sim", "width": 144, "height": 256},
            "output": {"width": 144, "height": 256, "fps": 10, "quality": "draft"},
            "captions": {"enabled": False},
            "music": {"enabled": False},
            "scenes": [{"text": f"scene {i} words here", "image_prompt": f"prompt {i}"} for i in range(n)],
        }
    )


async def ours(n: int, sim: Sim, template: Path, tmp: Path) -> tuple[float, float]:
    """The real pipeline; returns (total seconds, merge seconds)."""
    marks: dict[str, float] = {}

    def hook(e: shortskit.Event) -> None:
        if e.stage == "merge":
            marks[e.state] = time.perf_counter()

    t0 = time.perf_counter()
    await shortskit.render(
        story(n), tmp / f"ours{n}.mp4", workspace=tmp / f"ws{n}", engine=SimEngine(sim, template),
        render_jobs=RENDER_JOBS, on_progress=hook,
    )  # fmt: skip
    total = time.perf_counter() - t0
    return total, marks.get("done", 0) - marks.get("started", 0)


async def sequential(n: int, sim: Sim, merge_s: float) -> float:
    t0 = time.perf_counter()
    starts: list[float] = []
    for _ in range(n):
        # wait until a 7th image in any minute window would be allowed
        if len(starts) >= RATE_PER_MIN:
            wait = starts[-RATE_PER_MIN] + sim.period - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        starts.append(time.perf_counter())
        await asyncio.sleep(sim.image)
        await asyncio.sleep(sim.voice)
        await asyncio.sleep(sim.clip)
    await asyncio.sleep(merge_s)
    return time.perf_counter() - t0


async def naive_gather(n: int, sim: Sim, merge_s: float) -> float:
    image_lock, voice_lock = asyncio.Semaphore(1), asyncio.Semaphore(1)
    render_lock = asyncio.Semaphore(RENDER_JOBS)

    async def scene() -> None:
        async with image_lock:
            await asyncio.sleep(sim.image)
            await asyncio.sleep(sim.naive_sleep)
        async with voice_lock:
            await asyncio.sleep(sim.voice)
        async with render_lock:
            await asyncio.sleep(sim.clip)

    t0 = time.perf_counter()
    await asyncio.gather(*(scene() for _ in range(n)))
    await asyncio.sleep(merge_s)
    return time.perf_counter() - t0


def lower_bound(n: int, sim: Sim, merge_s: float) -> float:
    interval = sim.period / RATE_PER_MIN
    last_image_start = max(0, n - RATE_PER_MIN) * interval
    by_images = last_image_start + sim.image + sim.clip
    by_voices = n * sim.voice + sim.clip
    by_renders = min(sim.image, sim.voice) + math.ceil(n / RENDER_JOBS) * sim.clip
    return max(by_images, by_voices, by_renders) + merge_s


def template_clip(tmp: Path) -> Path:
    """One real tiny clip of the simulated scene length, rendered once by the ffmpeg engine."""
    from PIL import Image

    img, wav, out = tmp / "t.png", tmp / "t.wav", tmp / "t.mp4"
    Image.new("RGB", (144, 256), (40, 90, 160)).save(img)
    _silent_wav(wav, SPOKEN_S)
    spec = ClipSpec(image=img, voice=wav, duration=SPOKEN_S, width=144, height=256, fps=10, quality="draft")
    asyncio.run(render_clip(spec, out))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.2, help="multiply every latency and the rate period")
    ap.add_argument("--scenes", type=int, nargs="+", default=[5, 20])
    args = ap.parse_args()
    sim = Sim(args.scale)
    providers(sim)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        template = template_clip(tmp)
        for n in args.scenes:
            t_ours, merge_s = asyncio.run(ours(n, sim, template, tmp))
            bound = lower_bound(n, sim, merge_s)
            t_seq = asyncio.run(sequential(n, sim, merge_s))
            t_naive = asyncio.run(naive_gather(n, sim, merge_s))
            rows.append((n, bound, t_seq, t_naive, t_ours))
    print(f"scheduler benchmark (scale {args.scale}: image {sim.image:.2f} s at {RATE_PER_MIN}/{sim.period:.1f} s, "
          f"voice {sim.voice:.2f} s x1, clip {sim.clip:.2f} s x{RENDER_JOBS})")  # fmt: skip
    print(f"{'scenes':>6} {'bound s':>8} {'sequential':>11} {'naive':>8} {'ours':>8}   (time / bound)")
    ok = True
    for n, bound, t_seq, t_naive, t_ours in rows:
        ratio = t_ours / bound
        ok &= ratio <= 1.10
        print(f"{n:>6} {bound:>8.2f} {t_seq / bound:>11.2f} {t_naive / bound:>8.2f} {ratio:>8.2f}")
    print(f"target: ours within 10% of the bound -> {'PASS' if ok else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
