"""No key in anything we print or write, whatever a server answers: errors that quote a server, URLs we refuse,
logs at -v, and the batch report.

The servers are real local ones (tests/fakeservers.py); a canary key is in the environment, and every check
looks for a piece of it too, since a key cut in half is still most of a key.
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shortskit import ConfigError, ProviderError
from shortskit.batch.report import totals, write_report
from shortskit.endpoints import check_base_url, under_base
from shortskit.providers.openai_speech import OpenAISpeech
from shortskit.providers.together import TogetherImages
from shortskit.writer import Writer
from tests.conftest import small_story, write_story
from tests.fakeservers import FakeAPI, Reply

KEY = "tgp_v1_CANARY-0123456789-abcdefghij-secret"
PIECE = "CANARY-0123456789"  # what a cut key would still show
ENV_VARS = ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "SHORTSKIT_WRITER_API_KEY",
            "SHORTSKIT_WRITER_BASE_URL")  # fmt: skip


@pytest.fixture(autouse=True)
def canary(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in ("TOGETHER_API_KEY", "OPENAI_API_KEY", "SHORTSKIT_WRITER_API_KEY"):
        monkeypatch.setenv(name, KEY)


def _failure(coro: Any) -> str:
    with pytest.raises(ProviderError) as caught:
        asyncio.run(coro)
    return str(caught.value)


# -- a server that echoes the key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, {"error": f"quota exceeded for key {KEY}"}),  # a 200 that is an error
        Reply(200, {"result": "no picture", KEY: 1}),  # the key as a JSON name
        Reply(400, {"error": {"message": "x" * 255 + f" the key {KEY} is not allowed here"}}),  # cut at 300
        Reply(500, f"<html><head><title>Bad key {KEY}</title></head></html>", {"content-type": "text/html"}),
    ],
    ids=["200-error", "json-name", "cut-message", "html-title"],
)
def test_an_image_server_that_echoes_the_key_is_quoted_without_it(tmp_path: Path, reply: Reply) -> None:
    with FakeAPI(key=KEY) as api:
        api.inject(FakeAPI.IMAGES, *[reply] * 3)
        painter = TogetherImages(endpoint=api.v1, rate_per_minute=None)
        message = _failure(painter.generate("a fox", tmp_path / "fox.png", width=90, height=160, seed=1))
    assert PIECE not in message, message
    assert message.startswith("together: ")


def test_a_speech_server_that_answers_json_with_the_key_is_quoted_without_it(tmp_path: Path) -> None:
    with FakeAPI(key=KEY) as api:
        api.inject(FakeAPI.SPEECH, Reply(200, {"error": f"no audio for {KEY}"}))
        speaker = OpenAISpeech(endpoint=api.v1)
        message = _failure(speaker.synthesize("Hello there.", tmp_path / "v.wav", language="en"))
    assert "instead of audio" in message and PIECE not in message, message


def test_a_writer_refusal_that_repeats_the_key_is_quoted_without_it() -> None:
    refusal = {"choices": [{"message": {"role": "assistant", "content": None, "refusal": f"I cannot use {KEY}"}}]}
    with FakeAPI(key=KEY) as api:
        api.inject(FakeAPI.CHAT, Reply(200, refusal))
        writer = Writer(base_url=api.v1)
        message = _failure(writer.chat([{"role": "user", "content": "hi"}]))
    assert "the model refused" in message and PIECE not in message, message


# -- keys and URLs we refuse -------------------------------------------------------------------------------


def test_a_key_with_a_line_break_is_refused_naming_only_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx would refuse the header and quote it in its error, key and all
    monkeypatch.setenv("TOGETHER_API_KEY", f"{KEY}\nsecond-line")
    with pytest.raises(ConfigError) as caught:
        TogetherImages(endpoint="http://127.0.0.1:9/v1")
    assert "TOGETHER_API_KEY" in str(caught.value) and PIECE not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://user:pass@127.0.0.1/v1", "user name or password"),
        ("http://127.0.0.1/admin/export#", "query"),
        ("http://127.0.0.1/v1?x=1", "query"),
        ("http://127.0.0.1:99999/v1", "not a valid URL"),
        ("http://localhost:88x0/v1", "not a valid URL"),
        ("ftp://127.0.0.1/v1", "must start with http"),
    ],
)
def test_base_urls_that_would_mislead_are_refused(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        check_base_url(url)
    assert check_base_url("https://api.example.com/v1/") == "https://api.example.com/v1"


def test_a_story_base_url_with_a_bad_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    data = small_story(images={"provider": "together", "base_url": "http://127.0.0.1:99999/v1"})
    story = write_story(tmp_path, data, "odd.json")
    proc = subprocess.run(
        [sys.executable, "-m", "shortskit", "render", str(story), "-o", str(tmp_path / "x.mp4")],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "base_url is not a valid URL" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("url", "base", "sent"),
    [
        ("http://kokoro.lan/dev/captioned_speech", "http://kokoro.lan", True),
        ("http://kokoro.lan.evil.example/x", "http://kokoro.lan", False),  # a longer host with the same start
        ("https://api.openai.com/v1evil/x", "https://api.openai.com/v1", False),  # a longer path segment
        ("https://API.openai.com/v1/images/generations", "https://api.openai.com/v1", True),
        ("http://127.0.0.1:8081/v1/x", "http://127.0.0.1:8080/v1", False),  # another port
        ("http://127.0.0.1/v1/x", "https://127.0.0.1/v1", False),  # another scheme
    ],
)
def test_under_base_compares_origins_and_whole_path_segments(url: str, base: str, sent: bool) -> None:
    assert under_base(url, base) is sent


def test_a_provider_sends_its_key_only_under_its_base() -> None:
    painter = TogetherImages(endpoint="http://127.0.0.1:8080/v1")
    assert painter.headers("http://127.0.0.1:8080/v1/images/generations") == {"Authorization": f"Bearer {KEY}"}
    for elsewhere in (
        "http://127.0.0.1:8080/v1evil/x",
        "http://127.0.0.1:8080.evil.example/v1/x",
        "http://127.0.0.1/v1/x",
    ):
        assert painter.headers(elsewhere) == {}, elsewhere


# -- logs and the batch report ----------------------------------------------------------------------------


def test_verbose_logs_show_no_whole_urls(tmp_path: Path) -> None:
    """httpx logs every request's whole URL at INFO (a signed download link, its query); -v must not show it."""
    with FakeAPI(key=KEY) as api:
        data = small_story(images={"provider": "together", "rate_per_minute": None, "response_format": "url"})
        story = write_story(tmp_path, data)
        env = {**os.environ, "TOGETHER_BASE_URL": api.v1, "SHORTSKIT_LIMITS": "images.together.rate_per_minute=none"}
        proc = subprocess.run(
            [sys.executable, "-m", "shortskit", "-v", "render", str(story), "-o", str(tmp_path / "s.mp4"),
             "--workspace", str(tmp_path / "ws")],
            capture_output=True, text=True, timeout=600, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert api.calls(FakeAPI.FILES + "0.png")  # the picture came through a download link
    assert "HTTP Request" not in proc.stderr and "/files/" not in proc.stderr, proc.stderr
    assert PIECE not in proc.stderr


def test_the_batch_report_holds_no_key_and_no_formula(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORTSKIT_TEST_API_KEY", KEY)
    records = [
        {"slug": "a", "story": "=HYPERLINK(\"http://x.example\",\"click\")", "title": "@SUM(1)", "status": "failed",
         "error": f"writer: the model refused (I cannot use {KEY})", "failed_scenes": []},
    ]  # fmt: skip
    paths = write_report(tmp_path, records, totals(records, wall_seconds=1.0, jobs=1, threads=1))
    for path in paths.values():
        assert PIECE not in path.read_text(encoding="utf-8"), path.name
    with paths["summary.csv"].open(newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    assert row["story"].startswith("'=") and row["title"].startswith("'@")
    assert row["error"].endswith("(I cannot use ***)")
