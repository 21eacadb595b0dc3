"""The work of each stage of a render: one async function per artefact (picture, voice, captions, clip,
soundtrack, short), each taking what it consumes and returning what it made.

Every artefact goes through :meth:`Context.produce`: reused when the workspace already has its key (from
:mod:`shortskit.keys`), else made under a temporary name and renamed into place, with progress events either
way. Provider calls go through :func:`call_provider`: the provider's limits, retries, and errors that name
the provider and the scene.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from shortskit import alignment, ffmpeg, keys
from shortskit.captions import CaptionFont, group_words, missing_glyphs
from shortskit.engines.base import ClipEngine, ClipSpec
from shortskit.errors import AlignmentError, InputFileError, ProviderError, RenderError, ShortskitError
from shortskit.merge import merge_clips
from shortskit.progress import Progress, Stage
from shortskit.providers.base import SCENE, ImageProvider, Speech, VoiceProvider, Word
from shortskit.scheduler import Limit, RetryPolicy, call
from shortskit.scripts import SEGMENTER, caption_words
from shortskit.soundtrack import MusicMix, make_soundtrack
from shortskit.story import Story
from shortskit.subtitles import write_ass
from shortskit.workspace import Workspace, atomic_path, file_digest

__all__ = [
    "Context",
    "call_provider",
    "captions",
    "clip",
    "final",
    "music_bed",
    "picture",
    "soundtrack",
    "voice",
]

log = logging.getLogger("shortskit")
T = TypeVar("T")

RECORDING_RATE = 48000  # Hz a scene's own recording is kept at


@dataclass
class Context:
    """What every stage of one render shares: the workspace, progress, the retry policy, ``--force``."""

    ws: Workspace
    progress: Progress
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    force: bool = False  # remake artefacts even when the workspace has them
    # provider name -> the error that rejected its key: every later call to it fails at once with that
    rejected: dict[str, ProviderError] = field(default_factory=dict)

    async def produce(
        self,
        kind: str,
        key: str,
        suffix: str,
        stage: Stage | None,
        scene: int | None,
        make: Callable[[Path], Awaitable[Any]],
        *,
        ready: Callable[[Path], bool] = Path.exists,
        finish: Callable[[Path], Awaitable[Any]] | None = None,
        fresh: bool = False,
    ) -> Path:
        """The artefact ``kind``/``key``: reused if ``ready``, else ``make(tmp)`` then renamed into place.

        ``finish(path)`` runs once the file is in place (to write a sidecar); ``fresh`` makes it even when
        it exists. Progress is reported for ``stage`` (None: not a stage of its own).
        """
        out = self.ws.path(kind, key, suffix)
        # Another render sharing the workspace may be making this very artefact: wait for it, then reuse it.
        async with self.ws.lock(kind, key):
            if not (self.force or fresh) and ready(out):
                if stage is not None:
                    self.progress.emit(stage, "cached", scene, path=out)
                return out
            if stage is not None:
                self.progress.emit(stage, "started", scene)
            try:
                with atomic_path(out) as tmp:
                    await make(tmp)
                if finish is not None:
                    await finish(out)
            except ShortskitError as exc:
                if stage is not None:
                    self.progress.emit(stage, "failed", scene, error=exc)
                raise
        if stage is not None:
            self.progress.emit(stage, "done", scene, path=out)
        return out


async def call_provider(
    ctx: Context, stage: Stage, scene: int, provider: str, limit: Limit, fn: Callable[[], Awaitable[T]]
) -> T:
    """``fn()`` within ``limit`` and the retry policy; any failure ends as an error naming provider and scene.

    The first rejected key (401/403) stops every call to that provider that has not started yet.
    """

    def on_retry(exc: BaseException, attempt: int, wait: float) -> None:
        ctx.progress.emit(
            stage, "retrying", scene, error=exc, message=f"try {attempt} failed; retrying in {wait:.1f} s"
        )

    def stop() -> ProviderError | None:
        rejected = ctx.rejected.get(provider)
        return rejected.replace() if rejected is not None else None  # a copy: many tasks raise it

    def on_error(exc: BaseException) -> None:
        if isinstance(exc, ProviderError) and exc.status in (401, 403):
            ctx.rejected.setdefault(provider, exc.replace(scene=None))

    token = SCENE.set(scene)  # this task's own context: the provider's warnings can name the scene
    try:
        return await call(fn, limit=limit, policy=ctx.retry, on_retry=on_retry, stop=stop, on_error=on_error)
    except ProviderError as exc:
        raise exc.for_scene(scene) from None
    except ShortskitError:
        raise
    except Exception as exc:  # a third-party provider's own exception: still name who failed, and where
        raise ProviderError(f"{type(exc).__name__}: {exc}", provider=provider, scene=scene) from exc
    finally:
        SCENE.reset(token)


# -- picture and voice -------------------------------------------------------------------------------------


async def picture(ctx: Context, story: Story, index: int, provider: ImageProvider, limit: Limit) -> Path:
    """Scene ``index``'s picture: its own file cover-cropped to the frame, or one made from its prompt."""
    scene, n = story.scenes[index], index + 1
    if scene.image is not None:
        from shortskit.images import prepare_image

        src, o = story.resolve(scene.image, field="image", scene=n), story.output
        if not src.is_file():
            raise InputFileError(f"image file not found: {src.name}", provider="local", scene=n, field="image")
        key = keys.local_image_key(source=file_digest(src), width=o.width, height=o.height)

        async def crop(tmp: Path) -> None:
            await asyncio.to_thread(prepare_image, src, tmp, width=o.width, height=o.height, scene=n)

        return await ctx.produce("images", key, ".png", "image", n, crop)

    st, prompt = story.images, scene.image_prompt or ""
    seed = st.seed + index  # scene N uses seed + N - 1, as the story schema says
    key = keys.image_key(
        provider=provider.name, version=provider.version, settings=provider.settings(), prompt=prompt,
        width=st.width, height=st.height, seed=seed,
    )  # fmt: skip

    async def paint(tmp: Path) -> None:
        await call_provider(
            ctx, "image", n, provider.name, limit,
            lambda: provider.generate(prompt, tmp, width=st.width, height=st.height, seed=seed),
        )  # fmt: skip

    return await ctx.produce("images", key, ".png", "image", n, paint)


