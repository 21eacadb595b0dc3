"""A stand-in for an in-process GPU voice (Chatterbox): its "model" loads through ``shortskit.models.load_once``.

Imported inside a batch's kernels (a test notebook does ``import tests.fake_gpu_voice``), it registers the voice
``fakegpu``: eSpeak's audio and timings, after asking for a model that takes a moment to load, as a real one
would. ``shortskit.models.model_loads()["fake-gpu"]`` then counts the loads in that kernel.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import shortskit
from shortskit.models import load_once
from shortskit.providers.espeak import EspeakVoice

LOAD_SECONDS = 0.5


def _load() -> dict[str, Any]:
    time.sleep(LOAD_SECONDS)  # weights read and moved to the GPU
    return {"weights": "fake"}


class FakeGpuVoice(EspeakVoice):
    name: ClassVar[str] = "fakegpu"
    version: ClassVar[str] = "1"

    async def synthesize(self, text: str, out: Path, *, language: str) -> Any:
        load_once("fake-gpu", ("weights", "cpu"), _load)
        return await super().synthesize(text, out, language=language)


shortskit.register_voice("fakegpu", FakeGpuVoice)
