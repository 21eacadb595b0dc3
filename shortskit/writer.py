"""The writer: a topic turned into a :class:`~shortskit.story.Story` by any OpenAI-compatible chat endpoint.

The model is asked for JSON (``response_format: json_object``, the story's JSON Schema in the prompt); its reply
is validated with :func:`~shortskit.story.parse_story`. A reply that is not valid JSON or not a valid story is
sent back once with the error; a second bad reply is a :class:`~shortskit.errors.ProviderError`.
Configuration, from the environment only: the endpoint is ``SHORTSKIT_WRITER_BASE_URL``, else ``OPENAI_BASE_URL``,
else OpenAI's (the OpenAI SDK's convention); the key is ``SHORTSKIT_WRITER_API_KEY``, else ``OPENAI_API_KEY`` when
the endpoint is OpenAI's own one (an OpenAI key never goes to another server); the model is
``SHORTSKIT_WRITER_MODEL``, else ``gpt-4o-mini``. The story that comes back is untrusted like any other: only its
title, description, hashtags and scene texts and prompts are kept, and it is validated.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import httpx

from shortskit.blocking import run_sync
from shortskit.endpoints import Secret, check_base_url, read_key, resolve_endpoint, same_base
from shortskit.errors import ConfigError, ProviderError, StoryError
from shortskit.http import DEFAULT_TIMEOUT, HttpProvider, post_json, quote, scrub
from shortskit.scheduler import Limit, RetryPolicy, call
from shortskit.story import Story, parse_story, story_schema

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_MODEL",
    "KEY_ENVS",
    "MODEL_ENV",
    "Writer",
    "story_reply_schema",
    "write_story",
    "write_story_sync",
    "writer_configured",
]

log = logging.getLogger("shortskit")
T = TypeVar("T")

BASE_URL_ENV = "SHORTSKIT_WRITER_BASE_URL"
KEY_ENVS = ("SHORTSKIT_WRITER_API_KEY", "OPENAI_API_KEY")  # the first one set is used
MODEL_ENV = "SHORTSKIT_WRITER_MODEL"
DEFAULT_MODEL = "gpt-4o-mini"
MAX_SCENES = 20


def _base(option: str | None = None) -> str:
    url = option or os.environ.get(BASE_URL_ENV, "").strip() or resolve_endpoint("openai").base_url
    return check_base_url(url, where=BASE_URL_ENV)


def _key(base: str) -> tuple[Secret, str] | None:
    """The writer's own key; else the OpenAI key, but only for OpenAI's trusted endpoint."""
    own = read_key(KEY_ENVS[0])
    if own is not None:
        return own, KEY_ENVS[0]
    openai = resolve_endpoint("openai")
    key = read_key(openai.key_env) if same_base(base, openai.base_url) else None
    return (key, KEY_ENVS[1]) if key is not None else None


def writer_configured() -> bool:
    """True when the writer's endpoint has a key: ``SHORTSKIT_WRITER_API_KEY``, or ``OPENAI_API_KEY`` for OpenAI."""
    try:
        return _key(_base()) is not None
    except ConfigError:
        return False


def _loads(reply: str) -> Any:
    """JSON from a model's reply, forgiving a Markdown code fence around it."""
    text = reply.strip()
    fence = re.match(r"^```[a-zA-Z]*\s*\n(.*?)\n?```\s*$", text, re.S)
    if fence:
        text = fence.group(1).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        first, last = text.find("{"), text.rfind("}")
        if 0 < first < last:  # prose around one object
            try:
                return json.loads(text[first : last + 1])
            except json.JSONDecodeError:
                pass
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


