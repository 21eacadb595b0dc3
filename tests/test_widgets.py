"""The notebook layer driven from Python (``.value`` and ``.click()``), and the core it stands on.

The core parts (background render handles, one-scene previews, voice samples) run everywhere; the widget
tests need the notebook extra (ipywidgets). Renders are real, at 270x480 (about a second each).
"""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

import shortskit
from shortskit import ConfigError, InputFileError, ProviderError, StoryError, ffmpeg, load_story, parse_story
from shortskit.handles import RenderHandle, start, start_many
from shortskit.preview import one_scene_story, render_scene, store_image
from shortskit.providers.base import Speech
from shortskit.providers.espeak import EspeakVoice
from shortskit.voicesample import (
    library_voice,
    library_voices,
    prepare_sample,
    save_voice,
)
from tests.conftest import small_story, tone, write_story


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _upload(name: str, content: bytes) -> tuple[dict[str, Any], ...]:
    """A FileUpload value as the browser sends it."""
    when = datetime.datetime.now(datetime.timezone.utc)
    return ({"name": name, "type": "", "size": len(content), "content": memoryview(content), "last_modified": when},)


def _png(color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (90, 160), color).save(buf, "PNG")
    return buf.getvalue()


class FailingVoice:
    """eSpeak, except that it fails on any scene whose text says FAIL (a provider that breaks)."""

    name: ClassVar[str] = "failing"
    version: ClassVar[str] = "1"
    max_concurrency = 1

    def settings(self) -> dict[str, Any]:
        return {}

    async def synthesize(self, text: str, out: Path, *, language: str) -> Speech:
        if "FAIL" in text:
            raise ProviderError("the voice service said no", provider="failing", status=400)
        return await EspeakVoice().synthesize(text, out, language=language)


@pytest.fixture
def failing_voice() -> Any:
    from shortskit.providers import _VOICES

    shortskit.register_voice("failing", FailingVoice)
    yield "failing"
    _VOICES.pop("failing", None)


@pytest.fixture
def story_file(tmp_path: Path) -> Path:
    folder = tmp_path / "story"
    folder.mkdir()
    return write_story(folder, small_story())


# -- core: background render handles ----------------------------------------------------------------------


def test_start_needs_a_running_loop(story_file: Path) -> None:
    with pytest.raises(ConfigError, match="running event loop"):
        start(story_file, story_file.with_name("x.mp4"))


def test_start_returns_at_once_and_the_handle_follows_the_render(story_file: Path, workspace: Path) -> None:
    async def main() -> None:
        out = story_file.with_name("short.mp4")
        seen: list[shortskit.Event] = []
        handle = start(story_file, out, workspace=workspace, on_progress=seen.append)
        assert isinstance(handle, RenderHandle)
        assert not handle.done() and handle.status == "running" and handle.progress == 0.0
        with pytest.raises(asyncio.InvalidStateError, match="still running"):
            handle.result()
        result = await handle
        assert handle.done() and handle.status == "done" and handle.progress == 1.0
        assert handle.result() is result and handle.exception() is None
        assert result.video == out and out.exists()
        assert seen == handle.events and {e.stage for e in handle.events} >= {"image", "voice", "clip", "merge"}
        assert "done 100%" in repr(handle)

    asyncio.run(main())


def test_start_many_one_failure_does_not_stop_the_others(tmp_path: Path, workspace: Path, failing_voice: str) -> None:
    good = parse_story(small_story(), base_dir=tmp_path)
    bad = parse_story(
        small_story(voice={"provider": failing_voice}, scenes=[{"text": "FAIL here.", "image_prompt": "x"}]),
        base_dir=tmp_path,
    )

    async def main() -> list[Any]:
        handles = start_many(
            [
                (good, tmp_path / "good.mp4"),
                (bad, tmp_path / "bad.mp4"),
                (good, tmp_path / "good2.mp4", {"music": False}),
            ],
            workspace=workspace,
        )
        assert len(handles) == 3
        return [handles, await asyncio.gather(*handles, return_exceptions=True)]

    handles, outcomes = asyncio.run(main())
    assert isinstance(outcomes[1], shortskit.ScenesFailedError) and "the voice service said no" in str(outcomes[1])
    assert handles[1].status == "failed" and isinstance(handles[1].exception(), shortskit.ScenesFailedError)
    assert outcomes[0].video.exists() and outcomes[2].video.exists() and not (tmp_path / "bad.mp4").exists()


