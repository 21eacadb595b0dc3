"""The pipeline: story -> per scene (image || voice) -> captions -> clip -> final short, cached and concurrent.

Every scene starts at once; a scene's picture and voice are made at the same time, its clip renders as soon
as both are ready, and the merge runs once every clip is. Each provider's own concurrency limit holds.
Everything made lands in the workspace under a content hash, so a re-run redoes only what changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from shortskit import ffmpeg
from shortskit.captions import (
    FONT_DIR,
    FONT_FILE,
    CaptionGroup,
    group_words,
    missing_glyphs,
    shift_groups,
    write_ass,
    write_srt,
)
from shortskit.errors import ConfigError, InputFileError, ProviderError, ShortskitError, StoryError
from shortskit.providers import create_image, create_voice, image_names, voice_names
from shortskit.providers.base import ImageProvider, Speech, VoiceProvider, Word
from shortskit.render import (
    ClipSpec,
    MusicMix,
    clip_frames,
    make_soundtrack,
    merge_clips,
    motion_for,
    render_clip,
    resolve_encoder,
)
from shortskit.scheduler import Limit, RetryPolicy, call, shared_limit
from shortskit.story import CaptionStyle, Story
from shortskit.workspace import Workspace, atomic_path, default_workspace, file_digest, hash_key

__all__ = [
    "ENGINES",
    "ClipEngine",
    "Event",
    "FfmpegEngine",
    "MoviepyEngine",
    "RenderResult",
    "SceneFailures",
    "SceneResult",
    "check_story",
    "render",
    "render_sync",
]

log = logging.getLogger("shortskit")
T = TypeVar("T")

# Bump when the clip or merge commands change what they produce (invalidates cached clips/finals).
RENDER_VERSION = "3"

# Clip renders at once. ffmpeg's libx264 already uses every core, but a second job overlaps one clip's
# single-threaded filters (zoompan, libass) and audio with the other's encode.
DEFAULT_RENDER_JOBS = 2

Stage = Literal["image", "voice", "captions", "clip", "soundtrack", "merge"]
State = Literal["started", "cached", "done", "retrying", "failed"]


@dataclass(frozen=True)
class Event:
    """A progress report: what stage of which scene changed state."""

    stage: Stage
    state: State
    scene: int | None = None  # 1-based; None for the merge
    fraction: float = 0.0  # share of the whole render done (cached steps count as done), 0..1
    path: Path | None = None  # the artefact, once there
    error: BaseException | None = None  # set when state is "failed" or "retrying"
    message: str = ""  # a short human note (e.g. the retry wait)


@dataclass(frozen=True)
class SceneResult:
    """What one scene became."""

    index: int  # 1-based
    image: Path
    voice: Path
    clip: Path
    start: float  # seconds into the short
    duration: float  # seconds (voice + pause, whole frames)
    words: tuple[Word, ...]


@dataclass(frozen=True)
class RenderResult:
    """The finished short and what sits beside it."""

    video: Path
    srt: Path
    metadata: Path
    duration: float
    scenes: tuple[SceneResult, ...]
    made: dict[str, int] = field(default_factory=dict)  # artefacts made (not reused) per stage


class SceneFailures(ShortskitError):
    """Some scenes failed; the others' finished work stays in the workspace for the next run."""

    def __init__(self, errors: Sequence[ShortskitError]) -> None:
        self.errors = list(errors)
        self.exit_code = 2 if all(getattr(e, "exit_code", 1) == 2 for e in errors) else 1
        if len(errors) == 1:
            msg = str(errors[0])
        else:
            msg = f"{len(errors)} scenes failed: " + "; ".join(str(e) for e in errors)
        super().__init__(msg)


ProgressHook = Callable[[Event], Any]


# -- checks ----------------------------------------------------------------------------------------------


