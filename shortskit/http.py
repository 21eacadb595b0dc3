"""What every HTTP provider shares: one client, requests with the key only where it is trusted, HTTP
failures as our errors.

Status codes map to :class:`~shortskit.errors.ProviderError` the same way for every vendor: 401/403 name the
environment variable to set, other 4xx carry the server's own message, 408/425/429/5xx and timeouts are
retryable (with the server's ``Retry-After``). Providers never retry themselves; the scheduler does. Which
base URL a key may go to is decided in :mod:`shortskit.endpoints`; the key is sent only in the
``Authorization`` header of requests under that base URL, and is scrubbed from every message.

A URL the story chose (its ``base_url``, a picture link a server answered with) that is not on an origin the
operator configured is *untrusted*: it goes through a client of its own whose connections resolve the name,
check every address (:func:`~shortskit.endpoints.refused_host`: no loopback, private, link-local, metadata)
and connect to the address checked; it follows no redirect and ignores proxy variables; and errors about it
never quote what the server said, only the status. Every answer, trusted or not, is read up to
:data:`MAX_BODY` bytes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import json
import logging
import re
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, ClassVar

import httpx

from shortskit.endpoints import (
    MAX_BODY,
    VENDORS,
    BodyTooLarge,
    Endpoint,
    Secret,
    _Refused,
    _same_origin,
    bounded_fetch,
    check_base_url,
    check_story_url,
    checked_client,
    needs_key,
    public_url,
    read_key,
    resolve_endpoint,
    same_base,
    under_base,
)
from shortskit.errors import ConfigError, ForbiddenAddressError, ProviderError
from shortskit.providers.options import positive

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BODY",
    "HttpProvider",
    "checked_client",
    "decode_base64",
    "error_from_exception",
    "error_from_response",
    "make_client",
    "parse_json",
    "parse_retry_after",
    "post_json",
    "quote",
    "scrub",
    "server_message",
]

log = logging.getLogger("shortskit.http")

DEFAULT_TIMEOUT = 120.0  # seconds a single request may take (image and speech models are slow)
_CONNECT_TIMEOUT = 15.0
_MESSAGE_CHARS = 300  # longest server message we quote
_RETRYABLE = {408, 425, 429}  # plus every 5xx but 501 (the server will never do it)
# Words that mark a credential in a server's text; the value after them is never shown.
_CREDENTIAL = re.compile(
    r"(?i)((?:secret|token|passw\w*|api[_-]?key|access[_-]?key\w*|credential\w*|signature)[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;}]+"
)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b")


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


def scrub(text: str, secrets: Iterable[Secret | None] = ()) -> str:
    """``text`` with each of ``secrets``, and any bearer token, replaced by ``***``."""
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), "***")
    # Bearer tokens a server echoes back are not ours to show either, nor what looks like a credential
    text = re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)
    return _AWS_KEY_ID.sub("***", _CREDENTIAL.sub(r"\1***", text))


def _one_line(text: str, limit: int = _MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quote(text: object, secrets: Iterable[Secret | None] = (), limit: int = _MESSAGE_CHARS) -> str:
    """A server's words, fit for an error message: secrets scrubbed first (a cut key would survive), one line."""
    return _one_line(scrub(str(text), secrets), limit)


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


def server_message(response: httpx.Response, secrets: Iterable[Secret | None] = ()) -> str:
    """The server's own words about a failed request, on one line: the JSON error message, else the text.

    ``secrets`` (and bearer tokens) are scrubbed from the whole text before it is cut to length.
    """
    body = response.content
    if not body.strip():
        return response.reason_phrase or "no message"
    if _looks_like_html(body, response.headers.get("content-type", "")):
        title = re.search(rb"<title[^>]*>(.*?)</title>", body, re.I | re.S)
        shown = quote(title.group(1).decode("utf-8", "replace").strip(), secrets, 120) if title else ""
        return f"an HTML page{f' ({shown})' if shown else ''}"
    try:
        data = json.loads(body)
    except ValueError:
        return quote(body.decode("utf-8", "replace"), secrets)
    found = _message_from_json(data)
    # an answer without a message is not quoted at all: it may be anything (a metadata service's keys)
    return quote(found, secrets) if found else "a JSON answer without an error message"


