"""Text that is not Latin: which way it runs, how wide it is, and where the words are in languages written
without spaces (the fonts that draw it are in :mod:`shortskit.fonts`).

Direction: libass (HarfBuzz, FriBidi) shapes and orders the text; the moviepy engine uses Pillow's Raqm layout
and :func:`visual_order` for the words of a line.

Words: Chinese, Japanese and Thai are cut into words by ICU's dictionary word breaks (``icu4py``), with the
voice's timings spread over them; a word never starts with closing punctuation (kinsoku) and never splits a
grapheme cluster. Korean and every spaced script keep their own words.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shortskit.providers.base import Word

__all__ = [
    "CaptionWord",
    "caption_words",
    "cue_width",
    "display_width",
    "is_rtl",
    "join_words",
    "needs_shaping",
    "rtl_language",
    "segment",
    "spaceless",
    "visual_order",
    "word_spans",
]

SEGMENTER = "icu-words-2"  # bump when the same text would be cut differently

_RTL_LANGUAGES = ("ar", "he", "fa", "ur", "yi", "ps")


# -- which characters are what --------------------------------------------------------------------------------


def _cjk(ch: str) -> bool:
    """Han, kana and CJK punctuation or full-width forms: text written without spaces between words."""
    cp = ord(ch)
    return (
        0x2E80 <= cp <= 0x2FDF  # radicals
        or 0x3000 <= cp <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x31F0 <= cp <= 0x31FF
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF  # full-width and half-width forms
        or 0x20000 <= cp <= 0x3FFFF
    )


def _southeast_asian(ch: str) -> bool:
    """Thai, Lao, Khmer, Myanmar: spaces between phrases, none between words."""
    cp = ord(ch)
    return 0x0E00 <= cp <= 0x0EFF or 0x1780 <= cp <= 0x17FF or 0x1000 <= cp <= 0x109F


def spaceless(text: str) -> bool:
    """Whether ``text`` holds script written without spaces between words (Chinese, Japanese, Thai, ...)."""
    return any(_cjk(c) or _southeast_asian(c) for c in text)


def display_width(text: str) -> int:
    """Columns ``text`` takes: a CJK character two, a combining mark none, anything else one."""
    total = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def _closing(token: str) -> bool:
    """Punctuation that may not start a line: 。、，！？」』）… (kinsoku), and ASCII closers too."""
    return bool(token) and all(unicodedata.category(c) in ("Pe", "Pf", "Po") and c not in "¿¡#@&*" for c in token)


def _opening(token: str) -> bool:
    return bool(token) and all(unicodedata.category(c) in ("Ps", "Pi") or c in "¿¡" for c in token)


def is_rtl(text: str) -> bool:
    """Whether ``text`` reads right to left: its first strongly directional character does."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def _strong(text: str) -> str | None:
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "R"
        if kind == "L":
            return "L"
    return None


def visual_order(words: Sequence[str], rtl: bool) -> list[int]:
    """The order, left to right, to place ``words`` of one line in (word-level Unicode bidi).

    In a right-to-left line the words run from the right, except that a run of left-to-right words (a brand
    name, a Latin phrase) keeps its own order; digits and punctuation take the line's direction.
    """
    order = list(range(len(words)))
    if not rtl:
        # an RTL run inside an LTR line is reversed in place
        return _reverse_runs(order, [_strong(w) == "R" for w in words])
    runs = _reverse_runs(order, [_strong(w) == "L" for w in words])
    return runs[::-1]


def _reverse_runs(order: list[int], marked: list[bool]) -> list[int]:
    out: list[int] = []
    i = 0
    while i < len(order):
        if not marked[i]:
            out.append(order[i])
            i += 1
            continue
        j = i
        while j + 1 < len(order) and marked[j + 1]:
            j += 1
        out.extend(reversed(order[i : j + 1]))
        i = j + 1
    return out


def needs_shaping(text: str) -> bool:
    """Whether ``text`` needs a shaping engine to come out right: joined or reordered scripts, Indic, Thai."""
    for ch in text:
        cp = ord(ch)
        if unicodedata.bidirectional(ch) in ("R", "AL") or 0x0900 <= cp <= 0x0DFF or 0x0E00 <= cp <= 0x0EFF:
            return True
        if 0x1000 <= cp <= 0x109F or 0x1780 <= cp <= 0x17FF:
            return True
    return False


# -- words where there are no spaces ------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptionWord(Word):
    """A caption word; ``glued`` when it follows the previous word with no space (a word of Chinese, Thai, ...)."""

    glued: bool = False


def _glued(left: str, right: str) -> bool:
    """Whether two words the voice gave apart are really one run of CJK text (no space between them)."""
    return bool(left and right) and (_cjk(left[-1]) or _cjk(right[0]))


def join_words(words: Iterable[Word]) -> str:
    """The words as one line of text: spaces between them, none where a word is ``glued``."""
    out = ""
    for w in words:
        if out and not getattr(w, "glued", False):
            out += " "
        out += w.text
    return out


@lru_cache(maxsize=1)
def _icu() -> Any:
    from icu4py.breakers import CharacterBreaker, WordBreaker
    from icu4py.locale import Locale

    return WordBreaker, CharacterBreaker, Locale


def _locale(language: str) -> str:
    primary = language.replace("_", "-").split("-")[0].lower()
    return {"cmn": "zh", "yue": "zh"}.get(primary, primary)


def _graphemes(text: str, language: str) -> list[str]:
    _, characters, locale = _icu()
    return [text[a:b] for a, b in characters(text, locale(_locale(language))).segments()]


