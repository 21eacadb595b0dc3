"""shortskit: turn a story into a finished, captioned vertical short video.

story = shortskit.load_story("examples/octopus.json")
result = await shortskit.render(story, "short.mp4")      # or shortskit.render_sync(...) in a script

The names here are what a user, a provider author or an engine author needs; the modules behind them
(``shortskit.stages``, ``shortskit.keys``, ...) are the rooms of the house, described in docs/architecture.md.
"""

from __future__ import annotations

# a package that can be called: shortskit.publish("shorts/", schedule=True)
from shortskit import publish
from shortskit._version import __version__
from shortskit.alignment import align
from shortskit.batch import BatchResult, run_batch
from shortskit.captions import CaptionGroup, group_words
from shortskit.checks import check_story
from shortskit.engines import ClipEngine, ClipSpec, engine_names, register_engine
from shortskit.errors import (
    AlignmentError,
    ConfigError,
    InputFileError,
    LoginError,
    NoSpeechError,
    ProviderError,
    PublishError,
    QuotaExceededError,
    RenderError,
    ScenesFailedError,
    ShortskitError,
    StoryError,
    TextMismatchError,
)
from shortskit.handles import RenderHandle, start, start_many
from shortskit.pipeline import RenderResult, SceneResult, render, render_sync
from shortskit.preview import render_scene
from shortskit.progress import Event
from shortskit.providers import (
    create_image,
    create_voice,
    image_names,
    register_image,
    register_voice,
    voice_names,
)
from shortskit.providers.base import ImageProvider, Speech, VoiceProvider, Word
from shortskit.safetext import plain_text
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
from shortskit.subtitles import write_ass, write_srt
from shortskit.text import chunk_text, split_sentences

__all__ = [
    "AlignmentError",
    "BatchResult",
    "CaptionGroup",
    "CaptionStyle",
    "ClipEngine",
    "ClipSpec",
    "ConfigError",
    "Event",
    "ImageProvider",
    "ImageSettings",
    "InputFileError",
    "Limit",
    "LoginError",
    "MusicSettings",
    "NoSpeechError",
    "OutputSettings",
    "ProviderError",
    "PublishError",
    "QuotaExceededError",
    "RenderError",
    "RenderHandle",
    "RenderResult",
    "RetryPolicy",
    "Scene",
    "SceneResult",
    "ScenesFailedError",
    "ShortskitError",
    "Speech",
    "Story",
    "StoryError",
    "TextMismatchError",
    "VoiceProvider",
    "VoiceSettings",
    "Word",
    "__version__",
    "align",
    "check_story",
    "chunk_text",
    "create_image",
    "create_voice",
    "engine_names",
    "group_words",
    "image_names",
    "load_story",
    "parse_story",
    "plain_text",
    "publish",
    "register_engine",
    "register_image",
    "register_voice",
    "render",
    "render_scene",
    "render_sync",
    "run_batch",
    "save_story",
    "split_sentences",
    "start",
    "start_many",
    "story_schema",
    "voice_names",
    "write_ass",
    "write_srt",
]
