"""The offline default image provider: deterministic placeholder pictures drawn with numpy.

A gradient sky, soft bokeh and layered silhouettes in a palette hinted by the prompt's words, with a small
"PLACEHOLDER IMAGE" label so nobody mistakes it for real art.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from shortskit.errors import ConfigError, ProviderError
from shortskit.images import save_png

__all__ = ["STYLES", "ProceduralImages", "render_placeholder"]

FONT_PATH = Path(__file__).parent.parent / "assets" / "fonts" / "LeagueSpartan-Bold.otf"
TAG_TEXT = "PLACEHOLDER IMAGE"

_F32 = np.float32
_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class _Palette:
    sky: tuple[str, str, str]  # top, middle, horizon
    lights: tuple[str, ...]  # bokeh colours
    land: tuple[str, ...]  # silhouette layers, far to near (far ones lighter: aerial perspective)
    shape: str  # "hills", "waves", "mountains", "trees" or "dunes"
    stars: bool = False


# name: (sky top, middle, horizon), (bokeh lights), (land layers far to near), ridge shape[, stars]
_PALETTES: dict[str, _Palette] = {
    "sunset": _Palette(("#2b1b4a", "#e0607e", "#ffb36b"), ("#ffd19a", "#ff8a65", "#ffe0b2", "#ffc46b"), ("#c4586c", "#8f3b5c", "#562548", "#2b1433"), "dunes"),
    "ocean": _Palette(("#0b2a4a", "#1f6fa8", "#9bd8f5"), ("#bde8ff", "#7cc4f0", "#ffffff", "#a0f0e8"), ("#3a8cc2", "#1f6699", "#134873", "#0a2a4d"), "waves"),
    "forest": _Palette(("#1f3d33", "#6f9a6a", "#dbe8b8"), ("#f4f7c5", "#b9dc9a", "#fff3b0", "#d8f0c0"), ("#5b8a5c", "#3b6641", "#24482c", "#112a19"), "trees"),
    "night": _Palette(("#03061a", "#121a40", "#33386e"), ("#6a5acd", "#3f7bd9", "#b38cff", "#5ad1e6"), ("#262a52", "#1a1c3b", "#0f1128", "#06070f"), "mountains", stars=True),
    "dusk": _Palette(("#33265f", "#a463a8", "#f6b0bd"), ("#ffd6e8", "#c8a2ff", "#ffe6c7", "#f7a8d0"), ("#82528f", "#5e3a75", "#3d2553", "#221433"), "hills"),
    "dawn": _Palette(("#7fb8f5", "#d9c2f5", "#fde3c3"), ("#ffffff", "#fff1c1", "#ffd9e6", "#e2f0ff"), ("#aaa6d8", "#8581be", "#615d9b", "#3e3b72"), "mountains"),
}  # fmt: skip

#: every accepted ``style``; "auto" chooses from the prompt's words, or its hash when no word hints
STYLES: tuple[str, ...] = ("auto", *_PALETTES)

# Words (English and Spanish, the languages stories are written in most) that steer the "auto" palette.
_HINT_WORDS: dict[str, str] = {
    "ocean": "ocean sea water wave beach river lake rain ship boat island harbor coast "
    "mar océano oceano agua ola playa río rio lago lluvia barco isla costa",
    "forest": "forest tree wood woods jungle garden leaf leaves grass meadow green park "
    "bosque árbol arbol árboles arboles selva jardín jardin hoja hierba verde",
    "night": "night space star moon galaxy dark midnight planet cosmos universe astronaut "
    "noche espacio estrella luna galaxia oscuro oscura medianoche planeta",
    "sunset": "sun sunny sunset sunrise desert fire flame heat hot summer sand dune autumn "
    "sol atardecer amanecer desierto fuego llama calor verano arena duna otoño",
}
_HINTS: dict[str, frozenset[str]] = {name: frozenset(words.split()) for name, words in _HINT_WORDS.items()}


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=_F32) / 255


def _digest(*parts: str) -> bytes:
    # sha256, never hash(): Python salts str hashes per process, and pictures must be cache-stable
    text = "\x00".join(parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _palette_name(prompt: str, style: str) -> str:
    if style != "auto":
        return style
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, token in enumerate(re.findall(r"\w+", prompt.lower())):
        forms = {token, token[:-1] if token.endswith("s") else token}
        if token.endswith("es"):
            forms.add(token[:-2])
        for name, words in _HINTS.items():
            if forms & words:
                counts[name] = counts.get(name, 0) + 1
                first.setdefault(name, i)
    if counts:
        return max(counts, key=lambda n: (counts[n], -first[n]))
    names = list(_PALETTES)
    return names[_digest(prompt)[0] % len(names)]


# ---------------------------------------------------------------------------------------------- drawing


def _sky_rows(rng: np.random.Generator, pal: _Palette, height: int) -> np.ndarray:
    """The sky's colour per row (``height`` x 3): top, middle and horizon colours, smoothly joined."""
    top, mid, low = (_rgb(c) for c in pal.sky)
    t = np.linspace(0.0, 1.0, height, dtype=_F32)
    t = t * t * (3 - 2 * t)  # smoothstep: softer at both ends than a linear ramp
    mid_at = _F32(rng.uniform(0.42, 0.58))
    stops = np.array([0.0, mid_at, 1.0], dtype=_F32)
    return np.stack([np.interp(t, stops, [top[c], mid[c], low[c]]) for c in range(3)], axis=1).astype(_F32)


