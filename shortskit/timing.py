"""Word timings and scene lengths: the one room that decides when each word is heard and how long a scene lasts.

Voices hand over timings in different shapes (eSpeak's character events, a server's own word list, none at
all: then :mod:`shortskit.alignment` finds them); every shape ends here as one
:class:`~shortskit.providers.base.Word` per word of the story's text, with one rule for the words a voice
left without a time (:func:`fill_gaps`). Scene lengths are whole frames
(:func:`scene_seconds`), the same number for the clip and for the soundtrack, so sound and picture stay in step.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Sequence

from shortskit.providers.base import Word

__all__ = [
    "clip_frames",
    "estimate_words",
    "fill_gaps",
    "map_timestamps",
    "scene_seconds",
    "token_spans",
    "words_from_char_events",
]


def clip_frames(seconds: float, fps: int) -> int:
    """Whole frames needed to show ``seconds`` (at least one)."""
    return max(1, math.ceil(round(seconds * fps, 6)))


def scene_seconds(voice: float, pause: float, fps: int) -> float:
    """How long a scene lasts: its voice plus the pause after it, rounded up to whole frames."""
    return clip_frames(voice + pause, fps) / fps


def token_spans(text: str) -> list[tuple[int, int, str]]:
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


def fill_gaps(
    tokens: Sequence[str],
    starts: Sequence[float | None],
    ends: Sequence[float | None],
    speech_end: float,
) -> tuple[Word, ...]:
    """Words for ``tokens`` from the times a voice knew (``None`` where it did not).

    A run of words without a start shares the time between its neighbours: from the end of the word before
    (when that is known; else just after that word's start; at the very beginning, from 0) to the start of
    the next timed word (or ``speech_end``). A word ends where its own end is known, else where the next word
    starts; starts never run backwards and no word ends after the next one starts.
    """
    n = len(tokens)
    filled: list[float] = []
    i = 0
    while i < n:
        known = starts[i]
        if known is not None:
            filled.append(known)
            i += 1
            continue
        j = i
        while j < n and starts[j] is None:
            j += 1
        gap = j - i
        following = starts[j] if j < n else None
        before_end = ends[i - 1] if i > 0 else None
        if i == 0:
            left, first = 0.0, 0  # from the very start
        elif before_end is not None:
            left, first = before_end, 0  # right after the word before ends
        else:
            left, first = filled[-1], 1  # strictly after the word before starts
        right = max(following if following is not None else speech_end, left)
        step = (right - left) / (gap + first)
        filled.extend(left + step * (k + first) for k in range(gap))
        i = j

    words: list[Word] = []
    previous = 0.0
    for k, token in enumerate(tokens):
        start = max(filled[k], previous)
        following = filled[k + 1] if k + 1 < n else None
        own_end = ends[k]
        if own_end is not None:
            end = own_end if following is None else min(own_end, max(following, start))
        else:
            end = following if following is not None else max(speech_end, start)
        words.append(Word(token, round(start, 4), round(max(end, start), 4)))
        previous = start
    return tuple(words)


def words_from_char_events(
    text: str,
    events: Sequence[tuple[int, float]],
    speech_end: float,
    spans: Sequence[tuple[int, int, str]] | None = None,
) -> tuple[Word, ...]:
    """Words of ``text.split()`` (or of ``spans``, 0-based (start, end, word) in order, such as a segmenter's
    words of Chinese) from word events that point into ``text``: (1-based character, seconds).

    eSpeak reports a word event at the character where each spoken word begins (in cmn and yue at every Han
    character, so segmented words each get their own time). A token it speaks as several words ("$1,500.75")
    keeps its first event; an event between tokens (its second word for an emoji points at the following
    space) belongs to the token before it; tokens it did not speak share the time around them.
    """
    spans = list(spans) if spans is not None else token_spans(text)
    if not spans:
        return ()
    starts: list[float | None] = [None] * len(spans)
    token = 0
    for position, seconds in events:
        index = position - 1
        while token + 1 < len(spans) and spans[token + 1][0] <= index:
            token += 1
        if starts[token] is None:
            starts[token] = seconds
    return fill_gaps([s[2] for s in spans], starts, [None] * len(spans), speech_end)


def _norm(text: str) -> str:
    """Letters and digits only, lower case, accents dropped: what the story and a server agree on."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.casefold() if c.isalnum() and not unicodedata.combining(c))


def map_timestamps(text: str, stamps: Sequence[tuple[str, float, float]]) -> tuple[Word, ...] | None:
    """Put a server's word times onto ``text.split()`` (the story's words, punctuation kept).

    The server's words may drop punctuation, split or join words differently, or spell numbers out: both sides
    are reduced to letters and digits and matched character by character in order; a story word gets the time
    of its first matched character (times spread evenly over each server word's letters). Words nothing matched
    get times between their neighbours. None when nothing matches at all.
    """
    tokens = text.split()
    if not tokens:
        return ()
    story_chars: list[str] = []
    owner: list[int] = []
    for i, token in enumerate(tokens):
        for c in _norm(token):
            story_chars.append(c)
            owner.append(i)
    server_chars: list[str] = []
    times: list[tuple[float, float]] = []  # start and end of each server character
    for word, start, end in stamps:
        letters = _norm(word)
        span = max(end - start, 0.0) / max(len(letters), 1)
        for k, c in enumerate(letters):
            server_chars.append(c)
            times.append((start + span * k, start + span * (k + 1)))
    if not story_chars or not server_chars:
        return None
    starts: list[float | None] = [None] * len(tokens)
    ends: list[float | None] = [None] * len(tokens)
    matcher = difflib.SequenceMatcher(None, story_chars, server_chars, autojunk=False)
    matched = False
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            i = owner[block.a + k]
            t0, t1 = times[block.b + k]
            s0, e0 = starts[i], ends[i]
            starts[i] = t0 if s0 is None else min(s0, t0)
            ends[i] = t1 if e0 is None else max(e0, t1)
            matched = True
    if not matched:
        return None
    return fill_gaps(tokens, starts, ends, max(end for _, _, end in stamps))


def estimate_words(text: str, duration: float) -> tuple[Word, ...]:
    """Word timings for audio that came without them: spread by character count (a rough fallback)."""
    tokens = text.split()
    weights = [max(len(t.strip(".,;:!?¿¡\"'")), 1) + 1 for t in tokens]
    total = sum(weights) or 1
    t, words = 0.0, []
    for tok, w in zip(tokens, weights, strict=True):
        span = duration * w / total
        words.append(Word(tok, t, t + span))
        t += span
    return tuple(words)
