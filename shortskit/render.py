"""The ffmpeg engine: one pass per scene clip (Ken Burns + captions + voice) and the final merge.

A clip is exactly ``frames / fps`` seconds long, video and audio alike, so clips join without drift. The
short's soundtrack is mixed once from the voices (music looped, faded and ducked under the voice by a
sidechain compressor) while the clips render, so the merge copies both video and audio as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shortskit import ffmpeg
from shortskit.captions import FONT_DIR

__all__ = [
    "PRESETS",
    "ClipSpec",
    "MusicMix",
    "Preset",
    "clip_frames",
    "make_soundtrack",
    "merge_clips",
    "motion_for",
    "render_clip",
    "resolve_encoder",
    "video_codec_args",
]

AUDIO_RATE = 48000
AUDIO_ARGS = ["-c:a", "aac", "-b:a", "192k", "-ar", str(AUDIO_RATE), "-ac", "2"]
# A clip's own audio is only for previewing that scene (the short's track is mixed once, from the voices):
# the fast AAC coder at a lower rate halves its cost.
CLIP_AUDIO_ARGS = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "128k", "-ar", str(AUDIO_RATE), "-ac", "2"]
MOTIONS = ("zoom_in", "zoom_out", "pan_left", "pan_right")


@dataclass(frozen=True)
class Preset:
    """Encoder settings for one quality level."""

    x264_preset: str  # libx264 -preset
    crf: int  # libx264 -crf (lower is better and bigger)
    nvenc_preset: str  # h264_nvenc -preset (p1 fastest .. p7 best)
    cq: int  # h264_nvenc -cq


PRESETS: dict[str, Preset] = {
    "draft": Preset("ultrafast", 30, "p1", 32),
    "preview": Preset("superfast", 26, "p3", 27),
    "production": Preset("veryfast", 20, "p5", 21),
}


def resolve_encoder(encoder: str) -> str:
    """``auto`` -> ``h264_nvenc`` when a usable NVIDIA GPU is present, else ``libx264``."""
    if encoder == "auto":
        return "h264_nvenc" if ffmpeg.nvenc_available() else "libx264"
    return encoder


def video_codec_args(encoder: str, quality: str) -> list[str]:
    """Encoder arguments for ``encoder`` at ``quality`` (both already resolved)."""
    p = PRESETS[quality]
    if encoder == "h264_nvenc":
        return ["-c:v", "h264_nvenc", "-preset", p.nvenc_preset, "-rc", "vbr", "-cq", str(p.cq), "-b:v", "0",
                "-pix_fmt", "yuv420p"]  # fmt: skip
    return ["-c:v", "libx264", "-preset", p.x264_preset, "-crf", str(p.crf), "-pix_fmt", "yuv420p"]


def clip_frames(seconds: float, fps: int) -> int:
    """Whole frames needed to show ``seconds`` (at least one)."""
    return max(1, math.ceil(round(seconds * fps, 6)))


def motion_for(index: int, motion: str) -> str:
    """The Ken Burns motion of scene ``index`` (0-based): ``auto`` cycles zoom in, pan, zoom out, pan."""
    if motion != "auto":
        return motion
    return ("zoom_in", "pan_right", "zoom_out", "pan_left")[index % 4]


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


@dataclass(frozen=True)
class ClipSpec:
    """Everything one scene clip is made of."""

    image: Path  # the scene's picture, any size (cover-cropped to the frame)
    voice: Path  # the narration WAV
    duration: float  # seconds: voice + pause (rounded up to whole frames)
    captions: Path | None = None  # ASS file, None for no captions
    width: int = 1080
    height: int = 1920
    fps: int = 30
    motion: str = "zoom_in"  # one of MOTIONS or "none"
    zoom: float = 0.10  # how far the motion zooms
    quality: str = "production"  # a PRESETS key
    encoder: str = "libx264"  # libx264 | h264_nvenc (resolved)
    fonts_dir: Path = FONT_DIR  # where libass looks for the caption font

    @property
    def frames(self) -> int:
        return clip_frames(self.duration, self.fps)

    @property
    def exact_duration(self) -> float:
        return self.frames / self.fps


def clip_args(spec: ClipSpec, out: Path) -> list[str | Path]:
    """The ffmpeg arguments that render ``spec`` into ``out`` (an .mp4)."""
    w, h, n = spec.width, spec.height, spec.frames
    chain = [
        f"scale={w}:{h}:force_original_aspect_ratio=increase:flags=lanczos",
        f"crop={w}:{h}",
        "setsar=1",
        _zoompan(spec.motion, spec.zoom, n, w, h, spec.fps),
    ]
    if spec.captions is not None:
        chain.append(
            f"ass=filename={ffmpeg.filter_escape(spec.captions)}:fontsdir={ffmpeg.filter_escape(spec.fonts_dir)}"
        )
    chain.append("format=yuv420p")
    graph = (
        f"[0:v]{','.join(chain)}[v];"
        f"[1:a]aresample={AUDIO_RATE},aformat=channel_layouts=stereo,apad=whole_dur={spec.exact_duration:.6f}[a]"
    )
    return [
        "-y", "-loglevel", "error",
        "-i", spec.image, "-i", spec.voice,
        "-filter_complex", graph,
        "-map", "[v]", "-map", "[a]",
        "-frames:v", str(n), "-t", f"{spec.exact_duration:.6f}",
        *video_codec_args(spec.encoder, spec.quality), "-r", str(spec.fps),
        *CLIP_AUDIO_ARGS,
        "-movflags", "+faststart", "-f", "mp4", out,
    ]  # fmt: skip


async def render_clip(spec: ClipSpec, out: Path, *, scene: int | None = None) -> Path:
    """Render one scene clip into ``out`` with a single ffmpeg pass."""
    await ffmpeg.run_async(clip_args(spec, out), what="rendering the scene clip", scene=scene)
    return out


def _concat_list(clips: Sequence[Path], path: Path) -> Path:
    lines = []
    for c in clips:
        escaped = str(Path(c).resolve()).replace("'", r"'\''")
        lines.append(f"file '{escaped}'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class MusicMix:
    """How the music goes under the voice."""

    path: Path  # any audio file ffmpeg reads; looped to length
    volume: float = 0.35  # gain before ducking
    duck: bool = True  # compress the music while the voice speaks
    fade_in: float = 1.0  # seconds
    fade_out: float = 1.5  # seconds


def soundtrack_args(
    voices: Sequence[Path], durations: Sequence[float], out: Path, *, music: MusicMix | None
) -> list[str | Path]:
    """ffmpeg arguments for the short's whole audio track: each voice padded to its scene's length, joined,
    with the music looped, faded and ducked under it (a sidechain compressor keyed by the voice)."""
    total = sum(durations)
    args: list[str | Path] = ["-y", "-loglevel", "error"]
    for v in voices:
        args += ["-i", v]
    parts = []
    for i, d in enumerate(durations):
        parts.append(
            f"[{i}:a]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"apad=whole_dur={d:.6f},atrim=end={d:.6f}[n{i}]"
        )
    labels = "".join(f"[n{i}]" for i in range(len(durations)))
    parts.append(f"{labels}concat=n={len(durations)}:v=0:a=1[voice]")
    if music is not None:
        m = len(voices)
        args += ["-stream_loop", "-1", "-i", music.path]
        mus = (
            f"[{m}:a]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"atrim=end={total:.6f},volume={music.volume}"
        )
        if music.fade_in > 0:
            mus += f",afade=t=in:d={music.fade_in}"
        if music.fade_out > 0:
            mus += f",afade=t=out:st={max(total - music.fade_out, 0):.3f}:d={music.fade_out}"
        parts.append(mus + "[music]")
        if music.duck:
            parts.append("[voice]asplit=2[vo][side]")
            parts.append("[music][side]sidechaincompress=threshold=0.02:ratio=10:attack=15:release=350:makeup=1[bed]")
            parts.append("[vo][bed]amix=inputs=2:duration=first:normalize=0[a]")
        else:
            parts.append("[voice][music]amix=inputs=2:duration=first:normalize=0[a]")
    else:
        parts.append("[voice]anull[a]")
    return [
        *args,
        "-filter_complex", ";".join(parts),
        "-map", "[a]", *AUDIO_ARGS, "-t", f"{total:.6f}", "-f", "mp4", out,
    ]  # fmt: skip


async def make_soundtrack(
    voices: Sequence[Path], durations: Sequence[float], out: Path, *, music: MusicMix | None = None
) -> Path:
    """Encode the short's audio track (AAC in an .m4a) once; the merge then only copies it."""
    if len(voices) != len(durations) or not voices:
        raise ValueError("make_soundtrack needs one duration per voice")
    await ffmpeg.run_async(soundtrack_args(voices, durations, out, music=music), what="mixing the soundtrack")
    return out


def merge_args(clips: Sequence[Path], soundtrack: Path, out: Path, *, list_file: Path) -> list[str | Path]:
    """ffmpeg arguments that join the clips' video and put the soundtrack under it, both copied as they are."""
    _concat_list(clips, list_file)
    return [
        "-y", "-loglevel", "error",
        "-f", "concat", "-safe", "0", "-i", list_file, "-i", soundtrack,
        "-map", "0:v", "-map", "1:a", "-c", "copy",
        "-movflags", "+faststart", "-f", "mp4", out,
    ]  # fmt: skip


async def merge_clips(clips: Sequence[Path], soundtrack: Path, out: Path) -> Path:
    """Join the scene clips into ``out`` over the soundtrack: no re-encoding at all."""
    if not clips:
        raise ValueError("merge_clips needs at least one clip")
    list_file = out.with_name(out.name + ".concat.txt")
    try:
        await ffmpeg.run_async(merge_args(clips, soundtrack, out, list_file=list_file), what="merging the clips")
    finally:
        list_file.unlink(missing_ok=True)
    return out
