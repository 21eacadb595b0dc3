"""The moviepy engine: the same scene clip as the ffmpeg engine, built as moviepy 2 clips you can extend.

The ffmpeg engine (:mod:`shortskit.render`) is the fast default. This engine exists for notebook users who
want to add their own moviepy effects to a scene: :func:`scene_clip` gives the scene as a
``CompositeVideoClip`` (cover-cropped picture with the same Ken Burns motion, captions with the same size,
colours, outline, shadow, position and active-word highlight, voice padded to the clip's length), and
:func:`render_clip_moviepy` writes it, with ``effects`` applied, to an MP4 the merge step accepts. It is
slower than the ffmpeg engine: every frame is cropped, resized and composited by Pillow in Python and
piped to ffmpeg as raw RGB.

moviepy is imported inside the functions (importing it probes for ``ffplay``), so importing this module
costs nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shortskit import ffmpeg
from shortskit.captions import FONT_DIR, FONT_FILE, CaptionGroup, fit_size, font_metrics
from shortskit.errors import RenderError, ShortskitError
from shortskit.render import AUDIO_RATE, PRESETS, ClipSpec
from shortskit.story import CaptionStyle
from shortskit.text import strip_emoji

if TYPE_CHECKING:
    from moviepy import CompositeVideoClip
    from PIL import Image as PILImage

__all__ = ["caption_font", "render_clip_moviepy", "scene_clip"]

_MARGIN_X = 80  # left/right caption margin at 1080 wide, as in the ASS style


# -- fonts -------------------------------------------------------------------------------------------------


def caption_font(spec: ClipSpec, style: CaptionStyle | None = None) -> Path:
    """The font file captions use: the shipped font, or the story's font file found in ``spec.fonts_dir``."""
    fonts_dir = Path(spec.fonts_dir)
    if style is not None and style.font_file:
        named = fonts_dir / Path(style.font_file).name
        if named.is_file():
            return named
    if fonts_dir.resolve() != FONT_DIR.resolve():
        found = sorted(p for p in fonts_dir.glob("*") if p.suffix.lower() in (".ttf", ".otf"))
        if found:
            return found[0]
    return FONT_FILE


