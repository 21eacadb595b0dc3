"""What every platform's publisher shares: a finished short found on disk, the metadata to send with it, and the
small :class:`Publisher` protocol a second platform (TikTok, Instagram) would implement."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from shortskit.errors import ConfigError

__all__ = ["Publisher", "Short", "Uploaded", "VideoMeta", "find_shorts"]


@dataclass(frozen=True)
class Short:
    """A finished short: ``OUT.mp4`` with its ``OUT.json`` (and ``OUT.srt`` when there is one)."""

    video: Path  # the MP4
    meta_file: Path  # OUT.json beside it
    srt: Path | None  # OUT.srt beside it, if any
    meta: dict[str, Any]  # OUT.json's content
    digest: str  # sha256 of the MP4's bytes: the ledger's key, so a renamed copy is still the same short

    @property
    def name(self) -> str:
        return self.video.stem


@dataclass(frozen=True)
class VideoMeta:
    """What is sent with an upload, already within the platform's limits."""

    title: str
    description: str
    tags: tuple[str, ...]
    language: str | None  # BCP-47 of the narration
    category: str  # YouTube category id ("22": People & Blogs)
    privacy: str  # private | unlisted | public
    made_for_kids: bool  # status.selfDeclaredMadeForKids, always sent
    synthetic: bool  # status.containsSyntheticMedia, always sent
    synthetic_why: str  # one line: which facts decided it
    notes: tuple[str, ...] = field(default=())  # what was cut or replaced to fit the limits


@dataclass(frozen=True)
class Uploaded:
    """A video the platform holds now."""

    video_id: str
    publish_at: datetime | None  # when it goes public (None: stays at its privacy)


class Publisher(Protocol):
    """One platform. ``upload`` may be called again with the session it recorded, after a crash."""

    platform: str

    def scheduled(self) -> list[datetime]:
        """When the channel's already scheduled videos go public (UTC)."""
        ...

    def upload(self, short: Short, meta: VideoMeta, publish_at: datetime | None, *, session: str | None,
               on_session: Any) -> Uploaded:  # fmt: skip
        """Upload ``short``; ``on_session(uri)`` is called as soon as a resumable session exists."""
        ...

    def finish(self, short: Short, uploaded: Uploaded) -> list[str]:
        """Thumbnail and captions for an uploaded video; notes on what could not be done."""
        ...

    def schedule(self, video_id: str, publish_at: datetime, meta: VideoMeta) -> None:
        """Schedule an already uploaded video."""
        ...


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _short(video: Path) -> Short | None:
    meta_file = video.with_suffix(".json")
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{meta_file}: not readable JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{meta_file}: must hold a JSON object (title, description, hashtags)")
    srt = video.with_suffix(".srt")
    return Short(video, meta_file, srt if srt.is_file() else None, meta, _digest(video))


def find_shorts(targets: Sequence[str | Path]) -> list[Short]:
    """The shorts in ``targets``: MP4 files (each with its OUT.json), or folders of them (a batch's output,
    one folder a story), in name order. :class:`ConfigError` for a target that holds none."""
    shorts: list[Short] = []
    seen: set[Path] = set()
    for target in map(Path, targets):
        if target.is_file():
            if target.suffix.lower() != ".mp4":
                raise ConfigError(f"{target}: give a short's .mp4 (with its .json beside it) or a folder")
            found = _short(target)
            if found is None:
                raise ConfigError(f"{target}: no {target.with_suffix('.json').name} beside it (made by shortskit?)")
            videos = [found]
        elif target.is_dir():
            candidates = sorted([*target.glob("*.mp4"), *target.glob("*/*.mp4")])
            videos = [s for p in candidates if not p.name.startswith(".") and (s := _short(p)) is not None]
            if not videos:
                raise ConfigError(f"{target}: no short (an .mp4 with its .json) in this folder or its folders")
        else:
            raise ConfigError(f"{target}: no such file or folder")
        for s in videos:
            if s.video.resolve() not in seen:
                seen.add(s.video.resolve())
                shorts.append(s)
    return shorts
