"""One scene at a time: render a scene's picture, voice and clip for a preview, and store a scene's picture.

:func:`render_scene` renders a one-scene copy of the story with the scene's own motion, so the clip it makes
is the very one the full render reuses from the workspace.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from shortskit.engines import motion_for
from shortskit.errors import ConfigError, InputFileError
from shortskit.pipeline import SceneResult, render
from shortskit.story import Story
from shortskit.workspace import Workspace, atomic_path, default_workspace

__all__ = ["one_scene_story", "render_scene", "store_image"]


def one_scene_story(story: Story, scene: int) -> Story:
    """A copy of ``story`` holding only scene ``scene`` (1-based), rendered as it is in the whole story."""
    if not 1 <= scene <= len(story.scenes):
        raise ConfigError(f"no scene {scene}: the story has scenes 1 to {len(story.scenes)}")
    i = scene - 1
    original = story.scenes[i]
    # "auto" motion cycles with the scene's position; pin it so the clip matches the full render's,
    fixed = original.model_copy(update={"motion": motion_for(i, original.motion or story.output.motion)})
    # and scene N's picture seed is the story's seed + N - 1: keep it so the picture is the same one too
    images = story.images.model_copy(update={"seed": story.images.seed + i})
    # model_copy keeps the private source and base folder, so relative image paths still resolve
    return story.model_copy(update={"scenes": [fixed], "images": images})


async def render_scene(
    story: Story,
    scene: int,
    *,
    workspace: str | Path | None = None,
    force: bool = False,
    music: Any = False,
    **options: Any,
) -> SceneResult:
    """Render scene ``scene`` (1-based) of ``story`` alone: its picture, voice, captions and clip.

    ``force=True`` remakes that scene's artefacts (regenerate); ``options`` are
    :func:`~shortskit.pipeline.render`'s. Returns the scene's :class:`SceneResult` (numbered as in the story),
    whose ``preview`` is the scene as a little short with its voice (clips carry no sound of their own), kept
    in the workspace's ``previews``.
    """
    single = one_scene_story(story, scene)
    ws = Workspace(Path(workspace) if workspace is not None else default_workspace())
    # render() joins the one clip and the scene's voice into a short: that is the preview
    with tempfile.TemporaryDirectory(prefix="shortskit-preview-") as tmp:
        result = await render(single, Path(tmp) / "scene.mp4", workspace=ws.root, force=force, music=music, **options)
        preview = ws.path("previews", result.scenes[0].clip.stem, ".mp4")
        with atomic_path(preview) as keep:
            shutil.move(result.video, keep)
    return dataclasses.replace(result.scenes[0], index=scene, preview=preview)


_UNSAFE = re.compile(r"[^\w.-]+")


def store_image(story: Story, filename: str, content: bytes, *, workspace: str | Path | None = None) -> str:
    """Save an uploaded picture for ``story`` and return the path to put in a scene's ``image``.

    A story loaded from a file keeps it beside itself in ``media/`` (a relative path, so the folder can
    move); a story made in memory keeps it in ``<workspace>/uploads/`` (an absolute path). A different
    picture under a name already taken gets the content hash added to its name.
    """
    name = _UNSAFE.sub("_", Path(filename).name).strip("._") or "image"
    try:
        from PIL import Image, UnidentifiedImageError

        with Image.open(BytesIO(content)) as im:
            im.load()
            kind = (im.format or "").lower()
    except (UnidentifiedImageError, OSError, ValueError):
        raise InputFileError(
            f"{name}: not a picture (PNG, JPEG or WebP expected)", provider="local", field="image"
        ) from None
    stem, suffix = Path(name).stem, Path(name).suffix.lower()
    if not suffix:
        suffix = {"jpeg": ".jpg"}.get(kind, f".{kind or 'png'}")
    if story.source is not None:
        folder, relative = story.base_dir / "media", True
    else:
        root = Path(workspace).expanduser() if workspace is not None else default_workspace()
        folder, relative = root / "uploads", False
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}{suffix}"
    if target.exists() and target.read_bytes() != content:
        target = folder / f"{stem}-{hashlib.sha256(content).hexdigest()[:8]}{suffix}"
    if not target.exists():
        with atomic_path(target) as tmp:
            tmp.write_bytes(content)
    return f"media/{target.name}" if relative else str(target)
