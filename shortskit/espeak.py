"""eSpeak NG through ctypes (the library ``espeakng-loader`` ships): speech samples plus exact word events.

The eSpeak voice provider speaks with it, and the aligner uses it as a reference whose word times are known.
The library keeps one engine per process, so every call into it holds one lock; it synthesizes about 150x
faster than real time.
"""

from __future__ import annotations

import array
import ctypes
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shortskit.errors import ConfigError, ProviderError

__all__ = ["RATE_RANGE", "Synthesis", "check_voice", "list_voices", "speech_end", "synthesize", "unspoken"]

# espeak_ng API constants (speak_lib.h)
_AUDIO_OUTPUT_RETRIEVAL = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_PITCH = 3
_WORDGAP = 7
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1

# eSpeak speaks faster than 450 wpm through its built-in sonic speed-up, so a rate may go to 900.
RATE_RANGE = (80, 900)
# below this |amplitude| (of 32767) a sample counts as silence when trimming the last word's end
_SILENCE = 300


class _EventId(ctypes.Union):
    _fields_ = [
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    ]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _EventId),
    ]  # fmt: skip


class _VoiceInfo(ctypes.Structure):
    # languages: (priority byte, name, NUL) repeated, then NUL: not one C string, so a raw pointer
    _fields_ = [
        ("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte), ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int), ("spare", ctypes.c_void_p),
    ]  # fmt: skip


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass
class _Capture:
    """What the callback collects for the one synthesis running now."""

    samples: array.array[int] = field(default_factory=lambda: array.array("h"))
    # word events as (1-based character position, audio position in ms)
    words: list[tuple[int, int]] = field(default_factory=list)
    error: BaseException | None = None


# eSpeak keeps one global engine per process, so every call into it holds this lock.
_LOCK = threading.Lock()
_lib: ctypes.CDLL | None = None
_sample_rate = 0
_capture: _Capture | None = None
# language code -> file name of the voice that speaks it best; built on first need
_language_table: dict[str, str] | None = None
# what eSpeak lists, lower-cased -> as listed: its voices (file names and languages) and its variants
_listed: tuple[dict[str, str], dict[str, str]] | None = None

# A voice is "name" or "name+variant", each part a name eSpeak lists. eSpeak reads the voice as a path under its
# data folder ("../../etc/passwd" prints that file) and copies it into fixed buffers (a long variant aborts the
# process), so nothing else ever reaches espeak_SetVoiceByName.
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_SHOWN = re.compile(r"\w[\w ()',.-]{0,39}")  # a voice's own name, as eSpeak shows it ("English (America)")
MAX_VOICE = 64  # characters of "name+variant"


def _on_synth(wav: Any, count: int, events: Any) -> int:
    capture = _capture
    if capture is None:
        return 1
    try:
        if wav and count > 0:
            capture.samples.frombytes(ctypes.string_at(wav, count * 2))
        i = 0
        while events and events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_WORD:
                capture.words.append((event.text_position, event.audio_position))
            i += 1
    # an exception must not unwind through C: stop eSpeak and re-raise it after Synth returns
    except BaseException as exc:
        capture.error = exc
        return 1
    return 0


# kept at module level for the life of the process: eSpeak holds the raw pointer, and a collected
# ctypes callback would crash the next synthesis
_CALLBACK = _SynthCallback(_on_synth)


def _library() -> ctypes.CDLL:
    """Load and initialise eSpeak once; the caller holds ``_LOCK``."""
    global _lib, _sample_rate
    if _lib is not None:
        return _lib
    try:
        import espeakng_loader
    except ImportError as exc:
        raise ConfigError("the espeak voice needs the espeakng-loader package: pip install espeakng-loader") from exc
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
    ]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = ctypes.c_int
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]  # an espeak_VOICE* spec (None: every voice)
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceInfo))
    # Either the espeak-ng-data folder or its parent works; without a path the library looks in the
    # build machine's prefix and fails.
    data = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_RETRIEVAL, 0, data, 0)
    if rate <= 0:
        raise ProviderError(f"eSpeak failed to initialise (code {rate})", provider="espeak")
    lib.espeak_SetSynthCallback(_CALLBACK)
    _sample_rate = rate
    _lib = lib
    return lib


def _languages(field: int | None) -> list[tuple[int, str]]:
    """Decode espeak_VOICE.languages: (priority byte, name, NUL) repeated, then a NUL byte."""
    found: list[tuple[int, str]] = []
    if not field:
        return found
    offset = 0
    # a priority byte of 0 ends the list
    while (priority := ctypes.string_at(field + offset, 1)[0]) != 0:
        name = ctypes.string_at(field + offset + 1)
        found.append((priority, name.decode("utf-8", "replace").lower()))
        offset += len(name) + 2
    return found


