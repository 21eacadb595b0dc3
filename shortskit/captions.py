"""Captions: word timings -> caption groups, the font that draws them and how they fit the frame.

Groups hold a few words (``max_words``, ``max_chars``) and never run across a sentence end or a long
pause. :mod:`shortskit.subtitles` writes them as the ASS file that is burned in and the SRT for upload.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shortskit import fonts as _fonts
from shortskit import scripts
from shortskit.errors import ConfigError, StoryError
from shortskit.fonts import Face, FontChoice
from shortskit.providers.base import Word
from shortskit.story import CaptionStyle, Story
from shortskit.text import strip_emoji

__all__ = [
    "FONT_DIR",
    "FONT_FILE",
    "CaptionFont",
    "CaptionGroup",
    "caption_font",
    "fit_size",
    "font_family",
    "font_metrics",
    "group_words",
    "missing_glyphs",
    "shift_groups",
]

FONT_DIR = _fonts.FONT_DIR
FONT_FILE = FONT_DIR / "LeagueSpartan-Bold.otf"
DEFAULT_FAMILY = "League Spartan"

# Sentence ends and clause marks of the scripts we caption (Arabic ؟ ، ؛, Devanagari danda, Greek ;, CJK, Thai).
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？", "؟", "।", "॥", "۔", "\u037e")
_CLAUSE_END = (",", ";", ":", "，", "、", "；", "：", "،", "؛")


def font_family(path: Path) -> str:
    """The family name inside a .ttf/.otf file; ConfigError if it is not a font, or its name could inject."""
    try:
        return _fonts.face_of(Path(path)).family
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class CaptionFont:
    """The font a story's captions are drawn with, and the style that names it."""

    file: Path  # the primary .ttf/.otf/.ttc file
    digest: str  # content digest of every face the captions may use (part of caption and clip keys)
    style: CaptionStyle  # the story's caption style with ``font`` set to the primary face's family name
    choice: FontChoice | None = None  # the primary face and its fallbacks (None: the one file alone)

    @property
    def folder(self) -> Path:
        """Where libass looks for the faces (``fontsdir``)."""
        return self.choice.folder() if self.choice is not None else self.file.parent


def caption_font(story: Story) -> CaptionFont:
    """The faces that draw the story's captions: its own font (``captions.font_file``, else League Spartan)
    where it has the glyphs, else the shipped Noto font of the script, else an installed CJK font.

    :class:`StoryError` (field ``captions.font_file``) when no font here draws some of its letters.
    """
    style = story.captions
    if style.font_file:
        path = story.resolve(style.font_file, field="captions.font_file")
        try:
            own = _fonts.face_of(path)
        except ValueError as exc:
            raise StoryError(str(exc), file=story.source, field="captions.font_file") from None
    else:
        own = Face(FONT_FILE, 0, DEFAULT_FAMILY)
    text = " ".join(s.text for s in story.scenes)
    try:
        choice = _fonts.choose_fonts(text.upper() if style.uppercase else text, story.language, own)
    except _fonts.NoFontError as exc:
        raise StoryError(str(exc), file=story.source, field="captions.font_file") from None
    primary = choice.primary
    if primary == own and not style.font_file:
        return CaptionFont(FONT_FILE, choice.digest, style, choice)  # the story's own family name stays
    update: dict[str, Any] = {"font": primary.family}
    if not style.font_file:
        # libass sizes a face by its whole ascent + descent: a face with tall room for marks (Noto Sans Arabic's
        # em is 0.47 of it, League Spartan's 0.67) would look a third smaller; give it the same letter size.
        em, _, _ = font_metrics(str(primary.file), primary.index)
        reference, _, _ = font_metrics(str(FONT_FILE))
        if em < 0.9 * reference:
            update["size"] = min(400, round(style.size * reference / em))
    return CaptionFont(primary.file, choice.digest, style.model_copy(update=update), choice)


@dataclass(frozen=True)
class CaptionGroup:
    """Words shown together, and when."""

    words: tuple[Word, ...]
    start: float  # seconds
    end: float  # seconds

    @property
    def text(self) -> str:
        return scripts.join_words(self.words)


def group_words(
    words: Sequence[Word],
    *,
    max_words: int = 3,
    max_chars: int = 18,
    max_gap: float = 0.6,
    linger: float = 0.35,
    until: float | None = None,
    language: str | None = None,
    text: str | None = None,
) -> list[CaptionGroup]:
    """Group timed words into captions.

    With ``language``, words of Chinese, Japanese or Thai are first cut into words, spaced as in ``text`` (the
    scene's own) (:func:`shortskit.scripts.caption_words`). ``max_chars`` counts display width (a CJK character is two).
    A group closes at ``max_words``, before it would pass ``max_chars``, after a word ending a sentence,
    after a clause mark once it has two words, or before a silence longer than ``max_gap`` seconds. Each
    group stays up until the next starts, or ``linger`` seconds past its last word if a pause follows, but
    never past ``until`` (the end of the scene), so scenes joined end to end never overlap.
    """
    if language is not None:
        words = scripts.caption_words(words, language, text)
    groups: list[list[Word]] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        if current:
            chars = scripts.display_width(scripts.join_words([*current, word]))
            gap = word.start - current[-1].end
            if len(current) >= max_words or chars > max_chars or gap > max_gap:
                groups.append(current)
                current = []
        current.append(word)
        last = i == len(words) - 1
        if not last and (word.text.endswith(_SENTENCE_END) or (len(current) >= 2 and word.text.endswith(_CLAUSE_END))):
            groups.append(current)
            current = []
    if current:
        groups.append(current)

    out: list[CaptionGroup] = []
    for i, g in enumerate(groups):
        start = g[0].start
        end = g[-1].end + linger
        if i + 1 < len(groups):
            nxt = groups[i + 1][0].start
            end = nxt if nxt - g[-1].end <= max_gap else min(end, nxt)
        end = max(end, start + 0.05)
        if until is not None:
            end = max(min(end, until), start)
        out.append(CaptionGroup(tuple(g), start, end))
    return out


