"""Shared fixtures: small stories written to temporary folders, a runner for the real CLI, recordings, and the
stand-in ``chatterbox`` package at the model boundary."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FAKE_CHATTERBOX = ROOT / "tests" / "fake_chatterbox"  # holds the stand-in package ``chatterbox``


def write_story(folder: Path, data: Any, name: str = "story.json") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def small_story(**overrides: Any) -> dict[str, Any]:
    """A quick two-scene story at a small frame size (renders in about a second)."""
    story: dict[str, Any] = {
        "title": "Tiny",
        "language": "en",
        "scenes": [
            {"text": "Hello there, small world.", "image_prompt": "a calm ocean"},
            {"text": "Goodbye now.", "image_prompt": "a forest at night"},
        ],
        "output": {"width": 270, "height": 480, "fps": 15, "quality": "draft"},
        "captions": {"size": 120},
        "music": {"enabled": False},
    }
    story.update(overrides)
    return story


def run_cli(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real ``shortskit`` command; ``env`` is added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "shortskit", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=600,
        env={**os.environ, **env} if env else None,
    )


def tone(path: Path, seconds: float, *, amplitude: float = 0.3, rate: int = 16000, channels: int = 1) -> Path:
    """A WAV of a warbling 220 Hz tone: a recording that is readable, of a known length, and not silent."""
    t = np.arange(int(seconds * rate)) / rate
    wave_ = amplitude * np.sin(2 * math.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * math.pi * 3 * t))
    pcm = (np.repeat(wave_[:, None], channels, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def _drop_chatterbox_modules() -> None:
    for name in [m for m in sys.modules if m == "chatterbox" or m.startswith("chatterbox.")]:
        del sys.modules[name]


@pytest.fixture
def fake_chatterbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The stand-in ``chatterbox`` package importable (CPU torch needed); yields its record, ``chatterbox._fake``.

    No model is left loaded from another test, and none is kept for the next.
    """
    pytest.importorskip("torch", reason="the chatterbox tests need torch (CI installs the CPU wheel)")
    from shortskit.models import forget_models

    monkeypatch.syspath_prepend(str(FAKE_CHATTERBOX))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("SHORTSKIT_CHATTERBOX_DIR", raising=False)
    _drop_chatterbox_modules()
    forget_models("chatterbox")
    import chatterbox._fake as fake

    fake.reset()
    yield fake
    forget_models("chatterbox")
    _drop_chatterbox_modules()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"
