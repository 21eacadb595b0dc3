"""The workspace: a content-addressed cache of every artefact (images, voices, captions, clips, audio, finals).

An artefact's name is the hash of everything that made it (inputs, settings, provider version), so a re-run
finds what it made before and an edit redoes only what it touches. Files are written to a temporary name in
the same folder and renamed into place, so an interrupted run never leaves a file a later run would trust.
A lock per artefact (an asyncio lock inside a process, a file lock across processes) lets many renders share
one workspace and make each artefact once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Workspace", "atomic_path", "default_workspace", "file_digest"]

KINDS = ("images", "voices", "captions", "clips", "music", "audio", "finals", "previews")


def default_workspace() -> Path:
    """``$SHORTSKIT_WORKSPACE``, else ``$XDG_CACHE_HOME/shortskit``, else ``~/.cache/shortskit``."""
    if env := os.environ.get("SHORTSKIT_WORKSPACE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "shortskit"


# (path, size, mtime, inode) -> digest: a file is hashed once per process unless it changes
_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes: what cache keys hold for every file an artefact consumes."""
    st = os.stat(path)
    memo = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    found = _DIGESTS.get(memo)
    if found is not None:
        return found
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = _DIGESTS[memo] = h.hexdigest()[:32]
    return digest


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    The temporary name keeps the suffix, so tools that pick a format by extension still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to {tmp}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# asyncio locks per artefact, per event loop (an asyncio.Lock belongs to one loop)
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()
_POLL = 0.05  # seconds between tries of a file lock another process holds


_ARTEFACT = re.compile(r"\.?[0-9a-f]{32}(\.[a-z0-9]+)+(\.tmp[\w.-]*)?")  # a key and its suffixes, or a temporary
_LOCK = re.compile(rf"(?:{'|'.join(KINDS)})-[0-9a-f]{{32}}\.lock")


def _remove_ours(folder: Path, names: re.Pattern[str]) -> int:
    """Delete the files in ``folder`` whose whole name matches ``names``, then the folder if that emptied it."""
    if not folder.is_dir():
        return 0
    n = 0
    for p in folder.iterdir():
        if p.is_file() and not p.is_symlink() and names.fullmatch(p.name):
            with contextlib.suppress(FileNotFoundError):  # another run's sweep may have taken it
                p.unlink()
                n += 1
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
    return n


@dataclass
class Workspace:
    """A folder of cached artefacts, one sub-folder per kind."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser()

    def path(self, kind: str, key: str, suffix: str) -> Path:
        """Where the artefact of ``kind`` with ``key`` lives (it may not exist yet)."""
        if kind not in KINDS:
            raise ValueError(f"unknown artefact kind {kind!r}")
        return self.root / kind / f"{key}{suffix}"

    @contextlib.asynccontextmanager
    async def lock(self, kind: str, key: str) -> AsyncIterator[None]:
        """Hold the artefact ``kind``/``key`` for this task alone: against other tasks of this event loop and
        against other processes sharing the workspace. Waiting never blocks the event loop."""
        from filelock import FileLock, Timeout

        name = f"{kind}-{key}"
        table = _LOCKS.setdefault(asyncio.get_running_loop(), {})
        local = table.setdefault(name, asyncio.Lock())
        async with local:
            folder = self.root / ".locks"
            folder.mkdir(parents=True, exist_ok=True)
            shared = FileLock(str(folder / f"{name}.lock"), thread_local=False)
            while True:
                try:
                    shared.acquire(timeout=0)
                    break
                except Timeout:
                    await asyncio.sleep(_POLL)
            try:
                yield
            finally:
                shared.release()

    def read_json(self, path: Path) -> Any | None:
        """A JSON sidecar, or None when it is missing or unreadable (then the artefact is remade)."""
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write_json(self, path: Path, data: Any) -> None:
        """Write a JSON sidecar atomically."""
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    def info(self) -> dict[str, dict[str, int]]:
        """Files and bytes per kind."""
        out: dict[str, dict[str, int]] = {}
        for kind in KINDS:
            files = [p for p in (self.root / kind).glob("*") if p.is_file() and not p.name.startswith(".")]
            out[kind] = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
        return out

    def clear(self, kinds: tuple[str, ...] = KINDS) -> int:
        """Delete the cached artefacts of ``kinds`` (all of them: the lock files too); return how many files went.

        Only files named the way this workspace names them go (a key, or a temporary of one): a folder that
        happens to hold an ``images/`` of someone's own keeps every picture that is not ours.
        """
        n = 0
        for kind in kinds:
            n += _remove_ours(self.root / kind, _ARTEFACT)
        if set(kinds) >= set(KINDS):
            _remove_ours(self.root / ".locks", _LOCK)
        return n

    def sweep_temporaries(self, *, older_than: float = 3600.0) -> int:
        """Remove temporary files a killed run left behind (untouched for ``older_than`` seconds).

        The age guard keeps a sweep from deleting what another run sharing the workspace is writing now.
        """
        n = 0
        now = time.time()
        for kind in KINDS:
            for p in (self.root / kind).glob(".*.tmp*"):
                with contextlib.suppress(OSError):
                    if now - p.stat().st_mtime > older_than:
                        p.unlink()
                        n += 1
        return n
