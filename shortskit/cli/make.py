"""Commands that make and check shorts: ``render``, ``validate`` and ``schema``."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from shortskit.cli.app import AllowDirOption, Bars, StoryArgument, WorkspaceOption, app, reported
from shortskit.safetext import plain_text


class Quality(str, Enum):
    draft = "draft"
    preview = "preview"
    production = "production"


class Engine(str, Enum):
    ffmpeg = "ffmpeg"
    moviepy = "moviepy"


def _endpoints(given: list[str]) -> dict[str, str]:
    from shortskit.endpoints import VENDORS, check_base_url
    from shortskit.errors import ConfigError

    found: dict[str, str] = {}
    for item in given:
        name, sep, url = item.partition("=")
        if not sep or name.strip() not in VENDORS or not url.strip():
            raise ConfigError(f"--endpoint takes NAME=URL with NAME one of {', '.join(VENDORS)} (got {item!r})")
        found[name.strip()] = check_base_url(url, where=f"--endpoint {name.strip()}")
    return found


@app.command()
def render(
    story: StoryArgument,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The MP4 to write.", show_default="STORY-short.mp4 here")
    ] = None,
    voice: Annotated[str | None, typer.Option("--voice", help="Voice provider name (overrides the story).")] = None,
    images: Annotated[str | None, typer.Option("--images", help="Image provider name (overrides the story).")] = None,
    workspace: WorkspaceOption = None,
    music: Annotated[Path | None, typer.Option("--music", help="Background music file.")] = None,
    no_music: Annotated[bool, typer.Option("--no-music", help="No background music.")] = False,
    quality: Annotated[
        Quality | None, typer.Option("--quality", help="Encoder preset.", show_default="the story's")
    ] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="Render engine.")] = Engine.ffmpeg,
    force: Annotated[bool, typer.Option("--force", help="Remake everything, ignoring the cache.")] = False,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--endpoint",
            metavar="NAME=URL",
            help="Where provider NAME's key may go (instead of its *_BASE_URL variable); repeatable.",
        ),
    ] = None,
    allow_dir: AllowDirOption = None,
) -> None:
    """Render STORY into a vertical short (plus OUT.srt and OUT.json beside it)."""
    from shortskit.pipeline import render_sync
    from shortskit.story import load_story

    with reported():
        if music is not None and no_music:
            typer.echo("error: use --music FILE or --no-music, not both", err=True)
            raise typer.Exit(2)
        endpoints = _endpoints(endpoint or [])
        s = load_story(story)
        # The default name keeps OUT.json clear of the story file itself.
        out = output or Path(f"{story.stem}-short.mp4")
        bars = Bars(len(s.scenes))
        try:
            result = render_sync(
                s,
                out,
                workspace=workspace,
                voice=voice,
                images=images,
                music=False if no_music else music,
                quality=quality.value if quality else None,
                engine=engine.value,
                force=force,
                on_progress=bars,
                endpoints=endpoints,
                allow_dirs=allow_dir,
            )
        finally:
            bars.close()
    made = ", ".join(f"{v} {k}" for k, v in result.made.items() if v) or "nothing new"
    typer.echo(f"wrote {result.video} ({result.duration:.1f} s, {len(result.scenes)} scenes; made {made})")


@app.command()
def validate(story: StoryArgument, workspace: WorkspaceOption = None, allow_dir: AllowDirOption = None) -> None:
    """Check STORY (schema, providers, local files, saved voices) without rendering."""
    from shortskit.checks import check_story
    from shortskit.story import load_story

    with reported():
        s = load_story(story)
        check_story(s, deep=True, workspace=workspace, allow_dirs=allow_dir)
    words = sum(len(sc.text.split()) for sc in s.scenes)
    typer.echo(plain_text(f"{story.name}: ok ({len(s.scenes)} scenes, {words} words, language {s.language})"))


@app.command()
def schema() -> None:
    """Print the JSON Schema of a story file."""
    from shortskit.story import story_schema

    typer.echo(json.dumps(story_schema(), indent=2, ensure_ascii=False))
