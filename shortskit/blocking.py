"""The one way shortskit runs async work from blocking code: a script, the CLI, or a cell in Jupyter.

In Jupyter an event loop is already running, so the work runs on it through ``nest-asyncio`` (the notebook
extra); everywhere else ``asyncio.run`` does. Notebooks can always ``await`` the async function instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from shortskit.errors import ConfigError

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T], *, name: str = "render") -> T:
    """Run ``coro`` to the end and return its result; ``name`` is the async function to suggest in errors."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    try:
        import nest_asyncio
    except ImportError:
        coro.close()
        raise ConfigError(
            f"an event loop is already running (Jupyter?): use `await shortskit.{name}(...)`, "
            "or install the notebook extra (pip install 'shortskit[notebook]')"
        ) from None
    nest_asyncio.apply()
    return asyncio.get_event_loop().run_until_complete(coro)