def shift_groups(groups: Iterable[CaptionGroup], offset: float) -> list[CaptionGroup]:
    """The same groups, ``offset`` seconds later (to place one scene's captions in the whole short)."""
    return [
        CaptionGroup(
            tuple(dataclasses.replace(w, start=w.start + offset, end=w.end + offset) for w in g.words),
            g.start + offset,
            g.end + offset,
        )
        for g in groups
    ]


@lru_cache(maxsize=16)
def font_metrics(font: str, index: int = 0) -> tuple[float, float, float]:
    """(Pillow size per libass size, ascent, descent), the last two as fractions of the libass size.

    libass, mimicking GDI, makes ``usWinAscent + usWinDescent`` equal the font size; Pillow sizes by the
    em. Read the head and OS/2 tables directly (no fontTools needed; ``index``: the face in a .ttc
    collection); fall back to Pillow's own metrics.
    """
    try:
        data = Path(font).read_bytes()
        base = 0
        if data[:4] == b"ttcf":
            (base,) = struct.unpack_from(">I", data, 12 + 4 * index)
        (num_tables,) = struct.unpack_from(">H", data, base + 4)
        tables = {}
        for i in range(num_tables):
            tag, _, offset, _ = struct.unpack_from(">4sIII", data, base + 12 + 16 * i)
            tables[tag] = offset
        (upem,) = struct.unpack_from(">H", data, tables[b"head"] + 18)
        win_ascent, win_descent = struct.unpack_from(">HH", data, tables[b"OS/2"] + 74)
        total = win_ascent + win_descent
        if upem and total:
            return upem / total, win_ascent / total, win_descent / total
    except (OSError, KeyError, struct.error):
        pass
    from PIL import ImageFont

    ascent, descent = ImageFont.truetype(font, 1000, index=index).getmetrics()
    total = ascent + descent
    return 1000 / total, ascent / total, descent / total


@lru_cache(maxsize=8)
def _glyph_probe(font: str) -> tuple[Any, tuple[tuple[int, int], bytes]]:
    from PIL import ImageFont

    pil = ImageFont.truetype(font, 40)
    notdef = pil.getmask("\U0010fffd")  # a private-use code point no font draws: what "missing" looks like
    return pil, (notdef.size, bytes(notdef))


def missing_glyphs(text: str, font: str | Path = FONT_FILE) -> str:
    """The characters of ``text`` (spaces and emoji aside) that ``font`` has no glyph for, each once."""
    pil, notdef = _glyph_probe(str(font))
    seen: dict[str, None] = {}
    for ch in strip_emoji(text):
        if ch.isspace() or ch in seen:
            continue
        mask = pil.getmask(ch)
        if (mask.size, bytes(mask)) == notdef:
            seen[ch] = None
    return "".join(seen)


def fit_size(
    words: Sequence[str],
    size: float,
    stroke: float,
    room: float,
    font: Path,
    *,
    faces: Sequence[Face] | None = None,
) -> float:
    """The largest size up to ``size`` at which the longest word fits in ``room`` pixels (words never break).

    ``faces``: the face drawing each word, where they differ (else ``font`` draws them all).
    """
    widest = 0.0
    for i, w in enumerate(words):
        if w:
            face = faces[i] if faces is not None else Face(Path(font), 0, "")
            widest = max(widest, word_width(w, face, size) + 2 * stroke)
    return size if widest <= room else size * room / widest


def word_width(text: str, face: Face, size: float) -> float:
    """How wide ``text`` is drawn in ``face`` at libass size ``size``, pixels (shaped, where Raqm is there)."""
    em_per_size, _, _ = font_metrics(str(face.file), face.index)
    return float(face.pil(max(1, round(size * em_per_size))).getlength(text))


def wrap_lines(widths: Sequence[float], gaps: Sequence[float], max_width: float) -> list[list[int]]:
    """Break words into lines no wider than ``max_width``, then even the lines out (libass wrap style 0).

    ``gaps[i]`` is the space before word ``i`` (none where it is glued to the word before it).
    """
    lines: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        if lines[-1] and used + gaps[i] + w > max_width:
            lines.append([])
            used = 0.0
        used = w if not lines[-1] else used + gaps[i] + w
        lines[-1].append(i)

    def width(line: list[int]) -> float:
        return sum(widths[i] for i in line) + sum(gaps[i] for i in line[1:])

    for k in range(len(lines) - 1, 0, -1):  # move words down while that makes neighbouring lines more even
        while len(lines[k - 1]) > 1:
            a, b = lines[k - 1], lines[k]
            na, nb = a[:-1], [a[-1], *b]
            if abs(width(na) - width(nb)) < abs(width(a) - width(b)) and width(nb) <= max_width:
                lines[k - 1], lines[k] = na, nb
            else:
                break
    return lines
