"""Speech with known word times, for the aligner's tests and bench/align.py.

eSpeak NG speaks each sentence in a voice and at a rate other than the aligner's own reading (``en+f3`` at
140 words a minute, say); its word events are the truth. Sentences are joined with pauses and silence at both
ends, optionally over the music bed, and written at 24 kHz like most neural TTS output. Festival voices
(Debian's ``festival`` and ``festvox-*`` packages) give speech from another synthesizer when installed.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shortskit import espeak
from shortskit.audio import write_wav
from shortskit.timing import words_from_char_events

RATE = 24000

EN = [
    "The old lighthouse keeper climbed the stairs every night at exactly 19:40.",
    "Nobody in the village knew why he never missed a single evening, not even during the great storm.",
    "One winter, a young reporter offered him 1,500 dollars for the story.",
    "He laughed, poured two cups of tea, and said... nothing at all.",
]
ES = [
    "El viejo farero subía la escalera cada noche a las 19:40 en punto.",
    "Nadie en el pueblo sabía por qué nunca faltaba, ni siquiera durante la gran tormenta.",
    "Un invierno, una joven periodista le ofreció 1.500 euros por la historia.",
    "Él se rió, sirvió dos tazas de té y dijo... nada en absoluto.",
]


@dataclass(frozen=True)
class Spoken:
    """An audio file and the true start of each word of its text."""

    path: Path
    text: str
    starts: list[float]  # seconds; nan where the synthesizer gave no time
    duration: float


def _resample(y: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    return y if rate == RATE else soxr.resample(y, rate, RATE).astype(np.float32)


def espeak_sentence(text: str, voice: str, rate: int, pitch: int = 50) -> tuple[np.ndarray, list[float]]:
    """eSpeak saying ``text`` in ``voice``: 24 kHz samples and each word's start."""
    said = espeak.synthesize(text, voice=voice, rate=rate, pitch=pitch)
    words = words_from_char_events(text, said.events, espeak.speech_end(said.samples, said.sample_rate))
    return _resample(said.samples.astype(np.float32) / 32768.0, said.sample_rate), [w.start for w in words]


def festival_sentence(text: str, voice: str = "(voice_cmu_us_slt_arctic_hts)") -> tuple[np.ndarray, list[float]]:
    """Festival saying ``text`` (where it is installed): 24 kHz samples and each token's first segment start."""
    with tempfile.TemporaryDirectory() as d:
        esc = text.replace("\\", "\\\\").replace('"', '\\"')
        script = [
            voice,
            f'(set! utt (utt.synth (Utterance Text "{esc}")))',
            f'(utt.save.wave utt "{d}/s.wav" \'riff)',
            f'(set! fd (fopen "{d}/s.txt" "w"))',
            "(let ((tok (utt.relation.first utt 'Token))) (while tok "
            "(let ((ws (item.daughters tok)) (st nil)) "
            "(mapcar (lambda (w) (if (and (not st) (item.relation w 'Word)) "
            '(set! st (item.feat w "R:SylStructure.daughter1.daughter1.R:Segment.segment_start")))) ws) '
            '(format fd "%s\\t%s\\n" (item.name tok) (if st st "nan"))) '
            "(set! tok (item.next tok))))",
            "(fclose fd)",
        ]
        # Festival reads its input as Latin-1
        Path(d, "s.scm").write_text("\n".join(script) + "\n", encoding="latin-1")
        subprocess.run(["festival", "-b", f"{d}/s.scm"], capture_output=True, check=True)
        with wave.open(f"{d}/s.wav") as w:
            rate = w.getframerate()
            y = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
        rows = [ln.split("\t") for ln in Path(d, "s.txt").read_text(encoding="latin-1").splitlines()]
    starts = [float(r[1]) if r[1] != "nan" else math.nan for r in rows]
    if len(starts) != len(text.split()):
        starts = [math.nan] * len(text.split())
    return _resample(y, rate), starts


