"""Pictures: the procedural placeholder provider and the preparation of user images."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortskit import ffmpeg
from shortskit.errors import ConfigError, InputFileError
from shortskit.images import image_size, prepare_image, save_png
from shortskit.providers import ImageProvider, create_image
from shortskit.providers.procedural import STYLES, ProceduralImages, _drawable, _font, _wrap, render_placeholder

W, H = 540, 960  # half the real frame: same code paths, a quarter of the time


def generate(tmp_path: Path, prompt: str, *, seed: int = 7, name: str = "out.png", **options: object) -> Path:
    provider = ProceduralImages(**options)  # type: ignore[arg-type]
    return asyncio.run(provider.generate(prompt, tmp_path / name, width=W, height=H, seed=seed))


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


# ------------------------------------------------------------------------------------------- procedural


def test_procedural_is_an_image_provider_with_settings() -> None:
    provider = create_image("procedural", style="ocean", label=False)
    assert isinstance(provider, ImageProvider)
    assert provider.name == "procedural"
    assert provider.settings() == {"style": "ocean", "label": False}
    assert provider.max_concurrency == 2
    assert provider.rate_per_minute is None


def test_unknown_style_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        ProceduralImages(style="pastel")
    for name in STYLES:
        assert name in str(info.value)


def test_full_frame_png_has_exact_size_and_is_not_flat(tmp_path: Path) -> None:
    out = asyncio.run(
        ProceduralImages().generate("a lighthouse on a cliff", tmp_path / "a.png", width=1080, height=1920, seed=1)
    )
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.size == (1080, 1920)
        assert im.mode == "RGB"
    px = pixels(out)
    assert px.std() > 20
    # the bottom (silhouettes) and the top (sky) are clearly different
    assert abs(px[:200].mean() - px[-200:].mean()) > 10


def test_same_prompt_and_seed_give_identical_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path, "a cat on a roof", name="a.png")
    b = generate(tmp_path, "a cat on a roof", name="b.png")
    assert a.read_bytes() == b.read_bytes()


def test_different_prompts_and_seeds_give_different_pictures(tmp_path: Path) -> None:
    base = pixels(generate(tmp_path, "a cat on a roof", name="a.png", label=False))
    other_prompt = pixels(generate(tmp_path, "a dog in a park", name="b.png", label=False))
    other_seed = pixels(generate(tmp_path, "a cat on a roof", seed=8, name="c.png", label=False))
    assert np.abs(base - other_prompt).mean() > 5
    assert np.abs(base - other_seed).mean() > 5


def test_ocean_prompt_is_bluer_than_a_desert_sunset(tmp_path: Path) -> None:
    ocean = pixels(generate(tmp_path, "waves on the open ocean", name="o.png"))
    desert = pixels(generate(tmp_path, "desert fire sunset", name="d.png"))

    def blueness(px: np.ndarray) -> float:
        return float(px[..., 2].mean() - px[..., 0].mean())

    assert blueness(ocean) > blueness(desert) + 40


def test_label_changes_only_the_upper_third(tmp_path: Path) -> None:
    on = pixels(generate(tmp_path, "a quiet harbour at dawn", name="on.png", label=True))
    off = pixels(generate(tmp_path, "a quiet harbour at dawn", name="off.png", label=False))
    diff = np.abs(on - off).max(axis=2)
    assert (diff[: H // 3] > 30).sum() > 500  # the tag and the prompt are really there
    assert diff[H // 3 :].max() == 0  # captions' half of the frame is untouched


def test_spanish_and_emoji_prompt_renders(tmp_path: Path) -> None:
    out = generate(tmp_path, "¿Señor niño? 😀 ¡Qué día!", name="es.png")
    assert pixels(out).shape == (H, W, 3)
    font = _font(38)
    assert _drawable("¿Señor niño? 😀 ☺\u200d x", font) == "¿Señor niño? x"


def test_long_prompt_wraps_to_three_lines_with_ellipsis() -> None:
    font = _font(38)
    lines = _wrap("word " * 200 + "Supercalifragilistic" * 5, font, 400, 3)
    assert len(lines) == 3
    assert lines[-1].endswith("…")
    assert all(font.getlength(line) <= 400 for line in lines)


def test_jpeg_output_when_asked(tmp_path: Path) -> None:
    out = generate(tmp_path, "a red kite", name="kite.jpg")
    with Image.open(out) as im:
        assert im.format == "JPEG"
        assert im.size == (W, H)


def test_render_is_size_independent_composition() -> None:
    # a preview at a smaller size shows the same picture, so the small image matches a downscaled big one
    big = render_placeholder("mountains at night", width=540, height=960, seed=3, label=False)
    small = render_placeholder("mountains at night", width=270, height=480, seed=3, label=False)
    shrunk = np.asarray(big.resize((270, 480), Image.Resampling.BOX), dtype=np.int16)
    assert np.abs(shrunk - np.asarray(small, dtype=np.int16)).mean() < 6


BLOCKS = Path(__file__).parent / "data" / "procedural_blocks.json"


@pytest.mark.parametrize("style", [s for s in STYLES if s != "auto"] + ["auto"])
def test_every_style_still_looks_as_it_did(style: str) -> None:
    # block means of each style as first drawn (before the drawing was made cheaper): the same picture,
    # up to a level of rounding here and there, so every 40x40 block keeps its colour within half a level
    ref = json.loads(BLOCKS.read_text())
    w, h = ref["size"]
    picture = render_placeholder(ref["prompt"].format(style=style), width=w, height=h, seed=ref["seed"], style=style)
    b = ref["block"]
    got = np.asarray(picture, dtype=np.float64).reshape(h // b, b, w // b, b, 3).mean(axis=(1, 3))
    assert np.abs(got - np.array(ref["means"][style])).max() < 0.5


def test_night_keeps_its_stars() -> None:
    # stars are a pixel or a small cross each: too small for the block means, so they are counted
    ref = json.loads(BLOCKS.read_text())
    w, h = ref["size"]
    picture = render_placeholder(
        ref["prompt"].format(style="night"), width=w, height=h, seed=ref["seed"], style="night"
    )
    sky = np.asarray(picture, dtype=np.int16).max(axis=2)[h // 4 : int(h * 0.55)]  # below the label
    bright = sky - np.median(sky, axis=1, keepdims=True) > 60
    assert int(bright.sum()) == ref["night_stars"]


def test_stored_png_reads_back_pixel_for_pixel(tmp_path: Path) -> None:
    picture = render_placeholder("a harbour at dawn", width=W + 1, height=H - 1, seed=2)  # odd sizes too
    out = save_png(picture, tmp_path / "p.png")
    with Image.open(out) as im:
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", picture.size)
        assert np.array_equal(np.asarray(im), np.asarray(picture))
    # and ffmpeg, which reads it for the clip, sees the same pixels
    seen = ffmpeg.frame_at(out, 0.0)
    assert np.array_equal(np.asarray(seen.convert("RGB")), np.asarray(picture))


def test_stored_png_takes_rgb_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RGB"):
        save_png(Image.new("RGBA", (4, 4)), tmp_path / "a.png")


# ----------------------------------------------------------------------------------------- user images


def is_red(rgb: np.ndarray) -> bool:
    return bool(rgb[0] > 180 and rgb[1] < 80 and rgb[2] < 80)


def test_exif_orientation_is_applied_before_the_crop(tmp_path: Path) -> None:
    stored = Image.new("RGB", (400, 300), (40, 90, 200))
    stored.paste((255, 0, 0), (0, 0, 100, 80))  # red block at the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display": the top-left corner ends up top-right
    src = tmp_path / "phone.jpg"
    stored.save(src, "JPEG", exif=exif.tobytes(), quality=95)
    assert image_size(src) == (300, 400)

    out = prepare_image(src, tmp_path / "out.png", width=1080, height=1920)
    px = pixels(out)
    assert px.shape == (1920, 1080, 3)
    assert is_red(px[100, 1050])  # top right
    assert not is_red(px[100, 30])  # not top left (no rotation, or the wrong way)
    assert not is_red(px[1800, 1050])  # not bottom right (a flip)


def test_alpha_is_flattened_on_black(tmp_path: Path) -> None:
    im = Image.new("RGBA", (600, 600), (0, 255, 0, 0))
    im.paste((0, 255, 0, 255), (300, 0, 600, 600))
    src = tmp_path / "logo.png"
    im.save(src)
    px = pixels(prepare_image(src, tmp_path / "out.png", width=270, height=480))
    assert px.shape == (480, 270, 3)
    assert px[240, 10].tolist() == [0, 0, 0]
    assert px[240, 260].tolist() == [0, 255, 0]


def test_large_jpeg_is_centre_cropped(tmp_path: Path) -> None:
    im = Image.new("RGB", (4000, 3000), (255, 0, 0))
    im.paste((0, 0, 255), (2000, 0, 4000, 3000))
    src = tmp_path / "big.jpg"
    im.save(src, quality=90)
    px = pixels(prepare_image(src, tmp_path / "out.png", width=1080, height=1920))
    assert px.shape == (1920, 1080, 3)
    assert is_red(px[960, 100])
    assert px[960, 980, 2] > 200 and px[960, 980, 0] < 60
    # the split sits at the centre of the frame: the crop was centred
    row = px[960, :, 0] > 128
    assert abs(int(row.sum()) - 540) < 8


def test_missing_file_raises_input_file_error(tmp_path: Path) -> None:
    src = tmp_path / "nowhere.png"
    with pytest.raises(InputFileError) as info:
        prepare_image(src, tmp_path / "out.png", width=270, height=480, scene=3)
    assert "nowhere.png" in str(info.value)
    assert info.value.field == "image"
    assert info.value.scene == 3
    assert info.value.provider == "local"


def truncated_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8))
    buf = io.BytesIO()
    noise.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    return data[: len(data) * 6 // 10]


@pytest.mark.parametrize(
    ("name", "data"),
    [("junk.jpg", bytes(range(256)) * 8), ("empty.png", b""), ("cut.jpg", truncated_jpeg())],
)
def test_unreadable_file_raises_input_file_error(tmp_path: Path, name: str, data: bytes) -> None:
    src = tmp_path / name
    src.write_bytes(data)
    with pytest.raises(InputFileError) as info:
        prepare_image(src, tmp_path / "out.png", width=270, height=480)
    assert name in str(info.value)
    assert "cannot read" in str(info.value)
    assert info.value.field == "image"
    assert not (tmp_path / "out.png").exists()
