"""Trust: keys go only where the user sent them, a rejected key stops the run at once, a re-made picture reaches
the short, many renders share one workspace, and every failure names its provider and scene.

Everything runs against real local HTTP servers (tests/fakeservers.py) and, where the CLI is the face a user
meets, through the real ``shortskit`` command in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import shortskit
from shortskit import ConfigError, ScenesFailedError, ffmpeg, parse_story
from shortskit.providers.procedural import ProceduralImages
from shortskit.providers.together import TogetherImages
from tests.conftest import small_story, write_story
from tests.fakeservers import FakeAPI, Reply

KEY = "tgp_v1_CANARY-0123456789-secret"
KEY_VARS = ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "KOKORO_BASE_URL",
            "SHORTSKIT_ALLOW_HOSTS")  # fmt: skip
FAST = shortskit.RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # the operator lifts Together's 6 a minute for the fake server (a story may only lower limits)
    monkeypatch.setenv("SHORTSKIT_LIMITS", "images.together.rate_per_minute=none")
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    return {**env, **extra}


def _cli(*args: Any, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shortskit", *map(str, args)], capture_output=True, text=True, env=env, timeout=600
    )


def _scenes(n: int) -> list[dict[str, str]]:
    return [{"text": f"Scene {i + 1} says hello.", "image_prompt": f"picture {i + 1}"} for i in range(n)]


def _holding(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


# -- keys stay home ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "option"),
    [("voice", "api_key_env"), ("images", "api_key_env"), ("images", "api_key"), ("voice", "endpoint")],
)
def test_a_story_cannot_choose_a_key(tmp_path: Path, section: str, option: str) -> None:
    settings = {"voice": {"provider": "openai"}, "images": {"provider": "together"}}[section]
    story = write_story(tmp_path, small_story(**{section: {**settings, option: "HOME"}}), "hostile.json")
    proc = _cli("render", story, "-o", tmp_path / "x.mp4", env=_env(TOGETHER_API_KEY=KEY, OPENAI_API_KEY=KEY))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith(f"error: hostile.json: {section}.{option}: a story cannot choose API keys")
    assert not (tmp_path / "x.mp4").exists()


def test_an_unknown_option_lists_what_a_story_may_set(tmp_path: Path) -> None:
    story = write_story(tmp_path, small_story(voice={"provider": "openai", "colour": "blue"}), "odd.json")
    proc = _cli("validate", story, env=_env(OPENAI_API_KEY=KEY))
    assert proc.returncode == 2 and "has no option 'colour'; its options: base_url," in proc.stderr, proc.stderr
    assert "endpoint" not in proc.stderr  # the caller's to give, never a story's


def test_a_story_named_base_url_gets_no_key(tmp_path: Path) -> None:
    """A hostile story points both providers at its own server: the render works, and no key goes there."""
    with FakeAPI(key=KEY) as trusted, FakeAPI() as hostile:
        data = small_story(
            scenes=_scenes(2),
            images={"provider": "together", "base_url": hostile.v1, "rate_per_minute": None},
            voice={"provider": "openai", "base_url": hostile.v1},
        )
        story = write_story(tmp_path, data)
        env = _env(TOGETHER_API_KEY=KEY, OPENAI_API_KEY=KEY, TOGETHER_BASE_URL=trusted.v1, OPENAI_BASE_URL=trusted.v1)
        # a story may reach a local server only where the operator allows it: this one, for this test
        env["SHORTSKIT_ALLOW_HOSTS"] = hostile.url.removeprefix("http://")
        proc = _cli("render", story, "-o", tmp_path / "s.mp4", "--workspace", tmp_path / "ws", env=env)
        assert proc.returncode == 0, proc.stderr
        assert len(hostile.calls(FakeAPI.IMAGES)) == 2 and len(hostile.calls(FakeAPI.SPEECH)) == 2
        for got in hostile.requests:
            assert "authorization" not in got.headers and KEY.encode() not in got.body
            assert KEY not in json.dumps(got.headers)
        assert trusted.requests == []
    assert _holding(tmp_path, KEY) == []


def test_the_trusted_endpoint_gets_the_key_and_a_redirect_elsewhere_does_not(tmp_path: Path) -> None:
    with FakeAPI(key=KEY) as trusted, FakeAPI() as elsewhere:
        trusted.inject(FakeAPI.IMAGES, Reply(307, b"", {"Location": f"{elsewhere.v1}/images/generations"}))
        os.environ["TOGETHER_API_KEY"] = KEY
        try:
            painter = TogetherImages(endpoint=trusted.v1)
            asyncio.run(painter.generate("a fox", tmp_path / "fox.png", width=90, height=160, seed=1))
        finally:
            del os.environ["TOGETHER_API_KEY"]
        assert trusted.calls(FakeAPI.IMAGES)[0].headers["authorization"] == f"Bearer {KEY}"
        moved = elsewhere.calls(FakeAPI.IMAGES)
        assert len(moved) == 1 and "authorization" not in moved[0].headers  # the key did not follow
    assert (tmp_path / "fox.png").exists()


def test_endpoints_given_to_render_are_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    with FakeAPI(key=KEY) as api:
        data = small_story(scenes=_scenes(1), images={"provider": "together", "rate_per_minute": None})
        result = shortskit.render_sync(
            parse_story(data), tmp_path / "s.mp4", workspace=tmp_path / "ws", endpoints={"together": api.v1}
        )
        assert result.made["image"] == 1 and api.calls(FakeAPI.IMAGES)[0].headers["authorization"] == f"Bearer {KEY}"


def test_an_endpoint_given_on_the_command_line_is_trusted(tmp_path: Path) -> None:
    with FakeAPI(key=KEY) as api:
        data = small_story(scenes=_scenes(1), images={"provider": "together", "rate_per_minute": None})
        story = write_story(tmp_path, data)
        args = ("render", story, "-o", tmp_path / "s.mp4", "--workspace", tmp_path / "ws")
        proc = _cli(*args, "--endpoint", f"together={api.v1}", env=_env(TOGETHER_API_KEY=KEY))
        assert proc.returncode == 0, proc.stderr
        assert api.calls(FakeAPI.IMAGES)[0].headers["authorization"] == f"Bearer {KEY}"
    bad = _cli(*args, "--endpoint", "together", env=_env(TOGETHER_API_KEY=KEY))
    assert bad.returncode == 2 and bad.stderr.startswith("error: --endpoint takes NAME=URL")


def test_an_endpoint_to_a_keyless_local_server_needs_no_key(tmp_path: Path) -> None:
    """--endpoint names where keys may go; a local OpenAI-compatible server with no key set must still work."""
    with FakeAPI() as local:
        story = write_story(tmp_path, small_story(scenes=_scenes(1), voice={"provider": "openai"}))
        args = ("render", story, "-o", tmp_path / "s.mp4", "--workspace", tmp_path / "ws")
        proc = _cli(*args, "--endpoint", f"openai={local.v1}", env=_env())
        assert proc.returncode == 0, proc.stderr
        assert [c.headers.get("authorization") for c in local.calls(FakeAPI.SPEECH)] == [None]
    bad = _cli(*args, "--endpoint", "openai=notaurl", env=_env())
    assert bad.returncode == 2 and bad.stderr.startswith("error: --endpoint openai must start with http"), bad.stderr


# -- a rejected key ------------------------------------------------------------------------------------------


def test_a_rejected_key_stops_the_run_with_one_line(tmp_path: Path) -> None:
    wrong = "tgp_v1_WRONG-key-9876543210"
    with FakeAPI(key=KEY) as api:
        data = small_story(scenes=_scenes(5), images={"provider": "together", "rate_per_minute": None})
        story = write_story(tmp_path, data)
        env = _env(TOGETHER_API_KEY=wrong, TOGETHER_BASE_URL=api.v1)
        proc = _cli("render", story, "-o", tmp_path / "s.mp4", "--workspace", tmp_path / "ws", env=env)
        calls = len(api.calls(FakeAPI.IMAGES))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: together: rejected the API key (HTTP 401") and "set TOGETHER_API_KEY" in lines[0]
    assert wrong not in proc.stderr
    assert 1 <= calls <= 2  # the together provider runs two jobs at once: at most those were in flight
    assert not (tmp_path / "s.mp4").exists()


# -- content, not names ------------------------------------------------------------------------------------


def _red(video: Path) -> int:
    """The red channel in the sky of the picture (above the captions) halfway through the short."""
    frame = np.asarray(ffmpeg.frame_at(video, 0.5))
    return int(np.median(frame[20:60, :, 0]))


def test_new_pictures_reach_the_short_after_cache_clear_and_force(tmp_path: Path) -> None:
    with FakeAPI(key=KEY, varying=True) as api:
        data = small_story(scenes=_scenes(1), images={"provider": "together", "rate_per_minute": None})
        story, ws = write_story(tmp_path, data), tmp_path / "ws"
        env = _env(TOGETHER_API_KEY=KEY, TOGETHER_BASE_URL=api.v1)
        shorts = [tmp_path / f"{n}.mp4" for n in ("first", "cleared", "forced", "again")]
        assert _cli("render", story, "-o", shorts[0], "--workspace", ws, env=env).returncode == 0
        assert _cli("cache", "clear", "--kind", "images", "--workspace", ws, env=env).returncode == 0
        assert _cli("render", story, "-o", shorts[1], "--workspace", ws, env=env).returncode == 0
        assert _cli("render", story, "-o", shorts[2], "--workspace", ws, "--force", env=env).returncode == 0
        again = _cli("render", story, "-o", shorts[3], "--workspace", ws, env=env)
        assert again.returncode == 0 and "made nothing new" in again.stdout
        assert len(api.calls(FakeAPI.IMAGES)) == 3
    reds = [_red(s) for s in shorts]
    assert reds[0] != reds[1] != reds[2] and reds[3] == reds[2], reds  # each new picture is in the short


class RandomPictures:
    """Like a real image model: a new picture every call, whatever the prompt and seed."""

    name = "random-pictures"
    version = "1"
    max_concurrency = 2
    rate_per_minute = None
    rng: ClassVar[np.random.Generator] = np.random.default_rng(7)

    def settings(self) -> dict[str, Any]:
        return {}

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        colour = tuple(int(v) for v in self.rng.integers(0, 256, 3))
        from PIL import Image

        Image.new("RGB", (width, height), colour).save(out, format="PNG")
        return out


def test_regenerate_reaches_the_short(tmp_path: Path) -> None:
    shortskit.register_image("random-pictures", RandomPictures)
    story = parse_story(small_story(images={"provider": "random-pictures"}))
    ws = tmp_path / "ws"
    first = shortskit.render_sync(story, tmp_path / "a.mp4", workspace=ws)
    asyncio.run(shortskit.render_scene(story, 1, workspace=ws, force=True))  # what Regenerate does
    second = shortskit.render_sync(story, tmp_path / "b.mp4", workspace=ws)
    assert second.made["merge"] == 1 and second.made["image"] == 0  # the regenerated picture is reused...
    assert second.scenes[0].clip != first.scenes[0].clip and _red(second.video) != _red(first.video)  # ...and shown
    assert second.scenes[1].clip == first.scenes[1].clip


# -- one workspace, many writers ---------------------------------------------------------------------------


def test_two_renders_on_one_loop_make_each_picture_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    with FakeAPI(key=KEY) as api:
        images = {"provider": "together", "rate_per_minute": None}
        a = parse_story(small_story(scenes=_scenes(2), images=images))
        b = parse_story(small_story(scenes=_scenes(3), images=images))  # the same two scenes, and one more

        async def both() -> None:
            options = {"workspace": tmp_path / "ws", "endpoints": {"together": api.v1}}
            await asyncio.gather(
                shortskit.render(a, tmp_path / "a.mp4", **options), shortskit.render(b, tmp_path / "b.mp4", **options)
            )

        asyncio.run(both())
        asked = Counter(r.json()["prompt"] for r in api.calls(FakeAPI.IMAGES))
    assert asked == {"picture 1": 1, "picture 2": 1, "picture 3": 1}


def test_two_processes_share_one_workspace(tmp_path: Path) -> None:
    with FakeAPI(key=KEY) as api:
        data = small_story(scenes=_scenes(3), images={"provider": "together", "rate_per_minute": None})
        story, ws = write_story(tmp_path, data), tmp_path / "ws"
        env = _env(TOGETHER_API_KEY=KEY, TOGETHER_BASE_URL=api.v1)
        argv = [sys.executable, "-m", "shortskit", "render", str(story), "--workspace", str(ws), "-o"]
        procs = [
            subprocess.Popen(
                [*argv, str(tmp_path / f"{n}.mp4")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for n in ("one", "two")
        ]
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err.decode()
        asked = Counter(r.json()["prompt"] for r in api.calls(FakeAPI.IMAGES))
    assert asked == {"picture 1": 1, "picture 2": 1, "picture 3": 1}
    assert ffmpeg.probe(tmp_path / "one.mp4").has_video and ffmpeg.probe(tmp_path / "two.mp4").has_video


# -- errors name the scene ---------------------------------------------------------------------------------


class Broken:
    """A third-party provider that fails the way libraries do: with their own exceptions."""

    name = "broken"
    version = "1"
    max_concurrency = 1
    rate_per_minute = None

    def settings(self) -> dict[str, Any]:
        return {}

    async def synthesize(self, text: str, out: Path, *, language: str) -> Any:
        raise RuntimeError("CUDA error: device-side assert triggered")

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        if "2" in prompt:
            raise ValueError("the model returned NaNs")
        return await ProceduralImages().generate(prompt, out, width=width, height=height, seed=seed)


def test_any_provider_error_names_the_provider_and_the_scene(tmp_path: Path) -> None:
    shortskit.register_voice("broken", Broken)
    shortskit.register_image("broken", Broken)
    story = parse_story(small_story(scenes=_scenes(2), voice={"provider": "broken"}, images={"provider": "broken"}))
    with pytest.raises(ScenesFailedError) as info:
        shortskit.render_sync(story, tmp_path / "s.mp4", workspace=tmp_path / "ws", retry=FAST)
    message = str(info.value)
    # the voice failed in both scenes (one line for both), and scene 2's picture failed as well: all reported
    assert "broken: RuntimeError: CUDA error: device-side assert triggered (scenes 1, 2)" in message
    assert "broken: scene 2: ValueError: the model returned NaNs" in message
    assert "internal error" not in message and len(info.value.errors) == 3
    assert {(e.scene, e.provider) for e in info.value.errors} == {(1, "broken"), (2, "broken")}


def test_sync_wrappers_work_inside_a_running_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In Jupyter a loop is already running: the blocking calls still work (as render_sync does)."""
    from shortskit.seo import generate_metadata_sync
    from shortskit.writer import write_story_sync

    story_reply = json.dumps({"title": "T", "language": "en", "description": "", "hashtags": [], "scenes": _scenes(1)})
    with FakeAPI(key=KEY) as chat:
        chat.chat_replies = [story_reply]
        monkeypatch.setenv("SHORTSKIT_WRITER_BASE_URL", chat.v1)
        monkeypatch.setenv("SHORTSKIT_WRITER_API_KEY", KEY)

        async def cell() -> tuple[Any, Any, Any]:
            written = write_story_sync("foxes", scenes=1)
            meta = generate_metadata_sync(written, use_writer=False)
            short = shortskit.render_sync(written, tmp_path / "s.mp4", workspace=tmp_path / "ws", quality="draft")
            return written, meta, short

        written, meta, short = asyncio.run(cell())
    assert written.scenes[0].text == "Scene 1 says hello." and meta["title"] == "T" and short.video.exists()


