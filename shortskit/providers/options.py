"""Checks for provider options, shared by every provider: one wording for every "must be a number" error.

A story is untrusted input and its provider options arrive as whatever JSON or YAML held; each check raises a
:class:`~shortskit.errors.ConfigError` that names the provider, the option and the value it got.
"""

from __future__ import annotations

import math
import os
from typing import Any

from shortskit.errors import ConfigError

__all__ = ["LIMITS", "LIMITS_ENV", "in_range", "lower_limits", "operator_limits", "positive"]

# The options that pace a provider: the operator's (the provider's defaults, SHORTSKIT_LIMITS); a story may
# only lower them. Each with the range any value must be in: a rate of 1e-9 a minute would never end.
LIMITS: dict[str, tuple[float, float]] = {
    "rate_per_minute": (1, 100_000),  # requests a minute
    "rate_burst": (1, 1_000),  # requests at once before the rate applies
    "max_concurrency": (1, 64),  # jobs at once
    "timeout": (1, 3_600),  # seconds a request may take
}
_NO_LIMIT = ("rate_per_minute", "rate_burst")  # may be None: no limit
LIMITS_ENV = "SHORTSKIT_LIMITS"  # e.g. "images.together.rate_per_minute=60, voice.openai.max_concurrency=4"


def positive(value: Any, what: str, provider: str, *, integer: bool = False, allow_none: bool = False) -> Any:
    """``value`` when it is a number above 0 (a whole number if ``integer``; None too if ``allow_none``)."""
    if value is None and allow_none:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value <= 0:
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


def _number(value: Any, what: str, who: str, cap: float | None) -> Any:
    """A limit's value checked: a finite number in its range, and no more than the operator's ``cap``."""
    if value is None and what in _NO_LIMIT:
        if cap is not None:
            raise ConfigError(f"{who} {what}: a story may only lower the operator's limit ({cap:g}), not lift it")
        return None
    integer = what in ("rate_burst", "max_concurrency")
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        raise ConfigError(f"{who} {what} must be {'a whole number' if integer else 'a finite number'}, got {value!r}")
    if cap is not None and value > cap:
        raise ConfigError(
            f"{who} {what}: a story may only lower the operator's limit ({cap:g}), not raise it to {value:g}"
        )
    low, high = LIMITS[what]
    if not low <= value <= high:
        raise ConfigError(f"{who} {what} must be {low:g}..{high:g}, got {value:g}")
    return value


def operator_limits(kind: str, name: str) -> dict[str, Any]:
    """The limits the operator set for provider ``name`` of ``kind`` (voice, images) in ``SHORTSKIT_LIMITS``."""
    found: dict[str, Any] = {}
    for entry in os.environ.get(LIMITS_ENV, "").replace(";", ",").split(","):
        if not entry.strip():
            continue
        target, sep, raw = entry.strip().partition("=")
        section, _, rest = target.strip().partition(".")
        provider, _, option = rest.rpartition(".")
        if not sep or option not in LIMITS or section not in ("voice", "images") or not provider:
            raise ConfigError(
                f"{LIMITS_ENV}: {entry.strip()!r} is not KIND.PROVIDER.OPTION=VALUE (KIND voice or images, OPTION "
                f"one of {', '.join(LIMITS)})"
            )
        if (section, provider) != (kind, name):
            continue
        value: Any = raw.strip()
        if value.lower() in ("none", "null", "") and option in _NO_LIMIT:
            found[option] = None
            continue
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{LIMITS_ENV}: {target.strip()} must be a number, got {value!r}") from None
        found[option] = _number(int(number) if number.is_integer() else number, option, LIMITS_ENV, None)
    return found


def lower_limits(provider: Any, given: dict[str, Any], who: str) -> dict[str, Any]:
    """Apply the limits a story ``given`` to ``provider`` (built with the operator's), each only lowering one.

    Returns the operator's limits as they were (the batch's shared limiter is keyed by them).
    """
    caps = {option: getattr(provider, option, None) for option in LIMITS}
    for option, value in given.items():
        if not hasattr(provider, option):
            raise ConfigError(f"{who} has no option {option!r}")
        cap = caps[option]
        if option == "timeout" and not cap:
            cap = None
        setattr(provider, option, _number(value, option, who, cap))
    return caps
