"""What every HTTP provider shares: API keys from the environment, one client, and HTTP failures as our errors.

Status codes map to :class:`~shortskit.errors.ProviderError` the same way for every vendor: 401/403 name the
environment variable to set, other 4xx carry the server's own message, 408/425/429/5xx and timeouts are
retryable (with the server's ``Retry-After``). Providers never retry themselves; the scheduler does. Keys live
in :class:`Secret` objects, are sent only in the ``Authorization`` header, and are scrubbed from every message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from shortskit.errors import ConfigError, ProviderError

__all__ = [
    "DEFAULT_TIMEOUT",
    "HttpProvider",
    "Secret",
    "api_key",
    "base_url",
    "decode_base64",
    "error_from_exception",
    "error_from_response",
    "make_client",
    "needs_key",
    "parse_json",
    "parse_retry_after",
    "post_json",
    "public_url",
    "server_message",
]

log = logging.getLogger("shortskit.http")

DEFAULT_TIMEOUT = 120.0  # seconds a single request may take (image and speech models are slow)
_CONNECT_TIMEOUT = 15.0
_MESSAGE_CHARS = 300  # longest server message we quote
_RETRYABLE = {408, 425, 429}  # plus every 5xx but 501 (the server will never do it)


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


def api_key(env: str | None, *, provider: str, required: bool = True) -> Secret | None:
    """The API key in the environment variable ``env``; :class:`ConfigError` naming it when required and unset."""
    if not env:
        if required:
            raise ConfigError(f"{provider}: no API key variable configured (set api_key_env)")
        return None
    value = os.environ.get(env, "").strip()
    if value:
        return Secret(value)
    if required:
        raise ConfigError(f"{provider}: set the {env} environment variable to your API key")
    return None


def base_url(option: str | None, env: str | None, default: str) -> str:
    """The base URL from the option, else the environment variable ``env``, else ``default`` (no trailing /)."""
    url = (option or (os.environ.get(env, "") if env else "") or default).strip()
    if not url.lower().startswith(("http://", "https://")):
        raise ConfigError(f"base URL must start with http:// or https:// (got {public_url(url)!r})")
    return url.rstrip("/")


def public_url(url: str) -> str:
    """``url`` without user:password or query string, fit for logs, errors and cache keys."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def needs_key(url: str) -> bool:
    """True for the hosted OpenAI API; other (local, compatible) servers may run without a key."""
    return public_url(url).lower().startswith("https://api.openai.com")


