"""Content, not names: change one setting of the story model at a time and see exactly which artefacts are made
again. Every field of the model must appear in the table below, so a new setting cannot skip the question.

The baseline is a two-scene story (one picture from a prompt, one local picture) rendered once; each case
renders a changed copy into a copy of that workspace with the real offline providers and ffmpeg.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import BaseModel

import shortskit
from shortskit import Story, parse_story
from shortskit.engines.ffmpeg import resolve_encoder
from shortskit.story import CaptionStyle, ImageSettings, MusicSettings, OutputSettings, Scene, VoiceSettings

STAGES = ("image", "voice", "captions", "clip", "soundtrack", "merge")
ALL_SCENES, NOTHING = {"voice": 2, "captions": 2, "clip": 2, "soundtrack": 1, "merge": 1}, {}
LOOK = {"captions": 2, "clip": 2, "merge": 1}  # what a caption style change remakes
SOUND = {"soundtrack": 1, "merge": 1}
PICTURE_1 = {"image": 1, "clip": 1, "merge": 1}  # scene 1's picture (from a prompt) made again
CLIPS = {"clip": 2, "merge": 1}


def _font_named(folder: Path, family: str) -> Path:
    """The shipped font under another family name and drawn smaller (libass sizes by the OS/2 win metrics)."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(shortskit.captions.FONT_FILE))
    for record in font["name"].names:
        if record.nameID in (1, 4, 16):
            record.string = family
    font["OS/2"].usWinAscent = int(font["OS/2"].usWinAscent * 1.4)
    path = folder / "other.otf"
    font.save(str(path))
    return path


def _music(folder: Path) -> Path:
    import numpy as np

    from shortskit.audio import write_wav

    t = np.arange(48000 * 3) / 48000
    return write_wav(folder / "tune.wav", 0.2 * np.sin(2 * np.pi * 330 * t), 48000)


def _scene(i: int, **change: Any) -> Callable[[dict[str, Any], Path], None]:
    def apply(data: dict[str, Any], folder: Path) -> None:
        data["scenes"][i].update(change)

    return apply


def _set(section: str | None, field: str, value: Any) -> Callable[[dict[str, Any], Path], None]:
    def apply(data: dict[str, Any], folder: Path) -> None:
        target = data if section is None else data.setdefault(section, {})
        target[field] = value(folder) if callable(value) else value

    return apply


def _recorded(data: dict[str, Any], folder: Path) -> None:
    from tests.speech import espeak_case

    espeak_case(folder / "me.wav", [data["scenes"][0]["text"]], "en+f3", 150, lead=0.3, trail=0.3)
    data["scenes"][0]["audio"] = "me.wav"


def _durations_changed(before: shortskit.RenderResult, after: shortskit.RenderResult) -> dict[str, int]:
    return {"soundtrack": 1} if [s.duration for s in before.scenes] != [s.duration for s in after.scenes] else {}


