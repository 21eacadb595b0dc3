"""Model aligners around a stand-in model object: used only when their weights are on the machine, never
downloading, loaded once, their answers put onto the text's own words. The model packages themselves
(faster-whisper, torchaudio) cannot be installed with weights here: small fakes stand at the model boundary."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import shortskit
from shortskit import ConfigError
from shortskit.alignment import available_aligners, models
from shortskit.audio import write_wav
from shortskit.models import model_loads


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    t = np.arange(16000 * 3) / 16000
    return write_wav(tmp_path / "speech.wav", 0.3 * np.sin(2 * np.pi * 200 * t) * (t % 1 < 0.7), 16000)


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv(models.WHISPER_ENV, raising=False)
    monkeypatch.delenv(models.MMS_ENV, raising=False)
    models.mms_missing.cache_clear()
    models.whisper_missing.cache_clear()
    yield
    models.mms_missing.cache_clear()  # what these tests pretended is installed stays with them
    models.whisper_missing.cache_clear()


def _pretend_installed(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    real = models.importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: object() if name == package else real(name))


@dataclass
class FakeWord:
    word: str
    start: float
    end: float


class FakeWhisperModel:
    """faster_whisper.WhisperModel's interface: transcribe(audio, ...) -> (segments, info)."""

    loads = 0
    asked: ClassVar[dict[str, Any]] = {}

    def __init__(self, path: str, *, device: str, compute_type: str, local_files_only: bool) -> None:
        assert local_files_only  # never a download
        FakeWhisperModel.loads += 1

    def transcribe(self, audio: Any, **options: Any) -> tuple[Any, Any]:
        FakeWhisperModel.asked = options
        heard = [FakeWord(" Octopuses", 0.2, 0.8), FakeWord(" have", 0.8, 1.0), FakeWord(" three", 1.0, 1.3),
                 FakeWord(" hearts", 1.3, 1.9)]  # fmt: skip
        return iter([types.SimpleNamespace(words=heard)]), None


def test_whisper_runs_only_with_a_model_folder_and_maps_onto_the_text(
    speech: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", types.SimpleNamespace(WhisperModel=FakeWhisperModel))
    _pretend_installed(monkeypatch, "faster_whisper")
    assert "SHORTSKIT_WHISPER_MODEL" in (available_aligners()["whisper"] or "")
    with pytest.raises(ConfigError, match="the whisper aligner cannot run here"):
        shortskit.align(speech, "Octopuses have three hearts!", aligner="whisper")
    folder = tmp_path / "small-en"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"\0")
    monkeypatch.setenv(models.WHISPER_ENV, str(folder))
    models.whisper_missing.cache_clear()
    assert available_aligners()["whisper"] is None
    before = model_loads().get("whisper-aligner", 0)
    for _ in range(2):
        words = shortskit.align(speech, "Octopuses have three hearts!", language="en-GB", aligner="whisper")
    assert [(w.text, w.start) for w in words] == [("Octopuses", 0.2), ("have", 0.8), ("three", 1.0), ("hearts!", 1.3)]
    assert model_loads()["whisper-aligner"] - before == 1 == FakeWhisperModel.loads  # loaded once
    assert FakeWhisperModel.asked["language"] == "en" and FakeWhisperModel.asked["word_timestamps"] is True


def test_mms_needs_its_weights_on_the_machine(speech: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")

    @dataclass
    class Span:
        start: int
        end: int

    class Bundle:
        gets: ClassVar[list[dict[str, Any]]] = []

        def get_model(self, with_star: bool = True, *, dl_kwargs: Any = None) -> Any:
            self.gets.append(dl_kwargs)
            return lambda wave: (torch.zeros(1, wave.shape[1] // 320, 28), None)  # 20 ms frames

        def get_tokenizer(self) -> Any:
            return lambda words: [[1] * len(w) for w in words]

        def get_aligner(self) -> Any:
            # word k spans frames 10 + 25k .. 30 + 25k
            return lambda emission, tokens: [
                [Span(10 + 25 * k, 12 + 25 * k), Span(28 + 25 * k, 30 + 25 * k)] for k in range(len(tokens))
            ]

    monkeypatch.setitem(
        sys.modules, "torchaudio", types.SimpleNamespace(pipelines=types.SimpleNamespace(MMS_FA=Bundle()))
    )
    _pretend_installed(monkeypatch, "torchaudio")
    monkeypatch.setenv(models.MMS_ENV, str(tmp_path / "nowhere.pt"))
    assert "no MMS_FA weights" in (available_aligners()["mms"] or "")
    assert shortskit.alignment.aligner_id("auto").startswith("dtw/")  # auto falls back to the model-free aligner
    (tmp_path / "model.pt").write_bytes(b"\0")
    monkeypatch.setenv(models.MMS_ENV, str(tmp_path / "model.pt"))
    models.mms_missing.cache_clear()
    assert shortskit.alignment.aligner_id("auto") == "mms/1"
    words = shortskit.align(speech, "Three hearts, 19:40 beats.", aligner="mms")
    assert [w.text for w in words] == ["Three", "hearts,", "19:40", "beats."]
    assert words[0].start == pytest.approx(0.2) and words[1].start == pytest.approx(0.7)
    assert words[3].start == pytest.approx(1.2)  # "19:40" has no letters for MMS: it takes the time between
    assert words[1].end <= words[2].start <= words[3].start
    assert Bundle.gets[-1]["model_dir"] == str(tmp_path) and Bundle.gets[-1]["file_name"] == "model.pt"
