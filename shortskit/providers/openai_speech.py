"""Voices over HTTP: any OpenAI-compatible ``POST /audio/speech`` server, and Kokoro-FastAPI with word timings.

``openai`` serves OpenAI, Kokoro-FastAPI (``/v1``), Chatterbox-TTS-Server and chatterbox-tts-api; it returns no
word timings (the pipeline estimates them). ``kokoro`` calls Kokoro-FastAPI's ``/dev/captioned_speech`` and maps
its timestamps onto the story's own words, punctuation kept. Audio that is not 16-bit mono WAV goes through ffmpeg.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, ClassVar

from shortskit.audio import save_audio
from shortskit.endpoints import Endpoint, public_url
from shortskit.errors import ConfigError, ProviderError
from shortskit.http import DEFAULT_TIMEOUT, HttpProvider, decode_base64, post_json
from shortskit.providers.base import Speech, Word
from shortskit.providers.options import in_range
from shortskit.timing import map_timestamps

__all__ = ["KOKORO_VOICES", "KokoroSpeech", "OpenAISpeech"]

log = logging.getLogger("shortskit")

# Kokoro v1.0 voices by language (the first letter of a voice name is its language), used when none is set.
KOKORO_VOICES = {
    "en": "af_heart", "en-us": "af_heart", "en-gb": "bf_emma", "es": "ef_dora", "fr": "ff_siwis",
    "it": "if_sara", "pt": "pf_dora", "pt-br": "pf_dora", "hi": "hf_alpha", "ja": "jf_alpha", "zh": "zf_xiaobei",
}  # fmt: skip


# -- providers ---------------------------------------------------------------------------------------------


class _SpeechAPI(HttpProvider):
    """What the speech servers share: options checked once, a trusted endpoint, the request body."""

    # the defaults of each server's options (None in a signature means "this default")
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        *,
        model: str | None = None,
        voice: str | None = None,
        speed: float = 1.0,
        base_url: str | None = None,
        rate_per_minute: float | None = None,
        rate_burst: int | None = None,
        max_concurrency: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        endpoint: Endpoint | str | None = None,
    ) -> None:
        who = self.name
        model = self.defaults["model"] if model is None else model
        voice = self.defaults.get("voice") if voice is None else voice
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"{who} voice model must be a model name")
        if voice is not None and (not isinstance(voice, str) or not voice.strip()):
            raise ConfigError(f"{who} voice must be a voice name")
        self.model = model.strip()
        self.voice = voice.strip() if voice else None
        self.speed = float(in_range(speed, "speed", who, 0.25, 4.0))
        concurrency = self.defaults["max_concurrency"] if max_concurrency is None else max_concurrency
        self._set_limits(
            rate_per_minute=rate_per_minute, rate_burst=rate_burst, max_concurrency=concurrency, timeout=timeout
        )
        self.connect(endpoint, story_base=base_url)

    def settings(self) -> dict[str, Any]:
        """Options that change the audio (never the key)."""
        return {"model": self.model, "voice": self.voice, "speed": self.speed, "base_url": public_url(self.base_url)}

    def _voice_for(self, language: str) -> str:
        assert self.voice is not None
        return self.voice

    def _body(self, text: str, language: str) -> dict[str, Any]:
        return {
            "model": self.model,
            "input": text,
            "voice": self._voice_for(language),
            "response_format": "wav",
            "speed": self.speed,
        }

    def _empty(self, text: str) -> None:
        if not text or not text.strip():
            raise ProviderError("nothing to say: the narration text is empty", provider=self.name, field="text")


class OpenAISpeech(_SpeechAPI):
    """Any OpenAI-compatible ``POST {base_url}/audio/speech`` server; no word timings (``words=None``)."""

    name: ClassVar[str] = "openai"
    version: ClassVar[str] = "1"
    vendor: ClassVar[str] = "openai"
    defaults: ClassVar[dict[str, Any]] = {"model": "tts-1", "voice": "alloy", "max_concurrency": 2}

    async def synthesize(self, text: str, out: Path, *, language: str) -> Speech:
        """Speak ``text`` into the WAV ``out`` (the server picks the language from the text)."""
        self._empty(text)
        body = self._body(text, language)
        response = await self.send("POST", f"{self.base_url}/audio/speech", json_body=body)
        content_type = response.headers.get("content-type", "")
        duration, rate = await asyncio.to_thread(
            save_audio,
            response.content,
            Path(out),
            provider=self.name,
            content_type=content_type,
            secrets=(self._key,),
            quote_server=self.trusts(self.base_url),
        )
        return Speech(Path(out), duration, rate, None, {"voice": body["voice"], "model": self.model})


class KokoroSpeech(_SpeechAPI):
    """Kokoro-FastAPI's ``POST {base_url}/dev/captioned_speech``: audio plus word times on the story's words."""

    name: ClassVar[str] = "kokoro"
    version: ClassVar[str] = "1"
    vendor: ClassVar[str] = "kokoro"
    defaults: ClassVar[dict[str, Any]] = {"model": "kokoro", "voice": None, "max_concurrency": 1}

    def _normalise_base(self, url: str) -> str:
        return url[: -len("/v1")] if url.endswith("/v1") else url  # the dev route has no /v1

    def key_required(self) -> bool:
        """Kokoro-FastAPI runs without a key; ``KOKORO_API_KEY`` is sent when it is set."""
        return False

    def _voice_for(self, language: str) -> str:
        if self.voice:
            return self.voice
        tag = language.lower().replace("_", "-")
        voice = KOKORO_VOICES.get(tag) or KOKORO_VOICES.get(tag.split("-")[0])
        if voice is None:
            known = ", ".join(sorted({k.split("-")[0] for k in KOKORO_VOICES}))
            raise ConfigError(f"kokoro has no default voice for language {language!r} (known: {known}); set voice")
        return voice

    def check_language(self, language: str) -> None:
        """Raise :class:`ConfigError` before any work when no voice is set and ``language`` has no default."""
        self._voice_for(language)

    async def synthesize(self, text: str, out: Path, *, language: str) -> Speech:
        """Speak ``text`` into the WAV ``out``; word times come from the server's timestamps."""
        self._empty(text)
        body = {**self._body(text, language), "return_timestamps": True, "stream": False}
        answer = await post_json(self, f"{self.base_url}/dev/captioned_speech", body)
        if not isinstance(answer, dict):
            raise ProviderError(f"answered with JSON {type(answer).__name__}, not an object", provider=self.name)
        audio = decode_base64(answer.get("audio"), provider=self.name, what="audio")
        fmt = str(answer.get("audio_format") or "")
        duration, rate = await asyncio.to_thread(
            save_audio,
            audio,
            Path(out),
            provider=self.name,
            content_type=fmt,
            secrets=(self._key,),
            quote_server=self.trusts(self.base_url),
        )
        stamps = _stamps(answer.get("timestamps"))
        words = map_timestamps(text, stamps) if stamps else None
        if words is None:
            log.debug("kokoro: no usable timestamps in the answer")
        else:
            words = tuple(Word(w.text, min(w.start, duration), min(w.end, duration)) for w in words)
        return Speech(Path(out), duration, rate, words, {"voice": body["voice"], "model": self.model})


def _stamps(raw: Any) -> list[tuple[str, float, float]]:
    """``[{word, start_time, end_time}, ...]`` as tuples; entries that are not that shape are skipped."""
    found: list[tuple[str, float, float]] = []
    if not isinstance(raw, list):
        return found
    for item in raw:
        if not isinstance(item, dict):
            continue
        word, start, end = item.get("word"), item.get("start_time"), item.get("end_time")
        if isinstance(word, str) and isinstance(start, (int, float)) and isinstance(end, (int, float)):
            found.append((word, float(start), float(max(end, start))))
    return found
