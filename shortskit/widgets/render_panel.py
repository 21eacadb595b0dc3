"""The render panel widget: a Render button, live progress per scene, the finished short inline and a link."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import ipywidgets as w

from shortskit.handles import RenderHandle, start
from shortskit.pipeline import RenderResult
from shortskit.progress import Event
from shortskit.story import Story, load_story
from shortskit.widgets._common import Background, media, note
from shortskit.widgets.editor import StoryEditor

__all__ = ["RenderPanel"]

_MARK = {"started": "…", "cached": "✓ (cached)", "done": "✓", "retrying": "↻", "failed": "✗"}


class RenderPanel(Background, w.VBox):
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
        self._notes: dict[int | None, dict[str, str]] = {}  # errors and retry notes per scene and stage
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
        self.status.value = note("rendering…")

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
        self._notes = {}
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
        media(self.video, result.video)
        self.video.layout.display = "block"
        self.status.value = note(f"done: {result.video} ({result.duration:.1f} s)", "ok")
        self._link(result.video)
        return result

    def _on_event(self, event: Event) -> None:
        self.progress.value = event.fraction
        states = self._states.setdefault(event.scene, {})
        states[event.stage] = event.state
        notes = self._notes.setdefault(event.scene, {})
        if event.error is not None:  # a failure stays shown; a retry note until that stage moves on
            notes[event.stage] = note(str(event.error), "error" if event.state == "failed" else "info")
        elif event.stage in notes and event.state in ("done", "cached"):
            del notes[event.stage]
        self._show_row(event.scene)

    def _show_row(self, scene: int | None) -> None:
        row = self.rows.get(scene)
        if row is None:
            return
        label = f"Scene {scene}" if scene is not None else "Short"
        steps = " · ".join(f"{stage} {_MARK[state]}" for stage, state in self._states[scene].items()) or "waiting"
        row.value = "<br>".join([f"<b>{label}</b>&nbsp; {html.escape(steps)}", *self._notes.get(scene, {}).values()])

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
