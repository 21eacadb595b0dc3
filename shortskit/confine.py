"""Where a story's files may be: its own folder, shortskit's assets, and the folders the operator allows.

A story is untrusted input, so every local file it names (a picture, a recording, music, a font, a voice sample)
is resolved with links followed and must land under one of these folders; :meth:`shortskit.story.Story.resolve`
is the one gate that applies this rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["ALLOW_DIRS_ENV", "ASSETS", "OUTSIDE", "allowed_roots", "inside", "roots_of"]

# Folders (os.pathsep-separated) besides its own that a story may read files from, set by the operator.
ALLOW_DIRS_ENV = "SHORTSKIT_ALLOW_DIRS"
# Files shortskit ships (fonts, music): the operator's, so any story may name them.
ASSETS = Path(__file__).resolve().parent / "assets"
# What a story naming any other file is told: never the path, never whether it exists.
OUTSIDE = (
    "must name a file inside the story's folder, or in a folder the operator allows "
    f"(--allow-dir, or ${ALLOW_DIRS_ENV})"
)


def roots_of(dirs: Iterable[str | Path]) -> list[Path]:
    """``dirs`` made absolute, ``~`` expanded and links followed."""
    return [Path(d).expanduser().resolve() for d in dirs]


def allowed_roots(base: Path, extra: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The story folder ``base``, the assets, ``extra`` (the caller's) and ``$SHORTSKIT_ALLOW_DIRS``."""
    env = roots_of(d for d in os.environ.get(ALLOW_DIRS_ENV, "").split(os.pathsep) if d.strip())
    return tuple(dict.fromkeys([base.resolve(), ASSETS, *extra, *env]))


def inside(base: Path, written: str | Path, roots: Sequence[Path]) -> Path | None:
    """The absolute path (links followed) of ``written`` relative to ``base``, or None unless under ``roots``."""
    try:
        p = Path(written).expanduser()
        path = (p if p.is_absolute() else base / p).resolve()
    except (RuntimeError, OSError, ValueError):  # ~nobody, a symlink loop, a NUL byte
        return None
    return path if any(path.is_relative_to(root) for root in roots) else None
