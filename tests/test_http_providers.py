"""HTTP providers (Together, OpenAI images, OpenAI speech, Kokoro) against real local servers and MockTransport.

The servers in tests/fakeservers.py speak each API's shape on 127.0.0.1; failures (429, 500, garbage bodies,
slow answers, 401) are injected there. Full renders check that the server saw exactly the artefacts made plus
the retries, that the rate limit held, that Kokoro's times reach the captions, and that keys leak nowhere.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import itertools
import json
import logging
import struct
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import shortskit
from shortskit import ConfigError, ProviderError, RetryPolicy, ScenesFailedError, StoryError, ffmpeg, parse_story
from shortskit.audio import save_audio
from shortskit.http import (
    HttpProvider,
    Secret,
    decode_base64,
    error_from_exception,
    error_from_response,
    parse_json,
    parse_retry_after,
    public_url,
)
from shortskit.providers import create_image, create_voice
from shortskit.providers.openai_images import OpenAIImages
from shortskit.providers.openai_speech import KokoroSpeech, OpenAISpeech
from shortskit.providers.together import TogetherImages, request_size
from shortskit.timing import map_timestamps
from tests.conftest import small_story
from tests.fakeservers import FakeAPI, Reply, kokoro_timestamps, png_bytes, speech_seconds, wav_bytes

KEY = "sk-FAKE-0123456789-secret"
FAST_RETRY = RetryPolicy(attempts=4, initial=0.01, maximum=0.05, jitter=0)
ENV = ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # the operator lifts Together's 6 a minute for the fake server (a story may only lower limits)
    monkeypatch.setenv("SHORTSKIT_LIMITS", "images.together.rate_per_minute=none, images.together.max_concurrency=5")
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.fixture
def api() -> Any:
    with FakeAPI(key=KEY) as server:
        yield server


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- mapping functions, through httpx.MockTransport --------------------------------------------------------


class _Probe(HttpProvider):
    name = "probe"

    def __init__(self, handler: Any, *, key_env: str = "TOGETHER_API_KEY") -> None:
        self.key_env = key_env
        self._key = Secret(KEY)
        self._trusted_base = "https://api.example.test/v1"  # as if configured by the operator
        self.timeout = 0.3
        self.use_client(httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def _send(handler: Any) -> httpx.Response:
    async def main() -> httpx.Response:
        probe = _Probe(handler)
        client = probe._client
        assert client is not None
        try:
            return await probe.send("POST", "https://api.example.test/v1/things", json_body={"a": 1})
        finally:
            await client.aclose()

    return run(main())


def _error(handler: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        _send(handler)
    return info.value


def _answer(status: int, body: Any = b"", headers: dict[str, str] | None = None) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, (dict, list)):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, content=body, headers=headers)

    return handler


MAPPING = {
    "401 names the variable, hides the key": (
        _answer(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}),
        False, None, ["probe: rejected the API key (HTTP 401", "set TOGETHER_API_KEY"],
    ),
    "403": (_answer(403, {"detail": "Forbidden"}), False, None, ["refused access (HTTP 403: Forbidden)", "TOGETHER_API_KEY"]),
    "400 with the server's JSON message": (
        _answer(400, {"error": {"message": "width must be a multiple of 16", "type": "invalid_request_error"}}),
        False, None, ["request refused (HTTP 400): width must be a multiple of 16"],
    ),
    "422 FastAPI detail": (
        _answer(422, {"detail": [{"loc": ["body", "voice"], "msg": "field required", "type": "missing"}]}),
        False, None, ["HTTP 422): voice: field required"],
    ),
    "400 HTML page": (
        _answer(400, b"<html><head><title>400 Bad Request</title></head><body>nginx</body></html>", {"content-type": "text/html"}),
        False, None, ["an HTML page (400 Bad Request)"],
    ),
    "404": (_answer(404, {"error": "no such route"}), False, None, ["not found: https://api.example.test/v1/things", "check base_url"]),
    "429 Retry-After seconds": (_answer(429, {"error": {"message": "slow down"}}, {"Retry-After": "7"}), True, 7.0, ["rate limited (HTTP 429: slow down)"]),
    "429 retry-after-ms": (_answer(429, b"", {"retry-after-ms": "250", "Retry-After": "1"}), True, 0.25, ["rate limited"]),
    "500 without Retry-After": (_answer(500, b"Internal Server Error"), True, None, ["server error (HTTP 500: Internal Server Error)"]),
    "503 with Retry-After": (_answer(503, b"", {"Retry-After": "2"}), True, 2.0, ["server error (HTTP 503"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MAPPING))
def test_status_mapping(case: str) -> None:
    handler, retryable, retry_after, parts = MAPPING[case]
    err = _error(handler)
    assert err.retryable is retryable
    assert err.retry_after == retry_after
    assert err.provider == "probe" and err.status == int(str(err).split("HTTP ")[1][:3])
    for part in parts:
        assert part in str(err)
    assert KEY not in str(err) and "\n" not in str(err)


def test_retry_after_http_date() -> None:
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("12") == 12.0 and parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("") is None
    err = _error(_answer(429, b"", {"Retry-After": email.utils.formatdate(time.time() + 20, usegmt=True)}))
    assert err.retryable and 18 <= (err.retry_after or 0) <= 20


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (httpx.ReadTimeout("timed out"), "no answer after 0.3 s"),
        (httpx.ConnectTimeout("timed out"), "no answer after 0.3 s"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "cannot connect (https://api.example.test/v1/things)"),
        (httpx.RemoteProtocolError("peer closed connection"), "connection failed"),
    ],
)
def test_transport_failures_are_retryable(exc: httpx.HTTPError, words: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        exc.request = request
        raise exc

    err = _error(handler)
    assert err.retryable and err.provider == "probe" and words in str(err)


def test_error_helpers_directly() -> None:
    request = httpx.Request("POST", "https://user:pw@api.example.test/v1/x?key=abc")
    response = httpx.Response(401, json={"error": f"bad key Bearer {KEY}"}, request=request)
    err = error_from_response(response, provider="p", key_env="MY_KEY", secrets=[Secret(KEY)])
    assert "set MY_KEY" in str(err) and KEY not in str(err)
    err = error_from_exception(httpx.ReadTimeout("x", request=request), provider="p", timeout=2)
    assert "https://api.example.test/v1/x" in str(err) and "pw" not in str(err) and "abc" not in str(err)
    assert public_url("https://u:p@h.test:8080/v1?k=1") == "https://h.test:8080/v1"
    assert repr(Secret(KEY)) == "Secret('***')" and KEY not in f"{Secret(KEY)}"


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (
            b"<!DOCTYPE html><html><title>Gateway</title></html>",
            {},
            "answered with an HTML page (Gateway) instead of JSON",
        ),
        (b'{"data": [{"b64_json": "iVBOR', {"content-type": "application/json"}, "answered with invalid JSON"),
        (b"", {}, "answered with an empty body"),
    ],
)
def test_garbage_json_bodies(body: bytes, headers: dict[str, str], words: str) -> None:
    with pytest.raises(ProviderError, match=r"^probe: ") as info:
        parse_json(httpx.Response(200, content=body, headers=headers), provider="probe")
    assert words in str(info.value) and not info.value.retryable


def test_bad_base64() -> None:
    with pytest.raises(ProviderError, match="not valid base64"):
        decode_base64("not*base64!", provider="p", what="b64_json")
    with pytest.raises(ProviderError, match="answered without audio"):
        decode_base64(None, provider="p", what="audio")
    assert decode_base64("data:image/png;base64," + base64.b64encode(b"abc").decode(), provider="p", what="x") == b"abc"


# -- configuration -----------------------------------------------------------------------------------------


def test_missing_key_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigError, match="set the TOGETHER_API_KEY environment variable"):
        create_image("together")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        create_image("openai")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        create_voice("openai")
    # a local compatible server needs no key; Kokoro never does
    local = create_voice("openai", endpoint="http://127.0.0.1:8880/v1")
    assert local.headers(local.base_url + "/audio/speech") == {}
    kokoro = create_voice("kokoro")
    assert kokoro.headers(kokoro.base_url + "/dev/captioned_speech") == {}
    # in a story, the same problem is a story error (exit 2) before any work
    story = parse_story(small_story(images={"provider": "together"}))
    with pytest.raises(StoryError, match="images: together: set the TOGETHER_API_KEY"):
        shortskit.check_story(story)


def test_settings_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # a base URL with credentials or a query is refused (httpx would send them as Basic auth instead of the
    # key, and the API's paths would land after the query), and the refusal does not repeat them
    monkeypatch.setenv("OPENAI_BASE_URL", "https://someone:hunter2@llm.example.test/v1?token=abc")
    with pytest.raises(ConfigError) as refused:
        OpenAIImages()
    assert "OPENAI_BASE_URL" in str(refused.value) and "hunter2" not in str(refused.value)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.example.test/v1")
    providers = [
        TogetherImages(negative_prompt="blurry", steps=2),
        OpenAIImages(),
        OpenAISpeech(voice="nova"),
        KokoroSpeech(voice="ef_dora"),
    ]
    for p in providers:
        blob = json.dumps(p.settings()) + repr(p)
        assert KEY not in blob and "hunter2" not in blob and "token=abc" not in blob, p.name
        assert KEY not in repr(vars(p))
    assert providers[0].settings()["negative_prompt"] == "blurry"
    assert providers[1].settings()["base_url"] == "https://llm.example.test/v1"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"steps": 0}, "steps must be a whole number above 0"),
        ({"response_format": "png"}, "response_format must be b64_json or url"),
        ({"max_side": 100}, "max_side must be at least 256"),
        ({"base_url": "ftp://x"}, "base_url must start with http"),
        ({"rate_per_minute": -1}, "rate_per_minute must be a number above 0"),
    ],
)
def test_bad_options(options: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        create_image("together", **options)


def test_request_size_stays_within_limits() -> None:
    assert request_size(1080, 1920) == (800, 1440)
    assert request_size(270, 480) == (256, 480)
    assert request_size(64, 64) == (256, 256)
    for w, h in [(1080, 1920), (4096, 1000), (100, 3000), (777, 555)]:
        rw, rh = request_size(w, h, max_side=1440)
        assert rw % 32 == 0 and rh % 32 == 0 and 256 <= rw <= 1440 and 256 <= rh <= 1440


# -- providers against a real local server -----------------------------------------------------------------


def test_together_b64_and_url_answers(api: FakeAPI, tmp_path: Path) -> None:
    for fmt in ("b64_json", "url"):
        p = TogetherImages(endpoint=api.v1, response_format=fmt, negative_prompt="text, watermark", steps=3)
        out = tmp_path / f"{fmt}.png"
        run(p.generate("a red fox", out, width=270, height=480, seed=7))
        with Image.open(out) as im:
            assert im.size == (270, 480) and im.format == "PNG"
    posts = api.calls(FakeAPI.IMAGES)
    assert len(posts) == 2 and len(api.calls("GET /files/0.png")) == 1
    body = posts[0].json()
    assert body == {
        "model": "black-forest-labs/FLUX.1-schnell-Free", "prompt": "a red fox", "width": 256, "height": 480,
        "steps": 3, "n": 1, "seed": 7, "response_format": "b64_json", "negative_prompt": "text, watermark",
    }  # fmt: skip
    assert posts[0].headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in api.calls("GET /files/0.png")[0].headers  # the key stays with the API


def test_standalone_provider_works_across_event_loops(api: FakeAPI, tmp_path: Path) -> None:
    p = TogetherImages(endpoint=api.v1)
    run(p.generate("one", tmp_path / "1.png", width=90, height=160, seed=1))
    run(p.generate("two", tmp_path / "2.png", width=90, height=160, seed=1))  # a new loop: no stale client
    assert len(api.calls(FakeAPI.IMAGES)) == 2


def test_openai_images(api: FakeAPI, tmp_path: Path) -> None:
    p = OpenAIImages(endpoint=api.v1, model="dall-e-3")
    run(p.generate("a lighthouse", tmp_path / "o.png", width=270, height=480, seed=3))
    body = api.calls(FakeAPI.IMAGES)[0].json()
    assert body == {"model": "dall-e-3", "prompt": "a lighthouse", "n": 1, "size": "1024x1792"}
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (270, 480)


GARBAGE = {
    "HTML page": (Reply(200, "<html><body>Welcome to nginx</body></html>", {"content-type": "text/html"}), "an HTML page"),
    "truncated JSON": (Reply(200, b'{"data": [{"b64_json": "iVBORw0KGgo', {"content-type": "application/json"}), "invalid JSON"),
    "not an image": (Reply(200, {"data": [{"b64_json": base64.b64encode(b"GIF89a? no, just text").decode()}]}), "data that is not an image"),
    "bad base64": (Reply(200, {"data": [{"b64_json": "@@@not-base64@@@"}]}), "b64_json that is not valid base64"),
    "no data": (Reply(200, {"id": "x", "data": []}), "answered without data[0]"),
    "HTML behind a url": (None, "data that is not an image"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_image_answers_are_clear_errors(api: FakeAPI, tmp_path: Path, case: str) -> None:
    reply, words = GARBAGE[case]
    if reply is None:
        api.files["page.png"] = b"<!doctype html><html>not a picture</html>"
        reply = Reply(200, {"data": [{"url": f"{api.url}/files/page.png"}]})
    api.inject(FakeAPI.IMAGES, reply)
    p = TogetherImages(endpoint=api.v1)
    with pytest.raises(ProviderError) as info:
        run(p.generate("x", tmp_path / "x.png", width=90, height=160, seed=1))
    err = info.value
    assert type(err) is ProviderError and err.provider == "together" and not err.retryable
    assert str(err).startswith("together: ") and words in str(err), str(err)
    assert not (tmp_path / "x.png").exists() and list(tmp_path.iterdir()) == []


def test_slow_answer_times_out_as_retryable(api: FakeAPI, tmp_path: Path) -> None:
    api.inject(FakeAPI.IMAGES, Reply(200, {"data": []}, delay=1.0))
    p = TogetherImages(endpoint=api.v1, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"together: no answer after 0.3 s") as info:
        run(p.generate("x", tmp_path / "x.png", width=90, height=160, seed=1))
    assert info.value.retryable and time.monotonic() - started < 0.9


def test_unreachable_server_is_retryable(tmp_path: Path) -> None:
    with FakeAPI() as gone:
        url = gone.v1
    p = OpenAISpeech(endpoint=url, timeout=0.5)
    with pytest.raises(ProviderError, match="openai: cannot connect") as info:
        run(p.synthesize("Hello.", tmp_path / "v.wav", language="en"))
    assert info.value.retryable


def test_openai_speech(api: FakeAPI, tmp_path: Path) -> None:
    p = OpenAISpeech(endpoint=api.v1, model="kokoro", voice="af_heart", speed=1.25)
    speech = run(p.synthesize("Hello there, small world.", tmp_path / "v.wav", language="en"))
    assert speech.words is None and speech.sample_rate == 24000
    assert speech.duration == pytest.approx(speech_seconds("Hello there, small world."), abs=1e-3)
    body = api.calls(FakeAPI.SPEECH)[0].json()
    assert body == {"model": "kokoro", "input": "Hello there, small world.", "voice": "af_heart",
                    "response_format": "wav", "speed": 1.25}  # fmt: skip
    with wave.open(str(tmp_path / "v.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)


def _mp3(tmp_path: Path) -> bytes:
    src, out = tmp_path / "tone.wav", tmp_path / "tone.mp3"
    src.write_bytes(wav_bytes(1.0, 22050))
    ffmpeg.run(["-y", "-i", src, "-c:a", "libmp3lame", "-b:a", "64k", out])
    return out.read_bytes()


def test_speech_audio_that_is_not_plain_wav(api: FakeAPI, tmp_path: Path) -> None:
    # MP3 from the server: converted by ffmpeg
    api.inject(FakeAPI.SPEECH, Reply(200, _mp3(tmp_path), {"content-type": "audio/mpeg"}))
    p = OpenAISpeech(endpoint=api.v1)
    speech = run(p.synthesize("Hi.", tmp_path / "mp3.wav", language="en"))
    assert speech.duration == pytest.approx(1.0, abs=0.1)
    # a streamed WAV (placeholder sizes, as OpenAI sends): the real length is read
    duration, rate = save_audio(wav_bytes(0.5, 16000, streamed=True), tmp_path / "s.wav", provider="t")
    assert (round(duration, 3), rate) == (0.5, 16000)
    # float stereo WAV: not what wave reads; ffmpeg makes it 16-bit mono
    frames = b"".join(struct.pack("<ff", 0.1, -0.1) for _ in range(8000))
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE"
    header += (
        b"fmt " + struct.pack("<IHHIIHH", 16, 3, 2, 16000, 16000 * 8, 8, 32) + b"data" + struct.pack("<I", len(frames))
    )
    assert save_audio(header + frames, tmp_path / "f.wav", provider="t") == (0.5, 16000)


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(200, "<html>oops</html>", {"content-type": "text/html"}), "answered with an HTML page instead of audio"),
        (Reply(200, {"error": "model overloaded"}), "answered with JSON (model overloaded) instead of audio"),
        (
            Reply(200, b"\x00\x01garbage" * 50, {"content-type": "audio/wav"}),
            "bytes that are not audio ffmpeg can read",
        ),
        (Reply(200, b""), "answered with an empty body instead of audio"),
    ],
)
def test_garbage_speech_answers_are_clear_errors(api: FakeAPI, tmp_path: Path, reply: Reply, words: str) -> None:
    api.inject(FakeAPI.SPEECH, reply)
    with pytest.raises(ProviderError) as info:
        run(OpenAISpeech(endpoint=api.v1).synthesize("Hi.", tmp_path / "v.wav", language="en"))
    assert str(info.value).startswith("openai: ") and words in str(info.value) and not info.value.retryable
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "v.wav"])


def test_kokoro_words_are_the_story_words_at_the_server_times(api: FakeAPI, tmp_path: Path) -> None:
    text = "Well-known fact: octopuses have three hearts!"
    p = KokoroSpeech(endpoint=api.url + "/v1")  # the /v1 is dropped for the dev route
    speech = run(p.synthesize(text, tmp_path / "k.wav", language="en"))
    body = api.calls(FakeAPI.KOKORO)[0].json()
    assert body == {"model": "kokoro", "input": text, "voice": "af_heart", "response_format": "wav", "speed": 1.0,
                    "return_timestamps": True, "stream": False}  # fmt: skip
    assert speech.words is not None
    assert [w.text for w in speech.words] == text.split()
    spoken = [s for s in kokoro_timestamps(text) if s["end_time"] > s["start_time"]]
    # "Well-known" is two Kokoro words: it starts with the first and ends with the second
    assert (speech.words[0].start, speech.words[0].end) == (spoken[0]["start_time"], spoken[1]["end_time"])
    assert [w.start for w in speech.words[1:]] == [s["start_time"] for s in spoken[2:]]
    assert [w.end for w in speech.words[1:]] == [s["end_time"] for s in spoken[2:]]


def test_kokoro_picks_a_voice_for_the_language(api: FakeAPI, tmp_path: Path) -> None:
    p = KokoroSpeech(endpoint=api.url)
    run(p.synthesize("Hola, mundo.", tmp_path / "k.wav", language="es"))
    assert api.calls(FakeAPI.KOKORO)[0].json()["voice"] == "ef_dora"
    with pytest.raises(ConfigError, match="kokoro has no default voice for language 'sw'"):
        p.check_language("sw")
    KokoroSpeech(voice="af_bella").check_language("sw")  # a chosen voice is the user's call


def test_kokoro_without_timestamps_gives_no_words(api: FakeAPI, tmp_path: Path) -> None:
    audio = base64.b64encode(wav_bytes(0.5)).decode()
    api.inject(FakeAPI.KOKORO, Reply(200, {"audio": audio, "audio_format": "wav", "timestamps": None}))
    speech = run(KokoroSpeech(endpoint=api.url).synthesize("Hi there.", tmp_path / "k.wav", language="en"))
    assert speech.words is None and speech.duration == pytest.approx(0.5)


def test_map_timestamps_edge_cases() -> None:
    stamps = [("Hello", 0.1, 0.4), (",", 0.4, 0.4), ("world", 0.5, 0.9), ("fifteen", 1.0, 1.4), ("hundred", 1.4, 1.8)]
    words = map_timestamps("Hello, world — 1500.", stamps)
    assert words is not None
    assert [w.text for w in words] == ["Hello,", "world", "—", "1500."]
    assert (words[0].start, words[1].start) == (0.1, 0.5)
    # the dash and the number spoken as words share the time after "world"
    assert words[1].end <= words[2].start <= words[3].start <= 1.8
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert map_timestamps("Hola", [("xyz", 0.0, 1.0)]) is None
    assert map_timestamps("", stamps) == ()


# -- whole renders -----------------------------------------------------------------------------------------


def _story(api: FakeAPI, n: int, *, images: dict[str, Any] | None = None, voice: dict[str, Any] | None = None) -> Any:
    scenes = [{"text": f"Scene {i + 1} says hello, world!", "image_prompt": f"picture {i + 1}"} for i in range(n)]
    img = {
        "provider": "together",
        "base_url": api.v1,
        "width": 270,
        "height": 480,
        "rate_per_minute": None,
        **(images or {}),
    }
    vo = {"provider": "openai", "base_url": api.v1, **(voice or {})}
    return parse_story(small_story(scenes=scenes, images=img, voice=vo))


def _render(story: Any, tmp_path: Path, **kw: Any) -> shortskit.RenderResult:
    """Render with the story's own base URLs trusted as the endpoints (as if given with --endpoint)."""
    trusted = {s.provider: s.provider_options()["base_url"] for s in (story.voice, story.images)}
    return shortskit.render_sync(
        story, tmp_path / "out" / "short.mp4", workspace=tmp_path / "ws", retry=FAST_RETRY, endpoints=trusted, **kw
    )


