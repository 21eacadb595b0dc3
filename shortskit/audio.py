"""Audio files: 16-bit WAV written from samples, and audio bytes from a server checked and saved as WAV.

Voices, the music bed and voice samples all end as 16-bit PCM WAV files; anything else a server sends (MP3,
float or stereo WAV) is converted by ffmpeg, and bytes that are not audio become a clear ProviderError.
"""

from __future__ import annotations

import contextlib
import struct
import wave
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shortskit.errors import ProviderError, ShortskitError

if TYPE_CHECKING:
    from shortskit.endpoints import Secret

__all__ = ["MAX_SERVER_SECONDS", "SAMPLE_RATES", "save_audio", "wav_frames", "write_wav"]

# What a server's (or a person's) audio may claim: a WAV header saying 1 Hz turns 100 KB into 14 hours.
SAMPLE_RATES = (8000, 192000)  # Hz, lowest and highest
MAX_SERVER_SECONDS = 600.0  # seconds of one voice-over a server may send (a scene is far shorter)


def write_wav(out: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write ``samples`` as a 16-bit WAV: int16 as they are, floats in [-1, 1] scaled; shape (n,) or (n, channels)."""
    data = np.asarray(samples)
    if data.dtype.kind == "f":
        data = np.rint(np.clip(data, -1.0, 1.0) * 32767)
    pcm = np.clip(data, -32768, 32767).astype("<i2")
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    out = Path(out)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.ascontiguousarray(pcm).tobytes())
    return out


def wav_frames(path: str | Path) -> tuple[int, int]:
    """(frames, sample rate) of a WAV file."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes(), w.getframerate()


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


def _not_audio(
    data: bytes, content_type: str, secrets: Iterable[Secret | None] = (), quote_server: bool = True
) -> str | None:
    """Why ``data`` is plainly not audio (an HTML page, a JSON message), or None."""
    head = data[:512].lstrip()
    if not head:
        return "an empty body"
    if "html" in content_type.lower() or head.lower().startswith((b"<!doctype", b"<html")):
        return "an HTML page"
    if "json" in content_type.lower() or head.startswith((b"{", b"[")):
        if not quote_server:
            return "JSON"
        import httpx

        from shortskit.http import server_message

        answer = httpx.Response(200, content=data, headers={"content-type": "application/json"})
        said = server_message(answer, secrets)
        return f"JSON ({said})"
    return None


def save_audio(
    data: bytes,
    out: Path,
    *,
    provider: str,
    content_type: str = "",
    secrets: Iterable[Secret | None] = (),
    quote_server: bool = True,
) -> tuple[float, int]:
    """Write the audio bytes ``data`` to ``out`` as 16-bit mono WAV; return (duration in seconds, sample rate).

    A 16-bit mono WAV is copied with a correct header; anything else (MP3, float or stereo WAV, ...) is
    converted by ffmpeg. Bytes that are not audio raise a non-retryable :class:`ProviderError` (quoting a JSON
    answer with ``secrets`` scrubbed).
    """
    out = Path(out)
    pcm = _pcm16_mono(data)
    if pcm is not None:
        rate, frames = pcm
        _check_audio(len(frames) // 2, rate, provider)
        write_wav(out, np.frombuffer(frames, dtype="<i2"), rate)
    else:
        reason = _not_audio(data, content_type, secrets, quote_server)
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
        frames_n, rate = wav_frames(out)
    except (wave.Error, EOFError, OSError) as exc:  # pragma: no cover - we just wrote it
        raise ProviderError(f"cannot read back the audio ({exc})", provider=provider) from None
    if frames_n == 0:
        raise ProviderError("answered with empty audio", provider=provider)
    _check_audio(frames_n, rate, provider)
    return frames_n / rate, rate


def _check_audio(frames: int, rate: int, provider: str) -> None:
    """A :class:`ProviderError` when audio claims a sample rate or a length no voice-over has."""
    low, high = SAMPLE_RATES
    if not low <= rate <= high:
        raise ProviderError(f"answered with audio at {rate} Hz (allowed: {low}..{high} Hz)", provider=provider)
    if frames > MAX_SERVER_SECONDS * rate:
        raise ProviderError(
            f"answered with {frames / rate:.0f} s of audio (at most {MAX_SERVER_SECONDS:.0f} s a call)",
            provider=provider,
        )
