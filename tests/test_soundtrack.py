"""The short's audio track, mixed by the real ffmpeg and decoded back: the music ducks under the voice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from shortskit import ffmpeg
from shortskit.audio import write_wav
from shortskit.soundtrack import MusicMix, make_soundtrack, measure

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


# -- levels ------------------------------------------------------------------------------------------------


def _syllables(seconds: float, amplitude: float, rate: int = 24000) -> np.ndarray:
    """A voice-like test signal: a 1 kHz tone in 150 ms bursts with short gaps."""
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * 1000 * t) * ((t % 0.2) < 0.15)


def _loudness_of(track: Path, start: float, end: float, name: str) -> float:
    """Integrated loudness (LUFS) of ``track`` between two times (both channels), by ffmpeg's meter."""
    part = track.with_name(f"{name}.wav")
    ffmpeg.run(["-y", "-loglevel", "error", "-ss", f"{start}", "-t", f"{end - start}", "-i", track, part])
    return measure([part])[0].integrated


@pytest.fixture(scope="module")
def uneven(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A whisper of a voice, a shouting one (30 dB apart), and a steady music bed."""
    folder = tmp_path_factory.mktemp("uneven")
    quiet = write_wav(folder / "quiet.wav", _syllables(3.0, 0.02), 24000)
    loud = write_wav(folder / "loud.wav", _syllables(3.0, 0.6), 24000)
    m = np.arange(48000 * 8) / 48000
    music = write_wav(folder / "music.wav", 0.3 * np.sin(2 * np.pi * 220 * m), 48000)
    return quiet, loud, music


def test_voices_are_levelled_to_one_another_and_the_target(uneven: tuple[Path, Path, Path], tmp_path: Path) -> None:
    quiet, loud, _ = uneven
    out = asyncio.run(make_soundtrack([quiet, loud], [3.0, 3.0], tmp_path / "a.m4a", music=None, loudness=-16.0))
    first, second = _loudness_of(out, 0.1, 2.9, "first"), _loudness_of(out, 3.1, 5.9, "second")
    assert abs(first - second) < 1.0
    assert first == pytest.approx(-16, abs=1) and second == pytest.approx(-16, abs=1)
    whole = measure([out])[0]
    assert whole.integrated == pytest.approx(-16, abs=1) and whole.true_peak <= -1.0


def test_without_a_loudness_the_voices_keep_their_levels(uneven: tuple[Path, Path, Path], tmp_path: Path) -> None:
    quiet, loud, _ = uneven
    out = asyncio.run(make_soundtrack([quiet, loud], [3.0, 3.0], tmp_path / "a.m4a", music=None, loudness=None))
    gap = _loudness_of(out, 3.1, 5.9, "second") - _loudness_of(out, 0.1, 2.9, "first")
    assert gap == pytest.approx(29.5, abs=1.5)  # 0.6 / 0.02 is 29.5 dB, left as it came


def test_the_music_sits_its_level_under_the_voice(uneven: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, loud, music = uneven
    silence = write_wav(tmp_path / "silence.wav", np.zeros(24000 * 3), 24000)  # a scene with nothing said
    mix = MusicMix(music, duck=False, fade_in=0, fade_out=0, level=-10.0)
    out = asyncio.run(make_soundtrack([loud, silence], [3.0, 3.0], tmp_path / "m.m4a", music=mix, loudness=-14.0))
    alone = _loudness_of(out, 3.2, 5.8, "alone")
    assert alone == pytest.approx(-14 - 10, abs=1)  # music.level LU under the voice's target


def test_measure_skips_the_true_peak_where_asked(uneven: tuple[Path, Path, Path]) -> None:
    quiet, loud, music = uneven
    levels = measure([quiet, loud, music], true_peak=[True, True, False])
    assert levels[1].integrated - levels[0].integrated == pytest.approx(29.5, abs=1)
    assert levels[1].true_peak == pytest.approx(20 * np.log10(0.6), abs=0.5)
    assert np.isnan(levels[2].true_peak) and levels[2].integrated > -30
    with pytest.raises(ValueError, match="one true_peak flag per file"):
        measure([quiet, loud], true_peak=[True])
