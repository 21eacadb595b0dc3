"""The short's audio track: every scene's voice padded to its scene's length, joined, with the music bed looped,
faded and ducked under the voice by a sidechain compressor, levelled to the loudness platforms play at, AAC.

Levelling (``output.loudness``, −14 LUFS by default, what YouTube, TikTok and Instagram play at): each voice and
the music are measured once with ffmpeg's EBU R128 meter; each voice is gained to the target (so voices from
different providers sound alike), the music to ``music.level`` LU under it (−13 by default), and a true-peak
limiter at −2 dBFS (linear: ``level=false``) holds the peaks under −1 dBTP after AAC. With ``loudness`` None
the levels are left as they come (``music.volume`` is then a plain gain). It is mixed as soon as every voice
is ready, while the clips still render, so the final merge only copies it.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shortskit import ffmpeg
from shortskit.engines.base import AUDIO_RATE

__all__ = [
    "AUDIO_ARGS",
    "CEILING_DB",
    "Loudness",
    "MusicMix",
    "make_soundtrack",
    "measure",
    "soundtrack_args",
    "voice_gain",
]

# The fast AAC coder: 40 % cheaper than twoloop and, measured, never over the limiter's ceiling.
AUDIO_ARGS = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k", "-ar", str(AUDIO_RATE), "-ac", "2"]
CEILING_DB = -2.0  # the limiter's sample-peak ceiling: true peak after AAC measured at -1.8 .. -2.0 dBTP
QUIET = -50.0  # LUFS: a voice measured quieter than this (under 0.4 s, or silent) is left as it is
_FORMAT = f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"


@dataclass(frozen=True)
class MusicMix:
    """How the music goes under the voice."""

    path: Path  # any audio file ffmpeg reads; looped to length
    volume: float = 0.35  # gain before ducking, when levels are left alone (loudness None)
    duck: bool = True  # compress the music while the voice speaks
    fade_in: float = 1.0  # seconds
    fade_out: float = 1.5  # seconds
    level: float = -13.0  # LU under the voice, when levelled (loudness set); the ducker takes ~11 dB more


@dataclass(frozen=True)
class Loudness:
    """What ffmpeg's EBU R128 meter says of one file."""

    integrated: float  # LUFS (-70 for silence or anything under 0.4 s)
    true_peak: float  # dBTP


# ffmpeg prints one summary per ebur128 filter, in no promised order: split them by the filter's index
_SUMMARY = re.compile(r"\[Parsed_ebur128_(\d+) @ [^\]]*\] Summary:(.*?)(?=\[Parsed_ebur128_|\Z)", re.S)
_INTEGRATED = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS")
_PEAK = re.compile(r"Peak:\s+(-?[\d.]+|-inf) dBFS")


def measure(paths: Sequence[Path], *, true_peak: bool | Sequence[bool] = True) -> list[Loudness]:
    """Integrated loudness and true peak of each file, in one ffmpeg call.

    ``true_peak`` False (for all, or per file) skips the 4x oversampled peak meter where nobody reads it (the
    music bed's peak: the limiter sees the mix): that file's ``true_peak`` is then NaN.
    """
    peaks = [true_peak] * len(paths) if isinstance(true_peak, bool) else list(true_peak)
    if len(peaks) != len(paths):
        raise ValueError("measure needs one true_peak flag per file")
    args: list[str | Path] = ["-nostats"]
    for p in paths:
        args += ["-i", p]
    meters = [f"ebur128={'peak=true:' if peak else ''}framelog=quiet" for peak in peaks]
    args += ["-filter_complex", ";".join(f"[{i}:a]{meter}[o{i}]" for i, meter in enumerate(meters))]
    for i in range(len(paths)):
        args += ["-map", f"[o{i}]", "-f", "null", "-"]
    found: dict[int, Loudness] = {}
    for n, summary in _SUMMARY.findall(ffmpeg.run(args, what="measuring loudness")):
        integrated, peak = _INTEGRATED.search(summary), _PEAK.search(summary)
        if integrated is None:
            continue
        found[int(n)] = Loudness(float(integrated[1]), float(peak[1]) if peak else math.nan)
    return [found[i] for i in range(len(paths))]


