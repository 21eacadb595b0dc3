"""``shortskit batch``: many stories headless through papermill in warm kernels, in parallel, resumable.

The shorts are read back with ffmpeg, the summary parsed, the executed notebooks opened; the rate limit is
counted by a real local server, model loads by a fake in-process voice (``tests/fake_gpu_voice.py``) loaded in
the batch's own kernels; a canary key is looked for in every file a batch leaves.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from shortskit import ffmpeg
from tests.conftest import ROOT, small_story, tone, write_story
from tests.fakeservers import FakeAPI, Received, Reply

pytest.importorskip("papermill", reason="the notebook extra (papermill) is not installed")
nbformat = pytest.importorskip("nbformat")

pytestmark = pytest.mark.slow

CANARY = "sk-canary-" + "5f0c1e7a9b2d4c68"  # a key that must never be written anywhere
# Together's limit as the operator sets it for these tests (a story may only lower it): 3 in any 6 s
OPERATOR_30 = "images.together.rate_per_minute=30, images.together.rate_burst=3"
TEMPLATE = ROOT / "notebooks" / "make_short.ipynb"
LINES = [
    ("A lighthouse keeper counts the ships.", "Fog rolls over the harbour."),
    ("The desert blooms once a decade.", "Seeds wait under the sand."),
    ("Bees dance to give directions.", "The hive listens closely."),
    ("Glaciers move like slow rivers.", "Ice carves the valley floor."),
]


def tiny(i: int, **overrides: Any) -> dict[str, Any]:
    """A two-scene tiny story of its own words and prompts (so no two stories share a cached voice or picture)."""
    a, b = LINES[i % len(LINES)]
    story = small_story(title=f"Tiny {i}")
    story["scenes"] = [
        {"text": a, "image_prompt": f"a calm ocean, number {i}"},
        {"text": b, "image_prompt": f"a dark forest, number {i}"},
    ]
    story.update(overrides)
    return story


def batch_cli(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "shortskit", "batch", *map(str, args)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=600, check=False,
    )  # fmt: skip


def summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


def statuses(out: Path) -> dict[str, str]:
    return {r["slug"]: r["status"] for r in summary(out)["stories"]}


def assert_short(path: Path, seconds: float | None = None) -> None:
    info = ffmpeg.probe(path)
    assert (info.width, info.height) == (270, 480) and info.video_codec == "h264" and info.has_audio
    assert info.duration and info.duration > 1
    if seconds is not None:
        assert abs(info.duration - seconds) < 0.2


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def notebook_with(tmp_path: Path, first_code: str) -> Path:
    """make_short.ipynb with one more cell right after its parameters (same parameters, same record)."""
    nb = nbformat.read(TEMPLATE, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(first_code))
    path = tmp_path / "nb" / "make_short_fake.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# -- a batch of good stories and a bad one ----------------------------------------------------------------


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three good stories (one draws its pictures from a keyed local API) and one whose scene 2 is broken."""
    root = tmp_path_factory.mktemp("night")
    stories = root / "stories"
    stories.mkdir()
    write_story(stories, tiny(0), "calm.json")
    write_story(stories, tiny(1), "desert.json")
    (stories / "broken.png").write_bytes(b"this is not a picture")
    write_story(stories, tiny(2, scenes=[tiny(2)["scenes"][0], {"text": "Broken.", "image": "broken.png"}]), "bad.json")
    api = FakeAPI(key=CANARY)
    keyed = tiny(3, images={"provider": "together", "rate_per_minute": 600, "rate_burst": 10})
    write_story(stories, keyed, "keyed.json")
    env = {"TOGETHER_API_KEY": CANARY, "TOGETHER_BASE_URL": api.v1, "OPENAI_API_KEY": CANARY,
           "SHORTSKIT_LIMITS": "images.together.rate_per_minute=600, images.together.rate_burst=10"}  # fmt: skip
    out = root / "out"
    args = (stories, "-o", out, "--jobs", "2", "-p", "workspace", root / "ws")
    try:
        first = batch_cli(*args, env=env)
        made = {p.name: p.stat().st_mtime_ns for p in out.glob("*/*.mp4")}
        report = {"json": summary(out), "csv": (out / "summary.csv").read_text()}
        second = batch_cli(*args, env=env)
    finally:
        api.close()
    return {"root": root, "out": out, "first": first, "second": second, "made": made, "api": api, "args": args,
            "report": report}  # fmt: skip