def test_a_handle_can_be_cancelled(story_file: Path, workspace: Path) -> None:
    async def main() -> RenderHandle:
        handle = start(story_file, story_file.with_name("c.mp4"), workspace=workspace)
        await asyncio.sleep(0.05)
        assert handle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handle
        return handle

    handle = asyncio.run(main())
    assert handle.cancelled() and handle.status == "cancelled" and not story_file.with_name("c.mp4").exists()


# -- core: one-scene previews and stored pictures -----------------------------------------------------------


def test_a_scene_preview_is_the_clip_the_full_render_reuses(story_file: Path, workspace: Path) -> None:
    story = load_story(story_file)
    single = one_scene_story(story, 2)
    assert single.scenes[0].text == "Goodbye now." and single.scenes[0].motion == "pan_right"
    assert single.base_dir == story.base_dir and story.scenes[1].motion is None  # the original is untouched

    scene = asyncio.run(render_scene(story, 2, workspace=workspace))
    assert scene.index == 2 and scene.clip.exists() and scene.image.exists() and scene.voice.exists()
    assert ffmpeg.probe(scene.clip).width == 270
    full = shortskit.render_sync(story, story_file.with_name("full.mp4"), workspace=workspace)
    assert full.scenes[1].clip == scene.clip and full.made["clip"] == 1  # only scene 1's clip was new

    before = scene.image.stat().st_mtime_ns
    again = asyncio.run(render_scene(story, 2, workspace=workspace, force=True))  # remade, not reused
    assert again.image == scene.image and again.image.stat().st_mtime_ns > before
    with pytest.raises(ConfigError, match="scenes 1 to 2"):
        one_scene_story(story, 3)


def test_store_image_keeps_pictures_beside_the_story_or_in_the_workspace(story_file: Path, workspace: Path) -> None:
    story = load_story(story_file)
    assert store_image(story, "my pic.png", _png()) == "media/my_pic.png"
    assert (story_file.parent / "media" / "my_pic.png").read_bytes() == _png()
    assert store_image(story, "my pic.png", _png()) == "media/my_pic.png"  # same picture: same file
    other = store_image(story, "my pic.png", _png((0, 0, 255)))
    assert other.startswith("media/my_pic-") and (story_file.parent / other).exists()

    in_memory = parse_story(small_story())
    path = Path(store_image(in_memory, "a.png", _png(), workspace=workspace))
    assert path.is_absolute() and path.parent == workspace / "uploads" and path.exists()
    with pytest.raises(InputFileError, match=r"notes\.txt: not a picture"):
        store_image(story, "notes.txt", b"hello")


# -- core: voice samples ------------------------------------------------------------------------------------


