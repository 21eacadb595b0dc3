"""The one edge where shortskit calls ffmpeg: argv lists in, our errors out (with ffmpeg's own stderr).

The binary is the static build that ``imageio-ffmpeg`` ships (libx264, libass, zoompan, sidechaincompress,
h264_nvenc), so no system ffmpeg is needed; ``IMAGEIO_FFMPEG_EXE`` points elsewhere if you must. No ffprobe
is shipped, so :func:`probe` reads what ``ffmpeg -i`` prints.

Inputs come from stories and servers, so every one is confined here, whoever calls: read through the ``file``
protocol only, and, unless the call names the demuxer (``-f``), by one of :data:`DEMUXERS` (no playlists such as
HLS, DASH or concat, which would read other files or wait forever). Every call has a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from shortskit.errors import ConfigError, RenderError

__all__ = [
    "DEMUXERS",
    "TIMEOUT_ENV",
    "MediaInfo",
    "audio_problem",
    "decode_audio",
    "ffmpeg_exe",
    "filter_escape",
    "frame_at",
    "nvenc_available",
    "probe",
    "run",
    "run_async",
    "time_limit",
]

# The demuxers an input may be opened with when a call does not name one: audio containers (WAV, MP3, MP4/M4A,
# Ogg/Opus, FLAC, Matroska/WebM, AAC, AIFF, CAF) and the PNG pictures shortskit makes. ffmpeg would otherwise
# guess, and a file it guesses to be a playlist (hls, dash, concat) reads the files or URLs it lists.
DEMUXERS = ("wav", "w64", "mp3", "mov", "ogg", "flac", "matroska", "aac", "aiff", "caf", "png_pipe")
TIMEOUT_ENV = "SHORTSKIT_FFMPEG_TIMEOUT"  # seconds any one ffmpeg call may run (default: DEFAULT_TIMEOUT)
DEFAULT_TIMEOUT = 900.0  # a 60 s production clip at 1080x1920 takes well under a minute on 2 cores
PROBE_TIMEOUT = 60.0  # reading a file's header (probe) never takes this long


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (imageio-ffmpeg's static build)."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a core dependency
        raise ConfigError("imageio-ffmpeg is not installed: pip install imageio-ffmpeg") from exc
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise ConfigError(f"no ffmpeg binary found ({exc})") from None


def _confined(args: Sequence[str]) -> list[str]:
    """``args`` with every input (``-i X``) read through the file protocol only, and by one of :data:`DEMUXERS`
    unless the options before it name the demuxer (``-f concat`` for our own lists, ``-f lavfi``)."""
    out: list[str] = []
    named = False  # a -f since the last input: this input's demuxer is the caller's choice
    for i, arg in enumerate(args):
        if arg == "-i" and i + 1 < len(args):
            out += ["-protocol_whitelist", "file"]
            if not named:
                out += ["-format_whitelist", ",".join(DEMUXERS)]
            named = False
        elif arg == "-f" and (i == 0 or args[i - 1] != "-i"):
            named = True
        out.append(arg)
    return out


def _argv(args: Sequence[str | Path]) -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", *_confined([str(a) for a in args])]


def time_limit(default: float = DEFAULT_TIMEOUT) -> float:
    """Seconds one ffmpeg call may run: ``$SHORTSKIT_FFMPEG_TIMEOUT``, else ``default``."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{TIMEOUT_ENV} must be a number of seconds more than 0 (got {raw!r})")
    return value


def _fail(what: str, code: int, stderr: str, scene: int | None) -> RenderError:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return RenderError(f"{what} failed (ffmpeg exit {code})", stderr="\n".join(lines[-20:]), scene=scene)


def _timed_out(what: str, limit: float, scene: int | None) -> RenderError:
    return RenderError(
        f"{what} took longer than {limit:g} s, the time limit of one ffmpeg call (${TIMEOUT_ENV}), and was stopped",
        scene=scene,
    )


def _run(argv: list[str], what: str, scene: int | None, limit: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, capture_output=True, check=False, timeout=limit)
    except subprocess.TimeoutExpired:  # subprocess.run has killed and reaped it
        raise _timed_out(what, limit, scene) from None


def run(
    args: Sequence[str | Path], *, what: str = "ffmpeg", scene: int | None = None, timeout: float | None = None
) -> str:
    """Run ffmpeg with ``args`` (after the binary); return its stderr, raise :class:`RenderError` on failure
    or when it runs past ``timeout`` seconds (default: :func:`time_limit`)."""
    proc = _run(_argv(args), what, scene, timeout or time_limit())
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise _fail(what, proc.returncode, stderr, scene)
    return stderr


async def run_async(
    args: Sequence[str | Path], *, what: str = "ffmpeg", scene: int | None = None, timeout: float | None = None
) -> str:
    """:func:`run` without blocking the event loop; cancelling it (or its time limit) kills ffmpeg."""
    limit = timeout or time_limit()
    proc = await asyncio.create_subprocess_exec(
        *_argv(args), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), limit)
    except BaseException as exc:
        # Kill ffmpeg and reap it even if this task is cancelled again meanwhile (Ctrl-C cancels every task, and
        # the way out cancels what is left once more): a child still running when the loop closes is reported
        # with a traceback from asyncio's child watcher.
        loop = asyncio.get_running_loop()
        reaping = asyncio.ensure_future(_reap(proc))
        deadline = loop.time() + _REAP_SECONDS
        while not reaping.done() and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({reaping}, timeout=left)
        if isinstance(exc, TimeoutError):
            raise _timed_out(what, limit, scene) from None
        raise
    stderr = err.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise _fail(what, proc.returncode or -1, stderr, scene)
    return stderr