def test_without_nest_asyncio_a_running_loop_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from shortskit.blocking import run_sync

    monkeypatch.setitem(sys.modules, "nest_asyncio", None)

    async def cell() -> None:
        async def work() -> int:
            return 1

        with pytest.raises(ConfigError, match=r"use `await shortskit.write_story\(...\)`"):
            run_sync(work(), name="write_story")

    asyncio.run(cell())


# -- the per-scene seed ------------------------------------------------------------------------------------


class SeedRecorder(RandomPictures):
    name = "seed-recorder"
    seeds: ClassVar[list[tuple[str, int]]] = []

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        self.seeds.append((prompt, seed))
        return await super().generate(prompt, out, width=width, height=height, seed=seed)


def test_scene_n_gets_seed_plus_n_minus_one(tmp_path: Path) -> None:
    shortskit.register_image("seed-recorder", SeedRecorder)
    SeedRecorder.seeds = []
    story = parse_story(small_story(scenes=_scenes(3), images={"provider": "seed-recorder", "seed": 5}))
    shortskit.render_sync(story, tmp_path / "s.mp4", workspace=tmp_path / "ws")
    assert sorted(SeedRecorder.seeds) == [("picture 1", 5), ("picture 2", 6), ("picture 3", 7)]
    schema = shortskit.story_schema()["$defs"]["ImageSettings"]["properties"]["seed"]["description"]
    assert "seed + N - 1" in schema
