"""The story model: loading JSON/YAML, defaults, errors that name file, scene and field, the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortskit import StoryError, load_story, parse_story, save_story, story_schema
from tests.conftest import EXAMPLES, write_story


def test_examples_load_with_defaults() -> None:
    story = load_story(EXAMPLES / "octopus.json")
    assert story.language == "en" and len(story.scenes) == 5
    assert story.voice.provider == "espeak" and story.images.provider == "procedural"
    assert (story.output.width, story.output.height, story.output.fps) == (1080, 1920, 30)
    assert story.captions.size == 120 and story.captions.stroke == 5 and story.captions.shadow == 10
    es = load_story(EXAMPLES / "pulpo.yaml")
    assert es.language == "es" and es.voice.provider_options() == {"rate": 165}
    assert es.captions.uppercase is True and es.scene_pause(0) == 0.5


def test_relative_paths_resolve_against_the_story_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = write_story(tmp_path / "sub", {"title": "t", "language": "en", "scenes": [{"text": "a", "image": "p.png"}]})
    story = load_story(path)
    assert story.resolve(story.scenes[0].image or "") == tmp_path / "sub" / "p.png"


def test_round_trip_json_and_yaml(tmp_path: Path) -> None:
    story = load_story(EXAMPLES / "pulpo.yaml")
    for name in ("s.json", "s.yaml"):
        out = save_story(story, tmp_path / name)
        again = load_story(out)
        assert again.model_dump() == story.model_dump()
    # defaults are left out of the saved file
    assert "output" not in json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))


def test_schema_describes_the_required_fields() -> None:
    schema = story_schema()
    assert set(schema["required"]) == {"title", "language", "scenes"}
    scene = schema["$defs"]["Scene"]
    assert "text" in scene["required"] and "image_prompt" in scene["properties"]
    assert schema["properties"]["captions"]


@pytest.mark.parametrize(
    ("data", "scene", "field", "words"),
    [
        ({"title": "t", "language": "en", "scenes": []}, None, "scenes", "must not be empty"),
        ({"title": "t", "language": "en", "scenes": [{"text": "ok", "image_prompt": "x"}, {"text": " ", "image_prompt": "x"}]}, 2, "text", "must not be empty"),
        ({"title": "t", "language": "en", "scenes": [{"text": "ok", "image_prompt": "x"}, {"image_prompt": "x"}]}, 2, "text", "is required"),
        ({"title": "t", "language": "en", "scenes": [{"text": 3, "image_prompt": "x"}]}, 1, "text", "must be a string"),
        ({"title": "t", "language": "en", "scenes": [{"text": "no picture"}]}, 1, "image_prompt", "image_prompt or an image"),
        ({"title": "t", "language": "en", "scenes": [{"text": "a", "image_prompt": "x", "pause": -1}]}, 1, "pause", "greater than or equal"),
        ({"title": "t", "language": "en", "scenes": [{"text": "a", "image_prompt": "x", "txt": "typo"}]}, 1, "txt", "not a known field"),
        ({"title": "t", "language": "english!", "scenes": [{"text": "a", "image_prompt": "x"}]}, None, "language", "BCP-47"),
        ({"title": "t", "language": "en", "scenes": [{"text": "a", "image_prompt": "x"}], "captions": {"color": "red"}}, None, "captions.color", "colour"),
        ({"title": "t", "language": "en", "scenes": [{"text": "a", "image_prompt": "x"}], "output": {"width": 1081}}, None, "output.width", "even"),
        ({"language": "en", "scenes": [{"text": "a", "image_prompt": "x"}]}, None, "title", "is required"),
        ({"title": "t", "language": "en", "scenes": "abc"}, None, "scenes", "must be a list"),
        ({"title": "t", "language": "en", "scenes": [None]}, 1, None, "must be an object"),
    ],
)  # fmt: skip
def test_errors_name_file_scene_and_field(data: dict, scene: int | None, field: str | None, words: str) -> None:
    with pytest.raises(StoryError) as info:
        parse_story(data, source="bad.json")
    err = info.value
    assert (err.file, err.scene, err.field) == ("bad.json", scene, field)
    assert words in str(err)
    where = f"scene {scene}: " if scene else ""
    assert str(err).startswith(f"bad.json: {where}{field}: " if field else f"bad.json: {where}")


def test_syntax_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = write_story(tmp_path, '{"title": "t",\n "language": "en", "scenes": [', "broken.json")
    with pytest.raises(StoryError, match=r"broken\.json: not valid JSON at line 2"):
        load_story(bad)
    bad_yaml = write_story(tmp_path, "title: t\nscenes: [a, b\nlanguage: en\n", "broken.yaml")
    with pytest.raises(StoryError, match=r"broken\.yaml: not valid YAML at line"):
        load_story(bad_yaml)
    with pytest.raises(StoryError, match="story file not found"):
        load_story(tmp_path / "missing.json")
    top = write_story(tmp_path, "[1, 2]", "list.json")
    with pytest.raises(StoryError, match=r"list\.json: must be an object"):
        load_story(top)


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("twice.json", '{"title": "t", "language": "en", "scenes": [{"text": "A.", "text": "B.", "image_prompt": "x"}]}',
         "twice.json: not a valid story: 'text' is given twice in one object"),
        ("twice.yaml", "title: t\nlanguage: en\nscenes:\n  - text: A.\n    image_prompt: x\n    text: B.\n",
         "twice.yaml: not valid YAML at line 6 column 5: 'text' is given twice in one mapping"),
    ],
)  # fmt: skip
def test_a_key_given_twice_is_an_error_not_a_silent_choice(tmp_path: Path, name: str, text: str, said: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(StoryError) as caught:
        load_story(tmp_path / name)
    assert str(caught.value) == said


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    text = "title: t\nlanguage: en\nscenes:\n  - &one {text: A., image_prompt: x}\n  - <<: *one\n    text: B.\n"
    (tmp_path / "merge.yaml").write_text(text, encoding="utf-8")
    story = load_story(tmp_path / "merge.yaml")  # scene 2 takes scene 1's prompt and gives its own text
    assert [(s.text, s.image_prompt) for s in story.scenes] == [("A.", "x"), ("B.", "x")]