class Writer(HttpProvider):
    """An OpenAI-compatible chat model that answers in JSON, with one correction round for bad replies."""

    name: ClassVar[str] = "writer"

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        temperature: float = 0.8,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model = (model or os.environ.get(MODEL_ENV, "") or DEFAULT_MODEL).strip()
        if not self.model:
            raise ConfigError("writer: the model name must not be empty")
        self.base_url = _base(base_url)
        self._trusted_base = self.base_url  # the operator's (an argument or the environment), never a story's
        self.temperature = float(temperature)
        self.timeout = float(timeout)
        self.retry = retry or RetryPolicy()
        found = _key(self.base_url)
        if found is None:
            openai = same_base(self.base_url, resolve_endpoint("openai").base_url)
            if openai:
                raise ConfigError(
                    f"writer: set the {KEY_ENVS[0]} environment variable (or {KEY_ENVS[1]}) to your API key"
                )
            raise ConfigError(
                f"writer: set the {KEY_ENVS[0]} environment variable to your API key for {BASE_URL_ENV} "
                f"({KEY_ENVS[1]} goes only to OpenAI's own endpoint)"
            )
        self._key, self.key_env = found
        self._limit = Limit("writer", concurrency=1)

    async def chat(self, messages: list[dict[str, str]]) -> str:
        """One chat completion (retried on 429/5xx/timeouts by the scheduler); the reply's text."""

        async def once() -> str:
            body = {
                "model": self.model,
                "messages": messages,
                "response_format": {"type": "json_object"},
                "temperature": self.temperature,
            }
            answer = await post_json(self, f"{self.base_url}/chat/completions", body)
            return self._content(answer)

        return await call(once, limit=self._limit, policy=self.retry)

    def _content(self, answer: Any) -> str:
        try:
            choice = answer["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise ProviderError("answered without choices[0].message", provider=self.name) from None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str) or not content.strip():
            refusal = message.get("refusal") if isinstance(message, dict) else None
            why = f": the model refused ({quote(refusal, (self._key,), 200)})" if refusal else ""
            raise ProviderError(f"answered with an empty message{why}", provider=self.name)
        if choice.get("finish_reason") == "length":
            log.warning("writer: the reply was cut off at the model's length limit")
        return content

    async def ask_json(self, messages: list[dict[str, str]], validate: Callable[[Any], T], *, what: str) -> T:
        """Ask for JSON and ``validate`` it; a bad reply goes back once with the error, then fails clearly.

        ``validate`` raises :class:`ValueError` (a :class:`StoryError` is one) for a reply that will not do.
        """
        messages = list(messages)
        problem = ""
        for attempt in (1, 2):
            reply = await self.chat(messages)
            try:
                return validate(_loads(reply))
            except ValueError as exc:
                problem = scrub(str(exc), (self._key,))  # a reply may quote what the server echoed
            log.info("writer: reply %d was not %s (%s)", attempt, what, problem)
            messages += [
                {"role": "assistant", "content": reply},
                {
                    "role": "user",
                    "content": f"That reply is not {what}: {problem}\n"
                    "Answer again with the corrected JSON object only, no other text.",
                },
            ]
        raise ProviderError(f"{self.model} did not give {what}, even after a correction: {problem}", provider=self.name)


# -- stories -----------------------------------------------------------------------------------------------


def story_reply_schema(scenes: int) -> dict[str, Any]:
    """The part of the story JSON Schema a writer fills in: title, language, description, hashtags, scenes."""
    full = story_schema()
    props = full["properties"]
    scene = full["$defs"]["Scene"]["properties"]
    return {
        "type": "object",
        "required": ["title", "language", "description", "hashtags", "scenes"],
        "additionalProperties": False,
        "properties": {
            **{k: props[k] for k in ("title", "language", "hashtags")},
            "description": {"type": "string", "description": props["description"]["description"]},
            "scenes": {
                "type": "array",
                "minItems": scenes,
                "maxItems": scenes,
                "description": props["scenes"]["description"],
                "items": {
                    "type": "object",
                    "required": ["text", "image_prompt"],
                    "additionalProperties": False,
                    "properties": {
                        "text": scene["text"],
                        "image_prompt": {"type": "string", "description": scene["image_prompt"]["description"]},
                    },
                },
            },
        },
    }


def _story_messages(topic: str, scenes: int, language: str) -> list[dict[str, str]]:
    schema = json.dumps(story_reply_schema(scenes), ensure_ascii=False)
    system = (
        "You write scripts for vertical short videos (YouTube Shorts, Reels, TikTok). A script is a list of "
        "scenes; each scene is one or two short spoken sentences (about 12 to 30 words) and an image prompt "
        "that describes one striking, concrete picture for it (subject, setting, light, style; no text in the "
        "picture). Open with a hook, end with a payoff. Write the narration, title, description and hashtags "
        f"in the language {language!r}; write image prompts in English.\n"
        "Reply with one JSON object and nothing else, valid against this JSON Schema:\n"
        f"{schema}"
    )
    user = f"Topic: {topic}\nScenes: exactly {scenes}\nLanguage: {language}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _story_from(data: Any, *, scenes: int, language: str) -> Story:
    if not isinstance(data, dict):
        raise StoryError(f"the reply must be a JSON object, got {type(data).__name__}")
    # Only what a writer decides; render settings stay the user's. Unknown keys are dropped, not argued over.
    keep: dict[str, Any] = {k: data[k] for k in ("title", "description", "hashtags") if data.get(k) is not None}
    keep["language"] = language
    raw_scenes = data.get("scenes")
    if isinstance(raw_scenes, list):
        keep["scenes"] = [
            {k: s[k] for k in ("text", "image_prompt") if k in s} if isinstance(s, dict) else s for s in raw_scenes
        ]
    else:
        keep["scenes"] = raw_scenes
    story = parse_story(keep)
    if len(story.scenes) != scenes:
        raise StoryError(f"expected exactly {scenes} scenes, got {len(story.scenes)}", field="scenes")
    return story


async def write_story(
    topic: str,
    *,
    scenes: int = 5,
    language: str = "en",
    model: str | None = None,
    base_url: str | None = None,
    client: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Story:
    """A new story about ``topic``: ``scenes`` scenes of narration and image prompts in ``language``.

    Raises :class:`ConfigError` when no key is set, :class:`ProviderError` when the endpoint fails or the model
    gives no valid story after one correction.
    """
    if not topic or not topic.strip():
        raise ConfigError("the topic must not be empty")
    if isinstance(scenes, bool) or not isinstance(scenes, int) or not 1 <= scenes <= MAX_SCENES:
        raise ConfigError(f"scenes must be a whole number from 1 to {MAX_SCENES}, got {scenes!r}")
    try:
        parse_story({"title": "x", "language": language, "scenes": [{"text": "x", "image_prompt": "x"}]})
    except StoryError:
        raise ConfigError(f"language must be a BCP-47 tag like en, es or pt-BR, got {language!r}") from None
    writer = Writer(model=model, base_url=base_url, retry=retry, timeout=timeout)
    if client is not None:
        writer.use_client(client)
    return await writer.ask_json(
        _story_messages(topic.strip(), scenes, language),
        lambda data: _story_from(data, scenes=scenes, language=language),
        what="a valid story",
    )


def write_story_sync(topic: str, **options: Any) -> Story:
    """Blocking :func:`write_story` for scripts, the CLI and Jupyter."""
    return run_sync(write_story(topic, **options), name="write_story")