# field path -> (how to change it, what is made again); a callable expectation is given both results
CASES: dict[str, tuple[Callable[[dict[str, Any], Path], None], Any]] = {
    "title": (_set(None, "title", "Another title"), NOTHING),  # only OUT.json changes
    "description": (_set(None, "description", "A description."), NOTHING),
    "hashtags": (_set(None, "hashtags", ["#new"]), NOTHING),
    "language": (_set(None, "language", "es"), ALL_SCENES),
    "pause": (_set(None, "pause", 0.9), {"clip": 2, "soundtrack": 1, "merge": 1}),
    # reversed: the motions swap, and the prompt's picture, now scene 2, gets the seed + 1
    "scenes": (lambda d, f: d["scenes"].reverse(), {"image": 1, "clip": 2, "soundtrack": 1, "merge": 1}),
    "voice.provider": (_set("voice", "provider", "slow-espeak"), ALL_SCENES),
    "voice.options": (_set("voice", "options", {"rate": 140}), ALL_SCENES),
    "images.provider": (_set("images", "provider", "night-pictures"), PICTURE_1),
    "images.options": (_set("images", "options", {"style": "forest"}), PICTURE_1),
    "images.width": (_set("images", "width", 200), PICTURE_1),
    "images.height": (_set("images", "height", 300), PICTURE_1),
    "images.seed": (_set("images", "seed", 11), PICTURE_1),
    "captions.enabled": (_set("captions", "enabled", False), CLIPS),
    "captions.max_words": (_set("captions", "max_words", 1), LOOK),
    "captions.max_chars": (_set("captions", "max_chars", 6), LOOK),
    "captions.font": (_set("captions", "font", "DejaVu Sans"), LOOK),
    "captions.font_file": (_set("captions", "font_file", lambda f: str(_font_named(f, "Other Spartan"))), LOOK),
    "captions.size": (_set("captions", "size", 90), LOOK),
    # the shipped font has only its bold face: the clips are rendered again, to the very same bytes
    "captions.bold": (_set("captions", "bold", False), {"captions": 2, "clip": 2}),
    "captions.uppercase": (_set("captions", "uppercase", True), LOOK),
    "captions.color": (_set("captions", "color", "#00FF00"), LOOK),
    "captions.highlight": (_set("captions", "highlight", False), LOOK),
    "captions.highlight_color": (_set("captions", "highlight_color", "#FF0000"), LOOK),
    "captions.stroke": (_set("captions", "stroke", 2), LOOK),
    "captions.stroke_color": (_set("captions", "stroke_color", "#333333"), LOOK),
    "captions.shadow": (_set("captions", "shadow", 0), LOOK),
    "captions.shadow_color": (_set("captions", "shadow_color", "#FF000099"), LOOK),
    "captions.position": (_set("captions", "position", "top"), LOOK),
    "captions.margin": (_set("captions", "margin", 300), LOOK),
    "captions.pop": (_set("captions", "pop", True), LOOK),
    "music.enabled": (_set("music", "enabled", False), SOUND),
    "music.file": (_set("music", "file", lambda f: str(_music(f))), SOUND),
    "music.mood": (_set("music", "mood", "upbeat"), SOUND),
    # levelled (output.loudness, the default), the music sits at its level under the voice: volume is not used
    "music.volume": (_set("music", "volume", 0.6), NOTHING),
    "music.level": (_set("music", "level", -20), SOUND),
    "output.loudness": (_set("output", "loudness", -16), SOUND),
    "music.duck": (_set("music", "duck", False), SOUND),
    "music.fade_in": (_set("music", "fade_in", 0.2), SOUND),
    "music.fade_out": (_set("music", "fade_out", 0.3), SOUND),
    # the local picture (scene 2) is cropped to the frame; scene 1's is asked at images.width x height
    "output.width": (_set("output", "width", 240), {"image": 1, **LOOK}),
    "output.height": (_set("output", "height", 420), {"image": 1, **LOOK}),
    "output.fps": (_set("output", "fps", 12), lambda a, b: {**CLIPS, **_durations_changed(a, b)}),
    "output.quality": (_set("output", "quality", "preview"), CLIPS),
    "output.motion": (_set("output", "motion", "zoom_out"), CLIPS),
    "output.zoom": (_set("output", "zoom", 0.2), CLIPS),
    # libx264 is what "auto" resolves to without an NVENC GPU: then nothing changes
    "output.encoder": (_set("output", "encoder", "libx264"), CLIPS if resolve_encoder("auto") != "libx264" else {}),
    "scenes.text": (_scene(0, text="A new first line."), {"voice": 1, "captions": 1, "clip": 1, **SOUND}),
    "scenes.image_prompt": (_scene(0, image_prompt="a red desert"), PICTURE_1),
    "scenes.image": (_scene(1, image="other.png"), {"image": 1, "clip": 1, "merge": 1}),
    "scenes.pause": (_scene(0, pause=1.2), {"clip": 1, **SOUND}),
    "scenes.motion": (_scene(0, motion="none"), {"clip": 1, "merge": 1}),
    # scene 1 read from a recording: its voice, captions and clip, and the soundtrack
    "scenes.audio": (_recorded, {"voice": 1, "captions": 1, "clip": 1, **SOUND}),
}


