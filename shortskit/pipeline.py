"""The render's orchestration: what runs when, and under which limit. The work itself is in :mod:`shortskit.stages`.

Every scene starts at once: a scene's picture is made while its voice and then its captions are, its clip
renders as soon as both are ready, the soundtrack is mixed as soon as every voice is, and the merge runs once
every clip is. Each provider's limits (jobs at once, requests a minute) are shared by every render on the
event loop. A failed scene does not stop the others; the run then ends with one error listing every failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shortskit import stages
from shortskit.blocking import run_sync
from shortskit.captions import CaptionFont, CaptionGroup, caption_font, group_words, shift_groups
from shortskit.checks import check_output, checked_providers, confined, music_source, open_workspace, sidecar
from shortskit.endpoints import Endpoint
from shortskit.engines import ClipEngine, ClipSpec, get_engine, motion_for
from shortskit.engines.ffmpeg import resolve_encoder, thread_args
from shortskit.errors import ConfigError, ScenesFailedError, ShortskitError
from shortskit.progress import Progress, ProgressHook
from shortskit.providers.base import ImageProvider, Speech, VoiceProvider, Word
from shortskit.scheduler import RetryPolicy, shared_limit
from shortskit.scripts import cue_width
from shortskit.soundtrack import MusicMix
from shortskit.story import Story
from shortskit.subtitles import write_srt
from shortskit.timing import scene_seconds
from shortskit.workspace import atomic_path

__all__ = ["RenderResult", "SceneResult", "render", "render_sync"]

# Clip renders at once. ffmpeg's libx264 already uses every core, but a second job overlaps one clip's
# single-threaded filters (zoompan, libass) and audio with the other's encode. A batch running several
# stories at once sets SHORTSKIT_RENDER_JOBS to share the cores out.
DEFAULT_RENDER_JOBS = 2


def default_render_jobs() -> int:
    """Clip renders at once when the caller does not say: ``$SHORTSKIT_RENDER_JOBS``, else 2."""
    value = os.environ.get("SHORTSKIT_RENDER_JOBS", "").strip()
    if not value:
        return DEFAULT_RENDER_JOBS
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"SHORTSKIT_RENDER_JOBS must be a whole number, 1 or more (got {value!r})")
    return int(value)


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
    preview: Path | None = None  # the scene with its voice, playable alone (render_scene makes it)


@dataclass(frozen=True)
class RenderResult:
    """The finished short and what sits beside it."""

    video: Path
    srt: Path
    metadata: Path
    duration: float
    scenes: tuple[SceneResult, ...]
    made: dict[str, int] = field(default_factory=dict)  # artefacts made (not reused) per stage


def _limit(kind: str, provider: Any) -> Any:
    """The provider's limit: the operator's, shared by every render on the loop (and a batch's processes);
    inside it, the story's own when it lowered one (see :func:`shortskit.checks.checked_providers`)."""

    def numbers(source: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "concurrency": max(1, int(source.get("max_concurrency") or 1)),
            "rate_per_minute": source.get("rate_per_minute"),
            "burst": source.get("rate_burst"),
        }

    own = numbers({k: getattr(provider, k, None) for k in ("max_concurrency", "rate_per_minute", "rate_burst")})
    operator = getattr(provider, "operator_limits", None)
    name = f"{kind} {provider.name}"
    if not isinstance(operator, Mapping):
        return shared_limit(name, **own)
    shared = shared_limit(name, **numbers(operator))
    return shared if own == numbers(operator) else shared_limit(name, **own, within=shared)


class _Render:
    """One render in flight: its providers and limits, and one task per scene plus the soundtrack."""

    def __init__(
        self,
        story: Story,
        ctx: stages.Context,
        *,
        voice: VoiceProvider,
        images: ImageProvider,
        engine: ClipEngine,
        encoder: str | asyncio.Task[str],
        quality: str,
        render_jobs: int,
        scene_effects: dict[int, Sequence[Any]],
    ) -> None:
        self.story, self.ctx = story, ctx
        self.voice, self.images, self.engine = voice, images, engine
        # The encoder may still be being probed (a test encode for NVENC): clips await it when they need it.
        self.encoder, self.quality, self.scene_effects = encoder, quality, scene_effects
        # Limits are shared with every other render on this event loop (see scheduler.shared_limit).
        self.voice_limit, self.image_limit = _limit("voice", voice), _limit("images", images)
        self.render_limit = shared_limit("render", concurrency=render_jobs)
        # Clips encoding side by side share the cores (x264 alone takes them all, and two such encoders on the
        # same cores spend 3–5 % more CPU on threads that wait for each other); the last clips take them all
        # again. SHORTSKIT_THREADS (a batch sharing the machine) wins; one clip at a time needs no sharing.
        cores = os.cpu_count() or 1
        shared = render_jobs > 1 and not thread_args()  # SHORTSKIT_THREADS, read (and checked) as the encoder does
        self.threads_each: int | None = max(1, cores // render_jobs) if shared else None
        self.clips_to_come = len(story.scenes)  # scenes that have not yet asked for their clip
        self.font: CaptionFont = caption_font(story)
        # Each scene's voice, for the soundtrack, which starts once all are there.
        loop = asyncio.get_running_loop()
        self.voices: list[asyncio.Future[Speech]] = [loop.create_future() for _ in story.scenes]
        for fut in self.voices:
            # a failed voice is reported by its scene; this keeps asyncio from also warning about it
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())

    def clip_threads(self) -> int | None:
        """Encoder threads for a clip that has just got its slot: a share of the cores while other clips
        encode or wait beside it, else None (all of them, for the last clips of the short)."""
        if self.threads_each is None or (self.clips_to_come == 0 and self.render_limit.waiting == 0):
            return None
        return self.threads_each

    async def _voice_and_captions(self, i: int) -> tuple[Speech, Path | None]:
        try:
            speech = await stages.voice(self.ctx, self.story, i, self.voice, self.voice_limit)
        except BaseException as exc:
            self.voices[i].set_exception(exc)
            raise
        self.voices[i].set_result(speech)
        return speech, await stages.captions(self.ctx, self.story, i + 1, speech.words or (), self.font)

    async def scene(self, i: int) -> SceneResult | list[ShortskitError]:
        """Scene ``i``'s clip; or every error of the scene (its picture and its voice may both fail)."""
        n, o = i + 1, self.story.output
        # The picture on one side, the voice then its captions on the other; both run to the end even if one
        # fails, so the finished half is cached for the next run.
        outcomes = await asyncio.gather(
            stages.picture(self.ctx, self.story, i, self.images, self.image_limit),
            self._voice_and_captions(i),
            return_exceptions=True,
        )
        errors = [e for e in outcomes if isinstance(e, BaseException)]
        for e in errors:
            if not isinstance(e, ShortskitError):
                raise e
        if errors:
            self.clips_to_come -= 1
            return errors  # type: ignore[return-value]
        image, (speech, ass) = outcomes  # type: ignore[misc]
        words = speech.words or ()
        spec = ClipSpec(
            image=image,
            voice=speech.path,
            duration=scene_seconds(speech.duration, self.story.scene_pause(i), o.fps),
            captions=ass,
            groups=tuple(
                group_words(
                    words,
                    max_words=self.font.style.max_words,
                    max_chars=self.font.style.max_chars,
                    language=self.story.language,
                    text=self.story.scenes[i].text,
                )
            ),
            style=self.font.style,
            width=o.width,
            height=o.height,
            fps=o.fps,
            motion=motion_for(i, self.story.scenes[i].motion or o.motion),
            zoom=o.zoom,
            quality=self.quality,
            encoder=self.encoder if isinstance(self.encoder, str) else await self.encoder,
            fonts_dir=self.font.folder,
            font_file=self.font.file,
            fonts=self.font.choice,
        )
        self.clips_to_come -= 1
        try:
            clip = await stages.clip(
                self.ctx, spec, n, self.engine, self.render_limit,
                font=self.font.digest, effects=self.scene_effects.get(n, ()), threads=self.clip_threads,
            )  # fmt: skip
        except ShortskitError as exc:
            return [exc]
        return SceneResult(n, image, speech.path, clip, 0.0, spec.exact_duration, tuple(words))

    async def soundtrack(self, music: Path | Literal["bed"] | None) -> Path:
        """The short's audio, mixed as soon as every voice is ready (while the clips still render)."""
        voiced = await asyncio.gather(*self.voices)
        fps = self.story.output.fps
        durations = [scene_seconds(s.duration, self.story.scene_pause(i), fps) for i, s in enumerate(voiced)]
        mix = None
        if music is not None:
            m = self.story.music
            path = await stages.music_bed(self.ctx, m.mood, sum(durations)) if music == "bed" else music
            mix = MusicMix(
                Path(path), volume=m.volume, duck=m.duck, fade_in=m.fade_in, fade_out=m.fade_out, level=m.level
            )
        loudness = self.story.output.loudness
        return await stages.soundtrack(self.ctx, [s.path for s in voiced], durations, mix, loudness)

    async def run(self, out: Path, music: Path | Literal["bed"] | None) -> RenderResult:
        """Every scene at once and the soundtrack beside them, then the merge and the files beside the short."""
        audio_task = asyncio.create_task(self.soundtrack(music))
        try:
            results = await asyncio.gather(*(self.scene(i) for i in range(len(self.story.scenes))))
        except BaseException:  # cancelled, interrupted or a bug: stop the soundtrack too
            audio_task.cancel()
            await asyncio.gather(audio_task, return_exceptions=True)
            raise
        failures = [e for r in results if isinstance(r, list) for e in r]
        if failures:
            # The soundtrack still finishes if every voice did: finished work is kept for the next run.
            await asyncio.gather(audio_task, return_exceptions=True)
            raise ScenesFailedError(failures)
        audio = await audio_task
        scenes: list[SceneResult] = []
        t = 0.0
        for r in results:
            assert isinstance(r, SceneResult)
            scenes.append(SceneResult(r.index, r.image, r.voice, r.clip, t, r.duration, r.words))
            t += r.duration
        # what goes beside the short is worked out while the merge runs (the merge is ffmpeg's work)
        beside = asyncio.create_task(_sidecars(self.story, scenes, t, (self.voice, self.images)))
        try:
            short = await stages.final(self.ctx, [s.clip for s in scenes], audio)
        except BaseException:
            beside.cancel()
            await asyncio.gather(beside, return_exceptions=True)
            raise
        groups, metadata = await beside
        return await _deliver(short, out, groups, metadata, scenes, t, dict(self.ctx.progress.made))


async def _sidecars(
    story: Story, scenes: list[SceneResult], total: float, providers: tuple[Any, Any]
) -> tuple[list[CaptionGroup], str]:
    """The SRT's caption groups and the metadata JSON's text (with how voice and pictures were made)."""

    def work() -> tuple[list[CaptionGroup], str]:
        from shortskit.seo import made_with, short_metadata

        groups: list[CaptionGroup] = []
        for s in scenes:
            cues = group_words(
                s.words, max_words=7, max_chars=cue_width(story.language), until=s.duration, language=story.language,
                text=story.scenes[s.index - 1].text,
            )  # fmt: skip
            groups += shift_groups(cues, s.start)
        times = [(s.index, s.start, s.start + s.duration) for s in scenes]
        facts = made_with(story, *providers)
        return groups, json.dumps(short_metadata(story, times, total, facts), ensure_ascii=False, indent=2) + "\n"

    return await asyncio.to_thread(work)


async def _deliver(
    short: Path,
    out: Path,
    groups: list[CaptionGroup],
    metadata: str,
    scenes: list[SceneResult],
    total: float,
    made: dict[str, int],
) -> RenderResult:
    """The short and its sidecars: each written beside the target under a temporary name, then renamed."""
    with atomic_path(out) as tmp:
        await asyncio.to_thread(shutil.copyfile, short, tmp)
    srt = sidecar(out, ".srt")
    with atomic_path(srt) as tmp:
        write_srt(groups, tmp)
    meta = sidecar(out, ".json")
    with atomic_path(meta) as tmp:
        tmp.write_text(metadata, encoding="utf-8")
    return RenderResult(out, srt, meta, total, tuple(scenes), made)


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
    endpoints: Mapping[str, Endpoint | str] | None = None,
    setup: Mapping[str, Any] | None = None,
    allow_dirs: Sequence[str | Path] | None = None,
) -> RenderResult:
    """Render ``story`` into the MP4 ``out`` (plus ``out.srt`` and ``out.json`` beside it).

    ``voice`` / ``images`` override the story's provider names; ``music`` is a file, ``False`` for none, or
    None for the story's setting (a generated bed by default); ``quality`` overrides ``output.quality``.
    ``scene_effects`` maps a 1-based scene number to moviepy effects (``engine="moviepy"`` only).
    ``client`` is an ``httpx.AsyncClient`` for HTTP providers (default: one made, and closed, for this run).
    ``endpoints`` maps a provider name to the base URL (or :class:`~shortskit.endpoints.Endpoint`) its key may
    be sent to, instead of the ``*_BASE_URL`` environment variable; a story can never choose that. ``setup``
    maps a provider name to settings only its user may give (``{"diffusers": DiffusersSetup(weights=DIR)}``:
    local weights, memory options), in place of its ``$SHORTSKIT_*`` variables.
    ``allow_dirs``: folders besides the story's own that its files (pictures, recordings, music, font, voice
    sample) may be in (``$SHORTSKIT_ALLOW_DIRS`` adds more); a story naming any other file is refused.
    Nothing is written to ``out`` unless the whole short is made.
    """
    out = Path(out)
    story = confined(story, allow_dirs=allow_dirs, workspace=workspace)
    clip_engine = get_engine(engine)
    if scene_effects and clip_engine.name == "ffmpeg":
        raise ConfigError("scene_effects need engine='moviepy'")
    quality = quality or story.output.quality
    if quality not in ("draft", "preview", "production"):
        raise ConfigError(f"unknown quality {quality!r}; valid: draft, preview, production")
    check_output(out, story)
    speaker, painter = checked_providers(
        story, voice=voice, images=images, deep=True, endpoints=endpoints, workspace=workspace, setup=setup
    )
    music_file = await music_source(story, music)
    ws = open_workspace(workspace)
    # moviepy drives its own ffmpeg writer; for ffmpeg, probing for NVENC runs beside the first jobs.
    wanted = "libx264" if clip_engine.name == "moviepy" else (encoder or story.output.encoder)
    enc: str | asyncio.Task[str] = (
        asyncio.create_task(asyncio.to_thread(resolve_encoder, wanted)) if wanted == "auto" else wanted
    )
    ctx = stages.Context(ws, Progress(len(story.scenes), on_progress), retry or RetryPolicy(), force)
    job = _Render(
        story, ctx, voice=speaker, images=painter, engine=clip_engine, encoder=enc, quality=quality,
        render_jobs=render_jobs or default_render_jobs(), scene_effects=dict(scene_effects or {}),
    )  # fmt: skip

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
        return await job.run(out, music_file)
    finally:
        if isinstance(enc, asyncio.Task) and not enc.done():
            enc.cancel()
        if own_client and http is not None:
            await http.aclose()


def render_sync(story: Story, out: str | Path, **options: Any) -> RenderResult:
    """Blocking :func:`render` for scripts and the CLI. In Jupyter, use ``await shortskit.render(...)``."""
    return run_sync(render(story, out, **options))