def _stars(rng: np.random.Generator, sky: np.ndarray, light: np.ndarray, img: np.ndarray) -> None:
    """Stars in the sky, under the bokeh: only the pixels they touch are screened again with their lights.

    ``light`` is the bokeh layer in 8 bits; ``img`` the sky already screened with it.
    """
    height, width = img.shape[:2]
    count = max(1, int(650 * width * height / (1080 * 1920)))
    ys = rng.integers(0, max(1, int(height * 0.72)), count)
    xs = rng.integers(0, width, count)
    bright = (0.3 + 0.7 * rng.random(count) ** 3).astype(_F32)
    big = bright > 0.75  # the brightest few get a small cross so they read at phone size
    crosses = [
        (np.clip(ys[big] + dy, 0, height - 1), np.clip(xs[big] + dx, 0, width - 1))
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))
    ]
    # every touched pixel once, starting from its sky colour; the dots then the crosses, in order
    touched = np.concatenate([ys * width + xs, *(y * width + x for y, x in crosses)])
    pixels, where = np.unique(touched, return_inverse=True)
    rows, cols = pixels // width, pixels % width
    sky_px = sky[rows].copy()
    dots = where[:count]
    sky_px[dots] = np.maximum(sky_px[dots], bright[:, None])
    start = count
    for y, _ in crosses:
        at = where[start : start + len(y)]
        sky_px[at] = np.maximum(sky_px[at], 0.55 * bright[big][:, None])
        start += len(y)
    lit = light[rows, cols].astype(_F32) * _F32(1 / 255)
    img[rows, cols] = 1 - (1 - sky_px) * (1 - lit)  # the screen blend, as for every other pixel


