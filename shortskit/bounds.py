"""Hard caps on what one story may be and ask for, checked before a parser sees the file and after.

A story is untrusted input, and a batch reads hundreds: a file of 200,000 nested ``[`` must not end it with a
RecursionError, a YAML alias bomb must not expand to a billion values, a NaN must not reach a provider.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from shortskit.errors import StoryError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_PROMPT_CHARS",
    "MAX_SCENES",
    "MAX_SCENE_CHARS",
    "MAX_STORY_BYTES",
    "MAX_STORY_CHARS",
    "check_narration",
    "check_shape",
    "check_size",
    "nesting",
    "one_line",
    "parsed",
]

# Hard caps on what one story may ask for (a short is a minute or three; these leave room and stop runaways).
MAX_STORY_BYTES = 1_000_000  # size of a story file
MAX_DEPTH = 32  # nesting of lists and objects (a story needs 4)
MAX_NODES = 100_000  # values in the parsed story, aliases counted as often as they are used
MAX_SCENES = 50  # scenes in one story
MAX_SCENE_CHARS = 1_000  # characters of one scene's narration
MAX_STORY_CHARS = 10_000  # characters of narration in the whole story (about 12 minutes spoken)
MAX_PROMPT_CHARS = 2_000  # characters of an image prompt, title or description


def nesting(raw: str, *, json_strings: bool) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``raw``, before any parser sees it (JSON strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"' and json_strings:
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def check_shape(data: Any, file: str | None) -> None:
    """Bounded nesting and size of the parsed data (YAML aliases counted each time they are used), and every
    number finite: a StoryError naming the scene and field otherwise."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    seen = 0
    while stack:
        value, where = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise StoryError(f"holds more than {MAX_NODES} values; a story is far smaller", file=file)
        if len(where) > MAX_DEPTH:
            raise StoryError(f"is nested more than {MAX_DEPTH} levels deep", file=file)
        if isinstance(value, float) and not math.isfinite(value):
            scene = where[1] + 1 if len(where) >= 2 and where[0] == "scenes" and isinstance(where[1], int) else None
            field = ".".join(str(p) for p in (where[2:] if scene else where)) or None
            raise StoryError(f"must be a finite number, got {value}", file=file, scene=scene, field=field)
        if isinstance(value, dict):
            stack.extend((v, (*where, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(value))


def check_size(path: Path) -> None:
    """A StoryError when the story file is larger than :data:`MAX_STORY_BYTES` (OSError when it cannot be read)."""
    size = path.stat().st_size
    if size > MAX_STORY_BYTES:
        raise StoryError(f"the story file is {size} bytes; at most {MAX_STORY_BYTES}", file=path.name)


def parsed(raw: str, file: str, parse: Callable[[], Any], *, json_strings: bool) -> Any:
    """``parse()``'s data once ``raw`` is known to nest no deeper than :data:`MAX_DEPTH` (and it did not recurse
    too deep either: block YAML nests by indentation, which the count does not see)."""
    if nesting(raw, json_strings=json_strings) > MAX_DEPTH:
        raise StoryError(f"is nested more than {MAX_DEPTH} levels deep", file=file)
    try:
        return parse()
    except RecursionError:
        raise StoryError(f"is nested more than {MAX_DEPTH} levels deep", file=file) from None


def check_narration(texts: Sequence[str]) -> None:
    """A ValueError (for the model validator) when the scenes' narration is longer than :data:`MAX_STORY_CHARS`."""
    total = sum(len(t) for t in texts)
    if total > MAX_STORY_CHARS:
        raise ValueError(f"scenes: the narration is {total} characters; at most {MAX_STORY_CHARS} in one story")


def one_line(file: str, load: Callable[[], Any]) -> Any:
    """``load()``'s story; whatever else than a StoryError goes wrong with one file is that file's StoryError
    (a batch reports it as that story's failure, and goes on)."""
    try:
        return load()
    except StoryError:
        raise
    except Exception as exc:
        raise StoryError(f"cannot read the story ({type(exc).__name__})", file=file) from None