def _files_hold(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_render_counts_calls_retries_and_leaks_no_key(
    api: FakeAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "out").mkdir()
    story = _story(api, 3)
    api.inject(
        FakeAPI.IMAGES, Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.05"}), Reply(500, "boom")
    )
    api.inject(FakeAPI.SPEECH, Reply(503, "busy"))
    result = _render(story, tmp_path)

    made = {stage: result.made[stage] for stage in ("image", "voice", "captions", "clip", "merge")}
    assert made == {"image": 3, "voice": 3, "captions": 3, "clip": 3, "merge": 1}
    assert len(api.calls(FakeAPI.IMAGES)) == 3 + 2  # every picture once, plus the two retries
    assert len(api.calls(FakeAPI.SPEECH)) == 3 + 1
    info = ffmpeg.probe(result.video)
    assert (info.width, info.height) == (270, 480) and info.has_audio
    assert info.duration == pytest.approx(result.duration, abs=0.15)
    # the fake server's "speech" is a steady tone: the aligner finds no speech in it and says so, per scene
    assert "scene 1: could not align openai's speech" in caplog.text and "captions use an estimate" in caplog.text
    assert any("rate limited" in r.getMessage() for r in caplog.records)  # the retry was logged
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert KEY not in caplog.text
    assert _files_hold(tmp_path / "ws", KEY) == [] and _files_hold(tmp_path / "out", KEY) == []
    assert api.calls(FakeAPI.IMAGES)[0].headers["authorization"] == f"Bearer {KEY}"  # it was used, though

    again = _render(story, tmp_path)  # cached: the server hears nothing more
    assert again.made["image"] == again.made["voice"] == 0 and len(api.requests) == 9


def test_render_rate_limit_holds_at_the_server(api: FakeAPI, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    story = _story(api, 5, images={"rate_per_minute": 120, "rate_burst": 1, "max_concurrency": 5})
    _render(story, tmp_path)
    times = sorted(r.at for r in api.calls(FakeAPI.IMAGES))
    assert len(times) == 5
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # One request every 0.5 s leaves the client (unlimited, all 5 would arrive within a few ms). On a busy
    # machine a request may reach the server a little late (the first also opens the connection), which
    # shortens the gap after it: allow 0.2 s of that.
    assert min(gaps) >= 0.3, gaps
    assert times[-1] - times[0] >= 4 * 0.5 - 0.2, gaps


def test_render_with_kokoro_captions_and_url_images(api: FakeAPI, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    story = _story(api, 2, images={"response_format": "url"}, voice={"provider": "kokoro", "base_url": api.url})
    result = _render(story, tmp_path)
    assert len(api.calls(FakeAPI.IMAGES)) == 2 and len([r for r in api.requests if r.method == "GET"]) == 2
    assert len(api.calls(FakeAPI.KOKORO)) == 2
    for scene, sc in zip(result.scenes, story.scenes, strict=True):
        spoken = [s for s in kokoro_timestamps(sc.text) if s["end_time"] > s["start_time"]]
        assert [w.text for w in scene.words] == sc.text.split()  # "hello," and "world!" keep their marks
        assert [(w.start, w.end) for w in scene.words] == [(s["start_time"], s["end_time"]) for s in spoken]
        sidecar = json.loads(scene.voice.with_suffix(".json").read_text())
        assert sidecar["words"] == [w.__dict__ for w in scene.words]
    srt = result.srt.read_text()
    assert "says hello," in srt and "world!" in srt
    assert ffmpeg.probe(result.video).has_video


def test_render_401_fails_at_once_naming_the_variable(
    api: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "out").mkdir()
    wrong = "sk-WRONG-key-987654"
    monkeypatch.setenv("TOGETHER_API_KEY", wrong)
    story = _story(api, 1)
    with pytest.raises(ScenesFailedError) as info:
        _render(story, tmp_path)
    message = str(info.value)
    assert len(api.calls(FakeAPI.IMAGES)) == 1
    assert message.startswith("together: scene 1: rejected the API key (HTTP 401") and "set TOGETHER_API_KEY" in message
    assert wrong not in message and info.value.exit_code == 2  # a bad key is the user's to fix
    assert not (tmp_path / "out" / "short.mp4").exists()
    assert _files_hold(tmp_path / "ws", wrong) == []


def test_png_helper_is_a_real_picture() -> None:
    assert png_bytes(4, 4)[:8] == b"\x89PNG\r\n\x1a\n"
