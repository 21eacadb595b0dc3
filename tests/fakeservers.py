"""Real HTTP servers on 127.0.0.1 that imitate the APIs shortskit talks to, for tests.

One :class:`FakeAPI` answers, on its own port, in the shapes of Together/OpenAI images, OpenAI speech, Kokoro's
captioned speech and OpenAI chat completions. Every request is recorded (with its arrival time); failures are
injected per route with :meth:`FakeServer.inject` and served, in order, before the route's normal answer.
"""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

MAX_DELAY = 3.0  # no fake answer waits longer than this, whatever a test asks


@dataclass
class Reply:
    """One answer: status, body (bytes, text, or JSON for a dict/list), headers, and a wait before it."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow server)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, "application/octet-stream"


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Received], Reply]


class FakeServer:
    """A ThreadingHTTPServer on a free port of 127.0.0.1, run in a background thread."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = dict(routes)
        self.requests: list[Received] = []
        self._queue: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def parse_request(self) -> bool:
                self.arrived = time.monotonic()  # as soon as the request line is in, before the body
                return super().parse_request()

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                got = Received(self.command, path, headers, body, self.arrived)
                reply = server._answer(got)
                if reply.delay:
                    time.sleep(min(reply.delay, MAX_DELAY))
                data, content_type = reply.encoded()
                try:
                    self.send_response(reply.status)
                    headers = {"content-type": content_type, **{k.lower(): v for k, v in reply.headers.items()}}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    self.close_connection = True

            do_GET = do_POST = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def inject(self, route: str, *replies: Reply) -> None:
        """Answer the next requests to ``route`` ("POST /v1/...") with ``replies``, then normally again."""
        with self._lock:
            self._queue.setdefault(route, []).extend(replies)

    def calls(self, route: str | None = None) -> list[Received]:
        """Requests received (to ``route`` only, when given), in arrival order."""
        with self._lock:
            return [r for r in self.requests if route is None or r.route == route]

    def _answer(self, got: Received) -> Reply:
        with self._lock:
            self.requests.append(got)
            queued = self._queue.get(got.route)
            if queued:
                return queued.pop(0)
        handler = self.routes.get(got.route) or self._prefix(got.route)
        if handler is None:
            return Reply(404, {"error": {"message": f"no route {got.route}"}})
        try:
            return handler(got)
        except Exception as exc:  # a bug in a fake answer should read as a 500, not hang the test
            return Reply(500, {"error": {"message": f"fake server bug: {exc!r}"}})

    def _prefix(self, route: str) -> Handler | None:
        for key, handler in self.routes.items():
            if key.endswith("*") and route.startswith(key[:-1]):
                return handler
        return None

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# -- media ---------------------------------------------------------------------------------------------


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def wav_bytes(duration: float, rate: int = 24000, *, streamed: bool = False) -> bytes:
    """A 16-bit mono sine tone; ``streamed`` writes the placeholder sizes streaming servers send."""
    t = np.arange(int(duration * rate)) / rate
    frames = (8000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()
    data_size = 0xFFFFFFFF if streamed else len(frames)
    riff_size = 0xFFFFFFFF if streamed else 36 + len(frames)
    header = b"RIFF" + struct.pack("<I", riff_size) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", data_size) + frames


SECONDS_PER_WORD = 0.3
LEAD_IN = 0.1


def kokoro_timestamps(text: str) -> list[dict[str, Any]]:
    """Timestamps the way Kokoro gives them: words without punctuation (hyphens split), punctuation apart."""
    stamps: list[dict[str, Any]] = []
    t = LEAD_IN
    for token in re.findall(r"[\w']+|[^\w\s]", text):
        if re.fullmatch(r"[^\w\s]", token):
            stamps.append({"word": token, "start_time": round(t, 3), "end_time": round(t, 3)})
            continue
        stamps.append({"word": token, "start_time": round(t, 3), "end_time": round(t + SECONDS_PER_WORD, 3)})
        t += SECONDS_PER_WORD
    return stamps


def speech_seconds(text: str) -> float:
    return LEAD_IN + SECONDS_PER_WORD * len(re.findall(r"[\w']+", text)) + 0.2


# -- the API imitation -----------------------------------------------------------------------------------


class FakeAPI(FakeServer):
    """Images (Together/OpenAI), speech (OpenAI, Kokoro) and chat completions on one server.

    ``key``: when set, requests to the API routes must carry ``Bearer <key>`` or get a 401 that (like OpenAI's)
    repeats the key it was given. ``chat_replies``: the contents the chat route answers with, in order.
    ``varying``: every picture differs from the one before, as real image models' do (default: one colour a
    prompt).
    """

    IMAGES = "POST /v1/images/generations"
    SPEECH = "POST /v1/audio/speech"
    KOKORO = "POST /dev/captioned_speech"
    CHAT = "POST /v1/chat/completions"
    FILES = "GET /files/"

    def __init__(self, *, key: str | None = None, varying: bool = False) -> None:
        self.key = key
        self.varying = varying
        self.painted = 0  # pictures made so far
        self.files: dict[str, bytes] = {}
        self.chat_replies: list[str] = []
        super().__init__(
            {
                self.IMAGES: self._guard(self._images),
                self.SPEECH: self._guard(self._speech),
                self.KOKORO: self._kokoro,  # Kokoro-FastAPI asks for no key
                self.CHAT: self._guard(self._chat),
                self.FILES + "*": self._file,
            }
        )

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    def _guard(self, handler: Handler) -> Handler:
        def guarded(got: Received) -> Reply:
            if self.key is not None:
                given = got.headers.get("authorization", "")
                if given != f"Bearer {self.key}":
                    shown = given.removeprefix("Bearer ")
                    return Reply(401, {"error": {"message": f"Incorrect API key provided: {shown}"}})
            return handler(got)

        return guarded

    def _images(self, got: Received) -> Reply:
        body = got.json()
        width, height = int(body.get("width") or 64), int(body.get("height") or 64)
        if "size" in body and "x" in str(body["size"]):
            width, height = (int(v) // 16 for v in str(body["size"]).split("x"))  # small is enough for tests
        red = (len(body.get("prompt", "")) * 37 + (self.painted * 97 if self.varying else 0)) % 256
        self.painted += 1
        picture = png_bytes(width, height, (red, 90, 160))
        if body.get("response_format") == "url":
            name = f"{len(self.files)}.png"
            self.files[name] = picture
            return Reply(200, {"data": [{"url": f"{self.url}/files/{name}"}]})
        return Reply(200, {"data": [{"b64_json": base64.b64encode(picture).decode()}]})

    def _file(self, got: Received) -> Reply:
        data = self.files.get(got.path.rsplit("/", 1)[-1])
        return Reply(200, data, {"content-type": "image/png"}) if data else Reply(404, "no such file")

    def _speech(self, got: Received) -> Reply:
        text = got.json()["input"]
        return Reply(200, wav_bytes(speech_seconds(text)), {"content-type": "audio/wav"})

    def _kokoro(self, got: Received) -> Reply:
        text = got.json()["input"]
        audio = base64.b64encode(wav_bytes(speech_seconds(text))).decode()
        return Reply(200, {"audio": audio, "audio_format": "wav", "timestamps": kokoro_timestamps(text)})

    def _chat(self, got: Received) -> Reply:
        content = self.chat_replies.pop(0) if self.chat_replies else "{}"
        return Reply(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
            },
        )
