"""Provider registries: image and voice makers registered by name and created from settings.

``create_voice("espeak", rate=160)`` and ``create_image("procedural")`` build a provider; an unknown name
raises :class:`~shortskit.errors.ConfigError` that lists the valid ones. Third parties add their own with
``register_voice`` / ``register_image``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from shortskit.errors import ConfigError
from shortskit.providers.base import ImageProvider, Speech, VoiceProvider, Word

__all__ = [
    "ImageProvider",
    "Speech",
    "VoiceProvider",
    "Word",
    "create_image",
    "create_voice",
    "image_names",
    "provider_factory",
    "register_image",
    "register_voice",
    "voice_names",
]

# name -> "module:attr" (imported on first use, so optional extras cost nothing) or a factory
_VOICES: dict[str, str | Callable[..., VoiceProvider]] = {
    "chatterbox": "shortskit.providers.chatterbox:ChatterboxVoice",
    "espeak": "shortskit.providers.espeak:EspeakVoice",
    "kokoro": "shortskit.providers.openai_speech:KokoroSpeech",
    "openai": "shortskit.providers.openai_speech:OpenAISpeech",
}
_IMAGES: dict[str, str | Callable[..., ImageProvider]] = {
    "openai": "shortskit.providers.openai_images:OpenAIImages",
    "procedural": "shortskit.providers.procedural:ProceduralImages",
    "together": "shortskit.providers.together:TogetherImages",
}


def register_voice(name: str, factory: str | Callable[..., VoiceProvider]) -> None:
    """Register a voice provider factory (a class, a callable or ``"module:attr"``) under ``name``."""
    _VOICES[name] = factory


def register_image(name: str, factory: str | Callable[..., ImageProvider]) -> None:
    """Register an image provider factory (a class, a callable or ``"module:attr"``) under ``name``."""
    _IMAGES[name] = factory


def voice_names() -> list[str]:
    """Registered voice provider names."""
    return sorted(_VOICES)


def image_names() -> list[str]:
    """Registered image provider names."""
    return sorted(_IMAGES)


def _resolve(kind: str, table: dict[str, Any], name: str) -> Callable[..., Any]:
    try:
        factory = table[name]
    except KeyError:
        valid = ", ".join(sorted(table))
        raise ConfigError(f"unknown {kind} provider {name!r}; valid names: {valid}") from None
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory


def _build(kind: str, table: dict[str, Any], name: str, options: dict[str, Any]) -> Any:
    factory = _resolve(kind, table, name)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    if params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            # ``endpoint`` is the caller's to give (render(endpoints=), --endpoint), never a story's
            valid = ", ".join(sorted(p for p in params if not p.startswith("_") and p != "endpoint")) or "none"
            raise ConfigError(f"{kind} provider {name!r} has no option {unknown[0]!r}; its options: {valid}")
    return factory(**options)


def provider_factory(kind: str, name: str) -> Callable[..., Any]:
    """The factory registered as ``name`` for ``kind`` (``voice`` or ``image``), imported if need be."""
    return _resolve(kind, _VOICES if kind == "voice" else _IMAGES, name)


def create_voice(name: str, **options: Any) -> VoiceProvider:
    """Build the voice provider registered as ``name`` with its ``options``."""
    return _build("voice", _VOICES, name, options)


def create_image(name: str, **options: Any) -> ImageProvider:
    """Build the image provider registered as ``name`` with its ``options``."""
    return _build("image", _IMAGES, name, options)