def test_a_sample_is_checked_and_converted_to_24k_mono(tmp_path: Path) -> None:
    src = tone(tmp_path / "me.wav", 6.0, rate=44100, channels=2)
    sample = prepare_sample(src, tmp_path / "out.wav")
    info = ffmpeg.probe(sample.path)
    assert (info.sample_rate, info.channels) == (24000, 1)
    assert sample.source == "me.wav" and abs(sample.duration - 6.0) < 0.05 and -20 < sample.level_dbfs < 0
    assert sample.trimmed_from is None

    m4a = tmp_path / "me.m4a"
    ffmpeg.run(["-y", "-i", src, "-c:a", "aac", m4a])
    assert abs(prepare_sample(m4a, tmp_path / "m4a.wav").duration - 6.0) < 0.1

    # a long recording is cut to its first 30 s, not refused
    long = prepare_sample(tone(tmp_path / "long.mp3", 75.0), tmp_path / "long.wav")
    assert long.duration == 30.0 and long.trimmed_from is not None and abs(long.trimmed_from - 75.0) < 0.1
    assert ffmpeg.probe(long.path).duration == pytest.approx(30.0, abs=0.01)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "nowhere.wav", r"nowhere\.wav: file not found"),
        (lambda d: _file(d / "empty.mp3", b""), r"empty\.mp3: the file is empty"),
        (lambda d: _file(d / "text.mp3", b"no" * 500), r"text\.mp3: not an audio file"),
        (lambda d: tone(d / "short.wav", 1.5), r"short\.wav: is only 1\.5 s long; a voice sample needs at least 5 s"),
        (lambda d: tone(d / "almost.wav", 4.9), r"almost\.wav: is only 4\.9 s long"),
        (lambda d: tone(d / "quiet.wav", 6.0, amplitude=0.0), r"quiet\.wav: is silent \(no sound at all\)"),
        (lambda d: tone(d / "hiss.wav", 6.0, amplitude=0.001), r"hiss\.wav: is silent \(level -\d+ dBFS\)"),
    ],
)
def test_bad_samples_are_refused_with_the_file_and_the_problem(tmp_path: Path, make: Any, message: str) -> None:
    with pytest.raises(InputFileError, match=message) as err:
        prepare_sample(make(tmp_path), tmp_path / "out.wav")
    assert err.value.exit_code == 2 and not (tmp_path / "out.wav").exists()


def test_saved_voices_are_found_by_name(tmp_path: Path, workspace: Path) -> None:
    wav = save_voice(tone(tmp_path / "a.wav", 5.5), "narrator", workspace=workspace, provider="espeak")
    assert wav == workspace / "voices-library" / "narrator.wav" and ffmpeg.probe(wav).sample_rate == 24000
    meta = json.loads(wav.with_suffix(".json").read_text())
    assert meta["name"] == "narrator" and meta["source"] == "a.wav" and meta["provider"] == "espeak"
    assert library_voices(workspace) == ["narrator"] and library_voice("narrator", workspace=workspace) == wav
    with pytest.raises(ConfigError, match="no saved voice 'nope'; saved voices: narrator"):
        library_voice("nope", workspace=workspace)
    with pytest.raises(ConfigError, match=r"voice name '\.\./x'"):
        save_voice(wav, "../x", workspace=workspace)


# -- the widgets ----------------------------------------------------------------------------------------------


@pytest.fixture
def widgets() -> Any:
    return pytest.importorskip("shortskit.widgets", reason="the notebook extra (ipywidgets) is not installed")


def test_the_editor_story_always_reflects_the_widgets(widgets: Any, story_file: Path, workspace: Path) -> None:
    editor = widgets.StoryEditor(story_file, workspace=workspace)
    assert editor.story == load_story(story_file)
    editor.title.value = "Renamed"
    editor.language.value = "es"
    editor.rows[0].text.value = "Hola, mundo."
    editor.rows[1].prompt.value = "a red boat"
    story = editor.story
    assert (story.title, story.language, story.scenes[0].text, story.scenes[1].image_prompt) == (
        "Renamed",
        "es",
        "Hola, mundo.",
        "a red boat",
    )
    assert story.output.width == 270 and story.base_dir == story_file.parent  # untouched settings are kept

    editor.rows[1].text.value = "   "
    assert "scene 2: text: must not be empty" in editor.status.value
    with pytest.raises(StoryError, match="scene 2: text"):
        editor.story  # noqa: B018
    editor.rows[1].text.value = "Fixed."
    assert editor.status.value == ""


