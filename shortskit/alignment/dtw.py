"""The model-free aligner: eSpeak NG reads the text (its word events are exact), dynamic time warping maps its
reading onto the real audio, and each word start travels through the warp. No model file, every eSpeak language.

1. The real audio: log-mel, its background, where speech is (:mod:`shortskit.alignment.features`).
2. eSpeak reads the text at 175 words a minute, then once more at the pace of the real speech.
3. Both are floored at the same level above their background (music under the voice is masked alike) and
   turned into cepstra; pauses over 0.25 s shrink to 0.1 s in both.
4. DTW (dtaidistance's C warping path) pairs the frames; a long reference is aligned coarse, then in
   overlapping pieces, so memory stays bounded (``max_cells``) whatever the length.
5. Word starts map through the warp; a start inside a real pause (or in the last 50 ms before one) moves to
   where speech resumes, one beside a real onset snaps to it. Words read one by one (about as many stretches
   of speech as words) are read one by one by eSpeak too (its word gap), and every stretch after a pause
   starts a word (measured on real recordings of people: bench/align.py, tests/test_align_real.py).
6. Was the text spoken at all? The same warp with the words shuffled (or, for short texts, the reading
   reversed) costs about as much when the text is wrong, clearly more when it is right; with the jitter of
   the warp's slope this gives a score, and a :class:`TextMismatchError` above ``mismatch_score``.
   Coarse, as measured (bench/align_mismatch.py and wider runs with reverb, noise and AAC): with another
   synthesizer (Festival) right texts scored up to 1.27, wrong ones of the same length from 1.17, so the
   limit catches most wrong long texts but not all; the reversed reading of short texts catches almost
   none. Nothing else tried (more impostors, other features or pooling, constrained or normalised warps,
   spectral-tilt tracks) kept a safe margin either.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from shortskit.alignment import features as ft
from shortskit.alignment.features import FPS, RATE, Tuning
from shortskit.errors import NoSpeechError, ProviderError, TextMismatchError
from shortskit.providers.base import Word

__all__ = ["VERSION", "align_file", "align_samples"]

VERSION = "3"  # bump when the same audio and text would get other word times


def _reading(text: str, language: str, rate: int, word_gap: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """eSpeak reading ``text`` (``word_gap`` x 10 ms after each word): (16 kHz float samples, each token's start
    and end in seconds)."""
    import soxr

    from shortskit import espeak
    from shortskit.timing import words_from_char_events

    said = espeak.synthesize(text, language=language, rate=rate, word_gap=word_gap)
    if not len(said.samples):
        raise ProviderError("eSpeak produced no audio for the text", provider="aligner")
    y = said.samples.astype(np.float32) / 32768.0
    words = words_from_char_events(text, said.events, espeak.speech_end(said.samples, said.sample_rate))
    y = soxr.resample(y, said.sample_rate, RATE).astype(np.float32)
    return y, np.array([w.start for w in words]), np.array([w.end for w in words])


def _dtw_path(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """DTW of ``x`` against ``y`` (Euclidean cost, steps (1,1), (0,1), (1,0)): the path (k x 2, ascending),
    its mean step cost, and for each ``y`` frame the mean cost of the path cells on it."""
    from dtaidistance import dtw

    wp = np.asarray(
        dtw.warping_path(x.astype(np.float64), y.astype(np.float64), use_ndim=True, use_c=True, inner_dist="euclidean")
    )
    steps = np.linalg.norm(x[wp[:, 0]] - y[wp[:, 1]], axis=1)
    ycost = np.bincount(wp[:, 1], steps, len(y)) / np.maximum(np.bincount(wp[:, 1], None, len(y)), 1)
    return wp, float(steps.mean()), ycost


def _path_to_map(wp: np.ndarray, n: int) -> np.ndarray:
    """For each ``x`` frame, the first ``y`` frame the path pairs it with."""
    i, first = np.unique(wp[:, 0], return_index=True)  # the path ascends: the first pair has the smallest j
    f = np.full(n, -1, np.int64)
    f[i] = wp[first, 1]
    if (f < 0).any():  # not with these steps; kept safe
        ok = f >= 0
        f = np.interp(np.arange(n), np.flatnonzero(ok), f[ok]).astype(np.int64)
    return f


def _pool(a: np.ndarray, k: int) -> np.ndarray:
    """The mean of every ``k`` consecutive frames."""
    n = len(a) // k * k
    out = a[:n].reshape(-1, k, a.shape[1]).mean(1)
    return np.vstack([out, a[n:].mean(0, keepdims=True)]) if n < len(a) else out


def _align_frames(
    x: np.ndarray, y: np.ndarray, tuning: Tuning, pause_x: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Each ``x`` (reading) frame mapped to a ``y`` (real) frame in bounded memory, and the mean path cost.

    Small inputs: one DTW. Large ones: a coarse DTW of pooled frames gives an approximate map; the reading is
    cut into pieces of about ``win_frames`` (in a pause where possible), and each piece, widened by
    ``win_overlap`` frames on both sides, gets a full DTW against the real frames the coarse map gives it.
    """
    n, m = len(x), len(y)
    if n * m <= tuning.max_cells:
        wp, cost, _ = _dtw_path(x, y)
        return _path_to_map(wp, n), cost
    k = math.ceil(math.sqrt(n * m / tuning.max_cells))
    coarse, _, _ = _dtw_path(_pool(x, k), _pool(y, k))
    g = np.clip(np.repeat(_path_to_map(coarse, -(-n // k)), k)[:n] * k, 0, m - 1)
    width, overlap = tuning.win_frames, tuning.win_overlap
    cuts = [0]
    while n - cuts[-1] > width + width // 2:
        c = cuts[-1] + width
        if pause_x is not None:  # a cut in a pause is the most reliable anchor
            found = np.flatnonzero(pause_x[c - width // 3 : c])
            if len(found):
                c = c - width // 3 + int(found[-1])
        cuts.append(c)
    cuts.append(n)
    fmap, total = np.zeros(n, np.int64), 0.0
    for a, b in itertools.pairwise(cuts):
        a2, b2 = max(0, a - overlap), min(n, b + overlap)
        c0 = 0 if a2 == 0 else int(g[a2])
        c1 = max(m if b2 == n else int(g[b2 - 1]) + 1, c0 + 2)
        wp, cost, _ = _dtw_path(x[a2:b2], y[c0:c1])
        fmap[a:b] = (_path_to_map(wp, b2 - a2) + c0)[a - a2 : b - a2]
        total += cost * (b - a)
    return np.maximum.accumulate(fmap), total / n


def _snap_onsets(
    starts: np.ndarray, ref_starts: np.ndarray, real: np.ndarray, read: np.ndarray, tuning: Tuning
) -> np.ndarray:
    """A start inside a real pause moves to the pause's end; one near a real speech onset snaps to it when
    the word also follows a pause in the reading."""
    onsets, offsets = ft.runs(real)
    if len(onsets) == 0:
        return starts
    radius = int(tuning.snap_radius * FPS)
    tail = int(tuning.tail_snap * FPS)
    out = starts.copy()
    for k, s in enumerate(starts):
        j = int(np.searchsorted(onsets, s))
        if s < len(real) and not real[s]:
            if j < len(onsets):
                out[k] = onsets[j]
            continue
        # the last few frames before a pause: no word starts there, the warp only ran late out of the word
        # before (a reading without that pause, against words spoken one by one)
        if j < len(onsets) and j > 0 and offsets[j - 1] - s <= tail:
            out[k] = onsets[j]
            continue
        fr = round(ref_starts[k] * FPS)
        if fr > 0 and not read[max(0, fr - 8) : fr].any():
            near = [onsets[i] for i in (j - 1, j) if 0 <= i < len(onsets) and abs(onsets[i] - s) <= radius]
            if near:
                out[k] = min(near, key=lambda o: abs(o - s))
    return out


def _fill_islands(starts: np.ndarray, real: np.ndarray, tuning: Tuning) -> np.ndarray:
    """Each stretch of speech after a real pause (over ``word_pause``) starts a word: where one holds none,
    the words before it move one stretch on, back to the nearest stretch that holds two or more (or, failing
    that, the words after it one stretch back, up to the nearest that holds two or more).

    A reading without those pauses (words read one by one) lets the warp run late out of a word and place the
    next one still inside it; a person rarely pauses inside a word.
    """
    onsets, offsets = ft.runs(real)
    out = starts.copy()
    longest = int(tuning.word_pause * FPS)

    def last_in(i: int) -> int:  # the last word starting in stretch i (up to the next one), -1 if none
        end = onsets[i + 1] if i + 1 < len(onsets) else len(real) + 1
        found = np.flatnonzero((out >= onsets[i]) & (out < end))
        return int(found[-1]) if len(found) else -1

    def first_in(i: int) -> int:  # the first word starting in stretch i (up to the next one)
        end = onsets[i + 1] if i + 1 < len(onsets) else len(real) + 1
        return int(np.flatnonzero((out >= onsets[i]) & (out < end))[0])

    def count(i: int) -> int:
        end = onsets[i + 1] if i + 1 < len(onsets) else len(real) + 1
        return int(((out >= onsets[i]) & (out < end)).sum())

    for i in range(1, len(onsets)):
        if onsets[i] - offsets[i - 1] <= longest or count(i):
            continue
        j = i - 1
        while j > 0 and count(j) == 1 and onsets[j] - offsets[j - 1] > longest:
            j -= 1
        if count(j) < 2:
            continue
        for m in range(j, i):  # stretch m gives its last word to stretch m + 1
            out[last_in(m)] = onsets[m + 1]
    # the same the other way: where the warp ran late, the words after an empty stretch move one stretch back,
    # up to the nearest stretch that holds two or more
    for i in range(len(onsets) - 1):
        if (i > 0 and onsets[i] - offsets[i - 1] <= longest) or count(i) or not (out < onsets[i]).any():
            continue
        j = i + 1
        while j + 1 < len(onsets) and count(j) == 1 and onsets[j + 1] - offsets[j] > longest:
            j += 1
        if count(j) < 2 or onsets[j] - offsets[j - 1] <= longest:
            continue
        for m in range(i + 1, j + 1):  # stretch m gives its first word to stretch m - 1
            out[first_in(m)] = onsets[m - 1]
        out[first_in(j)] = onsets[j]  # and the word now first in stretch j starts it
    return out


def _spoken_score(
    x: np.ndarray, y: np.ndarray, fmap: np.ndarray, impostor: np.ndarray | None, tuning: Tuning
) -> tuple[float, float]:
    """(the cost of the text's own reading over an impostor's, the jitter of the warp's slope)."""
    pooled_y = _pool(y, 2)
    _, own = _align_frames(_pool(x, 2), pooled_y, tuning)
    other = impostor if impostor is not None else x[::-1].copy()
    _, imp = _align_frames(_pool(other, 2), pooled_y, tuning)
    w = 60
    jitter = float(np.std(np.log(np.clip((fmap[w:] - fmap[:-w]) / w, 0.1, 10.0)))) if len(fmap) > 2 * w else 0.15
    return own / imp, jitter


def _check_spoken(
    x: np.ndarray,
    y: np.ndarray,
    fmap: np.ndarray,
    tokens: list[str],
    impostor: np.ndarray | None,
    tuning: Tuning,
    one_by_one: bool = False,
) -> None:
    """Raise :class:`TextMismatchError` unless the text's own order fits the audio clearly better than an
    impostor's (the words shuffled, or for short texts the reading reversed)."""
    ratio, jitter = _spoken_score(x, y, fmap, impostor, tuning)
    score = ratio + jitter
    if one_by_one:  # words read one by one: the warp's slope jumps at every pause, so the ratio alone
        bad = ratio > tuning.impostor_max_one_by_one
    elif impostor is None:  # short texts: the reversed reading separates less well, so only a lenient test
        bad = ratio > tuning.impostor_max_short
    else:
        bad = score > tuning.mismatch_score or ratio > tuning.impostor_max
    if bad:
        raise TextMismatchError(
            f"the audio does not seem to say this text (mismatch score {score:.2f}, limit "
            f"{tuning.mismatch_score:g}): is it the right audio file?"
        )


def align_samples(y: np.ndarray, text: str, language: str = "en", tuning: Tuning | None = None) -> list[Word]:
    """Word times of ``text`` in 16 kHz mono float samples ``y`` (see the module docstring)."""
    tuning = tuning or Tuning()
    tokens = text.split()
    duration = len(y) / RATE
    lm_r, energy = ft.logmel(y, tuning)
    if len(energy) < 10 or float(np.percentile(energy, 99)) < tuning.min_speech_db:
        raise NoSpeechError("the audio is silent: there is no speech to align the text with")
    bg = ft.background(lm_r, tuning)
    real = ft.speech_frames(lm_r, bg, tuning)
    if real.sum() < 10:
        raise NoSpeechError("no speech found in the audio (only silence, a steady noise, or music)")
    floor_r = np.maximum(lm_r.max() + tuning.floor_db, bg + tuning.bg_margin)
    # the background relative to each band's speech level, to floor the clean reading alike
    relative_bg = np.median(bg, axis=0) - np.percentile(lm_r, 95, axis=0)
    keep_r = ft.compact_index(real, tuning)
    y_feat = ft.normalise(ft.cepstra(lm_r, floor_r, tuning)[keep_r])

    def reading(words: str, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """eSpeak reading ``words``: compacted features, speech frames, kept frames, word starts and ends."""
        samples, starts, ends = _reading(words, language, rate, gap)
        lm_s, energy_s = ft.logmel(samples, tuning)
        read = ft.smooth_vad(energy_s > energy_s.max() - 50.0, tuning)  # eSpeak is clean: a fixed threshold
        floor_s = np.maximum(
            lm_s.max() + tuning.floor_db, np.percentile(lm_s, 95, axis=0) + relative_bg + tuning.bg_margin
        )
        keep_s = ft.compact_index(read, tuning)
        return ft.normalise(ft.cepstra(lm_s, floor_s, tuning)[keep_s]), read, keep_s, starts, ends

    # words spoken one by one (about as many stretches of speech as words): read them one by one too, so the
    # pauses of both readings line up and each word's start can snap to where the real word begins
    # (counted with held syllables as speech, which such a reading has and running speech over a bed has not)
    held = ft.speech_frames(lm_r, bg, tuning, held=True)
    one_by_one = len(tokens) >= 3 and len(ft.runs(held)[0]) >= tuning.one_by_one * len(tokens)
    if one_by_one:
        real = held
        keep_r = ft.compact_index(real, tuning)
        y_feat = ft.normalise(ft.cepstra(lm_r, floor_r, tuning)[keep_r])
    gap = tuning.word_gap if one_by_one else 0
    rate = tuning.ref_rate
    x_feat, read, keep_s, st, en = reading(text, rate)
    paced = round(min(450, max(80, rate * read.sum() / max(1, real.sum()))))
    if abs(paced - rate) / rate > 0.08:  # read it again at the pace of the real speech
        rate = paced
        x_feat, read, keep_s, st, en = reading(text, rate)
    speech_ratio = real.sum() / max(1, read.sum()) * tuning.ref_rate / rate
    if not 1 / 3 <= speech_ratio <= (tuning.max_ratio_one_by_one if one_by_one else tuning.max_speech_ratio):
        raise TextMismatchError(
            f"the audio has {real.sum() / FPS:.1f} s of speech, implausible for this text ({speech_ratio:.2f}x "
            f"what eSpeak needs at {tuning.ref_rate} words a minute): is it the right audio file?"
        )
    fmap, _ = _align_frames(x_feat, y_feat, tuning, ~read[keep_s])
    long_text = len(tokens) >= tuning.shuffle_min_words and len(y_feat) >= tuning.shuffle_min_s * FPS
    impostor = None
    if long_text:
        order = np.random.default_rng(1).permutation(len(tokens))
        if (order == np.arange(len(tokens))).all():
            order = order[::-1]
        impostor = reading(" ".join(tokens[i] for i in order), rate)[0]
    _check_spoken(x_feat, y_feat, fmap, tokens, impostor, tuning, one_by_one)

    def to_real(t_ref: np.ndarray) -> np.ndarray:
        fr = np.clip(np.round(t_ref * FPS).astype(np.int64), 0, len(read) - 1)
        return keep_r[fmap[np.clip(np.searchsorted(keep_s, fr), 0, len(keep_s) - 1)]].astype(np.int64)

    # a reading's word runs on to the next start: stop it where the reading falls silent instead
    ends_ref = en.copy()
    for k in range(len(st)):
        a, b = int(st[k] * FPS), int(en[k] * FPS)
        seg = read[a:b]
        if len(seg) and not seg[-1] and seg.any():
            ends_ref[k] = (a + np.flatnonzero(seg)[-1] + 1) / FPS
    starts = _fill_islands(np.maximum.accumulate(_snap_onsets(to_real(st), st, real, read, tuning)), real, tuning)
    ends = to_real(ends_ref)
    out: list[Word] = []
    for k, token in enumerate(tokens):
        s = starts[k] / FPS
        last = k + 1 == len(tokens)
        e = max(ends[k] / FPS, s + 0.05)
        if not last:
            e = min(e, starts[k + 1] / FPS)
        seg = real[starts[k] : (len(real) if last else starts[k + 1])]
        offsets = np.flatnonzero(seg[1:] < seg[:-1]) if len(seg) > 1 else []
        if len(offsets):  # a word does not run on into a pause of the real audio
            e = min(e, (starts[k] + offsets[0] + 1) / FPS)
        out.append(Word(token, round(float(s), 3), round(float(min(max(e, s), duration)), 3)))
    return out


def align_file(audio: Path, text: str, language: str = "en", tuning: Tuning | None = None) -> list[Word]:
    """Word times of ``text`` in ``audio`` (any file ffmpeg reads)."""
    from shortskit.ffmpeg import decode_audio

    return align_samples(decode_audio(audio, sample_rate=RATE), text, language, tuning)
