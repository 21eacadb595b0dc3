"""Jupyter widgets over the public API: a story editor, a voice panel and a render panel (``shortskit[notebook]``).

They hold no logic of their own: every button calls a public core function in a task on Jupyter's running
event loop, so the notebook stays responsive. Tests drive them from Python with ``.value`` and ``.click()``.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

try:
    import ipywidgets as w
except ImportError as exc:  # pragma: no cover - the notebook extra is missing
    raise ImportError("shortskit.widgets needs ipywidgets: pip install 'shortskit[notebook]'") from exc

from shortskit.errors import ConfigError, ShortskitError
from shortskit.handles import RenderHandle, running_loop, start
from shortskit.pipeline import Event, RenderResult, SceneResult
from shortskit.preview import render_scene, store_image
from shortskit.providers import create_voice, voice_names
from shortskit.story import Story, load_story, parse_story, save_story
from shortskit.voicesample import (
    CLONING_HINT,
    VoiceSample,
    cloning_available,
    prepare_sample,
    save_voice,
    voice_library,
)
from shortskit.workspace import default_workspace

__all__ = ["RenderPanel", "StoryEditor", "VoicePanel"]

_THUMB = "135px"  # preview width: a 9:16 picture or clip at a glance


def _note(text: str, kind: str = "info") -> str:
    color = {"info": "#555", "ok": "#1b7f3b", "error": "#b00020"}[kind]
    return f'<span style="color:{color}">{html.escape(text, quote=False)}</span>'


def _media(widget: w.Image | w.Audio | w.Video, path: Path) -> None:
    widget.format = path.suffix.lstrip(".").lower().replace("jpg", "jpeg")
    widget.value = path.read_bytes()


class _Background:
    """Runs button work as tasks on the running loop and shows what went wrong in a status line."""

    _tasks: set[asyncio.Task[Any]]
    error: BaseException | None

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        loop = running_loop()
        if loop is None:  # a plain script or test: nothing else to keep responsive, so run it now
            asyncio.run(coro)
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait(self) -> None:
        """Wait until the work the buttons started has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _guard(self, status: w.HTML, coro: Coroutine[Any, Any, Any]) -> Any:
        self.error = None
        try:
            return await coro
        except asyncio.CancelledError:
            status.value = _note("cancelled")
            raise
        except ShortskitError as exc:
            self.error = exc
            status.value = _note(str(exc), "error")
        except Exception as exc:  # shown rather than lost in the kernel's log
            self.error = exc
            status.value = _note(f"{type(exc).__name__}: {exc}", "error")
        return None


# -- the story editor --------------------------------------------------------------------------------------