def test_a_bad_story_fails_alone_and_every_good_short_is_made(night: dict[str, Any]) -> None:
    out, first = night["out"], night["first"]
    assert first.returncode == 1, first.stderr
    failed = [ln for ln in first.stderr.splitlines() if ln.startswith("failed:")]
    assert len(failed) == 1 and "bad.json (scene 2)" in failed[0] and "broken.png" in failed[0], first.stderr
    assert "Traceback" not in first.stderr
    found = {r["slug"]: r["status"] for r in night["report"]["json"]["stories"]}
    assert found == {"bad": "failed", "calm": "done", "desert": "done", "keyed": "done"}
    for slug in ("calm", "desert", "keyed"):
        record = json.loads((out / slug / "job.json").read_text())
        assert_short(out / slug / f"{slug}.mp4", record["duration"])
        meta = json.loads((out / slug / f"{slug}.json").read_text())
        assert meta["title"] == record["title"] and (out / slug / f"{slug}.srt").read_text().startswith("1\n")
    assert len(night["api"].calls(FakeAPI.IMAGES)) == 2  # the keyed story's two pictures, with the key


def test_every_executed_notebook_is_kept_the_failed_one_with_its_failing_cell(night: dict[str, Any]) -> None:
    out = night["out"]
    for slug in ("calm", "desert", "keyed", "bad"):
        nb = nbformat.read(out / slug / f"{slug}.ipynb", as_version=4)
        assert nb.metadata.papermill.parameters["story"].endswith(f"{slug}.json")
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code[0].execution_count == 1  # a fresh session in the warm kernel for every story
        markers = [c for c in nb.cells if "papermill-error-cell-tag" in c.metadata.get("tags", [])]
        errors = [o for c in code for o in c.outputs if o.output_type == "error"]
        if slug == "bad":
            assert markers and errors[0].ename == "StoryError" and "broken.png" in errors[0].evalue
        else:
            assert not markers and not errors


def test_the_summary_has_every_story_and_the_batch_numbers(night: dict[str, Any]) -> None:
    rows = list(csv.DictReader(night["report"]["csv"].splitlines()))
    assert sorted(r["slug"] for r in rows) == ["bad", "calm", "desert", "keyed"]
    bad = next(r for r in rows if r["slug"] == "bad")
    assert bad["status"] == "failed" and bad["failed_scenes"] == "2" and "broken.png" in bad["error"]
    assert bad["notebook"] == "bad/bad.ipynb" and bad["video"] == ""
    good = [r for r in rows if r["status"] == "done"]
    assert all(float(r["duration"]) > 1 and float(r["cpu_seconds"]) > 0 and r["poster"] for r in good)
    batch = night["report"]["json"]["batch"]
    assert (batch["done"], batch["failed"], batch["skipped"]) == (3, 1, 0)
    assert batch["shorts_per_hour"] > 0 and batch["cpu_seconds_per_short"] > 0 and batch["jobs"] == 2


def test_a_rerun_skips_what_is_made_and_redoes_the_failure(night: dict[str, Any]) -> None:
    out, second = night["out"], night["second"]
    assert second.returncode == 1 and "bad.json (scene 2)" in second.stderr
    assert statuses(out) == {"bad": "failed", "calm": "skipped", "desert": "skipped", "keyed": "skipped"}
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*/*.mp4")} == night["made"]  # not written again
    assert len(night["api"].calls(FakeAPI.IMAGES)) == 2  # nothing asked of the API again


def test_no_key_anywhere_in_the_output_folder(night: dict[str, Any]) -> None:
    assert night["api"].calls(FakeAPI.IMAGES)[0].headers["authorization"] == f"Bearer {CANARY}"  # it was used
    assert files_holding(night["out"], CANARY) == []
    assert CANARY not in night["first"].stdout + night["first"].stderr + night["second"].stderr


def test_an_edited_story_is_made_again_and_only_it(night: dict[str, Any], tmp_path: Path) -> None:
    root, out = night["root"], night["out"]
    story = root / "stories" / "desert.json"
    data = json.loads(story.read_text())
    data["scenes"][0]["text"] = "The desert blooms, and nobody sees it."
    story.write_text(json.dumps(data))
    again = batch_cli(*night["args"])  # no key now: the keyed story must not run again
    assert again.returncode == 1
    assert statuses(out) == {"bad": "failed", "calm": "skipped", "desert": "done", "keyed": "skipped"}
    assert json.loads((out / "desert" / "desert.json").read_text())["scenes"][0]["text"] == data["scenes"][0]["text"]


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["missing.json"], "story file not found: missing.json"),
        (["good.json", "-p", "api_key", "sk-x"], "keys come from the environment"),
        (["good.json", "-p", "voice", CANARY], "keys come from the environment"),
        (["good.json", "-p", "colour", "red"], "has no such parameter"),
        (["good.json", "-p", "quality", "superb"], "not one of draft, preview, production"),
        (["good.json", "--jobs", "0"], "--jobs"),
        (["good.json", "--timeout", "-5"], "--timeout': must be more than 0 seconds"),
        (["good.json", "--timeout", "0"], "--timeout': must be more than 0 seconds"),
        (["good.json", "-o", "good.json"], "good.json is a file, not a folder"),
        (["good.json", "-o", "good.json/shorts"], "good.json is a file"),
        (["--topics", "topics.csv"], "--topics needs a writer"),
        ([], "give story files"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    write_story(tmp_path, small_story(), "good.json")
    (tmp_path / "topics.csv").write_text("topic\nwhy cats purr\n")
    env = {"SHORTSKIT_WRITER_API_KEY": "", "OPENAI_API_KEY": "", "TOGETHER_API_KEY": CANARY}
    proc = batch_cli("-o", tmp_path / "out", *extra, env=env, cwd=tmp_path)  # an -o in extra comes last: it wins
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr
    assert CANARY not in proc.stderr
    assert not list((tmp_path / "out").glob("*/*.ipynb"))  # nothing ran


