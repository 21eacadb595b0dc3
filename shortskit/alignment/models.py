"""Model aligners, used only when their weights are already on this machine (never downloaded at run time).

- ``mms``: torchaudio's MMS forced aligner (``torchaudio.pipelines.MMS_FA``, 1.2 GB, CC-BY-NC 4.0): CTC forced
  alignment of the romanised text. Found in torch hub's cache (``torch.hub.get_dir()/checkpoints/model.pt``)
  or at ``$SHORTSKIT_MMS_MODEL``.
- ``whisper``: faster-whisper's word timestamps, from a CTranslate2 model folder at ``$SHORTSKIT_WHISPER_MODEL``
  (a folder with ``model.bin``), loaded with ``local_files_only``. Its recognised words are put onto the
  text's own words by :func:`shortskit.timing.map_timestamps`.

Each loads once per process (:func:`shortskit.models.load_once`).
"""

from __future__ import annotations

import importlib.util
import os
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from shortskit.errors import NoSpeechError, TextMismatchError
from shortskit.models import load_once
from shortskit.providers.base import Word
from shortskit.timing import fill_gaps, map_timestamps

__all__ = ["align_mms", "align_whisper", "mms_missing", "whisper_missing"]

MMS_ENV = "SHORTSKIT_MMS_MODEL"
WHISPER_ENV = "SHORTSKIT_WHISPER_MODEL"
RATE = 16000


def _mms_weights() -> Path | None:
    given = os.environ.get(MMS_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    try:
        import torch
    except ImportError:
        return None
    return Path(torch.hub.get_dir()) / "checkpoints" / "model.pt"


@lru_cache(maxsize=1)
def mms_missing() -> str | None:
    """Why the MMS aligner cannot run here (None: it can)."""
    if importlib.util.find_spec("torchaudio") is None:
        return "torchaudio is not installed"
    weights = _mms_weights()
    if weights is None:
        return "torch is not installed"
    if not weights.is_file():
        return f"no MMS_FA weights at {weights} (set {MMS_ENV}; they are never downloaded here)"
    return None


@lru_cache(maxsize=1)
def whisper_missing() -> str | None:
    """Why the whisper aligner cannot run here (None: it can)."""
    if importlib.util.find_spec("faster_whisper") is None:
        return "faster-whisper is not installed"
    folder = os.environ.get(WHISPER_ENV, "").strip()
    if not folder or not (Path(folder).expanduser() / "model.bin").is_file():
        return f"set {WHISPER_ENV} to a faster-whisper model folder (with model.bin); none is downloaded"
    return None


def _samples(audio: Path) -> Any:
    from shortskit import ffmpeg

    samples = ffmpeg.decode_audio(audio, sample_rate=RATE)
    if len(samples) == 0 or float(abs(samples).max()) < 1e-4:
        raise NoSpeechError("the audio is silent: there is no speech to align the text with")
    return samples


def _romanised(word: str) -> str:
    """The letters MMS_FA knows (a-z and the apostrophe), accents dropped."""
    plain = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in plain if ("a" <= c <= "z") or c == "'")


def _mms_model() -> tuple[Any, Any, Any]:
    import torchaudio

    bundle = torchaudio.pipelines.MMS_FA
    weights = _mms_weights()
    assert weights is not None and weights.is_file()  # checked by mms_missing: so torch hub finds, not fetches
    dl = {"model_dir": str(weights.parent), "file_name": weights.name, "progress": False}
    return bundle.get_model(with_star=False, dl_kwargs=dl), bundle.get_tokenizer(), bundle.get_aligner()


def align_mms(audio: Path, text: str, language: str) -> list[Word]:
    """Word times from the MMS forced aligner; words without letters (numbers) take the time around them."""
    import torch

    model, tokenizer, aligner = load_once("mms-aligner", str(_mms_weights()), _mms_model)
    samples = _samples(audio)
    tokens = text.split()
    letters = [_romanised(t) for t in tokens]
    spoken = [w for w in letters if w]
    if not spoken:
        raise TextMismatchError("the text has no letters the MMS aligner can place; use --aligner dtw")
    with torch.inference_mode():
        waveform = torch.from_numpy(samples).unsqueeze(0)
        emission, _ = model(waveform)  # log-probabilities already
        spans = aligner(emission[0], tokenizer(spoken))
    seconds = waveform.size(1) / emission.size(1) / RATE
    starts: list[float | None] = []
    ends: list[float | None] = []
    found = iter(spans)
    for w in letters:
        span = next(found) if w else None
        starts.append(span[0].start * seconds if span else None)
        ends.append(span[-1].end * seconds if span else None)
    return list(fill_gaps(tokens, starts, ends, len(samples) / RATE))


def _whisper_model() -> Any:
    from faster_whisper import WhisperModel

    folder = str(Path(os.environ[WHISPER_ENV]).expanduser())
    return WhisperModel(folder, device="auto", compute_type="default", local_files_only=True)


def align_whisper(audio: Path, text: str, language: str) -> list[Word]:
    """Word times from faster-whisper's transcription, matched onto the text's own words."""
    model = load_once("whisper-aligner", os.environ.get(WHISPER_ENV, ""), _whisper_model)
    samples = _samples(audio)
    segments, _ = model.transcribe(
        samples, language=language.split("-")[0].lower(), word_timestamps=True, initial_prompt=text
    )
    stamps = [(w.word, float(w.start), float(w.end)) for segment in segments for w in (segment.words or [])]
    words = map_timestamps(text, stamps) if stamps else None
    if not words:
        raise TextMismatchError("whisper heard nothing of the text in the audio: is it the right file?")
    return list(words)
