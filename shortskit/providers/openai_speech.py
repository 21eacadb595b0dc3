"""Voices over HTTP: any OpenAI-compatible ``POST /audio/speech`` server, and Kokoro-FastAPI with word timings.

``openai`` serves OpenAI, Kokoro-FastAPI (``/v1``), Chatterbox-TTS-Server and chatterbox-tts-api; it returns no
word timings (the pipeline estimates them). ``kokoro`` calls Kokoro-FastAPI's ``/dev/captioned_speech`` and maps
its timestamps onto the story's own words, punctuation kept. Audio that is not 16-bit mono WAV goes through ffmpeg.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import struct
import unicodedata
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from shortskit.errors import ConfigError, ProviderError, ShortskitError
from shortskit.http import (
    DEFAULT_TIMEOUT,
    HttpProvider,
    api_key,
    base_url,
    decode_base64,
    post_json,
    public_url,
    server_message,
)
from shortskit.providers.base import Speech, Word
from shortskit.providers.openai_images import _positive, needs_key

__all__ = ["KOKORO_VOICES", "KokoroSpeech", "OpenAISpeech", "map_timestamps", "save_audio"]

log = logging.getLogger("shortskit")

OPENAI_BASE_URL = "https://api.openai.com/v1"
KOKORO_BASE_URL = "http://localhost:8880"

# Kokoro v1.0 voices by language (the first letter of a voice name is its language), used when none is set.
KOKORO_VOICES = {
    "en": "af_heart", "en-us": "af_heart", "en-gb": "bf_emma", "es": "ef_dora", "fr": "ff_siwis",
    "it": "if_sara", "pt": "pf_dora", "pt-br": "pf_dora", "hi": "hf_alpha", "ja": "jf_alpha", "zh": "zf_xiaobei",
}  # fmt: skip


# -- audio -------------------------------------------------------------------------------------------------


def _pcm16_mono(data: bytes) -> tuple[int, bytes] | None:
    """(sample rate, frames) when ``data`` is a 16-bit mono PCM WAV, read chunk by chunk.

    Streaming servers (OpenAI among them) write a placeholder data size; the frames are then what follows.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    fmt: tuple[int, int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        body = offset + 8
        if chunk == b"fmt " and size >= 16:
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            if fmt is None or fmt[0] != 1 or fmt[1] != 1 or fmt[3] != 16 or fmt[2] <= 0:
                return None
            end = len(data) if size == 0 or body + size > len(data) else body + size
            frames = data[body:end]
            return fmt[2], frames[: len(frames) // 2 * 2]
        offset = body + size + (size & 1)
    return None


def _not_audio(data: bytes, content_type: str) -> str | None:
    """Why ``data`` is plainly not audio (an HTML page, a JSON message), or None."""
    head = data[:512].lstrip()
    if not head:
        return "an empty body"
    if "html" in content_type.lower() or head.lower().startswith((b"<!doctype", b"<html")):
        return "an HTML page"
    if "json" in content_type.lower() or head.startswith((b"{", b"[")):
        import httpx

        said = server_message(httpx.Response(200, content=data, headers={"content-type": "application/json"}))
        return f"JSON ({said})"
    return None


def save_audio(data: bytes, out: Path, *, provider: str, content_type: str = "") -> tuple[float, int]:
    """Write the audio bytes ``data`` to ``out`` as 16-bit mono WAV; return (duration in seconds, sample rate).

    A 16-bit mono WAV is copied with a correct header; anything else (MP3, float or stereo WAV, ...) is
    converted by ffmpeg. Bytes that are not audio raise a non-retryable :class:`ProviderError`.
    """
    out = Path(out)
    pcm = _pcm16_mono(data)
    if pcm is not None:
        rate, frames = pcm
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(frames)
    else:
        reason = _not_audio(data, content_type)
        if reason:
            raise ProviderError(f"answered with {reason} instead of audio", provider=provider)
        from shortskit import ffmpeg

        source = out.with_name(f"{out.name}.download")
        try:
            source.write_bytes(data)
            ffmpeg.run(["-y", "-i", source, "-vn", "-ac", "1", "-c:a", "pcm_s16le", "-f", "wav", out], what="audio")
        except ShortskitError:
            raise ProviderError(
                f"answered with {len(data)} bytes that are not audio ffmpeg can read"
                + (f" ({content_type})" if content_type else ""),
                provider=provider,
            ) from None
        finally:
            with contextlib.suppress(OSError):
                source.unlink()
    try:
        with wave.open(str(out), "rb") as w:
            frames, rate = w.getnframes(), w.getframerate()
    except (wave.Error, EOFError, OSError) as exc:  # pragma: no cover - we just wrote it
        raise ProviderError(f"cannot read back the audio ({exc})", provider=provider) from None
    if frames == 0:
        raise ProviderError("answered with empty audio", provider=provider)
    return frames / rate, rate


# -- word timings --------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    """Letters and digits only, lower case, accents dropped: what the story and the server agree on."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.casefold() if c.isalnum() and not unicodedata.combining(c))


def map_timestamps(text: str, stamps: Sequence[tuple[str, float, float]]) -> tuple[Word, ...] | None:
    """Put a server's word times onto ``text.split()`` (the story's words, punctuation kept).

    The server's words may drop punctuation, split or join words differently, or spell numbers out: both sides
    are reduced to letters and digits and matched character by character in order; a story word gets the time
    of its first matched character (times spread evenly over each server word's letters). Words nothing matched
    get times between their neighbours. None when nothing matches at all.
    """
    tokens = text.split()
    if not tokens:
        return ()
    story_chars: list[str] = []
    owner: list[int] = []
    for i, token in enumerate(tokens):
        for c in _norm(token):
            story_chars.append(c)
            owner.append(i)
    server_chars: list[str] = []
    times: list[tuple[float, float]] = []  # start and end of each server character
    for word, start, end in stamps:
        letters = _norm(word)
        span = max(end - start, 0.0) / max(len(letters), 1)
        for k, c in enumerate(letters):
            server_chars.append(c)
            times.append((start + span * k, start + span * (k + 1)))
    if not story_chars or not server_chars:
        return None
    starts: list[float | None] = [None] * len(tokens)
    ends: list[float | None] = [None] * len(tokens)
    matcher = difflib.SequenceMatcher(None, story_chars, server_chars, autojunk=False)
    matched = False
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            i = owner[block.a + k]
            t0, t1 = times[block.b + k]
            s0, e0 = starts[i], ends[i]
            starts[i] = t0 if s0 is None else min(s0, t0)
            ends[i] = t1 if e0 is None else max(e0, t1)
            matched = True
    if not matched:
        return None
    last_end = max(end for _, _, end in stamps)
    return _fill(tokens, starts, ends, last_end)


def _fill(tokens: list[str], starts: list[float | None], ends: list[float | None], last_end: float) -> tuple[Word, ...]:
    n = len(tokens)
    filled: list[float] = []
    i = 0
    while i < n:
        known = starts[i]
        if known is not None:
            filled.append(known)
            i += 1
            continue
        j = i
        while j < n and starts[j] is None:
            j += 1
        before = ends[i - 1] if i > 0 else None
        left = before if before is not None else (filled[-1] if filled else 0.0)
        after = starts[j] if j < n else None
        right = max(after if after is not None else last_end, left)
        gap = j - i
        # unmatched words (a dash, a number spoken as words) share the time up to the next matched word
        filled.extend(left + (right - left) * k / gap for k in range(gap))
        i = j
    words: list[Word] = []
    previous = 0.0
    for k, token in enumerate(tokens):
        start = max(filled[k], previous)  # captions never run backwards
        following = filled[k + 1] if k + 1 < n else None
        own_end = ends[k]
        end = own_end if own_end is not None else (following if following is not None else last_end)
        if following is not None:
            end = min(end, max(following, start))
        words.append(Word(token, round(start, 4), round(max(end, start), 4)))
        previous = start
    return tuple(words)


# -- providers ---------------------------------------------------------------------------------------------


def _speed(value: Any, provider: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.25 <= value <= 4.0:
        raise ConfigError(f"{provider} speed must be a number from 0.25 to 4.0, got {value!r}")
    return float(value)


class _SpeechAPI(HttpProvider):
    model: str
    voice: str | None
    speed: float
    base_url: str

    def _setup(
        self,
        *,
        model: str,
        voice: str | None,
        speed: float,
        api_key_env: str | None,
        key_required: bool,
        rate_per_minute: float | None,
        rate_burst: int | None,
        max_concurrency: int,
        timeout: float,
    ) -> None:
        who = self.name
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"{who} voice model must be a model name")
        if voice is not None and (not isinstance(voice, str) or not voice.strip()):
            raise ConfigError(f"{who} voice must be a voice name")
        self.model = model.strip()
        self.voice = voice.strip() if voice else None
        self.speed = _speed(speed, who)
        self.rate_per_minute = _positive(rate_per_minute, "rate_per_minute", who, allow_none=True)
        self.rate_burst = _positive(rate_burst, "rate_burst", who, integer=True, allow_none=True)
        self.max_concurrency = _positive(max_concurrency, "max_concurrency", who, integer=True)
        self.timeout = float(_positive(timeout, "timeout", who))
        self.key_env = api_key_env
        self._key = api_key(api_key_env, provider=f"{who} voice", required=key_required)

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

    def __init__(
        self,
        *,
        model: str = "tts-1",
        voice: str = "alloy",
        speed: float = 1.0,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        rate_per_minute: float | None = None,
        rate_burst: int | None = None,
        max_concurrency: int = 2,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = _base(base_url, "OPENAI_BASE_URL", OPENAI_BASE_URL)
        self._setup(
            model=model,
            voice=voice,
            speed=speed,
            api_key_env=api_key_env,
            key_required=needs_key(self.base_url),
            rate_per_minute=rate_per_minute,
            rate_burst=rate_burst,
            max_concurrency=max_concurrency,
            timeout=timeout,
        )

    async def synthesize(self, text: str, out: Path, *, language: str) -> Speech:
        """Speak ``text`` into the WAV ``out`` (the server picks the language from the text)."""
        self._empty(text)
        body = self._body(text, language)
        response = await self.send("POST", f"{self.base_url}/audio/speech", json_body=body)
        content_type = response.headers.get("content-type", "")
        duration, rate = await asyncio.to_thread(
            save_audio, response.content, Path(out), provider=self.name, content_type=content_type
        )
        return Speech(Path(out), duration, rate, None, {"voice": body["voice"], "model": self.model})


class KokoroSpeech(_SpeechAPI):
    """Kokoro-FastAPI's ``POST {base_url}/dev/captioned_speech``: audio plus word times on the story's words."""

    name: ClassVar[str] = "kokoro"
    version: ClassVar[str] = "1"

    def __init__(
        self,
        *,
        model: str = "kokoro",
        voice: str | None = None,
        speed: float = 1.0,
        base_url: str | None = None,
        api_key_env: str | None = None,
        rate_per_minute: float | None = None,
        rate_burst: int | None = None,
        max_concurrency: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        url = _base(base_url, None, KOKORO_BASE_URL)
        self.base_url = url[: -len("/v1")] if url.endswith("/v1") else url  # the dev route has no /v1
        self._setup(
            model=model,
            voice=voice,
            speed=speed,
            api_key_env=api_key_env,
            key_required=False,
            rate_per_minute=rate_per_minute,
            rate_burst=rate_burst,
            max_concurrency=max_concurrency,
            timeout=timeout,
        )

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
        duration, rate = await asyncio.to_thread(save_audio, audio, Path(out), provider=self.name, content_type=fmt)
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


def _base(option: str | None, env: str | None, default: str) -> str:
    return base_url(option, env, default)
