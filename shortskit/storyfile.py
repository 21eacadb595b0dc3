"""Reading a story file: its size and nesting bounded before a parser sees it, then strict JSON or safe YAML
(a key given twice is an error, not a silent choice of the last)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from shortskit import bounds
from shortskit.errors import StoryError

__all__ = ["read_story_file"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *anchor": its keys may be overridden here, as YAML means them to be
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (JSON keeps the last silently: an edit that did nothing)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"{key!r} is given twice in one object")
        found[key] = value
    return found


def read_story_file(path: Path) -> Any:
    """The data in the story file ``path`` (JSON, or YAML by its suffix); :class:`StoryError` naming the file."""
    try:
        bounds.check_size(path)
        raw = path.read_text(encoding="utf-8-sig")  # a BOM (Notepad) is not an error
    except FileNotFoundError:
        raise StoryError("story file not found", file=path.name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoryError(f"cannot read the story file ({exc.__class__.__name__}: {exc})", file=path.name) from None
    yaml_file = path.suffix.lower() in {".yaml", ".yml"}
    return bounds.parsed(raw, path.name, lambda: _parse(path, raw, yaml_file), json_strings=not yaml_file)


def _parse(path: Path, raw: str, yaml_file: bool) -> Any:
    if yaml_file:
        try:
            return yaml.load(raw, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python objects
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise StoryError(f"not valid YAML{at}: {problem}", file=path.name) from None
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise StoryError(f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", file=path.name) from None
    except ValueError as exc:  # a key given twice
        raise StoryError(f"not a valid story: {exc}", file=path.name) from None
