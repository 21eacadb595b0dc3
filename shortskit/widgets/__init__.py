"""Jupyter widgets over the public API: a story editor, a voice panel, a render panel and a publish panel (``shortskit[notebook]``).

They hold no logic of their own: every button calls a public core function in a task on Jupyter's running
event loop, so the notebook stays responsive. Tests drive them from Python with ``.value`` and ``.click()``.
"""

from __future__ import annotations

try:
    import ipywidgets  # noqa: F401 - only to fail early with the extra to install
except ImportError as exc:  # pragma: no cover - the notebook extra is missing
    raise ImportError("shortskit.widgets needs ipywidgets: pip install 'shortskit[notebook]'") from exc

from shortskit.widgets.editor import StoryEditor
from shortskit.widgets.publish_panel import PublishPanel
from shortskit.widgets.render_panel import RenderPanel
from shortskit.widgets.voice import VoicePanel

__all__ = ["PublishPanel", "RenderPanel", "StoryEditor", "VoicePanel"]
