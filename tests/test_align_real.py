"""The model-free aligner on real recordings of people (Debian's klettres-data and alsa-utils), whose word starts
were timed by hand (tests/data/real_speech.json): words read one by one with pauses, the same under the music
bed, and a quicker reading. CI installs the two packages; elsewhere these tests skip and say how to run them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import shortskit
from tests import real_speech
from tests.speech import errors_ms

pytestmark = pytest.mark.skipif(not real_speech.available(), reason=f"needs the recordings: {real_speech.INSTALL}")


def _errors(tmp_path: Path, language: str, style: str, alsa: bool = False) -> np.ndarray:
    case = real_speech.case(tmp_path / f"{style}.wav", language, style, alsa=alsa)
    words = shortskit.align(case.path, case.text, language=language, aligner="dtw")
    assert [w.text for w in words] == case.text.split()
    return errors_ms([w.start for w in words], case.starts)


# every language of the recordings (French: a person saying syllables one by one, seconds apart, each opening
# with its recording's noise fading in; once refused as "implausible for this text" or "does not seem to say
# this text", then aligned 90 ms off at the median, the fading noise taken for the word's start)
@pytest.mark.parametrize(
    ("language", "alsa"),
    [
        ("de", False),
        ("en", False),
        ("en", True),
        ("es", False),
        ("fr", False),
        ("he", False),
        ("it", False),
        ("pt-BR", False),
        ("ru", False),
    ],
)
def test_real_speech_word_starts(tmp_path: Path, language: str, alsa: bool) -> None:
    err = np.concatenate([_errors(tmp_path, language, style, alsa) for style in real_speech.STYLES])
    assert np.median(err) <= 50 and np.percentile(err, 90) <= 150, (np.median(err), np.percentile(err, 90))
