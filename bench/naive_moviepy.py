"""The peer baseline: the same short made with moviepy 2 the way popular generators write theirs.

    python bench/naive_moviepy.py SCENES.json OUT.mp4

Per scene: an ``ImageClip`` zoomed by a per-frame ``resized(lambda t: ...)``, centred (out where our scene
zooms out, in everywhere else: these generators know no pans), a ``TextClip`` per caption group over it, one
``CompositeVideoClip``; the scenes concatenated, the voices (and the music bed, looped and quiet) under them,
and ``write_videofile`` with libx264 at our preset and crf. SCENES.json is what bench/render.py saved from our
own render (``frames.save_specs``): the same pictures, voices, caption groups and music, so only the video is
made here, where our time counts the pictures and voices too. It imports nothing from shortskit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from moviepy import (
    AudioFileClip,
    CompositeAudioClip,
    CompositeVideoClip,
    ImageClip,
    TextClip,
    concatenate_videoclips,
)
from moviepy.audio.fx import AudioLoop, MultiplyVolume


def scene_clip(scene: dict[str, Any]) -> CompositeVideoClip:
    w, h, zoom = scene["width"], scene["height"], scene["zoom"]
    d = scene["frames"] / scene["fps"]
    picture = ImageClip(scene["image"]).with_duration(d)
    if tuple(picture.size) != (w, h):
        picture = picture.resized((w, h))
    out = scene["motion"] == "zoom_out"  # the generators zoom in; they have no pans

    def grow(t: float) -> float:
        return 1 + zoom * (1 - t / d if out else t / d)

    picture = picture.resized(grow).with_position("center")
    style = scene["style"]
    captions = []
    for text, start, end in scene["groups"]:
        caption = TextClip(
            font=scene["font_file"],
            text=text.upper() if style["uppercase"] else text,
            font_size=style["size"],
            color=style["color"],
            stroke_color=style["stroke_color"],
            stroke_width=round(style["stroke"]),
            method="caption",
            size=(w - 160, None),
            text_align="center",
        )
        y = h - style["margin"] - caption.size[1]
        captions.append(caption.with_start(start).with_end(min(end, d)).with_position(("center", y)))
    return CompositeVideoClip([picture, *captions], size=(w, h)).with_duration(d)


def main(scenes_json: Path, out: Path) -> None:
    data = json.loads(scenes_json.read_text())
    scenes = data["scenes"]
    clips = [scene_clip(s) for s in scenes]
    video = concatenate_videoclips(clips)
    voices, t = [], 0.0
    for s, clip in zip(scenes, clips, strict=True):
        voices.append(AudioFileClip(s["voice"]).with_start(t))
        t += clip.duration
    if data.get("music"):
        music = AudioFileClip(data["music"]).with_effects([AudioLoop(duration=t), MultiplyVolume(0.1)])
        voices.append(music)
    video = video.with_audio(CompositeAudioClip(voices).with_duration(t))
    first = scenes[0]
    video.write_videofile(
        str(out),
        fps=first["fps"],
        codec="libx264",
        preset=first["x264_preset"],
        ffmpeg_params=["-crf", str(first["crf"]), "-pix_fmt", "yuv420p"],
        audio_codec="aac",
        audio_fps=48000,
        audio_bitrate="192k",
        logger=None,
    )
    video.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
