"""The scheduler and the workspace, counted with providers that record their calls.

The recording providers sit at the provider boundary (they are registered like any vendor's and make real
pictures and voices by delegating to the offline ones); the pipeline, ffmpeg and the workspace are real.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

import shortskit
from shortskit import Event, ProviderError, RetryPolicy, ScenesFailedError, ffmpeg, parse_story
from shortskit.engines import ClipSpec
from shortskit.engines.ffmpeg import THREADS_ENV, FfmpegEngine, clip_args
from shortskit.providers.espeak import EspeakVoice
from shortskit.providers.procedural import ProceduralImages
from shortskit.scheduler import Limit, call
from tests.conftest import small_story, write_story

FAST_RETRY = RetryPolicy(attempts=4, initial=0.01, maximum=0.05, jitter=0.0)


class Recorder:
    """Counts calls and the most that ran at once."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: list[float] = []

    async def around(self, what: str, job: Any, delay: float = 0.0) -> Any:
        self.calls.append(what)
        self.starts.append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if delay:
                await asyncio.sleep(delay)
            return await job
        finally:
            self.in_flight -= 1


class RecordingVoice:
    name = "recording-voice"
    version = "1"
    recorder: ClassVar[Recorder] = Recorder()

    def __init__(self, max_concurrency: int = 1, delay: float = 0.0) -> None:
        self.max_concurrency = max_concurrency
        self.delay = delay
        self._inner = EspeakVoice()

    def settings(self) -> dict[str, Any]:
        return {}

    async def synthesize(self, text: str, out: Path, *, language: str) -> shortskit.Speech:
        return await self.recorder.around(text, self._inner.synthesize(text, out, language=language), self.delay)


class RecordingImages:
    name = "recording-images"
    version = "1"
    rate_per_minute = None
    recorder: ClassVar[Recorder] = Recorder()
    # failures to answer before succeeding, per prompt: a list of (status, retry_after)
    script: ClassVar[dict[str, list[tuple[int, float | None]]]] = {}

    def __init__(self, max_concurrency: int = 2, delay: float = 0.0) -> None:
        self.max_concurrency = max_concurrency
        self.delay = delay
        self._inner = ProceduralImages(label=False)

    def settings(self) -> dict[str, Any]:
        return {}

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        async def job() -> Path:
            plan = self.script.get(prompt) or []
            if plan:
                status, retry_after = plan.pop(0)
                raise ProviderError(
                    "unauthorized: set FAKE_API_KEY" if status == 401 else f"server said {status}",
                    provider=self.name,
                    status=status,
                    retryable=status == 429 or status >= 500,
                    retry_after=retry_after,
                )
            return await self._inner.generate(prompt, out, width=width, height=height, seed=seed)

        return await self.recorder.around(prompt, job(), self.delay)


@pytest.fixture(autouse=True)
def recording_providers() -> Any:
    RecordingVoice.recorder = Recorder()
    RecordingImages.recorder = Recorder()
    RecordingImages.script = {}
    shortskit.register_voice("recording", RecordingVoice)
    shortskit.register_image("recording", RecordingImages)
    yield


def story_of(n: int = 3, **over: Any) -> shortskit.Story:
    scenes = [{"text": f"Scene number {i + 1} says hello.", "image_prompt": f"picture {i + 1}"} for i in range(n)]
    data = small_story(scenes=scenes, voice={"provider": "recording"}, images={"provider": "recording"})
    data.update(over)
    return parse_story(data)


def render(story: shortskit.Story, tmp: Path, name: str = "short.mp4", **kw: Any) -> shortskit.RenderResult:
    kw.setdefault("retry", FAST_RETRY)
    return shortskit.render_sync(story, tmp / name, workspace=tmp / "ws", **kw)


def test_second_run_makes_nothing_and_an_edit_remakes_only_that_scene(tmp_path: Path) -> None:
    story = story_of(3)
    first = render(story, tmp_path)
    assert len(RecordingVoice.recorder.calls) == 3 and len(RecordingImages.recorder.calls) == 3
    assert first.made == {"image": 3, "voice": 3, "captions": 3, "clip": 3, "soundtrack": 1, "merge": 1}

    again = render(story, tmp_path, "again.mp4")
    assert len(RecordingVoice.recorder.calls) == 3 and len(RecordingImages.recorder.calls) == 3
    assert again.made == {"image": 0, "voice": 0, "captions": 0, "clip": 0, "soundtrack": 0, "merge": 0}

    story.scenes[1].text = "A different second scene."
    edited = render(story, tmp_path, "edited.mp4")
    assert RecordingVoice.recorder.calls[3:] == ["A different second scene."]
    assert len(RecordingImages.recorder.calls) == 3  # the prompt did not change
    assert edited.made == {"image": 0, "voice": 1, "captions": 1, "clip": 1, "soundtrack": 1, "merge": 1}

    story.scenes[2].image_prompt = "a new picture"
    render(story, tmp_path, "new_picture.mp4")
    assert RecordingImages.recorder.calls[3:] == ["a new picture"]
    assert len(RecordingVoice.recorder.calls) == 4


