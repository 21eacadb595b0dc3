"""``shortskit batch``: many stories headless (papermill, warm kernels, in parallel, resumable), with a report.

It only gathers arguments for :func:`shortskit.batch.run_batch`. Exit codes: 0 every short made, 1 some story
failed (one line each on stderr: story, scene, reason), 2 bad input before any work started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from shortskit.cli.app import AllowDirOption, app, reported
from shortskit.errors import ConfigError
from shortskit.safetext import plain_text


class _BatchCommand(TyperCommand):
    """``-p KEY VALUE`` takes two values each time: typer has no list of pairs, its click does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.name == "parameter":
                param.nargs = 2
                param.type = _click_types().Tuple([str, str])
                # typer then checks the values as list[str]: each pair goes through it as "KEY\0VALUE"
                # (no argument on a command line holds a NUL)
                plain = param.process_value
                param.process_value = lambda ctx, value, plain=plain: plain(  # type: ignore[method-assign]
                    ctx, [f"{k}\0{v}" for k, v in value or ()]
                )


def _click_types() -> Any:
    # typer >= 0.20 ships its own copy of click; older versions use click itself.
    try:
        from typer._click import types
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click import types
    return types


def _positive(value: float | None) -> float | None:
    # typer's min= lets the bound itself through, and 0 (or -5) would silently mean no limit at all
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be more than 0 seconds, got {value:g}")
    return value


@app.command(cls=_BatchCommand)
def batch(
    stories: Annotated[
        list[str] | None, typer.Argument(help="Story files, folders of them, or glob patterns ('stories/*.yaml').")
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the shorts and the report.")] = Path(
        "shorts"
    ),
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Stories at once (default: one per core). Each holds its own models."),
    ] = None,
    notebook: Annotated[
        Path | None,
        typer.Option("--notebook", help="Notebook run per story (default: notebooks/make_short.ipynb)."),
    ] = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "-p",
            "--parameter",
            metavar="KEY VALUE",
            help="A notebook parameter for every story (e.g. -p quality draft); never a key.",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="'local' for a dask LocalCluster, or a scheduler address (tcp://host:8786)."),
    ] = None,
    topics: Annotated[
        Path | None,
        typer.Option("--topics", help="CSV of topics (topic[,language[,scenes]]): the writer makes the stories."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            callback=_positive,
            help="Seconds one story may run, more than 0; past it its kernel is killed (default: 1800).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Run every story again, even those already made.")] = False,
    allow_dir: AllowDirOption = None,
) -> None:
    """Render many stories headless, in parallel; a re-run skips what is made. Report: OUTPUT/index.html."""
    from shortskit.batch import run_batch
    from shortskit.batch.report import failure_line

    with reported():
        if not stories and topics is None:
            raise ConfigError("give story files, folders or globs, or --topics FILE")
        result = run_batch(
            stories or [], output, jobs=jobs, notebook=notebook, parameters=[tuple(p.split("\0", 1)) for p in parameter or []],
            cluster=cluster, topics=topics, timeout=timeout, force=force, allow_dirs=allow_dir,
        )  # fmt: skip
    t = result.summary
    for record in result.failed:
        typer.echo(plain_text(f"failed: {failure_line(record)}"), err=True)
    typer.echo(
        f"{t['done']} made, {t['skipped']} already made, {t['failed']} failed; report: {result.files['index.html']}"
    )
    raise typer.Exit(result.exit_code)