def _fields(model: type[BaseModel], prefix: str) -> set[str]:
    return {f"{prefix}{name}" for name in model.model_fields}


def test_every_setting_of_the_story_model_has_a_case() -> None:
    fields = _fields(Story, "") | _fields(Scene, "scenes.")
    for section, model in (
        ("voice", VoiceSettings),
        ("images", ImageSettings),
        ("captions", CaptionStyle),
        ("music", MusicSettings),
        ("output", OutputSettings),
    ):
        fields |= _fields(model, f"{section}.")
    fields -= {"voice", "images", "captions", "music", "output"}  # sections: their fields are the cases
    missing = sorted(fields - set(CASES))
    assert not missing, f"say what a change of these remakes: {missing}"


class SlowEspeak:
    """Another voice provider (eSpeak at another rate), registered like any vendor's."""

    name = "slow-espeak"
    version = "1"
    max_concurrency = 1

    def __init__(self) -> None:
        from shortskit.providers.espeak import EspeakVoice

        self._inner = EspeakVoice(rate=150)

    def settings(self) -> dict[str, Any]:
        return self._inner.settings()

    async def synthesize(self, text: str, out: Path, *, language: str) -> shortskit.Speech:
        return await self._inner.synthesize(text, out, language=language)


def _night_pictures(**options: Any) -> Any:
    from shortskit.providers.procedural import ProceduralImages

    class NightPictures(ProceduralImages):
        name = "night-pictures"

    return NightPictures(style="night", **options)


def _base() -> dict[str, Any]:
    return {
        "title": "Keys",
        "language": "en",
        "scenes": [
            {"text": "Hello there, small world.", "image_prompt": "a calm ocean"},
            {"text": "Goodbye now, friend.", "image": "photo.png"},
        ],
        "images": {"width": 180, "height": 320},
        "output": {"width": 270, "height": 480, "fps": 15, "quality": "draft"},
        "music": {"enabled": True},
    }


def _load(data: dict[str, Any], folder: Path) -> Story:
    return parse_story(data, source=folder / "story.json")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, shortskit.RenderResult]:
    shortskit.register_voice("slow-espeak", SlowEspeak)
    shortskit.register_image("night-pictures", _night_pictures)
    folder = tmp_path_factory.mktemp("baseline")
    Image.new("RGB", (300, 500), (200, 120, 40)).save(folder / "photo.png")
    Image.new("RGB", (300, 500), (40, 120, 200)).save(folder / "other.png")
    first = shortskit.render_sync(_load(_base(), folder), folder / "short.mp4", workspace=folder / "ws")
    assert first.made == {"image": 2, "voice": 2, "captions": 2, "clip": 2, "soundtrack": 1, "merge": 1}
    return folder, first


@pytest.mark.parametrize("field", sorted(CASES))
def test_one_setting_changed_remakes_exactly_what_it_touches(
    field: str, baseline: tuple[Path, shortskit.RenderResult], tmp_path: Path
) -> None:
    folder, before = baseline
    for name in ("photo.png", "other.png"):
        shutil.copy(folder / name, tmp_path / name)
    shutil.copytree(folder / "ws", tmp_path / "ws")
    change, expected = CASES[field]
    data = _base()
    change(data, tmp_path)
    after = shortskit.render_sync(_load(data, tmp_path), tmp_path / "short.mp4", workspace=tmp_path / "ws")
    want = expected(before, after) if callable(expected) else expected
    assert after.made == {stage: want.get(stage, 0) for stage in STAGES}
