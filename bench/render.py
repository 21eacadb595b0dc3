"""Render benchmark (not a test): shortskit's fresh offline render against the plain x264 encode of its
frames, the moviepy peer and our own moviepy engine, the cache, memory and loudness, measured in one run.

    python bench/render.py                       # a ~60 s short: everything below (about 10 minutes)
    python bench/render.py --seconds 15          # quicker
    python bench/render.py --stages --seconds 20 # only the CPU seconds per stage
    python bench/render.py --seconds 22 --pairs 3   # only ours vs the floors, 3 alternated pairs, medians
    python bench/render.py --keep /tmp/bench     # keep stories, workspaces and videos

It builds a story of about ``--seconds`` of made-up English narration (espeak voice, procedural pictures,
the generated music bed), then, each in its own process and a fresh workspace:

- ours: ``render_sync(story, out)``, ffmpeg engine, production quality; its wall and CPU seconds are the
  whole process's (Python start included, ``os.wait4``), with nothing else sampling it;
- the floors, right after it: libx264 at the same preset and crf of (1) as many ``testsrc2`` frames (the
  floor this bench always had) and (2) exactly the frames our clip chains make, written raw first so that
  x264 runs alone on them (``bench/frames.py`` says why (1) is the cheaper, wrong floor);
- the stages: the same render with its stages taking turns, CPU seconds per stage (``bench/stages.py``);
- the peer: the same short in moviepy 2 as popular generators write it (``bench/naive_moviepy.py``), and
  our own moviepy engine (the extension path, reported without a target);
- the cache: ours again unchanged, and a 5-scene story rendered, then again after editing scene 3's text;
  peak RSS of each engine's process and of its largest ffmpeg child;
- the short itself: its loudness (EBU R128, ffmpeg), its streams, and its pans against today's (zoompan).

Targets (issue #14): ours within 1.25x of the plain encode of the same frames (1.3x up to a 30 s short),
the moviepy peer at least 8x ours, re-run and edit ratios, peak RSS under 1 GB, -14 +- 1 LUFS and a true
peak at or under -1 dBTP. Each row says PASS or MISS; CPU seconds are the primary figure on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run from a checkout without installing: make the package (and this folder, as ``bench``) importable.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import frames  # noqa: E402
from bench.measure import ChildPeak, Run, cpu, rss_mb, run_child  # noqa: E402
from shortskit import ffmpeg, load_story, parse_story, render_sync, save_story  # noqa: E402
from shortskit.soundtrack import measure  # noqa: E402

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


# -- targets -----------------------------------------------------------------------------------------------

LONG_TARGET, SHORT_TARGET, SHORT_UP_TO = 1.25, 1.3, 30.0  # ours / the plain encode; a 20 s short gets 1.3x
TARGETS: dict[str, tuple[str, float]] = {
    "naive/ours": (">=", 8.0),
    "rerun/first": ("<=", 0.05),
    "edit/first": ("<=", 0.35),
    "peak RSS": ("<", 1024.0),  # MB
    "loudness": ("+-1", -14.0),  # LUFS
    "true peak": ("<=", -1.0),  # dBTP
    "look": (">=", 35.0),  # dB PSNR of our pans against today's; x264's own error on these frames is 40-42 dB
}


def floor_target(seconds: float) -> tuple[str, float]:
    return ("<=", SHORT_TARGET if seconds <= SHORT_UP_TO else LONG_TARGET)


def verdict(target: tuple[str, float] | None, *values: float) -> str:
    """The target and PASS / MISS for each value (wall, CPU, ...)."""
    if target is None:
        return "(none)"
    op, t = target
    checks = {"<=": lambda v: v <= t, ">=": lambda v: v >= t, "<": lambda v: v < t, "+-1": lambda v: abs(v - t) <= 1}
    text = f"{t:g} +-1" if op == "+-1" else f"{op} {t:g}"
    return text.ljust(10) + " ".join(f"{'PASS' if checks[op](v) else 'MISS':>5}" for v in values)


# -- renders, each in its own process ----------------------------------------------------------------------


def _timed(story: Any, out: Path, **options: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds, result) of one render in this process."""
    c, t = cpu(), time.perf_counter()
    result = render_sync(story, out, **options)
    return time.perf_counter() - t, cpu() - c, result


