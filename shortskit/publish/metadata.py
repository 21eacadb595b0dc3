"""A short's ``OUT.json`` as YouTube metadata, within YouTube's limits, and the honest synthetic-media label.

Limits (YouTube Data API, videos resource): a title of at most 100 characters and a description of at most
5000 bytes, neither holding ``<`` or ``>``; tags of at most 500 characters together, where the commas between
tags count and a tag with a space counts two more for the quotes the API puts around it.

``status.containsSyntheticMedia`` is always sent. YouTube asks creators to declare content that seems realistic
and is meaningfully altered or generated: a real person made to say something they did not (a cloned voice),
or a realistic scene that did not happen (pictures from an image model). Its ``auto`` value here follows the
facts ``OUT.json`` records (``made_with``): a cloned voice or pictures from an image model say yes; eSpeak,
stock voices, the procedural placeholder pictures and the user's own recordings and pictures say no. A short
without those facts (made by an older shortskit) is declared, since nothing says it may not be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from shortskit.errors import ConfigError
from shortskit.publish.base import Short, VideoMeta

__all__ = ["DESCRIPTION_BYTES", "TAGS_CHARS", "TITLE_CHARS", "MetaOptions", "synthetic_default", "video_meta"]

TITLE_CHARS = 100
DESCRIPTION_BYTES = 5000
TAGS_CHARS = 500
PRIVACY = ("private", "unlisted", "public")
# the pictures providers that draw no realistic picture (the offline placeholder)
_PLACEHOLDER_PICTURES = {"procedural"}


@dataclass(frozen=True)
class MetaOptions:
    """The choices YouTube asks for that a short's metadata does not hold."""

    category: str = "22"  # YouTube category id: 22 People & Blogs (YouTube's own default), 27 Education, ...
    privacy: str = "private"  # private | unlisted | public; a scheduled video must be private until its time
    made_for_kids: bool = False  # status.selfDeclaredMadeForKids: required by YouTube, so always sent
    synthetic: Literal["auto", "yes", "no"] = "auto"  # containsSyntheticMedia: auto decides from OUT.json's facts
    hashtags_in_description: bool = True  # append the hashtags to the description (where YouTube reads them)

    def __post_init__(self) -> None:
        if self.privacy not in PRIVACY:
            raise ConfigError(f"privacy must be one of {', '.join(PRIVACY)} (got {self.privacy!r})")
        if self.synthetic not in ("auto", "yes", "no"):
            raise ConfigError(f"synthetic must be auto, yes or no (got {self.synthetic!r})")
        if not str(self.category).isdigit():
            raise ConfigError(f"category must be a YouTube category id like 22 (got {self.category!r})")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    # YouTube refuses < and > in titles and descriptions: look-alike angle quotes keep the meaning
    return _CONTROL.sub("", text).replace("<", "\u2039").replace(">", "\u203a")


def _cut_chars(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def _cut_bytes(text: str, limit: int) -> str:
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len("…".encode())
    cut = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    if " " in cut[len(cut) // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def _tag_cost(tag: str) -> int:
    return len(tag) + (2 if " " in tag else 0)


def _tags(hashtags: list[Any]) -> tuple[list[str], bool]:
    """Tags from hashtags (without ``#``), in order, as many as fit in 500 characters; True if some did not."""
    tags: list[str] = []
    used, dropped = 0, False
    for raw in hashtags:
        if not isinstance(raw, str):
            continue
        tag = " ".join(_CONTROL.sub("", raw).lstrip("#").replace(",", " ").replace("<", "").replace(">", "").split())
        if not tag or tag.casefold() in {t.casefold() for t in tags}:
            continue
        cost = _tag_cost(tag) + (1 if tags else 0)  # the comma before it
        if used + cost > TAGS_CHARS:
            dropped = True
            continue
        tags.append(tag)
        used += cost
    return tags, dropped


def synthetic_default(meta: dict[str, Any]) -> tuple[bool, str]:
    """``containsSyntheticMedia`` from the facts in ``OUT.json``: the answer and the line that says why."""
    facts = meta.get("made_with")
    if not isinstance(facts, dict):
        return True, "declared: OUT.json does not say how the voice and pictures were made"
    why = []
    if facts.get("cloned_voice"):
        why.append(f"a cloned voice ({facts.get('voice')})")
    pictures = facts.get("pictures")
    if facts.get("generated_pictures") and pictures not in _PLACEHOLDER_PICTURES:
        why.append(f"pictures from an image model ({pictures})")
    if why:
        return True, "declared: " + " and ".join(why)
    return False, f"not declared: voice {facts.get('voice')}, not cloned; pictures {pictures}, not realistic"


def video_meta(short: Short, options: MetaOptions) -> VideoMeta:
    """The metadata of ``short`` for YouTube, cut and cleaned to fit; ``notes`` says what was changed."""
    m, notes = short.meta, []
    title = m.get("title") if isinstance(m.get("title"), str) and m["title"].strip() else short.name
    title = " ".join(_clean(title).split())
    if len(title) > TITLE_CHARS:
        notes.append(f"title cut to {TITLE_CHARS} characters")
    title = _cut_chars(title, TITLE_CHARS)
    description = _clean(m.get("description") if isinstance(m.get("description"), str) else "").strip()
    hashtags = [h for h in m.get("hashtags") or [] if isinstance(h, str)]
    if options.hashtags_in_description and hashtags:
        line = " ".join("#" + "".join(_clean(h).lstrip("#").split()) for h in hashtags)
        description = f"{description}\n\n{line}" if description else line
    if len(description.encode("utf-8")) > DESCRIPTION_BYTES:
        notes.append(f"description cut to {DESCRIPTION_BYTES} bytes")
    description = _cut_bytes(description, DESCRIPTION_BYTES)
    tags, dropped = _tags(hashtags)
    if dropped:
        notes.append(f"tags cut to {TAGS_CHARS} characters")
    if options.synthetic == "auto":
        synthetic, why = synthetic_default(m)
    else:
        synthetic, why = (
            options.synthetic == "yes",
            f"{'declared' if options.synthetic == 'yes' else 'not declared'}: by option",
        )
    language = m.get("language") if isinstance(m.get("language"), str) and m["language"].strip() else None
    return VideoMeta(
        title=title, description=description, tags=tuple(tags), language=language, category=str(options.category),
        privacy=options.privacy, made_for_kids=options.made_for_kids, synthetic=synthetic, synthetic_why=why,
        notes=tuple(notes),
    )  # fmt: skip
