"""Word timings for audio that comes without them: OpenAI-compatible speech, Chatterbox, your own recording.

``align(audio, text, language=...)`` gives one :class:`~shortskit.providers.base.Word` per whitespace-separated
word of ``text``. The default aligner needs no model: eSpeak NG speaks the text with exact word events and
dynamic time warping maps them onto the audio (:mod:`shortskit.alignment.dtw`). Model aligners (torchaudio's
MMS forced aligner, faster-whisper's word timestamps) are used only when their weights are already on this
machine (:mod:`shortskit.alignment.models`); nothing is ever downloaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from shortskit.errors import AlignmentError, ConfigError, NoSpeechError, RenderError, TextMismatchError
from shortskit.providers.base import Speech, Word
from shortskit.timing import estimate_words

__all__ = [
    "ALIGNERS",
    "AlignmentError",
    "NoSpeechError",
    "TextMismatchError",
    "align",
    "aligner_id",
    "available_aligners",
    "speaks",
    "words_for",
]

log = logging.getLogger("shortskit")

ALIGNERS = ("auto", "dtw", "mms", "whisper")

Backend = Callable[[Path, str, str], list[Word]]


def _dtw(audio: Path, text: str, language: str) -> list[Word]:
    from shortskit.alignment.dtw import align_file

    if not speaks(language):
        raise ConfigError(
            f"eSpeak has no voice for language {language!r}, and the dtw aligner reads the text with eSpeak; "
            "give a language it speaks (such as en, es, fr or pt-BR)"
        )
    from shortskit import espeak

    why = espeak.unspoken(text, espeak.check_voice(None, language))
    if why is not None:
        raise ConfigError(f"the dtw aligner reads the text with eSpeak, and {why}")
    return align_file(audio, text, language)


def speaks(language: str) -> bool:
    """True when eSpeak NG, which the model-free aligner reads the text with, has a voice for ``language``."""
    from shortskit import espeak

    try:
        espeak.check_voice(None, language)
    except ConfigError:
        return False
    return True


def _models() -> dict[str, tuple[Callable[[], str | None], Backend]]:
    from shortskit.alignment import models

    return {"mms": (models.mms_missing, models.align_mms), "whisper": (models.whisper_missing, models.align_whisper)}


def available_aligners() -> dict[str, str | None]:
    """Each aligner, with None when it can run here or the reason it cannot (no weights, no package)."""
    return {"dtw": None, **{name: missing() for name, (missing, _) in _models().items()}}


def _choose(aligner: str) -> tuple[str, Backend]:
    if aligner not in ALIGNERS:
        raise ConfigError(f"unknown aligner {aligner!r}; valid names: {', '.join(ALIGNERS)}")
    if aligner == "dtw":
        return "dtw", _dtw
    models = _models()
    if aligner == "auto":
        # the MMS forced aligner is the most exact on real speech (48 ms mean on TIMIT), when its weights are here
        missing, backend = models["mms"]
        return ("mms", backend) if missing() is None else ("dtw", _dtw)
    missing, backend = models[aligner]
    why = missing()
    if why is not None:
        raise ConfigError(f"the {aligner} aligner cannot run here: {why}; use --aligner dtw (needs no model)")
    return aligner, backend


def aligner_id(aligner: str = "auto") -> str:
    """Which aligner ``aligner`` means here, with its version: what cached word timings record."""
    from shortskit.alignment.dtw import VERSION

    name, _ = _choose(aligner)
    return f"dtw/{VERSION}" if name == "dtw" else f"{name}/1"


def align(audio: str | Path, text: str, *, language: str = "en", aligner: str = "auto") -> list[Word]:
    """Where each word of ``text`` is heard in ``audio`` (any file ffmpeg reads), in seconds.

    One :class:`Word` per whitespace-separated word of ``text``, in order, punctuation kept. Raises
    :class:`NoSpeechError` when the audio holds no speech, :class:`TextMismatchError` when it plainly does not
    say the text and :class:`AlignmentError` when it is not audio at all (each names the file). The model-free
    aligner's test is coarse: speech far too long or short for the text, or (8 words and 5 s of speech or
    more) plainly another text; another text of about the same length can pass, a short one nearly always.
    """
    path = Path(audio)
    if not path.is_file():
        raise ConfigError(f"audio file not found: {path}")
    if not text.split():
        raise ConfigError("nothing to align: the text is empty")
    _, backend = _choose(aligner)
    try:
        return backend(path, text, language)
    except AlignmentError as exc:
        if exc.file is None:
            raise type(exc)(exc.message, file=path.name, scene=exc.scene) from None
        raise
    except RenderError as exc:  # ffmpeg could not decode it: say why (asked only now, the common case costs nothing)
        from shortskit.ffmpeg import audio_problem

        problem = audio_problem(path) or f"ffmpeg cannot decode its audio ({exc})"
        raise AlignmentError(problem, file=path.name) from None


def words_for(
    speech: Speech, text: str, *, language: str, scene: int | None = None, voice: str = ""
) -> tuple[tuple[Word, ...], str]:
    """The word timings a scene's captions use, and where they came from.

    The voice's own when it gave them (``"voice"``); else the aligner's (its :func:`aligner_id`); else, when
    alignment fails, an estimate spread by syllables (``"estimate/"`` + the aligner that failed), with a
    warning naming the scene.
    """
    if speech.words is not None:
        return tuple(speech.words), "voice"
    where = f"scene {scene}: " if scene is not None else ""
    try:
        return tuple(align(speech.path, text, language=language)), aligner_id()
    except (AlignmentError, ConfigError) as exc:
        log.warning("%scould not align %s's speech (%s); captions use an estimate", where, voice or "the voice", exc)
        return estimate_words(text, speech.duration), f"estimate/{aligner_id()}"