def run_only(kind: str, root: Path, tag: str, jobs: int | None, started: float) -> dict[str, Any]:
    """One child's work: ``fresh`` (the timed render), ``stages``, or a cache/engine run with peak RSS."""
    opts: dict[str, Any] = {} if jobs is None else {"render_jobs": jobs}
    story = load_story(root / "story.json")
    if kind == "fresh":  # nothing else runs in this process: its wall and CPU are the render's
        specs: list[Any] = []
        frames.record_specs(specs)
        ws = root / f"ws-{tag}"
        result = render_sync(story, root / f"{tag}.mp4", workspace=ws, **opts)
        music = next(iter(sorted((ws / "music").glob("*.wav"))), None)
        frames.save_specs(specs, root / f"{tag}-specs.json", music)
        o = story.output
        return {"duration": result.duration, "frames": sum(s.frames for _, s in specs), "scenes": len(result.scenes),
                "size": f"{o.width}x{o.height}", "fps": o.fps}  # fmt: skip
    if kind == "stages":
        from bench.stages import profile

        return profile(root / "story.json", root / "stages.mp4", root / "ws-stages", started)
    with ChildPeak() as sampler:
        if kind == "ours":
            first, first_cpu, _ = _timed(story, root / "ours.mp4", workspace=root / "ws1", **opts)
            rerun, rerun_cpu, _ = _timed(story, root / "ours-again.mp4", workspace=root / "ws1", **opts)
            report = {"first": first, "first_cpu": first_cpu, "rerun": rerun, "rerun_cpu": rerun_cpu}
        elif kind == "moviepy":
            first, first_cpu, _ = _timed(story, root / "moviepy.mp4", workspace=root / "ws2", engine="moviepy", **opts)
            report = {"first": first, "first_cpu": first_cpu}
        else:  # edit
            ws = root / "ws3"
            first, first_cpu, _ = _timed(load_story(root / "story5.json"), root / "five.mp4", workspace=ws, **opts)
            edited = load_story(root / "story5-edited.json")
            edit, edit_cpu, _ = _timed(edited, root / "five-edited.mp4", workspace=ws, **opts)
            report = {"first": first, "first_cpu": first_cpu, "edit": edit, "edit_cpu": edit_cpu}
    return {**report, **rss_mb(sampler)}


def child(kind: str, root: Path, jobs: int | None, tag: str = "") -> tuple[Run, dict[str, Any]]:
    """Run ``kind`` in a fresh process: (its own wall and CPU seconds, what it reported)."""
    cmd: list[str | Path] = [sys.executable, Path(__file__).resolve(), "--only", kind, "--dir", root, "--tag", tag]
    if jobs is not None:
        cmd += ["--render-jobs", str(jobs)]
    print(f"  {kind} {tag} ...", file=sys.stderr, flush=True)
    run = run_child([*cmd, "--started", repr(time.time())], what=kind)
    return run, json.loads(run.stdout.strip().splitlines()[-1])


# -- ours against the floors, alternated -------------------------------------------------------------------

RUNS = ("ours", "testsrc2", "same")


def pairs(root: Path, n: int, jobs: int | None) -> tuple[list[dict[str, Run]], dict[str, Any]]:
    """``n`` rounds of a fresh render (a new workspace each) and both floors, the order rotating each round."""
    rounds: list[dict[str, Run]] = []
    info: dict[str, Any] = {}
    raw = root / "frames.yuv"
    for r in range(n):
        got: dict[str, Run] = {}
        for name in RUNS[r % 3 :] + RUNS[: r % 3]:  # round 0 starts with ours: the floors need its frames
            if name == "ours":
                got[name], report = child("fresh", root, jobs, tag=f"pair{r}")
                if not info:
                    info = {**report, "tag": f"pair{r}"}
                    print("  writing our chains' frames raw (untimed) ...", file=sys.stderr, flush=True)
                    frames.write_raw(frames.specs_from(root / f"pair{r}-specs.json"), raw)
            elif name == "testsrc2":
                got[name] = frames.testsrc2_floor(
                    info["frames"], root / "floor.mp4", size=info["size"], fps=info["fps"]
                )
            else:
                got[name] = frames.same_frames_floor(
                    raw, info["frames"], root / "same.mp4", size=info["size"], fps=info["fps"]
                )
        rounds.append(got)
    raw.unlink(missing_ok=True)
    return rounds, info


def median_ratio(rounds: list[dict[str, Run]], a: str, b: str) -> tuple[float, float]:
    """Median over the rounds of a/b, (wall, CPU)."""
    return (
        statistics.median(r[a].wall / r[b].wall for r in rounds),
        statistics.median(r[a].cpu / r[b].cpu for r in rounds),
    )


