"""``shortskit cache info|clear``: look at or empty the workspace cache."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shortskit.cli.app import WorkspaceOption, app, fail

if TYPE_CHECKING:
    from shortskit.workspace import Workspace

cache_app = typer.Typer(help="Look at or empty the workspace cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def _existing(root: Path) -> Workspace | None:
    """The workspace at ``root``; None (after saying so) when there is none; exit 2 when ``root`` is a file."""
    from shortskit.errors import ConfigError
    from shortskit.workspace import Workspace

    ws = Workspace(root)
    if ws.root.exists() and not ws.root.is_dir():
        fail(ConfigError(f"{ws.root} is a file, not a workspace folder"))
    if not ws.root.exists():
        typer.echo(f"no workspace at {ws.root} (nothing cached there yet)")
        return None
    return ws


@cache_app.command("info")
def cache_info(
    workspace: WorkspaceOption = None,
) -> None:
    """Files and size per kind of artefact."""
    from shortskit.workspace import default_workspace

    ws = _existing(workspace or default_workspace())
    if ws is None:
        return
    info = ws.info()
    typer.echo(f"workspace {ws.root}")
    for kind, row in info.items():
        typer.echo(f"  {kind:<9} {row['files']:>6} files  {human_size(row['bytes']):>10}")
    total = sum(r["bytes"] for r in info.values())
    typer.echo(f"  {'total':<9} {sum(r['files'] for r in info.values()):>6} files  {human_size(total):>10}")


@cache_app.command("clear")
def cache_clear(
    workspace: WorkspaceOption = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind", help="Only these kinds (images, voices, captions, clips, music, audio, finals, previews)."
        ),
    ] = None,
) -> None:
    """Delete cached artefacts (all kinds unless --kind is given)."""
    from shortskit.workspace import KINDS, default_workspace

    bad = [k for k in kind or () if k not in KINDS]
    if bad:
        typer.echo(f"error: unknown kind {bad[0]!r}; valid: {', '.join(KINDS)}", err=True)
        raise typer.Exit(2)
    ws = _existing(workspace or default_workspace())
    if ws is None:
        return
    n = ws.clear(tuple(kind) if kind else KINDS)
    typer.echo(f"removed {n} files from {ws.root}")