def test_a_story_file_that_does_not_parse_or_validate_fails_alone(tmp_path: Path) -> None:
    stories = tmp_path / "stories"
    stories.mkdir()
    write_story(stories, yaml.safe_dump(tiny(0)), "good.yaml")
    write_story(stories, '{"title": "Broken", "scenes": [', "broken.json")
    write_story(stories, tiny(1, scenes=[tiny(1)["scenes"][0], {"text": "Hi.", "colour": "red"}]), "invalid.json")
    out = tmp_path / "out"
    proc = batch_cli(stories, "-o", out, "-p", "workspace", tmp_path / "ws")
    assert proc.returncode == 1, proc.stderr
    assert "error:" not in proc.stderr and "Traceback" not in proc.stderr
    assert statuses(out) == {"broken": "failed", "good": "done", "invalid": "failed"}
    assert_short(out / "good" / "good.mp4")
    why = {
        "broken": "broken.json: not valid JSON at line 1 column 32",
        "invalid": "invalid.json: scene 2: colour: is not a known field",
    }
    failed = sorted(ln for ln in proc.stderr.splitlines() if ln.startswith("failed:"))
    assert len(failed) == 2 and failed[0].startswith(f"failed: {stories / 'broken.json'}: {why['broken']}")
    assert failed[1] == f"failed: {stories / 'invalid.json'} (scene 2): {why['invalid']}"
    rows = {r["slug"]: r for r in csv.DictReader((out / "summary.csv").read_text().splitlines())}
    records = {r["slug"]: r for r in summary(out)["stories"]}
    gallery = (out / "index.html").read_text()
    for slug, error in why.items():
        assert rows[slug]["error"].startswith(error) and records[slug]["error"].startswith(error)
        assert html.escape(error) in gallery
    assert rows["invalid"]["failed_scenes"] == "2" and records["invalid"]["failed_scenes"] == [2]


# -- each story's own settings ------------------------------------------------------------------------------


def x264_crf(video: Path) -> float:
    """The CRF x264 wrote into the stream's own settings (``crf=30.0`` at draft, ``crf=20.0`` at production)."""
    found = re.search(rb"crf=([0-9.]+)", video.read_bytes())
    assert found, f"no x264 settings in {video}"
    return float(found.group(1))


def test_each_story_keeps_its_own_quality_unless_p_quality_sets_one(tmp_path: Path) -> None:
    from shortskit.engines.base import PRESETS

    def story(i: int, quality: str) -> dict[str, Any]:
        output = {"width": 270, "height": 480, "fps": 15, "quality": quality, "encoder": "libx264"}
        return tiny(i, output=output)

    fine = write_story(tmp_path, story(0, "production"), "fine.json")
    rough = write_story(tmp_path, story(1, "draft"), "rough.json")
    ws = ("-p", "workspace", tmp_path / "ws")
    own = batch_cli(fine, rough, "-o", tmp_path / "own", *ws)
    assert own.returncode == 0, own.stderr
    assert x264_crf(tmp_path / "own" / "fine" / "fine.mp4") == PRESETS["production"].crf
    assert x264_crf(tmp_path / "own" / "rough" / "rough.mp4") == PRESETS["draft"].crf
    given = batch_cli(fine, rough, "-o", tmp_path / "given", *ws, "-p", "quality", "preview")
    assert given.returncode == 0, given.stderr
    for name in ("fine", "rough"):
        assert x264_crf(tmp_path / "given" / name / f"{name}.mp4") == PRESETS["preview"].crf


