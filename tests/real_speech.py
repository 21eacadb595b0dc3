"""Real recordings of people (Debian's klettres-data and alsa-utils), with word starts timed by hand, read as
the aligner would meet them: words read slowly one by one with pauses, the same under the music bed, and a
quicker reading with the silences around each recording cut short. For tests and bench/align.py.

The true starts are data (tests/data/real_speech.json, which names the sources and how they were timed); the
audio stays in the packages (``apt-get install klettres-data alsa-utils``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from shortskit.audio import write_wav
from tests.speech import RATE, Spoken, build

DATA = Path(__file__).parent / "data" / "real_speech.json"
INSTALL = "apt-get install klettres-data alsa-utils"
STYLES = ("slow", "music", "quick")


def clips() -> list[dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))["clips"]


def available() -> bool:
    """True when every recording the data names is on this machine."""
    return all(Path(c["file"]).is_file() for c in clips())


def languages() -> list[str]:
    return sorted({c["language"] for c in clips()})


def _decode(path: str) -> np.ndarray:
    from shortskit import ffmpeg

    return ffmpeg.decode_audio(path, sample_rate=RATE)


def case(out: Path, language: str, style: str, *, seed: int = 0, alsa: bool = False) -> Spoken:
    """The recordings of ``language`` (the alsa-utils phrases when ``alsa``) joined into one file.

    ``style``: ``slow`` (each recording whole, 0.3-1.0 s apart), ``music`` (the same under the music bed,
    15 dB below the voice) or ``quick`` (each cut to 50 ms before its first word and 80 ms after its speech,
    0.05-0.15 s apart).
    """
    chosen = [c for c in clips() if c["language"] == language and c["file"].startswith("/usr/share/sounds/") == alsa]
    rng = np.random.default_rng(seed)
    pieces: list[tuple[np.ndarray, list[float]]] = []
    for c in chosen:
        y = _decode(c["file"])
        starts = list(c["starts"])
        if style == "quick":  # the recording's own noise before and after its words, nothing else between
            a = max(0, round((starts[0] - rng.uniform(0.1, 0.2)) * RATE))
            y = y[a : round((c["speech_end"] + 0.05) * RATE)]
            starts = [s - a / RATE for s in starts]
        pieces.append((y, starts))
    gaps = [0.0] * len(pieces) if style == "quick" else list(rng.uniform(0.3, 1.0, len(pieces)))
    music = -15.0 if style == "music" else None
    spoken = build(out, pieces, [c["text"] for c in chosen], lead=0.5, trail=0.8, gaps=gaps, music_db=music, seed=seed)
    # a room's steady noise floor (-60 dB) under it all: no recording starts out of digital silence
    y = _decode(str(out))
    y = y + rng.normal(0.0, 10 ** (-60 / 20), len(y)).astype(np.float32)
    write_wav(out, y, RATE)
    return spoken