def make_client(*, timeout: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """A client like the one the pipeline shares: follows redirects, ``timeout`` seconds a request."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, _CONNECT_TIMEOUT)), follow_redirects=True
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)  # RFC 9110 says whole seconds; some servers send fractions
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN is no answer
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        from datetime import timezone

        when = when.replace(tzinfo=timezone.utc)
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _retry_after(response: httpx.Response) -> float | None:
    ms = response.headers.get("retry-after-ms")  # OpenAI sends this finer hint beside Retry-After
    if ms is not None:
        with contextlib.suppress(ValueError):
            return max(float(ms) / 1000, 0.0)
    return parse_retry_after(response.headers.get("retry-after"))


def _scrub(text: str, secrets: Iterable[Secret | None]) -> str:
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), "***")
    # Bearer tokens a server echoes back are not ours to show either
    return re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)


def _one_line(text: str, limit: int = _MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _looks_like_html(body: bytes, content_type: str) -> bool:
    head = body[:512].lstrip().lower()
    return "html" in content_type.lower() or head.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


def _message_from_json(data: Any) -> str | None:
    """The human part of an error body: OpenAI ``{"error": {"message"}}``, FastAPI ``{"detail"}``, and kin."""
    if isinstance(data, str):
        return data or None
    if isinstance(data, list):
        parts = [m for m in (_message_from_json(item) for item in data[:3]) if m]
        return "; ".join(parts) or None
    if not isinstance(data, dict):
        return None
    for key in ("error", "detail", "message", "msg", "errors", "error_message"):
        if key in data:
            found = _message_from_json(data[key])
            if found:
                loc = data.get("loc")
                if key == "msg" and isinstance(loc, list):  # FastAPI validation: say which field
                    return f"{'.'.join(str(p) for p in loc if p != 'body')}: {found}"
                return found
    return None


def server_message(response: httpx.Response) -> str:
    """The server's own words about a failed request, on one line: the JSON error message, else the text."""
    body = response.content
    if not body.strip():
        return response.reason_phrase or "no message"
    if _looks_like_html(body, response.headers.get("content-type", "")):
        title = re.search(rb"<title[^>]*>(.*?)</title>", body, re.I | re.S)
        shown = title.group(1).decode("utf-8", "replace").strip() if title else ""
        return f"an HTML page{f' ({shown})' if shown else ''}"
    try:
        data = json.loads(body)
    except ValueError:
        return _one_line(body.decode("utf-8", "replace"))
    return _one_line(_message_from_json(data) or json.dumps(data, ensure_ascii=False))


def error_from_response(
    response: httpx.Response,
    *,
    provider: str,
    key_env: str | None = None,
    secrets: Iterable[Secret | None] = (),
) -> ProviderError:
    """The :class:`ProviderError` for a response that is not 2xx (see the module docstring for the mapping)."""
    status = response.status_code
    said = _scrub(server_message(response), secrets)
    url = ""
    with contextlib.suppress(RuntimeError):  # a response built without a request has no URL
        url = public_url(str(response.request.url))
    if status in (401, 403):
        what = "rejected the API key" if status == 401 else "refused access"
        fix = f"set {key_env} to a valid API key" if key_env else "this server needs an API key (set api_key_env)"
        return ProviderError(f"{what} (HTTP {status}: {said}); {fix}", provider=provider, status=status)
    if (status >= 500 and status != 501) or status in _RETRYABLE:
        what = "rate limited" if status == 429 else "server error"
        return ProviderError(
            f"{what} (HTTP {status}: {said})",
            provider=provider,
            status=status,
            retryable=True,
            retry_after=_retry_after(response),
        )
    if status == 404:
        return ProviderError(
            f"not found: {url} (HTTP 404: {said}); check base_url and model", provider=provider, status=status
        )
    if 400 <= status < 500:
        return ProviderError(f"request refused (HTTP {status}): {said}", provider=provider, status=status)
    return ProviderError(f"unexpected answer (HTTP {status}: {said})", provider=provider, status=status)


def error_from_exception(exc: httpx.HTTPError, *, provider: str, timeout: float | None = None) -> ProviderError:
    """A retryable :class:`ProviderError` for a timeout or a connection that failed or dropped."""
    url = ""
    with contextlib.suppress(RuntimeError):  # an exception raised without a request has none
        url = public_url(str(exc.request.url))
    where = f" ({url})" if url else ""
    if isinstance(exc, httpx.TimeoutException):
        after = f" after {timeout:g} s" if timeout else ""
        message = f"no answer{after}{where}: {type(exc).__name__}"
    elif isinstance(exc, httpx.ConnectError):
        message = f"cannot connect{where}: {_one_line(str(exc)) or type(exc).__name__}"
    elif isinstance(exc, httpx.TransportError):
        message = f"connection failed{where}: {_one_line(str(exc)) or type(exc).__name__}"
    else:
        message = f"request failed{where}: {_one_line(str(exc)) or type(exc).__name__}"
    return ProviderError(message, provider=provider, retryable=isinstance(exc, httpx.TransportError))


def parse_json(response: httpx.Response, *, provider: str) -> Any:
    """The JSON body of a 2xx answer; a non-retryable :class:`ProviderError` when it is HTML or broken JSON."""
    body = response.content
    if not body.strip():
        raise ProviderError("answered with an empty body instead of JSON", provider=provider)
    if _looks_like_html(body, response.headers.get("content-type", "")):
        raise ProviderError(
            f"answered with {server_message(response)} instead of JSON (is base_url right?)", provider=provider
        )
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProviderError(
            f"answered with invalid JSON ({_one_line(str(exc), 120)}; {len(body)} bytes)", provider=provider
        ) from None


def decode_base64(data: Any, *, provider: str, what: str) -> bytes:
    """Bytes from a base64 field (data: URLs accepted); a clear :class:`ProviderError` when it is not base64."""
    if not isinstance(data, str) or not data.strip():
        raise ProviderError(f"answered without {what}", provider=provider)
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(f"answered with {what} that is not valid base64", provider=provider) from None


class HttpProvider:
    """Mixin for providers that talk HTTP: the client the pipeline hands over, else one made for the request.

    Used on its own (no :meth:`use_client`), a provider opens a client for each request and closes it after:
    a client is bound to the event loop it first ran in, and scripts may call ``asyncio.run`` many times.
    """

    name: ClassVar[str] = "http"
    timeout: float = DEFAULT_TIMEOUT
    key_env: str | None = None
    _key: Secret | None = None
    _client: httpx.AsyncClient | None = None

    def use_client(self, client: httpx.AsyncClient) -> None:
        """Send every request with ``client`` (owned and closed by the caller)."""
        self._client = client

    def headers(self) -> dict[str, str]:
        """Request headers: the bearer key when there is one."""
        if self._key is None:
            return {}
        return {"Authorization": f"Bearer {self._key.reveal()}"}

    def fail(self, response: httpx.Response) -> ProviderError:
        """The error for a failed ``response`` of this provider."""
        return error_from_response(response, provider=self.name, key_env=self.key_env, secrets=(self._key,))

    async def send(self, method: str, url: str, *, json_body: Any = None, auth: bool = True) -> httpx.Response:
        """One request; a 2xx response back, anything else as a :class:`ProviderError` (never retried here)."""
        log.debug("%s: %s %s", self.name, method, public_url(url))
        started = time.monotonic()
        options: dict[str, Any] = {
            "json": json_body,
            "headers": self.headers() if auth else None,
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, _CONNECT_TIMEOUT)),
        }
        try:
            if self._client is not None and not self._client.is_closed:
                response = await self._client.request(method, url, **options)
            else:
                async with make_client(timeout=self.timeout) as client:
                    response = await client.request(method, url, **options)
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, provider=self.name, timeout=self.timeout) from None
        log.debug(
            "%s: HTTP %d, %d bytes in %.2f s",
            self.name,
            response.status_code,
            len(response.content),
            time.monotonic() - started,
        )
        if not response.is_success:
            raise self.fail(response)
        return response


async def post_json(provider: HttpProvider, url: str, body: Any) -> Any:
    """POST ``body`` as JSON and return the JSON answer (errors as :class:`ProviderError`)."""
    response = await provider.send("POST", url, json_body=body)
    return parse_json(response, provider=provider.name)
