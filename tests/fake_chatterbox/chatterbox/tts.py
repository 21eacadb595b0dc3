"""``chatterbox.tts.ChatterboxTTS`` (English), as in chatterbox-tts 0.1.7."""

from __future__ import annotations

from pathlib import Path

import torch

from chatterbox import _fake

REPO_ID = "ResembleAI/chatterbox"
FILES = ["ve.safetensors", "t3_cfg.safetensors", "s3gen.safetensors", "tokenizer.json", "conds.pt"]


class ChatterboxTTS:
    def __init__(self, device: str, source: str) -> None:
        self.sr = 24000
        self.device = device
        self.conds = "built-in voice"  # conds.pt
        _fake.record({"event": "load", "model": type(self).__name__, "device": device, "from": source})

    @classmethod
    def from_pretrained(cls, device) -> ChatterboxTTS:
        _fake.hub_download(FILES)
        return cls(device, "hub")

    @classmethod
    def from_local(cls, ckpt_dir, device) -> ChatterboxTTS:
        _fake.check_local(Path(ckpt_dir), FILES[:4])
        return cls(device, str(ckpt_dir))

    def prepare_conditionals(self, wav_fpath, exaggeration=0.5):
        self.conds = f"clone:{_fake.digest(wav_fpath)}"

    def generate(
        self,
        text,
        repetition_penalty=1.2,
        min_p=0.05,
        top_p=1.0,
        audio_prompt_path=None,
        exaggeration=0.5,
        cfg_weight=0.5,
        temperature=0.8,
    ):
        with _fake.Calling():
            if "generate" in _fake.FAIL:
                raise _fake.FAIL["generate"]
            if audio_prompt_path:
                self.prepare_conditionals(audio_prompt_path, exaggeration=exaggeration)
            else:
                assert self.conds is not None, "Please `prepare_conditionals` first or specify `audio_prompt_path`"
            if cfg_weight == 0.0:  # t3.inference joins a 2-row BOS to a 1-row batch
                raise RuntimeError("Sizes of tensors must match except in dimension 1. Expected size 1 but got size 2")
            wav, events = _fake.speak(text, "en")
            _fake.record(
                {
                    "event": "generate", "model": type(self).__name__, "text": text, "language_id": None,
                    "audio_prompt_path": audio_prompt_path, "voice": self.conds, "seed": torch.initial_seed(),
                    "exaggeration": exaggeration, "cfg_weight": cfg_weight, "temperature": temperature,
                    "samples": wav.shape[-1], "words": events,
                }
            )  # fmt: skip
            return wav
