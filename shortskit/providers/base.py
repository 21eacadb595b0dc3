"""The provider contracts: what an image or voice provider is given and what it hands back.

A provider is a small object with one async method. It writes its artefact to the path it is given (the
pipeline picks that path inside the workspace and makes the write atomic) and returns facts about it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

__all__ = ["SCENE", "ImageProvider", "Speech", "VoiceProvider", "Word", "current_scene"]

# The scene (1-based) a provider call is working for, set around every call (stages.call_provider), so a
# provider's warnings can name the scene; asyncio.to_thread carries it into the worker thread.
SCENE: ContextVar[int | None] = ContextVar("shortskit_scene", default=None)


def current_scene() -> int | None:
    """The scene (1-based) the provider call running now is for, None outside one."""
    return SCENE.get()


@dataclass(frozen=True)
class Word:
    """One spoken word and when it is heard, in seconds from the start of its audio."""

    text: str  # the word as written in the story (punctuation kept), never as the TTS normalised it
    start: float  # seconds
    end: float  # seconds; the next word's start or the end of speech


@dataclass(frozen=True)
class Speech:
    """A finished voice-over for one scene."""

    path: Path  # a mono WAV file
    duration: float  # seconds of audio in ``path``
    sample_rate: int  # Hz
    words: tuple[Word, ...] | None = None  # exact timings when the voice knows them, else None
    meta: dict[str, Any] = field(default_factory=dict)  # provider facts worth keeping (voice used, ...)


@runtime_checkable
class VoiceProvider(Protocol):
    """Turns narration text into a WAV file (and word timings when it can)."""

    name: ClassVar[str]  # registry name, e.g. "espeak"
    version: ClassVar[str]  # bump when the same inputs would give different audio (part of cache keys)
    max_concurrency: int  # jobs at once (a GPU model: 1)

    def settings(self) -> dict[str, Any]:
        """Every option that changes the audio; part of the cache key. Never include secrets."""
        ...

    # Optional: ``def use_client(self, client: httpx.AsyncClient) -> None`` for providers that talk HTTP; the
    # pipeline hands every such provider the one client it owns for the run (and closes it afterwards).
    # Optional: ``def check_language(self, language: str) -> None`` raising ConfigError when the voice
    # cannot speak ``language``; the pipeline calls it before any work so the story error comes first.
    # Optional: ``def bind(self, story: Story | None, workspace: Path | None) -> None``, called by the checks
    # before any work (and before ``settings()``): resolve options that name files (relative to the story's
    # folder) or saved voices (in the workspace's voice library); raise StoryError naming the field.

    async def synthesize(self, text: str, out: Path, *, language: str) -> Speech:
        """Speak ``text`` in ``language`` (BCP-47) into the WAV file ``out``."""
        ...


@runtime_checkable
class ImageProvider(Protocol):
    """Turns an image prompt into a picture file."""

    name: ClassVar[str]  # registry name, e.g. "procedural"
    version: ClassVar[str]  # bump when the same inputs would give a different picture
    max_concurrency: int  # jobs at once
    rate_per_minute: float | None  # requests a minute the service allows, None for no limit
    # Optional ``rate_burst: int``: requests that may go at once before the rate applies (default: a
    # minute's worth). Voice providers may declare ``rate_per_minute`` and ``rate_burst`` too.

    def settings(self) -> dict[str, Any]:
        """Every option that changes the picture; part of the cache key. Never include secrets."""
        ...

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        """Make a ``width`` x ``height`` picture for ``prompt`` into ``out`` (PNG or JPEG)."""
        ...
