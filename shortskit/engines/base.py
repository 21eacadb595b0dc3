"""What every clip engine shares: the :class:`ClipSpec` of one scene clip, the :class:`ClipEngine` protocol,
the quality presets and the Ken Burns motion of each scene.

A clip is exactly ``frames / fps`` seconds long, video and audio alike, so clips join without drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from shortskit.captions import FONT_DIR, FONT_FILE, CaptionGroup
from shortskit.fonts import FontChoice
from shortskit.story import CaptionStyle
from shortskit.timing import clip_frames

__all__ = [
    "AUDIO_RATE",
    "MOTIONS",
    "PRESETS",
    "TAG_BT709",
    "TO_BT709",
    "ClipEngine",
    "ClipSpec",
    "Preset",
    "motion_for",
]

AUDIO_RATE = 48000  # Hz of every clip's and the short's audio
MOTIONS = ("zoom_in", "zoom_out", "pan_left", "pan_right")

# Every clip is BT.709, limited range, and says so. Players and platforms decode untagged HD video as BT.709,
# while swscale's default RGB -> YUV matrix is BT.601: greens came out 27 levels dark. TO_BT709: the options of
# the scale filter that converts the RGB picture with the BT.709 matrix into limited range (it tags the frames'
# matrix, which libass reads for its own colours). TAG_BT709: the filter that tags primaries and transfer too;
# the encoders write the frames' tags into the H.264 VUI and the MP4 (ffmpeg 9 lets the frames' unset tags win
# over -color_primaries / -color_trc output options, so those options alone leave them "unknown").
TO_BT709 = "out_color_matrix=bt709:out_range=tv"
TAG_BT709 = "setparams=colorspace=bt709:color_primaries=bt709:color_trc=bt709:range=tv"


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


def motion_for(index: int, motion: str) -> str:
    """The Ken Burns motion of scene ``index`` (0-based): ``auto`` cycles zoom in, pan, zoom out, pan."""
    if motion != "auto":
        return motion
    return ("zoom_in", "pan_right", "zoom_out", "pan_left")[index % 4]


@dataclass(frozen=True)
class ClipSpec:
    """Everything one scene clip is made of."""

    image: Path  # the scene's picture, any size (cover-cropped to the frame)
    voice: Path  # the narration WAV
    duration: float  # seconds: voice + pause (rounded up to whole frames)
    captions: Path | None = None  # the ASS file of the captions (the ffmpeg engine burns it in); None: no captions
    groups: tuple[CaptionGroup, ...] = ()  # the same captions as timed word groups (for engines that draw them)
    style: CaptionStyle = field(default_factory=CaptionStyle)  # how captions look (font already resolved)
    width: int = 1080
    height: int = 1920
    fps: int = 30
    motion: str = "zoom_in"  # one of MOTIONS or "none"
    zoom: float = 0.10  # how far the motion zooms
    quality: str = "production"  # a PRESETS key
    encoder: str = "libx264"  # libx264 | h264_nvenc (resolved)
    fonts_dir: Path = FONT_DIR  # where the caption font lives
    font_file: Path = FONT_FILE  # the caption font itself (the primary face)
    fonts: FontChoice | None = None  # the primary face and the fallbacks that draw words it cannot
    # libx264 threads for this clip; None: x264's own choice (every core), or SHORTSKIT_THREADS when set. The
    # render sets it while other clips encode beside this one, so that they share the cores (not in the key)
    threads: int | None = None

    @property
    def frames(self) -> int:
        return clip_frames(self.duration, self.fps)

    @property
    def exact_duration(self) -> float:
        return self.frames / self.fps


@runtime_checkable
class ClipEngine(Protocol):
    """Renders one scene clip from a :class:`ClipSpec` into an MP4 (the ffmpeg and moviepy engines, or yours).

    The clip must be H.264 yuv420p at ``spec.fps`` with exactly ``spec.frames`` frames, so the clips of a short
    join without re-encoding; any sound in it is left out of the short, whose soundtrack is mixed from the voices.
    """

    name: ClassVar[str]  # registry name; part of the clip cache key
    version: ClassVar[str]  # bump when the same spec would give a different clip

    async def render_clip(
        self, spec: ClipSpec, out: Path, *, scene: int | None = None, effects: Sequence[Any] = ()
    ) -> Path:
        """Render ``spec`` into ``out``; ``effects`` are engine-specific extras (moviepy effects)."""
        ...
