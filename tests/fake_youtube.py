"""A real HTTP server on 127.0.0.1 that speaks enough of the YouTube Data API v3 and Google's OAuth token
endpoint for the publish tests: resumable uploads (``POST`` opens a session, ``PUT`` chunks get ``308`` with
``Range`` until the last gets ``201``, ``Content-Range: bytes */N`` asks how far it got), ``search.list``
(forMine) and ``videos.list`` for the scheduled videos, ``videos.update``, ``thumbnails.set``,
``captions.insert``, and the token endpoint (refresh and authorization-code grants).

Faults are queued on :attr:`FakeYouTube.faults` and served to the next upload chunks in order: ``"drop"``
(read half the chunk, keep what a real server would have committed, close the connection without an answer),
``"stall"`` (hold the chunk until :attr:`release` is set, for a test that kills the client), or an HTTP status.
:attr:`uploads_allowed` makes the next session after that many uploads answer with a quota error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

COMMIT = 256 * 1024  # a real server keeps uploaded bytes in whole 256 KiB units
REFRESH_TOKEN = "1//rt-CANARY-refresh-0123456789abcdef"


@dataclass
class Session:
    body: dict[str, Any]
    total: int
    data: bytearray = field(default_factory=bytearray)
    video_id: str | None = None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    size: int

    @property
    def writes(self) -> bool:
        """A request that would change the channel (the token endpoint is not the channel)."""
        return self.method in ("POST", "PUT", "DELETE", "PATCH") and self.path != "/token"


class FakeYouTube:
    """The fake, on its own port; ``url`` is both YOUTUBE_BASE_URL and (``url + "/token"``) the token endpoint."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.videos: dict[str, dict[str, Any]] = {}  # id -> resource (snippet, status, and our own "sha256")
        self.sessions: dict[str, Session] = {}
        self.faults: list[str | int] = []
        self.uploads_allowed: int | None = None
        self.quota_status, self.quota_reason = 403, "quotaExceeded"
        self.thumbnails: dict[str, bytes] = {}
        self.captions: list[tuple[str, dict[str, Any], bytes]] = []
        self.thumbnail_forbidden = False
        self.search_refused = False
        self.captions_refused = False
        self.refresh_tokens = {REFRESH_TOKEN}
        self.access_tokens: set[str] = set()
        self.codes = {"good-code"}
        self.granted = [
            "https://www.googleapis.com/auth/youtube.upload",
            "https://www.googleapis.com/auth/youtube.force-ssl",
        ]
        self.stalled, self.release = threading.Event(), threading.Event()
        self.lock = threading.Lock()
        self._count = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PUT = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- what tests look at ------------------------------------------------------------------------------

    def schedule_existing(self, publish_at: str, title: str = "already there") -> str:
        """A video the channel already has, scheduled for ``publish_at`` (RFC 3339)."""
        vid = self._new_id()
        self.videos[vid] = {
            "id": vid,
            "snippet": {"title": title},
            "status": {"privacyStatus": "private", "publishAt": publish_at},
        }
        return vid

    def uploaded(self) -> list[dict[str, Any]]:
        """The videos uploaded through the API, in order."""
        return [v for v in self.videos.values() if "sha256" in v]

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.writes]

    # -- the protocol --------------------------------------------------------------------------------------

    def _new_id(self) -> str:
        with self.lock:
            self._count += 1
            return f"vid{self._count:03d}{uuid.uuid4().hex[:5]}"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        length = int(headers.get("content-length") or 0)
        with self.lock:
            self.requests.append(Request(h.command, parts.path, query, headers, length))
        route = f"{h.command} {parts.path}"
        if route == "POST /token":
            return self._token(h, h.rfile.read(length))
        if route == "GET /auth":  # the consent page, approved at once: back to the app's loopback address
            back = (
                f"{query['redirect_uri']}?state={query.get('state', '')}&code=good-code&scope={query.get('scope', '')}"
            )
            return self._send(h, 302, None, {"location": back})
        if not self._authorized(headers):
            h.rfile.read(length)
            return self._send(h, 401, _error(401, "authError", "Invalid Credentials"))
        if route == "PUT /upload/youtube/v3/videos":
            return self._chunk(h, query, headers, length)
        body = h.rfile.read(length) if length else b""
        if route == "POST /upload/youtube/v3/videos":
            return self._open(h, body, headers)
        if route == "GET /youtube/v3/search":
            if self.search_refused:
                return self._send(h, 403, _error(403, "forbidden", "search is not allowed here"))
            return self._search(h, query)
        if route == "GET /youtube/v3/channels":
            details = {"relatedPlaylists": {"uploads": "UUfake"}}
            return self._send(h, 200, {"items": [{"id": "UCfake", "contentDetails": details}]})
        if route == "GET /youtube/v3/playlistItems":
            items = [{"contentDetails": {"videoId": i}} for i in self.videos]
            return self._send(h, 200, {"items": items})
        if route == "GET /youtube/v3/videos":
            ids = [i for i in query.get("id", "").split(",") if i in self.videos]
            items = [{k: v for k, v in self.videos[i].items() if k != "sha256"} for i in ids]
            return self._send(h, 200, {"kind": "youtube#videoListResponse", "items": items})
        if route == "PUT /youtube/v3/videos":
            data = json.loads(body)
            video = self.videos.get(data.get("id"))
            if video is None:
                return self._send(h, 404, _error(404, "videoNotFound", "no such video"))
            video["status"] = data["status"]
            return self._send(h, 200, {k: v for k, v in video.items() if k != "sha256"})
        if route == "POST /upload/youtube/v3/thumbnails/set":
            if self.thumbnail_forbidden:
                return self._send(
                    h,
                    403,
                    _error(
                        403,
                        "forbidden",
                        "The authenticated user doesn't have permissions to upload and set custom video thumbnails.",
                    ),
                )
            if query.get("videoId") not in self.videos:
                return self._send(h, 404, _error(404, "videoNotFound", "no such video"))
            self.thumbnails[query["videoId"]] = body
            return self._send(h, 200, {"kind": "youtube#thumbnailSetResponse", "items": [{"default": {"url": "x"}}]})
        if route == "POST /upload/youtube/v3/captions":
            if self.captions_refused:
                return self._send(h, 403, _error(403, "forbidden", "captions are not allowed for this video"))
            meta, media = _multipart(headers.get("content-type", ""), body)
            self.captions.append((meta["snippet"]["videoId"], meta["snippet"], media))
            return self._send(
                h, 200, {"kind": "youtube#caption", "id": "cap" + uuid.uuid4().hex[:6], "snippet": meta["snippet"]}
            )
        return self._send(h, 404, _error(404, "notFound", f"no route {route}"))

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        h.send_response(status)
        for k, v in {"content-type": "application/json; charset=UTF-8", **(headers or {})}.items():
            h.send_header(k, v)
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.access_tokens

    def _token(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        grant = form.get("grant_type")
        ok = (grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens) or (
            grant == "authorization_code" and form.get("code") in self.codes
        )
        if not ok:
            return self._send(
                h, 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            )
        access = "ya29.access-" + uuid.uuid4().hex
        self.access_tokens.add(access)
        answer = {"access_token": access, "expires_in": 3599, "token_type": "Bearer", "scope": form.get("scope", "")}
        if grant == "authorization_code":  # Google answers with the scopes the person granted
            answer["refresh_token"], answer["scope"] = REFRESH_TOKEN, " ".join(self.granted)
        return self._send(h, 200, answer)

    def _open(self, h: BaseHTTPRequestHandler, body: bytes, headers: dict[str, str]) -> None:
        done = len(self.uploaded())
        if self.uploads_allowed is not None and done >= self.uploads_allowed:
            message = "The request cannot be completed because you have exceeded your quota."
            return self._send(
                h, self.quota_status, _error(self.quota_status, self.quota_reason, message, domain="youtube.quota")
            )
        sid = uuid.uuid4().hex
        self.sessions[sid] = Session(json.loads(body), int(headers.get("x-upload-content-length") or -1))
        return self._send(
            h, 200, None, {"location": f"{self.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={sid}"}
        )

    def _progress(self, h: BaseHTTPRequestHandler, s: Session) -> None:
        headers = {"range": f"bytes=0-{len(s.data) - 1}"} if s.data else {}
        self._send(h, 308, None, headers)

    def _chunk(self, h: BaseHTTPRequestHandler, query: dict[str, str], headers: dict[str, str], length: int) -> None:
        s = self.sessions.get(query.get("upload_id", ""))
        if s is None:
            h.rfile.read(length)
            return self._send(h, 404, _error(404, "notFound", "upload session not found"))
        m = re.fullmatch(r"bytes (\*|(\d+)-(\d+))/(\d+|\*)", headers.get("content-range", "bytes */*"))
        if m is None:
            h.rfile.read(length)
            return self._send(h, 400, _error(400, "badContentRange", "bad Content-Range"))
        if m.group(1) == "*":  # where does the session stand?
            h.rfile.read(length)
            return self._finish(h, s) if s.video_id else self._progress(h, s)
        fault = self.faults.pop(0) if self.faults else None
        if fault == "drop":
            got = h.rfile.read(length // 2)
            keep = (len(s.data) + len(got)) // COMMIT * COMMIT - len(s.data)
            if int(m.group(2)) == len(s.data) and keep > 0:
                s.data += got[:keep]
            return _hang_up(h)
        data = h.rfile.read(length)
        if fault == "stall":
            self.stalled.set()
            self.release.wait(30)
            return _hang_up(h)
        if isinstance(fault, int):
            reason = "rateLimitExceeded" if fault == 429 else "backendError"
            return self._send(
                h, fault, _error(fault, reason, "try again"), {"retry-after": "0"} if fault == 429 else None
            )
        if int(m.group(2)) != len(s.data):  # not where we are: tell the client where
            return self._progress(h, s)
        s.data += data
        if len(s.data) < s.total:
            return self._progress(h, s)
        vid = self._new_id()
        s.video_id = vid
        video = {
            "id": vid,
            "snippet": s.body.get("snippet", {}),
            "status": s.body.get("status", {}),
            "sha256": hashlib.sha256(bytes(s.data)).hexdigest(),
        }
        self.videos[vid] = video
        return self._finish(h, s)

    def _finish(self, h: BaseHTTPRequestHandler, s: Session) -> None:
        assert s.video_id is not None
        video = self.videos[s.video_id]
        self._send(h, 201, {"kind": "youtube#video", **{k: v for k, v in video.items() if k != "sha256"}})

    def _search(self, h: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        if query.get("forMine") != "true" or query.get("type") != "video":
            return self._send(h, 400, _error(400, "invalidSearchFilter", "forMine needs type=video"))
        ids = list(self.videos)
        start = int(query.get("pageToken") or 0)
        size = int(query.get("maxResults") or 5)
        items = [
            {"kind": "youtube#searchResult", "id": {"kind": "youtube#video", "videoId": i}}
            for i in ids[start : start + size]
        ]
        answer: dict[str, Any] = {"kind": "youtube#searchListResponse", "items": items}
        if start + size < len(ids):
            answer["nextPageToken"] = str(start + size)
        return self._send(h, 200, answer)


def _error(code: int, reason: str, message: str, domain: str = "youtube") -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }


def _hang_up(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    with contextlib.suppress(OSError):
        h.connection.shutdown(socket.SHUT_RDWR)


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], bytes]:
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    assert boundary, content_type
    parts = [p for p in body.split(b"--" + boundary.group(1).encode()) if p.strip() not in (b"", b"--")]

    def content(part: bytes) -> bytes:
        nl = b"\r\n" if b"\r\n\r\n" in part else b"\n"
        data = part.split(nl + nl, 1)[1]
        return data[: -len(nl)] if data.endswith(nl) else data  # the line break before the next boundary

    return json.loads(content(parts[0])), content(parts[1])
