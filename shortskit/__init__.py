"""shortskit: turn a story into a finished, captioned vertical short video.

story = shortskit.load_story("examples/octopus.json")
result = await shortskit.render(story, "short.mp4")      # or shortskit.render_sync(...) in a script
"""

from __future__ import annotations

from shortskit._version import __version__
from shortskit.captions import CaptionGroup, group_words, write_ass, write_srt
from shortskit.errors import (
    ConfigError,
    InputFileError,
    ProviderError,
    RenderError,
    ShortskitError,
    StoryError,
)
from shortskit.handles import RenderHandle, start, start_many
from shortskit.pipeline import (
    ClipEngine,
    Event,
    RenderResult,
    SceneFailures,
    SceneResult,
    check_story,
    render,
    render_sync,
)
from shortskit.preview import render_scene
from shortskit.providers import (
    create_image,
    create_voice,
    image_names,
    register_image,
    register_voice,
    voice_names,
)
from shortskit.providers.base import ImageProvider, Speech, VoiceProvider, Word
from shortskit.scheduler import Limit, RetryPolicy
from shortskit.story import (
    CaptionStyle,
    ImageSettings,
    MusicSettings,
    OutputSettings,
    Scene,
    Story,
    VoiceSettings,
    load_story,
    parse_story,
    save_story,
    story_schema,
)
from shortskit.text import chunk_text, split_sentences

__all__ = [
    "CaptionGroup",
    "CaptionStyle",
    "ClipEngine",
    "ConfigError",
    "Event",
    "ImageProvider",
    "ImageSettings",
    "InputFileError",
    "Limit",
    "MusicSettings",
    "OutputSettings",
    "ProviderError",
    "RenderError",
    "RenderHandle",
    "RenderResult",
    "RetryPolicy",
    "Scene",
    "SceneFailures",
    "SceneResult",
    "ShortskitError",
    "Speech",
    "Story",
    "StoryError",
    "VoiceProvider",
    "VoiceSettings",
    "Word",
    "__version__",
    "check_story",
    "chunk_text",
    "create_image",
    "create_voice",
    "group_words",
    "image_names",
    "load_story",
    "parse_story",
    "register_image",
    "register_voice",
    "render",
    "render_scene",
    "render_sync",
    "save_story",
    "split_sentences",
    "start",
    "start_many",
    "story_schema",
    "voice_names",
    "write_ass",
    "write_srt",
]