async def voice(ctx: Context, story: Story, index: int, provider: VoiceProvider, limit: Limit) -> Speech:
    """Scene ``index``'s voice-over with word timings: spoken by ``provider``, or the scene's own recording.

    Timings are the voice's own, else the aligner's (:func:`shortskit.alignment.words_for`); they are kept with
    the voice, and made again from the same audio when the aligner that made them has changed.
    """
    scene, language, n = story.scenes[index], story.language, index + 1
    if scene.audio is not None:
        return await _recording(ctx, story, index)
    key = keys.voice_key(
        provider=provider.name, version=provider.version, settings=provider.settings(), text=scene.text,
        language=language,
    )  # fmt: skip

    async def speak(tmp: Path) -> Speech:
        return await call_provider(
            ctx, "voice", n, provider.name, limit, lambda: provider.synthesize(scene.text, tmp, language=language)
        )

    def timings(speech: Speech) -> tuple[tuple[Word, ...], str]:
        return alignment.words_for(speech, scene.text, language=language, scene=n, voice=provider.name)

    return await _timed_voice(ctx, key, n, speak, timings)


async def _recording(ctx: Context, story: Story, index: int) -> Speech:
    """A scene's own recording as its voice: converted to WAV, its words found by the aligner."""
    scene, n = story.scenes[index], index + 1
    src = story.resolve(scene.audio or "", field="audio", scene=n)
    if not src.is_file():
        raise InputFileError(f"recording not found: {src.name}", provider="recording", scene=n, field="audio")
    key = keys.recording_key(source=file_digest(src), text=scene.text, language=story.language)

    async def convert(tmp: Path) -> Speech:
        from shortskit import ffmpeg
        from shortskit.audio import wav_frames

        args = ["-y", "-loglevel", "error", "-i", src, "-vn", "-ac", "1", "-ar", str(RECORDING_RATE)]
        await ffmpeg.run_async([*args, "-c:a", "pcm_s16le", "-f", "wav", tmp], what="reading the recording", scene=n)
        frames, rate = await asyncio.to_thread(wav_frames, tmp)
        return Speech(tmp, frames / rate, rate, None, {"recording": src.name})

    def timings(speech: Speech) -> tuple[tuple[Word, ...], str]:
        try:
            return tuple(alignment.align(speech.path, scene.text, language=story.language)), alignment.aligner_id()
        except AlignmentError as exc:  # located like a story error: the story, the scene, its audio field
            raise type(exc)(f"{src.name}: {exc.message}", file=story.source, scene=n, field="audio") from None

    return await _timed_voice(ctx, key, n, convert, timings)


