"""In-process models (a GPU voice such as Chatterbox) loaded once per process and reused by every render in it.

A notebook renders many times and a batch worker many stories: loading a model of several GB each time
would cost tens of seconds. :func:`load_once` keeps each model by what identifies it (kind, weights,
device) and :func:`model_loads` says how many loads really happened, for batch summaries and tests.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["forget_models", "load_once", "model_loads"]

T = TypeVar("T")

_MODELS: dict[tuple[str, Hashable], Any] = {}
_LOADS: Counter[str] = Counter()
_LOCK = threading.Lock()  # one load at a time: two renders asking together must not load twice


def load_once(kind: str, key: Hashable, loader: Callable[[], T]) -> T:
    """The model ``kind`` identified by ``key``, made by ``loader()`` the first time it is asked for."""
    with _LOCK:
        found = _MODELS.get((kind, key))
        if found is None:
            found = _MODELS[(kind, key)] = loader()
            _LOADS[kind] += 1
        return found


def model_loads() -> dict[str, int]:
    """How many times each kind of model was loaded in this process."""
    with _LOCK:
        return dict(_LOADS)


def forget_models(kind: str | None = None) -> None:
    """Drop the loaded models (of ``kind``, or all) so their memory can be freed; counts are kept."""
    with _LOCK:
        for k in [k for k in _MODELS if kind is None or k[0] == kind]:
            del _MODELS[k]
