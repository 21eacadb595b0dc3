"""Where API keys may go: each key is bound to a base URL the user configured outside the story.

A story is untrusted input (strangers, templates and LLMs write them): it may choose a provider and its
non-secret options, a ``base_url`` among them, but never which key is read or where it is sent. Keys come
from the environment variable bound to each vendor (``OPENAI_API_KEY``, ``TOGETHER_API_KEY``, ...) and go
only to that vendor's trusted base URL: its ``*_BASE_URL`` environment variable, a Python argument or CLI
option (an :class:`Endpoint`), else the vendor's own URL. A story-named ``base_url`` that differs gets no key
(a keyless local server still works). Keys live in :class:`Secret` objects that never print themselves.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from shortskit.errors import ConfigError

__all__ = [
    "VENDORS",
    "Endpoint",
    "Secret",
    "Vendor",
    "check_base_url",
    "needs_key",
    "public_url",
    "read_key",
    "resolve_endpoint",
    "same_base",
    "under_base",
]

log = logging.getLogger("shortskit.http")


class Secret:
    """An API key that never shows itself: ``repr``/``str`` print stars, :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the ``Authorization`` header only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Endpoint:
    """A trusted place to send requests: a base URL, and the environment variable whose key goes there."""

    base_url: str  # e.g. https://api.openai.com/v1 (no trailing slash needed)
    key_env: str | None = None  # None: the vendor's own variable (OPENAI_API_KEY, ...)


@dataclass(frozen=True)
class Vendor:
    """How one vendor's endpoint is configured from the environment."""

    base_env: str  # the variable that moves its base URL (a proxy, a local server)
    default: str  # its own base URL
    key_env: str  # the variable holding its key


VENDORS: dict[str, Vendor] = {
    "openai": Vendor("OPENAI_BASE_URL", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    "together": Vendor("TOGETHER_BASE_URL", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "kokoro": Vendor("KOKORO_BASE_URL", "http://localhost:8880", "KOKORO_API_KEY"),
}


def public_url(url: str) -> str:
    """``url`` without user:password or query string, fit for logs, errors and cache keys."""
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number (or out of range) raises here
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    if port:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_base_url(url: str, *, where: str = "base URL") -> str:
    """``url`` without its trailing slash; :class:`ConfigError` unless it is http(s)."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise ConfigError(f"{where} must start with http:// or https:// (got {public_url(url)!r})")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise ConfigError(f"{where} is not a valid URL (got {public_url(url)!r})") from None
    # user:password would replace the bearer key (httpx sends it as Basic auth) and end up in logs; a query or
    # a fragment would cut the API's own path off every request
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{where} must not hold a user name or password (got {public_url(url)!r})")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ConfigError(f"{where} must not have a query (?...) or fragment (#...) (got {public_url(url)!r})")
    if not parts.hostname:
        raise ConfigError(f"{where} has no host (got {public_url(url)!r})")
    return url.rstrip("/")


def under_base(url: str, base: str) -> bool:
    """True when ``url`` is ``base`` or below it: same scheme, host and port, and a path under base's path.

    A plain prefix test would also accept ``https://api.example.com.evil.example/`` for the base
    ``https://api.example.com``, or ``/v1evil`` for ``/v1``.
    """
    try:
        u, b = urlsplit(url), urlsplit(base)
        same_origin = (u.scheme.lower(), u.hostname, u.port) == (b.scheme.lower(), b.hostname, b.port)
    except ValueError:
        return False
    root = b.path.rstrip("/")
    return same_origin and (u.path.rstrip("/") == root or u.path.startswith(root + "/"))


def same_base(a: str, b: str) -> bool:
    """True when two base URLs name the same place (case of scheme and host, trailing slash ignored)."""
    return public_url(a).rstrip("/").lower() == public_url(b).rstrip("/").lower()


def needs_key(url: str) -> bool:
    """True for the hosted OpenAI API; other (local, compatible) servers may run without a key."""
    return public_url(url).lower().startswith("https://api.openai.com")


def read_key(env: str | None) -> Secret | None:
    """The key in the environment variable ``env``, or None when it is unset or empty."""
    value = os.environ.get(env, "").strip() if env else ""
    if any(c.isspace() or not c.isprintable() for c in value):
        # httpx would refuse the header and quote it, key and all; say which variable, never its value
        raise ConfigError(f"{env} holds a space, line break or control character: paste the key again")
    return Secret(value) if value else None


def resolve_endpoint(vendor: str, given: Endpoint | str | None = None) -> Endpoint:
    """The trusted endpoint of ``vendor``: ``given`` (a URL or an :class:`Endpoint`), else its environment."""
    spec = VENDORS[vendor]
    if isinstance(given, str):
        given = Endpoint(given)
    if given is not None:
        return Endpoint(check_base_url(given.base_url, where=f"{vendor} endpoint"), given.key_env or spec.key_env)
    url = os.environ.get(spec.base_env, "").strip() or spec.default
    return Endpoint(check_base_url(url, where=spec.base_env), spec.key_env)
