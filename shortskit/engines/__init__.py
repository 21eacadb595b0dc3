"""Clip engines: what turns one scene (picture, voice, captions) into a clip, registered by name.

``ffmpeg`` (the default: one ffmpeg pass per clip) and ``moviepy`` (the same look, with room for your own
moviepy effects) both implement :class:`ClipEngine`; add yours with :func:`register_engine`.
"""

from __future__ import annotations

from collections.abc import Callable

from shortskit.engines.base import PRESETS, ClipEngine, ClipSpec, Preset, motion_for
from shortskit.errors import ConfigError

__all__ = ["PRESETS", "ClipEngine", "ClipSpec", "Preset", "engine_names", "get_engine", "motion_for", "register_engine"]


def _ffmpeg() -> ClipEngine:
    from shortskit.engines.ffmpeg import FfmpegEngine

    return FfmpegEngine()


def _moviepy() -> ClipEngine:
    from shortskit.engines.moviepy import MoviepyEngine

    return MoviepyEngine()


_ENGINES: dict[str, Callable[[], ClipEngine]] = {"ffmpeg": _ffmpeg, "moviepy": _moviepy}


def register_engine(name: str, factory: Callable[[], ClipEngine]) -> None:
    """Register a clip engine factory (a class or a callable taking no arguments) under ``name``."""
    _ENGINES[name] = factory


def engine_names() -> list[str]:
    """Registered engine names."""
    return sorted(_ENGINES)


def get_engine(engine: str | ClipEngine) -> ClipEngine:
    """The engine registered as ``engine`` (an engine object is returned as it is)."""
    if not isinstance(engine, str):
        return engine
    try:
        factory = _ENGINES[engine]
    except KeyError:
        raise ConfigError(f"unknown engine {engine!r}; valid names: {', '.join(engine_names())}") from None
    return factory()