def test_relative_paths_in_the_environment_mean_where_the_batch_was_started(tmp_path: Path) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "batch_probe_module.py").write_text("")
    probe = "import importlib.util, pathlib\n" + (
        "pathlib.Path(output).with_suffix('.probe').write_text(str(bool(importlib.util.find_spec('batch_probe_module'))))"
    )
    notebook = notebook_with(tmp_path, probe)  # the kernel runs in its folder, tmp_path/nb
    write_story(tmp_path, tiny(0), "tiny.json")
    path = os.pathsep.join(["mods", str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {"SHORTSKIT_WORKSPACE": "relws", "PYTHONPATH": path}
    proc = batch_cli("tiny.json", "-o", "out", "--notebook", notebook, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_short(tmp_path / "out" / "tiny" / "tiny.mp4")
    assert not (notebook.parent / "relws").exists()
    assert list((tmp_path / "relws").rglob("*.wav")) and list((tmp_path / "relws").rglob("*.png"))  # the cache
    assert (tmp_path / "out" / "tiny" / "tiny.probe").read_text() == "True"  # mods/ was on the kernel's path


def test_a_relative_p_workspace_is_resolved_here_for_any_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shortskit.batch.jobs import check_parameters

    monkeypatch.chdir(tmp_path)
    for notebook in (TEMPLATE, notebook_with(tmp_path, "pass")):
        assert check_parameters([("workspace", "ws")], notebook) == {"workspace": str(tmp_path.resolve() / "ws")}


# -- what the batch wrote is never a story ------------------------------------------------------------------


def test_a_batch_into_its_own_story_folder_runs_again_and_skips_what_it_made(tmp_path: Path) -> None:
    folder = tmp_path / "st5"
    folder.mkdir()
    write_story(folder, tiny(0), "good.json")
    ws = ("-p", "workspace", tmp_path / "ws")
    first = batch_cli(".", "-o", ".", *ws, cwd=folder)
    assert first.returncode == 0, first.stderr
    assert (folder / "summary.json").is_file() and (folder / "good" / "good.json").is_file()
    for given in (".", "*", "**/*.json"):  # its report, and every file of its story folder, are left out
        again = batch_cli(given, "-o", ".", *ws, cwd=folder)
        assert again.returncode == 0, f"{given}: {again.stderr}"
        assert statuses(folder) == {"good": "skipped"}, given
    named = batch_cli("summary.json", "-o", ".", *ws, cwd=folder)
    assert named.returncode == 2 and named.stderr.strip().splitlines() == [
        "error: summary.json is the batch's report, not a story to render"
    ]


def test_the_files_a_batch_writes_are_never_found_as_stories(tmp_path: Path) -> None:
    from shortskit.batch.jobs import find_stories
    from shortskit.errors import ConfigError

    out = tmp_path / "out"
    for rel in ("summary.json", ".batch/x.json", "_stories/written-abc123.json", "s1/job.json", "s1/s1.json",
                "s1/s1.result.json", "s2/s2.ipynb", "s2/s2.json", "mine/mine.json", "own.yaml"):  # fmt: skip
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text("{}")
    mine = [out / "mine" / "mine.json", out / "own.yaml"]  # a folder without a job record is the user's
    assert find_stories([out / "**" / "*.json", out / "*.yaml"], out_dir=out) == mine
    assert find_stories([out], out_dir=out) == mine[1:]
    assert find_stories([out / "summary.json"]) == [out / "summary.json"]  # another batch's folder: as given
    for rel, what in (("_stories/written-abc123.json", "--topics"), ("s1/s1.json", "story folder s1/")):
        with pytest.raises(ConfigError, match=what):
            find_stories([out / rel], out_dir=out)


# -- resume after kill -9 ----------------------------------------------------------------------------------


def test_after_kill_9_a_rerun_finishes_only_the_rest(tmp_path: Path) -> None:
    stories = [write_story(tmp_path, tiny(i), f"s{i}.json") for i in range(3)]
    out = tmp_path / "out"
    args = (*stories, "-o", out, "--jobs", "1", "-p", "workspace", tmp_path / "ws")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shortskit", "batch", *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    first = out / "s0" / "job.json"
    try:
        deadline = time.monotonic() + 300
        while not (first.exists() and json.loads(first.read_text())["status"] == "done"):
            assert proc.poll() is None and time.monotonic() < deadline, "the first story never finished"
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    made = (out / "s0" / "s0.mp4").stat().st_mtime_ns
    assert not (out / "s2" / "job.json").exists()  # killed before the end

    again = batch_cli(*args)
    assert again.returncode == 0, again.stderr
    assert statuses(out) == {"s0": "skipped", "s1": "done", "s2": "done"}
    assert (out / "s0" / "s0.mp4").stat().st_mtime_ns == made
    for i in range(3):
        assert_short(out / f"s{i}" / f"s{i}.mp4")


# -- rate limits shared by every job -----------------------------------------------------------------------


def test_four_jobs_share_one_rate_limit_and_draw_no_429(tmp_path: Path) -> None:
    limit, window = 3, 6.0  # the server's rule: 3 images in any 6 s (30 a minute, bursts of 3)
    api = FakeAPI(key=CANARY)
    normal = api.routes[FakeAPI.IMAGES]
    refused: list[float] = []

    def counted(got: Received) -> Reply:
        recent = [r for r in api.calls(FakeAPI.IMAGES) if got.at - window < r.at <= got.at]
        if len(recent) > limit:  # this request is already among the calls
            refused.append(got.at)
            return Reply(429, {"error": {"message": "rate limit"}}, {"retry-after": "1"})
        return normal(got)

    api.routes[FakeAPI.IMAGES] = counted
    images = {"provider": "together", "rate_per_minute": 30, "rate_burst": 3}
    stories = [write_story(tmp_path, tiny(i, images=images), f"r{i}.json") for i in range(4)]
    env = {"TOGETHER_API_KEY": CANARY, "TOGETHER_BASE_URL": api.v1, "SHORTSKIT_LIMITS": OPERATOR_30}
    try:
        proc = batch_cli(*stories, "-o", tmp_path / "out", "--jobs", "4", "-p", "workspace", tmp_path / "ws", env=env)
    finally:
        api.close()
    assert proc.returncode == 0, proc.stderr
    arrivals = sorted(r.at for r in api.calls(FakeAPI.IMAGES))
    assert refused == [] and len(arrivals) == 8
    busiest = max(sum(1 for t in arrivals if a <= t < a + window) for a in arrivals)
    assert busiest <= limit, [round(t - arrivals[0], 2) for t in arrivals]
    assert files_holding(tmp_path / "out", CANARY) == []


# -- warm kernels: a model loads once per job slot, here and on dask ---------------------------------------


def _fake_gpu_batch(tmp_path: Path, name: str, *extra: str) -> tuple[Any, Path]:
    """Four stories voiced by the fake GPU voice, two jobs at once, into tmp_path/name (its own workspace)."""
    notebook = notebook_with(tmp_path, "import tests.fake_gpu_voice  # registers the 'fakegpu' voice")
    (tmp_path / "stories").mkdir(exist_ok=True)
    stories = [
        write_story(tmp_path / "stories", tiny(i, voice={"provider": "fakegpu"}), f"v{i}.json") for i in range(4)
    ]
    out = tmp_path / name
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    args = (*stories, "-o", out, "--notebook", notebook, "--jobs", "2", "-p", "workspace", tmp_path / f"ws-{name}")
    return batch_cli(*args, *extra, env=env), out


def test_a_gpu_voice_loads_once_per_job_slot_not_once_per_story(tmp_path: Path) -> None:
    proc, out = _fake_gpu_batch(tmp_path, "out")
    assert proc.returncode == 0, proc.stderr
    batch = summary(out)["batch"]
    assert batch["done"] == 4 and batch["model_loads"] == {"fake-gpu": 2}  # 2 slots, 4 stories
    per_story = [json.loads((out / f"v{i}" / f"v{i}.result.json").read_text())["model_loads"] for i in range(4)]
    assert all(loads == {"fake-gpu": 1} for loads in per_story)  # a slot's second story finds it loaded


def test_cluster_local_gives_the_same_outputs(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    here, local = _fake_gpu_batch(tmp_path, "here")
    assert here.returncode == 0, here.stderr
    there, cluster = _fake_gpu_batch(tmp_path, "cluster", "--cluster", "local")
    assert there.returncode == 0, there.stderr
    batch = summary(cluster)["batch"]
    assert batch["cluster"] == "local" and batch["done"] == 4 and batch["model_loads"] == {"fake-gpu": 2}
    workers = {json.loads((cluster / f"v{i}" / "job.json").read_text())["worker"] for i in range(4)}
    assert len(workers) == 2  # two dask worker processes, each with its warm kernel
    for i in range(4):
        # eSpeak's timings move by a millisecond with what its process spoke before (a slot's earlier
        # stories), so times are compared to a frame, everything else exactly.
        mine, theirs = (json.loads((d / f"v{i}" / f"v{i}.json").read_text()) for d in (local, cluster))
        assert {k: v for k, v in theirs.items() if k not in ("duration", "scenes")} == {
            k: v for k, v in mine.items() if k not in ("duration", "scenes")
        }
        assert [s["text"] for s in theirs["scenes"]] == [s["text"] for s in mine["scenes"]]
        assert abs(theirs["duration"] - mine["duration"]) < 0.07
        srt = [(d / f"v{i}" / f"v{i}.srt").read_text().splitlines() for d in (local, cluster)]
        assert [ln for ln in srt[0] if "-->" not in ln] == [ln for ln in srt[1] if "-->" not in ln]
        mine, theirs = local / f"v{i}" / f"v{i}.mp4", cluster / f"v{i}" / f"v{i}.mp4"
        assert abs((ffmpeg.probe(theirs).duration or 0) - (ffmpeg.probe(mine).duration or 0)) < 0.07
        assert_short(theirs)
        # the same pictures (x264 need not give the same bytes twice, so the frames are compared)
        a, b = (np.asarray(ffmpeg.frame_at(v, 1.5), dtype=float) for v in (mine, theirs))
        assert np.abs(a - b).mean() < 2.0


# -- topics in, stories out --------------------------------------------------------------------------------


def test_topics_are_written_into_stories_first(tmp_path: Path) -> None:
    api = FakeAPI(key=CANARY)
    reply = {"title": "Why Cats Purr", "language": "en", "description": "Purring, explained.", "hashtags": ["cats"],
             "scenes": [{"text": "Cats purr when they are calm.", "image_prompt": "a sleeping cat"}]}  # fmt: skip
    api.chat_replies.append(json.dumps(reply))
    (tmp_path / "topics.csv").write_text("topic,language,scenes\nwhy cats purr,en,1\n")
    env = {"SHORTSKIT_WRITER_API_KEY": CANARY, "SHORTSKIT_WRITER_BASE_URL": api.v1}
    args = ("--topics", tmp_path / "topics.csv", "-o", tmp_path / "out", "-p", "workspace", tmp_path / "ws")
    try:
        first = batch_cli(*args, env=env)
        again = batch_cli(*args, env=env)
    finally:
        api.close()
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    written = list((tmp_path / "out" / "_stories").glob("*.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["title"] == "Why Cats Purr"
    assert len(api.calls(FakeAPI.CHAT)) == 1  # the re-run kept the story it had
    (record,) = summary(tmp_path / "out")["stories"]
    assert record["status"] == "skipped" and record["title"] == "Why Cats Purr"
    assert ffmpeg.probe(tmp_path / "out" / record["slug"] / f"{record['slug']}.mp4").has_video
    assert files_holding(tmp_path / "out", CANARY) == []


# -- the job slot itself: a kernel that dies or hangs, a notebook that prints a key ---------------------------

SLOT_NOTEBOOK = """
import json, os, pathlib, time
if mode == "crash":
    os._exit(1)
if mode == "hang":
    time.sleep(60)
if mode == "leak":
    print("the key is", os.environ["SLOT_TEST_API_KEY"])
print("left over from before:", "leftover" in globals())
leftover = 1
out = pathlib.Path(output)
out.write_bytes(b"not really a video")
out.with_suffix(".result.json").write_text(json.dumps({"ok": True, "title": mode, "pid": os.getpid()}))
"""


def test_a_slot_records_a_dead_or_hung_kernel_and_goes_on_in_a_fresh_one(tmp_path: Path) -> None:
    from shortskit.batch.jobs import Job
    from shortskit.batch.runner import JobSlot, SlotSettings

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})  # fmt: skip
    nb.cells = [
        nbformat.v4.new_code_cell('story = ""\noutput = ""\nmode = "ok"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(SLOT_NOTEBOOK),
    ]
    template = tmp_path / "slot.ipynb"
    nbformat.write(nb, template)

    def job(slug: str, mode: str) -> Job:
        folder = tmp_path / "out" / slug
        params = {"story": "x", "output": str(folder / f"{slug}.mp4"), "mode": mode}
        return Job(slug, tmp_path / "x.json", folder, template, params, "digest", slug)

    secret = "sk-slot-" + "0123456789abcdef"
    slot = JobSlot(SlotSettings(env={"SLOT_TEST_API_KEY": secret}, timeout=2))
    try:
        first, crashed, after_crash, hung, leaked = (
            slot.run(job(*pair)) for pair in (("a", "ok"), ("b", "crash"), ("c", "ok"), ("d", "hang"), ("e", "leak"))
        )
    finally:
        slot.close()
    assert first["status"] == after_crash["status"] == leaked["status"] == "done"
    assert crashed["status"] == "failed" and crashed["ename"] == "DeadKernelError"
    assert hung["status"] == "failed" and hung["ename"] == "CellTimeoutError"
    assert hung["error"] == "ran past the batch's time limit of 2 s; its kernel was killed"
    pid = {r: json.loads((tmp_path / "out" / r / f"{r}.result.json").read_text())["pid"] for r in "ace"}
    assert pid["a"] != pid["c"] != pid["e"]  # a new kernel after the crash, and another after the hang
    for slug in ("b", "d"):  # the lost story's notebook says where and why
        executed = nbformat.read(tmp_path / "out" / slug / f"{slug}.ipynb", as_version=4)
        assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in executed.cells)
    shown = (tmp_path / "out" / "e" / "e.ipynb").read_text()
    assert "the key is ***" in shown and secret not in shown
    assert "left over from before: False" in shown  # each story starts from a clean namespace


# -- the pieces --------------------------------------------------------------------------------------------

RATE_WORKER = """
import asyncio, json, sys, time
from shortskit.ratelimit import shared_rate

async def main():
    rate = shared_rate("images test", 180, 3)  # bursts of 3, 3 a second
    start = float(sys.argv[1])
    while time.time() < start:
        await asyncio.sleep(0.01)
    got = []
    for _ in range(3):
        await rate.acquire()
        got.append(time.time())
    print(json.dumps(got))

asyncio.run(main())
"""


def test_the_shared_rate_holds_across_processes_and_is_off_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shortskit.ratelimit import RATE_DB_ENV, shared_rate, window
    from shortskit.scheduler import Limit

    monkeypatch.delenv(RATE_DB_ENV, raising=False)
    assert shared_rate("x", 6) is None and Limit("x", rate_per_minute=6)._shared is None  # unset: as before
    requests, seconds = window(180, 3)
    assert requests == 3 and seconds > 1.0  # the bare rate plus a margin
    env = {**os.environ, RATE_DB_ENV: str(tmp_path / "rates.sqlite")}
    start = time.time() + 3
    procs = [
        subprocess.Popen([sys.executable, "-c", RATE_WORKER, str(start)], stdout=subprocess.PIPE, env=env, text=True)
        for _ in range(3)
    ]
    grants = sorted(t for p in procs for t in json.loads(p.communicate(timeout=60)[0]))
    assert len(grants) == 9
    busiest = max(sum(1 for t in grants if a <= t < a + 1.0) for a in grants)
    assert busiest <= 3, [round(t - start, 2) for t in grants]  # three processes, one rate: 3 a second


def test_the_shared_rate_holds_across_a_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    from shortskit.ratelimit import RATE_DASK_ENV, RATE_DB_ENV

    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp", dashboard_address=":0") as cluster:
        env = {**os.environ, RATE_DASK_ENV: cluster.scheduler_address, RATE_DB_ENV: str(tmp_path / "unused.sqlite")}
        start = time.time() + 6  # every process connected to the scheduler by then
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RATE_WORKER, str(start)], stdout=subprocess.PIPE, env=env, text=True
            )
            for _ in range(3)
        ]
        grants = sorted(t for p in procs for t in json.loads(p.communicate(timeout=90)[0]))
    assert len(grants) == 9 and not (tmp_path / "unused.sqlite").exists()  # the scheduler kept the rate
    busiest = max(sum(1 for t in grants if a <= t < a + 1.0) for a in grants)
    assert busiest <= 3, [round(t - start, 2) for t in grants]


def test_an_existing_dask_scheduler_runs_the_batch_and_keeps_the_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    api = FakeAPI(key=CANARY)
    monkeypatch.setenv("TOGETHER_API_KEY", CANARY)  # the workers' own environment, as on a real cluster
    monkeypatch.setenv("TOGETHER_BASE_URL", api.v1)
    monkeypatch.setenv("SHORTSKIT_LIMITS", OPERATOR_30)  # the operator's limit: the workers' environment too
    images = {"provider": "together", "rate_per_minute": 30, "rate_burst": 3}  # 3 in any 6 s
    stories = [write_story(tmp_path, tiny(i, images=images), f"c{i}.json") for i in range(2)]
    out = tmp_path / "out"
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster:
            with distributed.Client(cluster, set_as_default=False) as client:
                pids = set(client.run(os.getpid).values())
            env = {"TOGETHER_API_KEY": "", "TOGETHER_BASE_URL": ""}  # the batch's own process has no key at all
            args = (*stories, "-o", out, "--cluster", cluster.scheduler_address, "-p", "workspace", tmp_path / "ws")
            proc = batch_cli(*args, env=env)
    finally:
        api.close()
    assert proc.returncode == 0, proc.stderr
    assert summary(out)["batch"]["done"] == 2
    arrivals = sorted(r.at for r in api.calls(FakeAPI.IMAGES))
    assert len(arrivals) == 4 and max(sum(1 for t in arrivals if a <= t < a + 6.0) for a in arrivals) <= 3
    workers = {json.loads((out / f"c{i}" / "job.json").read_text())["worker"] for i in range(2)}
    assert {int(w.rsplit(":", 1)[1]) for w in workers} <= pids  # run by the scheduler's own workers
    assert not (out / ".batch").exists() and files_holding(out, CANARY) == []


def test_run_batch_refuses_a_timeout_that_is_not_more_than_0(tmp_path: Path) -> None:
    from shortskit import run_batch
    from shortskit.errors import ConfigError

    story = write_story(tmp_path, small_story())
    for timeout in (0, -5.0, float("nan")):
        with pytest.raises(ConfigError, match="timeout must be more than 0 seconds"):
            run_batch(story, tmp_path / "out", timeout=timeout, progress=False)
    assert not (tmp_path / "out").exists()


def test_a_glob_or_a_folder_gives_story_files_only_a_named_file_is_taken_as_given(tmp_path: Path) -> None:
    from shortskit.batch.jobs import find_stories
    from shortskit.errors import ConfigError

    stories = [write_story(tmp_path, small_story(), name) for name in ("a.json", "b.YAML", "c.yml")]
    tone(tmp_path / "silence.wav", 0.2)
    (tmp_path / "notes.txt").write_text("not a story")
    (tmp_path / "sub.json").mkdir()
    assert find_stories([tmp_path / "*"]) == find_stories([tmp_path]) == stories
    assert find_stories([tmp_path / "[as]*"]) == stories[:1]
    assert find_stories([tmp_path / "silence.wav"]) == [tmp_path / "silence.wav"]  # named: as given
    with pytest.raises(ConfigError, match=r"no story files \(.json, .yaml\) match .*\*.wav"):
        find_stories([tmp_path / "*.wav"])


def test_cores_are_shared_out_between_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    from shortskit.batch.driver import shares
    from shortskit.engines.base import ClipSpec
    from shortskit.engines.ffmpeg import THREADS_ENV, clip_args
    from shortskit.errors import ConfigError

    assert shares(None, 12, available=16) == shares(12, 12, available=16)  # a job per core, no more than stories
    for jobs, cores in ((1, 2), (2, 2), (4, 16), (16, 16), (3, 8)):
        s = shares(jobs, 100, available=cores)
        assert s.jobs == jobs and s.jobs * s.render_jobs * s.encoder_threads <= max(cores, jobs)
    spec = ClipSpec(image=Path("a.png"), voice=Path("a.wav"), duration=1.0)
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert "-threads" not in clip_args(spec, Path("o.mp4"))
    monkeypatch.setenv(THREADS_ENV, "3")
    argv = [str(a) for a in clip_args(spec, Path("o.mp4"))]
    assert argv[argv.index("-threads") + 1] == "3"
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(ConfigError, match=THREADS_ENV):
        clip_args(spec, Path("o.mp4"))


@pytest.mark.browser
def test_the_gallery_opens_offline_in_a_real_browser(night: dict[str, Any], tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    out = night["out"]
    shots = Path(os.environ.get("SHORTSKIT_ARTIFACTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--allow-file-access-from-files"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto((out / "index.html").as_uri())
            page.wait_for_load_state("load")
            cards = page.locator("figure.card")
            assert cards.count() == 4
            posters = page.eval_on_selector_all("img.poster", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
            assert len(posters) == 3 and all(w and w > 100 for w in posters)  # every made short has its frame
            bad = page.locator('figure.card[data-slug="bad"]')
            assert "failed" in bad.locator(".status").inner_text() and "scene 2" in bad.locator(".error").inner_text()
            assert bad.locator("a.ipynb").count() == 1 and bad.locator("a.mp4").count() == 0
            calm = page.locator('figure.card[data-slug="calm"]')
            assert calm.locator("h2").inner_text() == "Tiny 0" and calm.locator(".duration").inner_text().endswith(" s")
            notebook = calm.locator("a.ipynb").get_attribute("href")
            assert notebook and (out / notebook).is_file()
            page.screenshot(path=str(shots / "batch-gallery.png"), full_page=True)
            calm.locator("a.mp4").click()  # the short itself plays from the folder, offline
            page.wait_for_function(
                "() => { const v = document.querySelector('video'); return v && v.readyState >= 1 && v.duration > 1 }",
                timeout=30_000,
            )
        finally:
            browser.close()
    assert (shots / "batch-gallery.png").stat().st_size > 10_000


@pytest.mark.parametrize("field", ["image", "audio", "music"])
def test_a_new_file_under_the_same_name_makes_the_story_run_again(tmp_path: Path, field: str) -> None:
    """The batch skips a story whose inputs are unchanged: a picture, recording or music file the story reads
    counts by its content, like the story itself."""
    from shortskit.batch.jobs import DEFAULT_NOTEBOOK, make_jobs

    used = tone(tmp_path / "used.wav", 1.0) if field != "image" else tmp_path / "used.png"
    if field == "image":
        used.write_bytes(b"first")
    scene = {"text": "Hello.", "image_prompt": "x"}
    data = (
        small_story(music={"file": used.name})
        if field == "music"
        else small_story(scenes=[{**scene, field: used.name}])
    )
    story = write_story(tmp_path, data)

    def digest() -> str:
        return make_jobs([story], tmp_path / "out", notebook=DEFAULT_NOTEBOOK)[0].digest

    before = digest()
    used.write_bytes(used.read_bytes() + b"\0\0")  # same name, other content
    assert digest() != before
