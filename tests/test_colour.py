"""Colours as a player shows them: BT.709 with its tags in both engines, and photos converted to sRGB.

Frames are decoded the way players and platforms decode HD video, with the BT.709 matrix (and an accurate
conversion: swscale's fast path alone is 2-3 levels off even on a lossless file), and compared with the
sRGB picture the story gave.
"""

from __future__ import annotations

import io
import itertools
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortskit import ffmpeg
from shortskit.images import prepare_image
from tests import icc
from tests.conftest import run_cli, write_story

pytestmark = pytest.mark.slow

# Saturated colours are where the BT.601 / BT.709 mix-up shows (15-30 levels); grey and white never show it.
BANDS = [(30, 200, 60), (220, 30, 30), (250, 200, 40), (40, 60, 220), (200, 120, 240), (128, 128, 128), (20, 20, 20)]
W, H = 270, 480
TOLERANCE = 3  # levels per channel (the target)


def bands_picture(width: int = 540, height: int = 960) -> np.ndarray:
    a = np.zeros((height, width, 3), np.uint8)
    edges = np.linspace(0, height, len(BANDS) + 1).astype(int)
    for c, (top, bottom) in zip(BANDS, itertools.pairwise(edges), strict=True):
        a[top:bottom] = c
    return a


def band_means(frame: np.ndarray) -> list[np.ndarray]:
    """The mean colour of the middle of each band (away from the edges, chroma bleed and the zoom)."""
    h, w = frame.shape[:2]
    edges = np.linspace(0, h, len(BANDS) + 1)
    out = []
    for top, bottom in itertools.pairwise(edges):
        pad = (bottom - top) * 0.3
        out.append(frame[int(top + pad) : int(bottom - pad), w // 5 : -w // 5].reshape(-1, 3).mean(axis=0))
    return out


def decode_bt709(path: Path, t: float, width: int = W, height: int = H) -> np.ndarray:
    """The frame at ``t`` as a BT.709 player shows it, whatever the file's tags say."""
    proc = subprocess.run(
        [ffmpeg.ffmpeg_exe(), "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1",
         "-vf", "scale=in_color_matrix=bt709:in_range=tv:flags=accurate_rnd+full_chroma_int,format=rgb24",
         "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(proc.stdout, np.uint8).reshape(height, width, 3)


def colour_tags(path: Path) -> dict[str, int]:
    """The colour fields of the H.264 stream's VUI (read by ffmpeg's trace_headers)."""
    proc = subprocess.run(
        [ffmpeg.ffmpeg_exe(), "-hide_banner", "-i", str(path), "-c:v", "copy", "-bsf:v", "trace_headers",
         "-frames:v", "1", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    names = ("colour_primaries", "transfer_characteristics", "matrix_coefficients", "video_full_range_flag")
    found = {}
    for name in names:
        m = re.search(rf"\b{name}\s+\S+ = (\d+)", proc.stderr)
        found[name] = int(m.group(1)) if m else -1
    return found


def mp4_colr(path: Path) -> tuple[int, int, int, bool]:
    """The MP4's ``colr`` (nclx) box: primaries, transfer, matrix, full range."""
    data = path.read_bytes()
    i = data.find(b"colrnclx")
    assert i != -1, "no colr box"
    p, t, m = (int.from_bytes(data[i + 8 + 2 * k : i + 10 + 2 * k], "big") for k in range(3))
    return p, t, m, bool(data[i + 14] & 0x80)


def _story(folder: Path, engine_quality: str, picture: str = "bands.png", **extra: object) -> Path:
    return write_story(
        folder,
        {
            "title": "Bands",
            "language": "en",
            "scenes": [
                {"text": "Colour bands.", "image": picture, "motion": "zoom_in"},
                {"text": "Again.", "image": picture, "motion": "pan_right"},
            ],
            "output": {"width": W, "height": H, "fps": 15, "quality": engine_quality},
            "captions": {"enabled": False},
            "music": {"enabled": False},
            **extra,
        },
    )


@pytest.mark.parametrize("engine", ["ffmpeg", "moviepy"])
@pytest.mark.parametrize("quality", ["draft", "preview", "production"])
def test_bands_come_back_within_three_levels_and_tagged(tmp_path: Path, engine: str, quality: str) -> None:
    Image.fromarray(bands_picture()).save(tmp_path / "bands.png")
    story = _story(tmp_path, quality)
    out = tmp_path / "short.mp4"
    proc = run_cli("render", story, "-o", out, "--workspace", tmp_path / "ws", "--engine", engine)
    assert proc.returncode == 0, proc.stderr
    info = ffmpeg.probe(out)
    first = 0.05
    second = info.duration - 0.3  # inside the second scene (a pan: the rows do not move)
    for t in (first, second):
        for want, got in zip(BANDS, band_means(decode_bt709(out, t)), strict=True):
            assert np.abs(got - want).max() <= TOLERANCE, f"{engine} {quality} t={t}: {want} shown as {got.round(1)}"
    assert colour_tags(out) == {
        "colour_primaries": 1,
        "transfer_characteristics": 1,
        "matrix_coefficients": 1,
        "video_full_range_flag": 0,
    }
    assert mp4_colr(out) == (1, 1, 1, False)
    summary = subprocess.run([ffmpeg.ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True)
    assert "yuv420p(tv, bt709, progressive)" in summary.stderr  # what `ffmpeg -i` shows the user


def test_captions_keep_their_colour(tmp_path: Path) -> None:
    """libass draws on frames already converted with BT.709, so its highlight yellow is the story's yellow."""
    Image.new("RGB", (540, 960), (20, 20, 20)).save(tmp_path / "dark.png")
    # big glyphs at 540x960, so that their insides are wider than the 4:2:0 chroma blur at their edges
    story = write_story(
        tmp_path,
        {
            "title": "Yellow",
            "language": "en",
            "scenes": [{"text": "Mm", "image": "dark.png", "motion": "none"}],
            "output": {"width": 540, "height": 960, "fps": 15, "quality": "production"},
            "captions": {"highlight_color": "#20C040", "stroke": 0, "shadow": 0, "size": 400, "position": "center"},
            "music": {"enabled": False},
        },
    )
    out = tmp_path / "short.mp4"
    proc = run_cli("render", story, "-o", out, "--workspace", tmp_path / "ws")
    assert proc.returncode == 0, proc.stderr
    frame = decode_bt709(out, 0.3, 540, 960).reshape(-1, 3).astype(int)
    greenish = frame[(frame[:, 1] > 150) & (frame[:, 0] < 100)]
    assert len(greenish) > 200, "no highlighted word found"
    # the solid inside of the glyphs (the most common greenish colour) is the story's (32, 192, 64)
    values, counts = np.unique(greenish, axis=0, return_counts=True)
    solid = values[counts.argmax()]
    assert np.abs(solid - (32, 192, 64)).max() <= TOLERANCE, solid


# -- pictures with their own colour profile ----------------------------------------------------------------


def _profiled(tmp_path: Path, profile: bytes, fmt: str = "PNG") -> tuple[Path, np.ndarray]:
    """The bands as ``profile``'s numbers, with the profile embedded: the same colours, other numbers."""
    srgb = bands_picture(270, 480)
    numbers = icc.from_srgb(srgb, profile)
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.fromarray(numbers).save(path, fmt, icc_profile=profile, **({"quality": 98} if fmt == "JPEG" else {}))
    return path, srgb


@pytest.mark.parametrize(
    ("profile", "fmt"), [(icc.display_p3, "PNG"), (icc.display_p3, "JPEG"), (icc.adobe_rgb, "PNG")]
)
def test_a_picture_is_converted_from_its_profile_to_srgb(
    tmp_path: Path, profile: Callable[[], bytes], fmt: str
) -> None:
    src, srgb = _profiled(tmp_path, profile(), fmt)
    raw = np.asarray(Image.open(src).convert("RGB"))
    # the numbers as stored are far from the colours meant (what a short showed before)
    assert max(np.abs(a - b).max() for a, b in zip(band_means(raw), BANDS, strict=True)) > 20
    out = prepare_image(src, tmp_path / "out.png", width=270, height=480)
    got = np.asarray(Image.open(out))
    for want, mean in zip(BANDS, band_means(got), strict=True):
        assert np.abs(mean - want).max() <= (TOLERANCE if fmt == "PNG" else 4), (want, mean)
    assert srgb.shape == got.shape


def test_a_grey_profile_is_applied(tmp_path: Path) -> None:
    grey = Image.new("L", (270, 480), 128)
    grey.save(tmp_path / "grey.png", icc_profile=icc.linear_grey())
    out = np.asarray(Image.open(prepare_image(tmp_path / "grey.png", tmp_path / "o.png", width=270, height=480)))
    # linear-light 128/255 is sRGB 188
    assert np.abs(out.reshape(-1, 3).mean(axis=0) - 188).max() <= 2


def test_a_picture_without_a_profile_is_taken_as_srgb(tmp_path: Path) -> None:
    Image.fromarray(bands_picture(270, 480)).save(tmp_path / "plain.png")
    got = np.asarray(Image.open(prepare_image(tmp_path / "plain.png", tmp_path / "o.png", width=270, height=480)))
    assert np.array_equal(got, bands_picture(270, 480))


def test_a_broken_profile_keeps_the_numbers(tmp_path: Path) -> None:
    Image.fromarray(bands_picture(270, 480)).save(tmp_path / "bad.png", icc_profile=b"not a profile at all")
    got = np.asarray(Image.open(prepare_image(tmp_path / "bad.png", tmp_path / "o.png", width=270, height=480)))
    assert np.array_equal(got, bands_picture(270, 480))


def test_cmyk_jpeg_and_16_bit_and_palette_pictures_work(tmp_path: Path) -> None:
    Image.new("CMYK", (270, 480), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    red = np.asarray(Image.open(prepare_image(tmp_path / "cmyk.jpg", tmp_path / "c.png", width=270, height=480)))
    assert red[..., 0].mean() > 200 and red[..., 1].mean() < 60
    Image.fromarray(np.full((480, 270), 40000, np.uint16)).save(tmp_path / "deep.png")
    deep = np.asarray(Image.open(prepare_image(tmp_path / "deep.png", tmp_path / "d.png", width=270, height=480)))
    assert abs(deep.mean() - 40000 / 257) <= 1
    Image.fromarray(bands_picture(270, 480)).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    pal = np.asarray(Image.open(prepare_image(tmp_path / "p.png", tmp_path / "p2.png", width=270, height=480)))
    for want, mean in zip(BANDS, band_means(pal), strict=True):
        assert np.abs(mean - want).max() <= 2


@pytest.mark.parametrize("engine", ["ffmpeg", "moviepy"])
def test_a_p3_phone_photo_turned_sideways_renders_upright_in_srgb(tmp_path: Path, engine: str) -> None:
    """A phone photo: Display P3 numbers, stored sideways with an EXIF orientation tag (6: turn 90° clockwise)."""
    profile = icc.display_p3()
    srgb = bands_picture(540, 960)
    stored = np.ascontiguousarray(np.rot90(icc.from_srgb(srgb, profile), 1))  # shown after turning clockwise
    img = Image.fromarray(stored)
    exif = img.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=98, exif=exif.tobytes(), icc_profile=profile)
    (tmp_path / "phone.jpg").write_bytes(buf.getvalue())
    story = _story(tmp_path, "production", picture="phone.jpg")
    out = tmp_path / "short.mp4"
    proc = run_cli("render", story, "-o", out, "--workspace", tmp_path / "ws", "--engine", engine)
    assert proc.returncode == 0, proc.stderr
    for want, got in zip(BANDS, band_means(decode_bt709(out, 0.05)), strict=True):
        assert np.abs(got - want).max() <= 4, (want, got.round(1))  # JPEG's own rounding adds a level
