"""Checks before any work starts: the story's providers exist and accept their options, its files exist and
decode, the output can be written, the workspace is usable. Each failure is one error naming file and field.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from shortskit import ffmpeg
from shortskit.captions import font_family
from shortskit.endpoints import VENDORS, Endpoint
from shortskit.errors import ConfigError, InputFileError, ShortskitError, StoryError
from shortskit.providers import create_image, create_voice, image_names, provider_factory, voice_names
from shortskit.providers.base import ImageProvider, VoiceProvider
from shortskit.providers.options import LIMITS, lower_limits, operator_limits
from shortskit.story import Story
from shortskit.workspace import Workspace, default_workspace

log = logging.getLogger("shortskit")

__all__ = [
    "check_output",
    "check_story",
    "checked_providers",
    "confined",
    "music_source",
    "open_workspace",
    "sidecar",
]


# Options a story may never set: a story is untrusted, so it never decides which key is read or where it goes.
_SECRET_OPTIONS = frozenset(
    {"api_key", "api_key_env", "key", "key_env", "token", "headers", "authorization", "endpoint"}
)
# Options that say where model weights come from: the operator's (each folder is another model in memory).
_WEIGHTS_OPTIONS = frozenset(
    {"model_dir", "model_path", "weights", "weights_dir", "checkpoint", "ckpt_dir", "cache_dir", "local_dir"}
)


def _provider(
    kind: Literal["voice", "image"],
    story: Story,
    override: str | None,
    endpoints: Mapping[str, Endpoint | str],
    workspace: Path,
    setups: Mapping[str, Any],
) -> Any:
    settings = story.voice if kind == "voice" else story.images
    section = "voice" if kind == "voice" else "images"
    name = override or settings.provider
    # A provider chosen on the command line does not get options meant for the story's provider.
    options = settings.provider_options() if name == settings.provider else {}
    for option in options:
        if option.lower() in _SECRET_OPTIONS:
            raise StoryError(
                "a story cannot choose API keys or where they come from; keys are read from the environment "
                "and sent only to base URLs configured outside the story (README: Providers)",
                file=story.source,
                field=f"{section}.{option}",
            )
    names = voice_names() if kind == "voice" else image_names()
    if name not in names:
        raise StoryError(
            f"unknown {kind} provider {name!r}; valid names: {', '.join(names)}",
            file=story.source,
            field=f"{section}.provider",
        )
    factory = provider_factory(kind, name)
    hint = getattr(factory, "operator_hint", "README: Providers")
    for option in options:
        if option.lower() in getattr(factory, "operator_only", ()):
            raise StoryError(
                f"a story cannot set {option!r}: where {name}'s weights are and how this machine's memory is used "
                f"are the user's to choose ({hint})",
                file=story.source,
                field=f"{section}.{option}",
            )
        if option.lower() in _WEIGHTS_OPTIONS:
            raise StoryError(
                f"a story cannot choose where model weights come from; the operator sets them ({hint})",
                file=story.source,
                field=f"{section}.{option}",
            )
    if name in setups:  # the user's own settings for the provider (local weights, memory): never the story's
        options = {**options, "setup": setups[name]}
    endpoint = endpoints.get(name)
    if endpoint is not None and name in VENDORS:
        # given to the constructor, so that the key it needs is the endpoint's (a local server may need none)
        options = {**options, "endpoint": endpoint}
    # Limits (rate, burst, jobs at once, timeout) are the operator's: the provider is built with them, and a
    # story's own may only lower them afterwards.
    given = {k: v for k, v in options.items() if k in LIMITS}
    options = {k: v for k, v in options.items() if k not in LIMITS}
    operator = operator_limits(section, name)  # the operator's mistake (a ConfigError), not the story's
    try:
        factory = provider_factory(kind, name)
        accepts = _accepts(factory)
        options.update({k: v for k, v in operator.items() if k in accepts})
        lowered = {k: v for k, v in given.items() if _has_attr(factory, k)}
        options.update({k: v for k, v in given.items() if k not in lowered})  # unknown: the factory says so
        provider = (create_voice if kind == "voice" else create_image)(name, **options)
        provider.operator_limits = lower_limits(provider, lowered, name)
        if hasattr(provider, "bind"):  # files and saved voices its options name (see providers/base.py)
            provider.bind(story, workspace)
    except ConfigError as exc:
        # the option the message is about, when it names one ("together base_url ...", "rate_per_minute: ...")
        named = [k for k in (*given, "base_url") if re.search(rf"(^|\s){re.escape(k)}\b", str(exc))]
        raise StoryError(str(exc), file=story.source, field=f"{section}.{named[0]}" if named else section) from None
    return provider


def _accepts(factory: Any) -> set[str]:
    try:
        return set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return set()


def _has_attr(factory: Any, option: str) -> bool:
    return hasattr(factory, option) or option in _accepts(factory)


def _image_problem(path: Path) -> str | None:
    from shortskit.images import check_image

    try:
        check_image(path)
    except InputFileError as exc:
        return exc.message
    return None


# The longest a scene's own recording and a music file may be, seconds (a header claiming 1 Hz makes 100 KB
# of WAV 14 hours long, and resampling that to 48 kHz takes all the memory there is).
MAX_RECORDING_SECONDS = 600.0
MAX_MUSIC_SECONDS = 3600.0


def _audio_problem(path: Path, longest: float = MAX_RECORDING_SECONDS) -> str | None:
    from shortskit.audio import SAMPLE_RATES

    problem = ffmpeg.audio_problem(path)
    if problem is None:
        info = ffmpeg.probe(path)
        low, high = SAMPLE_RATES
        if info.sample_rate is not None and not low <= info.sample_rate <= high:
            problem = f"its sample rate is {info.sample_rate} Hz (allowed: {low}..{high} Hz)"
        elif info.duration is not None and info.duration > longest:
            problem = f"it is {info.duration:.0f} s long (at most {longest:.0f} s)"
    return None if problem is None else f"{path.name}: {problem}"


# a scene's own files: the field, what it is called, and how to tell it cannot be read
_SCENE_FILES = (("image", "image file", _image_problem), ("audio", "recording", _audio_problem))


def _check_scene_files(story: Story, deep: bool) -> None:
    for i, scene in enumerate(story.scenes, start=1):
        for field, what, problem in _SCENE_FILES:
            relative = getattr(scene, field)
            if relative is None:
                continue
            path = story.resolve(relative, field=field, scene=i)
            if not path.exists():
                raise StoryError(f"{what} not found: {path.name}", file=story.source, scene=i, field=field)
            if not path.is_file():
                raise StoryError(f"{what} path is not a file: {path.name}", file=story.source, scene=i, field=field)
            found = problem(path) if deep else None
            if found is not None:
                raise StoryError(found, file=story.source, scene=i, field=field)


def _check_recordings_language(story: Story) -> None:
    """The scenes' own recordings are aligned with the text read by eSpeak: it must speak the story's language."""
    from shortskit.alignment import aligner_id, speaks

    if (
        any(s.audio is not None for s in story.scenes)
        and aligner_id().startswith("dtw/")
        and not speaks(story.language)
    ):
        raise StoryError(
            f"eSpeak has no voice for {story.language!r}, and the aligner reads the text of the scenes' own "
            "recordings (audio:) with eSpeak; use a language it speaks (such as en, es, fr or pt-BR)",
            file=story.source,
            field="language",
        )


def checked_providers(
    story: Story,
    *,
    voice: str | None = None,
    images: str | None = None,
    deep: bool = True,
    endpoints: Mapping[str, Endpoint | str] | None = None,
    workspace: str | Path | None = None,
    setup: Mapping[str, Any] | None = None,
) -> tuple[VoiceProvider, ImageProvider]:
    """The story's voice and image providers, built after checking everything a render needs from the story.

    ``endpoints`` maps a provider name to its trusted base URL (or :class:`Endpoint`), overriding the
    environment: the only way, beside the environment, to say where a key may go. ``workspace`` holds the
    voice library a story's saved voices come from (default: :func:`default_workspace`). ``setup`` maps a
    provider name to the user's own settings for it (``{"diffusers": DiffusersSetup(weights=...)}``), which
    a story may never set.
    """
    ws = Path(workspace).expanduser() if workspace is not None else default_workspace()
    speaker = _provider("voice", story, voice, endpoints or {}, ws, setup or {})
    painter = _provider("image", story, images, endpoints or {}, ws, setup or {})
    if hasattr(speaker, "check_language"):
        try:
            speaker.check_language(story.language)
        except ConfigError as exc:
            raise StoryError(str(exc), file=story.source, field="language") from None
    if hasattr(speaker, "check_text"):  # text a voice cannot say well (eSpeak's Japanese and kanji), before any work
        poor = []
        for i, scene in enumerate(story.scenes, start=1):
            if scene.text and getattr(scene, "audio", None) is None:
                try:
                    speaker.check_text(scene.text, story.language)
                except ConfigError as exc:
                    poor.append((i, str(exc)))
        if poor:  # said once: the short is still made (its captions are right), but the narration is not
            scenes = ", ".join(str(i) for i, _ in poor)
            log.warning("%s: scene %s: text: %s", story.source or "story", scenes, poor[0][1])
    _check_scene_files(story, deep)
    _check_recordings_language(story)
    for fieldname, rel in (("music.file", story.music.file), ("captions.font_file", story.captions.font_file)):
        if rel is not None and not story.resolve(rel, field=fieldname).is_file():
            raise StoryError(f"file not found: {Path(rel).name}", file=story.source, field=fieldname)
    if (
        deep
        and story.music.file is not None
        and (found := _audio_problem(story.resolve(story.music.file, field="music.file"), MAX_MUSIC_SECONDS))
    ):
        raise StoryError(found, file=story.source, field="music.file")  # what render would say, before any work
    if story.captions.font_file is not None:
        try:
            font_family(story.resolve(story.captions.font_file, field="captions.font_file"))
        except ConfigError as exc:
            raise StoryError(str(exc), file=story.source, field="captions.font_file") from None
    if story.captions.enabled:
        from shortskit.captions import caption_font

        caption_font(story)  # a language no font here draws is refused before any work (StoryError)
    return speaker, painter


def confined(
    story: Story, *, allow_dirs: Iterable[str | Path] | None = None, workspace: str | Path | None = None
) -> Story:
    """A copy of ``story`` that may read its files from its own folder and ``allow_dirs`` (the operator's), and,
    made in memory, from ``workspace``'s ``uploads`` (where the scene editor keeps its pictures)."""
    extra = [Path(d) for d in allow_dirs or ()]
    if story.path is None:
        root = Path(workspace).expanduser() if workspace is not None else default_workspace()
        extra.append(root / "uploads")
    return story.model_copy().with_allowed_dirs(extra)


def check_story(
    story: Story,
    *,
    voice: str | None = None,
    images: str | None = None,
    deep: bool = True,
    workspace: str | Path | None = None,
    allow_dirs: Iterable[str | Path] | None = None,
) -> None:
    """Check what a render needs beyond the schema: providers exist, local files exist (and decode if ``deep``)
    under the story's folder or ``allow_dirs``, no option tries to choose an API key, saved voices the story
    names are in ``workspace``'s library."""
    story = confined(story, allow_dirs=allow_dirs, workspace=workspace)
    checked_providers(story, voice=voice, images=images, deep=deep, workspace=workspace)


async def music_source(story: Story, music: str | Path | bool | None) -> Path | Literal["bed"] | None:
    """The music to mix: a checked file, ``"bed"`` for the generated one, or None."""
    m = story.music
    if music is False or (music is None and not m.enabled):
        return None
    if isinstance(music, (str, Path)):
        path, fieldname = Path(music).expanduser(), "--music"
    elif m.file is not None:
        path, fieldname = story.resolve(m.file, field="music.file"), "music.file"
    else:
        return "bed"
    if not path.is_file():
        raise StoryError(f"music file not found: {path.name}", file=story.source, field=fieldname)
    try:
        info = await asyncio.to_thread(ffmpeg.probe, path)
    except ShortskitError:
        info = None
    if info is None or not info.has_audio:
        raise StoryError(f"cannot read {path.name} as audio", file=story.source, field=fieldname)
    return path


def _probe_writable(folder: Path) -> None:
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".shortskit-probe-"):
        pass


