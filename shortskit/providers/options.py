"""Checks for provider options, shared by every provider: one wording for every "must be a number" error.

A story is untrusted input and its provider options arrive as whatever JSON or YAML held; each check raises a
:class:`~shortskit.errors.ConfigError` that names the provider, the option and the value it got.
"""

from __future__ import annotations

from typing import Any

from shortskit.errors import ConfigError

__all__ = ["in_range", "positive"]


def positive(value: Any, what: str, provider: str, *, integer: bool = False, allow_none: bool = False) -> Any:
    """``value`` when it is a number above 0 (a whole number if ``integer``; None too if ``allow_none``)."""
    if value is None and allow_none:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{provider} {what} must be {kind} above 0, got {value!r}")
    return value


def in_range(value: Any, what: str, provider: str, low: float, high: float, *, integer: bool = False) -> Any:
    """``value`` when it is a number (a whole number if ``integer``) from ``low`` to ``high``."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigError(f"{provider} {what} must be {'a whole number' if integer else 'a number'}, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{provider} {what} must be {low:g}..{high:g}, got {value}")
    return value