def _provider(kind: str, story: Story, override: str | None) -> Any:
    settings = story.voice if kind == "voice" else story.images
    name = override or settings.provider
    # A provider chosen on the command line does not get options meant for the story's provider.
    options = settings.provider_options() if name == settings.provider else {}
    names = voice_names() if kind == "voice" else image_names()
    fieldname = f"{'voice' if kind == 'voice' else 'images'}.provider"
    if name not in names:
        raise StoryError(
            f"unknown {kind} provider {name!r}; valid names: {', '.join(names)}", file=story.source, field=fieldname
        )
    try:
        return (create_voice if kind == "voice" else create_image)(name, **options)
    except ConfigError as exc:
        raise StoryError(str(exc), file=story.source, field=fieldname.split(".")[0]) from None


def check_story(story: Story, *, voice: str | None = None, images: str | None = None, deep: bool = True) -> None:
    """Check what a render needs beyond the schema: providers exist, local files exist (and decode if ``deep``)."""
    _checked_providers(story, voice=voice, images=images, deep=deep)


def _checked_providers(
    story: Story, *, voice: str | None, images: str | None, deep: bool
) -> tuple[VoiceProvider, ImageProvider]:
    speaker = _provider("voice", story, voice)
    painter = _provider("image", story, images)
    if hasattr(speaker, "check_language"):
        try:
            speaker.check_language(story.language)
        except ConfigError as exc:
            raise StoryError(str(exc), file=story.source, field="language") from None
    for i, scene in enumerate(story.scenes, start=1):
        if scene.image is None:
            continue
        path = story.resolve(scene.image)
        if not path.exists():
            raise StoryError(f"image file not found: {path}", file=story.source, scene=i, field="image")
        if not path.is_file():
            raise StoryError(f"image path is not a file: {path}", file=story.source, scene=i, field="image")
        if deep:
            from shortskit.images import check_image

            try:
                check_image(path, scene=i)
            except InputFileError as exc:
                raise StoryError(exc.message, file=story.source, scene=i, field="image") from None
    for fieldname, rel in (("music.file", story.music.file), ("captions.font_file", story.captions.font_file)):
        if rel is not None and not story.resolve(rel).is_file():
            raise StoryError(f"file not found: {story.resolve(rel)}", file=story.source, field=fieldname)
    if story.captions.font_file is not None:
        try:
            _font_family(story.resolve(story.captions.font_file))
        except ConfigError as exc:
            raise StoryError(str(exc), file=story.source, field="captions.font_file") from None
    return speaker, painter


# -- the run ---------------------------------------------------------------------------------------------


def _estimate_words(text: str, duration: float) -> tuple[Word, ...]:
    """Word timings for audio that came without them: spread by character count (a rough fallback)."""
    tokens = text.split()
    weights = [max(len(t.strip(".,;:!?¿¡\"'")), 1) + 1 for t in tokens]
    total = sum(weights) or 1
    t, words = 0.0, []
    for tok, w in zip(tokens, weights, strict=True):
        span = duration * w / total
        words.append(Word(tok, t, t + span))
        t += span
    return tuple(words)


class ClipEngine(Protocol):
    """Renders one scene clip from a :class:`ClipSpec` (the ffmpeg and moviepy engines, or your own)."""

    name: str  # part of the clip cache key
    version: str  # bump when the same spec would give a different clip

    async def render_clip(
        self,
        spec: ClipSpec,
        out: Path,
        *,
        scene: int,
        style: CaptionStyle,
        groups: Sequence[CaptionGroup],
        effects: Sequence[Any] = (),
    ) -> Path: ...


class FfmpegEngine:
    """The default engine: one ffmpeg pass per clip (captions from the ASS file in the spec)."""

    name = "ffmpeg"
    version = "1"

    async def render_clip(self, spec: ClipSpec, out: Path, *, scene: int, **_: Any) -> Path:
        return await render_clip(spec, out, scene=scene)