def _lights(rng: np.random.Generator, pal: _Palette, width: int, height: int) -> np.ndarray:
    """A soft bokeh layer in 8 bits, drawn and blurred at quarter size (cheap) then scaled up."""
    scale = 4
    lw, lh = max(1, -(-width // scale)), max(1, -(-height // scale))
    aspect = lh / lw
    colours = [_rgb(c) for c in pal.lights]
    light = np.zeros((lh, lw, 3), dtype=_F32)
    glows = int(rng.integers(3, 5))
    dots = int(rng.integers(8, 15))
    for i in range(glows + dots):
        glow = i < glows
        cx = _F32(rng.uniform(-0.1, 1.1))
        cy = _F32(rng.uniform(0.0, 0.7) * aspect)
        r = _F32(rng.uniform(0.18, 0.38) if glow else rng.uniform(0.02, 0.075))
        strength = _F32(rng.uniform(0.18, 0.4) if glow else rng.uniform(0.1, 0.3))
        colour = colours[int(rng.integers(len(colours)))]
        # only the box the light reaches (a glow fades below 1/20000 of its strength at 2 radii; a disc ends at 1)
        reach = 2 * r if glow else r
        x0, x1 = max(0, math.floor((cx - reach) * lw)), min(lw, math.ceil((cx + reach) * lw) + 1)
        y0, y1 = max(0, math.floor((cy - reach) * lw)), min(lh, math.ceil((cy + reach) * lw) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        # both axes in units of picture width, so circles stay round
        yy = (np.arange(y0, y1, dtype=_F32) / _F32(lw))[:, None]
        xx = (np.arange(x0, x1, dtype=_F32) / _F32(lw))[None, :]
        d2 = (xx - cx) ** 2 + (yy - cy) ** 2
        if glow:
            alpha = np.exp(-2.5 * d2 / (r * r))
        else:  # a flat disc with a brighter rim, like an out-of-focus highlight
            d = np.sqrt(d2) / r
            alpha = np.clip((1.0 - d) * 12.0, 0.0, 1.0) * (0.75 + 0.25 * np.clip(d, 0.0, 1.0) ** 4)
        box = light[y0:y1, x0:x1]
        box[:] = 1 - (1 - box) * (1 - (strength * alpha)[..., None] * colour)
    small = Image.fromarray(np.clip(light * 255 + 0.5, 0, 255).astype(np.uint8))
    small = small.filter(ImageFilter.GaussianBlur(radius=max(0.6, 1.6 * lw / 270)))
    return np.asarray(small.resize((width, height), Image.Resampling.BILINEAR))


def _ridge(rng: np.random.Generator, shape: str, layer: int, x: np.ndarray) -> np.ndarray:
    """Height of one silhouette above its base line, in units of picture height, for ``x`` in [0, 1)."""
    near = 1.0 + 0.35 * layer
    y = np.zeros_like(x)
    if shape in ("hills", "dunes", "trees"):
        for k in range(3):
            freq = rng.uniform(0.5, 1.3) * (k + 1)
            phase = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(0.012, 0.03) / (k + 1) * near
            p = 2 * np.pi * freq * x + phase
            if shape == "dunes":
                p = p + 0.7 * np.sin(p)  # skewed crests: gentle windward side, steep lee
            y += _F32(amp) * np.sin(p).astype(_F32)
    if shape == "waves":
        for k in range(2):
            freq = rng.uniform(2.5, 4.5) * (k + 1) * (1 + 0.25 * layer)
            amp = rng.uniform(0.006, 0.012) / (k + 1) * near
            y += _F32(amp) * np.sin(2 * np.pi * freq * x + rng.uniform(0, 2 * np.pi)).astype(_F32)
    if shape == "mountains":
        count = int(rng.integers(3, 7))
        cx = rng.uniform(-0.1, 1.1, count)[:, None]
        top = rng.uniform(0.04, 0.12, count)[:, None] / near**0.5
        slope = rng.uniform(0.18, 0.4, count)[:, None]
        y = np.max(top - slope * np.abs(x[None, :] - cx), axis=0).astype(_F32)
        y = np.maximum(y, 0)
        for freq in rng.uniform(9, 31, 3):  # incommensurate ripples read as rock, one would read as zigzag
            y += _F32(0.0015) * np.sin(2 * np.pi * freq * x + rng.uniform(0, 2 * np.pi)).astype(_F32)
    if shape == "trees":
        count = int(rng.integers(18, 34) * (1.4 - 0.2 * layer))
        cx = rng.uniform(-0.05, 1.05, count)[:, None]
        half = rng.uniform(0.012, 0.03, count)[:, None] * near
        tall = rng.uniform(0.03, 0.08, count)[:, None] * near
        spikes = np.max(tall * (1 - np.abs(x[None, :] - cx) / half), axis=0)
        y += np.maximum(spikes, 0).astype(_F32)
    return y.astype(_F32)


def _land(rng: np.random.Generator, pal: _Palette, img: np.ndarray) -> None:
    """Silhouettes, far to near, each anti-aliased along its ridge and solid below it.

    A layer is drawn only down to where a nearer one is solid, since that one would paint over it.
    """
    height, width = img.shape[:2]
    x = (np.arange(width, dtype=_F32) + 0.5) / width
    layers = len(pal.land)
    tops = []  # pixel row where each silhouette starts, per column
    for i in range(layers):
        base = 0.6 + 0.26 * i / max(1, layers - 1) + rng.uniform(-0.015, 0.015)
        tops.append((base - _ridge(rng, pal.shape, i, x)) * height)
    # the anti-aliased edge spans rows r0..r1; below r1 a layer is one colour
    spans = [(int(max(0, math.floor(float(t.min())))), min(height, math.ceil(float(t.max()) + 0.5))) for t in tops]
    for i, (hex_colour, top, (r0, r1)) in enumerate(zip(pal.land, tops, spans, strict=True)):
        end = min([height, *(s[1] for s in spans[i + 1 :])])  # where a nearer layer is solid
        if r0 >= end:
            continue
        rows = np.arange(r0, end, dtype=_F32)[:, None]
        # a touch darker towards the bottom so flat layers still read as depth
        shade = 1.0 - 0.22 * (rows - r0) / max(1, height - r0)
        colour = _rgb(hex_colour)[None, None, :] * shade[..., None]
        cut = min(r1, end)
        edge = np.clip(rows[: cut - r0] - top[None, :] + 0.5, 0.0, 1.0)
        band = img[r0:cut]
        band += (colour[: cut - r0] - band) * edge[..., None]
        img[cut:end] = colour[cut - r0 :]


_STRIP = 48  # rows per pass in _finish: a strip of float pixels stays in the CPU's cache between its steps


def _finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Vignette, grain and 8-bit conversion, a strip of rows at a time (all steps while it is in cache)."""
    height, width = img.shape[:2]
    vx = _F32(0.16) * np.linspace(-1.0, 1.0, width, dtype=_F32) ** 2
    vy = _F32(0.1) * np.linspace(-1.0, 1.0, height, dtype=_F32) ** 2
    out = np.empty((height, width, 3), dtype=np.uint8)
    for r in range(0, height, _STRIP):
        strip = img[r : r + _STRIP]
        strip *= (_F32(255) * (1.0 - vx[None, :] - vy[r : r + _STRIP, None]))[..., None]
        # grain also dithers the gradient, which would otherwise band in 8 bits; +0.5 rounds in the cast
        grain = rng.standard_normal((len(strip), width), dtype=_F32)  # the same stream as one full-frame draw
        grain *= _F32(0.014 * 255)
        grain += _F32(0.5)
        strip += grain[..., None]
        np.clip(strip, 0, 255, out=strip)
        out[r : r + _STRIP] = strip
    return out


# ------------------------------------------------------------------------------------------------- label


@lru_cache(maxsize=16)
def _font(size: int) -> _Font:
    try:
        return ImageFont.truetype(str(FONT_PATH), size)
    except OSError:
        return ImageFont.load_default(size)


def _drawable(text: str, font: _Font) -> str:
    """``text`` without the characters ``font`` cannot draw (emoji, symbols), whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    missing = font.getmask("\ue000")  # a private-use point: the font's "no glyph" shape
    notdef = (missing.size, bytes(missing))
    verdict: dict[str, bool] = {}
    kept = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
            continue
        if ch not in verdict:
            ok = ord(ch) <= 0xFFFF and unicodedata.category(ch)[0] not in "CM"
            if ok:
                mask = font.getmask(ch)
                ok = (mask.size, bytes(mask)) != notdef
            verdict[ch] = ok
        if verdict[ch]:
            kept.append(ch)
    return " ".join("".join(kept).split())


def _wrap(text: str, font: _Font, max_width: float, max_lines: int) -> list[str]:
    lines: list[str] = []
    line = ""
    words = text.split()
    while words:
        word = words.pop(0)
        trial = f"{line} {word}" if line else word
        if font.getlength(trial) <= max_width:
            line = trial
            continue
        if not line:  # one word wider than the line: break it where it overflows
            cut = max(1, next(i for i in range(len(word), 0, -1) if font.getlength(word[:i]) <= max_width))
            line, words = word[:cut], [word[cut:], *words]
            if not words[0]:
                words.pop(0)
            continue
        lines.append(line)
        line = ""
        words.insert(0, word)
        if len(lines) == max_lines:
            break
    if line and len(lines) < max_lines:
        lines.append(line)
        line = ""
    if words or line:  # it did not fit: end the last line with an ellipsis
        last = lines[-1]
        while last and font.getlength(last + "…") > max_width:
            last = last[:-1].rstrip()
        lines[-1] = last + "…"
    return lines


def _draw_label(img: Image.Image, prompt: str) -> None:
    width, height = img.size
    s = min(width, height) / 1080
    tag_font = _font(max(8, round(28 * s)))
    text_font = _font(max(9, round(38 * s)))
    pad_x, pad_y = round(22 * s), round(11 * s)

    tw = tag_font.getlength(TAG_TEXT)
    asc, desc = tag_font.getmetrics()
    tag_h = asc + desc + 2 * pad_y
    tag_x0 = (width - tw) / 2 - pad_x
    tag_y0 = round(height * 0.06)
    lines = _wrap(_drawable(prompt, text_font), text_font, width * 0.78, 3)
    t_asc, t_desc = text_font.getmetrics()
    line_h = round((t_asc + t_desc) * 1.12)
    text_y0 = tag_y0 + tag_h + round(22 * s)
    bottom = text_y0 + len(lines) * line_h + 2 * pad_y if lines else tag_y0 + tag_h
    band_h = min(height, int(bottom) + 2)

    overlay = Image.new("RGBA", (width, band_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rounded_rectangle(
        (tag_x0, tag_y0, tag_x0 + tw + 2 * pad_x, tag_y0 + tag_h),
        radius=tag_h / 2,
        fill=(0, 0, 0, 120),
        outline=(255, 255, 255, 110),
        width=max(1, round(2 * s)),
    )
    draw.text((width / 2, tag_y0 + pad_y), TAG_TEXT, font=tag_font, fill=(255, 255, 255, 235), anchor="mt")
    if lines:
        panel_w = max(text_font.getlength(line) for line in lines) + 2 * pad_x
        draw.rounded_rectangle(
            ((width - panel_w) / 2, text_y0 - pad_y, (width + panel_w) / 2, bottom - pad_y),
            radius=round(18 * s),
            fill=(0, 0, 0, 70),
        )
        shadow = max(1, round(2 * s))
        for n, line in enumerate(lines):
            y = text_y0 + n * line_h
            draw.text((width / 2 + shadow, y + shadow), line, font=text_font, fill=(0, 0, 0, 130), anchor="mt")
            draw.text((width / 2, y), line, font=text_font, fill=(255, 255, 255, 240), anchor="mt")
    band = img.crop((0, 0, width, band_h)).convert("RGBA")
    band.alpha_composite(overlay)
    img.paste(band.convert("RGB"), (0, 0))


# ----------------------------------------------------------------------------------------------- public


def render_placeholder(
    prompt: str, *, width: int, height: int, seed: int, style: str = "auto", label: bool = True
) -> Image.Image:
    """Draw the placeholder picture for ``prompt`` as an RGB image; same arguments, same pixels."""
    if style not in STYLES:
        raise ConfigError(f"unknown procedural style {style!r}; valid names: {', '.join(STYLES)}")
    if width < 1 or height < 1:
        raise ProviderError(f"image size must be positive, got {width}x{height}", provider="procedural")
    pal = _PALETTES[_palette_name(prompt, style)]
    # size stays out of the seed so a preview and the final render share one composition
    rng = np.random.default_rng(int.from_bytes(_digest(str(seed), style, prompt)[:16], "big"))
    sky = _sky_rows(rng, pal, height)
    light = _lights(rng, pal, width, height)
    # separate streams: star and grain counts grow with the size, and must not reshuffle the land
    land_rng, star_rng, grain_rng = rng.spawn(3)
    # the bokeh screened over the sky, 1 - (1 - sky)(1 - light) = sky + light (1 - sky): the sky is one colour
    # per row, so this is two passes over one full-frame float array
    img = light.astype(_F32)
    img *= ((1 - sky) * _F32(1 / 255))[:, None, :]
    img += sky[:, None, :]
    if pal.stars:
        _stars(star_rng, sky, light, img)
    _land(land_rng, pal, img)
    picture = Image.fromarray(_finish(grain_rng, img))
    if label:
        _draw_label(picture, prompt)
    return picture


class ProceduralImages:
    """Offline image provider: a pleasant, clearly-placeholder picture per prompt, no network, no model."""

    name: ClassVar[str] = "procedural"
    version: ClassVar[str] = "1"

    def __init__(self, *, style: str = "auto", label: bool = True) -> None:
        if style not in STYLES:
            raise ConfigError(f"unknown procedural style {style!r}; valid names: {', '.join(STYLES)}")
        self.style = style
        self.label = label
        self.max_concurrency: int = 2
        self.rate_per_minute: float | None = None

    def settings(self) -> dict[str, Any]:
        """The options that change the picture (part of the cache key)."""
        return {"style": self.style, "label": self.label}

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        """Draw ``prompt``'s placeholder into ``out`` (JPEG when it ends in .jpg/.jpeg, else PNG)."""
        return await asyncio.to_thread(self._generate, prompt, Path(out), width, height, seed)

    def _generate(self, prompt: str, out: Path, width: int, height: int, seed: int) -> Path:
        picture = render_placeholder(prompt, width=width, height=height, seed=seed, style=self.style, label=self.label)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.suffix.lower() in (".jpg", ".jpeg"):
                picture.save(out, format="JPEG", quality=95, subsampling=0)
            else:
                save_png(picture, out)  # stored, not compressed: grain would not compress much anyway
        except OSError as err:
            raise ProviderError(f"cannot write {out}: {err}", provider=self.name) from err
        return out
