"""Render benchmark (not a test): how shortskit's ffmpeg engine compares, measured in one run.

    python bench/render.py                 # a ~60 s short (takes a few minutes)
    python bench/render.py --seconds 15    # quick
    python bench/render.py --keep /tmp/bench   # keep stories, workspaces and videos

It builds a story of about ``--seconds`` of made-up English narration (espeak voice, procedural pictures),
then, each in a fresh workspace:

(a) ours: ``render_sync(story, out)`` with the ffmpeg engine at production quality;
(b) the moviepy engine on the same story;
(c) the floor: a plain libx264 encode of as many 1080x1920 frames at the same preset and crf;
(d) the cache: (a) again unchanged in its workspace, and a 5-scene story rendered, then re-rendered after
    editing scene 3's text.

Each engine runs in its own subprocess (this script with ``--only``), so peak RSS (``ru_maxrss`` of the
Python process and of its largest ffmpeg child) is measured per engine. Prints a table with the ratios and
PASS/MISS against the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run from a checkout without installing: make the package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shortskit import ffmpeg, load_story, parse_story, render_sync, save_story
from shortskit.engines.base import PRESETS
from shortskit.timing import clip_frames

TARGETS = {
    "moviepy/ours": (">=", 6.0),
    "ours/floor": ("<=", 1.5),
    "rerun/first": ("<=", 0.05),
    "edit/first": ("<=", 0.35),
    "peak RSS": ("<", 1024.0),  # MB
}

# Made-up narration: the keeper of a lighthouse that nobody remembers building.
SENTENCES = [
    "On a rock at the edge of the map stands a lighthouse that nobody remembers building.",
    "Its keeper, Marta, arrived forty years ago with a suitcase and a tin of biscuits.",
    "Every evening she climbs one hundred and twelve steps to light the lamp.",
    "The fishermen say the beam reaches farther than any lamp should.",
    "On clear nights it touches the coast of another country.",
    "One winter a storm tore the door from its hinges and filled the hall with seaweed.",
    "Marta swept it out, nailed the door back, and lit the lamp on time.",
    "In spring the gulls return and argue on the railings until dawn.",
    "She keeps a logbook of every ship that passes, and a second one of every ship that does not.",
    "Nobody has ever asked her what the second book is for.",
    "Once a year a supply boat brings flour, lamp oil and a single letter.",
    "The letter is always from the same sender, and it is always blank.",
    "Marta reads it anyway, slowly, at the kitchen table.",
    "Then she folds it into a paper boat and sets it on the tide.",
    "Scientists came once to measure the light and left without writing anything down.",
    "A painter stayed for a summer and painted the same wave four hundred times.",
    "Children in the village believe the lighthouse is older than the sea.",
    "Marta only smiles and says the sea was here first, but not by much.",
    "When the fog rolls in she rings a bell that sounds like a cello.",
    "Ships that hear it slow down, and nobody knows quite why.",
    "Last autumn a young sailor climbed the rocks to thank her for a night he could not explain.",
    "She gave him tea, a biscuit from the old tin, and a page from the second logbook.",
    "His ship's name was written there, dated the night before it ever set sail.",
    "He did not ask any questions, and she did not offer any answers.",
    "Tonight the lamp is lit again, turning slowly above the dark water.",
    "And somewhere out there, a ship is already on its way.",
]
PROMPTS = [
    "an old lighthouse on a rock at dusk, stormy sea",
    "a woman with a suitcase on a stone pier, morning mist",
    "a spiral staircase inside a lighthouse, warm lamplight",
    "a fishing boat at night under a bright beam of light",
    "a winter storm crashing against a lighthouse door",
    "gulls on iron railings at dawn, pastel sky",
    "a logbook on a wooden desk by a window, candle",
    "a paper boat floating on calm evening water",
    "fog over the sea, a bell in a lighthouse tower",
    "a lighthouse beam sweeping across a starry ocean",
]


# -- the story ---------------------------------------------------------------------------------------------


def build_story(seconds: float, work: Path) -> dict[str, Any]:
    """A story whose narration (espeak, plus pauses) lasts about ``seconds``: 9 scenes for 60 s, at least 5."""
    from shortskit.providers.espeak import EspeakVoice

    voice = EspeakVoice()
    n_scenes = max(5, min(10, round(seconds / 6.5)))
    texts: list[list[str]] = [[] for _ in range(n_scenes)]
    lengths = [0.0] * n_scenes
    pause = 0.4

    async def length(text: str, i: int) -> float:
        return (await voice.synthesize(text, work / f"calibrate-{i}.wav", language="en")).duration

    k = 0
    while k < n_scenes or sum(lengths) + pause * n_scenes < seconds:
        i = k % n_scenes
        texts[i].append(SENTENCES[k % len(SENTENCES)])
        lengths[i] = asyncio.run(length(" ".join(texts[i]), i))
        k += 1
    for f in work.glob("calibrate-*.wav"):
        f.unlink()
    return {
        "title": "The Lighthouse Nobody Built",
        "language": "en",
        "pause": pause,
        "scenes": [{"text": " ".join(t), "image_prompt": PROMPTS[i % len(PROMPTS)]} for i, t in enumerate(texts) if t],
    }


# -- one engine, in its own process --------------------------------------------------------------------


class ChildPeak:
    """Samples the peak RSS (VmHWM) of every ffmpeg descendant of this process, from /proc (Linux).

    ``ru_maxrss`` of RUSAGE_CHILDREN over-reports: a forked child's high-water mark starts from its
    parent's resident memory, so it is kept only as an upper bound beside this sampled figure.
    """

    def __init__(self, every: float = 0.2) -> None:
        import threading

        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def __enter__(self) -> ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self, every: float) -> None:
        me = os.getpid()
        while not self._stop.wait(every):
            parents: dict[int, int] = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        stat = Path(f"/proc/{entry}/stat").read_text()
                        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                    except (OSError, IndexError, ValueError):
                        continue
            mine = {me}
            for _ in range(4):  # children, grandchildren, ...
                mine |= {pid for pid, ppid in parents.items() if ppid in mine}
            for pid in mine - {me}:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                if "ffmpeg" not in status.split("\n", 1)[0]:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))


def _rss_mb(sampler: ChildPeak) -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    bound = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    child = sampler.peak_kb / 1024 if sampler.peak_kb else bound
    return {"python_mb": own, "child_mb": child, "child_bound_mb": bound, "peak_mb": max(own, child)}


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children so far."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(story: Any, out: Path, **options: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of one render."""
    c, t = _cpu(), time.perf_counter()
    result = render_sync(story, out, **options)
    return time.perf_counter() - t, _cpu() - c, result