_REAP_SECONDS = 5.0  # how long a cancelled run waits for its killed ffmpeg before it gives up on it


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Kill ``proc`` if it still runs, then wait for its exit and for its stderr to close."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    if proc.stderr is not None:
        await proc.stderr.read()
    await proc.wait()


def filter_escape(value: str | Path) -> str:
    """Escape a value (a path) for use as a filter option inside an ffmpeg filtergraph string."""
    v = str(value).replace("\\", "/")
    v = v.replace("'", r"\'").replace(":", r"\:")  # level 1: the option value
    for ch in "\\'[],;":  # level 2: the filtergraph
        v = v.replace(ch, "\\" + ch)
    return v


@dataclass(frozen=True)
class MediaInfo:
    """What ffmpeg says about a media file."""

    duration: float | None  # seconds (container)
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    pix_fmt: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


_DUR = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VID = re.compile(r"Stream #\S+.*?: Video: (\w+)[^,\n]*(?:\([^)]*\))?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+)")
_FPS = re.compile(r"([\d.]+) fps")
_AUD = re.compile(r"Stream #\S+.*?: Audio: (\w+)[^,\n]*, (\d+) Hz, ([^,\n]+)")


def probe(path: str | Path) -> MediaInfo:
    """Streams and duration of a media file, read from ``ffmpeg -i`` (no ffprobe needed)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    proc = _run(_argv(["-i", path]), f"reading {path.name}", None, time_limit(PROBE_TIMEOUT))
    text = proc.stderr.decode("utf-8", "replace")
    if "Invalid data found" in text or ("Stream #" not in text):
        raise RenderError(f"{path.name} is not a media file ffmpeg can read", stderr=text)
    duration = None
    if m := _DUR.search(text):
        h, mi, s = m.groups()
        duration = int(h) * 3600 + int(mi) * 60 + float(s)
    info: dict[str, object] = {"duration": duration}
    for line in text.splitlines():
        if "Video:" in line and "video_codec" not in info:
            if m := _VID.search(line):
                info.update(video_codec=m.group(1), pix_fmt=m.group(2), width=int(m.group(3)), height=int(m.group(4)))
            if f := _FPS.search(line):
                info["fps"] = float(f.group(1))
        elif "Audio:" in line and "audio_codec" not in info and (m := _AUD.search(line)):
            layout = m.group(3).strip()
            channels = {"mono": 1, "stereo": 2}.get(layout.split("(")[0].strip())
            if channels is None and (c := re.match(r"(\d+) channels", layout)):
                channels = int(c.group(1))
            info.update(audio_codec=m.group(1), sample_rate=int(m.group(2)), channels=channels)
    return MediaInfo(**info)  # type: ignore[arg-type]


def audio_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as audio, in words for the person who gave it (None when it can).

    "file not found", "the file is empty", "not audio ffmpeg can read" (a text file, random bytes, a broken
    header) or "has no audio stream" (a picture, a silent video).
    """
    path = Path(path)
    if not path.is_file():
        return "file not found"
    if path.stat().st_size == 0:
        return "the file is empty"
    try:
        info = probe(path)
    except RenderError:
        return "not audio ffmpeg can read"
    return None if info.has_audio else "has no audio stream"


def decode_audio(
    path: str | Path, *, sample_rate: int = 16000, start: float = 0.0, duration: float | None = None
) -> np.ndarray:
    """Mono float32 samples in [-1, 1] of a file's first audio stream, resampled to ``sample_rate``."""
    args: list[str | Path] = ["-ss", f"{start:.3f}", "-i", path]
    if duration is not None:
        args += ["-t", f"{duration:.3f}"]
    args += ["-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "-"]
    proc = _run(_argv(["-loglevel", "error", *args]), "decoding audio", None, time_limit())
    if proc.returncode != 0:
        raise _fail("decoding audio", proc.returncode, proc.stderr.decode("utf-8", "replace"), None)
    return np.frombuffer(proc.stdout, dtype="<i2").astype(np.float32) / 32768.0


def frame_at(path: str | Path, t: float):  # -> PIL.Image.Image
    """The video frame shown at ``t`` seconds, as a Pillow RGB image."""
    from PIL import Image

    proc = _run(
        _argv(
            [
                "-loglevel",
                "error",
                "-ss",
                f"{t:.3f}",
                "-i",
                path,
                "-frames:v",
                "1",
                "-f",
                "image2pipe",
                "-c:v",
                "png",
                "-",
            ]
        ),
        f"reading a frame at {t:.2f}s",
        None,
        time_limit(PROBE_TIMEOUT),
    )
    if proc.returncode != 0 or not proc.stdout:
        raise _fail(f"reading a frame at {t:.2f}s", proc.returncode, proc.stderr.decode("utf-8", "replace"), None)
    return Image.open(io.BytesIO(proc.stdout)).convert("RGB")


@lru_cache(maxsize=1)
def nvenc_available() -> bool:
    """True when ``h264_nvenc`` can really encode here (an NVIDIA GPU and driver are present)."""
    try:
        proc = subprocess.run(
            _argv(
                [
                    "-loglevel",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    "color=s=256x256:d=0.1",
                    "-c:v",
                    "h264_nvenc",
                    "-f",
                    "null",
                    "-",
                ]
            ),
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0
