"""The moviepy engine: tiny clips (216x384, 10 fps) checked for the output contract, the caption highlight,
user effects passing through, and a two-scene short rendered end to end with ``engine="moviepy"``."""

from __future__ import annotations

import asyncio
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from moviepy.video.fx import BlackAndWhite
from PIL import Image

from shortskit import ffmpeg, parse_story, render_sync
from shortskit.captions import group_words
from shortskit.engines.base import ClipSpec
from shortskit.engines.moviepy import render_clip_moviepy, scene_clip
from shortskit.errors import RenderError
from shortskit.providers.base import Word
from shortskit.story import CaptionStyle
from tests.conftest import small_story

W, H, FPS = 216, 384, 10
WORDS = (Word("Blue", 0.0, 0.4), Word("whales", 0.4, 0.9), Word("sing.", 0.9, 1.3))
STYLE = CaptionStyle()  # bottom, white text, yellow (#FFE14D) highlight


def _yellow(frame: np.ndarray) -> np.ndarray:
    """Pixels close to the default highlight colour #FFE14D."""
    f = frame.astype(int)
    return (np.abs(f[..., 0] - 0xFF) < 40) & (np.abs(f[..., 1] - 0xE1) < 40) & (np.abs(f[..., 2] - 0x4D) < 60)


def _frames(path: Path) -> int:
    proc = subprocess.run(
        [ffmpeg.ffmpeg_exe(), "-hide_banner", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "null", "-"],
        capture_output=True,
        check=True,
    )
    return int(re.findall(r"frame=\s*(\d+)", proc.stderr.decode())[-1])