def run_only(kind: str, root: Path, jobs: int | None) -> dict[str, Any]:
    with ChildPeak() as sampler:
        report = _run_only(kind, root, jobs)
    return {**report, **_rss_mb(sampler)}


def _run_only(kind: str, root: Path, jobs: int | None) -> dict[str, Any]:
    opts: dict[str, Any] = {} if jobs is None else {"render_jobs": jobs}
    if kind in ("ours", "moviepy"):
        story = load_story(root / "story.json")
        ws = root / ("ws1" if kind == "ours" else "ws2")
        engine = "ffmpeg" if kind == "ours" else "moviepy"
        first, cpu, result = _timed(story, root / f"{kind}.mp4", workspace=ws, engine=engine, **opts)
        report: dict[str, Any] = {
            "first": first,
            "first_cpu": cpu,
            "duration": result.duration,
            "frames": sum(clip_frames(s.duration, story.output.fps) for s in result.scenes),
            "scenes": len(result.scenes),
        }
        if kind == "ours":
            report["rerun"], report["rerun_cpu"], again = _timed(story, root / "ours-again.mp4", workspace=ws, **opts)
            report["rerun_made"] = again.made
        return report
    if kind == "edit":
        ws = root / "ws3"
        first, first_cpu, _ = _timed(load_story(root / "story5.json"), root / "five.mp4", workspace=ws, **opts)
        edited = load_story(root / "story5-edited.json")
        edit, edit_cpu, result = _timed(edited, root / "five-edited.mp4", workspace=ws, **opts)
        return {"first": first, "first_cpu": first_cpu, "edit": edit, "edit_cpu": edit_cpu, "edit_made": result.made}
    raise SystemExit(f"unknown --only {kind!r}")