async def _timed_voice(
    ctx: Context,
    key: str,
    n: int,
    make: Callable[[Path], Awaitable[Speech]],
    timings: Callable[[Speech], tuple[tuple[Word, ...], str]],
) -> Speech:
    """The voice ``key`` of scene ``n``: its WAV from ``make``, its words from ``timings``, kept in a sidecar."""
    meta = ctx.ws.path("voices", key, ".json")
    made: list[Speech] = []

    async def speak(tmp: Path) -> None:
        made.append(await make(tmp))

    async def keep(wav: Path, speech: Speech) -> dict[str, Any]:
        # The JSON sidecar is written last: a WAV without it is an interrupted job and is made again.
        words, source = await asyncio.to_thread(timings, Speech(wav, speech.duration, speech.sample_rate, speech.words))
        data = {
            "duration": speech.duration,
            "sample_rate": speech.sample_rate,
            "words": [w.__dict__ for w in words],
            "timings": source,
            "meta": speech.meta,
        }
        ctx.ws.write_json(meta, data)
        return data

    def ready(wav: Path) -> bool:
        return wav.exists() and ctx.ws.read_json(meta) is not None

    wav = await ctx.produce("voices", key, ".wav", "voice", n, speak, ready=ready, finish=lambda w: keep(w, made[0]))
    data = ctx.ws.read_json(meta)
    recorded = data.get("timings")
    if recorded not in ("voice", None) and recorded.removeprefix("estimate/") != alignment.aligner_id():
        # timed by another aligner (or an older one): align the same audio again, no new synthesis
        async with ctx.ws.lock("voices", key):
            data = await keep(wav, Speech(wav, data["duration"], data["sample_rate"], None, data.get("meta", {})))
    words = tuple(Word(**w) for w in data["words"])
    return Speech(wav, data["duration"], data["sample_rate"], words, data.get("meta", {}))


# -- captions and clip ---------------------------------------------------------------------------------------


async def captions(ctx: Context, story: Story, scene: int, words: Sequence[Word], font: CaptionFont) -> Path | None:
    """The ASS caption file of one scene's timed ``words`` (None when captions are off)."""
    style, o = font.style, story.output
    if not style.enabled:
        ctx.progress.emit("captions", "cached", scene)
        return None
    # Chinese, Japanese, Thai: cut into words, spaced as the scene's text is
    words = caption_words(words, story.language, story.scenes[scene - 1].text)
    key = keys.captions_key(
        words=words, style={**style.model_dump(exclude={"font_file"}), "segmenter": SEGMENTER}, font=font.digest,
        width=o.width, height=o.height,
    )  # fmt: skip

    async def write(tmp: Path) -> None:
        text = " ".join(w.text for w in words)
        unsupported = font.choice.unsupported if font.choice is not None else missing_glyphs(text, font.file)
        missing = "".join(c for c in dict.fromkeys(text) if c in unsupported)
        if missing:
            log.warning(
                "scene %d: no caption font has glyphs for %r, which will not show; set "
                "captions.font_file to a font that has them",
                scene, missing[:12],
            )  # fmt: skip
        groups = group_words(words, max_words=style.max_words, max_chars=style.max_chars)
        write_ass(groups, tmp, style, width=o.width, height=o.height, font_file=font.file, fonts=font.choice)

    return await ctx.produce("captions", key, ".ass", "captions", scene, write)


