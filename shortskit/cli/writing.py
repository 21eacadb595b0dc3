"""Commands that write words with the writer's chat model: ``write`` (a story from a topic) and ``seo``.

Like every command they only gather arguments: the work is :func:`shortskit.writer.write_story` and
:func:`shortskit.seo.generate_metadata` (which works offline too). Bad input exits 2 with one ``error:`` line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shortskit.cli.app import StoryArgument, app, reported
from shortskit.errors import ConfigError
from shortskit.safetext import plain_text

_STORY_SUFFIXES = (".json", ".yaml", ".yml")


def _check_output(output: Path | None, suffixes: tuple[str, ...]) -> None:
    if output is None:
        return
    if output.suffix.lower() not in suffixes:
        raise ConfigError(f"output must end in {', '.join(suffixes)} (got {output.name})")
    if not output.parent.is_dir():
        raise ConfigError(f"output folder does not exist: {output.parent}")


def _write_text(path: Path, text: str) -> None:
    from shortskit.workspace import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@app.command()
def write(
    topic: Annotated[str, typer.Argument(help="What the short is about.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Story file to write (.json or .yaml).", show_default="print JSON"),
    ] = None,
    scenes: Annotated[int, typer.Option("--scenes", help="Number of scenes (1-20).")] = 5,
    language: Annotated[
        str, typer.Option("--language", help="Language of the narration (BCP-47: en, es, pt-BR).")
    ] = "en",
    model: Annotated[
        str | None, typer.Option("--model", help="Chat model.", show_default="$SHORTSKIT_WRITER_MODEL or gpt-4o-mini")
    ] = None,
) -> None:
    """Write a story about TOPIC with a chat model ($SHORTSKIT_WRITER_API_KEY or $OPENAI_API_KEY)."""
    from shortskit.story import save_story
    from shortskit.writer import write_story_sync

    with reported():
        _check_output(output, _STORY_SUFFIXES)
        story = write_story_sync(topic, scenes=scenes, language=language, model=model)
        if output is None:
            from shortskit.story import story_text

            typer.echo(story_text(story), nl=False)
            return
        save_story(story, output)
    typer.echo(plain_text(f"wrote {output} ({len(story.scenes)} scenes, language {story.language}): {story.title}"))


@app.command()
def seo(
    story: StoryArgument,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the metadata to this .json file.", show_default="stdout"),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the story's own text even when a writer is configured.")
    ] = False,
    model: Annotated[str | None, typer.Option("--model", help="Chat model when the writer is used.")] = None,
) -> None:
    """Title, description and hashtags for STORY (the writer's model when configured, else from its text)."""
    from shortskit.seo import generate_metadata_sync
    from shortskit.story import load_story

    with reported():
        _check_output(output, (".json",))
        s = load_story(story)
        meta = generate_metadata_sync(s, use_writer=False if offline else None, model=model)
        text = json.dumps(meta, ensure_ascii=False, indent=2) + "\n"
        if output is None:
            typer.echo(text, nl=False)
            return
        _write_text(output, text)
    typer.echo(f"wrote {output}")