MAX_TOKEN = 6  # graphemes: a longer dictionary word (or unknown run) is cut so a caption never overflows


def segment(text: str, language: str) -> list[str]:
    """``text`` (a run with no spaces) cut into words by ICU's dictionary word breaks.

    Closing punctuation joins the word before it, opening punctuation the word after (so no line or cue starts
    with 。 or 」); a word longer than ``MAX_TOKEN`` graphemes is cut between graphemes. The words joined give
    ``text`` back exactly, spaces aside.
    """
    words, _, locale = _icu()
    raw = [text[a:b] for a, b in words(text, locale(_locale(language))).segments()]
    tokens: list[str] = []
    pending = ""  # opening punctuation waiting for its word
    for tok in raw:
        if not tok.strip():
            continue
        if _closing(tok) and tokens:
            tokens[-1] += tok
        elif _opening(tok):
            pending += tok
        else:
            tokens.append(pending + tok)
            pending = ""
    if pending:
        if tokens:
            tokens[-1] += pending
        else:
            tokens.append(pending)
    out: list[str] = []
    for tok in tokens:
        clusters = _graphemes(tok, language)
        if len(clusters) <= MAX_TOKEN:
            out.append(tok)
            continue
        # cut a long word into even pieces, never leaving a piece that is only punctuation
        pieces = -(-len(clusters) // MAX_TOKEN)
        step = -(-len(clusters) // pieces)
        chunks = ["".join(clusters[i : i + step]) for i in range(0, len(clusters), step)]
        for chunk in chunks:
            if out and _closing(chunk):
                out[-1] += chunk
            else:
                out.append(chunk)
    return out


def word_spans(text: str, language: str) -> list[tuple[int, int, str]]:
    """(start, end, word), 0-based, of ``text``'s words: its space-separated tokens, with a token of Chinese,
    Japanese or Thai cut by :func:`segment` (so a voice that times each character, as eSpeak does in cmn and
    yue, gives each of those words its own start)."""
    from shortskit.timing import token_spans

    out: list[tuple[int, int, str]] = []
    for start, end, token in token_spans(text):
        if not spaceless(token):
            out.append((start, end, token))
            continue
        pos = start
        for word in segment(token, language):
            at = text.find(word, pos, end)
            at = pos if at < 0 else at
            out.append((at, at + len(word), word))
            pos = at + len(word)
    return out


def _weight(ch: str) -> float:
    """How much of a word's spoken time a character takes: letters and digits one, marks and punctuation none."""
    cat = unicodedata.category(ch)
    return 1.0 if cat[0] in "LN" else 0.0


def _spaced(words: Sequence[Word], text: str | None) -> list[bool]:
    """Whether each word follows a space: in ``text`` (the story's words, found in order) where it holds the
    word, else where the two words are not one run of CJK text."""
    source = text or ""
    out: list[bool] = []
    pos = 0
    for i, w in enumerate(words):
        at = source.find(w.text, pos) if w.text else -1
        if at >= 0:
            out.append(i > 0 and any(c.isspace() for c in source[pos:at]))
            pos = at + len(w.text)
        else:
            out.append(i > 0 and not _glued(words[i - 1].text, w.text))
    return out


def caption_words(words: Sequence[Word], language: str, text: str | None = None) -> tuple[Word, ...]:
    """The voice's ``words`` as caption words: runs of Chinese, Japanese or Thai cut by :func:`segment`.

    The voice may time a whole clause as one word (eSpeak's words are the text's space-separated tokens) or
    each character as one: both become the segmenter's words, each starting when its first character is
    heard (a voice word's time spread over its letters). Other words pass through unchanged. ``text``, the
    scene's own text, says where spaces are: Thai has one between phrases and none between words, and a
    Chinese or Japanese story may have one, so a word is ``glued`` exactly where the text had no space.
    """
    if not words or all(isinstance(w, CaptionWord) for w in words):
        return tuple(words)
    spaced = _spaced(words, text)
    if all(spaced[1:]) and not any(spaceless(w.text) for w in words):
        return tuple(words)  # Korean and every spaced script: the voice's words as they are
    out: list[Word] = []
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and not spaced[j + 1]:
            j += 1
        run = words[i : j + 1]
        i = j + 1
        joined = "".join(w.text for w in run)
        if not spaceless(joined):
            out.extend(CaptionWord(w.text, w.start, w.end, glued=k > 0) for k, w in enumerate(run))
            continue
        times: list[float] = []  # when each character of the run is heard
        for w in run:
            weights = [_weight(c) for c in w.text]
            total = sum(weights) or 1.0
            done = 0.0
            for wt in weights:
                times.append(w.start + (w.end - w.start) * done / total)
                done += wt
        tokens = segment(joined, language)
        starts, pos = [], 0
        for tok in tokens:
            starts.append(times[min(pos, len(times) - 1)])
            pos += len(tok)
        for k, tok in enumerate(tokens):
            end = starts[k + 1] if k + 1 < len(tokens) else run[-1].end
            out.append(CaptionWord(tok, starts[k], max(end, starts[k]), glued=k > 0))
    return tuple(out)


def rtl_language(language: str) -> bool:
    """Whether ``language`` is written right to left."""
    return language.replace("_", "-").split("-")[0].lower() in _RTL_LANGUAGES


def cue_width(language: str) -> int:
    """Display width of an SRT cue: 42 columns, or 16 characters (32 columns) of Chinese or Japanese."""
    return 32 if _locale(language) in ("zh", "ja") else 42