def festival_available() -> bool:
    return shutil.which("festival") is not None


def tonal_bed(n: int, *, roots: tuple[float, ...] = (220.0, 277.2, 329.6), partials: int = 11) -> np.ndarray:
    """``n`` samples (24 kHz) of a steady A major chord, each note with ``partials`` harmonics falling as
    1/sqrt(k): a held pad whose harmonics reach about 3.6 kHz and beat against each other."""
    t = np.arange(n) / RATE
    bed = sum(np.sin(2 * np.pi * f * k * t) / math.sqrt(k) for f in roots for k in range(1, partials + 1))
    return np.asarray(bed, np.float32)


def under(y: np.ndarray, bed: np.ndarray, db: float) -> np.ndarray:
    """``bed`` mixed ``db`` (negative: below) against the RMS of the speech in ``y``, peak-normalised."""
    mix = y + bed[: len(y)] * _rms(y) / math.sqrt(float((bed**2).mean())) * 10 ** (db / 20)
    return (mix * 0.9 / max(1e-6, float(np.abs(mix).max()))).astype(np.float32)


def _music(seconds: float, seed: int) -> np.ndarray:
    from shortskit import ffmpeg
    from shortskit.music import make_music_bed

    with tempfile.TemporaryDirectory() as d:
        bed = make_music_bed(Path(d) / "bed.wav", duration=seconds + 0.5, mood="calm", seed=seed)
        return ffmpeg.decode_audio(bed, sample_rate=RATE)


def _rms(y: np.ndarray) -> float:
    frames = y[: len(y) // 400 * 400].reshape(-1, 400)
    energy = (frames**2).mean(1)
    return math.sqrt(float(energy[energy > energy.max() * 1e-3].mean()))


def build(
    out: Path,
    sentences: list[tuple[np.ndarray, list[float]]],
    texts: list[str],
    *,
    lead: float = 1.0,
    trail: float = 1.5,
    gaps: list[float] | None = None,
    music_db: float | None = None,
    seed: int = 0,
) -> Spoken:
    """Sentences joined by ``gaps`` (seconds), ``lead``/``trail`` silence, music ``music_db`` under the voice."""
    parts, starts, t = [np.zeros(int(lead * RATE), np.float32)], [], lead
    for n, (y, st) in enumerate(sentences):
        starts += [t + s for s in st]
        parts.append(y)
        t += len(y) / RATE
        if n + 1 < len(sentences):
            gap = (gaps or [0.4] * len(sentences))[n]
            parts.append(np.zeros(int(gap * RATE), np.float32))
            t += int(gap * RATE) / RATE
    parts.append(np.zeros(int(trail * RATE), np.float32))
    y = np.concatenate(parts)
    y *= 0.5 / max(1e-6, float(np.abs(y).max()))
    if music_db is not None:
        m = _music(len(y) / RATE, seed)[: len(y)]
        y = y + m * _rms(y) / math.sqrt(float((m**2).mean())) * 10 ** (music_db / 20)
        y *= 0.9 / max(1e-6, float(np.abs(y).max()))
    write_wav(out, y, RATE)
    return Spoken(out, " ".join(texts), starts, len(y) / RATE)


def espeak_case(
    out: Path, texts: list[str], voice: str, rate: int, *, pitch: int = 50, **options: float | list[float] | None
) -> Spoken:
    """``texts`` spoken by eSpeak's ``voice`` at ``rate`` words a minute, assembled by :func:`build`."""
    return build(out, [espeak_sentence(t, voice, rate, pitch) for t in texts], texts, **options)  # type: ignore[arg-type]


def errors_ms(found: list[float], truth: list[float]) -> np.ndarray:
    """Absolute start errors in milliseconds, where the truth is known."""
    f, t = np.array(found), np.array(truth)
    ok = ~np.isnan(t)
    return np.abs(f[ok] - t[ok]) * 1000
