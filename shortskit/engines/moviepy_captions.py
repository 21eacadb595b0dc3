"""Captions drawn with moviepy for the moviepy engine: the same size, colours, outline, shadow, position and
active-word highlight as the ASS captions libass burns in for the ffmpeg engine.

Each caption is composed once from word TextClips (and their shadows) and frozen into one still, so a frame
costs a single blend per caption instead of one per word. Each word is drawn by the face that has its glyphs
(:class:`shortskit.fonts.FontChoice`) and shaped by Pillow's Raqm layout; right-to-left lines place their
words from the right. Without Raqm, text that needs shaping (Arabic, Hebrew, Indic, Thai) is refused rather
than drawn unjoined and backwards.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortskit import scripts
from shortskit.captions import CaptionGroup, fit_size, font_metrics, wrap_lines
from shortskit.engines.base import ClipSpec
from shortskit.errors import ConfigError
from shortskit.fonts import Face, FontChoice
from shortskit.story import CaptionStyle
from shortskit.text import strip_emoji

__all__ = ["caption_clips"]

_MARGIN_X = 80  # left/right caption margin at 1080 wide, as in the ASS style


def raqm() -> bool:
    """Whether Pillow lays text out with Raqm (HarfBuzz shaping, FriBidi direction)."""
    from PIL import features

    return bool(features.check("raqm"))


def _rgba(hex_color: str) -> tuple[tuple[int, int, int], float]:
    h = hex_color.lstrip("#")
    rgb = (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    return rgb, (int(h[6:8], 16) if len(h) == 8 else 255) / 255


@dataclass(frozen=True)
class _Look:
    """Caption measurements for one frame size."""

    font: Face  # the primary face (its file and, in a .ttc collection, its index)
    size: float  # libass font size, pixels
    em: int  # Pillow font size
    stroke: int
    shadow: int
    ascent: float  # libass ascent / descent for ``size``, pixels
    descent: float
    max_width: float
    width: int
    height: int
    style: CaptionStyle
    fonts: FontChoice | None = None  # the faces that draw words the primary font cannot

    def scaled(self, factor: float) -> _Look:
        """The same look with the font ``factor`` times the size (stroke and shadow unchanged, as in ASS)."""
        return dataclasses.replace(
            self,
            size=self.size * factor,
            em=max(1, round(self.em * factor)),
            ascent=self.ascent * factor,
            descent=self.descent * factor,
        )

    @classmethod
    def of(cls, spec: ClipSpec, style: CaptionStyle) -> _Look:
        k = spec.width / 1080
        font = spec.fonts.primary if spec.fonts is not None else Face(Path(spec.font_file), 0, "")
        size = style.size * k
        em_per_size, a, d = font_metrics(str(font.file), font.index)
        return cls(
            font=font,
            size=size,
            em=max(1, round(size * em_per_size)),
            stroke=round(style.stroke * k),
            shadow=round(style.shadow * k),
            ascent=size * a,
            descent=size * d,
            max_width=spec.width - 2 * round(_MARGIN_X * k),
            width=spec.width,
            height=spec.height,
            style=style,
            fonts=spec.fonts,
        )

    def face(self, text: str) -> Face:
        """The face that draws ``text``."""
        return self.fonts.face_for(text) if self.fonts is not None else self.font

    def runs(self, text: str) -> list[tuple[str, Face]]:
        """``text`` in pieces, each with the one face that draws it whole."""
        return self.fonts.runs(text) if self.fonts is not None else [(text, self.font)]

    def em_for(self, face: Face, em: int) -> int:
        """Pillow size in ``face`` for Pillow size ``em`` of the primary font (the same libass size)."""
        if face == self.font:
            return em
        ours, _, _ = font_metrics(str(self.font.file), self.font.index)
        theirs, _, _ = font_metrics(str(face.file), face.index)
        return max(1, round(em * theirs / ours))


def _shown(text: str, style: CaptionStyle) -> str:
    text = strip_emoji(text)
    return text.upper() if style.uppercase else text


def _intervals(group: CaptionGroup, style: CaptionStyle) -> list[tuple[float, float, int | None]]:
    """(start, end, index of the spoken word or None): one caption per word interval, as ``write_ass`` does."""
    if not style.highlight:
        return [(group.start, group.end, None)]
    out = []
    for i, w in enumerate(group.words):
        start = group.start if i == 0 else w.start
        end = group.words[i + 1].start if i + 1 < len(group.words) else group.end
        if end > start:
            out.append((start, end, i))
    return out


def _text_clip(
    look: _Look, text: str, color: tuple[int, int, int], em: int, stroke_color: tuple[int, int, int], face: Face
) -> Any:
    """``text`` in ``face`` as a transparent still, drawn as moviepy's ``TextClip`` (label) draws it.

    Drawn here rather than by ``TextClip``, which opens a font file by its path alone and so always takes the
    first face of a collection: NotoSansCJK-Bold.ttc's face 0 is Japanese, whose forms of 骨 or 直 are not the
    Chinese ones. ``face.pil`` opens the face the caption font chose (its index).
    """
    import numpy as np
    from moviepy import ImageClip
    from PIL import Image, ImageDraw

    font = face.pil(em)
    pad_x, pad_y = _pads(look, em)
    stroke = look.stroke
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox(
        (0, 0), text, font=font, stroke_width=stroke, anchor="ls"
    )
    # TextClip's sizes: the text's box, then room around it (below: faces with tall ascents such as Noto Sans
    # Arabic are cut off at the bottom otherwise; room costs nothing, since words are placed by their corner)
    size = (int(right - left) + 2 * pad_x, int(bottom - top) + 2 * pad_y + em)
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(img).text(
        (pad_x + stroke, pad_y + stroke + font.getmetrics()[0]), text, fill=color, font=font,
        stroke_width=stroke, stroke_fill=stroke_color if stroke else None, anchor="ls",
    )  # fmt: skip
    return ImageClip(np.array(img), transparent=True)


def _caption_clip(
    look: _Look, words: list[str], glued: list[bool], active: int | None, cache: dict[tuple[Any, ...], Any]
) -> Any:
    """One caption as a single transparent still: word TextClips (and their shadows) composed and frozen."""
    import numpy as np
    from moviepy import CompositeVideoClip, ImageClip

    style = look.style
    text_rgb, text_alpha = _rgba(style.color)
    hi_rgb, hi_alpha = _rgba(style.highlight_color)
    stroke_rgb, _ = _rgba(style.stroke_color)
    shadow_rgb, shadow_alpha = _rgba(style.shadow_color)
    pop = 1.1 if style.pop else 1.0

    # each word in pieces that one face draws whole (Pillow has no font fallback of its own)
    pieces = [look.runs(w) for w in words]
    ems = [round(look.em * pop) if i == active else look.em for i in range(len(words))]
    piece_widths = [[f.pil(look.em_for(f, ems[i])).getlength(t) for t, f in pieces[i]] for i in range(len(words))]
    widths = [sum(p) for p in piece_widths]
    space = look.font.pil(look.em).getlength(" ")
    gaps = [0.0 if (i == 0 or glued[i]) else space for i in range(len(words))]
    lines = wrap_lines(widths, gaps, look.max_width)
    rtl = scripts.is_rtl(" ".join(words))

    # libass stacks lines by their own ascent + descent, so a line holding the popped word is taller.
    scales = [pop if active in line else 1.0 for line in lines]
    block = look.size * sum(scales)
    if style.position == "bottom":
        top = look.height - round(style.margin * look.width / 1080) - block
    elif style.position == "top":
        top = round(style.margin * look.width / 1080)
    else:
        top = (look.height - block) / 2

    def word_clip(
        text: str, rgb: tuple[int, int, int], alpha: float, em: int, stroke: tuple[int, int, int], face: Face
    ) -> Any:
        key = (text, rgb, alpha, em, stroke, face)
        if key not in cache:
            clip = _text_clip(look, text, rgb, em, stroke, face)
            cache[key] = clip.with_opacity(alpha) if alpha < 1 else clip
        return cache[key]

    def corner(pen_x: float, baseline: float, em: int, face: Face) -> tuple[float, float]:
        """Top-left of a TextClip whose pen origin (left end of the baseline) must land at (pen_x, baseline)."""
        pad_x, pad_y = _pads(look, em)
        ascent = face.pil(em).getmetrics()[0]
        return pen_x - pad_x - look.stroke, baseline - pad_y - look.stroke - ascent

    placed: list[tuple[Any, float, float]] = []  # clip, left, top (frame pixels)
    line_top = top
    for line, scale in zip(lines, scales, strict=True):
        baseline = line_top + look.ascent * scale
        line_top += look.size * scale
        line_width = sum(widths[i] for i in line) + sum(gaps[i] for i in line[1:])
        x = (look.width - line_width) / 2
        # left to right on the screen: a right-to-left line starts from its last word (word-level bidi)
        shown = [line[k] for k in scripts.visual_order([words[i] for i in line], rtl)]
        for n, i in enumerate(shown):
            if n:  # the gap between neighbours on screen is the gap of whichever of them comes later in the text
                x += gaps[max(i, shown[n - 1])]
            rgb, alpha = (hi_rgb, hi_alpha) if i == active else (text_rgb, text_alpha)
            for k in scripts.visual_order([t for t, _ in pieces[i]], rtl):
                (text, f), em = pieces[i][k], look.em_for(pieces[i][k][1], ems[i])
                if look.shadow > 0 and shadow_alpha > 0:
                    shadow = word_clip(text, shadow_rgb, shadow_alpha, em, shadow_rgb, f)
                    placed.append((shadow, *corner(x + look.shadow, baseline + look.shadow, em, f)))
                placed.append((word_clip(text, rgb, alpha, em, stroke_rgb, f), *corner(x, baseline, em, f)))
                x += piece_widths[i][k]

    # Compose the words on a canvas just big enough, then freeze it: one still per caption keeps each
    # frame to a single full-size blend instead of one per word and shadow.
    x0 = math.floor(min(left for _, left, _ in placed))
    y0 = math.floor(min(t for _, _, t in placed))
    x1 = math.ceil(max(left + c.w for c, left, _ in placed))
    y1 = math.ceil(max(t + c.h for c, _, t in placed))
    layers = [c.with_position((round(left - x0), round(t - y0))) for c, left, t in placed]
    comp = CompositeVideoClip(layers, size=(x1 - x0, y1 - y0))
    rgb_frame = np.ascontiguousarray(comp.get_frame(0))
    mask_frame = comp.mask.get_frame(0)
    comp.close()
    return ImageClip(rgb_frame).with_mask(ImageClip(mask_frame, is_mask=True)).with_position((x0, y0))


def _pads(look: _Look, em: int) -> tuple[int, int]:
    """Room around each word's TextClip so no outline or accent is cut off."""
    return look.stroke + 4, look.stroke + round(0.3 * em)


