"""The short's audio track, mixed by the real ffmpeg and decoded back: the music ducks under the voice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from shortskit import ffmpeg
from shortskit.audio import write_wav
from shortskit.soundtrack import MusicMix, make_soundtrack

RATE = 16000  # decoded for analysis


def _band(samples: np.ndarray, hz: float) -> float:
    """Amplitude of the ``hz`` component of a stretch of samples (a window of whole periods)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    return float(spectrum[np.abs(freqs - hz) < 15].max())


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("sources")
    t = np.arange(24000 * 6) / 24000
    speaking = (t % 2) < 1  # a "voice" (a 2 kHz tone) speaks one second, pauses the next
    voice = write_wav(folder / "voice.wav", 0.5 * np.sin(2 * np.pi * 2000 * t) * speaking, 24000)
    m = np.arange(48000 * 8) / 48000
    music = write_wav(folder / "music.wav", 0.3 * np.sin(2 * np.pi * 220 * m), 48000)  # a steady 220 Hz "bed"
    return voice, music


def _music_under_voice(voice: Path, music: Path, out: Path, *, duck: bool) -> float:
    """The music's level while the voice speaks over its level in the pauses (1 = not ducked at all)."""
    mix = MusicMix(music, volume=1.0, duck=duck, fade_in=0, fade_out=0)
    asyncio.run(make_soundtrack([voice], [6.0], out, music=mix))
    audio = ffmpeg.decode_audio(out, sample_rate=RATE)
    # 0.4 s in the middle of each second, clear of the compressor's attack and release
    spoken = [_band(audio[int((s + 0.5) * RATE) : int((s + 0.9) * RATE)], 220) for s in (0, 2, 4)]
    pauses = [_band(audio[int((s + 0.55) * RATE) : int((s + 0.95) * RATE)], 220) for s in (1, 3)]
    return float(np.median(spoken) / np.median(pauses))


def test_music_is_ducked_under_the_voice_and_only_when_asked(sources: tuple[Path, Path], tmp_path: Path) -> None:
    voice, music = sources
    ducked = _music_under_voice(voice, music, tmp_path / "ducked.m4a", duck=True)
    plain = _music_under_voice(voice, music, tmp_path / "plain.m4a", duck=False)
    assert plain == pytest.approx(1.0, abs=0.15)  # without ducking the music stays as loud under the voice
    assert ducked < 0.5  # with it, at least 6 dB lower while the voice speaks
    assert plain / ducked > 2