class _SceneRow:
    """The widgets of one scene in the editor."""

    def __init__(self, editor: StoryEditor, text: str, prompt: str, image: str, extra: dict[str, Any]) -> None:
        self.editor = editor
        self.extra = extra  # the scene's other fields (pause, motion), kept as they were
        self.number = w.HTML()
        self.text = w.Textarea(value=text, placeholder="Narration", layout=w.Layout(width="98%", height="4.5em"))
        self.prompt = w.Text(value=prompt, placeholder="What the picture shows", description="Prompt")
        self.image = w.Text(value=image, placeholder="(none: made from the prompt)", description="Picture")
        self.prompt.layout = self.image.layout = w.Layout(width="98%")
        self.upload = w.FileUpload(
            accept="image/*", multiple=False, description="Upload", tooltip="Use your own picture"
        )
        self.up = w.Button(icon="arrow-up", tooltip="Move up", layout=w.Layout(width="36px"))
        self.down = w.Button(icon="arrow-down", tooltip="Move down", layout=w.Layout(width="36px"))
        self.remove = w.Button(icon="trash", tooltip="Remove this scene", layout=w.Layout(width="36px"))
        self.preview_button = w.Button(description="Preview", icon="eye", tooltip="Render this scene (cached)")
        self.regenerate_button = w.Button(
            description="Regenerate", icon="refresh", tooltip="Remake this scene's picture, voice and clip"
        )
        self.status = w.HTML()
        self.picture = w.Image(layout=w.Layout(width=_THUMB))
        self.audio = w.Audio(autoplay=False, loop=False)
        self.video = w.Video(autoplay=False, loop=False, layout=w.Layout(width=_THUMB))
        self.previews = w.HBox([self.picture, w.VBox([self.audio, self.video])], layout=w.Layout(display="none"))
        self.result: SceneResult | None = None

        for widget in (self.text, self.prompt, self.image):
            widget.observe(editor._changed, "value")
        self.upload.observe(self._uploaded, "value")
        self.up.on_click(lambda _b: editor.move(editor.rows.index(self) + 1, -1))
        self.down.on_click(lambda _b: editor.move(editor.rows.index(self) + 1, +1))
        self.remove.on_click(lambda _b: editor.remove_scene(editor.rows.index(self) + 1))
        self.preview_button.on_click(lambda _b: editor._start_preview(self, force=False))
        self.regenerate_button.on_click(lambda _b: editor._start_preview(self, force=True))
        tools = w.HBox([self.number, self.up, self.down, self.remove, self.preview_button, self.regenerate_button])
        self.box = w.VBox(
            [tools, self.text, self.prompt, w.HBox([self.image, self.upload]), self.status, self.previews],
            layout=w.Layout(border="1px solid #ddd", padding="6px", margin="4px 0"),
        )

    def data(self) -> dict[str, Any]:
        return {
            **self.extra,
            "text": self.text.value,
            "image_prompt": self.prompt.value.strip() or None,
            "image": self.image.value.strip() or None,
        }

    def _uploaded(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        item = change["new"][0]
        try:
            self.image.value = store_image(
                self.editor._base, item["name"], bytes(item["content"]), workspace=self.editor.workspace
            )
            self.status.value = _note(f"picture saved as {self.image.value}", "ok")
        except ShortskitError as exc:
            self.status.value = _note(str(exc), "error")
        self.upload.value = ()  # ready for the next upload

    def show(self, result: SceneResult) -> None:
        self.result = result
        _media(self.picture, result.image)
        _media(self.audio, result.voice)
        _media(self.video, result.clip)
        self.previews.layout.display = "flex"


class StoryEditor(_Background, w.VBox):
    """Edit a story's title, language and scenes; preview or regenerate a scene; save it as JSON or YAML.

    ``.story`` is the story as the widgets show it now (raising :class:`~shortskit.errors.StoryError` while
    something is invalid). ``render_options`` (``quality="draft"``, ``voice=...``) go to every preview.
    """

    def __init__(
        self,
        story: Story | str | Path,
        *,
        workspace: str | Path | None = None,
        path: str | Path | None = None,
        **render_options: Any,
    ) -> None:
        super().__init__()
        self._tasks, self.error = set(), None
        if not isinstance(story, Story):
            path = path or story
            story = load_story(story)
        self._base = story  # every setting the editor does not show, and where relative paths resolve
        self.path = Path(path) if path else (story.base_dir / story.source if story.source else None)
        self.workspace = Path(workspace) if workspace is not None else None
        self.render_options = render_options
        self.title = w.Text(value=story.title, description="Title", layout=w.Layout(width="98%"))
        self.language = w.Text(value=story.language, description="Language")
        self.rows: list[_SceneRow] = []
        self.scenes_box = w.VBox()
        self.add_button = w.Button(description="Add scene", icon="plus")
        self.save_path = w.Text(value=str(self.path or "story.json"), description="Save as")
        self.save_button = w.Button(description="Save", icon="save", button_style="success")
        self.status = w.HTML()
        self._quiet = True  # no validation while the rows are built
        for scene in story.scenes:
            extra = scene.model_dump(exclude={"text", "image_prompt", "image"})
            self._add_row(scene.text, scene.image_prompt or "", scene.image or "", extra)
        self._quiet = False
        self.title.observe(self._changed, "value")
        self.language.observe(self._changed, "value")
        self.add_button.on_click(lambda _b: self.add_scene())
        self.save_button.on_click(lambda _b: self.save())
        self.children = [
            self.title,
            self.language,
            self.scenes_box,
            self.add_button,
            w.HBox([self.save_path, self.save_button]),
            self.status,
        ]
        self._layout()

    # the story ---------------------------------------------------------------------------------------
    @property
    def story(self) -> Story:
        """The story as the widgets show it now."""
        data = self._base.model_dump(exclude={"title", "language", "scenes"})
        data.update(title=self.title.value, language=self.language.value, scenes=[r.data() for r in self.rows])
        return parse_story(data, source=self.path, base_dir=self._base.base_dir)

    def _changed(self, _change: Any = None) -> None:
        if self._quiet:
            return
        try:
            self.story  # noqa: B018 - validation only
        except ShortskitError as exc:
            self.status.value = _note(str(exc), "error")
        else:
            self.status.value = ""

    # scenes ------------------------------------------------------------------------------------------
    def _add_row(self, text: str, prompt: str, image: str, extra: dict[str, Any], at: int | None = None) -> None:
        row = _SceneRow(self, text, prompt, image, extra)
        self.rows.insert(len(self.rows) if at is None else at, row)

    def _layout(self) -> None:
        for n, row in enumerate(self.rows, start=1):
            row.number.value = f"<b>Scene {n}</b>&nbsp;"
            row.up.disabled = n == 1
            row.down.disabled = n == len(self.rows)
            row.remove.disabled = len(self.rows) == 1
        self.scenes_box.children = [r.box for r in self.rows]
        self._changed()

    def add_scene(self, text: str = "", image_prompt: str = "", *, at: int | None = None) -> None:
        """Add a scene at position ``at`` (1-based; default: the end)."""
        self._add_row(text, image_prompt, "", {}, None if at is None else at - 1)
        self._layout()

    def remove_scene(self, scene: int) -> None:
        """Remove scene ``scene`` (1-based); a story keeps at least one."""
        if len(self.rows) > 1:
            del self.rows[scene - 1]
            self._layout()

    def move(self, scene: int, by: int) -> None:
        """Move scene ``scene`` (1-based) ``by`` places (-1 up, +1 down)."""
        i, j = scene - 1, scene - 1 + by
        if 0 <= i < len(self.rows) and 0 <= j < len(self.rows):
            self.rows[i], self.rows[j] = self.rows[j], self.rows[i]
            self._layout()

    # previews and saving -----------------------------------------------------------------------------
    async def preview(self, scene: int, *, force: bool = False) -> SceneResult | None:
        """Render scene ``scene`` (1-based) and show its picture, voice and clip; ``force`` remakes them."""
        return await self._preview_row(self.rows[scene - 1], force=force)

    async def regenerate(self, scene: int) -> SceneResult | None:
        """Remake scene ``scene`` (1-based): its picture, voice, captions and clip."""
        return await self.preview(scene, force=True)

    def _start_preview(self, row: _SceneRow, *, force: bool) -> None:
        self._busy(row, force)  # at once, so a second click cannot start the same work twice
        self._spawn(self._preview_row(row, force=force))

    def _busy(self, row: _SceneRow, force: bool) -> None:
        row.preview_button.disabled = row.regenerate_button.disabled = True
        row.status.value = _note("regenerating…" if force else "rendering…")

    async def _preview_row(self, row: _SceneRow, *, force: bool) -> SceneResult | None:
        self._busy(row, force)
        try:
            result = await self._guard(row.status, self._render_row(row, force))
        finally:
            row.preview_button.disabled = row.regenerate_button.disabled = False
        return result

    async def _render_row(self, row: _SceneRow, force: bool) -> SceneResult:
        story = self.story
        result = await render_scene(
            story, self.rows.index(row) + 1, workspace=self.workspace, force=force, **self.render_options
        )
        row.show(result)
        row.status.value = _note(f"{result.duration:.1f} s", "ok")
        return result

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write the story to ``path`` (default: the "Save as" box) as JSON, or YAML for .yaml/.yml."""
        target = Path(path or self.save_path.value).expanduser()
        try:
            saved = save_story(self.story, target)
        except (ShortskitError, OSError) as exc:
            self.status.value = _note(str(exc), "error")
            return None
        self.path = saved
        self.save_path.value = str(saved)
        self.status.value = _note(f"saved {saved}", "ok")
        return saved


# -- the voice panel ---------------------------------------------------------------------------------------


class VoicePanel(_Background, w.VBox):
    """Pick a voice and its settings, hear a test sentence; upload a sample, check it and save it by name."""

    def __init__(
        self,
        *,
        workspace: str | Path | None = None,
        language: str = "en",
        text: str = "Meet the octopus. It has three hearts, and its blood is blue.",
    ) -> None:
        super().__init__()
        self._tasks, self.error = set(), None
        self.workspace = Path(workspace) if workspace is not None else default_workspace()
        self.sample: VoiceSample | None = None
        self.speech_path: Path | None = None
        names = voice_names()
        self.provider = w.Dropdown(
            options=names, value="espeak" if "espeak" in names else names[0], description="Voice"
        )
        from shortskit.providers.espeak import list_voices

        self.espeak_voice = w.Dropdown(
            options=[("(from the language)", "")] + [(v, v) for v in list_voices()], value="", description="eSpeak"
        )
        self.rate = w.IntSlider(value=175, min=80, max=450, description="Rate (wpm)")
        self.pitch = w.IntSlider(value=50, min=0, max=99, description="Pitch")
        self.espeak_box = w.VBox([self.espeak_voice, self.rate, self.pitch])
        self.options = w.Text(value="{}", description="Options", placeholder='{"option": "value"} (JSON)')
        self.language = w.Text(value=language, description="Language")
        self.text = w.Text(value=text, description="Say", layout=w.Layout(width="98%"))
        self.speak_button = w.Button(description="Speak", icon="play")
        self.speech = w.Audio(autoplay=False, loop=False)
        self.upload = w.FileUpload(accept=".wav,.mp3,.m4a,audio/*", multiple=False, description="Upload sample")
        self.sample_info = w.HTML()
        self.sample_audio = w.Audio(autoplay=False, loop=False)
        self.name = w.Text(value="", placeholder="narrator", description="Name")
        self.save_button = w.Button(description="Save voice", icon="save", button_style="success")
        hint = (
            "Chatterbox is installed: saved voices can be cloned."
            if cloning_available()
            else CLONING_HINT + " Samples saved now are kept for it."
        )
        self.cloning_note = w.HTML(_note(hint))
        self.status = w.HTML()

        self.provider.observe(self._provider_changed, "value")
        self.speak_button.on_click(lambda _b: self._spawn(self.speak()))
        self.upload.observe(self._uploaded, "value")
        self.save_button.on_click(lambda _b: self.save())
        self._provider_changed()
        self.children = [
            w.HTML("<b>Voice</b>"),
            self.provider,
            self.espeak_box,
            self.options,
            self.language,
            self.text,
            w.HBox([self.speak_button, self.speech]),
            w.HTML("<b>Voice sample</b> (WAV, MP3 or M4A, 3–60 s of clear speech)"),
            self.cloning_note,
            self.upload,
            self.sample_info,
            self.sample_audio,
            w.HBox([self.name, self.save_button]),
            self.status,
        ]

    def _provider_changed(self, _change: Any = None) -> None:
        espeak = self.provider.value == "espeak"
        self.espeak_box.layout.display = "flex" if espeak else "none"
        self.options.layout.display = "none" if espeak else "flex"

    def settings(self) -> dict[str, Any]:
        """The chosen provider's options, as ``create_voice`` takes them."""
        if self.provider.value == "espeak":
            chosen = {"rate": self.rate.value, "pitch": self.pitch.value}
            return {"voice": self.espeak_voice.value, **chosen} if self.espeak_voice.value else chosen
        try:
            options = json.loads(self.options.value or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"options must be a JSON object ({exc.msg})") from None
        if not isinstance(options, dict):
            raise ConfigError("options must be a JSON object")
        return options

    def _scratch(self) -> Path:
        folder = voice_library(self.workspace) / ".scratch"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    async def speak(self) -> Path | None:
        """Say the test sentence with the chosen voice and settings; play it."""
        self.status.value = _note("speaking…")
        return await self._guard(self.status, self._speak())

    async def _speak(self) -> Path:
        voice = create_voice(self.provider.value, **self.settings())
        speech = await voice.synthesize(
            self.text.value, self._scratch() / f"test-{self.provider.value}.wav", language=self.language.value
        )
        _media(self.speech, speech.path)
        self.speech_path = speech.path
        self.status.value = _note(f"{speech.duration:.1f} s of speech", "ok")
        return speech.path

    def _uploaded(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        item = change["new"][0]
        name = Path(item["name"]).name or "sample"
        raw = self._scratch() / f"upload-{name}"
        raw.write_bytes(bytes(item["content"]))
        self.upload.value = ()
        self._spawn(self.load_sample(raw, name=name))

    async def load_sample(self, path: str | Path, *, name: str | None = None) -> VoiceSample | None:
        """Check a recording and convert it to 24 kHz mono; play it back. ``name`` is what to call it."""
        path = Path(path)
        self.sample_info.value = _note("checking the sample…")
        stem = Path(name or path.name).stem
        return await self._guard(self.sample_info, self._load(path, stem))

    async def _load(self, path: Path, stem: str) -> VoiceSample:
        self.sample = None
        sample = await asyncio.to_thread(prepare_sample, path, self._scratch() / f"{stem}-24k.wav")
        self.sample = sample
        _media(self.sample_audio, sample.path)
        if not self.name.value:
            self.name.value = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:64] or "voice"
        self.sample_info.value = _note(
            f"{sample.source}: {sample.duration:.1f} s, level {sample.level_dbfs:.0f} dBFS, "
            f"converted to {sample.sample_rate // 1000} kHz mono",
            "ok",
        )
        return sample

    def save(self, name: str | None = None) -> Path | None:
        """Keep the checked sample as a named voice in the workspace's voice library."""
        if name is not None:
            self.name.value = name
        if self.sample is None:
            self.status.value = _note("upload a voice sample first", "error")
            return None
        try:
            wav = save_voice(
                self.sample,
                self.name.value.strip(),
                workspace=self.workspace,
                provider=self.provider.value,
                settings=self.settings(),
            )
        except ShortskitError as exc:
            self.status.value = _note(str(exc), "error")
            return None
        self.status.value = _note(f"saved voice {wav.stem!r} in {wav.parent}", "ok")
        return wav


# -- the render panel --------------------------------------------------------------------------------------

_MARK = {"started": "…", "cached": "✓ (cached)", "done": "✓", "retrying": "↻", "failed": "✗"}


class RenderPanel(_Background, w.VBox):
    """A Render button, live progress per scene, and the finished short to watch and download.

    ``story`` is a Story, a story file, or a :class:`StoryEditor` (its story as it is when Render is
    clicked). ``render_options`` go to :func:`shortskit.render` (``quality="draft"``, ``voice=...``).
    """

    def __init__(
        self,
        story: Story | StoryEditor | str | Path,
        output: str | Path = "short.mp4",
        *,
        workspace: str | Path | None = None,
        **render_options: Any,
    ) -> None:
        super().__init__()
        self._tasks, self.error = set(), None
        self.source = load_story(story) if isinstance(story, (str, Path)) else story
        if workspace is None and isinstance(story, StoryEditor):
            workspace = story.workspace
        self.output = Path(output)
        self.workspace = workspace
        self.render_options = render_options
        self.handle: RenderHandle | None = None
        self.result: RenderResult | None = None
        self.render_button = w.Button(description="Render", icon="film", button_style="primary")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, description="Progress")
        self.status = w.HTML()
        self.rows: dict[int | None, w.HTML] = {}
        self._states: dict[int | None, dict[str, str]] = {}
        self.scenes_box = w.VBox()
        self.video = w.Video(autoplay=False, loop=False, layout=w.Layout(width="270px", display="none"))
        self.download = w.Output()
        self.render_button.on_click(lambda _b: self._start_render())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.children = [
            w.HBox([self.render_button, self.cancel_button, self.progress]),
            self.status,
            self.scenes_box,
            self.download,
            self.video,
        ]

    @property
    def story(self) -> Story:
        """The story the next render uses."""
        return self.source.story if isinstance(self.source, StoryEditor) else self.source

    def _start_render(self) -> None:
        self._busy()  # at once, so a second click cannot start a second render
        self._spawn(self.render())

    def _busy(self) -> None:
        self.render_button.disabled, self.cancel_button.disabled = True, False
        self.status.value = _note("rendering…")

    async def render(self) -> RenderResult | None:
        """Render the story into the output file, showing progress as it goes, then the short itself."""
        self._busy()
        try:
            return await self._guard(self.status, self._render())
        finally:
            self.render_button.disabled, self.cancel_button.disabled = False, True

    def cancel(self) -> None:
        """Stop the render that is running."""
        if self.handle is not None and not self.handle.done():
            self.handle.cancel()

    async def _render(self) -> RenderResult:
        story = self.story
        self.result, self.progress.value, self.progress.bar_style = None, 0.0, ""
        self.video.layout.display = "none"
        self.download.outputs = ()
        self.rows = {n: w.HTML() for n in [*range(1, len(story.scenes) + 1), None]}
        self._states = {n: {} for n in self.rows}
        for n in self.rows:
            self._show_row(n)
        self.scenes_box.children = list(self.rows.values())
        options = {"workspace": self.workspace, **self.render_options}
        self.handle = start(story, self.output, on_progress=self._on_event, **options)
        try:
            result = await self.handle
        except BaseException:
            self.progress.bar_style = "danger"
            raise
        self.result = result
        self.progress.value, self.progress.bar_style = 1.0, "success"
        _media(self.video, result.video)
        self.video.layout.display = "block"
        self.status.value = _note(f"done: {result.video} ({result.duration:.1f} s)", "ok")
        self._link(result.video)
        return result

    def _on_event(self, event: Event) -> None:
        self.progress.value = event.fraction
        states = self._states.setdefault(event.scene, {})
        states[event.stage] = event.state
        self._show_row(event.scene, event)

    def _show_row(self, scene: int | None, event: Event | None = None) -> None:
        row = self.rows.get(scene)
        if row is None:
            return
        label = f"Scene {scene}" if scene is not None else "Short"
        steps = " · ".join(f"{stage} {_MARK[state]}" for stage, state in self._states[scene].items()) or "waiting"
        text = f"<b>{label}</b>&nbsp; {html.escape(steps)}"
        if event is not None and event.error is not None:
            text += "<br>" + _note(str(event.error), "error" if event.state == "failed" else "info")
        row.value = text

    def _link(self, video: Path) -> None:
        # A path relative to the kernel's folder is one Jupyter serves (JupyterLab turns it into a /files/
        # URL). The output is set directly: display() does not reach an Output widget from a background task.
        try:
            relative = Path(os.path.relpath(video)).as_posix()
        except ValueError:  # another drive (Windows): no relative path, so no link
            return
        name = html.escape(video.name)
        link = f'<a href="{html.escape(quote(relative))}" download="{name}" target="_blank">Download {name}</a>'
        self.download.outputs = (
            {"output_type": "display_data", "data": {"text/html": link, "text/plain": str(video)}, "metadata": {}},
        )
