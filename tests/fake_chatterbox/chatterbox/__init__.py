"""A stand-in for chatterbox-tts 0.1.7 at the model boundary, for tests (never installed, put on sys.path).

The real class names, classmethods and ``generate`` signatures, the real failures (offline hub, missing
weights, ``cfg_weight=0`` on the English model, an unsupported ``language_id``), but the voice is eSpeak's, so
the true time of every word is known. What happened is kept in :mod:`chatterbox._fake`.
"""

from chatterbox.mtl_tts import SUPPORTED_LANGUAGES, ChatterboxMultilingualTTS
from chatterbox.tts import ChatterboxTTS

__all__ = ["SUPPORTED_LANGUAGES", "ChatterboxMultilingualTTS", "ChatterboxTTS"]
