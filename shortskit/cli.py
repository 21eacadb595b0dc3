"""The ``shortskit`` command: a thin typer app over the public API (gathers arguments, shows progress).

Exit codes: 0 done, 1 some work failed, 2 bad input or configuration. Errors print one line on stderr;
``--debug`` shows the traceback too.
"""

from __future__ import annotations

import json
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from shortskit._version import __version__
from shortskit.cli_http import seo, write
from shortskit.errors import ShortskitError

app = typer.Typer(
    name="shortskit",
    help="Turn a story (JSON/YAML) into a captioned 1080x1920 short video.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}
_WS_HELP = "Cache folder [default: $SHORTSKIT_WORKSPACE or ~/.cache/shortskit]."


class Quality(str, Enum):
    draft = "draft"
    preview = "preview"
    production = "production"


class Engine(str, Enum):
    ffmpeg = "ffmpeg"
    moviepy = "moviepy"


def _fail(exc: BaseException) -> NoReturn:
    if _state["debug"]:
        traceback.print_exception(exc)
    if isinstance(exc, ShortskitError):
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        typer.echo("interrupted; finished work is kept in the workspace, a re-run resumes", err=True)
        raise typer.Exit(130)
    typer.echo(f"internal error: {exc.__class__.__name__}: {exc} (run with --debug for details)", err=True)
    raise typer.Exit(1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shortskit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log what is made and what is reused.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug
    import logging

    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


class _Bars:
    """One tqdm bar per stage on stderr (only when it is a terminal), fed by the pipeline's events."""

    STAGES = ("image", "voice", "captions", "clip", "soundtrack", "merge")

    def __init__(self, scenes: int) -> None:
        from tqdm import tqdm

        show = sys.stderr.isatty()
        self.bars = {
            stage: tqdm(
                total=1 if stage in ("soundtrack", "merge") else scenes,
                desc=f"{stage:<10}",
                unit="short" if stage in ("soundtrack", "merge") else "scene",
                position=i,
                file=sys.stderr,
                disable=not show,
                dynamic_ncols=True,
                leave=True,
            )
            for i, stage in enumerate(self.STAGES)
        }
        self.reused = dict.fromkeys(self.STAGES, 0)

    def __call__(self, event: Any) -> None:
        bar = self.bars[event.stage]
        if event.state in ("done", "cached"):
            if event.state == "cached":
                self.reused[event.stage] += 1
                bar.set_postfix_str(f"{self.reused[event.stage]} reused")
            bar.update(1)
        elif event.state == "retrying" and event.scene:
            bar.set_postfix_str(f"scene {event.scene}: {event.message}")
        elif event.state == "failed" and event.scene:
            bar.set_postfix_str(f"scene {event.scene} failed")

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@app.command()
def render(
    story: Annotated[Path, typer.Argument(help="Story file (.json, .yaml).")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The MP4 to write [default: STORY-short.mp4 here].")
    ] = None,
    voice: Annotated[str | None, typer.Option("--voice", help="Voice provider name (overrides the story).")] = None,
    images: Annotated[str | None, typer.Option("--images", help="Image provider name (overrides the story).")] = None,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", help="Cache folder [default: $SHORTSKIT_WORKSPACE or ~/.cache/shortskit]."),
    ] = None,
    music: Annotated[Path | None, typer.Option("--music", help="Background music file.")] = None,
    no_music: Annotated[bool, typer.Option("--no-music", help="No background music.")] = False,
    quality: Annotated[Quality | None, typer.Option("--quality", help="Encoder preset [default: story's].")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="Render engine.")] = Engine.ffmpeg,
    force: Annotated[bool, typer.Option("--force", help="Remake everything, ignoring the cache.")] = False,
) -> None:
    """Render STORY into a vertical short (plus OUT.srt and OUT.json beside it)."""
    from shortskit.pipeline import render_sync
    from shortskit.story import load_story

    try:
        if music is not None and no_music:
            typer.echo("error: use --music FILE or --no-music, not both", err=True)
            raise typer.Exit(2)
        s = load_story(story)
        # The default name keeps OUT.json clear of the story file itself.
        out = output or Path(f"{story.stem}-short.mp4")
        bars = _Bars(len(s.scenes))
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
            )
        finally:
            bars.close()
    except BaseException as exc:
        if isinstance(exc, typer.Exit):
            raise
        _fail(exc)
    made = ", ".join(f"{v} {k}" for k, v in result.made.items() if v) or "nothing new"
    typer.echo(f"wrote {result.video} ({result.duration:.1f} s, {len(result.scenes)} scenes; made {made})")


app.command()(write)
app.command()(seo)


@app.command()
def validate(
    story: Annotated[Path, typer.Argument(help="Story file (.json, .yaml).")],
) -> None:
    """Check STORY (schema, providers, local files) without rendering."""
    from shortskit.pipeline import check_story
    from shortskit.story import load_story

    try:
        s = load_story(story)
        check_story(s, deep=True)
    except BaseException as exc:
        _fail(exc)
    words = sum(len(sc.text.split()) for sc in s.scenes)
    typer.echo(f"{story.name}: ok ({len(s.scenes)} scenes, {words} words, language {s.language})")


cache_app = typer.Typer(help="Look at or empty the workspace cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


@cache_app.command("info")
def cache_info(
    workspace: Annotated[Path | None, typer.Option("--workspace", help=_WS_HELP)] = None,
) -> None:
    """Files and size per kind of artefact."""
    from shortskit.workspace import Workspace, default_workspace

    ws = Workspace(workspace or default_workspace())
    info = ws.info()
    typer.echo(f"workspace {ws.root}")
    for kind, row in info.items():
        typer.echo(f"  {kind:<9} {row['files']:>6} files  {_human(row['bytes']):>10}")
    total = sum(r["bytes"] for r in info.values())
    typer.echo(f"  {'total':<9} {sum(r['files'] for r in info.values()):>6} files  {_human(total):>10}")


@cache_app.command("clear")
def cache_clear(
    workspace: Annotated[Path | None, typer.Option("--workspace", help=_WS_HELP)] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Only these kinds (images, voices, captions, clips, music, audio, finals)."),
    ] = None,
) -> None:
    """Delete cached artefacts (all kinds unless --kind is given)."""
    from shortskit.workspace import KINDS, Workspace, default_workspace

    bad = [k for k in kind or () if k not in KINDS]
    if bad:
        typer.echo(f"error: unknown kind {bad[0]!r}; valid: {', '.join(KINDS)}", err=True)
        raise typer.Exit(2)
    ws = Workspace(workspace or default_workspace())
    n = ws.clear(tuple(kind) if kind else KINDS)
    typer.echo(f"removed {n} files from {ws.root}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of a story file."""
    from shortskit.story import story_schema

    typer.echo(json.dumps(story_schema(), indent=2, ensure_ascii=False))


def _click_exceptions() -> Any:
    # typer >= 0.20 ships its own copy of click; older versions use click itself.
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click import exceptions
    return exceptions


def main() -> None:
    """Entry point of the ``shortskit`` command: usage mistakes, too, are one ``error:`` line and exit 2."""
    cx = _click_exceptions()
    try:
        code = app(standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:  # bare `shortskit` or `shortskit cache`: the help, exit 0
        message = exc.format_message()
        if message and message != "None":  # typer's rich formatter has printed it already
            typer.echo(message)
        code = 0
    except cx.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        typer.echo(f"error: {exc.format_message()}{hint}", err=True)
        code = 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
