"""Cache keys: one pure function per kind of artefact, from what it consumes and the settings that shape it.

A key holds the content digest of every artefact it consumes (never its name or a path of this machine), the
settings that change it and its kind's own code version (:data:`VERSIONS`). So a picture made again with
different pixels makes its clip and the short new, a moved workspace stays valid, and a kind whose code
changes is remade without touching the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from shortskit.providers.base import Word

__all__ = [
    "VERSIONS",
    "captions_key",
    "clip_key",
    "final_key",
    "hash_key",
    "image_key",
    "local_image_key",
    "music_bed_key",
    "recording_key",
    "soundtrack_key",
    "voice_key",
]

# Bump a kind's version when its code would make something different from the same inputs.
VERSIONS: dict[str, str] = {
    "image": "2",
    "local-image": "3",  # 3: converted from its ICC profile to sRGB
    "voice": "2",
    "recording": "1",
    "captions": "3",  # 3: YCbCr Matrix TV.709
    "clip": "4",
    "soundtrack": "3",
    "final": "2",
    "music-bed": "1",
}


def hash_key(*parts: Any) -> str:
    """A stable hex key for JSON-able ``parts`` (dict order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def _key(kind: str, **parts: Any) -> str:
    return hash_key(kind, VERSIONS[kind], parts)


def image_key(
    *, provider: str, version: str, settings: Mapping[str, Any], prompt: str, width: int, height: int, seed: int
) -> str:
    """A picture made by an image provider from ``prompt``."""
    return _key(
        "image",
        provider=provider,
        version=version,
        settings=dict(settings),
        prompt=prompt,
        size=[width, height],
        seed=seed,
    )


def local_image_key(*, source: str, width: int, height: int) -> str:
    """A local picture (content digest ``source``) cover-cropped to the frame."""
    return _key("local-image", source=source, size=[width, height])


def voice_key(*, provider: str, version: str, settings: Mapping[str, Any], text: str, language: str) -> str:
    """A voice-over of ``text`` (with its word timings)."""
    return _key("voice", provider=provider, version=version, settings=dict(settings), text=text, language=language)


def recording_key(*, source: str, text: str, language: str) -> str:
    """A scene's own recording (content digest ``source``) as its voice, timed for ``text``."""
    return _key("recording", source=source, text=text, language=language)


def captions_key(*, words: Sequence[Word], style: Mapping[str, Any], font: str, width: int, height: int) -> str:
    """The caption file for timed ``words`` in ``style`` with the font of content digest ``font``."""
    timed = [[w.text, round(w.start, 3), round(w.end, 3)] for w in words]
    return _key("captions", words=timed, style=dict(style), font=font, size=[width, height])


def clip_key(
    *,
    engine: str,
    engine_version: str,
    image: str,
    voice: str,
    captions: str | None,
    font: str,
    duration: float,
    fps: int,
    width: int,
    height: int,
    motion: str,
    zoom: float,
    quality: str,
    encoder: str,
) -> str:
    """A scene clip from the digests of its picture, voice and captions, and how it is rendered."""
    return _key(
        "clip", engine=[engine, engine_version], image=image, voice=voice, captions=captions, font=font,
        duration=round(duration, 6), fps=fps, size=[width, height], motion=motion, zoom=zoom, quality=quality,
        encoder=encoder,
    )  # fmt: skip


def soundtrack_key(
    *, voices: Sequence[str], durations: Sequence[float], music: Mapping[str, Any] | None, loudness: float | None
) -> str:
    """The short's audio from the digests of its voices, each scene's length, the music mix and the loudness."""
    return _key(
        "soundtrack",
        voices=list(voices),
        durations=[round(d, 6) for d in durations],
        music=dict(music) if music is not None else None,
        loudness=loudness,
    )


def final_key(*, clips: Sequence[str], soundtrack: str) -> str:
    """The joined short from the digests of its clips and its soundtrack."""
    return _key("final", clips=list(clips), soundtrack=soundtrack)


def music_bed_key(*, mood: str, length: float) -> str:
    """A generated music bed of ``length`` seconds."""
    return _key("music-bed", mood=mood, length=length)
