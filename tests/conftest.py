"""Shared fixtures: small stories written to temporary folders, and a runner for the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


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


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shortskit", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=600,
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"
