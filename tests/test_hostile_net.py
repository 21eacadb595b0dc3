"""Hostile stories against the network and the operator's limits (tests/hostile/net_*): each one is run through
``validate``, ``render`` and a batch, and ends in one clean line (exit 2, or one failed row in a batch whose other
story is made), with no traceback, no secret in any output, and no request to a story-chosen internal address.

A real local server on 127.0.0.1 plays the cloud metadata service: it answers with fake credentials and counts
every request it gets. Stories point at it in many spellings (localhost, 127.1, 2130706433, ::ffff:127.0.0.1);
it must hear nothing. Addresses that are not loopback (169.254.169.254, fd00:ec2::254, 10/8, 100.64/10) are
only validated: nothing here ever sends traffic there, even with a guard broken.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shortskit
from shortskit import ffmpeg, parse_story
from shortskit.errors import ForbiddenAddressError
from shortskit.http import checked_client
from shortskit.providers.openai_images import OpenAIImages
from tests.conftest import small_story, write_story
from tests.fakeservers import FakeAPI, FakeServer, Received, Reply, wav_bytes

HOSTILE = Path(__file__).parent / "hostile"
ACCESS_KEY = "ASIAFAKEMETADATA0042"
SECRET_KEY = "fAkE/SeCrEt+k3y-0123456789abcdefMETADATA"
TOKEN = "IQoJb3JpZ2luX2VjEFAKE-session-token-0042"
SECRETS = (ACCESS_KEY, SECRET_KEY, TOKEN)
CREDENTIALS = {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": ACCESS_KEY, "SecretAccessKey": SECRET_KEY,
               "Token": TOKEN, "Expiration": "2026-12-03T20:00:00Z"}  # fmt: skip
ENV_VARS = ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "KOKORO_BASE_URL",
            "KOKORO_API_KEY", "SHORTSKIT_ALLOW_HOSTS", "SHORTSKIT_LIMITS")  # fmt: skip


@dataclass(frozen=True)
class Case:
    expect: str  # words the one error line (or the failed row) holds
    validates: bool = False  # validate cannot know (the server's answer decides): it exits 0
    external: bool = False  # names an address that is not loopback: validated only, never rendered
    code: int = 2  # render's exit code


CASES: dict[str, Case] = {
    "net_base_url_loopback.json": Case("images.base_url: together base_url http://127.0.0.1:"),
    "net_base_url_localhost.yaml": Case("leads to a loopback address: a story may not reach internal addresses"),
    "net_base_url_decimal_ip.json": Case("voice.base_url: kokoro base_url http://2130706433:"),
    "net_base_url_short_ip.json": Case("leads to a loopback address"),
    "net_base_url_mapped_ipv6.json": Case("leads to a loopback address"),
    "net_base_url_metadata_ipv4.json": Case("leads to a cloud metadata address", external=True),
    "net_base_url_metadata_ipv6.json": Case("leads to a cloud metadata address", external=True),
    "net_base_url_nat64_metadata.json": Case("leads to a cloud metadata address", external=True),
    "net_base_url_cgnat.yaml": Case("leads to an address that is not global", external=True),
    "net_base_url_private.json": Case("leads to a private address", external=True),
    "net_picture_url_to_metadata.json": Case("127.0.0.1 leads to a loopback address", validates=True),
    "net_redirect_to_metadata.json": Case("redirects from a URL the story chose are not followed", validates=True),
    "net_answer_with_credentials.json": Case("request refused (HTTP 400): Bad Request", validates=True),
    "net_rate_raised.json": Case("images.rate_per_minute: together rate_per_minute: a story may only lower"),
    "net_rate_tiny.yaml": Case("images.rate_per_minute: together rate_per_minute must be 1..100000"),
    "net_rate_nan.json": Case("images.rate_per_minute: must be a finite number, got nan"),
    "net_concurrency_inf.yaml": Case("voice.max_concurrency: must be a finite number, got inf"),
    "net_burst_raised.json": Case("images.rate_burst: together rate_burst: a story may only lower"),
    "net_timeout_raised.json": Case("voice.timeout: openai timeout: a story may only lower the operator's limit (120)"),
    "net_model_dir.json": Case("voice.model_dir: a story cannot choose where model weights come from"),
    "net_too_many_scenes.json": Case("scenes: has too many items (at most 50 items)"),
    "net_scene_too_long.json": Case("scene 1: text: is too long (at most 1000 characters)"),
    "net_narration_too_long.yaml": Case("at most 10000 in one story"),
    "net_deep_nesting.json": Case("is nested more than 32 levels deep"),
    "net_alias_bomb.yaml": Case("holds more than 100000 values"),
    "net_recording_claims_1hz.json": Case("scene 1: audio: claims_1hz.wav: its sample rate is 1 Hz"),
    "net_server_audio_2hz.json": Case("openai: scene 1: answered with audio at 2 Hz", validates=True, code=1),
}


def test_every_corpus_file_has_a_case() -> None:
    assert sorted(p.name for p in HOSTILE.glob("net_*")) == sorted(CASES)


# -- the servers ---------------------------------------------------------------------------------------------


class Metadata(FakeServer):
    """A cloud metadata service on 127.0.0.1: fake credentials to anyone who asks, every request counted."""

    def __init__(self) -> None:
        answer = lambda got: Reply(200, CREDENTIALS)  # noqa: E731
        super().__init__({"GET /*": answer, "POST /*": answer})

    @property
    def hits(self) -> int:
        return len(self.calls())


def _relay(meta: Metadata) -> FakeServer:
    """A server a story names that the operator lets stories reach (SHORTSKIT_ALLOW_HOSTS): it stands in for a
    public host that redirects to the metadata service, or repeats credentials in its answers."""
    leak = {"error": {"message": f"AccessKeyId {ACCESS_KEY} SecretAccessKey {SECRET_KEY}"}, **CREDENTIALS}
    return FakeServer(
        {
            "POST /redirect/v1/images/generations": lambda got: Reply(
                307, b"", {"Location": f"{meta.url}/latest/meta-data/iam/security-credentials/role"}
            ),
            "POST /leak/v1/images/generations": lambda got: Reply(400, leak),
        }
    )


def _two_hertz(got: Received) -> Reply:
    """A WAV whose header claims 2 Hz: 50,000 frames of it would be a 7-hour voice."""
    data = bytearray(wav_bytes(1.0, rate=24000))
    data[24:28] = (2).to_bytes(4, "little")
    data[28:32] = (4).to_bytes(4, "little")
    return Reply(200, bytes(data), {"content-type": "audio/wav"})


@dataclass
class World:
    meta: Metadata
    api: FakeAPI  # the operator's own local endpoint (a Kokoro-like server on localhost)
    relay: FakeServer
    env: dict[str, str]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    meta, api = Metadata(), FakeAPI()
    relay = _relay(meta)
    normal = api.routes[FakeAPI.IMAGES]

    def images(got: Received) -> Reply:  # a picture link to the metadata service when one is asked for
        if got.json().get("response_format") == "url":
            return Reply(200, {"data": [{"url": f"{meta.url}/latest/meta-data/iam/security-credentials/x"}]})
        return normal(got)

    api.routes[FakeAPI.IMAGES] = images
    api.routes[FakeAPI.SPEECH] = _two_hertz
    env = {
        # the operator's configuration: its own local server for every vendor, keys for the hosted ones
        "TOGETHER_BASE_URL": api.v1, "OPENAI_BASE_URL": api.v1, "KOKORO_BASE_URL": api.url,
        "TOGETHER_API_KEY": "tgp_v1_operator-key-0000", "OPENAI_API_KEY": "sk-operator-key-0000",
        "SHORTSKIT_ALLOW_HOSTS": relay.url.removeprefix("http://"),
    }  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    try:
        yield World(meta, api, relay, env)
    finally:
        for server in (meta, api, relay):
            server.close()


def _copy(name: str, folder: Path, w: World) -> Path:
    """The corpus file in ``folder``, pointed at this test's servers (and a lying WAV beside it)."""
    text = (HOSTILE / name).read_text()
    for key, value in {"{META}": w.meta.url.removeprefix("http://"), "{META_PORT}": w.meta.url.rsplit(":", 1)[1],
                       "{RELAY}": w.relay.url.removeprefix("http://")}.items():  # fmt: skip
        text = text.replace(key, value)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    if "claims_1hz" in text:  # 100 KB of samples whose header says 1 Hz: 14 hours
        with wave.open(str(folder / "claims_1hz.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(1)
            out.writeframes(np.zeros(50_000, dtype="<i2").tobytes())
    return path


def _cli(*args: Any, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shortskit", *map(str, args)],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=timeout, check=False,
    )  # fmt: skip


def _clean(text: str) -> None:
    assert "Traceback" not in text and "internal error" not in text, text
    for secret in SECRETS:
        assert secret not in text, text


def _holding(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and any(s.encode() in p.read_bytes() for s in SECRETS)]


# -- validate and render, one corpus file at a time -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_story_ends_in_one_clean_line(name: str, world: World, tmp_path: Path) -> None:
    case = CASES[name]
    story = _copy(name, tmp_path / "stories", world)
    checked = _cli("validate", story, "--workspace", tmp_path / "ws", env=world.env)
    _clean(checked.stderr + checked.stdout)
    if case.validates:
        assert checked.returncode == 0, checked.stderr
    else:
        assert checked.returncode == 2, checked.stderr + checked.stdout
        assert checked.stderr.strip().splitlines() == [checked.stderr.strip()], checked.stderr  # one line
        assert case.expect in checked.stderr, checked.stderr
    if not case.external:
        out = tmp_path / "out" / "short.mp4"
        out.parent.mkdir()
        made = _cli("render", story, "-o", out, "--workspace", tmp_path / "ws", env=world.env)
        assert made.returncode == case.code, made.stderr
        lines = made.stderr.strip().splitlines()
        assert len(lines) == 1 and case.expect in lines[0], made.stderr
        _clean(made.stderr + made.stdout)
        assert not out.exists() and _holding(tmp_path) == []
    assert world.meta.hits == 0, world.meta.calls()


# -- a batch -----------------------------------------------------------------------------------------------------

IN_BATCH = ("net_base_url_loopback.json", "net_picture_url_to_metadata.json", "net_redirect_to_metadata.json",
            "net_answer_with_credentials.json", "net_rate_raised.json", "net_rate_nan.json", "net_model_dir.json",
            "net_deep_nesting.json", "net_alias_bomb.yaml", "net_recording_claims_1hz.json",
            "net_server_audio_2hz.json")  # fmt: skip


def test_in_a_batch_each_hostile_story_is_one_failed_row_and_the_good_one_is_made(world: World, tmp_path: Path) -> None:
    stories = tmp_path / "stories"
    for name in IN_BATCH:
        _copy(name, stories, world)
    # the good story uses the operator's configured localhost endpoint: it must still work
    good = small_story(images={"provider": "together"}, voice={"provider": "kokoro"})
    good["scenes"] = good["scenes"][:1]
    write_story(stories, good, "good.json")
    out = tmp_path / "out"
    proc = _cli("batch", stories, "-o", out, "--jobs", "1", "-p", "workspace", tmp_path / "ws", env=world.env,
                timeout=600)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    _clean(proc.stderr + proc.stdout)
    rows = {Path(r["story"]).name: r for r in json.loads((out / "summary.json").read_text())["stories"]}
    assert rows["good.json"]["status"] == "done" and ffmpeg.probe(out / "good" / "good.mp4").has_video
    for name in IN_BATCH:
        row = rows[name]
        assert row["status"] == "failed" and CASES[name].expect in row["error"], row
        assert "\n" not in row["error"]
    assert _holding(out) == []  # no credential in any notebook, summary or report
    assert world.meta.hits == 0, world.meta.calls()
    assert world.api.calls(FakeAPI.KOKORO) and world.api.calls(FakeAPI.IMAGES)  # the operator's endpoint was used


# -- the gate itself ---------------------------------------------------------------------------------------------


def test_the_operators_localhost_endpoint_works_and_a_story_url_to_it_does_not(world: World, tmp_path: Path) -> None:
    data = small_story(images={"provider": "together"}, voice={"provider": "kokoro"})
    result = shortskit.render_sync(parse_story(data), tmp_path / "s.mp4", workspace=tmp_path / "ws")
    assert ffmpeg.probe(result.video).has_video and len(world.api.calls(FakeAPI.KOKORO)) == 2
    # the same server named by a story, on another port of localhost, is refused
    hostile = small_story(voice={"provider": "kokoro", "base_url": world.meta.url})
    with pytest.raises(shortskit.StoryError, match=r"voice.base_url: kokoro base_url .* loopback"):
        shortskit.check_story(parse_story(hostile), workspace=tmp_path / "ws")
    assert world.meta.hits == 0


def test_a_name_that_changes_its_answer_after_the_check_reaches_nothing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: public when the story is checked, loopback when the request connects."""
    port = int(world.meta.url.rsplit(":", 1)[1])
    answers = iter(["93.184.216.34"])  # example.com's old address, for the check; then the metadata service

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        ip = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.delenv("OPENAI_BASE_URL")
    painter = OpenAIImages(base_url=f"http://rebind.example:{port}/v1")  # checked: 93.184.216.34 is public
    with pytest.raises(ForbiddenAddressError, match=r"rebind.example leads to a loopback address") as info:
        asyncio.run(painter.generate("a fox", tmp_path / "fox.png", width=64, height=64, seed=1))
    assert info.value.exit_code == 2 and not info.value.retryable
    assert world.meta.hits == 0


def test_every_address_a_name_gives_is_checked(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    port = int(world.meta.url.rsplit(":", 1)[1])

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:  # one public address, one internal
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]  # fmt: skip

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(shortskit.ConfigError, match=r"two.example.* leads to a loopback address"):
        OpenAIImages(base_url=f"http://two.example:{port}/v1")


def test_an_answer_is_read_up_to_its_limit(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import httpx

    import shortskit.endpoints as endpoints
    from shortskit.http import HttpProvider
    from shortskit.providers.together import TogetherImages

    monkeypatch.setattr(endpoints, "MAX_BODY", 10_000)  # the operator's own server: its answers are bounded too
    painter = TogetherImages(rate_per_minute=None)
    with pytest.raises(shortskit.ProviderError, match="answered with more than 10,000 bytes"):
        asyncio.run(painter.generate("a big picture", tmp_path / "p.png", width=1080, height=1920, seed=1))

    async def endless() -> Any:  # no Content-Length: only counting what arrives stops it
        for _ in range(1000):
            yield b"x" * 1000

    class Probe(HttpProvider):
        name = "probe"
        _trusted_base = "https://api.example.test"

    probe = Probe()
    probe.use_client(httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=endless()))))
    with pytest.raises(shortskit.ProviderError, match="answered with more than 10,000 bytes"):
        asyncio.run(probe.send("GET", "https://api.example.test/big"))


def test_the_checked_client_sends_nothing_to_loopback(world: World) -> None:
    async def ask() -> None:
        async with checked_client(timeout=5) as client:
            await client.get(f"{world.meta.url}/latest/meta-data/")

    with pytest.raises(Exception, match=r"127.0.0.1 leads to a loopback address"):
        asyncio.run(ask())
    assert world.meta.hits == 0


def test_a_deep_story_is_refused_before_any_parser_sees_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shortskit.storyfile as story_module

    def parser(*args: Any) -> Any:
        raise AssertionError("the parser was called")

    monkeypatch.setattr(story_module, "_parse", parser)
    deep = tmp_path / "deep.json"
    deep.write_text('{"title": "' + "[" * 50 + '", "x": ' + "[" * 40)  # brackets in a string do not count
    with pytest.raises(shortskit.StoryError, match=r"deep.json: is nested more than 32 levels deep"):
        shortskit.load_story(deep)


# -- limits --------------------------------------------------------------------------------------------------------


def test_limits_come_from_the_operator_and_a_story_only_lowers_them(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from shortskit.checks import checked_providers

    def painter(**images: Any) -> Any:
        story = parse_story(small_story(images={"provider": "together", **images}))
        return checked_providers(story, workspace=tmp_path / "ws")[1]

    assert (painter().rate_per_minute, painter().rate_burst) == (6, 1)  # Together's own
    assert painter(rate_per_minute=3).rate_per_minute == 3  # lowered
    monkeypatch.setenv("SHORTSKIT_LIMITS", "images.together.rate_per_minute=60, images.together.max_concurrency=4")
    raised = painter()
    assert (raised.rate_per_minute, raised.max_concurrency) == (60, 4)
    assert painter(rate_per_minute=30).operator_limits["rate_per_minute"] == 60
    with pytest.raises(shortskit.StoryError, match="may only lower the operator's limit \\(60\\)"):
        painter(rate_per_minute=61)
    monkeypatch.setenv("SHORTSKIT_LIMITS", "images.together.rate_per_minute=fast")
    with pytest.raises(shortskit.ConfigError, match=r"SHORTSKIT_LIMITS: images.together.rate_per_minute must be"):
        painter()


def test_a_story_lowering_its_rate_shares_the_operators_bucket(world: World, tmp_path: Path) -> None:
    """Two stories on one loop, one lowering Together's rate: both draw on one shared limit of the operator's."""
    from shortskit.pipeline import _limit

    async def both() -> tuple[Any, Any]:
        from shortskit.checks import checked_providers

        plain = checked_providers(parse_story(small_story(images={"provider": "together"})))[1]
        lower = checked_providers(parse_story(small_story(images={"provider": "together", "rate_per_minute": 2})))[1]
        return _limit("images", plain), _limit("images", lower)

    a, b = asyncio.run(both())
    assert b.within is a and b.rate_per_minute == 2 and (a.rate_per_minute, a.concurrency) == (6, 2)


# -- a hung story in a batch ---------------------------------------------------------------------------------------


def _tarpit() -> tuple[socket.socket, list[socket.socket]]:
    """A server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return listener, held


def test_a_story_that_hangs_is_killed_at_the_batch_time_limit(world: World, tmp_path: Path) -> None:
    listener, held = _tarpit()
    try:
        stories = tmp_path / "stories"
        write_story(stories.mkdir() or stories, small_story(scenes=small_story()["scenes"][:1]), "good.json")
        hung = small_story(voice={"provider": "openai"})
        write_story(stories, hung, "hung.json")
        port = listener.getsockname()[1]
        env = {**world.env, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}  # the operator's server hangs
        out = tmp_path / "out"
        proc = _cli("batch", stories, "-o", out, "--jobs", "1", "--timeout", "20", "-p", "workspace",
                    tmp_path / "ws", env=env, timeout=400)  # fmt: skip
    finally:
        listener.close()
        for conn in held:
            conn.close()
    rows = {Path(r["story"]).name: r for r in json.loads((out / "summary.json").read_text())["stories"]}
    assert proc.returncode == 1, proc.stderr
    assert rows["hung.json"]["status"] == "failed", rows["hung.json"]
    assert rows["hung.json"]["error"] == "ran past the batch's time limit of 20 s; its kernel was killed"
    assert rows["good.json"]["status"] == "done"
