"""The main job, end to end: `shortskit render` on the examples, read back with the shipped ffmpeg."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pysubs2
import pytest

from shortskit import ffmpeg, load_story
from shortskit.providers.espeak import EspeakVoice
from shortskit.soundtrack import measure
from tests.conftest import EXAMPLES, run_cli

pytestmark = pytest.mark.slow


def _voice_lengths(story_path: Path) -> list[float]:
    """Narration length of each scene, spoken again independently of the render."""
    story = load_story(story_path)
    voice = EspeakVoice(**story.voice.provider_options())

    async def speak(tmp: Path) -> list[float]:
        out = []
        for i, scene in enumerate(story.scenes):
            speech = await voice.synthesize(scene.text, tmp / f"{i}.wav", language=story.language)
            out.append(speech.duration)
        return out

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(speak(Path(tmp)))


@pytest.fixture(scope="module", params=["octopus.json", "pulpo.yaml"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    name = request.param
    folder = tmp_path_factory.mktemp(Path(name).stem)
    out = folder / "short.mp4"
    proc = run_cli("render", EXAMPLES / name, "-o", out, "--workspace", folder / "ws")
    assert proc.returncode == 0, proc.stderr
    return {"story": load_story(EXAMPLES / name), "path": EXAMPLES / name, "out": out, "folder": folder, "proc": proc}


def test_mp4_meets_the_output_contract(rendered: dict) -> None:
    info = ffmpeg.probe(rendered["out"])
    assert (info.width, info.height) == (1080, 1920)
    assert info.fps == 30
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.audio_codec == "aac" and info.sample_rate == 48000
    # +faststart: the moov atom comes before the media data
    head = rendered["out"].read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_duration_is_voices_plus_pauses(rendered: dict) -> None:
    story = rendered["story"]
    expected = sum(_voice_lengths(rendered["path"])) + sum(story.scene_pause(i) for i in range(len(story.scenes)))
    info = ffmpeg.probe(rendered["out"])
    assert info.duration == pytest.approx(expected, abs=0.2)
    meta = json.loads(rendered["out"].with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["duration"] == pytest.approx(expected, abs=0.2)
    assert meta["title"] == story.title and "#shorts" in meta["hashtags"]
    assert [s["text"] for s in meta["scenes"]] == [s.text for s in story.scenes]


def test_the_short_plays_at_the_platforms_loudness(rendered: dict) -> None:
    # the story's output.loudness (-14 LUFS by default), measured on the MP4 itself with ffmpeg's EBU R128 meter
    story = rendered["story"]
    assert story.output.loudness == -14
    loud = measure([rendered["out"]])[0]
    assert loud.integrated == pytest.approx(-14, abs=1)
    assert loud.true_peak <= -1.0


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def test_audio_is_heard_while_words_are_spoken(rendered: dict) -> None:
    subs = pysubs2.load(str(rendered["out"].with_suffix(".srt")))
    audio = ffmpeg.decode_audio(rendered["out"], sample_rate=16000)
    speech = [_rms(audio[int(e.start * 16) : int(e.start * 16) + 3200]) for e in subs]  # 200 ms from each caption
    assert min(speech) > 0.02, speech
    # the music bed is there, even in the quietest 200 ms (how it ducks is measured in test_soundtrack.py)
    windows = [_rms(audio[i : i + 3200]) for i in range(0, len(audio) - 3200, 1600)]
    assert min(windows) > 0.0005


def test_srt_words_equal_the_story_words(rendered: dict) -> None:
    subs = pysubs2.load(str(rendered["out"].with_suffix(".srt")))
    srt_words = " ".join(e.plaintext.replace("\n", " ") for e in subs).split()
    assert srt_words == rendered["story"].words()
    starts = [e.start for e in subs]
    assert starts == sorted(starts)
    assert subs[-1].end / 1000 <= ffmpeg.probe(rendered["out"]).duration + 0.05


def _highlight_pixels(img: np.ndarray, color: str) -> int:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    diff = np.abs(img.astype(int) - np.array([r, g, b])).sum(axis=2)
    return int((diff < 60).sum())


def test_captions_are_burned_in_at_word_times(rendered: dict) -> None:
    story = rendered["story"]
    subs = pysubs2.load(str(rendered["out"].with_suffix(".srt")))
    for event in (subs[0], subs[len(subs) // 2]):
        t = (event.start + event.end) / 2000
        img = np.asarray(ffmpeg.frame_at(rendered["out"], t))
        h = img.shape[0]
        band = img[int(h * 0.55) : int(h * 0.8)]  # bottom captions sit 520 px above the lower edge
        top = img[int(h * 0.3) : int(h * 0.5)]
        hi = _highlight_pixels(band, story.captions.highlight_color)
        assert hi > 800, f"no highlighted word at {t:.2f}s"
        assert _highlight_pixels(top, story.captions.highlight_color) < hi / 20
        # white letters with a black stroke
        white = ((band > 235).all(axis=2)).sum()
        black = ((band < 25).all(axis=2)).sum()
        assert white > 800 and black > 800


def test_second_run_reuses_everything(rendered: dict) -> None:
    out2 = rendered["folder"] / "again.mp4"
    proc = run_cli("render", rendered["path"], "-o", out2, "--workspace", rendered["folder"] / "ws")
    assert proc.returncode == 0, proc.stderr
    assert "made nothing new" in proc.stdout
    assert out2.read_bytes() == rendered["out"].read_bytes()
