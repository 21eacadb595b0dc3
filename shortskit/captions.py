"""Captions: word timings -> caption groups -> a styled ASS file (burned in) and SRT (for upload).

Groups hold a few words (``max_words``, ``max_chars``) and never run across a sentence end or a long
pause. In the ASS file each group is written once per word so the word being spoken can be coloured
(the active-word highlight). Emoji are dropped from burned-in captions (the shipped font has none and a
fresh machine may have no emoji font); the SRT keeps the text exactly as written.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pysubs2

from shortskit.errors import ConfigError
from shortskit.providers.base import Word
from shortskit.safetext import FONT_FAMILY
from shortskit.story import CaptionStyle, Story
from shortskit.text import strip_emoji
from shortskit.workspace import file_digest

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
    "write_ass",
    "write_srt",
]

FONT_DIR = Path(__file__).parent / "assets" / "fonts"
FONT_FILE = FONT_DIR / "LeagueSpartan-Bold.otf"

_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？")
_CLAUSE_END = (",", ";", ":")


def font_family(path: Path) -> str:
    """The family name inside a .ttf/.otf file; ConfigError if it is not a font."""
    from PIL import ImageFont

    try:
        family = ImageFont.truetype(str(path), 20).getname()[0] or path.stem
    except OSError:
        raise ConfigError(f"{path.name} is not a font file (.ttf or .otf)") from None
    # the name goes into the ASS file's Style line: a comma or a line break in a font's own name would add fields
    # or lines of the font maker's choosing
    if not FONT_FAMILY.fullmatch(family):
        raise ConfigError(f"{path.name}: its family name has characters a caption style cannot hold; use another font")
    return family


@dataclass(frozen=True)
class CaptionFont:
    """The font a story's captions are drawn with, and the style that names it."""

    file: Path  # the .ttf/.otf file
    digest: str  # its content digest (part of caption and clip keys)
    style: CaptionStyle  # the story's caption style with ``font`` set to the file's own family name

    @property
    def folder(self) -> Path:
        """Where libass looks for it (``fontsdir``)."""
        return self.file.parent


def caption_font(story: Story) -> CaptionFont:
    """The shipped font, or the story's ``captions.font_file`` (whose own family name libass matches)."""
    style = story.captions
    if not style.font_file:
        return CaptionFont(FONT_FILE, file_digest(FONT_FILE), style)
    path = story.resolve(style.font_file, field="captions.font_file")
    return CaptionFont(path, file_digest(path), style.model_copy(update={"font": font_family(path)}))


@dataclass(frozen=True)
class CaptionGroup:
    """Words shown together, and when."""

    words: tuple[Word, ...]
    start: float  # seconds
    end: float  # seconds

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def group_words(
    words: Sequence[Word],
    *,
    max_words: int = 3,
    max_chars: int = 18,
    max_gap: float = 0.6,
    linger: float = 0.35,
    until: float | None = None,
) -> list[CaptionGroup]:
    """Group timed words into captions.

    A group closes at ``max_words``, before it would pass ``max_chars``, after a word ending a sentence,
    after a clause mark once it has two words, or before a silence longer than ``max_gap`` seconds. Each
    group stays up until the next starts, or ``linger`` seconds past its last word if a pause follows, but
    never past ``until`` (the end of the scene), so scenes joined end to end never overlap.
    """
    groups: list[list[Word]] = []
    current: list[Word] = []
    for i, word in enumerate(words):
        if current:
            chars = sum(len(w.text) + 1 for w in current) + len(word.text)
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
            tuple(Word(w.text, w.start + offset, w.end + offset) for w in g.words),
            g.start + offset,
            g.end + offset,
        )
        for g in groups
    ]


@lru_cache(maxsize=16)
def font_metrics(font: str) -> tuple[float, float, float]:
    """(Pillow size per libass size, ascent, descent), the last two as fractions of the libass size.

    libass, mimicking GDI, makes ``usWinAscent + usWinDescent`` equal the font size; Pillow sizes by the
    em. Read the head and OS/2 tables directly (no fontTools needed); fall back to Pillow's own metrics.
    """
    try:
        data = Path(font).read_bytes()
        (num_tables,) = struct.unpack_from(">H", data, 4)
        tables = {}
        for i in range(num_tables):
            tag, _, offset, _ = struct.unpack_from(">4sIII", data, 12 + 16 * i)
            tables[tag] = offset
        (upem,) = struct.unpack_from(">H", data, tables[b"head"] + 18)
        win_ascent, win_descent = struct.unpack_from(">HH", data, tables[b"OS/2"] + 74)
        total = win_ascent + win_descent
        if upem and total:
            return upem / total, win_ascent / total, win_descent / total
    except (OSError, KeyError, struct.error):
        pass
    from PIL import ImageFont

    ascent, descent = ImageFont.truetype(font, 1000).getmetrics()
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