def error_from_response(
    response: httpx.Response,
    *,
    provider: str,
    key_env: str | None = None,
    secrets: Iterable[Secret | None] = (),
    quote_server: bool = True,
) -> ProviderError:
    """The :class:`ProviderError` for a response that is not 2xx (see the module docstring for the mapping).

    ``quote_server=False`` (an untrusted server) says only the status, never the server's own words.
    """
    status = response.status_code
    said = server_message(response, secrets) if quote_server else _phrase(status)
    url = ""
    with contextlib.suppress(RuntimeError):  # a response built without a request has no URL
        url = public_url(str(response.request.url))
    if status in (401, 403):
        what = "rejected the API key" if status == 401 else "refused access"
        fix = (
            f"set {key_env} to a valid API key"
            if key_env
            else "this server wants an API key, and keys go only to base URLs configured outside the story"
        )
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


def _phrase(status: int) -> str:
    """The standard words for ``status`` (never the reason phrase the server sent)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no standard meaning"


def error_from_exception(
    exc: httpx.HTTPError, *, provider: str, timeout: float | None = None, secrets: Iterable[Secret | None] = ()
) -> ProviderError:
    """A retryable :class:`ProviderError` for a timeout or a connection that failed or dropped.

    httpx may quote the request (a header it refused, with the key in it): ``secrets`` are scrubbed.
    """
    url = ""
    with contextlib.suppress(RuntimeError):  # an exception raised without a request has none
        url = public_url(str(exc.request.url))
    where = f" ({url})" if url else ""
    if isinstance(exc, httpx.TimeoutException):
        after = f" after {timeout:g} s" if timeout else ""
        message = f"no answer{after}{where}: {type(exc).__name__}"
    elif isinstance(exc, httpx.ConnectError):
        message = f"cannot connect{where}: {quote(exc, secrets) or type(exc).__name__}"
    elif isinstance(exc, httpx.TransportError):
        message = f"connection failed{where}: {quote(exc, secrets) or type(exc).__name__}"
    else:
        message = f"request failed{where}: {quote(exc, secrets) or type(exc).__name__}"
    return ProviderError(message, provider=provider, retryable=isinstance(exc, httpx.TransportError))


def parse_json(response: httpx.Response, *, provider: str, quote_server: bool = True) -> Any:
    """The JSON body of a 2xx answer; a non-retryable :class:`ProviderError` when it is HTML or broken JSON."""
    body = response.content
    if not body.strip():
        raise ProviderError("answered with an empty body instead of JSON", provider=provider)
    if _looks_like_html(body, response.headers.get("content-type", "")):
        said = server_message(response) if quote_server else "an HTML page"
        raise ProviderError(f"answered with {said} instead of JSON (is base_url right?)", provider=provider)
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
    """Mixin for providers that talk HTTP: a trusted endpoint and its key, the client the pipeline hands over.

    A subclass names its ``vendor`` (a key of :data:`~shortskit.endpoints.VENDORS`) and calls
    :meth:`connect` in its constructor with its ``endpoint`` argument (trusted: Python code or the CLI, never a
    story) and its ``base_url`` option (untrusted: a story may set it, and it then gets no key). Used on its own (no
    :meth:`use_client`), a provider opens a client for each request and closes it after: a client is bound to
    the event loop it first ran in, and scripts may call ``asyncio.run`` many times.
    """

    name: ClassVar[str] = "http"
    vendor: ClassVar[str] = "openai"
    timeout: float = DEFAULT_TIMEOUT
    base_url: str = ""
    key_env: str | None = None  # the variable whose key is sent (None: no key goes anywhere)
    _key: Secret | None = None
    _story_base: str | None = None  # a base URL the story named: untrusted, so it never gets a key
    _trusted_base: str | None = None  # the operator's endpoint: its origin is reached without address checks
    _client: httpx.AsyncClient | None = None

    def _normalise_base(self, url: str) -> str:
        return url

    def _set_limits(
        self, *, rate_per_minute: float | None, rate_burst: int | None, max_concurrency: int, timeout: float
    ) -> None:
        """Check and keep the options every HTTP provider has: its pace, its jobs at once, its patience."""
        who = self.name
        self.rate_per_minute = positive(rate_per_minute, "rate_per_minute", who, allow_none=True)
        self.rate_burst = positive(rate_burst, "rate_burst", who, integer=True, allow_none=True)
        self.max_concurrency = positive(max_concurrency, "max_concurrency", who, integer=True)
        self.timeout = float(positive(timeout, "timeout", who))

    def key_required(self) -> bool:
        """True when requests to :attr:`base_url` cannot work without a key (checked before any work)."""
        return needs_key(self.base_url)

    def connect(self, endpoint: Endpoint | str | None = None, *, story_base: str | None = None) -> None:
        """Bind to the trusted endpoint (``endpoint``, else the vendor's environment) and read its key.

        ``story_base`` is a base URL the story chose: requests go there, but without a key, unless it is the
        trusted endpoint itself. Raises :class:`ConfigError` when a needed key is missing.
        """
        if story_base is not None:
            self._story_base = check_base_url(story_base, where=f"{self.name} base_url")
        trusted = resolve_endpoint(self.vendor, endpoint)
        self._trusted_base = trusted.base_url
        own = self._story_base
        if own is not None and not self.trusts(own):
            check_story_url(own, where=f"{self.name} base_url")  # refused now; the connection checks again
        if own is not None and not same_base(own, trusted.base_url):
            self.base_url, self.key_env, self._key = self._normalise_base(own), None, None
            log.info("%s: the story's base_url %s gets no API key", self.name, public_url(own))
            if self.key_required():
                raise ConfigError(
                    f"{self.name}: the story's base_url {public_url(own)} gets no API key (keys go only to the "
                    f"base URL configured outside the story: {VENDORS[self.vendor].base_env}, or an endpoint "
                    "given to render / --endpoint)"
                )
            return
        self.base_url = self._normalise_base(trusted.base_url)
        self.key_env, self._key = trusted.key_env, read_key(trusted.key_env)
        if self._key is None and self.key_required():
            raise ConfigError(f"{self.name}: set the {self.key_env} environment variable to your API key")

    def trusts(self, url: str) -> bool:
        """True when ``url`` is on the origin (scheme, host, port) of the operator's endpoint."""
        return self._trusted_base is not None and _same_origin(url, self._trusted_base)

    def use_client(self, client: httpx.AsyncClient) -> None:
        """Send every request with ``client`` (owned and closed by the caller)."""
        self._client = client

    def headers(self, url: str) -> dict[str, str]:
        """Request headers for ``url``: the bearer key, only when ``url`` is under the trusted base URL."""
        if self._key is None or not under_base(url, self.base_url):
            return {}
        return {"Authorization": f"Bearer {self._key.reveal()}"}

    def fail(self, response: httpx.Response) -> ProviderError:
        """The error for a failed ``response`` of this provider (the server quoted only when it is trusted)."""
        return error_from_response(
            response,
            provider=self.name,
            key_env=self.key_env,
            secrets=(self._key,),
            quote_server=self.trusts(str(response.request.url)),
        )

    async def send(self, method: str, url: str, *, json_body: Any = None, auth: bool = True) -> httpx.Response:
        """One request; a 2xx response back, anything else as a :class:`ProviderError` (never retried here).

        A URL off the operator's origin goes through :func:`checked_client` (see the module docstring).
        """
        log.debug("%s: %s %s", self.name, method, public_url(url))
        started = time.monotonic()
        trusted = self.trusts(url)
        options: dict[str, Any] = {
            "json": json_body,
            "headers": self.headers(url) if auth else None,
            "timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, _CONNECT_TIMEOUT)),
        }
        try:
            if trusted and self._client is not None and not self._client.is_closed:
                response = await bounded_fetch(self._client, method, url, options)
            else:
                opened = make_client(timeout=self.timeout) if trusted else checked_client(timeout=self.timeout)
                async with opened as client:
                    response = await bounded_fetch(client, method, url, options)
        except _Refused as exc:
            raise ForbiddenAddressError(
                f"{public_url(url)}: {exc.host} leads to {exc.why}; a URL the story chose may not reach internal "
                "addresses (the operator configures local servers: the *_BASE_URL variables, --endpoint, "
                "SHORTSKIT_ALLOW_HOSTS)",
                provider=self.name,
            ) from None
        except BodyTooLarge as exc:
            raise ProviderError(
                f"answered with more than {exc.args[0]:,} bytes from {public_url(url)}; not read", provider=self.name
            ) from None
        except httpx.HTTPError as exc:
            raise error_from_exception(exc, provider=self.name, timeout=self.timeout, secrets=(self._key,)) from None
        log.debug(
            "%s: HTTP %d, %d bytes in %.2f s",
            self.name,
            response.status_code,
            len(response.content),
            time.monotonic() - started,
        )
        if not trusted and response.is_redirect:
            raise ForbiddenAddressError(
                f"{public_url(url)} answered with a redirect (HTTP {response.status_code}); redirects from a URL "
                "the story chose are not followed (they could lead anywhere, internal addresses too)",
                provider=self.name,
            )
        if not response.is_success:
            raise self.fail(response)
        return response


async def post_json(provider: HttpProvider, url: str, body: Any) -> Any:
    """POST ``body`` as JSON and return the JSON answer (errors as :class:`ProviderError`)."""
    response = await provider.send("POST", url, json_body=body)
    return parse_json(response, provider=provider.name, quote_server=provider.trusts(url))
