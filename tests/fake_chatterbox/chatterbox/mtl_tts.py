"""``chatterbox.mtl_tts.ChatterboxMultilingualTTS`` (23 languages), as in chatterbox-tts 0.1.7."""

from __future__ import annotations

from chatterbox import _fake
from chatterbox.models.tokenizers.tokenizer import ChineseCangjieConverter

REPO_ID = "ResembleAI/chatterbox"
SUPPORTED_LANGUAGES = {
    "ar": "Arabic", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "ms": "Malay", "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese",
    "ru": "Russian", "sv": "Swedish", "sw": "Swahili", "tr": "Turkish", "zh": "Chinese",
}  # fmt: skip


class ChatterboxMultilingualTTS(_fake.Model):
    FILES = ("ve.pt", "t3_mtl23ls_v2.safetensors", "s3gen.pt", "grapheme_mtl_merged_expanded_v1.json", "conds.pt")

    def __init__(self, device: str, source: str) -> None:
        self.converter = ChineseCangjieConverter()  # MTLTokenizer builds it at load, for every language
        super().__init__(device, source)

    @classmethod
    def get_supported_languages(cls):
        return SUPPORTED_LANGUAGES.copy()

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
        if language_id == "zh":
            self.converter(text)  # the tokenizer turns Chinese into Cangjie codes after pkuseg's cut
        options = {"exaggeration": exaggeration, "cfg_weight": cfg_weight, "temperature": temperature}
        return self._speak(text, language_id, audio_prompt_path, **options)