def floor_rows(rounds: list[dict[str, Run]], seconds: float) -> list[str]:
    target = floor_target(seconds)
    rows = [
        ("ours / floor on the same frames", *median_ratio(rounds, "ours", "same"), target),
        ("ours / floor on testsrc2 (today's)", *median_ratio(rounds, "ours", "testsrc2"), target),
        ("same-frames floor / testsrc2 floor", *median_ratio(rounds, "same", "testsrc2"), None),
    ]
    return [f"{name:<52}{w:>8.3f}{c:>8.3f}  {verdict(t, w, c)}" for name, w, c, t in rows]


# -- the short itself --------------------------------------------------------------------------------------


def contract(video: Path, duration: float) -> tuple[str, bool]:
    """The output contract: H.264 yuv420p at the story's size and fps, AAC 48 kHz stereo, the sidecars."""
    m = ffmpeg.probe(video)
    ok = (
        (m.video_codec, m.pix_fmt, m.audio_codec, m.sample_rate, m.channels) == ("h264", "yuv420p", "aac", 48000, 2)
        and abs((m.duration or 0) - duration) < 0.1
        and video.with_suffix(".srt").is_file()
        and video.with_suffix(".json").is_file()
    )
    text = f"{m.video_codec} {m.width}x{m.height} {m.pix_fmt} {m.fps:g} fps, {m.audio_codec} {m.sample_rate} Hz"
    return f"{text} {m.channels} ch, {m.duration:.2f} s, .srt .json", ok


# -- the run -----------------------------------------------------------------------------------------------


def write_stories(root: Path, seconds: float) -> None:
    for name in ("ws1", "ws2", "ws3", "ws-stages", "ws-pair0"):
        if (root / name).exists():
            raise SystemExit(f"{root / name} exists: --keep needs an empty folder")
    print(f"building a ~{seconds:g} s story ...", file=sys.stderr, flush=True)
    data = build_story(seconds, root)
    save_story(parse_story(data), root / "story.json")
    five = {**data, "scenes": data["scenes"][:5]}
    save_story(parse_story(five), root / "story5.json")
    edited = json.loads(json.dumps(five))
    edited["scenes"][2]["text"] = "Marta counts the waves, and tonight there is one more than yesterday."
    save_story(parse_story(edited), root / "story5-edited.json")


def machine(info: dict[str, Any], jobs: int | None) -> str:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), "?")  # fmt: skip
    return (f"machine: {os.cpu_count()} cores ({model}), load {os.getloadavg()[0]:.2f}; short: {info['duration']:.1f} s, "
            f"{info['frames']} frames at {info['size']}, {info['scenes']} scenes; render_jobs={jobs or 'default'}")  # fmt: skip


def report_pairs(rounds: list[dict[str, Run]], info: dict[str, Any], args: argparse.Namespace) -> list[str]:
    lines = [machine(info, args.render_jobs), "", f"{'round  run':<52}{'wall s':>8}{'CPU s':>8}"]
    for r, got in enumerate(rounds):
        for name, run in got.items():
            lines.append(f"{f'{r:<7}{name}':<52}{run.wall:>8.2f}{run.cpu:>8.2f}")
    head = f"median of {len(rounds)} alternated pair{'s' * (len(rounds) > 1)}"
    lines += ["", f"{head:<52}{'wall':>8}{'CPU':>8}  target     wall   CPU"]
    return lines + floor_rows(rounds, info["duration"])