def in_subprocess(kind: str, root: Path, jobs: int | None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--only", kind, "--dir", str(root)]
    if jobs is not None:
        cmd += ["--render-jobs", str(jobs)]
    print(f"  running {kind} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the floor ---------------------------------------------------------------------------------------------


def floor(frames: int, root: Path) -> tuple[float, float]:
    """(wall, CPU seconds) of a plain libx264 encode of ``frames`` 1080x1920 test frames, production settings."""
    p = PRESETS["production"]
    out = root / "floor.mp4"
    args = [
        "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=1080x1920:r=30",
        "-frames:v", str(frames), "-c:v", "libx264", "-preset", p.x264_preset, "-crf", str(p.crf),
        "-pix_fmt", "yuv420p", out,
    ]  # fmt: skip
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    c, t = kids.ru_utime + kids.ru_stime, time.perf_counter()
    ffmpeg.run(args, what="the floor encode")
    wall = time.perf_counter() - t
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, kids.ru_utime + kids.ru_stime - c


# -- the table ---------------------------------------------------------------------------------------------


def verdict(name: str, value: float) -> str:
    op, target = TARGETS[name]
    ok = {"<=": value <= target, ">=": value >= target, "<": value < target}[op]
    return f"{op} {target:g}".ljust(9) + ("PASS" if ok else "MISS")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="narration length to aim for (default 60)")
    ap.add_argument("--keep", type=Path, help="keep everything in this folder (default: a temporary one)")
    ap.add_argument("--render-jobs", type=int, default=None, help="render_jobs for render_sync (default: its own)")
    ap.add_argument("--only", choices=["ours", "moviepy", "edit"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.only:
        print(json.dumps(run_only(args.only, args.dir, args.render_jobs)))
        return

    with tempfile.TemporaryDirectory(prefix="shortskit-bench-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for name in ("ws1", "ws2", "ws3"):
            if (root / name).exists():
                raise SystemExit(f"{root / name} exists: --keep needs an empty folder")
        print(f"building a ~{args.seconds:g} s story ...", file=sys.stderr, flush=True)
        data = build_story(args.seconds, root)
        save_story(parse_story(data), root / "story.json")
        five = {**data, "scenes": data["scenes"][:5]}
        save_story(parse_story(five), root / "story5.json")
        edited = json.loads(json.dumps(five))
        edited["scenes"][2]["text"] = "Marta counts the waves, and tonight there is one more than yesterday."
        save_story(parse_story(edited), root / "story5-edited.json")

        ours = in_subprocess("ours", root, args.render_jobs)
        mp = in_subprocess("moviepy", root, args.render_jobs)
        edit = in_subprocess("edit", root, args.render_jobs)
        print("  running the floor encode ...", file=sys.stderr, flush=True)
        fl, fl_cpu = floor(ours["frames"], root)

        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else float("inf")

        rows = [  # name, wall ratio, CPU ratio
            ("moviepy/ours", ratio(mp["first"], ours["first"]), ratio(mp["first_cpu"], ours["first_cpu"])),
            ("ours/floor", ratio(ours["first"], fl), ratio(ours["first_cpu"], fl_cpu)),
            ("rerun/first", ratio(ours["rerun"], ours["first"]), ratio(ours["rerun_cpu"], ours["first_cpu"])),
            ("edit/first", ratio(edit["edit"], edit["first"]), ratio(edit["edit_cpu"], edit["first_cpu"])),
        ]
        lines = [
            f"machine: {os.cpu_count()} cores; short: {ours['duration']:.1f} s, {ours['frames']} frames at "
            f"1080x1920, {ours['scenes']} scenes; render_jobs={args.render_jobs or 'default'}",
            "",
            f"{'run':<40}{'wall s':>8}{'CPU s':>8}",
            f"{'(a) ours, ffmpeg engine':<40}{ours['first']:>8.2f}{ours['first_cpu']:>8.2f}",
            f"{'(b) moviepy engine':<40}{mp['first']:>8.2f}{mp['first_cpu']:>8.2f}",
            f"{'(c) floor: libx264 testsrc2':<40}{fl:>8.2f}{fl_cpu:>8.2f}",
            f"{'(d) ours re-run, unchanged':<40}{ours['rerun']:>8.2f}{ours['rerun_cpu']:>8.2f}",
            f"{'(d) 5-scene story, first':<40}{edit['first']:>8.2f}{edit['first_cpu']:>8.2f}",
            f"{'(d) 5-scene story, scene 3 edited':<40}{edit['edit']:>8.2f}{edit['edit_cpu']:>8.2f}",
            "",
            f"{'ratio (targets are on wall time)':<40}{'wall':>8}{'CPU':>8}  target   result",
        ]
        for name, wall, cpu in rows:
            lines.append(f"{name:<40}{wall:>8.3f}{cpu:>8.3f}  {verdict(name, wall)}")
        for label, r in (("peak RSS ours", ours), ("peak RSS moviepy", mp)):
            detail = f"{label} MB (py {r['python_mb']:.0f}, ffmpeg {r['child_mb']:.0f})"
            lines.append(f"{detail:<40}{r['peak_mb']:>8.0f}{'':>8}  {verdict('peak RSS', r['peak_mb'])}")
        print("\n".join(lines))
        if args.keep:
            print(f"\nkept in {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