def test_a_failed_merge_writes_nothing_beside_the_target(tmp_path: Path) -> None:
    story = story_of(2)
    first = render(story, tmp_path)
    # the last clip damaged in the workspace (a disk error, a killed copy): the merge itself fails, where
    # ffmpeg's concat alone would log it and end the short before that clip
    first.scenes[-1].clip.write_bytes(b"not a video at all " * 100)
    for final in (tmp_path / "ws" / "finals").glob("*.mp4"):
        final.unlink()
    damaged = first.scenes[-1].clip
    with pytest.raises(shortskit.RenderError, match=r"its clip in the workspace was damaged .*render again") as info:
        render(story, tmp_path, "broken.mp4")
    assert info.value.scene == 2
    # no short, and neither of the files beside it (worked out while the merge ran)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.json", "short.mp4", "short.srt", "ws"]
    # the damaged clip is gone from the workspace, so the next run remakes it (and only it)
    assert not damaged.exists()
    again = render(story, tmp_path, "broken.mp4")
    assert again.made["clip"] == 1 and ffmpeg.probe(again.video).duration == pytest.approx(first.duration, abs=0.1)


def test_caption_style_change_remakes_captions_and_clips_only(tmp_path: Path) -> None:
    story = story_of(2)
    render(story, tmp_path)
    story.captions.highlight_color = "#FF0000"
    result = render(story, tmp_path, "red.mp4")
    assert result.made == {"image": 0, "voice": 0, "captions": 2, "clip": 2, "soundtrack": 0, "merge": 1}
    assert len(RecordingVoice.recorder.calls) == 2 and len(RecordingImages.recorder.calls) == 2


def test_force_remakes_everything(tmp_path: Path) -> None:
    story = story_of(2)
    render(story, tmp_path)
    result = render(story, tmp_path, "forced.mp4", force=True)
    assert result.made == {"image": 2, "voice": 2, "captions": 2, "clip": 2, "soundtrack": 1, "merge": 1}
    assert len(RecordingVoice.recorder.calls) == 4


def test_429_twice_then_success_gives_a_short_after_three_calls(tmp_path: Path) -> None:
    story = story_of(2)
    RecordingImages.script["picture 2"] = [(429, 0.05), (503, None)]
    events: list[Event] = []
    result = render(story, tmp_path, on_progress=events.append)
    assert RecordingImages.recorder.calls.count("picture 2") == 3
    assert RecordingImages.recorder.calls.count("picture 1") == 1
    assert ffmpeg.probe(result.video).has_video
    retries = [e for e in events if e.state == "retrying"]
    assert [(e.scene, e.stage) for e in retries] == [(2, "image"), (2, "image")]
    assert "retrying in 0.1 s" in retries[0].message  # the server's Retry-After (0.05 s) was used


def test_401_stops_that_providers_pending_calls_and_finished_work_is_kept(tmp_path: Path) -> None:
    story = story_of(3)  # pictures are made two at a time: 1 and 2 start, 3 waits for a slot
    RecordingImages.script["picture 2"] = [(401, None)]
    out = tmp_path / "short.mp4"
    with pytest.raises(ScenesFailedError) as info:
        render(story, tmp_path)
    calls = RecordingImages.recorder.calls
    assert calls.count("picture 2") == 1 and "picture 3" not in calls  # no call after the key was rejected
    assert str(info.value) == "recording-images: unauthorized: set FAKE_API_KEY (scenes 2, 3)"
    assert info.value.exit_code == 2  # a rejected key is the user's to fix, like a bad story
    assert not out.exists()
    # the re-run makes only what is missing: the pictures (and clips) of scenes 2 and 3
    result = render(story, tmp_path)
    assert result.made == {"image": 2, "voice": 0, "captions": 0, "clip": 2, "soundtrack": 0, "merge": 1}
    assert calls.count("picture 1") == 1 and calls.count("picture 2") == 2


def test_retries_give_up_with_a_clear_message(tmp_path: Path) -> None:
    story = story_of(1)
    RecordingImages.script["picture 1"] = [(500, None)] * 10
    with pytest.raises(ScenesFailedError, match=r"scene 1: server said 500 \(gave up after 4 tries\)"):
        render(story, tmp_path)
    assert RecordingImages.recorder.calls.count("picture 1") == 4