def _languages_to_voices(lib: ctypes.CDLL) -> dict[str, str]:
    """Every language eSpeak's voices list, mapped to the voice that speaks it best.

    The caller holds ``_LOCK``. ``espeak_SetVoiceByName`` only knows voice names and file names, so
    languages a voice merely lists ("es-mx" in es-419, "zh" in cmn, "no" in nb) need this table.
    """
    global _language_table
    if _language_table is not None:
        return _language_table
    best: dict[str, tuple[int, str]] = {}
    voices = lib.espeak_ListVoices(None)
    i = 0
    while voices[i]:
        info = voices[i].contents
        # the identifier is "family/file"; the file name is what SetVoiceByName loads
        file = (info.identifier or b"").decode("utf-8", "replace").rsplit("/", 1)[-1]
        for priority, language in _languages(info.languages):
            # lower priority numbers are better; the first voice listed wins a tie
            if file and (language not in best or priority < best[language][0]):
                best[language] = (priority, file)
        i += 1
    _language_table = {language: file for language, (_, file) in best.items()}
    return _language_table


def _voice_files(lib: ctypes.CDLL, spec: _VoiceInfo | None) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """(file name, name, languages) of each voice ``espeak_ListVoices(spec)`` gives; the caller holds ``_LOCK``."""
    voices = lib.espeak_ListVoices(ctypes.byref(spec) if spec is not None else None)
    found, i = [], 0
    while voices[i]:
        info = voices[i].contents
        file = (info.identifier or b"").decode("utf-8", "replace").rsplit("/", 1)[-1]
        found.append((file, (info.name or b"").decode("utf-8", "replace").strip(), _languages(info.languages)))
        i += 1
    return found


def _listed_names(lib: ctypes.CDLL) -> tuple[dict[str, str], dict[str, str]]:
    """The voices (file names, languages and own names) and the variants (file names) eSpeak lists, lower-cased
    -> as listed. Only names of plain characters are kept (a variant file called "Mr serious" is not).
    The caller holds ``_LOCK``.
    """
    global _listed
    if _listed is not None:
        return _listed
    voices: dict[str, str] = {}
    for file, shown, languages in _voice_files(lib, None):
        for name in (file, *(language for _, language in languages)):
            if _PART.fullmatch(name):
                voices.setdefault(name.lower(), name)
        if _SHOWN.fullmatch(shown):
            voices.setdefault(shown.lower(), shown)
    # the variants ("+f3", "+klatt") are the voices listed for the pseudo-language "variant"
    tag = ctypes.create_string_buffer(b"variant")  # kept alive here for the call
    spec = _VoiceInfo(None, ctypes.cast(tag, ctypes.c_void_p), None, 0, 0, 0, 0, 0, None)
    variants = {f.lower(): f for f, _, _ in _voice_files(lib, spec) if _PART.fullmatch(f)}
    _listed = (voices, variants)
    return _listed


def _listed_voice(lib: ctypes.CDLL, name: str) -> str | None:
    """``name`` ("voice" or "voice+variant") when eSpeak lists each part, the variant as listed; else None."""
    if len(name) > MAX_VOICE:
        return None
    base, plus, variant = name.partition("+")
    voices, variants = _listed_names(lib)
    if base.lower() not in voices:
        return None
    if not plus:
        return base
    if variant.lower() not in variants:
        return None
    return f"{base}+{variants[variant.lower()]}"


def _set_voice(lib: ctypes.CDLL, name: str) -> str | None:
    """Load the voice ``name`` (a voice, a file or a language, optionally "+variant"), when eSpeak lists it."""
    listed = _listed_voice(lib, name)
    if listed is None:
        return None
    if lib.espeak_SetVoiceByName(listed.encode()) == 0:
        return listed
    base, plus, variant = listed.partition("+")
    file = _languages_to_voices(lib).get(base.lower())
    if file is not None:
        resolved = f"{file}{plus}{variant}"
        if lib.espeak_SetVoiceByName(resolved.encode()) == 0:
            return resolved
    return None


def _language_candidates(language: str) -> list[str]:
    tag = language.strip().replace("_", "-").lower()
    subtags = [s for s in tag.split("-") if s]
    # longest prefix first, so "es-419" keeps its region and "pt-br" its Brazilian voice
    return ["-".join(subtags[:n]) for n in range(len(subtags), 0, -1)]


