"""The writer (topic -> story through a chat endpoint), SEO metadata, and the ``write`` / ``seo`` commands.

The chat endpoint is a real local server (tests/fakeservers.py) that answers with scripted replies; the
commands run through typer's CliRunner on the real ``shortskit`` app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shortskit import ConfigError, ProviderError, RetryPolicy, load_story, parse_story
from shortskit.cli.app import app
from shortskit.seo import generate_metadata_sync, hashtag, keywords, metadata, trim_words
from shortskit.writer import story_reply_schema, write_story_sync, writer_configured
from tests.conftest import small_story, write_story
from tests.fakeservers import FakeAPI, Reply

KEY = "sk-WRITER-FAKE-42-secret"
FAST_RETRY = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0)
ENV = (
    "SHORTSKIT_WRITER_API_KEY",
    "SHORTSKIT_WRITER_BASE_URL",
    "SHORTSKIT_WRITER_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeAPI(key=KEY) as server:
        monkeypatch.setenv("SHORTSKIT_WRITER_API_KEY", KEY)
        monkeypatch.setenv("SHORTSKIT_WRITER_BASE_URL", server.v1)
        yield server


def story_json(n: int = 2, language: str = "en", **over: Any) -> str:
    data = {
        "title": "Why octopuses have three hearts",
        "language": language,
        "description": "Three hearts, blue blood.",
        "hashtags": ["#octopus", "#ocean"],
        "scenes": [
            {"text": f"Fact {i + 1}: octopuses are strange.", "image_prompt": f"octopus {i + 1}"} for i in range(n)
        ],
        **over,
    }
    return json.dumps(data)


# -- the writer --------------------------------------------------------------------------------------------


def test_a_valid_reply_is_a_story(chat: FakeAPI) -> None:
    chat.chat_replies = [story_json(3)]
    story = write_story_sync("octopus hearts", scenes=3, model="gpt-test")
    assert story.title == "Why octopuses have three hearts" and len(story.scenes) == 3
    calls = chat.calls(FakeAPI.CHAT)
    assert len(calls) == 1
    body = calls[0].json()
    assert body["model"] == "gpt-test" and body["response_format"] == {"type": "json_object"}
    system, user = body["messages"]
    assert '"image_prompt"' in system["content"] and '"minItems": 3' in system["content"]  # the schema is there
    assert "Topic: octopus hearts" in user["content"] and "exactly 3" in user["content"]
    assert calls[0].headers["authorization"] == f"Bearer {KEY}"


def test_invalid_json_is_sent_back_once_and_the_correction_is_used(chat: FakeAPI) -> None:
    chat.chat_replies = ['{"title": "Oops", "scenes": [', story_json(2)]
    story = write_story_sync("octopus", scenes=2)
    assert len(story.scenes) == 2
    calls = chat.calls(FakeAPI.CHAT)
    assert len(calls) == 2
    messages = calls[1].json()["messages"]
    assert messages[2] == {"role": "assistant", "content": '{"title": "Oops", "scenes": ['}
    assert "not valid JSON" in messages[3]["content"]


def test_a_schema_error_is_sent_back_with_the_field(chat: FakeAPI) -> None:
    bad = json.loads(story_json(2))
    del bad["scenes"][1]["image_prompt"]
    chat.chat_replies = [json.dumps(bad), "```json\n" + story_json(2) + "\n```"]  # a fenced reply is fine
    story = write_story_sync("octopus", scenes=2)
    assert story.scenes[1].image_prompt == "octopus 2"
    feedback = chat.calls(FakeAPI.CHAT)[1].json()["messages"][3]["content"]
    assert "scene 2: image_prompt: needs an image_prompt or an image" in feedback


def test_two_bad_replies_are_a_clear_error(chat: FakeAPI) -> None:
    chat.chat_replies = ["<html>nope</html>", story_json(5)]  # the second has the wrong number of scenes
    with pytest.raises(ProviderError) as info:
        write_story_sync("octopus", scenes=2, model="gpt-test")
    assert str(info.value) == (
        "writer: gpt-test did not give a valid story, even after a correction: scenes: expected exactly 2 scenes, got 5"
    )
    assert len(chat.calls(FakeAPI.CHAT)) == 2 and not info.value.retryable


def test_writer_output_is_limited_to_what_a_writer_decides(chat: FakeAPI) -> None:
    data = json.loads(story_json(1, language="es-MX"))
    data["voice"] = {"provider": "nope"}
    data["scenes"][0]["mood"] = "spooky"
    chat.chat_replies = [json.dumps(data)]
    story = write_story_sync("pulpos", scenes=1, language="es")
    assert story.language == "es" and story.voice.provider == "espeak"


def test_rate_limit_and_server_errors_are_retried(chat: FakeAPI) -> None:
    chat.inject(
        FakeAPI.CHAT, Reply(429, {"error": {"message": "slow"}}, {"Retry-After": "0"}), Reply(502, "bad gateway")
    )
    chat.chat_replies = [story_json(1)]
    story = write_story_sync("octopus", scenes=1, retry=FAST_RETRY)
    assert len(story.scenes) == 1 and len(chat.calls(FakeAPI.CHAT)) == 3


def test_bad_key_names_the_variable_and_hides_the_key(chat: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORTSKIT_WRITER_API_KEY", "sk-not-this-one")
    with pytest.raises(ProviderError) as info:
        write_story_sync("octopus", scenes=1)
    assert "writer: rejected the API key (HTTP 401" in str(info.value)
    assert "set SHORTSKIT_WRITER_API_KEY" in str(info.value) and "sk-not-this-one" not in str(info.value)
    assert len(chat.calls(FakeAPI.CHAT)) == 1


def test_the_openai_key_goes_only_to_openais_endpoint(chat: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHORTSKIT_WRITER_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    # the writer's endpoint is another server: OPENAI_API_KEY is not sent there
    assert not writer_configured()
    with pytest.raises(ConfigError, match=r"SHORTSKIT_WRITER_API_KEY .*OPENAI_API_KEY goes only to OpenAI"):
        write_story_sync("octopus")
    assert chat.calls() == []
    # OpenAI's endpoint (here moved by OPENAI_BASE_URL, as the OpenAI SDK reads it) gets the OpenAI key
    monkeypatch.delenv("SHORTSKIT_WRITER_BASE_URL")
    monkeypatch.setenv("OPENAI_BASE_URL", chat.v1)
    assert writer_configured()
    chat.chat_replies = [story_json(1)]
    write_story_sync("octopus", scenes=1)
    assert chat.calls(FakeAPI.CHAT)[0].headers["authorization"] == f"Bearer {KEY}"
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(
        ConfigError, match=r"set the SHORTSKIT_WRITER_API_KEY environment variable \(or OPENAI_API_KEY\)"
    ):
        write_story_sync("octopus")


@pytest.mark.parametrize(
    ("options", "words"),
    [({"scenes": 0}, "scenes must be a whole number from 1 to 20"), ({"language": "english!"}, "BCP-47")],
)
def test_bad_writer_input(chat: FakeAPI, options: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        write_story_sync("octopus", **options)
    assert chat.calls() == []


def test_reply_schema_is_the_story_schema_subset() -> None:
    schema = story_reply_schema(4)
    assert schema["properties"]["scenes"]["minItems"] == schema["properties"]["scenes"]["maxItems"] == 4
    assert set(schema["properties"]) == {"title", "language", "description", "hashtags", "scenes"}
    parse_story(json.loads(story_json(4)))  # what the schema describes is a story


# -- SEO ---------------------------------------------------------------------------------------------------


def _seo_story(**over: Any) -> Any:
    data = small_story(
        title="The octopus has three hearts, blue blood and a brain in every single arm of its body",
        scenes=[
            {"text": "The octopus has three hearts. Two hearts pump blood through the gills.", "image_prompt": "x"},
            {"text": "Octopus blood is blue! The octopus tastes with its arms.", "image_prompt": "y"},
        ],
        hashtags=["ocean facts", "#Octopus"],
    )
    data.update(over)
    return parse_story(data)


def test_offline_metadata() -> None:
    meta = metadata(_seo_story())
    assert meta["title"] == "The octopus has three hearts, blue blood and a brain in"
    assert len(meta["title"]) <= 60
    assert meta["description"].startswith("The octopus has three hearts. Two hearts pump")
    assert len(meta["description"]) <= 300
    assert meta["hashtags"] == ["#OceanFacts", "#Octopus", "#hearts", "#blood", "#blue", "#shorts"]


def test_offline_metadata_in_spanish_skips_spanish_function_words() -> None:
    story = _seo_story(
        language="es",
        title="El pulpo",
        hashtags=[],
        scenes=[
            {"text": "El pulpo tiene tres corazones y su sangre es azul. El pulpo es muy listo.", "image_prompt": "x"}
        ],
    )
    meta = metadata(story)
    assert meta["hashtags"][0] == "#pulpo" and meta["hashtags"][-1] == "#shorts"
    assert not {"#el", "#es", "#muy", "#tiene", "#su"} & set(meta["hashtags"])


def test_long_first_sentence_and_own_description() -> None:
    long = "word " * 100
    meta = metadata(_seo_story(scenes=[{"text": long + ".", "image_prompt": "x"}]))
    assert len(meta["description"]) <= 300 and meta["description"].endswith("…")
    assert metadata(_seo_story(description="My own words."))["description"] == "My own words."


def test_helpers() -> None:
    assert trim_words("one two three", 9) == "one two" and trim_words("abcdefghijkl", 5) == "abcde"
    assert hashtag("#already") == "#already" and hashtag("ocean facts!") == "#OceanFacts" and hashtag("!!") is None
    assert keywords("the sea the sea the sky", "en") == ["sea", "sky"]


def test_seo_through_the_writer(chat: FakeAPI) -> None:
    long_title = "An absolutely astonishing fact about octopus hearts " * 3
    chat.chat_replies = [
        json.dumps({"title": "x", "hashtags": "#a"}),  # wrong shape: sent back once
        json.dumps({"title": long_title, "description": "Three hearts!", "hashtags": ["#octopus", "sea life"]}),
    ]
    meta = generate_metadata_sync(_seo_story(), retry=FAST_RETRY)
    assert len(meta["title"]) <= 100 and meta["title"].startswith("An absolutely astonishing")
    assert meta["description"] == "Three hearts!"
    assert meta["hashtags"] == ["#OceanFacts", "#Octopus", "#SeaLife", "#shorts"]
    assert "description must be a string" in chat.calls(FakeAPI.CHAT)[1].json()["messages"][3]["content"]


# -- the commands ------------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> Any:
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_write_command(chat: FakeAPI, cli: Any, tmp_path: Path) -> None:
    chat.chat_replies = [story_json(2, language="es")]
    out = tmp_path / "story.json"
    result = cli("write", "pulpos", "-o", out, "--scenes", "2", "--language", "es", "--model", "m1")
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (2 scenes, language es)" in result.stdout
    story = load_story(out)
    assert len(story.scenes) == 2 and story.language == "es"
    assert KEY.encode() not in out.read_bytes()
    chat.chat_replies = [story_json(1)]
    printed = cli("write", "pulpos", "--scenes", "1")
    assert printed.exit_code == 0 and json.loads(printed.stdout)["scenes"][0]["image_prompt"] == "octopus 1"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--scenes", "0"], "error: scenes must be a whole number from 1 to 20, got 0"),
        (["-o", "story.txt"], "error: output must end in .json, .yaml, .yml (got story.txt)"),
        (["-o", "nowhere/story.json"], "error: output folder does not exist"),
    ],
)
def test_write_command_bad_input(
    chat: FakeAPI, cli: Any, args: list[str], words: str, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("write", "octopus", *args)
    assert result.exit_code == 2 and result.stderr.strip().startswith(words), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and chat.calls() == []


def test_write_command_without_key(cli: Any) -> None:
    result = cli("write", "octopus")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: writer: set the SHORTSKIT_WRITER_API_KEY environment variable (or OPENAI_API_KEY) to your API key"
    )


def test_write_command_gives_up_after_two_bad_replies(chat: FakeAPI, cli: Any) -> None:
    chat.chat_replies = ["nope", "still nope"]
    result = cli("write", "octopus", "--scenes", "1")
    assert result.exit_code == 1 and result.stderr.startswith("error: writer: gpt-4o-mini did not give a valid story")


def test_seo_command_offline(cli: Any, tmp_path: Path) -> None:
    path = write_story(tmp_path, small_story(hashtags=["#tiny"]))
    result = cli("seo", path)
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)
    assert meta["title"] == "Tiny" and meta["hashtags"][0] == "#tiny" and meta["hashtags"][-1] == "#shorts"
    out = tmp_path / "meta.json"
    written = cli("seo", path, "-o", out)
    assert written.exit_code == 0 and json.loads(out.read_text()) == meta


def test_seo_command_uses_the_writer_when_configured(chat: FakeAPI, cli: Any, tmp_path: Path) -> None:
    path = write_story(tmp_path, small_story())
    chat.chat_replies = [
        json.dumps({"title": "Hello, small world", "description": "Two tiny scenes.", "hashtags": ["#tiny"]})
    ]
    result = cli("seo", path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "title": "Hello, small world",
        "description": "Two tiny scenes.",
        "hashtags": ["#tiny", "#shorts"],
    }
    offline = cli("seo", path, "--offline")
    assert json.loads(offline.stdout)["title"] == "Tiny" and len(chat.calls(FakeAPI.CHAT)) == 1


def test_seo_command_bad_story(cli: Any, tmp_path: Path) -> None:
    result = cli("seo", tmp_path / "missing.json")
    assert result.exit_code == 2 and result.stderr.strip() == "error: missing.json: story file not found"