def voice_gain(voice: Loudness, target: float) -> float:
    """dB that bring a voice to ``target`` LUFS, plus what the limiter will take off its peaks.

    The limiter lowers a peaky voice by about 0.12 LU per dB its peaks would pass the ceiling (measured on
    eSpeak, which is quiet but peaky, and on compressed voices), up to 1 LU.
    """
    if voice.integrated < QUIET:
        return 0.0
    gain = target - voice.integrated
    over = voice.true_peak + gain - CEILING_DB
    return gain + min(1.0, max(0.0, 0.12 * over))


def soundtrack_args(
    voices: Sequence[Path],
    durations: Sequence[float],
    out: Path,
    *,
    music: MusicMix | None,
    loudness: float | None = None,
    levels: Sequence[Loudness] = (),
) -> list[str | Path]:
    """ffmpeg arguments for the short's whole audio track (``levels``: of each voice, then of the music, when
    ``loudness`` is set; see the module docstring)."""
    total = sum(durations)
    levelled = loudness is not None
    args: list[str | Path] = ["-y", "-loglevel", "error"]
    for v in voices:
        args += ["-i", v]
    parts = []
    for i, d in enumerate(durations):
        gain = f",volume={voice_gain(levels[i], loudness):.2f}dB" if loudness is not None else ""
        parts.append(f"[{i}:a]{_FORMAT}{gain},apad=whole_dur={d:.6f},atrim=end={d:.6f}[n{i}]")
    labels = "".join(f"[n{i}]" for i in range(len(durations)))
    parts.append(f"{labels}concat=n={len(durations)}:v=0:a=1[voice]")
    mixed = "[voice]"
    if music is not None:
        m = len(voices)
        args += ["-stream_loop", "-1", "-i", music.path]
        if loudness is not None and levels[m].integrated > QUIET:
            gain = f"{loudness + music.level - levels[m].integrated:.2f}dB"
        else:
            gain = str(music.volume if not levelled else 1.0)
        mus = f"[{m}:a]{_FORMAT},atrim=end={total:.6f},volume={gain}"
        if music.fade_in > 0:
            mus += f",afade=t=in:d={music.fade_in}"
        if music.fade_out > 0:
            mus += f",afade=t=out:st={max(total - music.fade_out, 0):.3f}:d={music.fade_out}"
        parts.append(mus + "[music]")
        if music.duck:
            # keyed by the voice: a levelled voice is hotter than a raw one, so it needs a higher threshold
            threshold = 0.04 if levelled else 0.02
            parts.append("[voice]asplit=2[vo][side]")
            parts.append(
                f"[music][side]sidechaincompress=threshold={threshold}:ratio=10:attack=15:release=350:makeup=1[bed]"
            )
            parts.append("[vo][bed]amix=inputs=2:duration=first:normalize=0[mix]")
        else:
            parts.append("[voice][music]amix=inputs=2:duration=first:normalize=0[mix]")
        mixed = "[mix]"
    if levelled:
        ceiling = 10 ** (CEILING_DB / 20)
        parts.append(f"{mixed}alimiter=limit={ceiling:.4f}:attack=5:release=50:level=false:latency=true[a]")
    else:
        parts.append(f"{mixed}anull[a]")
    return [
        *args,
        "-filter_complex", ";".join(parts),
        "-map", "[a]", *AUDIO_ARGS, "-t", f"{total:.6f}", "-f", "mp4", out,
    ]  # fmt: skip


async def make_soundtrack(
    voices: Sequence[Path],
    durations: Sequence[float],
    out: Path,
    *,
    music: MusicMix | None = None,
    loudness: float | None = -14.0,
) -> Path:
    """Encode the short's audio track (AAC in an .m4a) once; the merge then only copies it."""
    if len(voices) != len(durations) or not voices:
        raise ValueError("make_soundtrack needs one duration per voice")
    levels: list[Loudness] = []
    if loudness is not None:
        files, peaks = [*voices, *([music.path] if music else [])], [True] * len(voices) + [False] * bool(music)
        levels = await asyncio.to_thread(measure, files, true_peak=peaks)
    args = soundtrack_args(voices, durations, out, music=music, loudness=loudness, levels=levels)
    await ffmpeg.run_async(args, what="mixing the soundtrack")
    return out
