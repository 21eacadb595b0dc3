"""The short's audio track: every scene's voice padded to its scene's length, joined, with the music bed
looped, faded and ducked under the voice by a sidechain compressor, encoded once as AAC.

It is mixed as soon as every voice is ready, while the clips still render, so the final merge only copies it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shortskit import ffmpeg
from shortskit.engines.base import AUDIO_RATE

__all__ = ["AUDIO_ARGS", "MusicMix", "make_soundtrack", "soundtrack_args"]

AUDIO_ARGS = ["-c:a", "aac", "-b:a", "192k", "-ar", str(AUDIO_RATE), "-ac", "2"]


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
