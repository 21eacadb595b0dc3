"""What the stand-in models did: loads and calls (also appended as JSON lines to $FAKE_CHATTERBOX_LOG, for a
CLI run in another process), the most calls that ran at once, and failures a test asks for."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

SR = 24_000
EVENTS: list[dict[str, Any]] = []  # {"event": "load" | "generate", ...} in order
FAIL: dict[str, BaseException] = {}  # "load" or "generate" -> the exception to raise there
_state = {"active": 0, "most": 0}
_guard = threading.Lock()


def reset() -> None:
    EVENTS.clear()
    FAIL.clear()
    _state.update(active=0, most=0)


def most_at_once() -> int:
    """The most ``generate`` calls that were running at the same moment."""
    return _state["most"]


def loads() -> list[dict[str, Any]]:
    return [e for e in EVENTS if e["event"] == "load"]


def calls() -> list[dict[str, Any]]:
    return [e for e in EVENTS if e["event"] == "generate"]


def record(event: dict[str, Any]) -> None:
    with _guard:
        EVENTS.append(event)
        log = os.environ.get("FAKE_CHATTERBOX_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps(event) + "\n")


class LocalEntryNotFoundError(FileNotFoundError):
    """What huggingface_hub raises when offline with nothing cached (an OSError, as every hub failure is)."""


def hub_download(files: tuple[str, ...]) -> None:
    if "load" in FAIL:
        raise FAIL["load"]
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise LocalEntryNotFoundError(
            "An error happened while trying to locate the file on the Hub and we cannot find the requested "
            f"files in the local cache. ({files[0]})"
        )


def check_local(ckpt_dir: Path, files: tuple[str, ...]) -> None:
    if "load" in FAIL:
        raise FAIL["load"]
    for name in files:
        if not (Path(ckpt_dir) / name).is_file():
            raise FileNotFoundError(f'No such file or directory: "{Path(ckpt_dir) / name}"')


def digest(path: str) -> str:
    with open(path, "rb") as f:  # FileNotFoundError as librosa.load gives
        return hashlib.sha256(f.read()).hexdigest()[:32]


class Calling:
    """Counts the calls running at once (the real model is not safe to call from two threads)."""

    def __enter__(self) -> None:
        with _guard:
            _state["active"] += 1
            _state["most"] = max(_state["most"], _state["active"])

    def __exit__(self, *exc: object) -> None:
        with _guard:
            _state["active"] -= 1


def speak(text: str, language: str) -> tuple[torch.Tensor, list[tuple[int, float]]]:
    """eSpeak's audio of ``text`` at 24 kHz as a (1, N) float32 CPU tensor, plus its word events.

    A little noise drawn from torch's generator stands for the model's sampling: a seed changes the audio.
    """
    clean, events = _espeak(text, language)
    y = clean + 1e-3 * torch.randn(len(clean), dtype=torch.float64).numpy()
    time.sleep(0.02)  # long enough for a second caller to overlap, were calls not one at a time
    return torch.from_numpy(y.astype(np.float32)).unsqueeze(0), list(events)


@functools.lru_cache(maxsize=256)
def _espeak(text: str, language: str) -> tuple[np.ndarray, tuple[tuple[int, float], ...]]:
    """eSpeak's speech at 24 kHz; kept, because eSpeak's length varies by a few ms from call to call."""
    from shortskit import espeak

    said = espeak.synthesize(text, language=language)
    x = said.samples.astype(np.float64) / 32768.0
    n = round(len(x) * SR / said.sample_rate)
    return np.interp(np.arange(n) * said.sample_rate / SR, np.arange(len(x)), x), tuple(said.events)


class Model:
    """What both stand-in models share: loading (hub or a local copy), cloning a prompt, speaking and recording."""

    FILES: tuple[str, ...] = ()  # the weight files from_local reads first

    def __init__(self, device: str, source: str) -> None:
        self.sr = SR
        self.device = device
        self.conds = "built-in voice"  # conds.pt
        record({"event": "load", "model": type(self).__name__, "device": device, "from": source})

    @classmethod
    def from_pretrained(cls, device):
        hub_download(cls.FILES)
        return cls(device, "hub")

    @classmethod
    def from_local(cls, ckpt_dir, device):
        check_local(Path(ckpt_dir), cls.FILES[:4])
        return cls(device, str(ckpt_dir))

    def prepare_conditionals(self, wav_fpath, exaggeration=0.5):
        self.conds = f"clone:{digest(wav_fpath)}"

    def _speak(self, text: str, language_id: str | None, audio_prompt_path: Any, **options: Any) -> torch.Tensor:
        with Calling():
            if "generate" in FAIL:
                raise FAIL["generate"]
            if audio_prompt_path:
                self.prepare_conditionals(audio_prompt_path, exaggeration=options["exaggeration"])
            else:
                assert self.conds is not None, "Please `prepare_conditionals` first or specify `audio_prompt_path`"
            # what 0.1.7 prints on every call: a FutureWarning from its transformers code and T3's bar
            warnings.warn("`LlamaSdpaAttention` is deprecated", FutureWarning, stacklevel=1)
            for _ in tqdm(range(3), desc="Sampling", dynamic_ncols=True):
                pass
            wav, events = speak(text, language_id or "en")
            record(
                {
                    "event": "generate", "model": type(self).__name__, "text": text, "language_id": language_id,
                    "audio_prompt_path": audio_prompt_path, "voice": self.conds, "seed": torch.initial_seed(),
                    **options, "samples": wav.shape[-1], "words": events,
                }
            )  # fmt: skip
            return wav
