"""The ``shortskit`` command: a thin typer app over the public API (it gathers arguments, shows progress).

One module a command group: :mod:`~shortskit.cli.make` (render, validate, schema), :mod:`~shortskit.cli.writing`
(write, seo), :mod:`~shortskit.cli.align`, :mod:`~shortskit.cli.batch`, :mod:`~shortskit.cli.cache`,
:mod:`~shortskit.cli.voice` (the voice library), :mod:`~shortskit.cli.publish` (YouTube); :mod:`~shortskit.cli.app` holds the typer ``app`` they register on.
"""

from __future__ import annotations

from shortskit.cli import align, batch, cache, make, publish, voice, writing
from shortskit.cli.app import main

__all__ = ["align", "batch", "cache", "main", "make", "publish", "voice", "writing"]
