"""Batch benchmark: throughput of ``shortskit batch`` offline, and an image-API-bound batch against its bound.

1. Offline: N stories of about 20 s each (eSpeak voice, procedural pictures, music bed, 1080x1920, at draft
   quality: ``-p quality draft``) with ``--jobs 1`` and then ``--jobs 2``, each in a fresh workspace. Printed: wall
   time, seconds and CPU seconds a short, the jobs-2 / jobs-1 throughput ratio, and 180 shorts extrapolated
   from the faster run (target: under 25 minutes on 2 cores).
2. API-bound: stories whose pictures come from a local imitation of Together's API, rate limited to 6 a minute
   and shared by three jobs. Printed: the whole batch's time over the rate limit's bound, ``images / rate``
   (target: within 10%), and how many requests the server refused (429; target: none).

Ratios in one run, never timed tests; the machine may be shared, so timings are noisy.

    python bench/batch.py                   # 12 offline stories + 12 images at 6 a minute (about 8 minutes)
    python bench/batch.py --stories 4 --images 6 --skip-offline
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fakeservers: the local API imitation the tests use

import shortskit  # noqa: E402
from tests.fakeservers import FakeAPI, Received, Reply  # noqa: E402

WORDS = [
    "ocean",
    "forest",
    "river",
    "mountain",
    "city",
    "lantern",
    "harbour",
    "meadow",
    "thunder",
    "glacier",
    "desert",
    "island",
    "canyon",
    "valley",
    "morning",
    "evening",
    "quiet",
    "bright",
    "ancient",
    "hidden",
    "golden",
    "silver",
    "gentle",
    "sudden",
    "distant",
    "curious",
    "patient",
    "brave",
    "travels",
    "whispers",
    "gathers",
    "remembers",
    "wanders",
    "listens",
    "carries",
    "follows",
    "discovers",
    "watches",
]


def offline_story(i: int, scenes: int = 4, words: int = 12) -> dict[str, Any]:
    """About 20 s of narration (4 scenes of 12 words at eSpeak's 175 a minute, with pauses), words of its own."""
    rng = random.Random(i)
    return {
        "title": f"Story {i}",
        "language": "en",
        "scenes": [
            {
                "text": " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + ".",
                "image_prompt": f"story {i}, scene {n}",
            }
            for n in range(scenes)
        ],
    }


def write(folder: Path, stories: list[dict[str, Any]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, story in enumerate(stories):
        path = folder / f"s{i:03d}.json"
        path.write_text(json.dumps(story))
        paths.append(path)
    return paths


def offline(tmp: Path, n: int) -> None:
    stories = write(tmp / "offline", [offline_story(i) for i in range(n)])
    runs: dict[int, float] = {}
    cpu: dict[int, float] = {}
    for jobs in (1, 2):
        out = tmp / f"out-jobs{jobs}"
        t0 = time.perf_counter()
        result = shortskit.run_batch(
            stories,
            out,
            jobs=jobs,
            parameters={"quality": "draft", "workspace": str(tmp / f"ws-jobs{jobs}")},
            progress=False,
        )
        wall = time.perf_counter() - t0
        s = result.summary
        assert s["done"] == n, result.failed
        runs[jobs] = wall
        cpu[jobs] = float(s["cpu_seconds_per_short"] or 0)
        video = s["video_seconds"] / n
        print(
            f"offline --jobs {jobs}: {n} shorts ({video:.1f} s of video each) in {wall:.1f} s: "
            f"{wall / n:.2f} s a short, {s['cpu_seconds_per_short']} CPU s a short, {s['shorts_per_hour']} an hour"
        )
    best = min(runs.values())
    print(f"throughput --jobs 2 / --jobs 1: {runs[1] / runs[2]:.2f}x")
    print(f"180 shorts extrapolated from the faster run: {180 * best / n / 60:.1f} min (target: under 25 min)")
    # What the work itself needs, whatever else the machine is doing: CPU seconds over this process's cores.
    from shortskit.batch.driver import cores

    print(f"180 shorts by CPU seconds alone: {180 * cpu[2] / cores() / 60:.1f} min on {cores()} cores")


def api_bound(tmp: Path, images: int, rate: float, jobs: int) -> None:
    scenes = 3
    n = max(1, images // scenes)
    api = FakeAPI(key="sk-bench-not-a-real-key")
    normal = api.routes[FakeAPI.IMAGES]
    refused: list[float] = []

    def counted(got: Received) -> Reply:  # the server's own rule: at most `rate` in any minute
        recent = [r for r in api.calls(FakeAPI.IMAGES) if got.at - 60 < r.at <= got.at]
        if len(recent) > rate:
            refused.append(got.at)
            return Reply(429, {"error": {"message": "rate limit"}}, {"retry-after": "10"})
        return normal(got)

    api.routes[FakeAPI.IMAGES] = counted
    small = {"width": 270, "height": 480, "fps": 15}
    stories = [
        {
            **offline_story(100 + i, scenes=scenes, words=6),
            "images": {"provider": "together", "rate_per_minute": rate, "rate_burst": 1},
            "output": small,
            "music": {"enabled": False},
        }
        for i in range(n)
    ]
    paths = write(tmp / "api", stories)
    import os

    os.environ.update(TOGETHER_API_KEY="sk-bench-not-a-real-key", TOGETHER_BASE_URL=api.v1)
    # the rate is the operator's to set (a story may only lower it): the same number as the stories'
    os.environ["SHORTSKIT_LIMITS"] = f"images.together.rate_per_minute={rate:g}, images.together.rate_burst=1"
    t0 = time.perf_counter()
    try:
        result = shortskit.run_batch(
            paths,
            tmp / "out-api",
            jobs=jobs,
            parameters={"quality": "draft", "workspace": str(tmp / "ws-api")},
            progress=False,
        )
    finally:
        api.close()
    wall = time.perf_counter() - t0
    asked = len(api.calls(FakeAPI.IMAGES))
    bound = n * scenes / rate * 60
    print(
        f"API-bound: {n} stories x {scenes} images at {rate:g} a minute, {jobs} jobs: {wall:.1f} s, bound "
        f"images / rate = {bound:.1f} s, ratio {wall / bound:.3f} (target: <= 1.10); {asked} requests, "
        f"{len(refused)} refused (429); {result.summary['failed']} failed"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=12, help="offline stories (default 12)")
    parser.add_argument("--images", type=int, default=12, help="images of the API-bound batch (default 12)")
    parser.add_argument("--rate", type=float, default=6, help="the API's images a minute (default 6)")
    parser.add_argument("--skip-offline", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shortskit-bench-batch-") as tmp:
        if not args.skip_offline:
            offline(Path(tmp), args.stories)
        if not args.skip_api:
            api_bound(Path(tmp), args.images, args.rate, jobs=3)


if __name__ == "__main__":
    main()
