"""eSpeak NG voice: fast offline narration with exact word timings (the default voice).

No network, no GPU, about 150x faster than real time, robotic but clear. The library binding lives in
:mod:`shortskit.espeak`; word events become the story's words in :mod:`shortskit.timing`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from shortskit import espeak, scripts
from shortskit.audio import write_wav
from shortskit.errors import ConfigError, ProviderError
from shortskit.providers.base import Speech
from shortskit.providers.options import in_range, positive
from shortskit.timing import words_from_char_events

__all__ = ["EspeakVoice", "list_voices"]

_RATE_RANGE = (80, 450)
_PITCH_RANGE = (0, 99)
_SPEED_RANGE = (0.5, 2.0)

list_voices = espeak.list_voices


class EspeakVoice:
    """The eSpeak NG voice provider (see the module docstring)."""

    name: ClassVar[str] = "espeak"
    version: ClassVar[str] = "2"  # 2: Chinese, Japanese and Thai words are the segmenter's, each timed

    def __init__(
        self,
        *,
        voice: str | None = None,
        rate: int = 175,
        pitch: int = 50,
        speed: float = 1.0,
        max_concurrency: int = 1,
    ) -> None:
        if voice is not None and not voice.strip():
            raise ConfigError("espeak voice must not be empty; leave it unset to follow the language")
        self.rate = in_range(rate, "rate (words a minute)", "espeak", *_RATE_RANGE, integer=True)
        self.pitch = in_range(pitch, "pitch", "espeak", *_PITCH_RANGE, integer=True)
        self.speed = float(in_range(speed, "speed", "espeak", *_SPEED_RANGE))
        # the engine is serialized by a process-wide lock anyway; more only queues threads
        self.max_concurrency = positive(max_concurrency, "max_concurrency", "espeak", integer=True)
        self.voice = voice.strip() if voice is not None else None
        if self.voice is not None:
            espeak.check_voice(self.voice, "")  # fail at configuration time, not halfway through a render

    def settings(self) -> dict[str, Any]:
        """Options that change the audio; ``voice`` None means "the story language's voice"."""
        return {"voice": self.voice, "rate": self.rate, "pitch": self.pitch, "speed": self.speed}

    def check_language(self, language: str) -> None:
        """Raise :class:`ConfigError` before any work if eSpeak cannot speak ``language`` with this voice."""
        espeak.check_voice(self.voice, language)

    def check_text(self, text: str, language: str) -> None:
        """:class:`ConfigError` if this voice cannot say ``text`` properly (kanji in Japanese: the story checks
        warn with it, and the short is still made)."""
        why = espeak.unspoken(text, espeak.check_voice(self.voice, language))
        if why is not None:
            raise ConfigError(why)

    async def synthesize(self, text: str, out: Path, *, language: str) -> Speech:
        """Speak ``text`` in ``language`` into the mono 16-bit WAV ``out``, with word timings."""
        if not text or not text.strip():
            raise ProviderError(
                "nothing to say: the narration text is empty",
                provider="espeak",
                field="text",
            )
        return await asyncio.to_thread(self._synthesize, text, Path(out), language)

    def _synthesize(self, text: str, out: Path, language: str) -> Speech:
        said = espeak.synthesize(
            text, voice=self.voice, language=language, rate=round(self.rate * self.speed), pitch=self.pitch
        )
        if not len(said.samples):
            raise ProviderError("eSpeak produced no audio", provider="espeak", field="text")
        try:
            write_wav(out, said.samples, said.sample_rate)
        except OSError as exc:
            raise ProviderError(f"cannot write {out}: {exc}", provider="espeak") from exc
        duration = len(said.samples) / said.sample_rate
        end = min(duration, espeak.speech_end(said.samples, said.sample_rate))
        # tokens come from the caller's text: the synthesis keeps every character position
        # words without spaces between them (Chinese, Japanese, Thai) are the segmenter's, each timed by the event
        # at its first character where eSpeak gives one (cmn and yue: every Han character)
        spans = scripts.word_spans(text, language) if scripts.spaceless(text) else None
        words = words_from_char_events(text, said.events, end, spans=spans)
        return Speech(
            path=out, duration=duration, sample_rate=said.sample_rate, words=words, meta={"voice": said.voice}
        )
