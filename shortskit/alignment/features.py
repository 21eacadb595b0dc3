"""What the model-free aligner compares: log-mel spectra, the background under the voice, where speech is,
and cepstra that describe a voice's sound while forgetting whose voice it is.

Frames are 25 ms every 10 ms at 16 kHz. The background (noise, a music bed) is followed per mel band over
1.5 s; speech is what rises above it in the 1.1–6 kHz bands (where music beds are thin) and changes its
spectrum as quickly as speech does (a held music note does not); a stretch of it starts where the sound
outruns a local floor that follows any slow rise, so a noise fading in before a word is not the word. Few
cepstra (c0..c6) keep the smooth spectral envelope and little of the speaker, so another voice, another
synthesizer or a person align alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "FPS",
    "RATE",
    "Tuning",
    "background",
    "cepstra",
    "compact_index",
    "local_rise",
    "logmel",
    "normalise",
    "runs",
    "smooth_vad",
    "speech_frames",
    "swing",
]

RATE = 16000  # Hz the aligner works at
HOP = 160  # 10 ms frames
WIN = 400  # 25 ms analysis window
NFFT = 512
FPS = RATE / HOP


@dataclass(frozen=True)
class Tuning:
    """The aligner's settings, measured on eSpeak and Festival speech (bench/align.py); rarely worth changing."""

    n_mels: int = 40  # mel bands
    fmin: float = 60.0  # Hz, lowest band edge
    fmax: float = 7600.0  # Hz, highest band edge
    n_ceps: int = 7  # cepstra c0..c6: 13 or 20 were clearly worse across synthesizers
    floor_db: float = -60.0  # log-mel floor below the loudest band value
    bg_win: float = 1.5  # s: window that follows the background (noise, music) per band
    bg_margin: float = 3.0  # dB above the background that features are floored at, on both sides
    vad_snr_db: float = 10.0  # speech core: mean excess over the background in the VAD bands above this...
    vad_low_db: float = 4.0  # ...extended while above this (hysteresis: weak consonants, noisy speech)
    vad_rel: float = 0.2  # ...or this share of the 95th percentile excess, if larger
    vad_f0: float = 1100.0  # Hz: the VAD bands (music beds sit mostly lower)
    vad_f1: float = 6000.0
    weak_island_db: float = 20.0  # a stretch whose peak is this far under the median stretch's: a breath
    onset_reach: float = 0.12  # s: how far a stretch of speech may reach back where the whole spectrum rose
    rise_rate: float = 1.5  # dB a frame: the local floor follows a sound rising this slowly (noise fading in)...
    rise_low_db: float = 1.5  # ...and a word starts where the spectrum rises above it by this much...
    rise_high_db: float = 12.0  # ...on the way to this much (the mean of the bands that rise most)
    rise_bands: int = 10  # the bands that rise most, averaged
    rise_window: float = 0.6  # s: how far into a stretch of speech its start may move
    rise_quiet_db: float = 15.0  # ...past frames at least this far under the stretch's peak (not a loud fricative)
    vad_min_island: int = 8  # frames: shorter speech islands are clicks or plucks
    min_speech_db: float = -55.0  # loudest frames quieter than this (dBFS): no speech at all
    min_flux_db: float = 1.5  # mean spectral flux (dB a frame) below this: music, not a voice (beds: 0.6-1.3)
    min_held_flux_db: float = 1.0  # ...unless it rises within held_margin_db of the weakest sure word's peak
    held_margin_db: float = 8.0
    flux_band_share: float = 0.25  # ...in the bands above the background in this share of the island's frames
    ref_rate: int = 175  # words a minute of eSpeak's first reading of the text
    one_by_one: float = 0.5  # at least this many stretches of speech per word: words read one by one...
    word_gap: int = 40  # ...and eSpeak reads them with this pause after each (x 10 ms)
    max_speech_ratio: float = 4.5  # more speech than this times the first reading's: not this text (slow careful
    # reading word by word with pauses reached 3.6x; a third of it is the lower limit)
    max_pause: float = 0.25  # s: longer pauses shrink...
    keep_pause: float = 0.10  # s: ...to this, in both signals, before DTW
    snap_radius: float = 0.15  # s: a word start this close to a real speech onset snaps to it
    word_pause: float = 0.15  # s: a pause at least this long before a stretch of speech: a new word begins
    tail_snap: float = 0.05  # s: a start this close before the end of real speech moves to where it resumes
    max_cells: int = 4_000_000  # largest DTW matrix done in one piece (32 MB of float64)
    win_frames: int = 1200  # longer references are aligned in pieces of this many frames...
    win_overlap: int = 200  # ...widened by this on both sides
    mismatch_score: float = 1.30  # impostor ratio + warp jitter above this: the text was not spoken
    impostor_max: float = 1.0  # impostor ratio alone above this: the same (right texts reached 0.97)
    impostor_max_short: float = 0.98  # the only test for short texts
    impostor_max_one_by_one: float = 1.05  # the only test for words read one by one (real recordings: right
    # texts 0.82-1.03, the same words shuffled 0.96-1.01: a shuffled text passes, a foreign one seldom)
    max_ratio_one_by_one: float = 8.0  # speech per eSpeak's reading, words one by one (drawn-out syllables: 6.2x)
    shuffle_min_words: int = 8  # shorter texts (or speech) use the time-reversed reference as impostor
    shuffle_min_s: float = 5.0