def full_report(root: Path, args: argparse.Namespace) -> list[str]:
    """Everything, in one run: the floors right after ours, then the stages, the engines and the cache."""
    rounds, info = pairs(root, 1, args.render_jobs)
    tag = info["tag"]
    _, prof = child("stages", root, args.render_jobs)
    _, ours = child("ours", root, args.render_jobs)
    mp_run, mp = child("moviepy", root, args.render_jobs)
    print("  the moviepy peer ...", file=sys.stderr, flush=True)
    peer = Path(__file__).resolve().parent / "naive_moviepy.py"
    naive = run_child([sys.executable, peer, root / f"{tag}-specs.json", root / "naive.mp4"], what="the moviepy peer")
    _, edit = child("edit", root, args.render_jobs)
    video = root / f"{tag}.mp4"
    loud = measure([video])[0]
    shape, kept = contract(video, info["duration"])
    print("  comparing pans with today's ...", file=sys.stderr, flush=True)
    look = frames.look(frames.specs_from(root / f"{tag}-specs.json"))
    fresh = rounds[0]["ours"]

    from bench.stages import stage_rows

    lines = [machine(info, args.render_jobs), "", *stage_rows(prof), ""]
    lines.append(f"{'run':<52}{'wall s':>8}{'CPU s':>8}")
    for name, run in (
        ("ours: fresh render (whole process)", fresh),
        ("floor: libx264 of testsrc2 (today's)", rounds[0]["testsrc2"]),
        ("floor: libx264 alone on our chains' frames", rounds[0]["same"]),
        ("our moviepy engine (whole process)", mp_run),
        ("moviepy peer (whole process)", naive),
    ):
        lines.append(f"{name:<52}{run.wall:>8.2f}{run.cpu:>8.2f}")
    for name, w, c in (
        ("ours, first (in-process, RSS sampled)", ours["first"], ours["first_cpu"]),
        ("ours again, unchanged", ours["rerun"], ours["rerun_cpu"]),
        ("5-scene story, first", edit["first"], edit["first_cpu"]),
        ("5-scene story, scene 3 edited", edit["edit"], edit["edit_cpu"]),
    ):
        lines.append(f"{name:<52}{w:>8.2f}{c:>8.2f}")

    lines += ["", f"{'ratio (one run)':<52}{'wall':>8}{'CPU':>8}  target     wall   CPU"]
    lines += floor_rows(rounds, info["duration"])
    for name, (w, c), target in (
        ("moviepy peer / ours", (naive.wall / fresh.wall, naive.cpu / fresh.cpu), TARGETS["naive/ours"]),
        ("our moviepy engine / ours", (mp_run.wall / fresh.wall, mp_run.cpu / fresh.cpu), None),
        (
            "rerun / first",
            (ours["rerun"] / ours["first"], ours["rerun_cpu"] / ours["first_cpu"]),
            TARGETS["rerun/first"],
        ),
        ("edit / first", (edit["edit"] / edit["first"], edit["edit_cpu"] / edit["first_cpu"]), TARGETS["edit/first"]),
    ):
        lines.append(f"{name:<52}{w:>8.3f}{c:>8.3f}  {verdict(target, w, c)}")

    lines += ["", f"{'the short and memory':<52}{'value':>8}{'':>8}  target   result"]
    for name, value, target in (
        (f"peak RSS ours MB (py {ours['python_mb']:.0f}, ffmpeg {ours['child_mb']:.0f})", ours["peak_mb"], "peak RSS"),
        (
            f"peak RSS moviepy engine MB (py {mp['python_mb']:.0f}, ffmpeg {mp['child_mb']:.0f})",
            mp["peak_mb"],
            "peak RSS",
        ),
        ("peak RSS moviepy peer MB (largest process)", naive.maxrss_mb, None),
        ("loudness of the short, LUFS integrated", loud.integrated, "loudness"),
        ("true peak of the short, dBTP", loud.true_peak, "true peak"),
    ):
        lines.append(f"{name:<52}{value:>8.1f}{'':>8}  {verdict(TARGETS[target] if target else None, value)}")
    if look["frames"]:
        name = f"pans vs today's, PSNR dB (min {look['psnr_min']:.1f}, MAD {look['mad']:.2f})"
        lines.append(f"{name:<52}{look['psnr']:>8.1f}{'':>8}  {verdict(TARGETS['look'], look['psnr'])}")
    lines.append(f"{'output: ' + shape:<78}  {'PASS' if kept else 'MISS'}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="narration length to aim for (default 60)")
    ap.add_argument("--pairs", type=int, help="only ours vs the floors: this many alternated rounds, medians")
    ap.add_argument("--stages", action="store_true", help="only the CPU seconds per stage of a fresh render")
    ap.add_argument("--keep", type=Path, help="keep everything in this folder (default: a temporary one)")
    ap.add_argument("--render-jobs", type=int, default=None, help="render_jobs for render_sync (default: its own)")
    ap.add_argument("--only", choices=["fresh", "stages", "ours", "moviepy", "edit"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--tag", default="", help=argparse.SUPPRESS)
    ap.add_argument("--started", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.only:
        print(json.dumps(run_only(args.only, args.dir, args.tag, args.render_jobs, args.started)))
        return

    with tempfile.TemporaryDirectory(prefix="shortskit-bench-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        write_stories(root, args.seconds)
        if args.stages:
            from bench.stages import stage_rows

            _, prof = child("stages", root, args.render_jobs)
            short = f"{prof['duration']:.1f} s, {prof['frames']} frames, {prof['scenes']} scenes"
            lines = [f"machine: {os.cpu_count()} cores; short: {short}", "", *stage_rows(prof)]
        elif args.pairs:
            lines = report_pairs(*pairs(root, args.pairs, args.render_jobs), args)
        else:
            lines = full_report(root, args)
        print("\n".join(lines))
        if args.keep:
            print(f"\nkept in {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
