"""User pictures: read a picture (the common photo formats) and cover-crop it to the video frame as an sRGB PNG.

Orientation follows the EXIF tag (as phones and viewers show the photo); colours are converted from the
picture's own ICC profile (Display P3 from phones, Adobe RGB from cameras, grey, CMYK) to sRGB with LittleCMS,
and a picture without one is taken as sRGB; transparency is flattened on black.
Pictures come from stories and servers, so only common photo formats are opened, and none bigger than
:data:`MAX_PIXELS` is decoded (Pillow's own decompression-bomb check stays on, as an error).
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from shortskit.errors import InputFileError

__all__ = ["FORMATS", "MAX_PIXELS", "check_image", "image_size", "prepare_image", "save_png"]

_ORIENTATION = 0x0112  # EXIF tag
_SIDEWAYS = {5, 6, 7, 8}  # orientations that swap width and height

# Errors Pillow raises for files it cannot decode: unknown format, truncated or corrupt data, absurd sizes (its
# bomb warning is raised as an error here, see _opened).
_DECODE_ERRORS = (
    UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)  # fmt: skip
# The formats a picture may be in: photos and what image servers send. Not EPS/PDF (Ghostscript runs them),
# nor the long tail of Pillow's readers.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")  # JPEG includes phones' MPO
# About 40 megapixels (a 7680x5120 photo): a 13000x13000 PNG would take 3 GB and half a minute to decode.
MAX_PIXELS = 40_000_000


class _TooBig(ValueError):
    pass


@contextlib.contextmanager
def _opened(src: Path) -> Iterator[Image.Image]:
    """``src`` opened (not decoded) by Pillow, refused unless it is in :data:`FORMATS` and at most MAX_PIXELS."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # Pillow's bomb check, as an error
        Image.init()  # registers the readers, so that a format this Pillow lacks (AVIF) can be left out
        with Image.open(src, formats=[f for f in FORMATS if f in Image.OPEN]) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise _TooBig(
                    f"it is {w}x{h} pixels ({w * h / 1e6:.0f} MP); pictures may have at most {MAX_PIXELS / 1e6:.0f} "
                    "MP: scale it down"
                )
            yield im


def _unreadable(src: Path, scene: int | None, err: BaseException) -> InputFileError:
    if isinstance(err, _TooBig):
        return InputFileError(f"{src.name}: {err}", provider="local", scene=scene, field="image")
    detail = (str(err).strip() or type(err).__name__).replace(f" '{src}'", "").replace(str(src), src.name)
    return InputFileError(
        f"cannot read {src.name} as an image ({detail})", provider="local", scene=scene, field="image"
    )


def _check_exists(src: Path, scene: int | None) -> None:
    if not src.exists():
        raise InputFileError(f"image file not found: {src.name}", provider="local", scene=scene, field="image")
    if not src.is_file():
        raise InputFileError(f"image path is not a file: {src.name}", provider="local", scene=scene, field="image")


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION, 1)
        return int(value) if value in range(1, 9) else 1
    except Exception:  # a broken EXIF block is not worth refusing the photo over
        return 1


# The mode a picture must be in for a profile of each colour space (ICC's 4-letter signatures, as Pillow reads them)
_PROFILE_MODES = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}
_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(im: Image.Image, rgb: Image.Image) -> Image.Image:
    """``rgb`` (the 8-bit RGB form of ``im``) converted from ``im``'s embedded ICC profile to sRGB.

    Without a profile, or with one that LittleCMS cannot use, the numbers are taken as sRGB already (what a
    browser does). CMYK and grey pictures are converted from their own numbers, not from ``rgb``.
    """
    icc = im.info.get("icc_profile")
    if not icc:
        return rgb
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip()
        mode = _PROFILE_MODES.get(space)
        if mode is None:
            return rgb
        pixels = rgb if mode == "RGB" else (im if im.mode == mode else rgb.convert(mode))
        converted = ImageCms.profileToProfile(
            pixels, source, _SRGB, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):  # a broken profile: keep the numbers
        return rgb
    return converted if converted is not None else rgb


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        # convert("RGB") clips these to 0..255, which turns a 16-bit photo white: rescale instead
        arr = np.asarray(im, dtype=np.float32)
        peak = float(arr.max()) if arr.size else 0.0
        if im.mode == "F":
            scale = 255.0 if peak <= 1.0 else 1.0
        else:
            scale = 1 / 257 if (im.mode.startswith("I;16") or peak > 255) else 1.0
        grey = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        flat.alpha_composite(rgba)
        return flat.convert("RGB")
    return im.convert("RGB")


