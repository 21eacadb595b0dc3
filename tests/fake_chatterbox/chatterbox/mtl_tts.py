"""``chatterbox.mtl_tts.ChatterboxMultilingualTTS`` (23 languages), as in chatterbox-tts 0.1.7."""

from __future__ import annotations

from pathlib import Path

import torch

from chatterbox import _fake

REPO_ID = "ResembleAI/chatterbox"
FILES = ["ve.pt", "t3_mtl23ls_v2.safetensors", "s3gen.pt", "grapheme_mtl_merged_expanded_v1.json", "conds.pt"]
SUPPORTED_LANGUAGES = {
    "ar": "Arabic", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "ms": "Malay", "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese",
    "ru": "Russian", "sv": "Swedish", "sw": "Swahili", "tr": "Turkish", "zh": "Chinese",
}  # fmt: skip


class ChatterboxMultilingualTTS:
    def __init__(self, device: str, source: str) -> None:
        self.sr = 24000
        self.device = device
        self.conds = "built-in voice"
        _fake.record({"event": "load", "model": type(self).__name__, "device": device, "from": source})

    @classmethod
    def get_supported_languages(cls):
        return SUPPORTED_LANGUAGES.copy()

    @classmethod
    def from_pretrained(cls, device: torch.device) -> ChatterboxMultilingualTTS:
        _fake.hub_download(FILES)
        return cls(device, "hub")

    @classmethod
    def from_local(cls, ckpt_dir, device) -> ChatterboxMultilingualTTS:
        _fake.check_local(Path(ckpt_dir), FILES[:4])
        return cls(device, str(ckpt_dir))

    def prepare_conditionals(self, wav_fpath, exaggeration=0.5):
        self.conds = f"clone:{_fake.digest(wav_fpath)}"

    def generate(
        self,
        text,
        language_id,
        audio_prompt_path=None,
        exaggeration=0.5,
        cfg_weight=0.5,
        temperature=0.8,
        repetition_penalty=2.0,
        min_p=0.05,
        top_p=1.0,
    ):
        if language_id and language_id.lower() not in SUPPORTED_LANGUAGES:
            supported = ", ".join(sorted(SUPPORTED_LANGUAGES))
            raise ValueError(f"Unsupported language_id '{language_id}'. Supported languages: {supported}")
        with _fake.Calling():
            if "generate" in _fake.FAIL:
                raise _fake.FAIL["generate"]
            if audio_prompt_path:
                self.prepare_conditionals(audio_prompt_path, exaggeration=exaggeration)
            else:
                assert self.conds is not None, "Please `prepare_conditionals` first or specify `audio_prompt_path`"
            wav, events = _fake.speak(text, language_id or "en")
            _fake.record(
                {
                    "event": "generate", "model": type(self).__name__, "text": text, "language_id": language_id,
                    "audio_prompt_path": audio_prompt_path, "voice": self.conds, "seed": torch.initial_seed(),
                    "exaggeration": exaggeration, "cfg_weight": cfg_weight, "temperature": temperature,
                    "samples": wav.shape[-1], "words": events,
                }
            )  # fmt: skip
            return wav
