"""The moviepy engine: the same scene clip as the ffmpeg engine, built as moviepy 2 clips you can extend.

The ffmpeg engine (:mod:`shortskit.engines.ffmpeg`) is the fast default. This engine exists for notebook users who
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
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from shortskit import ffmpeg
from shortskit.engines.base import AUDIO_RATE, PRESETS, TAG_BT709, TO_BT709, ClipSpec
from shortskit.engines.moviepy_captions import caption_clips
from shortskit.errors import RenderError, ShortskitError

if TYPE_CHECKING:
    from moviepy import VideoClip
    from PIL import Image as PILImage

__all__ = ["MoviepyEngine", "render_clip_moviepy", "scene_clip"]


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


def scene_clip(spec: ClipSpec) -> VideoClip:
    """One scene as a moviepy clip (a ``CompositeVideoClip`` when it has captions) that looks like the ffmpeg engine's clip.

    The picture is cover-cropped to ``spec.width`` x ``spec.height`` and moves as ``spec.motion`` says
    (the same zoom/pan arithmetic as the ffmpeg engine); ``spec.groups`` (times relative to the scene) are
    drawn as captions in ``spec.style`` with the spoken word highlighted; the audio is the voice padded with
    silence. The clip lasts exactly ``spec.frames / spec.fps`` seconds. Call ``close()`` when done.
    It holds no open files or processes: everything is decoded up front.
    """
    from moviepy import CompositeVideoClip

    duration = _exact_duration(spec)
    audio = _voice(spec, duration)
    picture = _ken_burns(spec, duration)
    captions = caption_clips(spec, duration) if spec.style.enabled else []
    # moviepy's CompositeVideoClip with use_bgclip and nothing over the background fails (max() of no ends)
    clip = (
        CompositeVideoClip([picture, *captions], size=(spec.width, spec.height), use_bgclip=True)
        if captions
        else picture
    )
    return clip.with_duration(duration).with_audio(audio)


# -- writing -------------------------------------------------------------------------------------------


def _write(
    spec: ClipSpec,
    out: Path,
    scene: int | None,
    effects: list[Any],
) -> None:
    preset = PRESETS[spec.quality]
    # moviepy pipes RGB frames: convert them with the BT.709 matrix and tag them, as the ffmpeg engine does
    params = ["-vf", f"scale={TO_BT709},format=yuv420p,{TAG_BT709}", "-crf", str(preset.crf), "-pix_fmt", "yuv420p",
              "-movflags", "+faststart"]  # fmt: skip
    temp_audio = out.with_name(f"{out.stem}.audio.m4a")
    clip = final = None
    try:
        clip = scene_clip(spec)
        final = clip.with_effects(effects) if effects else clip
        final.write_videofile(
            str(out),
            fps=spec.fps,
            codec="libx264",
            audio_codec="aac",
            audio_fps=AUDIO_RATE,
            audio_bitrate="192k",
            preset=preset.x264_preset,
            ffmpeg_params=params,
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
) -> Path:
    """Render ``spec`` into ``out`` (an .mp4) with moviepy, after applying the moviepy ``effects`` to the scene.

    The file matches what the merge step expects: H.264 yuv420p at ``spec.fps`` with ``spec.frames`` frames,
    AAC audio at 48 kHz. moviepy and ffmpeg failures become :class:`RenderError` naming ``scene``.
    """
    out = Path(out)
    await asyncio.to_thread(_write, spec, out, scene, list(effects))
    return out


class MoviepyEngine:
    """The moviepy 2 engine: the same look, and room for your own moviepy effects per scene."""

    name: ClassVar[str] = "moviepy"
    version: ClassVar[str] = "3"  # 2: BT.709 matrix and tags; 3: the chosen face of a .ttc collection

    async def render_clip(
        self, spec: ClipSpec, out: Path, *, scene: int | None = None, effects: Sequence[Any] = ()
    ) -> Path:
        """Render ``spec`` into ``out`` with the moviepy ``effects`` applied to the scene."""
        return await render_clip_moviepy(spec, out, scene=scene, effects=effects)
