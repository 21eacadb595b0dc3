"""The last step of a short: the scene clips joined over the soundtrack, both copied as they are (no re-encode)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shortskit import ffmpeg

__all__ = ["merge_args", "merge_clips"]


def _concat_list(clips: Sequence[Path], path: Path) -> Path:
    lines = []
    for c in clips:
        escaped = str(Path(c).resolve()).replace("'", r"'\''")
        lines.append(f"file '{escaped}'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def merge_args(clips: Sequence[Path], soundtrack: Path, out: Path, *, list_file: Path) -> list[str | Path]:
    """ffmpeg arguments that join the clips' video and put the soundtrack under it, both copied as they are."""
    _concat_list(clips, list_file)
    return [
        # -xerror: a clip the concat demuxer cannot open (a damaged file in the workspace) must fail the merge;
        # without it ffmpeg logs the error and exits 0 with a short that ends before that clip
        "-y", "-loglevel", "error", "-xerror",
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
