"""The frames our clip chains make, outside a render: the two floors and the look.

- Scene records: what a render gave each clip engine (:func:`record_specs`), saved as JSON, so that the
  floors, the look check and the moviepy peer work on exactly the same scenes.
- The floors: a plain libx264 encode at our preset and crf (``video_codec_args``) of (1) as many ``testsrc2``
  frames as the short has (the floor bench/render.py always had) and (2) exactly the frames our clip chains
  produce, written raw to one file first (untimed), so that x264 is timed alone on them. Ken Burns frames of a
  grainy picture cost x264 more than the mostly still test pattern (each zoom frame is a fresh resample), so
  (1) is the cheaper floor and the wrong one to judge a render against; (2) is what the issue means.
- The look: our pans (a crop sliding over the picture scaled once) against today's (zoompan), frame by frame
  before encoding; zooms run the very same chain as before.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure import Run, run_child
from shortskit import ffmpeg
from shortskit.engines.base import PRESETS, ClipSpec
from shortskit.engines.ffmpeg import _pan, _zoompan, clip_args, video_codec_args

__all__ = [
    "filters_cpu",
    "look",
    "record_specs",
    "same_frames_floor",
    "save_specs",
    "specs_from",
    "testsrc2_floor",
    "write_raw",
]

PAN = ("pan_left", "pan_right")


# -- the scenes of a render --------------------------------------------------------------------------------


def record_specs(into: list[tuple[int, ClipSpec]]) -> None:
    """From now on, every scene clip a render asks for appends (scene, spec) to ``into``."""
    from shortskit import stages

    original = stages.clip

    async def clip(ctx: Any, spec: ClipSpec, scene: int, *args: Any, **kwargs: Any) -> Path:
        into.append((scene, spec))
        return await original(ctx, spec, scene, *args, **kwargs)

    stages.clip = clip  # type: ignore[assignment]


def save_specs(specs: list[tuple[int, ClipSpec]], path: Path, music: Path | None) -> None:
    """The scenes as JSON: what the floors, the look and the moviepy peer need (captions as text + times)."""
    scenes = []
    for _, s in sorted(specs, key=lambda x: x[0]):
        st = s.style
        scenes.append({
            "image": str(s.image), "voice": str(s.voice), "captions": str(s.captions) if s.captions else None,
            "frames": s.frames, "fps": s.fps, "width": s.width, "height": s.height, "motion": s.motion,
            "zoom": s.zoom, "quality": s.quality, "encoder": s.encoder, "fonts_dir": str(s.fonts_dir),
            "font_file": str(s.font_file), "groups": [(g.text, g.start, g.end) for g in s.groups],
            "x264_preset": PRESETS[s.quality].x264_preset, "crf": PRESETS[s.quality].crf,
            "style": {"size": st.size, "stroke": st.stroke, "color": st.color[:7], "stroke_color": st.stroke_color[:7],
                      "margin": st.margin, "uppercase": st.uppercase},
        })  # fmt: skip
    path.write_text(json.dumps({"music": str(music) if music else None, "scenes": scenes}, indent=1))


def specs_from(path: Path) -> list[ClipSpec]:
    """The scenes saved by :func:`save_specs`, as clip specs."""
    out = []
    for d in json.loads(path.read_text())["scenes"]:
        plain = {k: d[k] for k in ("width", "height", "fps", "motion", "zoom", "quality", "encoder")}
        captions = Path(d["captions"]) if d["captions"] else None
        paths = {"image": Path(d["image"]), "voice": Path(d["voice"]), "captions": captions}
        fonts = {"fonts_dir": Path(d["fonts_dir"]), "font_file": Path(d["font_file"])}
        out.append(ClipSpec(duration=d["frames"] / d["fps"], **paths, **fonts, **plain))
    return out


# -- a clip's chain alone ---------------------------------------------------------------------------------


def chain(spec: ClipSpec, *, today: bool = False) -> list[str | Path]:
    """ffmpeg input and filter arguments of ``spec``'s clip, without its encoder or output (``today``: the pan
    made by zoompan, as before pans slid a crop)."""
    args = clip_args(spec, Path("unused.mp4"))
    graph = str(args[args.index("-filter_complex") + 1])
    if today and spec.motion in PAN and spec.zoom > 0:
        graph = graph.replace(
            _pan(spec), _zoompan(spec.motion, spec.zoom, spec.frames, spec.width, spec.height, spec.fps)
        )
    image = args[args.index("-i") + 1]
    return ["-loglevel", "error", "-i", image, "-filter_complex", graph, "-map", "[v]",
            "-frames:v", str(spec.frames), "-r", str(spec.fps)]  # fmt: skip


def _argv(args: Sequence[str | Path]) -> list[str | Path]:
    return [ffmpeg.ffmpeg_exe(), "-hide_banner", "-nostdin", *args]


def filters_cpu(spec: ClipSpec) -> Run:
    """One clip's chain run with no encoder at all (decode, scale, motion, captions; frames thrown away)."""
    return run_child(_argv([*chain(spec), "-c:v", "wrapped_avframe", "-f", "null", "-"]), what="the clip filters")


