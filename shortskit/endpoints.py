"""Where API keys may go: each key is bound to a base URL the user configured outside the story.

A story is untrusted input (strangers, templates and LLMs write them): it may choose a provider and its
non-secret options, a ``base_url`` among them, but never which key is read or where it is sent. Keys come
from the environment variable bound to each vendor (``OPENAI_API_KEY``, ``TOGETHER_API_KEY``, ...) and go
only to that vendor's trusted base URL: its ``*_BASE_URL`` environment variable, a Python argument or CLI
option (an :class:`Endpoint`), else the vendor's own URL. A story-named ``base_url`` that differs gets no key
(a keyless local server still works). Keys live in :class:`Secret` objects that never print themselves.

Internal addresses are the operator's: a URL the story chose (its ``base_url``, a picture ``url`` a server
answers with) may reach only global addresses, never loopback, private, link-local, CGNAT, metadata or other
special ones (:func:`refused_address`), unless the operator allows the host in ``SHORTSKIT_ALLOW_HOSTS``. The
operator's own endpoints (above) may be anywhere: a Kokoro on localhost. The connection enforces it:
:func:`checked_client` resolves the name, checks every address and connects to a checked one, following no
redirect; :func:`bounded_fetch` reads any answer, trusted or not, up to :data:`MAX_BODY` bytes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from shortskit.errors import ConfigError

__all__ = [
    "ALLOW_HOSTS_ENV",
    "MAX_BODY",
    "VENDORS",
    "BodyTooLarge",
    "Endpoint",
    "Secret",
    "Vendor",
    "allowed_host",
    "bounded_fetch",
    "check_base_url",
    "check_story_url",
    "checked_client",
    "needs_key",
    "public_url",
    "read_key",
    "refused_address",
    "refused_host",
    "resolve_endpoint",
    "resolve_host",
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
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
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


# -- addresses a story may reach ----------------------------------------------------------------------------

# The most bytes of one answer we read: a 1440x1440 picture as base64 JSON is ~8 MB, a minute of 48 kHz
# float stereo WAV 23 MB; past this a server is sending us something else.
MAX_BODY = 64 * 1024 * 1024
ALLOW_HOSTS_ENV = "SHORTSKIT_ALLOW_HOSTS"  # hosts (host, host:port) or networks (10.0.0.0/8) stories may name

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: the IPv4 address is the last 32 bits
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215)
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


def _embedded(ip: _IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refused_address(ip: str | _IP) -> str | None:
    """Why a URL a story chose may not reach ``ip`` (a metadata, loopback, private, ... address), or None."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0] if isinstance(ip, str) else ip)
    except ValueError:
        return "not an IP address"
    inner = _embedded(addr)
    if inner is not None:
        return refused_address(inner)
    if addr in _METADATA:
        return "a cloud metadata address"
    for test, what in (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(addr, test):
            return what
    if not addr.is_global:  # CGNAT (100.64/10), benchmarking, documentation and the other special ranges
        return "an address that is not global"
    return None


def _allowed_entries() -> list[str]:
    raw = os.environ.get(ALLOW_HOSTS_ENV, "")
    return [e.strip().lower() for e in raw.replace(";", ",").replace(" ", ",").split(",") if e.strip()]


def _split_entry(entry: str) -> tuple[str, int | None]:
    """``host`` and ``port`` (None: any) of an entry: ``host``, ``host:port``, ``[v6]:port``, ``v6``."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:  # a name, an IPv4 address or a bare IPv6 address
        host, port = entry, ""
    return host.rstrip("."), int(port) if port.isdigit() else None


def allowed_host(host: str, port: int | None, ip: str | None = None) -> bool:
    """True when the operator allows stories to reach ``host`` (at ``port``, or the address ``ip``) in
    ``SHORTSKIT_ALLOW_HOSTS``: entries ``host``, ``host:port``, ``[v6]:port`` or a network ``10.0.0.0/8``."""
    host = host.strip("[]").lower().rstrip(".")
    for entry in _allowed_entries():
        if "/" in entry:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            for candidate in (host, ip):
                try:
                    if candidate and ipaddress.ip_address(candidate.split("%", 1)[0]) in network:
                        return True
                except ValueError:
                    pass
            continue
        name, wanted = _split_entry(entry)
        if name == host and (wanted is None or wanted == port):
            return True
    return False


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6); a literal address is itself. OSError when it cannot."""
    host = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(host.split("%", 1)[0]))]
    except ValueError:
        pass
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def refused_host(host: str, port: int, addresses: list[str]) -> str | None:
    """Why a story-chosen URL may not go to ``host`` resolving to ``addresses`` (every one is checked), or None."""
    if allowed_host(host, port):
        return None
    for ip in addresses:
        why = refused_address(ip)
        if why is not None and not allowed_host(host, port, ip):
            return why
    return None


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


