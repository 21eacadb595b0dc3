"""An offline background-music bed we synthesise ourselves, so no video ships a copyrighted track by default.

A quiet, loopable ambient pad on a I-V-vi-IV progression with a soft plucked arpeggio, written as a 16-bit
stereo WAV. Same arguments, same bytes.
"""

from __future__ import annotations

import hashlib
import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shortskit.errors import ConfigError

__all__ = ["MOODS", "PEAK_DBFS", "make_music_bed"]

_F32 = np.float32

PEAK_DBFS = -14.0  # quiet enough to sit under narration without ducking
CHORD_SECONDS = 4.0  # nominal; stretched a little so a whole number of chords fills the bed
EDGE_SECONDS = 0.05  # fade at both ends: no click at start/stop, too short to break a loop


@dataclass(frozen=True)
class _Mood:
    steps: int  # arpeggio notes per chord
    rest_chance: float  # how often an arpeggio step stays silent
    pluck_level: float  # arpeggio loudness relative to the pad
    pluck_decay: float  # seconds for a pluck to fall by 1/e


_MOODS: dict[str, _Mood] = {
    "calm": _Mood(steps=8, rest_chance=0.35, pluck_level=0.22, pluck_decay=0.6),
    "upbeat": _Mood(steps=16, rest_chance=0.12, pluck_level=0.3, pluck_decay=0.3),
}

#: every accepted ``mood``
MOODS: tuple[str, ...] = tuple(_MOODS)

# I-V-vi-IV: (semitones above the tonic, chord shape)
_PROGRESSION: tuple[tuple[int, tuple[int, ...]], ...] = (
    (0, (0, 4, 7)),
    (7, (0, 4, 7)),
    (9, (0, 3, 7)),
    (5, (0, 4, 7)),
)
_TONICS = (57, 60, 62, 63, 65, 67)  # A3 C4 D4 Eb4 F4 G4 as MIDI notes: keys that sit well under a voice
_ARP_PATTERNS = ((0, 1, 2, 3), (0, 2, 1, 3), (3, 2, 1, 0), (0, 1, 2, 1), (0, 2, 3, 2))


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _voicing(tonic: int, degree: int, shape: tuple[int, ...]) -> list[int]:
    # fold every chord tone into one octave window around the tonic, so chords move by small steps
    low = tonic - 3
    return sorted((tonic + degree + s - low) % 12 + low for s in shape)


def _raised_cosine(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / max(n, 1))).astype(_F32)


def _add_wrapped(buf: np.ndarray, start: int, sig: np.ndarray) -> None:
    """Add ``sig`` (channels x samples) into ``buf`` at ``start``, wrapping past the end: the bed is a loop."""
    total = buf.shape[1]
    pos, off = start % total, 0
    while off < sig.shape[1]:
        take = min(sig.shape[1] - off, total - pos)
        buf[:, pos : pos + take] += sig[:, off : off + take]
        off += take
        pos = 0