@lru_cache(maxsize=4)
def _mel_bank(n_mels: int, fmin: float, fmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangular mel filters (HTK scale, unit area), n_mels x (NFFT/2 + 1), and their centre frequencies."""

    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(np.array(fmin)), mel(np.array(fmax)), n_mels + 2))
    f = np.arange(NFFT // 2 + 1) * RATE / NFFT
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)))
    return (tri * (2.0 / (hi - lo))).astype(np.float32), edges[1:-1]


@lru_cache(maxsize=4)
def _dct(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix (n_in x n_out): c = x @ M."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    m = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    m[:, 0] /= np.sqrt(2.0)
    return m.astype(np.float32)


def logmel(y: np.ndarray, tuning: Tuning) -> tuple[np.ndarray, np.ndarray]:
    """(log-mel in dB, frames x n_mels; frame energy in dBFS). Frame k is centred on k * 10 ms."""
    pad = np.zeros(WIN // 2, np.float32)
    y = np.concatenate([pad, y.astype(np.float32), pad])
    n = 1 + max(0, (len(y) - WIN) // HOP)
    frames = np.lib.stride_tricks.as_strided(y, (n, WIN), (y.strides[0] * HOP, y.strides[0]))
    spec = np.fft.rfft(frames * np.hanning(WIN).astype(np.float32), NFFT)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    energy_db = 10.0 * np.log10(power.sum(1) / (NFFT * WIN / 4) + 1e-12)
    bank, _ = _mel_bank(tuning.n_mels, tuning.fmin, tuning.fmax)
    lm = 10.0 * np.log10(power @ bank.T + 1e-12)
    lm = np.maximum(lm, lm.max() - 100.0)  # digital silence: no -120 dB outliers
    return lm.astype(np.float32), energy_db.astype(np.float32)


def background(lm: np.ndarray, tuning: Tuning) -> np.ndarray:
    """The slowly varying floor of each band (dB): an opening of the smoothed log-mel over ``bg_win``.

    It follows whatever lasts longer than the window (noise, a music bed); speech never fills a band that
    long, so it is left out.
    """
    from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

    n = max(3, int(tuning.bg_win * FPS))
    smooth = uniform_filter1d(lm, 5, axis=0)
    floor = maximum_filter1d(minimum_filter1d(smooth, n, axis=0), n, axis=0)
    return uniform_filter1d(floor, n // 2, axis=0)


def cepstra(lm: np.ndarray, floor: np.ndarray | float, tuning: Tuning) -> np.ndarray:
    """Cepstra c0.. of the floored log-mel, with their deltas."""
    c = np.maximum(lm, floor) @ _dct(lm.shape[1], tuning.n_ceps)
    return np.hstack([c, np.gradient(c, axis=0)]).astype(np.float32)


def normalise(c: np.ndarray) -> np.ndarray:
    """Mean 0 and variance 1 per coefficient over the utterance."""
    return (c - c.mean(0)) / (c.std(0) + 1e-6)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of ``mask``."""
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def smooth_vad(speech: np.ndarray, tuning: Tuning) -> np.ndarray:
    """Gaps under 60 ms (stop closures) closed, speech islands under ``vad_min_island`` frames dropped."""
    m = speech.copy()
    for a, b in zip(*runs(~m), strict=True):
        if b - a < 6 and a > 0 and b < len(m):
            m[a:b] = True
    for a, b in zip(*runs(m), strict=True):
        if b - a < tuning.vad_min_island:
            m[a:b] = False
    return m


def swing(lm: np.ndarray, floor: np.ndarray, speech: np.ndarray) -> np.ndarray | float:
    """How far each band rises above its background where there is no speech (90th percentile, dB): a tonal
    bed's beating notes do, steady noise hardly."""
    if (~speech).sum() < 10:
        return 0.0
    return np.percentile(np.maximum(lm - floor, 0.0)[~speech], 90, axis=0)


def speech_frames(lm: np.ndarray, floor: np.ndarray, tuning: Tuning, *, held: bool = False) -> np.ndarray:
    """Which frames hold speech: well above the background in the VAD bands, and changing like a voice."""
    _, centres = _mel_bank(tuning.n_mels, tuning.fmin, tuning.fmax)
    b0, b1 = np.searchsorted(centres, tuning.vad_f0), np.searchsorted(centres, tuning.vad_f1)
    excess = np.maximum(lm[:, b0:b1] - floor[:, b0:b1], 0).mean(1)
    core = excess > max(tuning.vad_snr_db, tuning.vad_rel * float(np.percentile(excess, 95)))
    # hysteresis: a speech region is a run above vad_low_db holding at least one core frame, so weak
    # consonants and speech in noise or reverb stay attached to the vowels beside them
    a, b = runs(excess > tuning.vad_low_db)
    has_core = np.add.reduceat(core.astype(np.int64), a) > 0 if len(a) else np.zeros(0, bool)
    m = np.zeros(len(excess), bool)
    for s0, s1 in zip(a[has_core], b[has_core], strict=True):
        m[s0:s1] = True
    m = smooth_vad(m, tuning)
    # speech changes its spectrum every few 10 ms, a music note does not: slow islands are music. The flux
    # is measured in the bands where the island rises above the background: a voice over a steady tonal bed
    # changes only the bands the bed leaves free, and the bed's own bands would dilute it below the limit.
    # A beating bed swings above its floor where nobody speaks: that swing is lifted out too.
    top = floor + tuning.bg_margin + swing(lm, floor, m)
    lifted = np.maximum(lm, top)
    step = np.abs(np.diff(lifted, axis=0, prepend=lifted[:1]))
    above = lm > top
    islands = list(zip(*runs(m), strict=True))
    flux, peak = [], []
    for s0, s1 in islands:
        share = above[s0:s1].mean(0)
        bands = share >= min(tuning.flux_band_share, float(share.max()))
        flux.append(float(step[s0:s1][:, bands].mean()))
        peak.append(float(excess[s0:s1].max()))
    sure = [p for f, p in zip(flux, peak, strict=True) if f >= tuning.min_flux_db]
    # a held syllable ("maaa", read slowly) changes as little as a note, but stands out as much as the voice's
    # other words: kept when it rises about as high over the background as the weakest of them (a bed under
    # the voice does not)
    # (only for words read one by one, ``held``: in running speech such an island was a note of the bed)
    level = min(sure) - tuning.held_margin_db if sure and held else math.inf
    for (s0, s1), f, p in zip(islands, flux, peak, strict=True):
        if f < tuning.min_flux_db and not (f >= tuning.min_held_flux_db and p >= level):
            m[s0:s1] = False
    # a breath or a click between words read one by one rises far less than the words do: not a word
    kept = [(s0, s1) for s0, s1 in zip(*runs(m), strict=True)]
    if len(kept) >= 3:
        peaks = np.array([excess[s0:s1].max() for s0, s1 in kept])
        for (s0, s1), p in zip(kept, peaks, strict=True):
            if p < np.median(peaks) - tuning.weak_island_db:
                m[s0:s1] = False
    # a word that opens with a voiced sound (l, m, n, d) rises first in the low bands, which the detector
    # leaves out: each stretch starts where the whole spectrum first rose (up to onset_reach earlier)
    whole = np.maximum(lm - floor - swing(lm, floor, m), 0).mean(1)
    reach = int(tuning.onset_reach * FPS)
    for s0, _ in zip(*runs(m), strict=True):
        k = s0
        while k > 0 and s0 - k < reach and not m[k - 1] and whole[k - 1] > tuning.vad_low_db:
            k -= 1
        m[k:s0] = True
    return _trim_fades(m, lm, floor, tuning)


def local_rise(lm: np.ndarray, floor: np.ndarray, tuning: Tuning) -> np.ndarray:
    """How far each frame rises above a local floor that follows any slow rise (dB, the mean of the
    ``rise_bands`` bands that rise most).

    The floor per band falls with the sound at once and climbs at most ``rise_rate`` dB a frame: noise fading
    in is followed and leaves no rise, a word's onset outruns it.
    """
    from scipy.ndimage import uniform_filter1d

    s = np.maximum(uniform_filter1d(lm, 3, axis=0), floor)
    n = s.copy()
    for k in range(1, len(s)):
        np.minimum(s[k], n[k - 1] + tuning.rise_rate, out=n[k])
    k = min(tuning.rise_bands, lm.shape[1])
    return np.sort(s - n, axis=1)[:, -k:].mean(1)


def _trim_fades(m: np.ndarray, lm: np.ndarray, floor: np.ndarray, tuning: Tuning) -> np.ndarray:
    """Each stretch of speech starts where the sound rose quickly above what came just before it, not where a
    noise fading in (a recording's own noise floor, faded in with it) or a swell of the music bed first stood
    out of the background.

    A stretch whose first quick rise (``rise_high_db`` above the local floor of :func:`local_rise`) comes
    within ``rise_window`` starts where that rise began, when all before it stays ``rise_quiet_db`` under the
    stretch's peak (a fricative or a voiced consonant before the vowel is louder than that, and stays).
    """
    starts, ends = runs(m)
    if not len(starts):
        return m
    rise = local_rise(lm, floor, tuning)
    level = np.maximum(lm - floor, 0).mean(1)
    reach = int(tuning.rise_window * FPS)
    for s0, s1 in zip(starts, ends, strict=True):
        quick = np.flatnonzero(rise[s0 : min(s1, s0 + reach)] >= tuning.rise_high_db)
        if not len(quick):
            continue
        j = s0 + int(quick[0])
        while j > s0 and rise[j - 1] > tuning.rise_low_db:
            j -= 1
        if j > s0 and level[s0:j].max() <= level[s0:s1].max() - tuning.rise_quiet_db:
            m[s0:j] = False
    return m


def compact_index(speech: np.ndarray, tuning: Tuning) -> np.ndarray:
    """The frames kept when every pause longer than ``max_pause`` shrinks to ``keep_pause`` (at the edges: half).

    Leading and trailing silence, long pauses between sentences, gaps between TTS chunks and music-only
    stretches then no longer need to be matched by the warp.
    """
    n = len(speech)
    keep = np.ones(n, bool)
    longest = int(tuning.max_pause * FPS)
    half = max(1, int(tuning.keep_pause * FPS) // 2)
    for a, b in zip(*runs(~speech), strict=True):
        if b - a > longest:
            keep[(0 if a == 0 else a + half) : (n if b == n else b - half)] = False
    return np.flatnonzero(keep)