def caption_clips(spec: ClipSpec, duration: float) -> list[Any]:
    """The captions of ``spec`` as moviepy stills, each shown over its own word interval."""
    style, groups = spec.style, spec.groups
    text = " ".join(w.text for g in groups for w in g.words)
    if scripts.needs_shaping(text) and not raqm():
        raise ConfigError(
            "the moviepy engine draws these captions with Pillow, whose text layout here has no Raqm (needs "
            "libraqm/FriBidi: apt-get install libraqm0 libfribidi0), so they would come out unjoined or backwards; "
            "use engine='ffmpeg' (libass shapes them itself)"
        )
    look = _Look.of(spec, style)
    cache: dict[tuple[Any, ...], Any] = {}
    clips = []
    for g in groups:
        words = [_shown(w.text, style) for w in g.words]
        glue = [bool(getattr(w, "glued", False)) for w in g.words]
        # as in the ASS file: a word wider than the frame makes its whole caption smaller
        drawn = [w for w in words if w]
        faces = [look.face(w) for w in drawn]
        size = fit_size(drawn, look.size, look.stroke, look.max_width, look.font.file, faces=faces)
        group_look = look if size >= look.size else look.scaled(size / look.size)
        for start, end, active in _intervals(g, style):
            # ASS stores times in centiseconds; round the same way so both engines switch on the same frame.
            start, end = max(round(start, 2), 0.0), min(round(end, 2), duration)
            shown = [(w, i == active, glue[i]) for i, w in enumerate(words) if w]
            if end <= start or not shown:
                continue
            texts = [w for w, _, _ in shown]
            glued = [k > 0 and g for k, (_, _, g) in enumerate(shown)]
            spoken = next((k for k, (_, is_active, _) in enumerate(shown) if is_active), None)
            clip = _caption_clip(group_look, texts, glued, spoken, cache)
            clips.append(clip.with_start(start).with_end(end))
    return clips
