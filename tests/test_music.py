"""The generated background-music bed: length, format, loudness, determinism and smoothness."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from shortskit.errors import ConfigError
from shortskit.music import MOODS, PEAK_DBFS, make_music_bed


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2
        channels, rate = wav.getnchannels(), wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data.reshape(-1, channels).astype(np.float64) / 32768, channels, rate


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_music_bed(tmp_path_factory.mktemp("music") / "bed.wav", duration=21.37)


def test_length_format_and_rate(bed: Path) -> None:
    audio, channels, rate = read_wav(bed)
    assert channels == 2
    assert rate == 48000
    assert abs(len(audio) / rate - 21.37) < 0.001


def test_peak_is_near_minus_14_dbfs_and_not_silent(bed: Path) -> None:
    audio, _, _ = read_wav(bed)
    peak_db = 20 * np.log10(np.abs(audio).max())
    assert abs(peak_db - PEAK_DBFS) < 0.2
    rms_db = 20 * np.log10(np.sqrt(np.mean(audio**2)))
    assert rms_db > -32  # a bed you can hear, not a near-silent file
    # both sides carry sound and they are not one mono copy
    assert audio[:, 0].std() > 0.01 and audio[:, 1].std() > 0.01
    assert np.abs(audio[:, 0] - audio[:, 1]).mean() > 0.005
    # every stretch of a second has music in it (no gaps at chord changes)
    seconds = audio[: len(audio) // 48000 * 48000].reshape(-1, 48000, 2)
    assert (np.sqrt((seconds**2).mean(axis=(1, 2))) > 0.01).all()


def test_no_clicks(bed: Path) -> None:
    audio, _, _ = read_wav(bed)
    peak = np.abs(audio).max()
    jump = np.abs(np.diff(audio, axis=0)).max()
    assert jump < 0.15 * peak
    # starts and ends at silence, so starting, stopping or looping does not pop
    assert np.abs(audio[0]).max() < 0.002 and np.abs(audio[-1]).max() < 0.002


def test_deterministic_and_seed_sensitive(tmp_path: Path) -> None:
    a = make_music_bed(tmp_path / "a.wav", duration=5.0, seed=3)
    b = make_music_bed(tmp_path / "b.wav", duration=5.0, seed=3)
    c = make_music_bed(tmp_path / "c.wav", duration=5.0, seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_moods_differ_and_upbeat_has_more_notes(tmp_path: Path) -> None:
    calm, _, _ = read_wav(make_music_bed(tmp_path / "calm.wav", duration=8.0, mood="calm"))
    upbeat, _, _ = read_wav(make_music_bed(tmp_path / "up.wav", duration=8.0, mood="upbeat"))
    assert not np.array_equal(calm, upbeat)

    def onsets(audio: np.ndarray) -> int:
        # sudden rises of 10 ms energy after a first difference (which favours the bright plucks over the pad)
        bright = np.diff(audio.mean(axis=1))
        frames = bright[: len(bright) // 480 * 480].reshape(-1, 480)
        energy = np.sqrt((frames**2).mean(axis=1))
        return int(((energy[1:] > 1.5 * energy[:-1]) & (energy[1:] > 0.15 * energy.max())).sum())

    assert onsets(upbeat) > onsets(calm)


def test_other_sample_rate_and_short_duration(tmp_path: Path) -> None:
    audio, channels, rate = read_wav(make_music_bed(tmp_path / "s.wav", duration=0.5, sample_rate=44100))
    assert (channels, rate) == (2, 44100)
    assert abs(len(audio) / rate - 0.5) < 0.001
    assert np.abs(audio).max() > 0.1


def test_unknown_mood_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        make_music_bed(tmp_path / "x.wav", duration=2.0, mood="sad")
    for name in MOODS:
        assert name in str(info.value)


@pytest.mark.parametrize("duration", [0, -1.0, float("nan"), float("inf")])
def test_bad_duration_is_a_config_error(tmp_path: Path, duration: float) -> None:
    with pytest.raises(ConfigError):
        make_music_bed(tmp_path / "x.wav", duration=duration)