def test_several_failures_are_listed(tmp_path: Path) -> None:
    story = story_of(3)
    RecordingImages.script["picture 1"] = [(400, None)]
    RecordingImages.script["picture 3"] = [(422, None)]
    with pytest.raises(ScenesFailedError) as info:
        render(story, tmp_path)
    assert [e.scene for e in info.value.errors] == [1, 3]
    assert str(info.value) == (
        "2 scenes failed: recording-images: scene 1: server said 400; recording-images: scene 3: server said 422"
    )


def test_concurrency_limits_hold_and_are_used(tmp_path: Path) -> None:
    story = story_of(6)
    story.voice.options = {"max_concurrency": 1, "delay": 0.05}
    story.images.options = {"max_concurrency": 2, "delay": 0.1}
    events: list[Event] = []
    render(story, tmp_path, on_progress=events.append, render_jobs=2)
    assert RecordingVoice.recorder.max_in_flight == 1
    assert RecordingImages.recorder.max_in_flight == 2
    # images and voices ran at the same time: some voice started before the last image finished
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


class RecordingEngine:
    """The ffmpeg engine, noting the encoder threads each clip was given, in the order the clips started."""

    name = "ffmpeg"
    version = FfmpegEngine.version

    def __init__(self) -> None:
        self.threads: list[int | None] = []

    async def render_clip(self, spec: ClipSpec, out: Path, *, scene: int | None = None, effects: Any = ()) -> Path:
        self.threads.append(spec.threads)
        return await FfmpegEngine().render_clip(spec, out, scene=scene)