def test_scenes_are_added_moved_and_removed(widgets: Any, story_file: Path) -> None:
    editor = widgets.StoryEditor(story_file)
    editor.add_button.click()
    assert len(editor.rows) == 3 and "scene 3: text: must not be empty" in editor.status.value
    editor.rows[2].text.value = "A third scene."
    editor.rows[2].prompt.value = "mountains"
    editor.rows[2].up.click()
    assert [s.text for s in editor.story.scenes] == ["Hello there, small world.", "A third scene.", "Goodbye now."]
    assert editor.rows[0].up.disabled and editor.rows[2].down.disabled
    editor.rows[0].down.click()
    assert [s.text for s in editor.story.scenes][:2] == ["A third scene.", "Hello there, small world."]
    editor.rows[0].remove.click()
    editor.rows[0].remove.click()
    assert [s.text for s in editor.story.scenes] == ["Goodbye now."] and editor.rows[0].remove.disabled
    assert len(editor.scenes_box.children) == 1


@pytest.mark.parametrize("name", ["saved.json", "saved.yaml"])
def test_save_writes_json_or_yaml(widgets: Any, story_file: Path, name: str) -> None:
    editor = widgets.StoryEditor(story_file)
    editor.rows[0].text.value = "Saved text."
    editor.save_path.value = str(story_file.with_name(name))
    editor.save_button.click()
    assert "saved" in editor.status.value
    again = load_story(story_file.with_name(name))
    assert again.scenes[0].text == "Saved text." and again.output.width == 270 and again == editor.story


def test_an_uploaded_picture_is_saved_next_to_the_story(widgets: Any, story_file: Path) -> None:
    editor = widgets.StoryEditor(story_file)
    row = editor.rows[1]
    row.upload.value = _upload("boat.png", _png())
    assert row.image.value == "media/boat.png" and (story_file.parent / "media" / "boat.png").exists()
    assert editor.story.scenes[1].image == "media/boat.png" and row.upload.value == ()
    row.upload.value = _upload("x.png", b"abc")
    assert "x.png: not a picture" in row.status.value and row.image.value == "media/boat.png"


def test_preview_and_regenerate_one_scene(widgets: Any, story_file: Path, workspace: Path) -> None:
    editor = widgets.StoryEditor(story_file, workspace=workspace, quality="draft")
    row = editor.rows[1]

    async def main() -> None:
        row.preview_button.click()  # schedules the work and returns at once
        assert editor._tasks and row.preview_button.disabled
        await editor.wait()
        assert "s</span>" in row.status.value and row.result is not None
        first = row.result.image.stat().st_mtime_ns
        assert row.video.value == row.result.preview.read_bytes() and row.audio.value[:4] == b"RIFF"
        assert ffmpeg.probe(row.result.preview).has_audio  # the clip itself is silent: the preview has the voice
        assert row.picture.value[:8] == b"\x89PNG\r\n\x1a\n" and row.previews.layout.display == "flex"
        row.regenerate_button.click()
        await editor.wait()
        assert row.result.image.stat().st_mtime_ns > first and not row.preview_button.disabled

    asyncio.run(main())


def test_a_click_outside_an_event_loop_runs_the_work_at_once(widgets: Any, story_file: Path, workspace: Path) -> None:
    editor = widgets.StoryEditor(story_file, workspace=workspace)
    editor.rows[0].preview_button.click()
    assert editor.rows[0].result is not None and editor.rows[0].video.value


def test_the_render_panel_shows_progress_and_the_short(widgets: Any, story_file: Path, workspace: Path) -> None:
    editor = widgets.StoryEditor(story_file, workspace=workspace)
    out = story_file.with_name("panel.mp4")
    panel = widgets.RenderPanel(editor, out)
    assert panel.workspace == workspace  # the editor's

    async def main() -> None:
        editor.rows[0].text.value = "Changed in the editor."
        panel.render_button.click()
        assert panel.render_button.disabled and not panel.cancel_button.disabled and panel.result is None
        await panel.wait()

    asyncio.run(main())
    assert panel.error is None and panel.progress.value == 1.0 and panel.progress.bar_style == "success"
    assert len(panel.rows) == 3 and all("clip ✓" in panel.rows[n].value for n in (1, 2))
    assert "merge ✓" in panel.rows[None].value
    info = ffmpeg.probe(out)
    assert (info.width, info.height) == (270, 480) and panel.video.value == out.read_bytes()
    assert json.loads(out.with_suffix(".json").read_text())["scenes"][0]["text"] == "Changed in the editor."
    assert "done" in panel.status.value and not panel.render_button.disabled
    assert 'download="panel.mp4"' in panel.download.outputs[0]["data"]["text/html"]


