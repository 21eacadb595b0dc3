"""``shortskit voice add|list``: the workspace's voice library, whose voices a story names as
``voice: {provider: chatterbox, sample: NAME}``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shortskit.cli.app import WorkspaceOption, app, reported
from shortskit.safetext import plain_text

voice_app = typer.Typer(help="Keep voice samples by name, for cloning.", no_args_is_help=True)
app.add_typer(voice_app, name="voice")


@voice_app.command("add")
def voice_add(
    name: Annotated[str, typer.Argument(help="The name a story will call it by (letters, digits, - and _).")],
    file: Annotated[Path, typer.Argument(help="A recording of the voice: WAV, MP3 or M4A, 5 s or more.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Check FILE (readable, at least 5 s, not silent; cut at 30 s) and keep it as voice NAME."""
    import json

    from shortskit.voicesample import library_facts, save_voice

    with reported():
        before = {f["name"]: f for f in library_facts(workspace)}.get(name)
        wav = save_voice(file, name, workspace=workspace)
    facts = json.loads(wav.with_suffix(".json").read_text(encoding="utf-8"))
    cut = f", cut from {facts['trimmed_from']:.1f} s" if facts.get("trimmed_from") else ""
    done = "saved" if before is None else "replaced"
    typer.echo(f"{done} voice {name!r}: {facts['duration']:.1f} s{cut} at {facts['level_dbfs']:.0f} dBFS, in {wav}")
    if before is not None:
        typer.echo(
            f"  (it was {before.get('source', '?')}, saved {before.get('saved', '?')}; scenes spoken with it are remade)"
        )
    typer.echo(f"use it in a story as  voice: {{provider: chatterbox, sample: {name}}}")


@voice_app.command("list")
def voice_list(workspace: WorkspaceOption = None) -> None:
    """The saved voices: name, length, the file they came from, when they were saved."""
    from shortskit.voicesample import library_facts, voice_library

    facts = library_facts(workspace)
    if not facts:
        typer.echo(f"no saved voices in {voice_library(workspace)}; add one with `shortskit voice add NAME FILE`")
        return
    for f in facts:
        seconds = f"{f['duration']:5.1f} s" if isinstance(f.get("duration"), (int, float)) else "    ? s"
        typer.echo(plain_text(f"{f['name']:<24} {seconds}  {f.get('source', '?')}  {f.get('saved', '')}".rstrip()))
