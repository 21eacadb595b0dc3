"""Voice samples for cloning: check a recording (readable, at least 5 s, not silent), convert it, keep it by name.

A sample becomes a 24 kHz mono 16-bit WAV of at most 30 s (a longer recording is trimmed: a cloning model reads
only its first seconds); :func:`save_voice` files it in the workspace's voice library
(``<workspace>/voices-library/<name>.wav`` plus ``<name>.json``), where a story names it as
``voice: {provider: chatterbox, sample: NAME}``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
import wave
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from shortskit import ffmpeg
from shortskit.errors import ConfigError, InputFileError, ShortskitError
from shortskit.workspace import atomic_path, default_workspace

__all__ = [
    "LIBRARY",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "SAMPLE_RATE",
    "SILENCE_DBFS",
    "VoiceSample",
    "is_voice_name",
    "library_facts",
    "library_voice",
    "library_voices",
    "prepare_sample",
    "save_voice",
    "voice_library",
]

SAMPLE_RATE = 24_000  # Hz: what Chatterbox (and most cloning models) read
MIN_SECONDS = 5.0  # shorter samples do not carry enough of a voice to clone
MAX_SECONDS = 30.0  # longer ones are trimmed to this: Chatterbox reads the first 10 s, and more only costs time
SILENCE_DBFS = -50.0  # a sample whose RMS level is below this is taken as silent
LIBRARY = "voices-library"  # folder of saved voices inside the workspace

# matched in full (fullmatch): "$" alone lets a trailing newline through ("narrator\n")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class VoiceSample:
    """A checked voice sample, converted to a 24 kHz mono WAV."""

    path: Path  # the converted WAV
    source: str  # name of the file it came from
    duration: float  # seconds
    sample_rate: int  # Hz (always SAMPLE_RATE)
    level_dbfs: float  # RMS level, dB below full scale
    trimmed_from: float | None = None  # seconds the recording lasted when it was cut to MAX_SECONDS, else None


def _bad(path: Path, problem: str) -> InputFileError:
    return InputFileError(f"{path.name}: {problem}", provider="voice sample")


def _decode(path: Path) -> tuple[np.ndarray, float | None]:
    """The sample's first MAX_SECONDS at SAMPLE_RATE, mono, and its length when longer (else None).

    Every check but silence is made here; raises InputFileError naming the file.
    """
    if not path.is_file():
        raise _bad(path, "file not found")
    if path.stat().st_size == 0:
        raise _bad(path, "the file is empty")
    try:
        info = ffmpeg.probe(path)
    except ShortskitError:
        raise _bad(path, "not an audio file ffmpeg can read (WAV, MP3 or M4A expected)") from None
    if not info.has_audio:
        raise _bad(path, "has no audio stream (WAV, MP3 or M4A expected)")
    try:
        # a little past the limit, to tell a long recording (trimmed) from one of exactly the limit
        samples = ffmpeg.decode_audio(path, sample_rate=SAMPLE_RATE, duration=MAX_SECONDS + 0.5)
    except ShortskitError as exc:
        raise _bad(path, f"cannot decode its audio ({exc})") from None
    seconds = len(samples) / SAMPLE_RATE
    if seconds < MIN_SECONDS:
        raise _bad(
            path, f"is only {seconds:.1f} s long; a voice sample needs at least {MIN_SECONDS:g} s (of clear speech)"
        )
    limit = int(MAX_SECONDS * SAMPLE_RATE)
    if len(samples) <= limit:
        return samples, None
    whole = info.duration if info.duration is not None and info.duration > MAX_SECONDS else seconds
    return samples[:limit], round(whole, 1)


def _dbfs(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def prepare_sample(source: str | Path, out: str | Path) -> VoiceSample:
    """Check the recording ``source`` and write it to ``out`` as a 24 kHz mono 16-bit WAV (its first 30 s).

    Raises :class:`~shortskit.errors.InputFileError` naming the file when it cannot be read, is shorter than
    5 s, or is silent.
    """
    source, out = Path(source), Path(out)
    samples, whole = _decode(source)
    level = _dbfs(samples)
    if level < SILENCE_DBFS:
        shown = "no sound at all" if level == -math.inf else f"level {level:.0f} dBFS"
        raise _bad(source, f"is silent ({shown}); record a few seconds of clear speech")
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with atomic_path(out) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return VoiceSample(out, source.name, len(samples) / SAMPLE_RATE, SAMPLE_RATE, round(level, 1), whole)


def voice_library(workspace: str | Path | None = None) -> Path:
    """The folder of saved voices: ``<workspace>/voices-library``."""
    root = Path(workspace).expanduser() if workspace is not None else default_workspace()
    return root / LIBRARY


def save_voice(
    sample: VoiceSample | str | Path,
    name: str,
    *,
    workspace: str | Path | None = None,
    provider: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Path:
    """Keep ``sample`` (a prepared sample, or any recording: it is checked and converted) as voice ``name``.

    Writes ``<name>.wav`` and ``<name>.json`` (facts plus the ``provider`` and ``settings`` to use it with)
    in :func:`voice_library`, replacing a voice of that name; returns the WAV's path.
    """
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"voice name {name!r}: use 1 to 64 letters, digits, '-' or '_' (starting with a letter or digit)"
        )
    folder = voice_library(workspace)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot keep voices in {folder} ({exc.strerror or exc}); check --workspace") from None
    wav = folder / f"{name}.wav"
    if isinstance(sample, VoiceSample):
        if sample.path.resolve() != wav.resolve():
            with atomic_path(wav) as tmp:
                shutil.copyfile(sample.path, tmp)
        sample = replace(sample, path=wav)
    else:
        sample = prepare_sample(sample, wav)
    facts = {k: v for k, v in asdict(sample).items() if k != "path"}
    meta = {
        "name": name,
        "file": wav.name,
        **facts,
        "provider": provider,
        "settings": settings or {},
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_path(folder / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return wav


def library_voices(workspace: str | Path | None = None) -> list[str]:
    """Names of the saved voices, sorted."""
    folder = voice_library(workspace)
    return sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.wav").is_file())


def library_facts(workspace: str | Path | None = None) -> list[dict[str, Any]]:
    """What was kept about each saved voice (name, source, duration, level, saved), sorted by name."""
    folder = voice_library(workspace)
    facts = []
    for name in library_voices(workspace):
        try:
            facts.append(json.loads((folder / f"{name}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            facts.append({"name": name})  # a sidecar written by hand or cut short: the voice is still there
    return facts


def is_voice_name(value: str) -> bool:
    """True when ``value`` is written as a saved voice's name (letters, digits, '-', '_'), not as a file path."""
    return bool(_NAME.fullmatch(value))


def library_voice(name: str, *, workspace: str | Path | None = None) -> Path:
    """The WAV of saved voice ``name``; the error lists the saved names and how to add one."""
    wav = voice_library(workspace) / f"{name}.wav"
    if not _NAME.fullmatch(name) or not wav.is_file():
        names = ", ".join(library_voices(workspace)) or "none saved yet"
        raise ConfigError(
            f"no saved voice {name!r}; saved voices: {names} (add one with `shortskit voice add NAME FILE` "
            "or the voice panel)"
        )
    return wav
