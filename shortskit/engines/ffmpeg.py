"""The default clip engine: one ffmpeg pass per scene clip (the picture with Ken Burns motion, and captions).

The still picture is read once and cover-cropped to the frame; zooms move through ``zoompan``, pans slide a
crop window over the picture scaled once; libass burns in the scene's ASS captions (with the caption font's
folder as ``fontsdir``, so no system fonts are needed); libx264 encodes, or NVENC where the GPU really has
an encoder. Clips are video only: the short's sound is mixed once, from the voices.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from shortskit import ffmpeg
from shortskit.engines.base import PRESETS, TAG_BT709, TO_BT709, ClipSpec
from shortskit.errors import ConfigError

__all__ = ["FfmpegEngine", "clip_args", "render_clip", "resolve_encoder", "video_codec_args"]


def resolve_encoder(encoder: str) -> str:
    """``auto`` -> ``h264_nvenc`` when a usable NVIDIA GPU is present, else ``libx264``."""
    if encoder == "auto":
        return "h264_nvenc" if ffmpeg.nvenc_available() else "libx264"
    return encoder


THREADS_ENV = "SHORTSKIT_THREADS"  # encoder threads per ffmpeg; a batch sets it so that its jobs share the cores


def thread_args() -> list[str]:
    """``-threads N`` when ``SHORTSKIT_THREADS`` is set, else nothing (x264 then takes every core)."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return []
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{THREADS_ENV} must be a whole number of threads, 1 or more (got {value!r})")
    return ["-threads", value]


def video_codec_args(encoder: str, quality: str, threads: int | None = None) -> list[str]:
    """Encoder arguments for ``encoder`` at ``quality`` (both already resolved); ``threads`` for libx264 (None:
    ``SHORTSKIT_THREADS``, else x264's own choice)."""
    p = PRESETS[quality]
    if encoder == "h264_nvenc":
        return ["-c:v", "h264_nvenc", "-preset", p.nvenc_preset, "-rc", "vbr", "-cq", str(p.cq), "-b:v", "0",
                "-pix_fmt", "yuv420p"]  # fmt: skip
    threading = ["-threads", str(threads)] if threads is not None else thread_args()
    return ["-c:v", "libx264", "-preset", p.x264_preset, "-crf", str(p.crf), "-pix_fmt", "yuv420p", *threading]


def _zoompan(motion: str, zoom: float, frames: int, width: int, height: int, fps: int) -> str:
    last = max(frames - 1, 1)
    p = f"(on/{last})"  # progress 0..1 over the clip
    # Centre the crop; for pans hold the zoom and slide across the spare width.
    cx, cy = "(iw-iw/zoom)/2", "(ih-ih/zoom)/2"
    if motion == "zoom_in" and zoom > 0:
        z, x, y = f"1+{zoom}*{p}", cx, cy
    elif motion == "zoom_out" and zoom > 0:
        z, x, y = f"1+{zoom}*(1-{p})", cx, cy
    elif motion == "pan_left" and zoom > 0:
        z, x, y = f"{1 + zoom}", f"(iw-iw/zoom)*(1-{p})", cy
    elif motion == "pan_right" and zoom > 0:
        z, x, y = f"{1 + zoom}", f"(iw-iw/zoom)*{p}", cy
    else:
        z, x, y = "1", "0", "0"
    return f"zoompan=z='{z}':x='{x}':y='{y}':d={frames}:s={width}x{height}:fps={fps}"


def _pan(spec: ClipSpec) -> str:
    """A pan without zoompan: the picture scaled once by the zoom, and a crop window sliding across it.

    zoompan rescales every frame (about 2 ms each at 1080x1920, and a freshly resampled grain that x264 then
    pays for); a pan holds its zoom, so one scale does. The rows kept and the even-pixel steps of the window
    are zoompan's own, so the motion is the same.
    """
    w, h, n, z = spec.width, spec.height, spec.frames, 1 + spec.zoom
    crop_w, crop_h = int(w / z), int(h / z)  # zoompan's (truncated) window
    top = int((h - h / z) / 2) & ~1  # its rows, centred on the chroma grid
    scaled_w = round(w * w / crop_w)  # the whole width at the window's scale
    last = max(n - 1, 1)
    progress = f"(n/{last})" if spec.motion == "pan_right" else f"(1-n/{last})"
    x = f"trunc(trunc({w - w / z:.6f}*{progress})/2)*2*{scaled_w}/{w}"  # zoompan's even source offset, scaled
    return (
        f"crop={w}:{crop_h}:0:{top},scale={scaled_w}:{h}:flags=bicubic,loop=loop={last}:size=1,"
        f"setpts=N/{spec.fps}/TB,crop={w}:{h}:x='{x}':y=0"
    )


def clip_args(spec: ClipSpec, out: Path) -> list[str | Path]:
    """The ffmpeg arguments that render ``spec`` into ``out`` (a video-only .mp4).

    The clip carries no sound: the short's soundtrack is mixed once from the voices, and the merge copies it.
    """
    w, h, n = spec.width, spec.height, spec.frames
    panning = spec.motion in ("pan_left", "pan_right") and spec.zoom > 0
    chain = [
        # The one RGB -> YUV conversion of the clip, with the BT.709 matrix: every later filter (the Ken Burns
        # scale, libass, which reads the frames' colour tags for its own colours) works on these frames.
        f"scale={w}:{h}:force_original_aspect_ratio=increase:flags=lanczos:{TO_BT709}",
        "format=yuv420p",
        f"crop={w}:{h}",
        "setsar=1",
        _pan(spec) if panning else _zoompan(spec.motion, spec.zoom, n, w, h, spec.fps),
    ]
    if spec.captions is not None:
        chain.append(
            f"ass=filename={ffmpeg.filter_escape(spec.captions)}:fontsdir={ffmpeg.filter_escape(spec.fonts_dir)}"
        )
    chain.append(TAG_BT709)
    return [
        "-y", "-loglevel", "error",
        "-i", spec.image,
        "-filter_complex", f"[0:v]{','.join(chain)}[v]",
        "-map", "[v]", "-frames:v", str(n),
        *video_codec_args(spec.encoder, spec.quality, spec.threads), "-r", str(spec.fps),
        "-an", "-f", "mp4", out,
    ]  # fmt: skip


async def render_clip(spec: ClipSpec, out: Path, *, scene: int | None = None) -> Path:
    """Render one scene clip into ``out`` with a single ffmpeg pass."""
    await ffmpeg.run_async(clip_args(spec, out), what="rendering the scene clip", scene=scene)
    return out


class FfmpegEngine:
    """The default engine: one ffmpeg pass per clip (captions from the ASS file in the spec)."""

    name: ClassVar[str] = "ffmpeg"
    version: ClassVar[str] = "3"  # 3: BT.709 matrix and tags

    async def render_clip(
        self, spec: ClipSpec, out: Path, *, scene: int | None = None, effects: Sequence[Any] = ()
    ) -> Path:
        """Render ``spec`` into ``out``; this engine takes no effects (use the moviepy engine for those)."""
        if effects:
            raise ConfigError("scene effects need engine='moviepy'")
        return await render_clip(spec, out, scene=scene)