class MoviepyEngine:
    """The moviepy 2 engine: the same look, and room for your own moviepy effects per scene."""

    name = "moviepy"
    version = "1"

    async def render_clip(
        self,
        spec: ClipSpec,
        out: Path,
        *,
        scene: int,
        style: CaptionStyle,
        groups: Sequence[CaptionGroup],
        effects: Sequence[Any] = (),
    ) -> Path:
        from shortskit.moviepy_engine import render_clip_moviepy

        return await render_clip_moviepy(spec, out, scene=scene, effects=effects, style=style, groups=groups)


ENGINES: dict[str, Callable[[], ClipEngine]] = {"ffmpeg": FfmpegEngine, "moviepy": MoviepyEngine}

# Steps a scene reports as done or cached (image, voice, captions, clip); soundtrack and merge add two.
_SCENE_STEPS = 4


def _font_family(path: Path) -> str:
    """The family name inside a .ttf/.otf file; ConfigError if it is not a font."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(path), 20).getname()[0] or path.stem
    except OSError:
        raise ConfigError(f"{path.name} is not a font file (.ttf or .otf)") from None


def _stage_of(exc: ShortskitError) -> Stage:
    if isinstance(exc, InputFileError) and exc.field == "image":
        return "image"
    return "clip"


class _Run:
    """State of one render: providers, limits, workspace, counters."""

    def __init__(
        self,
        story: Story,
        ws: Workspace,
        *,
        voice: VoiceProvider,
        images: ImageProvider,
        quality: str,
        encoder: str | asyncio.Task[str],
        engine: ClipEngine,
        force: bool,
        hook: ProgressHook | None,
        render_jobs: int,
        retry: RetryPolicy,
        scene_effects: dict[int, Sequence[Any]],
    ) -> None:
        self.story, self.ws = story, ws
        self.voice, self.images = voice, images
        # The encoder may still be being probed (a test encode for NVENC): clips await it when they need it.
        self.quality, self._encoder, self.engine = quality, encoder, engine
        self.force, self.hook, self.retry = force, hook, retry
        # Limits are shared with every other render on this event loop (see scheduler.shared_limit).
        self.voice_limit = shared_limit(
            f"voice {voice.name}",
            concurrency=max(1, int(getattr(voice, "max_concurrency", 1))),
            rate_per_minute=getattr(voice, "rate_per_minute", None),
            burst=getattr(voice, "rate_burst", None),
        )
        self.image_limit = shared_limit(
            f"images {images.name}",
            concurrency=max(1, int(getattr(images, "max_concurrency", 1))),
            rate_per_minute=getattr(images, "rate_per_minute", None),
            burst=getattr(images, "rate_burst", None),
        )
        self.render_limit = shared_limit("render", concurrency=render_jobs)
        self.scene_effects = scene_effects
        # A font file's own family name is what libass matches; the story need not repeat it in `font`.
        self.style = story.captions
        self.font_file, self.font_digest = FONT_FILE, None
        if story.captions.font_file:
            self.font_file = story.resolve(story.captions.font_file)
            self.style = story.captions.model_copy(update={"font": _font_family(self.font_file)})
            self.font_digest = file_digest(self.font_file)
        self.made = {"image": 0, "voice": 0, "captions": 0, "clip": 0, "soundtrack": 0, "merge": 0}
        self.total_steps = _SCENE_STEPS * len(story.scenes) + 2
        # Resolved with each scene's voice; the soundtrack starts once all are.
        loop = asyncio.get_running_loop()
        self.voices_ready: list[asyncio.Future[tuple[Speech, str]]] = [loop.create_future() for _ in story.scenes]
        for fut in self.voices_ready:
            # a failed voice is reported by its scene; this keeps asyncio from also warning about it
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.steps_done = 0

    def emit(self, stage: Stage, state: State, scene: int | None = None, **kw: Any) -> None:
        if state in ("cached", "done"):
            self.steps_done += 1
            what = "reused" if state == "cached" else "made"
            log.info("%s %s: %s", f"scene {scene}" if scene else "short", stage, what)
        elif state == "failed":
            log.warning("%s %s failed: %s", f"scene {scene}" if scene else "short", stage, kw.get("error"))
        if self.hook is not None:
            self.hook(Event(stage, state, scene, fraction=self.steps_done / self.total_steps, **kw))

    def _reuse(self, path: Path, stage: Stage, scene: int | None) -> bool:
        if path.exists() and not self.force:
            self.emit(stage, "cached", scene, path=path)
            return True
        self.emit(stage, "started", scene)
        return False

    async def _call(self, stage: Stage, n: int, limit: Limit, fn: Callable[[], Awaitable[T]]) -> T:
        def on_retry(exc: BaseException, attempt: int, wait: float) -> None:
            self.emit(stage, "retrying", n, error=exc, message=f"try {attempt} failed; retrying in {wait:.1f} s")

        try:
            return await call(fn, limit=limit, policy=self.retry, on_retry=on_retry)
        except ProviderError as exc:
            err = exc.for_scene(n)
            err._stage = stage  # type: ignore[attr-defined]  # which stage failed, for the failure event
            raise err from None

    # image -------------------------------------------------------------------------------------------
    async def image(self, i: int) -> tuple[Path, str]:
        scene, n = self.story.scenes[i], i + 1
        st, o = self.story.images, self.story.output
        if scene.image is not None:
            src = self.story.resolve(scene.image)
            if not src.is_file():
                raise InputFileError(f"image file not found: {src}", provider="local", scene=n, field="image")
            key = hash_key("local-image", file_digest(src), o.width, o.height)
            out = self.ws.path("images", key, ".png")
            if self._reuse(out, "image", n):
                return out, key
            from shortskit.images import prepare_image

            with atomic_path(out) as tmp:
                await asyncio.to_thread(prepare_image, src, tmp, width=o.width, height=o.height, scene=n)
        else:
            p = self.images
            prompt = scene.image_prompt or ""
            key = hash_key("image", p.name, p.version, p.settings(), prompt, st.width, st.height, st.seed)
            out = self.ws.path("images", key, ".png")
            if self._reuse(out, "image", n):
                return out, key
            with atomic_path(out) as tmp:
                await self._call(
                    "image",
                    n,
                    self.image_limit,
                    lambda: p.generate(prompt, tmp, width=st.width, height=st.height, seed=st.seed),
                )
        self.made["image"] += 1
        self.emit("image", "done", n, path=out)
        return out, key

    # voice -------------------------------------------------------------------------------------------
    async def speech(self, i: int) -> tuple[Speech, str]:
        scene, n = self.story.scenes[i], i + 1
        p = self.voice
        key = hash_key("voice", p.name, p.version, p.settings(), scene.text, self.story.language)
        wav, meta = self.ws.path("voices", key, ".wav"), self.ws.path("voices", key, ".json")
        # The JSON sidecar is written last: a WAV without it is an interrupted job and is made again.
        data = None if self.force else self.ws.read_json(meta)
        if data is not None and wav.exists():
            self.emit("voice", "cached", n, path=wav)
            words = tuple(Word(**w) for w in data["words"])
            return Speech(wav, data["duration"], data["sample_rate"], words, data.get("meta", {})), key
        self.emit("voice", "started", n)
        with atomic_path(wav) as tmp:
            speech = await self._call(
                "voice", n, self.voice_limit, lambda: p.synthesize(scene.text, tmp, language=self.story.language)
            )
        words = speech.words
        if words is None:
            log.warning("scene %d: %s gave no word timings; captions use an estimate", n, p.name)
            words = _estimate_words(scene.text, speech.duration)
        speech = Speech(wav, speech.duration, speech.sample_rate, tuple(words), speech.meta)
        self.ws.write_json(
            meta,
            {
                "duration": speech.duration,
                "sample_rate": speech.sample_rate,
                "words": [w.__dict__ for w in words],
                "meta": speech.meta,
            },
        )
        self.made["voice"] += 1
        self.emit("voice", "done", n, path=wav)
        return speech, key

    # captions + clip ---------------------------------------------------------------------------------
    def groups(self, words: Sequence[Word], until: float | None = None) -> list[CaptionGroup]:
        c = self.story.captions
        return group_words(words, max_words=c.max_words, max_chars=c.max_chars, until=until)

    async def captions(self, n: int, words: Sequence[Word], voice_key: str) -> tuple[Path | None, str]:
        c, o = self.style, self.story.output
        if not c.enabled:
            self.emit("captions", "cached", n)
            return None, "none"
        # Keyed by the voice's inputs, not its word times: a TTS that varies by a millisecond between two
        # syntheses of the same text must not make every later artefact new.
        key = hash_key("captions", voice_key, c.model_dump(), self.font_digest, o.width, o.height)
        out = self.ws.path("captions", key, ".ass")
        if self._reuse(out, "captions", n):
            return out, key
        missing = missing_glyphs(" ".join(w.text for w in words), self.font_file)
        if missing:
            log.warning(
                "scene %d: the caption font %s has no glyphs for %r, which will not show; set "
                "captions.font_file to a font that has them (e.g. a Noto font for the language)",
                n, self.style.font, missing[:12],
            )  # fmt: skip
        with atomic_path(out) as tmp:
            write_ass(self.groups(words), tmp, c, width=o.width, height=o.height, font_file=self.font_file)
        self.made["captions"] += 1
        self.emit("captions", "done", n, path=out)
        return out, key

    async def voice_and_captions(self, i: int) -> tuple[Speech, str, Path | None, str]:
        done = self.voices_ready[i]
        try:
            speech, voice_key = await self.speech(i)
        except BaseException as exc:
            done.set_exception(exc)
            raise
        done.set_result((speech, voice_key))
        ass, captions_key = await self.captions(i + 1, speech.words or (), voice_key)
        return speech, voice_key, ass, captions_key

    async def soundtrack(self, music: Path | Literal["bed"] | None) -> tuple[Path, str]:
        """The short's audio, mixed as soon as every voice is ready (while the clips still render)."""
        voiced = await asyncio.gather(*self.voices_ready)
        fps = self.story.output.fps
        durations = [
            clip_frames(speech.duration + self.story.scene_pause(i), fps) / fps for i, (speech, _) in enumerate(voiced)
        ]
        mix = None if music is None else await _music_mix(self.story, self.ws, music, sum(durations))
        mix_key = None if mix is None else [file_digest(mix.path), mix.volume, mix.duck, mix.fade_in, mix.fade_out]
        pauses = [self.story.scene_pause(i) for i in range(len(voiced))]
        key = hash_key("soundtrack", RENDER_VERSION, [k for _, k in voiced], pauses, fps, mix_key)
        out = self.ws.path("audio", key, ".m4a")
        if not self._reuse(out, "soundtrack", None):
            with atomic_path(out) as tmp:
                await make_soundtrack([sp.path for sp, _ in voiced], durations, tmp, music=mix)
            self.made["soundtrack"] += 1
            self.emit("soundtrack", "done", None, path=out)
        return out, key

    def fonts_dir(self) -> Path:
        if self.story.captions.font_file:
            return self.story.resolve(self.story.captions.font_file).parent
        return FONT_DIR

    async def scene(self, i: int) -> tuple[SceneResult, str, str]:
        n, o = i + 1, self.story.output
        try:
            # The picture on one side, the voice then its captions on the other; both run to the end even
            # if one fails, so the finished half is cached for the next run.
            picture, voiced = await asyncio.gather(self.image(i), self.voice_and_captions(i), return_exceptions=True)
            for outcome in (picture, voiced):
                if isinstance(outcome, BaseException):
                    raise outcome
            image, image_key = picture  # type: ignore[misc]
            speech, voice_key, ass, captions_key = voiced  # type: ignore[misc]
            words = speech.words or ()
            duration = speech.duration + self.story.scene_pause(i)
            motion = motion_for(i, self.story.scenes[i].motion or o.motion)
            encoder = self._encoder if isinstance(self._encoder, str) else await self._encoder
            spec = ClipSpec(
                image=image,
                voice=speech.path,
                duration=duration,
                captions=ass,
                width=o.width,
                height=o.height,
                fps=o.fps,
                motion=motion,
                zoom=o.zoom,
                quality=self.quality,
                encoder=encoder,
                fonts_dir=self.fonts_dir(),
            )
            effects = self.scene_effects.get(n, ())
            key = hash_key(
                "clip", RENDER_VERSION, self.engine.name, self.engine.version, image_key, voice_key, captions_key,
                self.story.scene_pause(i), o.fps, o.width, o.height, motion, o.zoom, self.quality, encoder,
                str(spec.fonts_dir),
            )  # fmt: skip
            out = self.ws.path("clips", key, ".mp4")
            # Effects are arbitrary Python objects with no stable hash: such a clip is always made anew.
            if effects:
                key = f"{key}-fx-{uuid.uuid4().hex[:8]}"  # and so is the short made from it
                out = self.ws.path("clips", key, ".mp4")
                self.emit("clip", "started", n)
            if effects or not self._reuse(out, "clip", n):
                async with self.render_limit.slot():
                    with atomic_path(out) as tmp:
                        await self.engine.render_clip(
                            spec, tmp, scene=n, style=self.style, groups=self.groups(words), effects=effects
                        )
                self.made["clip"] += 1
                self.emit("clip", "done", n, path=out)
        except ShortskitError as exc:
            self.emit(getattr(exc, "_stage", None) or _stage_of(exc), "failed", n, error=exc)
            raise
        result = SceneResult(n, image, speech.path, out, 0.0, spec.exact_duration, tuple(words))
        return result, key, voice_key