async def clip(
    ctx: Context,
    spec: ClipSpec,
    scene: int,
    engine: ClipEngine,
    limit: Limit,
    *,
    font: str,
    effects: Sequence[Any] = (),
    threads: Callable[[], int | None] | None = None,
) -> Path:
    """Scene ``scene``'s clip rendered by ``engine`` from ``spec`` (``font``: the caption font's digest).

    ``threads()``, asked once the clip has its slot, gives the encoder threads it may use (see ClipSpec.threads).
    """
    key = keys.clip_key(
        engine=engine.name, engine_version=engine.version, image=file_digest(spec.image), voice=file_digest(spec.voice),
        captions=file_digest(spec.captions) if spec.captions is not None else None, font=font,
        duration=spec.exact_duration, fps=spec.fps, width=spec.width, height=spec.height, motion=spec.motion,
        zoom=spec.zoom, quality=spec.quality, encoder=spec.encoder,
    )  # fmt: skip
    if effects:
        # Effects are arbitrary Python objects with no stable hash: such a clip is always made anew.
        key = f"{key}-fx-{uuid.uuid4().hex[:8]}"

    async def render(tmp: Path) -> None:
        async with limit.slot():
            now = spec if threads is None else replace(spec, threads=threads())
            await engine.render_clip(now, tmp, scene=scene, effects=effects)

    return await ctx.produce("clips", key, ".mp4", "clip", scene, render, fresh=bool(effects))


# -- the whole short ---------------------------------------------------------------------------------------


async def music_bed(ctx: Context, mood: str, seconds: float) -> Path:
    """A generated music bed at least ``seconds`` long (whole 8 s steps, so similar stories share one)."""
    from shortskit.music import make_music_bed

    length = 8 * (int(seconds // 8) + 1)

    async def compose(tmp: Path) -> None:
        await asyncio.to_thread(make_music_bed, tmp, duration=float(length), mood=mood)

    return await ctx.produce("music", keys.music_bed_key(mood=mood, length=length), ".wav", None, None, compose)


async def soundtrack(
    ctx: Context, voices: Sequence[Path], durations: Sequence[float], mix: MusicMix | None, loudness: float | None
) -> Path:
    """The short's audio: the voices, each padded to its scene's length, over the music ``mix``, levelled to
    ``loudness`` LUFS (None: as they come)."""
    music = None
    if mix is not None:
        music = {"file": file_digest(mix.path), "duck": mix.duck, "fade_in": mix.fade_in, "fade_out": mix.fade_out}
        # levelled, the music sits at its level under the voice; else its volume is a plain gain
        music.update(level=mix.level) if loudness is not None else music.update(volume=mix.volume)
    key = keys.soundtrack_key(
        voices=[file_digest(v) for v in voices], durations=durations, music=music, loudness=loudness
    )

    async def mix_down(tmp: Path) -> None:
        await make_soundtrack(voices, durations, tmp, music=mix, loudness=loudness)

    return await ctx.produce("audio", key, ".m4a", "soundtrack", None, mix_down)


async def final(ctx: Context, clips: Sequence[Path], audio: Path) -> Path:
    """The short: the clips joined over the soundtrack."""
    key = keys.final_key(clips=[file_digest(c) for c in clips], soundtrack=file_digest(audio))

    async def join(tmp: Path) -> None:
        try:
            await merge_clips(clips, audio, tmp)
        except RenderError as exc:
            damaged = await asyncio.to_thread(_damaged, clips)
            if not damaged:
                raise
            # a clip spoiled in the workspace (a full disk, a copy cut short): removed, so the next run remakes it
            for _, path in damaged:
                path.unlink(missing_ok=True)
            if len(damaged) == 1:
                n, path = damaged[0]
                raise RenderError(
                    f"its clip in the workspace was damaged ({path.name}) and has been removed: render again to "
                    "make it anew",
                    scene=n,
                ) from exc
            scenes = ", ".join(str(n) for n, _ in damaged)
            raise RenderError(
                f"the clips of scenes {scenes} in the workspace were damaged and have been removed: render again to "
                "make them anew"
            ) from exc

    return await ctx.produce("finals", key, ".mp4", "merge", None, join)


def _damaged(clips: Sequence[Path]) -> list[tuple[int, Path]]:
    """(scene, path) of every clip ffmpeg cannot read as a video."""
    out = []
    for n, path in enumerate(clips, 1):
        try:
            if ffmpeg.probe(path).video_codec is None:
                out.append((n, path))
        except (RenderError, FileNotFoundError):
            out.append((n, path))
    return out