def _select_voice(lib: ctypes.CDLL, voice: str | None, language: str) -> str:
    """Make eSpeak use ``voice`` (or the best voice for ``language``) and return its name."""
    if voice is not None:
        resolved = _set_voice(lib, voice)
        if resolved is None:
            shown = voice if len(voice) <= 40 else voice[:40] + "…"
            raise ConfigError(
                f"eSpeak has no voice {shown!r}; use a voice or language it lists (such as 'en-us' or 'es'), "
                "optionally with a variant it lists like 'en+f3'"
            )
        return resolved
    for candidate in _language_candidates(language):
        resolved = _set_voice(lib, candidate)
        if resolved is not None:
            return resolved
    raise ConfigError(
        f"eSpeak has no voice for language {language!r}; "
        "set the story language to one eSpeak speaks or pass voice= explicitly"
    )


def _ideographs(text: str) -> list[str]:
    """The Han characters (kanji) of ``text``, in order, each once."""
    seen: dict[str, None] = {}
    for ch in text:
        o = ord(ch)
        if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F:
            seen[ch] = None
    return list(seen)


def unspoken(text: str, voice: str) -> str | None:
    """Why eSpeak's ``voice`` (as resolved) cannot say ``text``, or None when it can.

    eSpeak NG 1.52's Japanese voice speaks kana only: each kanji comes out as "Chinese letter" (checked with
    espeak_TextToPhonemes), so a Japanese narration with kanji would be nonsense, and so would the aligner's
    reading of it.
    """
    base = voice.split("+")[0].lower()
    if base in ("ja", "jpx") and (kanji := _ideographs(text)):
        shown = "".join(kanji[:6]) + ("…" if len(kanji) > 6 else "")
        return (
            f"eSpeak's Japanese voice reads kana only and says 'Chinese letter' for each kanji ({shown}), so the "
            "narration will not be Japanese: write it in hiragana or katakana for the espeak voice, or use the "
            "chatterbox voice (the captions show the text as written)"
        )
    return None


def list_voices() -> list[str]:
    """Language codes eSpeak speaks (each one a valid ``voice=``), sorted."""
    with _LOCK:
        return sorted(_languages_to_voices(_library()))


@dataclass(frozen=True)
class Synthesis:
    """What one call to eSpeak gave."""

    samples: np.ndarray  # int16 mono samples
    sample_rate: int  # Hz (22050)
    events: list[tuple[int, float]]  # word events: (1-based character position in the text, seconds)
    voice: str  # the voice that spoke, as eSpeak resolved it


def check_voice(voice: str | None, language: str) -> str:
    """The voice eSpeak would use for ``voice`` (or ``language`` when None); :class:`ConfigError` if none."""
    with _LOCK:
        return _select_voice(_library(), voice, language)


def synthesize(
    text: str, *, voice: str | None = None, language: str = "en", rate: int = 175, pitch: int = 50, word_gap: int = 0
) -> Synthesis:
    """Speak ``text`` with ``voice`` (or the best voice for ``language``) at ``rate`` words a minute, with a
    pause of ``word_gap`` x 10 ms after every word (the aligner's reading of words spoken one by one)."""
    global _capture
    # a NUL would end the C string early and shift nothing else, so speak it as a space
    data = text.replace("\x00", " ").encode("utf-8")
    buffer = ctypes.create_string_buffer(data)
    capture = _Capture()
    with _LOCK:
        lib = _library()
        resolved = _select_voice(lib, voice, language)
        # parameters are global too: set them on every call, another caller may have changed them
        lib.espeak_SetParameter(_RATE, min(RATE_RANGE[1], max(RATE_RANGE[0], int(rate))), 0)
        lib.espeak_SetParameter(_PITCH, int(pitch), 0)
        lib.espeak_SetParameter(_WORDGAP, max(0, int(word_gap)), 0)
        _capture = capture
        try:
            code = lib.espeak_Synth(buffer, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
        finally:
            _capture = None
        sample_rate = _sample_rate
    if capture.error is not None:
        raise ProviderError(f"eSpeak callback failed: {capture.error}", provider="espeak") from capture.error
    if code != 0:
        raise ProviderError(f"eSpeak synthesis failed (code {code})", provider="espeak")
    samples = np.frombuffer(capture.samples.tobytes(), dtype=np.int16 if sys.byteorder == "little" else ">i2")
    events = [(position, ms / 1000.0) for position, ms in capture.words]
    return Synthesis(samples.astype(np.int16), sample_rate, events, resolved)


def speech_end(samples: np.ndarray, sample_rate: int) -> float:
    """Seconds at which trailing silence starts (the whole length when there is none)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _SILENCE)
    return (int(loud[-1]) + 1) / sample_rate if len(loud) else len(samples) / sample_rate