def check_story_url(url: str, *, where: str) -> None:
    """:class:`ConfigError` when a URL the story chose leads to an address that is the operator's to configure.

    The name is resolved now (every address, IPv4 and IPv6) to refuse early; the connection checks again, so a
    name that changes its answer in between gains nothing. A name that does not resolve now is left for the
    request to fail on.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or _default_port(parts.scheme)
    except ValueError:
        raise ConfigError(f"{where} is not a valid URL (got {public_url(url)!r})") from None
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError):
        return
    why = refused_host(host, port, addresses)
    if why is not None:
        raise ConfigError(
            f"{where} {public_url(url)} leads to {why}: a story may not reach internal addresses (the operator "
            f"configures local servers with the *_BASE_URL variables, --endpoint, or {ALLOW_HOSTS_ENV})"
        )


# -- the connection that enforces it -------------------------------------------------------------------------


class _Refused(Exception):
    """Raised inside a checked connection: the host leads to an address a story may not reach."""

    def __init__(self, host: str, why: str) -> None:
        super().__init__(f"{host} leads to {why}")
        self.host, self.why = host, why


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend that connects only where a story may: the name is resolved here, every
    address it gives is checked, and the connection goes to a checked address, never through a second
    lookup that a rebinding name could answer differently."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.to_thread(resolve_host, host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        why = refused_host(host, port, addresses)
        if why is not None:
            raise _Refused(host, why)
        failed: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    ip, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:  # the next address, as a resolver's caller would
                failed = exc
        raise failed or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise _Refused("a unix socket", "a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on :class:`_CheckedBackend` (no proxy, no unix socket)."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # httpx has no argument for the network backend: the pool is made again the way it makes it, on ours
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=_CheckedBackend()
        )


def checked_client(*, timeout: float = 120.0) -> httpx.AsyncClient:
    """A client for URLs a story chose: every connection checked (see the module docstring), no redirects
    followed, no proxy or ``.netrc`` from the environment."""
    return httpx.AsyncClient(
        transport=_CheckedTransport(),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        follow_redirects=False,
        trust_env=False,
    )


def _same_origin(url: str, base: str) -> bool:
    try:
        u, b = urlsplit(url), urlsplit(base)
        return (u.scheme.lower(), u.hostname, u.port) == (b.scheme.lower(), b.hostname, b.port)
    except ValueError:
        return False


async def bounded_fetch(client: httpx.AsyncClient, method: str, url: str, options: dict[str, Any]) -> httpx.Response:
    """One request, its body read up to :data:`MAX_BODY` bytes (decompressed), as a plain response."""
    request = client.build_request(method, url, **options)
    response = await client.send(request, stream=True)
    try:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise BodyTooLarge(MAX_BODY)
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY:
                raise BodyTooLarge(MAX_BODY)
            chunks.append(chunk)
    finally:
        await response.aclose()
    # the body is decoded already: the headers that described the encoding no longer do
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _ENCODING_HEADERS]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=b"".join(chunks),
        request=response.request,
        extensions={k: v for k, v in response.extensions.items() if k in ("http_version", "reason_phrase")},
    )


_ENCODING_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


class BodyTooLarge(Exception):
    """An answer longer than :data:`MAX_BODY`."""