def write_raw(specs: Sequence[ClipSpec], path: Path) -> int:
    """Every frame of ``specs``' chains, in order, raw yuv420p into ``path``; returns the frame count."""
    with path.open("wb") as f:
        for spec in specs:
            subprocess.run(_argv([*chain(spec), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]), stdout=f, check=True)
    return sum(s.frames for s in specs)


# -- the floors --------------------------------------------------------------------------------------------


def _encode(source: list[str | Path], frames: int, out: Path, what: str) -> Run:
    codec = video_codec_args("libx264", "production")
    return run_child(_argv(["-y", "-loglevel", "error", *source, "-frames:v", str(frames), *codec, out]), what=what)


def testsrc2_floor(frames: int, out: Path, *, size: str = "1080x1920", fps: int = 30) -> Run:
    """libx264 of ``frames`` testsrc2 frames at our production settings (today's floor)."""
    return _encode(["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}"], frames, out, "the testsrc2 floor")


def same_frames_floor(raw: Path, frames: int, out: Path, *, size: str = "1080x1920", fps: int = 30) -> Run:
    """libx264 alone on the raw frames :func:`write_raw` wrote, at our production settings."""
    source: list[str | Path] = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", size, "-r", str(fps), "-i", raw]
    return _encode(source, frames, out, "the same-frames floor")


# -- the look ----------------------------------------------------------------------------------------------


def _rgb_frames(spec: ClipSpec, indices: set[int], *, today: bool) -> dict[int, np.ndarray]:
    argv = _argv([*chain(spec, today=today), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    size, k, out = spec.width * spec.height * 3, 0, {}
    with subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE) as p:
        assert p.stdout is not None
        while len(buf := p.stdout.read(size)) == size:
            if k in indices:
                out[k] = np.frombuffer(buf, np.uint8).reshape(spec.height, spec.width, 3).astype(np.int16)
            k += 1
    return out


def look(specs: Sequence[ClipSpec], per_scene: int = 8) -> dict[str, float | int]:
    """Our pan frames against today's (zoompan), before encoding: mean and lowest PSNR (dB), mean absolute
    difference (0..255), at ``per_scene`` frames spread over each pan scene."""
    psnr, mad = [], []
    for spec in specs:
        if spec.motion not in PAN or spec.zoom <= 0:
            continue  # zooms: the very same chain as today's
        idx = set(np.linspace(0, spec.frames - 1, per_scene).round().astype(int).tolist())
        ours, today = _rgb_frames(spec, idx, today=False), _rgb_frames(spec, idx, today=True)
        for i in sorted(idx):
            d = ours[i] - today[i]
            mse = float((d.astype(np.float64) ** 2).mean())
            psnr.append(99.0 if mse == 0 else 10 * np.log10(255**2 / mse))
            mad.append(float(np.abs(d).mean()))
    if not psnr:
        return {"frames": 0}
    return {"frames": len(psnr), "psnr": float(np.mean(psnr)), "psnr_min": min(psnr), "mad": float(np.mean(mad))}
