"""The story editor widget: title, language and scenes (add, remove, move, edit, upload a picture), a
Preview and a Regenerate per scene, Save as JSON or YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w

from shortskit.errors import ShortskitError
from shortskit.pipeline import SceneResult
from shortskit.preview import render_scene, store_image
from shortskit.story import Story, load_story, parse_story, save_story
from shortskit.widgets._common import THUMB, Background, media, note

__all__ = ["StoryEditor"]


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
        self.picture = w.Image(layout=w.Layout(width=THUMB))
        self.audio = w.Audio(autoplay=False, loop=False)
        self.video = w.Video(autoplay=False, loop=False, layout=w.Layout(width=THUMB))
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
            self.status.value = note(f"picture saved as {self.image.value}", "ok")
        except ShortskitError as exc:
            self.status.value = note(str(exc), "error")
        self.upload.value = ()  # ready for the next upload

    def show(self, result: SceneResult) -> None:
        self.result = result
        media(self.picture, result.image)
        media(self.audio, result.voice)
        media(self.video, result.preview or result.clip)  # a clip is silent; the preview has the voice
        self.previews.layout.display = "flex"


class StoryEditor(Background, w.VBox):
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
            self.status.value = note(str(exc), "error")
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
        row.status.value = note("regenerating…" if force else "rendering…")

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
        row.status.value = note(f"{result.duration:.1f} s", "ok")
        return result

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write the story to ``path`` (default: the "Save as" box) as JSON, or YAML for .yaml/.yml."""
        target = Path(path or self.save_path.value).expanduser()
        try:
            saved = save_story(self.story, target)
        except (ShortskitError, OSError) as exc:
            self.status.value = note(str(exc), "error")
            return None
        self.path = saved
        self.save_path.value = str(saved)
        self.status.value = note(f"saved {saved}", "ok")
        return saved
