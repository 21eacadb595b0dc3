"""The ``shortskit`` app itself: global options, how errors end (one line, an exit code), progress bars.

Commands live one group a module beside this one and register themselves on :data:`app`. Exit codes: 0 done,
1 some work failed, 2 bad input or configuration. Errors print one line on stderr; ``--debug`` shows the
traceback too.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from shortskit._version import __version__
from shortskit.errors import ShortskitError
from shortskit.safetext import plain_text

app = typer.Typer(
    name="shortskit",
    help="Turn a story (JSON/YAML) into a captioned 1080x1920 short video.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}
WS_HELP = "Cache folder."
WS_DEFAULT = "$SHORTSKIT_WORKSPACE or ~/.cache/shortskit"
# the --workspace option every command that touches the cache takes
WorkspaceOption = Annotated[Path | None, typer.Option("--workspace", help=WS_HELP, show_default=WS_DEFAULT)]
StoryArgument = Annotated[Path, typer.Argument(help="Story file (.json, .yaml).")]
# folders besides a story's own that its files may come from (the operator's choice, never the story's)
AllowDirOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--allow-dir",
        metavar="DIR",
        help="A folder besides the story's own that its files (pictures, audio, music, font) may be in; repeatable. "
        "$SHORTSKIT_ALLOW_DIRS adds more.",
    ),
]


def fail(exc: BaseException) -> NoReturn:
    """End the command for ``exc``: one ``error:`` line and the error's exit code (a traceback with --debug)."""
    if _state["debug"]:
        traceback.print_exception(exc)
    if isinstance(exc, ShortskitError):
        typer.echo(f"error: {plain_text(exc)}", err=True)  # it may quote the story: no escape sequences
        raise typer.Exit(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        typer.echo("interrupted; finished work is kept in the workspace, a re-run resumes", err=True)
        raise typer.Exit(130)
    typer.echo(f"internal error: {exc.__class__.__name__}: {plain_text(exc)} (run with --debug for details)", err=True)
    raise typer.Exit(1)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Run a command's body so that any error ends it through :func:`fail` (``typer.Exit`` passes through)."""
    try:
        yield
    except typer.Exit:
        raise
    except BaseException as exc:
        fail(exc)


def _plain_record(record: logging.LogRecord) -> bool:
    record.msg, record.args = plain_text(record.getMessage()), None
    return True


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
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # log lines quote stories too: no control characters
        handler.addFilter(_plain_record)
    # httpx logs whole URLs (signed download links, their query strings); ours go through public_url instead
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


__all__ = ["WS_HELP", "AllowDirOption", "Bars", "StoryArgument", "WorkspaceOption", "app", "fail", "main", "reported"]


class Bars:
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