def _spread(frame: np.ndarray) -> float:
    """Mean difference between a pixel's strongest and weakest channel: 0 for grey."""
    f = frame.astype(int)
    return float((f.max(axis=2) - f.min(axis=2)).mean())


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    # A blue/teal gradient: nothing in it is near the yellow highlight.
    yy, xx = np.mgrid[0:600, 0:400]
    img = np.stack([xx * 60 // 400, 80 + yy * 100 // 600, np.full_like(xx, 200)], axis=2).astype(np.uint8)
    Image.fromarray(img).save(folder / "picture.png")
    rate = 22050
    t = np.arange(int(rate * 1.3)) / rate
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
    with wave.open(str(folder / "voice.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(tone.tobytes())
    return folder


def _spec(media: Path, **kw: object) -> ClipSpec:
    args: dict = dict(
        image=media / "picture.png", voice=media / "voice.wav", duration=1.5, width=W, height=H, fps=FPS,
        motion="zoom_in", quality="draft", style=STYLE,
        groups=tuple(group_words(WORDS, max_words=STYLE.max_words, max_chars=STYLE.max_chars)),
    )  # fmt: skip
    args.update(kw)
    return ClipSpec(**args)


def _render(spec: ClipSpec, out: Path, **kw: object) -> Path:
    return asyncio.run(render_clip_moviepy(spec, out, **kw))


@pytest.fixture(scope="module")
def clip(media: Path) -> Path:
    return _render(_spec(media), media / "clip.mp4")


def test_clip_meets_the_output_contract(media: Path, clip: Path) -> None:
    spec = _spec(media)
    info = ffmpeg.probe(clip)
    assert (info.width, info.height) == (W, H)
    assert info.fps == FPS
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"
    assert info.audio_codec == "aac" and info.sample_rate == 48000 and info.channels in (1, 2)
    assert info.duration == pytest.approx(spec.frames / spec.fps, abs=0.1)
    assert abs(_frames(clip) - spec.frames) <= 1
    assert not list(media.glob("*.m4a"))  # moviepy's temporary audio file is gone
    sound = ffmpeg.decode_audio(clip, sample_rate=16000)
    assert np.sqrt(np.mean(sound[1600:16000] ** 2)) > 0.1  # the tone (0.3 peak) plays for 1.3 s...
    assert np.abs(sound[int(16000 * 1.4) :]).max() < 0.02  # ...then silence pads the clip out


def test_spoken_word_is_highlighted_in_the_caption_region(clip: Path) -> None:
    centres = []
    for at in (0.2, 0.6, 1.1):  # "Blue", then "whales", then "sing." is being spoken
        frame = np.asarray(ffmpeg.frame_at(clip, at))
        yellow = _yellow(frame)
        assert yellow[H // 2 :].sum() > 20  # bottom captions: margin 520 * 0.2 px from the bottom edge
        assert yellow[: H // 2].sum() == 0  # nothing yellow above them
        assert (frame.astype(int).min(axis=2)[H // 2 :] > 220).sum() > 20  # the other words stay white
        centres.append(np.nonzero(yellow)[1].mean())
    assert centres[0] < centres[1] < centres[2]  # the highlight moves along the line, word by word


def test_effects_reach_the_clip(media: Path) -> None:
    out = _render(_spec(media), media / "grey.mp4", effects=[BlackAndWhite()])
    frame = np.asarray(ffmpeg.frame_at(out, 0.6))
    assert _spread(frame) < 4  # R = G = B up to chroma rounding
    assert _yellow(frame).sum() == 0


def test_scene_clip_is_a_moviepy_clip_of_the_right_shape(media: Path) -> None:
    from moviepy import CompositeVideoClip

    spec = _spec(media, motion="pan_left", groups=tuple(group_words(WORDS)))
    c = scene_clip(spec)
    try:
        assert isinstance(c, CompositeVideoClip)
        assert tuple(c.size) == (W, H)
        assert c.duration == pytest.approx(spec.frames / spec.fps, abs=1e-9)
        assert c.get_frame(0.6).shape == (H, W, 3)
        assert c.audio is not None and c.audio.duration == pytest.approx(c.duration)
    finally:
        c.close()


def test_failures_become_render_errors(media: Path, tmp_path: Path) -> None:
    bad = tmp_path / "voice.wav"
    bad.write_text("not audio")
    with pytest.raises(RenderError) as err:
        _render(_spec(media, voice=bad), tmp_path / "out.mp4", scene=3)
    assert err.value.scene == 3 and str(err.value).startswith("scene 3:")


@pytest.mark.slow
def test_render_sync_with_scene_effects(tmp_path: Path) -> None:
    data = small_story(output={"width": 270, "height": 480, "fps": 12, "quality": "draft"})
    data["images"] = {"width": 270, "height": 480}
    story = parse_story(data)
    out = tmp_path / "short.mp4"
    result = render_sync(story, out, engine="moviepy", workspace=tmp_path / "ws", scene_effects={1: [BlackAndWhite()]})
    info = ffmpeg.probe(out)
    assert (info.width, info.height, info.fps) == (270, 480, 12)
    assert info.has_audio and info.duration == pytest.approx(result.duration, abs=0.1)
    first, second = result.scenes
    grey = np.asarray(ffmpeg.frame_at(out, first.start + first.duration / 2))
    colour = np.asarray(ffmpeg.frame_at(out, second.start + second.duration / 2))
    assert _spread(grey) < 4
    assert _spread(colour) > 15


def test_both_engines_shrink_a_word_wider_than_the_frame(tmp_path: Path) -> None:
    """A long German compound stays inside the frame in both engines, at about the same size."""
    import shortskit

    text = "Donaudampfschifffahrtsgesellschaftskapitän."
    data = {
        "title": "t",
        "language": "de",
        "pause": 0.2,
        "scenes": [{"text": text, "image_prompt": "night", "motion": "none"}],
        "images": {"label": False},
        "output": {"width": 270, "height": 480, "fps": 10, "quality": "draft"},
        "captions": {"highlight": False, "color": "#FFFF00", "shadow": 0},
        "music": {"enabled": False},
    }
    widths = []
    for engine in ("ffmpeg", "moviepy"):
        story = shortskit.parse_story(data)
        out = tmp_path / f"{engine}.mp4"
        shortskit.render_sync(story, out, workspace=tmp_path / "ws", engine=engine)
        frame = np.asarray(ffmpeg.frame_at(out, 0.5)).astype(int)
        yellow = (frame[..., 0] > 200) & (frame[..., 1] > 200) & (frame[..., 2] < 90)
        cols = np.flatnonzero(yellow.any(axis=0))
        assert cols.size, engine
        assert cols[0] > 2 and cols[-1] < 270 - 3, (engine, cols[0], cols[-1])  # not cut at the edges
        widths.append(cols[-1] - cols[0])
    assert abs(widths[0] - widths[1]) <= 0.1 * widths[0], widths