def fit_size(words: Sequence[str], size: float, stroke: float, room: float, font: Path) -> float:
    """The largest size up to ``size`` at which the longest word fits in ``room`` pixels (words never break)."""
    from PIL import ImageFont

    em_per_size, _, _ = font_metrics(str(font))
    pil = ImageFont.truetype(str(font), max(1, round(size * em_per_size)))
    widest = max((pil.getlength(w) + 2 * stroke for w in words if w), default=0.0)
    return size if widest <= room else size * room / widest


def _color(hex_color: str) -> pysubs2.Color:
    h = hex_color.lstrip("#")
    r, g, b = int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    alpha = int(h[6:8], 16) if len(h) == 8 else 255
    return pysubs2.Color(r, g, b, 255 - alpha)  # ASS stores transparency, not opacity


def _ass_color(hex_color: str) -> str:
    c = _color(hex_color)
    return f"&H{c.b:02X}{c.g:02X}{c.r:02X}&"


def _display(text: str, style: CaptionStyle) -> str:
    text = strip_emoji(text)
    # ASS has no escape for override braces or backslashes; swap them for look-alikes.
    text = text.replace("\\", "/").replace("{", "(").replace("}", ")")
    return text.upper() if style.uppercase else text


def _ass_style(style: CaptionStyle, width: int) -> pysubs2.SSAStyle:
    k = width / 1080  # sizes are given for a 1080-wide frame
    alignment = {
        "bottom": pysubs2.Alignment.BOTTOM_CENTER,
        "center": pysubs2.Alignment.MIDDLE_CENTER,
        "top": pysubs2.Alignment.TOP_CENTER,
    }[style.position]
    return pysubs2.SSAStyle(
        fontname=style.font,
        fontsize=style.size * k,
        primarycolor=_color(style.color),
        secondarycolor=_color(style.color),
        outlinecolor=_color(style.stroke_color),
        backcolor=_color(style.shadow_color),
        bold=style.bold,
        outline=style.stroke * k,
        shadow=style.shadow * k,
        alignment=alignment,
        marginl=round(80 * k),
        marginr=round(80 * k),
        marginv=round(style.margin * k),
    )


def write_ass(
    groups: Sequence[CaptionGroup],
    path: str | Path,
    style: CaptionStyle,
    *,
    width: int = 1080,
    height: int = 1920,
    font_file: Path = FONT_FILE,
) -> Path:
    """Write ``groups`` as an ASS file for a ``width`` x ``height`` video, one event per spoken word.

    A group whose longest word would not fit between the side margins is drawn smaller (``\\fs``), since
    a word is never broken across lines.
    """
    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "0"})
    subs.info["Title"] = "shortskit captions"
    subs.styles = {"Default": _ass_style(style, width)}
    hi = _ass_color(style.highlight_color)
    pop = r"\fscx110\fscy110" if style.pop else ""
    st = subs.styles["Default"]
    room = width - st.marginl - st.marginr
    for g in groups:
        shown = [_display(w.text, style) for w in g.words]
        if not any(shown):
            continue
        size = fit_size(shown, st.fontsize, st.outline, room, font_file)
        fit = f"{{\\fs{size:.1f}}}" if size < st.fontsize else ""
        if not style.highlight:
            text = fit + " ".join(t for t in shown if t)
            subs.append(pysubs2.SSAEvent(start=_ms(g.start), end=_ms(g.end), text=text))
            continue
        for i, w in enumerate(g.words):
            start = g.start if i == 0 else w.start
            end = g.words[i + 1].start if i + 1 < len(g.words) else g.end
            if end <= start:
                continue
            parts = [(f"{{\\c{hi}{pop}}}{t}{{\\r}}" if j == i else t) for j, t in enumerate(shown) if t]
            subs.append(pysubs2.SSAEvent(start=_ms(start), end=_ms(end), text=fit + " ".join(parts)))
    path = Path(path)
    subs.save(str(path), format_="ass", encoding="utf-8")
    return path


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def write_srt(groups: Sequence[CaptionGroup], path: str | Path) -> Path:
    """Write ``groups`` as SubRip (text exactly as written, emoji included) for upload to a platform."""
    subs = pysubs2.SSAFile()
    for g in groups:
        subs.append(pysubs2.SSAEvent(start=_ms(g.start), end=_ms(g.end), text=g.text))
    path = Path(path)
    subs.save(str(path), format_="srt", encoding="utf-8")
    return path
