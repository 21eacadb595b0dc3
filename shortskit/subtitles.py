"""The caption files: the styled ASS that libass burns in and the SubRip (SRT) for upload.

In the ASS file each caption group is written once per word, so the word being spoken can be coloured (the
active-word highlight). Emoji are dropped from burned-in captions (the shipped font has none and a fresh machine
may have no emoji font); the SRT keeps the text exactly as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pysubs2

from shortskit import scripts
from shortskit.captions import FONT_FILE, CaptionGroup, fit_size, word_width, wrap_lines
from shortskit.fonts import Face, FontChoice
from shortskit.story import CaptionStyle
from shortskit.text import strip_emoji

__all__ = ["write_ass", "write_srt"]


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


def _ass_style(style: CaptionStyle, width: int, *, rtl: bool = False) -> pysubs2.SSAStyle:
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
        # -1: libass finds each line's base direction (FriBidi), so Arabic and Hebrew read right to left
        # across the highlight's override tags; 1 would lay each tagged run out left to right.
        encoding=-1 if rtl else 1,
    )


def write_ass(
    groups: Sequence[CaptionGroup],
    path: str | Path,
    style: CaptionStyle,
    *,
    width: int = 1080,
    height: int = 1920,
    font_file: Path = FONT_FILE,
    fonts: FontChoice | None = None,
) -> Path:
    """Write ``groups`` as an ASS file for a ``width`` x ``height`` video, one event per spoken word.

    A group whose longest word would not fit between the side margins is drawn smaller (``\\fs``), since
    a word is never broken across lines. With ``fonts``, a word the primary face cannot draw names its own
    face (``\\fn``); words glued together (Chinese, Japanese, Thai) are broken into lines here, between
    words, since libass breaks lines only at spaces.
    """
    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "0"})
    subs.info["Title"] = "shortskit captions"
    # The video is BT.709. Without this line libass takes the colours as meant for BT.601 video and shifts them
    # (the story's green #20C040 came out 22 levels dark).
    subs.info["YCbCr Matrix"] = "TV.709"
    rtl = any(scripts.is_rtl(g.text) for g in groups)
    subs.styles = {"Default": _ass_style(style, width, rtl=rtl)}
    hi = _ass_color(style.highlight_color)
    pop = r"\fscx110\fscy110" if style.pop else ""
    st = subs.styles["Default"]
    room = width - st.marginl - st.marginr
    primary = fonts.primary if fonts is not None else Face(Path(font_file), 0, style.font)
    for g in groups:
        shown = [_display(w.text, style) for w in g.words]
        kept = [i for i, t in enumerate(shown) if t]
        if not kept:
            continue
        faces = [fonts.face_for(t) if fonts is not None else primary for t in shown]
        size = fit_size(shown, st.fontsize, st.outline, room, font_file, faces=faces)
        fit = f"{{\\fs{size:.1f}}}" if size < st.fontsize else ""
        seps = _separators(g, shown, kept, faces, size, st.outline, room)

        # the primary face is the style's own font ("" below); any other names itself
        words = [(seps[k], shown[i], "" if faces[i] == primary else faces[i].family) for k, i in enumerate(kept)]
        marks = (fit, style.font, f"{{\\c{hi}{pop}}}")

        if not style.highlight:
            subs.append(pysubs2.SSAEvent(start=_ms(g.start), end=_ms(g.end), text=_ass_line(words, None, marks)))
            continue
        for i, w in enumerate(g.words):
            start = g.start if i == 0 else w.start
            end = g.words[i + 1].start if i + 1 < len(g.words) else g.end
            if end <= start:
                continue
            active = kept.index(i) if shown[i] else None
            subs.append(pysubs2.SSAEvent(start=_ms(start), end=_ms(end), text=_ass_line(words, active, marks)))
    path = Path(path)
    subs.save(str(path), format_="ass", encoding="utf-8")
    return path


def _ass_line(words: list[tuple[str, str, str]], active: int | None, marks: tuple[str, str, str]) -> str:
    """One caption line: (separator, text, family) per word, the ``active`` one highlighted.

    ``marks``: the size override (or ""), the primary family and the highlight's override tags. A word drawn by
    another face names it (``\\fn``) and the primary face is named again after it.
    """
    fit, primary, highlight = marks
    out = fit
    for k, (sep, text, family) in enumerate(words):
        own = f"{{\\fn{family}}}" if family else ""
        if k == active:
            out += f"{sep}{highlight}{own}{text}{{\\r}}{fit}"  # \\r resets the size too: set it again
        else:
            out += f"{sep}{own}{text}" + (f"{{\\fn{primary}}}" if own else "")
    return out


def _separators(
    g: CaptionGroup, shown: list[str], kept: list[int], faces: list[Face], size: float, stroke: float, room: float
) -> list[str]:
    """What goes before each shown word: nothing first, a space, nothing (glued), or a line break (\\N)."""
    glued = [k > 0 and bool(getattr(g.words[i], "glued", False)) for k, i in enumerate(kept)]
    seps = ["" if (k == 0 or glued[k]) else " " for k in range(len(kept))]
    if not any(glued):
        return seps  # libass breaks lines at the spaces itself
    widths = [word_width(shown[i], faces[i], size) + 2 * stroke for i in kept]
    space = word_width(" ", faces[kept[0]], size)
    gaps = [0.0 if not seps[k] else space for k in range(len(kept))]
    if sum(widths) + sum(gaps) <= room:
        return seps
    for line in wrap_lines(widths, gaps, room)[1:]:
        seps[line[0]] = "\\N"
    return seps


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