def sidecar(out: Path, suffix: str) -> Path:
    """The file beside the short ``out`` with ``suffix`` (``.srt``, ``.json``)."""
    return out.with_suffix(suffix)


def check_output(out: Path, story: Story) -> None:
    """Fail before any work when the short could not be written, or would overwrite the story."""
    if out.suffix.lower() != ".mp4":
        raise ConfigError(f"output must be an .mp4 file (got {out.name})")
    if out.is_dir():
        raise ConfigError(f"output {out} is a folder; give a file name ending in .mp4")
    if not out.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {out.parent}")
    try:
        _probe_writable(out.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write to the output folder {out.parent} ({exc.strerror or exc})") from None
    used = _inputs(story)
    for suffix in (".mp4", ".srt", ".json"):
        written = sidecar(out, suffix).resolve()
        if written in used:
            raise ConfigError(
                f"writing {written.name} would overwrite {used[written]} {written.name}; choose another output name"
            )


def _inputs(story: Story) -> dict[Path, str]:
    """The files the story reads (itself, its pictures, recordings, music and font), resolved: what they are."""
    found: dict[Path, str] = {}
    if story.path is not None:
        found[story.path.resolve()] = "the story"
    for what, path in story.local_files():
        found.setdefault(path.resolve(), what)
    return found


def open_workspace(workspace: str | Path | None) -> Workspace:
    """The workspace at ``workspace`` (default: :func:`default_workspace`), made and checked writable."""
    ws = Workspace(Path(workspace) if workspace is not None else default_workspace())
    try:
        ws.root.mkdir(parents=True, exist_ok=True)
        _probe_writable(ws.root)
    except OSError as exc:
        raise ConfigError(f"cannot use {ws.root} as the workspace ({exc.strerror or exc})") from None
    ws.sweep_temporaries()
    return ws
