"""The command line: bad input gives exit 2 and one clear line, nothing half-written; the other commands."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortskit import ffmpeg
from tests.conftest import run_cli, small_story, write_story


def _scene(**kw: object) -> dict:
    return {"text": "Hello there.", "image_prompt": "sea", **kw}


def _story(*scenes: dict, **top: object) -> dict:
    return small_story(scenes=list(scenes) or [_scene()], **top)


BAD = {
    "empty scenes": (_story() | {"scenes": []}, "story.json: scenes: must not be empty"),
    "blank text": (_story(_scene(), _scene(text="   ")), "story.json: scene 2: text: must not be empty"),
    "missing text": (_story(_scene(), {"image_prompt": "x"}), "story.json: scene 2: text: is required"),
    "truncated json": ('{"title": "t", "language": "en", "scenes": [{"text": "a",', "story.json: not valid JSON at line 1"),
    "wrong type": (_story(_scene(text=["a", "b"])), "story.json: scene 1: text: must be a string (got list)"),
    "wrong type of pause": (_story(_scene(), _scene(pause="long")), "story.json: scene 2: pause: must be a number"),
    "missing image": (_story(_scene(), {"text": "a", "image": "nope.png"}), "story.json: scene 2: image: image file not found"),
    "corrupt image": (_story({"text": "a", "image": "corrupt.png"}), "story.json: scene 1: image: cannot read corrupt.png as an image"),
    "unknown voice provider": (_story(voice={"provider": "nope"}), "story.json: voice.provider: unknown voice provider 'nope'; valid names: chatterbox, espeak"),
    "unknown image provider": (_story(images={"provider": "dalle9"}), "story.json: images.provider: unknown image provider 'dalle9'; valid names:"),
    "unknown language": (_story(language="xx"), "story.json: language: eSpeak has no voice for language 'xx'"),
    "bad voice option": (_story(voice={"provider": "espeak", "rate": 5000}), "story.json: voice: "),
    "unknown voice option": (_story(voice={"provider": "espeak", "colour": 1}), "has no option 'colour'"),
    "missing music file": (_story(music={"file": "song.mp3"}), "story.json: music.file: file not found"),
    "corrupt music file": (_story(music={"file": "corrupt.png"}), "story.json: music.file: corrupt.png: has no audio stream"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_with_one_line_and_leaves_no_output(tmp_path: Path, case: str) -> None:
    data, expected = BAD[case]
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    story = write_story(tmp_path, data)
    out = tmp_path / "out" / "short.mp4"
    out.parent.mkdir()
    proc = run_cli("render", story, "-o", out, "--workspace", tmp_path / "ws")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert list(out.parent.iterdir()) == []  # no OUT.mp4, no temporary file, no sidecars

    # validate says the same, without rendering
    check = run_cli("validate", story)
    assert check.returncode == 2 and expected in check.stderr


def test_failure_keeps_an_earlier_output_untouched(tmp_path: Path) -> None:
    (tmp_path / "corrupt.png").write_bytes(b"not an image")
    story = write_story(tmp_path, _story({"text": "a", "image": "corrupt.png"}))
    out = tmp_path / "short.mp4"
    out.write_bytes(b"previous short")
    proc = run_cli("render", story, "-o", out, "--workspace", tmp_path / "ws")
    assert proc.returncode == 2
    assert out.read_bytes() == b"previous short"


def test_bad_options_and_files(tmp_path: Path) -> None:
    story = write_story(tmp_path, _story())
    cases = [
        (["--voice", "nope"], "unknown voice provider 'nope'"),
        (["--music", tmp_path / "missing.wav"], "--music: music file not found"),
        (["--quality", "ultra"], "Invalid value"),
        (["--engine", "blender"], "Invalid value"),
    ]
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    cases.append((["--music", garbage], "cannot read garbage.mp3 as audio"))
    for extra, words in cases:
        proc = run_cli("render", story, "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "ws", *extra)
        assert proc.returncode == 2, (extra, proc.stderr)
        assert words in proc.stderr and "Traceback" not in proc.stderr, (extra, proc.stderr)
        assert not (tmp_path / "o.mp4").exists()
    proc = run_cli("render", tmp_path / "nope.json", "-o", tmp_path / "o.mp4")
    assert proc.returncode == 2 and "nope.json: story file not found" in proc.stderr
    proc = run_cli("render", story, "-o", tmp_path / "o.mov")
    assert proc.returncode == 2 and "must be an .mp4" in proc.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    story = write_story(tmp_path, _story(voice={"provider": "nope"}))
    proc = run_cli("--debug", "render", story, "-o", tmp_path / "o.mp4")
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_local_image_no_music_and_draft(tmp_path: Path) -> None:
    # a landscape photo stored sideways with an EXIF orientation tag: red marks its stored top edge
    pixels = np.zeros((300, 400, 3), dtype=np.uint8)
    pixels[:, :] = (30, 90, 200)
    pixels[:120, :] = (255, 0, 0)  # wide enough to survive the centre crop to 9:16
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    img.save(tmp_path / "photo.jpg", exif=exif.tobytes())
    story = write_story(
        tmp_path,
        _story({"text": "A photo of mine.", "image": "photo.jpg", "motion": "none"}, captions={"enabled": False}),
    )
    out = tmp_path / "short.mp4"
    proc = run_cli("render", story, "-o", out, "--workspace", tmp_path / "ws", "--no-music", "--quality", "draft")
    assert proc.returncode == 0, proc.stderr
    info = ffmpeg.probe(out)
    assert (info.width, info.height, info.fps) == (270, 480, 15)
    frame = np.asarray(ffmpeg.frame_at(out, 0.5)).astype(int)
    # after rotation the red edge is on the right, and the cover-crop keeps the middle of the picture
    right, left = frame[:, -8:].mean(axis=(0, 1)), frame[:, :8].mean(axis=(0, 1))
    assert right[0] > 180 and right[2] < 120, right
    assert left[2] > 150 and left[0] < 100, left
    # no music: the pause after the voice is silent
    audio = ffmpeg.decode_audio(out, sample_rate=16000)
    assert np.abs(audio[-1600:]).max() < 0.01


def test_validate_schema_and_version(tmp_path: Path) -> None:
    story = write_story(tmp_path, _story(_scene(), _scene(text="Two words.")))
    proc = run_cli("validate", story)
    assert proc.returncode == 0 and "ok (2 scenes, 4 words, language en)" in proc.stdout
    schema = json.loads(run_cli("schema").stdout)
    assert schema["required"] == ["title", "language", "scenes"]
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("shortskit ")


def test_cache_info_and_clear(tmp_path: Path) -> None:
    story = write_story(tmp_path, _story())
    ws = tmp_path / "ws"
    assert run_cli("render", story, "-o", tmp_path / "a.mp4", "--workspace", ws).returncode == 0
    info = run_cli("cache", "info", "--workspace", ws)
    assert info.returncode == 0
    rows = {line.split()[0]: int(line.split()[1]) for line in info.stdout.splitlines()[1:]}
    assert rows["images"] == 1 and rows["voices"] == 2 and rows["clips"] == 1 and rows["finals"] == 1
    cleared = run_cli("cache", "clear", "--workspace", ws, "--kind", "clips")
    assert cleared.returncode == 0 and "removed 1 files" in cleared.stdout
    assert not any((ws / "clips").glob("*.mp4")) and any((ws / "images").glob("*.png"))
    # the next render remakes only the clip (and reuses the picture and the voice)
    again = run_cli("render", story, "-o", tmp_path / "b.mp4", "--workspace", ws)
    assert again.returncode == 0 and "made 1 clip" in again.stdout and "image" not in again.stdout
    bad = run_cli("cache", "clear", "--workspace", ws, "--kind", "thumbnails")
    assert bad.returncode == 2 and "unknown kind 'thumbnails'" in bad.stderr
    assert run_cli("cache", "clear", "--workspace", ws).returncode == 0
    assert not any(p.is_file() for p in ws.rglob("*"))


def test_cache_clear_deletes_only_what_the_cache_made(tmp_path: Path) -> None:
    """A folder mistaken for a workspace (a project with its own images/) keeps every file that is not ours."""
    project = tmp_path / "project"
    (project / "images" / "holiday").mkdir(parents=True)
    own = [project / "images" / "beach.png", project / "images" / "holiday" / "b.png", project / "clips" / "x.mp4"]
    for path in own:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"mine")
    ours = project / "images" / f"{'ab' * 16}.png"
    ours.write_bytes(b"cached")
    cleared = run_cli("cache", "clear", "--workspace", project)
    assert cleared.returncode == 0 and "removed 1 files" in cleared.stdout
    assert all(p.read_bytes() == b"mine" for p in own) and not ours.exists()
    missing = run_cli("cache", "info", "--workspace", tmp_path / "typo")
    assert missing.returncode == 0 and "no workspace at" in missing.stdout
    a_file = run_cli("cache", "clear", "--workspace", own[0])
    assert a_file.returncode == 2 and "is a file, not a workspace folder" in a_file.stderr
    assert own[0].read_bytes() == b"mine"


def test_outputs_never_overwrite_the_story_and_bad_paths_fail_early(tmp_path: Path) -> None:
    story = write_story(tmp_path, _story(), "tale.json")
    before = story.read_bytes()
    # -o tale.mp4 beside tale.json would write tale.json (the metadata) over the story
    proc = run_cli("render", story, "-o", tmp_path / "tale.mp4", "--workspace", tmp_path / "ws")
    assert proc.returncode == 2 and "would overwrite the story tale.json" in proc.stderr
    assert story.read_bytes() == before and not (tmp_path / "tale.mp4").exists()
    # the default output name keeps clear of it
    proc = run_cli("render", story, "--workspace", tmp_path / "ws", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "tale-short.mp4").exists() and (tmp_path / "tale-short.json").exists()
    assert story.read_bytes() == before
    # an output that is a folder, a workspace that is a file: exit 2 before any work
    (tmp_path / "folder.mp4").mkdir()
    proc = run_cli("render", story, "-o", tmp_path / "folder.mp4")
    assert proc.returncode == 2 and "is a folder" in proc.stderr
    proc = run_cli("render", story, "-o", tmp_path / "x.mp4", "--workspace", story)
    assert proc.returncode == 2 and "as the workspace" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(("field", "name"), [("image", "photo.json"), ("image", "photo.srt"), ("audio", "talk.mp4")])
def test_outputs_never_overwrite_a_file_the_story_reads(tmp_path: Path, field: str, name: str) -> None:
    used = tmp_path / name
    used.write_bytes(b"the user's own file")
    story = write_story(tmp_path, _story(_scene(**{field: name})), "tale.json")
    out = tmp_path / f"{Path(name).stem}.mp4"
    proc = run_cli("render", story, "-o", out, "--workspace", tmp_path / "ws")
    assert proc.returncode == 2 and f"would overwrite scene 1's {field} {name}" in proc.stderr, proc.stderr
    assert used.read_bytes() == b"the user's own file"


def test_odd_files_are_user_errors(tmp_path: Path) -> None:
    Image.new("1", (20000, 20000)).save(tmp_path / "huge.png")  # 400 megapixels: Pillow refuses it
    (tmp_path / "fake.ttf").write_text("not a font", encoding="utf-8")
    (tmp_path / "folder.png").mkdir()
    cases = [
        (_story({"text": "a", "image": "huge.png"}), "scene 1: image: cannot read huge.png as an image"),
        (_story({"text": "a", "image": "folder.png"}), "scene 1: image: image file path is not a file"),
        (_story(captions={"font_file": "fake.ttf"}), "captions.font_file: fake.ttf is not a font file"),
    ]
    for data, words in cases:
        story = write_story(tmp_path, data)
        proc = run_cli("validate", story)
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    # a JSON file saved with a byte-order mark (Notepad) is fine
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(_story()).encode())
    assert run_cli("validate", bom).returncode == 0


def test_srt_cues_never_overlap_across_scenes(tmp_path: Path) -> None:
    story = write_story(tmp_path, _story(_scene(text="One two three."), _scene(text="Four five."), pause=0))
    proc = run_cli("render", story, "-o", tmp_path / "s.mp4", "--workspace", tmp_path / "ws")
    assert proc.returncode == 0, proc.stderr
    import pysubs2

    subs = pysubs2.load(str(tmp_path / "s.srt"))
    for a, b in itertools.pairwise(subs):
        assert a.end <= b.start, (a, b)


def test_usage_mistakes_are_one_line_too(tmp_path: Path) -> None:
    for args, words in [
        (["render", "--quality", "ultra", "x.json"], "Invalid value for '--quality'"),
        (["render"], "Missing argument 'story'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["render", "x.json", "--music", "a.wav", "--no-music"], "--music FILE or --no-music, not both"),
    ]:
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and words in proc.stderr, proc.stderr
    assert run_cli("render", "--help").returncode == 0
    assert "Usage" in run_cli().stdout


@pytest.mark.parametrize(
    ("command", "defaults"),
    [
        ("render", ["STORY-short.mp4 here", "$SHORTSKIT_WORKSPACE", "the story's"]),
        ("write", ["print JSON", "$SHORTSKIT_WRITER_MODEL"]),
        ("seo", ["stdout"]),
    ],
)
def test_help_shows_the_defaults_that_depend_on_the_story_or_environment(command: str, defaults: list[str]) -> None:
    # A default written inside the help text as "[default: ...]" is eaten by rich's markup.
    result = run_cli(command, "--help", env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for default in defaults:
        assert f"[default: ({default}" in text, (default, text)