def _sine(freq: float, phase: float, n: int, sr: int) -> np.ndarray:
    """``sin(2 pi freq t + phase)`` for ``n`` samples, float32 but exact to float32 precision.

    A float32 phase of a few thousand radians has visible rounding; splitting the sample index into
    block * row + column and using sin(a + b) keeps the large angles in float64 at 1/1024 of the cost.
    """
    block = 1024
    rows = -(-n // block)
    step = 2 * np.pi * freq / sr
    hi = step * block * np.arange(rows) + phase
    lo = step * np.arange(block)
    sin_hi, cos_hi = np.sin(hi).astype(_F32)[:, None], np.cos(hi).astype(_F32)[:, None]
    sin_lo, cos_lo = np.sin(lo).astype(_F32)[None, :], np.cos(lo).astype(_F32)[None, :]
    return (sin_hi * cos_lo + cos_hi * sin_lo).ravel()[:n]


def _pad_chord(
    rng: np.random.Generator, notes: list[int], bass: int, length: float, fade: float, sr: int
) -> np.ndarray:
    """One chord of soft pad, stereo, ``length`` + ``fade`` seconds long (the fade overlaps the next chord)."""
    n = round((length + fade) * sr)
    nf = max(1, round(fade * sr))
    env = np.ones(n, dtype=_F32)
    env[:nf] = _raised_cosine(nf)
    # the release starts as the next chord's attack starts: raised cosines sum to 1, so no dip and no click
    rel0 = max(0, n - nf)
    env[rel0:] = _raised_cosine(n - rel0)[::-1]
    out = np.zeros((2, n), dtype=_F32)
    voices = [(_hz(m), 1.0 / len(notes)) for m in notes] + [(_hz(bass - 12), 0.35)]
    for freq, level in voices:
        # a slow, per-voice swell keeps the held chord from sounding like an organ drone
        swell = 1.0 + 0.15 * _sine(rng.uniform(0.08, 0.2), rng.uniform(0, 2 * np.pi), n, sr)
        swell *= _F32(0.5 * level)
        phases = rng.uniform(0, 2 * np.pi, 2)  # shared by both sides, so the pad survives a mono speaker
        for ch, cents in enumerate((3.0, 5.0)):  # left and right detune differently: a gentle chorus
            acc = np.zeros(n, dtype=_F32)
            for sign, phase in zip((-1.0, 1.0), phases, strict=True):
                s = _sine(freq * 2 ** (sign * cents / 1200), phase, n, sr)
                # 1.45 s - 0.6 s^3 = sin p + 0.15 sin 3p: a little odd-harmonic warmth, no extra sine
                acc += s * (_F32(1.45) - _F32(0.6) * s * s)
            out[ch] += acc * swell
    out *= env
    return out


def _pluck(freq: float, decay: float, sr: int) -> np.ndarray:
    """One mono plucked note: a quick attack, an exponential fall, a tail tapered to exactly zero."""
    n = round(decay * 5 * sr)
    t = np.arange(n) / sr
    env = (1 - np.exp(-t / 0.004)) * np.exp(-t / decay)
    taper = max(1, n // 5)
    env[n - taper :] *= _raised_cosine(taper)[::-1]
    phase = 2 * np.pi * freq * t
    # the octave harmonic fades faster than the fundamental: bright attack, mellow ring
    tone = env * (np.sin(phase) + 0.3 * np.sin(2 * phase) * np.exp(-t / (0.4 * decay)))
    return tone.astype(_F32)


def _synthesise(duration: float, sr: int, seed: int, mood: _Mood, mood_name: str) -> np.ndarray:
    """The bed as float32 (channels x samples) already scaled to 16-bit units, its peak at PEAK_DBFS."""
    total = max(1, round(duration * sr))
    digest = hashlib.sha256(f"music\x00{seed}\x00{mood_name}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:16], "big"))
    tonic = _TONICS[int(rng.integers(len(_TONICS)))]

    chords = max(1, round(duration / CHORD_SECONDS))
    length = duration / chords
    fade = min(1.4, 0.35 * length)
    # repeated chords reuse one rendering: four pads instead of one per bar
    pads = [
        _pad_chord(rng, _voicing(tonic, degree, shape), tonic + degree, length, fade, sr)
        for degree, shape in _PROGRESSION
    ]
    buf = np.zeros((2, total), dtype=_F32)
    plucks: dict[int, np.ndarray] = {}
    step = length / mood.steps
    for k in range(chords):
        degree, shape = _PROGRESSION[k % len(_PROGRESSION)]
        start = k * length
        _add_wrapped(buf, round(start * sr), pads[k % len(pads)])
        upper = [m + 12 for m in _voicing(tonic, degree, shape)]
        upper.append(upper[0] + 12)
        pattern = _ARP_PATTERNS[int(rng.integers(len(_ARP_PATTERNS)))]
        for j in range(mood.steps):
            rest = rng.random() < mood.rest_chance
            velocity = rng.uniform(0.55, 1.0)
            pan = rng.uniform(-0.5, 0.5)
            if rest and j % 4:  # never rest on the beat, so the pulse stays recognisable
                continue
            note = upper[pattern[j % len(pattern)]]
            if note not in plucks:
                plucks[note] = _pluck(_hz(note), mood.pluck_decay, sr)
            angle = (pan + 1) * math.pi / 4  # equal-power pan
            gains = np.array([[math.cos(angle)], [math.sin(angle)]], dtype=_F32) * _F32(mood.pluck_level * velocity)
            _add_wrapped(buf, round((start + j * step) * sr), gains * plucks[note])

    edge = max(1, min(round(EDGE_SECONDS * sr), total // 4))
    ramp = _raised_cosine(edge)
    buf[:, :edge] *= ramp
    buf[:, total - edge :] *= ramp[::-1]
    peak = float(np.abs(buf).max())
    if peak > 0:
        buf *= _F32(10 ** (PEAK_DBFS / 20) * 32767 / peak)
    return buf


def make_music_bed(out: Path, *, duration: float, sample_rate: int = 48000, seed: int = 0, mood: str = "calm") -> Path:
    """Write ``duration`` seconds of generated background music to ``out`` (16-bit stereo WAV).

    ``mood`` is one of :data:`MOODS`; ``seed`` picks the key and the arpeggio's variations.
    """
    if mood not in _MOODS:
        raise ConfigError(f"unknown music mood {mood!r}; valid names: {', '.join(MOODS)}")
    if not (isinstance(duration, (int, float)) and math.isfinite(duration) and duration > 0):
        raise ConfigError(f"music duration must be a positive number of seconds, got {duration!r}")
    if not (isinstance(sample_rate, int) and 8000 <= sample_rate <= 384000):
        raise ConfigError(f"music sample rate must be an integer from 8000 to 384000 Hz, got {sample_rate!r}")
    audio = _synthesise(float(duration), sample_rate, seed, _MOODS[mood], mood)
    pcm = np.clip(np.rint(audio), -32768, 32767).astype("<i2").T  # interleave L R L R
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return out