def test_clips_side_by_side_share_the_cores_and_the_last_take_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    share = max(1, (os.cpu_count() or 1) // 2)
    story = story_of(4)
    engine = RecordingEngine()
    render(story, tmp_path, engine=engine, render_jobs=2)
    # two at a time: while others encode or wait, a clip gets its share; the last to start gets every core
    assert len(engine.threads) == 4 and engine.threads[-1] is None
    assert engine.threads.count(share) >= 2
    # one scene edited: its clip is made alone, with every core
    story.scenes[1].text = "A different second scene."
    engine.threads.clear()
    render(story, tmp_path, "edited.mp4", engine=engine, render_jobs=2)
    assert engine.threads == [None]


@pytest.mark.parametrize("setting", ["env", "one job"])
def test_cores_are_not_shared_by_the_render_when_told_or_alone(
    setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    if setting == "env":
        monkeypatch.setenv(THREADS_ENV, "1")  # a batch shares the machine out itself
    engine = RecordingEngine()
    render(story_of(3), tmp_path, engine=engine, render_jobs=1 if setting == "one job" else 2)
    assert engine.threads == [None, None, None]


def test_a_clips_threads_reach_x264(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "3")
    spec = ClipSpec(image=Path("a.png"), voice=Path("a.wav"), duration=1.0, threads=1)
    argv = [str(a) for a in clip_args(spec, Path("o.mp4"))]
    assert argv[argv.index("-threads") + 1] == "1" and argv.count("-threads") == 1


def test_a_limit_counts_who_waits_for_a_slot() -> None:
    async def main() -> list[tuple[int, int]]:
        limit = Limit("t", concurrency=1)
        seen: list[tuple[int, int]] = []

        async def job() -> None:
            async with limit.slot():
                await asyncio.sleep(0.005)  # the others have asked by now
                seen.append((limit.in_flight, limit.waiting))
                await asyncio.sleep(0.005)

        await asyncio.gather(job(), job(), job())
        # one cancelled while it waits leaves no count behind
        async with limit.slot():
            waiter = asyncio.create_task(job())
            await asyncio.sleep(0.01)
            assert limit.waiting == 1
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        assert limit.waiting == 0 and limit.in_flight == 0
        return seen

    assert asyncio.run(main()) == [(1, 2), (1, 1), (1, 0)]


def test_rate_limit_spaces_requests() -> None:
    async def main() -> list[float]:
        limit = Limit("api", concurrency=10, rate_per_minute=600, burst=1)  # one request every 0.1 s
        starts: list[float] = []

        async def job() -> None:
            starts.append(time.monotonic())

        await asyncio.gather(*(call(job, limit=limit) for _ in range(5)))
        assert limit.started == 5
        return starts

    starts = sorted(asyncio.run(main()))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.09, gaps


def test_progress_events_cover_every_stage(tmp_path: Path) -> None:
    story = story_of(2)
    events: list[Event] = []
    render(story, tmp_path, on_progress=events.append)
    done = {(e.scene, e.stage) for e in events if e.state == "done"}
    stages = ("image", "voice", "captions", "clip")
    assert done == {(s, st) for s in (1, 2) for st in stages} | {(None, "soundtrack"), (None, "merge")}
    events.clear()
    render(story, tmp_path, "again.mp4", on_progress=events.append)
    assert {e.state for e in events} == {"cached"}


def _kill_story(tmp_path: Path) -> Path:
    scenes = [
        {"text": f"This is scene {i}, and it talks for a little while about the sea.", "image_prompt": f"sea {i}"}
        for i in range(6)
    ]
    data = small_story(scenes=scenes, output={"width": 540, "height": 960, "fps": 30, "quality": "production"})
    return write_story(tmp_path, data)


def _start(story: Path, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shortskit", "render", str(story), "-o", str(tmp_path / "short.mp4"),
         "--workspace", str(tmp_path / "ws")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _wait_for_first_clip(proc: subprocess.Popen[str], clips: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if clips.is_dir() and any(not p.name.startswith(".") for p in clips.iterdir()):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError("no clip was made in time")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes(tmp_path: Path, sig: signal.Signals) -> None:
    story = _kill_story(tmp_path)
    proc = _start(story, tmp_path)
    _wait_for_first_clip(proc, tmp_path / "ws" / "clips")
    assert proc.poll() is None, "the render finished before it could be interrupted"
    os.kill(proc.pid, sig)
    _, stderr = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "short.mp4").exists()
    clips_before = {p.name for p in (tmp_path / "ws" / "clips").iterdir() if not p.name.startswith(".")}
    assert 1 <= len(clips_before) < 6

    again = _start(story, tmp_path)
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    made_clips = int(stdout.split(" clip")[0].rsplit(" ", 1)[-1])
    assert made_clips == 6 - len(clips_before)
    info = ffmpeg.probe(tmp_path / "short.mp4")
    assert (info.width, info.height) == (540, 960) and info.has_audio
    assert info.duration and info.duration > 6 * 2.5


def test_renders_on_one_loop_share_provider_limits(tmp_path: Path) -> None:
    """Two stories rendered at once (as start_many does) never exceed one provider's concurrency."""

    async def main() -> None:
        a, b = story_of(3), story_of(3)
        for s in (a, b):
            s.images.options = {"max_concurrency": 1, "delay": 0.05}
        b.scenes[0].image_prompt = "another picture"  # different work, same provider
        await asyncio.gather(
            shortskit.render(a, tmp_path / "a.mp4", workspace=tmp_path / "ws", retry=FAST_RETRY),
            shortskit.render(b, tmp_path / "b.mp4", workspace=tmp_path / "ws", retry=FAST_RETRY),
        )

    asyncio.run(main())
    assert RecordingImages.recorder.max_in_flight == 1
    assert ffmpeg.probe(tmp_path / "a.mp4").has_video and ffmpeg.probe(tmp_path / "b.mp4").has_video


class Spans:
    """Start and end of every call, by what was asked."""

    spans: ClassVar[dict[str, tuple[float, float]]] = {}

    @classmethod
    async def timed(cls, what: str, job: Any) -> Any:
        start = time.monotonic()
        try:
            return await job
        finally:
            cls.spans[what] = (start, time.monotonic())


class SlowVoice(RecordingVoice):
    name = "slow-voice"

    async def synthesize(self, text: str, out: Path, *, language: str) -> shortskit.Speech:
        async def job() -> shortskit.Speech:
            await asyncio.sleep(0.3)
            return await self._inner.synthesize(text, out, language=language)

        return await Spans.timed(f"voice {text}", job())


class SlowImages(RecordingImages):
    name = "slow-images"

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        async def job() -> Path:
            await asyncio.sleep(0.3)
            return await self._inner.generate(prompt, out, width=width, height=height, seed=seed)

        return await Spans.timed(f"image {prompt}", job())


def test_a_scenes_picture_and_voice_are_made_at_the_same_time(tmp_path: Path) -> None:
    shortskit.register_voice("slow", SlowVoice)
    shortskit.register_image("slow", SlowImages)
    Spans.spans = {}
    story = story_of(1, voice={"provider": "slow"}, images={"provider": "slow"})
    render(story, tmp_path)
    (image_start, image_end), (voice_start, voice_end) = (
        Spans.spans["image picture 1"],
        Spans.spans["voice Scene number 1 says hello."],
    )
    assert image_start < voice_end and voice_start < image_end  # the two calls' spans overlap