def _cover_box(size: tuple[int, int], width: int, height: int) -> tuple[float, float, float, float]:
    """The centred region of ``size`` with the target's aspect ratio (CSS ``object-fit: cover``)."""
    w, h = size
    target = width / height
    if w / h > target:  # too wide: trim the sides
        crop_w = h * target
        x0 = (w - crop_w) / 2
        return (x0, 0.0, x0 + crop_w, float(h))
    crop_h = w / target
    y0 = (h - crop_h) / 2
    return (0.0, y0, float(w), y0 + crop_h)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def save_png(picture: Image.Image, out: Path) -> Path:
    """Write an RGB ``picture`` as a PNG whose rows are stored as they are (no filter, no compression).

    ffmpeg reads such a file back twice as fast as a compressed one, and it is written ten times faster than
    Pillow's ``compress_level=0``, which still picks a filter for every row. Any PNG reader opens it.
    """
    if picture.mode != "RGB":
        raise ValueError(f"save_png takes an RGB picture, not {picture.mode}")
    width, height = picture.size
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # each row: filter type 0 ("none"), then pixels
    rows[:, 1:] = np.asarray(picture).reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, deflate, no interlace
    data = b"".join((
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", header),
        _chunk(b"IDAT", zlib.compress(rows.data, 0)),
        _chunk(b"IEND", b""),
    ))  # fmt: skip
    Path(out).write_bytes(data)
    return Path(out)


def prepare_image(src: Path, out: Path, *, width: int, height: int, scene: int | None = None) -> Path:
    """Write ``src`` into ``out`` as a ``width`` x ``height`` RGB PNG, centre-cropped to fill the frame.

    Raises :class:`~shortskit.errors.InputFileError` (field "image") when the file is missing or is not a
    readable image.
    """
    if width < 1 or height < 1:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    src, out = Path(src), Path(out)
    _check_exists(src, scene)
    try:
        with _opened(src) as im:
            orientation = _orientation(im)
            stored_w, stored_h = im.size
            shown_w, shown_h = (stored_h, stored_w) if orientation in _SIDEWAYS else (stored_w, stored_h)
            # big JPEGs can decode at 1/2..1/8 scale for free; ask only for what the crop still needs
            need = max(width / shown_w, height / shown_h)
            if need < 1:
                im.draft(None, (math.ceil(stored_w * need), math.ceil(stored_h * need)))
            im.load()  # decode now, so truncated data fails here and not half-way through a render
            with contextlib.suppress(Exception):  # broken EXIF: keep the pixels as stored, not refuse the photo
                im = ImageOps.exif_transpose(im)
            rgb = _to_srgb(im, _to_rgb(im))
    except _DECODE_ERRORS as err:
        raise _unreadable(src, scene, err) from err

    box = _cover_box(rgb.size, width, height)
    # reducing_gap shrinks huge photos with a cheap box filter first; Lanczos still does the final pass
    frame = rgb.resize((width, height), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_png(frame, out)


def check_image(path: Path, *, scene: int | None = None) -> None:
    """Raise :class:`InputFileError` unless ``path`` is a picture Pillow can decode to the end."""
    path = Path(path)
    _check_exists(path, scene)
    try:
        with _opened(path) as im:
            im.draft(None, (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))  # JPEG: decode small, still whole
            im.load()
    except _DECODE_ERRORS as err:
        raise _unreadable(path, scene, err) from err


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of the picture at ``path`` as it is shown, i.e. after its EXIF orientation."""
    path = Path(path)
    _check_exists(path, None)
    try:
        with _opened(path) as im:
            w, h = im.size
            return (h, w) if _orientation(im) in _SIDEWAYS else (w, h)
    except _DECODE_ERRORS as err:
        raise _unreadable(path, None, err) from err