@lru_cache(maxsize=16)
@lru_cache(maxsize=64)
def _pil_font(font: str, size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(font, size)


def _rgba(hex_color: str) -> tuple[tuple[int, int, int], float]:
    h = hex_color.lstrip("#")
    rgb = (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    return rgb, (int(h[6:8], 16) if len(h) == 8 else 255) / 255


# -- Ken Burns ---------------------------------------------------------------------------------------------


def _cover(path: Path, width: int, height: int) -> PILImage.Image:
    """The picture scaled to cover ``width`` x ``height`` and centre-cropped (as the ffmpeg engine does)."""
    from PIL import Image

    with Image.open(path) as im:
        img = im.convert("RGB")
    scale = max(width / img.width, height / img.height)
    size = (max(width, round(img.width * scale)), max(height, round(img.height * scale)))
    if size != img.size:
        img = img.resize(size, Image.Resampling.LANCZOS)
    x, y = (img.width - width) // 2, (img.height - height) // 2
    return img.crop((x, y, x + width, y + height)) if img.size != (width, height) else img


def _motion_boxes(motion: str, zoom: float, frames: int, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The crop box of every frame, the same arithmetic as the ffmpeg engine's ``zoompan`` expressions."""
    last = max(frames - 1, 1)
    boxes = []
    for on in range(frames):
        p = on / last
        if motion == "zoom_in" and zoom > 0:
            z = 1 + zoom * p
        elif motion == "zoom_out" and zoom > 0:
            z = 1 + zoom * (1 - p)
        elif motion in ("pan_left", "pan_right") and zoom > 0:
            z = 1 + zoom
        else:
            z = 1.0
        z = min(max(z, 1.0), 10.0)
        w, h = int(width / z), int(height / z)
        spare_x, spare_y = width - width / z, height - height / z
        if motion == "pan_left" and zoom > 0:
            x = spare_x * (1 - p)
        elif motion == "pan_right" and zoom > 0:
            x = spare_x * p
        else:
            x = spare_x / 2
        y = spare_y / 2
        # zoompan works on yuv420p here and snaps the crop corner to even pixels (the chroma grid).
        x = int(min(max(x, 0), max(width - w, 0))) & ~1
        y = int(min(max(y, 0), max(height - h, 0))) & ~1
        boxes.append((x, y, x + w, y + h))
    return boxes


def _ken_burns(spec: ClipSpec, duration: float) -> Any:
    """The scene picture as a moving clip: a per-frame crop + resize of the cover-cropped image."""
    import numpy as np
    from moviepy import ImageClip
    from PIL import Image

    w, h, n = spec.width, spec.height, spec.frames
    still = _cover(spec.image, w, h)
    base = ImageClip(np.asarray(still)).with_duration(duration)
    boxes = _motion_boxes(spec.motion, spec.zoom, n, w, h)
    cache: dict[str, Any] = {"array": None, "image": still}

    def frame(get_frame: Any, t: float) -> Any:
        arr = get_frame(t)
        if arr is not cache["array"]:  # ImageClip hands back the same array each time
            cache["array"], cache["image"] = arr, Image.fromarray(arr)
        box = boxes[min(max(round(t * spec.fps), 0), n - 1)]
        if box == (0, 0, w, h):
            return arr
        return np.asarray(cache["image"].resize((w, h), Image.Resampling.BICUBIC, box=box))

    return base.transform(frame)


# -- captions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Look:
    """Caption measurements for one frame size."""

    font: str
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
        font = str(caption_font(spec, style))
        size = style.size * k
        em_per_size, a, d = font_metrics(font)
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
        )


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


def _wrap(widths: list[float], space: float, max_width: float) -> list[list[int]]:
    """Break words into lines no wider than ``max_width``, then even the lines out (libass wrap style 0)."""
    lines: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        if lines[-1] and used + space + w > max_width:
            lines.append([])
            used = 0.0
        used = w if not lines[-1] else used + space + w
        lines[-1].append(i)

    def width(line: list[int]) -> float:
        return sum(widths[i] for i in line) + space * (len(line) - 1)

    for k in range(len(lines) - 1, 0, -1):  # move words down while that makes neighbouring lines more even
        while len(lines[k - 1]) > 1:
            a, b = lines[k - 1], lines[k]
            na, nb = a[:-1], [a[-1], *b]
            if abs(width(na) - width(nb)) < abs(width(a) - width(b)) and width(nb) <= max_width:
                lines[k - 1], lines[k] = na, nb
            else:
                break
    return lines


def _text_clip(look: _Look, text: str, color: tuple[int, int, int], em: int, stroke_color: tuple[int, int, int]) -> Any:
    from moviepy import TextClip

    pad_x, pad_y = _pads(look, em)
    return TextClip(
        font=look.font,
        text=text,
        font_size=em,
        color=color,
        stroke_color=stroke_color if look.stroke else None,
        stroke_width=look.stroke,
        margin=(pad_x, pad_y),
        transparent=True,
    )


def _caption_clip(look: _Look, words: list[str], active: int | None, cache: dict[tuple[Any, ...], Any]) -> Any:
    """One caption as a single transparent still: word TextClips (and their shadows) composed and frozen."""
    import numpy as np
    from moviepy import CompositeVideoClip, ImageClip

    style = look.style
    text_rgb, text_alpha = _rgba(style.color)
    hi_rgb, hi_alpha = _rgba(style.highlight_color)
    stroke_rgb, _ = _rgba(style.stroke_color)
    shadow_rgb, shadow_alpha = _rgba(style.shadow_color)
    pop = 1.1 if style.pop else 1.0

    ems = [round(look.em * pop) if i == active else look.em for i in range(len(words))]
    widths = [_pil_font(look.font, ems[i]).getlength(w) for i, w in enumerate(words)]
    space = _pil_font(look.font, look.em).getlength(" ")
    lines = _wrap(widths, space, look.max_width)

    # libass stacks lines by their own ascent + descent, so a line holding the popped word is taller.
    scales = [pop if active in line else 1.0 for line in lines]
    block = look.size * sum(scales)
    if style.position == "bottom":
        top = look.height - round(style.margin * look.width / 1080) - block
    elif style.position == "top":
        top = round(style.margin * look.width / 1080)
    else:
        top = (look.height - block) / 2

    def word_clip(text: str, rgb: tuple[int, int, int], alpha: float, em: int, stroke: tuple[int, int, int]) -> Any:
        key = (text, rgb, alpha, em, stroke)
        if key not in cache:
            clip = _text_clip(look, text, rgb, em, stroke)
            cache[key] = clip.with_opacity(alpha) if alpha < 1 else clip
        return cache[key]

    def corner(pen_x: float, baseline: float, em: int) -> tuple[float, float]:
        """Top-left of a TextClip whose pen origin (left end of the baseline) must land at (pen_x, baseline)."""
        pad_x, pad_y = _pads(look, em)
        ascent = _pil_font(look.font, em).getmetrics()[0]
        return pen_x - pad_x - look.stroke, baseline - pad_y - look.stroke - ascent

    placed: list[tuple[Any, float, float]] = []  # clip, left, top (frame pixels)
    line_top = top
    for line, scale in zip(lines, scales, strict=True):
        baseline = line_top + look.ascent * scale
        line_top += look.size * scale
        line_width = sum(widths[i] for i in line) + space * (len(line) - 1)
        x = (look.width - line_width) / 2
        for i in line:
            rgb, alpha = (hi_rgb, hi_alpha) if i == active else (text_rgb, text_alpha)
            if look.shadow > 0 and shadow_alpha > 0:
                shadow = word_clip(words[i], shadow_rgb, shadow_alpha, ems[i], shadow_rgb)
                placed.append((shadow, *corner(x + look.shadow, baseline + look.shadow, ems[i])))
            placed.append((word_clip(words[i], rgb, alpha, ems[i], stroke_rgb), *corner(x, baseline, ems[i])))
            x += widths[i] + space

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


# -- the scene -------------------------------------------------------------------------------------------


def _exact_duration(spec: ClipSpec) -> float:
    """``frames / fps``, nudged up by an ulp if needed so that moviepy's ``int(duration * fps)`` is ``frames``."""
    d = spec.frames / spec.fps
    while int(d * spec.fps) < spec.frames:
        d = math.nextafter(d, math.inf)
    return d


def _voice(spec: ClipSpec, duration: float) -> Any:
    """The voice as a 48 kHz stereo in-memory clip, padded with silence (or cut) to ``duration``.

    Decoded once by ffmpeg rather than streamed by moviepy's reader, which leaves pipes open and fails
    messily on a file that is not audio.
    """
    import numpy as np
    from moviepy import AudioArrayClip

    samples = ffmpeg.decode_audio(spec.voice, sample_rate=AUDIO_RATE)
    n = round(duration * AUDIO_RATE)
    padded = np.zeros((n, 2), dtype=np.float32)
    m = min(n, len(samples))
    padded[:m] = samples[:m, None]
    return AudioArrayClip(padded, fps=AUDIO_RATE)


def _captions(spec: ClipSpec, style: CaptionStyle, groups: Sequence[CaptionGroup], duration: float) -> list[Any]:
    look = _Look.of(spec, style)
    cache: dict[tuple[Any, ...], Any] = {}
    clips = []
    for g in groups:
        words = [_shown(w.text, style) for w in g.words]
        # as in the ASS file: a word wider than the frame makes its whole caption smaller
        size = fit_size([w for w in words if w], look.size, look.stroke, look.max_width, Path(look.font))
        group_look = look if size >= look.size else look.scaled(size / look.size)
        for start, end, active in _intervals(g, style):
            # ASS stores times in centiseconds; round the same way so both engines switch on the same frame.
            start, end = max(round(start, 2), 0.0), min(round(end, 2), duration)
            shown = [(w, i == active) for i, w in enumerate(words) if w]
            if end <= start or not shown:
                continue
            texts = [w for w, _ in shown]
            spoken = next((k for k, (_, is_active) in enumerate(shown) if is_active), None)
            clips.append(_caption_clip(group_look, texts, spoken, cache).with_start(start).with_end(end))
    return clips


def scene_clip(spec: ClipSpec, *, style: CaptionStyle, groups: Sequence[CaptionGroup]) -> CompositeVideoClip:
    """One scene as a moviepy ``CompositeVideoClip`` that looks like the ffmpeg engine's clip.

    The picture is cover-cropped to ``spec.width`` x ``spec.height`` and moves as ``spec.motion`` says
    (the same zoom/pan arithmetic as the ffmpeg engine); ``groups`` (times relative to the scene) are
    drawn as captions in ``style`` with the spoken word highlighted; the audio is the voice padded with
    silence. The clip lasts exactly ``spec.frames / spec.fps`` seconds. Call ``close()`` when done.
    It holds no open files or processes: everything is decoded up front.
    """
    from moviepy import CompositeVideoClip

    duration = _exact_duration(spec)
    audio = _voice(spec, duration)
    layers = [_ken_burns(spec, duration)]
    if style.enabled:
        layers += _captions(spec, style, groups, duration)
    clip = CompositeVideoClip(layers, size=(spec.width, spec.height), use_bgclip=True)
    return clip.with_duration(duration).with_audio(audio)


# -- writing -------------------------------------------------------------------------------------------


def _write(
    spec: ClipSpec,
    out: Path,
    scene: int | None,
    effects: list[Any],
    style: CaptionStyle,
    groups: list[CaptionGroup],
) -> None:
    preset = PRESETS[spec.quality]
    temp_audio = out.with_name(f"{out.stem}.audio.m4a")
    clip = final = None
    try:
        clip = scene_clip(spec, style=style, groups=groups)
        final = clip.with_effects(effects) if effects else clip
        final.write_videofile(
            str(out),
            fps=spec.fps,
            codec="libx264",
            audio_codec="aac",
            audio_fps=AUDIO_RATE,
            audio_bitrate="192k",
            preset=preset.x264_preset,
            ffmpeg_params=["-crf", str(preset.crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
            temp_audiofile=str(temp_audio),
            logger=None,
            threads=2,
        )
    except RenderError as exc:
        if exc.scene is not None or scene is None:
            raise
        raise RenderError(exc.message, stderr=exc.stderr, scene=scene) from exc
    except ShortskitError:
        raise
    except Exception as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        raise RenderError(
            f"rendering the scene clip with moviepy failed ({type(exc).__name__})",
            stderr="\n".join(lines[-20:]),
            scene=scene,
        ) from exc
    finally:
        for c in (final, clip):
            if c is not None:
                c.close()
        temp_audio.unlink(missing_ok=True)
    if not out.is_file() or out.stat().st_size == 0:  # moviepy does not check ffmpeg's exit status
        raise RenderError("rendering the scene clip with moviepy wrote nothing", scene=scene)


async def render_clip_moviepy(
    spec: ClipSpec,
    out: Path,
    *,
    scene: int | None = None,
    effects: Sequence[Any] = (),
    style: CaptionStyle,
    groups: Sequence[CaptionGroup],
) -> Path:
    """Render ``spec`` into ``out`` (an .mp4) with moviepy, after applying the moviepy ``effects`` to the scene.

    The file matches what the merge step expects: H.264 yuv420p at ``spec.fps`` with ``spec.frames`` frames,
    AAC audio at 48 kHz. moviepy and ffmpeg failures become :class:`RenderError` naming ``scene``.
    """
    out = Path(out)
    await asyncio.to_thread(_write, spec, out, scene, list(effects), style, list(groups))
    return out