def test_the_render_panel_shows_errors_per_scene(
    widgets: Any, tmp_path: Path, workspace: Path, failing_voice: str
) -> None:
    data = small_story(voice={"provider": failing_voice})
    data["scenes"][1]["text"] = "This one will FAIL."
    panel = widgets.RenderPanel(write_story(tmp_path, data), tmp_path / "f.mp4", workspace=workspace)
    panel.render_button.click()  # no loop running: the render runs now
    assert isinstance(panel.error, shortskit.ScenesFailedError) and panel.progress.bar_style == "danger"
    assert "voice ✗" in panel.rows[2].value and "the voice service said no" in panel.rows[2].value
    assert "✗" not in panel.rows[1].value and "the voice service said no" in panel.status.value
    assert not (tmp_path / "f.mp4").exists()

    bad = widgets.RenderPanel(parse_story(small_story(), base_dir=tmp_path), tmp_path / "x.mp4", voice="nope")
    bad.render_button.click()
    assert "unknown voice provider 'nope'" in bad.status.value


def test_a_render_can_be_cancelled_from_the_panel(widgets: Any, story_file: Path, workspace: Path) -> None:
    panel = widgets.RenderPanel(story_file, story_file.with_name("c.mp4"), workspace=workspace)

    async def main() -> None:
        panel.render_button.click()
        while not panel.handle or not panel.handle.events:
            await asyncio.sleep(0.01)
        panel.cancel_button.click()
        await panel.wait()

    asyncio.run(main())
    assert panel.handle is not None and panel.handle.cancelled() and "cancelled" in panel.status.value
    assert not story_file.with_name("c.mp4").exists() and not panel.render_button.disabled


def test_voice_panel_speaks_checks_a_sample_and_saves_it(widgets: Any, tmp_path: Path, workspace: Path) -> None:
    panel = widgets.VoicePanel(workspace=workspace)
    assert panel.provider.value == "espeak" and "espeak" in panel.provider.options

    async def main() -> None:
        panel.rate.value, panel.pitch.value, panel.espeak_voice.value = 220, 30, "en-us"
        panel.speak_button.click()
        await panel.wait()
        assert panel.speech.value[:4] == b"RIFF" and "of speech" in panel.status.value

        content = tone(tmp_path / "my voice.wav", 6.0, rate=44100).read_bytes()
        panel.upload.value = _upload("my voice.wav", content)
        await panel.wait()

    asyncio.run(main())
    assert panel.sample is not None and "my voice.wav: 6.0 s" in panel.sample_info.value
    assert panel.sample_audio.value[:4] == b"RIFF" and panel.name.value == "my-voice"
    panel.name.value = "narrator"
    panel.save_button.click()
    assert library_voices(workspace) == ["narrator"] and "saved voice 'narrator'" in panel.status.value
    meta = json.loads((workspace / "voices-library" / "narrator.json").read_text())
    assert meta["provider"] == "chatterbox" and meta["settings"] == {"exaggeration": 0.5, "cfg_weight": 0.5}

    asyncio.run(panel.load_sample(tone(tmp_path / "tiny.wav", 1.0)))
    assert "tiny.wav: is only 1.0 s long" in panel.sample_info.value and panel.sample is None
    panel.save_button.click()
    assert "upload a voice sample first" in panel.status.value


