"""eSpeak NG voice: fast offline narration with exact word timings, via ctypes and ``espeakng-loader``.

It is the default voice: no network, no GPU, about 150x faster than real time, robotic but clear.
"""

from __future__ import annotations

import array
import asyncio
import ctypes
import sys
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from shortskit.errors import ConfigError, ProviderError
from shortskit.providers.base import Speech, Word

__all__ = ["EspeakVoice", "list_voices"]

# espeak_ng API constants (speak_lib.h)
_AUDIO_OUTPUT_RETRIEVAL = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1
_PITCH = 3
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1

_RATE_RANGE = (80, 450)
_PITCH_RANGE = (0, 99)
_SPEED_RANGE = (0.5, 2.0)
# eSpeak speaks faster than 450 wpm through its built-in sonic speed-up, so rate * speed may go to 900.
_EFFECTIVE_RATE_RANGE = (80, 900)
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
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _VoiceInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        # (priority byte, name, NUL) repeated, then NUL: not one C string, so a raw pointer
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


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
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
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


def _set_voice(lib: ctypes.CDLL, name: str) -> str | None:
    """Load the voice ``name`` (a voice, a file or a language, optionally "+variant")."""
    if lib.espeak_SetVoiceByName(name.encode()) == 0:
        return name
    base, plus, variant = name.partition("+")
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
            raise ConfigError(
                f"eSpeak has no voice {voice!r}; try a language code such as 'en-us' or 'es', "
                "optionally with a variant like 'en+f3'"
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


def list_voices() -> list[str]:
    """Language codes eSpeak speaks (each one a valid ``voice=``), sorted."""
    with _LOCK:
        return sorted(_languages_to_voices(_library()))


def _token_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, token) for exactly the tokens of ``text.split()``, as 0-based character spans."""
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    for i, ch in enumerate(text):
        # str.isspace is the test str.split() uses, so the tokens match it exactly
        if ch.isspace():
            if start is not None:
                spans.append((start, i, text[start:i]))
                start = None
        elif start is None:
            start = i
    if start is not None:
        spans.append((start, len(text), text[start:]))
    return spans


def _speech_end(samples: array.array[int], sample_rate: int) -> float:
    """Seconds at which trailing silence starts (the whole length when there is none)."""
    for i in range(len(samples) - 1, -1, -1):
        if abs(samples[i]) > _SILENCE:
            return (i + 1) / sample_rate
    return len(samples) / sample_rate


def _word_timings(text: str, events: list[tuple[int, int]], speech_end: float) -> tuple[Word, ...]:
    spans = _token_spans(text)
    if not spans:
        return ()
    starts: list[float | None] = [None] * len(spans)
    token = 0
    for position, ms in events:
        index = position - 1  # eSpeak counts characters (code points) from 1, not bytes
        # an event between tokens (eSpeak's second word for an emoji points at the following space)
        # belongs to the token before it
        while token + 1 < len(spans) and spans[token + 1][0] <= index:
            token += 1
        if starts[token] is None:  # "$1,500.75" is several spoken words: keep the first
            starts[token] = ms / 1000.0

    # Tokens eSpeak did not speak ("—", some symbols) get starts spread between their neighbours.
    filled: list[float] = []
    i = 0
    while i < len(starts):
        known = starts[i]
        if known is not None:
            filled.append(known)
            i += 1
            continue
        j = i
        while j < len(starts) and starts[j] is None:
            j += 1
        following = starts[j] if j < len(starts) else None
        right = speech_end if following is None else following
        gap = j - i
        if filled:  # strictly between the spoken neighbours
            left = filled[-1]
            filled.extend(left + (right - left) * (k + 1) / (gap + 1) for k in range(gap))
        else:  # before the first spoken word: from the very start
            filled.extend(right * k / gap for k in range(gap))
        i = j

    # eSpeak's events are in text order, but clamp anyway so captions never run backwards
    monotonic: list[float] = []
    for value in filled:
        monotonic.append(max(value, monotonic[-1]) if monotonic else max(value, 0.0))
    end = max(speech_end, monotonic[-1])
    words = []
    for n, (_, _, word) in enumerate(spans):
        stop = monotonic[n + 1] if n + 1 < len(spans) else end
        words.append(Word(text=word, start=monotonic[n], end=stop))
    return tuple(words)


def _write_wav(out: Path, samples: array.array[int], sample_rate: int) -> None:
    if sys.byteorder == "big":  # WAV is little-endian
        samples = array.array("h", samples)
        samples.byteswap()
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(samples.tobytes())


class EspeakVoice:
    """The eSpeak NG voice provider (see the module docstring)."""

    name: ClassVar[str] = "espeak"
    version: ClassVar[str] = "1"

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
        if isinstance(rate, bool) or not isinstance(rate, int):
            raise ConfigError(f"espeak rate must be a whole number of words per minute, got {rate!r}")
        if not _RATE_RANGE[0] <= rate <= _RATE_RANGE[1]:
            raise ConfigError(f"espeak rate must be {_RATE_RANGE[0]}..{_RATE_RANGE[1]} words a minute, got {rate}")
        if isinstance(pitch, bool) or not isinstance(pitch, int):
            raise ConfigError(f"espeak pitch must be a whole number, got {pitch!r}")
        if not _PITCH_RANGE[0] <= pitch <= _PITCH_RANGE[1]:
            raise ConfigError(f"espeak pitch must be {_PITCH_RANGE[0]}..{_PITCH_RANGE[1]}, got {pitch}")
        if isinstance(speed, bool) or not isinstance(speed, (int, float)):
            raise ConfigError(f"espeak speed must be a number, got {speed!r}")
        if not _SPEED_RANGE[0] <= speed <= _SPEED_RANGE[1]:
            raise ConfigError(f"espeak speed must be {_SPEED_RANGE[0]}..{_SPEED_RANGE[1]}, got {speed}")
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise ConfigError(f"espeak max_concurrency must be a whole number, got {max_concurrency!r}")
        if max_concurrency < 1:
            raise ConfigError(f"espeak max_concurrency must be at least 1, got {max_concurrency}")
        self.voice = voice.strip() if voice is not None else None
        self.rate = rate
        self.pitch = pitch
        self.speed = float(speed)
        # the engine is serialized by a process-wide lock anyway; more only queues threads
        self.max_concurrency = max_concurrency
        if self.voice is not None:
            # fail at configuration time, not halfway through a render
            with _LOCK:
                _select_voice(_library(), self.voice, "")

    def settings(self) -> dict[str, Any]:
        """Options that change the audio; ``voice`` None means "the story language's voice"."""
        return {
            "voice": self.voice,
            "rate": self.rate,
            "pitch": self.pitch,
            "speed": self.speed,
        }

    def check_language(self, language: str) -> None:
        """Raise :class:`ConfigError` before any work if eSpeak cannot speak ``language`` with this voice."""
        with _LOCK:
            _select_voice(_library(), self.voice, language)

    async def synthesize(self, text: str, out: Path, *, language: str) -> Speech:
        """Speak ``text`` in ``language`` into the mono 16-bit WAV ``out``, with word timings."""
        if not text or not text.strip():
            raise ProviderError(
                "nothing to say: the narration text is empty",
                provider="espeak",
                field="text",
            )
        return await asyncio.to_thread(self._synthesize, text, Path(out), language)

    def _effective_rate(self) -> int:
        low, high = _EFFECTIVE_RATE_RANGE
        return min(high, max(low, round(self.rate * self.speed)))

    def _synthesize(self, text: str, out: Path, language: str) -> Speech:
        global _capture
        # a NUL would end the C string early and shift nothing else, so speak it as a space
        clean = text.replace("\x00", " ")
        data = clean.encode("utf-8")
        buffer = ctypes.create_string_buffer(data)
        capture = _Capture()
        with _LOCK:
            lib = _library()
            voice = _select_voice(lib, self.voice, language)
            # parameters are global too: set them on every call, another instance may have changed them
            lib.espeak_SetParameter(_RATE, self._effective_rate(), 0)
            lib.espeak_SetParameter(_PITCH, self.pitch, 0)
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
        if not capture.samples:
            raise ProviderError("eSpeak produced no audio", provider="espeak", field="text")
        try:
            _write_wav(out, capture.samples, sample_rate)
        except OSError as exc:
            raise ProviderError(f"cannot write {out}: {exc}", provider="espeak") from exc
        duration = len(capture.samples) / sample_rate
        speech_end = min(duration, _speech_end(capture.samples, sample_rate))
        # tokens come from the caller's text: the NUL swap above keeps every character position
        words = _word_timings(text, capture.words, speech_end)
        return Speech(
            path=out,
            duration=duration,
            sample_rate=sample_rate,
            words=words,
            meta={"voice": voice},
        )
