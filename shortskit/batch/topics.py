"""Topics in, stories out: a CSV of topics (one a row; optional language and scene count) turned into story
files by the writer before a batch renders them. A story already written for a topic is kept, so a re-run
asks the writer nothing new and the stories it made are rendered, or skipped, like any other.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from shortskit.errors import ConfigError, ShortskitError

__all__ = ["Topic", "read_topics", "write_stories"]


@dataclass(frozen=True)
class Topic:
    """One row of the topics file."""

    topic: str  # what the short is about
    language: str = "en"  # the narration's language (BCP-47)
    scenes: int = 5  # how many scenes the writer makes

    @property
    def slug(self) -> str:
        words = re.sub(r"[^a-z0-9]+", "-", self.topic.lower()).strip("-")[:48].strip("-") or "topic"
        tag = hashlib.sha256(f"{self.topic}|{self.language}|{self.scenes}".encode()).hexdigest()[:6]
        return f"{words}-{tag}"


def read_topics(path: Path) -> list[Topic]:
    """The topics of a CSV file: columns ``topic[,language[,scenes]]``, with or without that header row."""
    if not path.is_file():
        raise ConfigError(f"topics file not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = [[c.strip() for c in row] for row in csv.reader(f) if any(c.strip() for c in row)]
    if rows and rows[0] and rows[0][0].lower() == "topic":
        rows = rows[1:]
    topics = []
    for n, row in enumerate(rows, start=1):
        language = row[1] if len(row) > 1 and row[1] else "en"
        scenes = row[2] if len(row) > 2 and row[2] else "5"
        if not row[0]:
            raise ConfigError(f"{path.name}: row {n}: the topic is empty")
        if not scenes.isdigit() or not 1 <= int(scenes) <= 20:
            raise ConfigError(f"{path.name}: row {n}: scenes must be a whole number from 1 to 20, got {scenes!r}")
        topics.append(Topic(row[0], language, int(scenes)))
    if not topics:
        raise ConfigError(f"{path.name}: no topics in it")
    return topics


def write_stories(topics: list[Topic], folder: Path) -> tuple[list[Path], list[tuple[Topic, str]]]:
    """A story file per topic in ``folder`` (written by the writer unless there already); and the failures.

    Raises :class:`ConfigError` when no writer is configured; a topic the writer fails on is returned as a
    failure so that the others still go on.
    """
    from shortskit.story import save_story
    from shortskit.writer import KEY_ENVS, write_story_sync, writer_configured

    folder.mkdir(parents=True, exist_ok=True)
    missing = [t for t in topics if not (folder / f"{t.slug}.json").is_file()]
    if missing and not writer_configured():
        raise ConfigError(f"--topics needs a writer: set {KEY_ENVS[0]} (or {KEY_ENVS[1]}) to a chat model's API key")
    made: list[Path] = []
    failed: list[tuple[Topic, str]] = []
    for t in topics:
        path = folder / f"{t.slug}.json"
        if not path.is_file():
            try:
                save_story(write_story_sync(t.topic, scenes=t.scenes, language=t.language), path)
            except ConfigError:
                raise
            except ShortskitError as exc:
                failed.append((t, str(exc)))
                continue
        made.append(path)
    return made, failed