async def _music_source(story: Story, music: str | Path | bool | None) -> Path | Literal["bed"] | None:
    """The music to mix: a checked file, ``"bed"`` for the generated one, or None. Checked before any work."""
    m = story.music
    if music is False or (music is None and not m.enabled):
        return None
    if isinstance(music, (str, Path)):
        path, fieldname = Path(music).expanduser(), "--music"
    elif m.file is not None:
        path, fieldname = story.resolve(m.file), "music.file"
    else:
        return "bed"
    if not path.is_file():
        raise StoryError(f"music file not found: {path}", file=story.source, field=fieldname)
    try:
        info = await asyncio.to_thread(ffmpeg.probe, path)
    except ShortskitError:
        info = None
    if info is None or not info.has_audio:
        raise StoryError(f"cannot read {path.name} as audio", file=story.source, field=fieldname)
    return path


async def _music_mix(story: Story, ws: Workspace, source: Path | Literal["bed"], total: float) -> MusicMix:
    m = story.music
    path = source
    if source == "bed":
        from shortskit.music import make_music_bed

        length = 8 * (int(total // 8) + 1)  # whole 8 s steps, so similar stories share one bed
        path = ws.path("music", hash_key("music-bed", m.mood, length, 1), ".wav")
        if not path.exists():
            with atomic_path(path) as tmp:
                await asyncio.to_thread(make_music_bed, tmp, duration=float(length), mood=m.mood)
    return MusicMix(Path(path), volume=m.volume, duck=m.duck, fade_in=m.fade_in, fade_out=m.fade_out)


def _metadata(story: Story, scenes: Sequence[SceneResult], duration: float) -> dict[str, Any]:
    """``OUT.json``: the offline SEO metadata (as ``shortskit seo`` without a writer) plus scene times."""
    from shortskit import seo

    return {
        **seo.metadata(story),
        "language": story.language,
        "duration": round(duration, 3),
        "scenes": [
            {
                "index": s.index,
                "start": round(s.start, 3),
                "end": round(s.start + s.duration, 3),
                "text": story.scenes[s.index - 1].text,
            }
            for s in scenes
        ],
    }


def _probe_writable(folder: Path) -> None:
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".shortskit-probe-"):
        pass


def _check_output(out: Path, story: Story) -> None:
    """Fail before any work when the short could not be written, or would overwrite the story."""
    if out.is_dir():
        raise ConfigError(f"output {out} is a folder; give a file name ending in .mp4")
    if not out.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {out.parent}")
    try:
        _probe_writable(out.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write to the output folder {out.parent} ({exc.strerror or exc})") from None
    if story.path is not None:
        for suffix in (".mp4", ".srt", ".json"):
            if _sidecar(out, suffix).resolve() == story.path:
                raise ConfigError(
                    f"writing {_sidecar(out, suffix).name} beside the short would overwrite the story "
                    f"{story.path.name}; choose another output name"
                )


def _sidecar(out: Path, suffix: str) -> Path:
    return out.with_suffix(suffix)


async def render(
    story: Story,
    out: str | Path,
    *,
    workspace: str | Path | None = None,
    voice: str | None = None,
    images: str | None = None,
    music: str | Path | bool | None = None,
    quality: str | None = None,
    engine: str | ClipEngine = "ffmpeg",
    encoder: str | None = None,
    force: bool = False,
    on_progress: ProgressHook | None = None,
    render_jobs: int | None = None,
    retry: RetryPolicy | None = None,
    scene_effects: dict[int, Sequence[Any]] | None = None,
    client: Any = None,
) -> RenderResult:
    """Render ``story`` into the MP4 ``out`` (plus ``out.srt`` and ``out.json`` beside it).

    ``voice`` / ``images`` override the story's provider names; ``music`` is a file, ``False`` for none, or
    None for the story's setting (a generated bed by default); ``quality`` overrides ``output.quality``.
    ``scene_effects`` maps a 1-based scene number to moviepy effects (``engine="moviepy"`` only).
    ``client`` is an ``httpx.AsyncClient`` for HTTP providers (default: one made, and closed, for this run).
    Nothing is written to ``out`` unless the whole short is made.
    """
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise ConfigError(f"output must be an .mp4 file (got {out.name})")
    if isinstance(engine, str):
        if engine not in ENGINES:
            raise ConfigError(f"unknown engine {engine!r}; valid names: {', '.join(sorted(ENGINES))}")
        engine = ENGINES[engine]()
    if scene_effects and engine.name == "ffmpeg":
        raise ConfigError("scene_effects need engine='moviepy'")
    quality = quality or story.output.quality
    if quality not in ("draft", "preview", "production"):
        raise ConfigError(f"unknown quality {quality!r}; valid: draft, preview, production")
    _check_output(out, story)
    speaker, painter = _checked_providers(story, voice=voice, images=images, deep=True)
    music_source = await _music_source(story, music)
    ws = Workspace(Path(workspace) if workspace is not None else default_workspace())
    try:
        ws.root.mkdir(parents=True, exist_ok=True)
        _probe_writable(ws.root)
    except OSError as exc:
        raise ConfigError(f"cannot use {ws.root} as the workspace ({exc.strerror or exc})") from None
    ws.sweep_temporaries()
    # moviepy drives its own ffmpeg writer; for ffmpeg, probing for NVENC runs beside the first jobs.
    wanted = "libx264" if engine.name == "moviepy" else (encoder or story.output.encoder)
    enc: str | asyncio.Task[str] = (
        asyncio.create_task(asyncio.to_thread(resolve_encoder, wanted)) if wanted == "auto" else wanted
    )
    run = _Run(
        story,
        ws,
        voice=speaker,
        images=painter,
        quality=quality,
        encoder=enc,
        engine=engine,
        force=force,
        hook=on_progress,
        render_jobs=render_jobs or DEFAULT_RENDER_JOBS,
        retry=retry or RetryPolicy(),
        scene_effects=dict(scene_effects or {}),
    )

    # One HTTP client for the whole run, shared by every provider that talks HTTP; closed here if ours.
    own_client = client is None and any(hasattr(p, "use_client") for p in (speaker, painter))
    http = client
    if own_client:
        from shortskit.http import make_client

        http = make_client()
    try:
        for p in (speaker, painter):
            if http is not None and hasattr(p, "use_client"):
                p.use_client(http)
        return await _finish(run, story, ws, out, music_source)
    finally:
        if isinstance(enc, asyncio.Task) and not enc.done():
            enc.cancel()
        if own_client and http is not None:
            await http.aclose()


async def _finish(
    run: _Run, story: Story, ws: Workspace, out: Path, music: Path | Literal["bed"] | None
) -> RenderResult:
    """Every scene at once and the soundtrack beside them, then the merge and the files beside the short."""
    soundtrack_task = asyncio.create_task(run.soundtrack(music))
    try:
        results = await asyncio.gather(*(run.scene(i) for i in range(len(story.scenes))), return_exceptions=True)
    except BaseException:  # cancelled or interrupted: stop the soundtrack too
        soundtrack_task.cancel()
        await asyncio.gather(soundtrack_task, return_exceptions=True)
        raise
    failures: list[ShortskitError] = []
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, ShortskitError):
            soundtrack_task.cancel()
            await asyncio.gather(soundtrack_task, return_exceptions=True)
            raise r
        if isinstance(r, ShortskitError):
            failures.append(r)
    if failures:
        # The soundtrack still finishes if every voice did: finished work is kept for the next run.
        await asyncio.gather(soundtrack_task, return_exceptions=True)
        raise SceneFailures(failures)
    soundtrack, soundtrack_key = await soundtrack_task

    scenes: list[SceneResult] = []
    clip_keys, t = [], 0.0
    for r in results:
        scene, clip_key, _ = r  # type: ignore[misc]
        scenes.append(SceneResult(scene.index, scene.image, scene.voice, scene.clip, t, scene.duration, scene.words))
        clip_keys.append(clip_key)
        t += scene.duration
    total = t

    final = ws.path("finals", hash_key("final", RENDER_VERSION, clip_keys, soundtrack_key), ".mp4")
    if not run._reuse(final, "merge", None):
        with atomic_path(final) as tmp:
            await merge_clips([s.clip for s in scenes], soundtrack, tmp)
        run.made["merge"] += 1
        run.emit("merge", "done", None, path=final)

    # The short and its sidecars: each written beside the target under a temporary name, then renamed.
    with atomic_path(out) as tmp:
        await asyncio.to_thread(shutil.copyfile, final, tmp)
    groups: list[CaptionGroup] = []
    for s in scenes:
        groups += shift_groups(group_words(s.words, max_words=7, max_chars=42, until=s.duration), s.start)
    srt = _sidecar(out, ".srt")
    with atomic_path(srt) as tmp:
        write_srt(groups, tmp)
    meta = _sidecar(out, ".json")
    with atomic_path(meta) as tmp:
        tmp.write_text(json.dumps(_metadata(story, scenes, total), ensure_ascii=False, indent=2) + "\n", "utf-8")
    return RenderResult(out, srt, meta, total, tuple(scenes), dict(run.made))


def render_sync(story: Story, out: str | Path, **options: Any) -> RenderResult:
    """Blocking :func:`render` for scripts and the CLI. In Jupyter, use ``await shortskit.render(...)``."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(render(story, out, **options))
    try:
        import nest_asyncio
    except ImportError:
        raise ConfigError(
            "an event loop is already running (Jupyter?): use `await shortskit.render(...)`, "
            "or install the notebook extra (pip install 'shortskit[notebook]')"
        ) from None
    nest_asyncio.apply()
    return asyncio.get_event_loop().run_until_complete(render(story, out, **options))


if os.environ.get("SHORTSKIT_DEBUG"):
    logging.basicConfig(level=logging.DEBUG)
