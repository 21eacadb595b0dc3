"""``chatterbox.tts.ChatterboxTTS`` (English), as in chatterbox-tts 0.1.7."""

from __future__ import annotations

from chatterbox import _fake

REPO_ID = "ResembleAI/chatterbox"


class ChatterboxTTS(_fake.Model):
    FILES = ("ve.safetensors", "t3_cfg.safetensors", "s3gen.safetensors", "tokenizer.json", "conds.pt")

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
        if cfg_weight == 0.0:  # t3.inference joins a 2-row BOS to a 1-row batch
            raise RuntimeError("Sizes of tensors must match except in dimension 1. Expected size 1 but got size 2")
        options = {"exaggeration": exaggeration, "cfg_weight": cfg_weight, "temperature": temperature}
        return self._speak(text, None, audio_prompt_path, **options)