def test_voice_panel_options_for_other_providers(widgets: Any, workspace: Path, failing_voice: str) -> None:
    panel = widgets.VoicePanel(workspace=workspace)
    panel.provider.value = failing_voice
    assert panel.espeak_box.layout.display == "none" and panel.options.layout.display == "flex"
    panel.options.value = "{not json"
    panel.speak_button.click()
    assert "options must be a JSON object" in panel.status.value
    panel.options.value = "{}"
    panel.text.value = "Please FAIL."
    panel.speak_button.click()
    assert "the voice service said no" in panel.status.value


def test_voice_panel_without_chatterbox_says_how_to_install_it(
    widgets: Any, monkeypatch: pytest.MonkeyPatch, workspace: Path
) -> None:
    monkeypatch.setitem(sys.modules, "chatterbox", None)  # as where the extra is not installed
    panel = widgets.VoicePanel(workspace=workspace)
    note = panel.cloning_note.value
    assert 'pip install "shortskit[chatterbox]", then restart Python' in note and "is installed" not in note
    assert panel.clone_button.disabled and not panel.cloning


def test_voice_panel_with_a_broken_chatterbox_says_what_is_wrong(
    widgets: Any, fake_chatterbox: Any, monkeypatch: pytest.MonkeyPatch, workspace: Path
) -> None:
    monkeypatch.setitem(sys.modules, "perth", types.SimpleNamespace(PerthImplicitWatermarker=None))
    panel = widgets.VoicePanel(workspace=workspace)
    assert 'pip install "setuptools&lt;81"' in panel.cloning_note.value and panel.clone_button.disabled


def test_voice_panel_speaks_with_the_saved_voice(
    widgets: Any, fake_chatterbox: Any, tmp_path: Path, workspace: Path
) -> None:
    panel = widgets.VoicePanel(workspace=workspace)
    assert "Chatterbox is installed; it loads on cpu at its first use" in panel.cloning_note.value
    panel.clone_button.click()  # nothing saved yet
    assert "save the voice first" in panel.status.value and not fake_chatterbox.EVENTS

    asyncio.run(panel.load_sample(tone(tmp_path / "me.wav", 6.0)))
    panel.save("me")
    assert "voice: {provider: chatterbox, sample: me}" in panel.status.value
    panel.exaggeration.value = 0.7
    panel.text.value = "Hello, this is my voice."
    panel.clone_button.click()
    assert panel.clone_speech.value[:4] == b"RIFF" and "in the voice 'me' (Chatterbox on cpu)" in panel.status.value
    (call,) = fake_chatterbox.calls()
    assert call["text"] == "Hello, this is my voice." and call["exaggeration"] == 0.7
    assert call["audio_prompt_path"] == str(workspace / "voices-library" / "me.wav")


def test_voice_panel_takes_a_recording_from_the_microphone_button(
    widgets: Any, tmp_path: Path, workspace: Path
) -> None:
    panel = widgets.VoicePanel(workspace=workspace)
    webm = tmp_path / "mic.webm"  # what Chromium's MediaRecorder hands over: WebM with Opus inside
    ffmpeg.run(["-y", "-i", tone(tmp_path / "mic.wav", 6.0, rate=48000), "-c:a", "libopus", webm])

    async def main() -> None:
        # as the browser's Stop sends it over the widget channel: the bytes arrive as a memoryview
        panel.recorder.set_state({"mime": "audio/webm;codecs=opus", "audio": memoryview(webm.read_bytes())})
        await panel.wait()

    asyncio.run(main())
    assert panel.sample is not None and "recording.webm: 6.0 s" in panel.sample_info.value
    assert panel.save("mic") == workspace / "voices-library" / "mic.wav"

    panel.recorder.error = "the browser gave no microphone: Permission denied"
    assert "Permission denied; upload a recording instead" in panel.sample_info.value
    panel.recorder.mime = "audio/mp4"
    assert panel.recorder.suffix() == ".m4a"
