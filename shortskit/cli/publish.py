"""``shortskit publish``: finished shorts to YouTube (``shortskit publish SHORTS... [--schedule]``), and
``shortskit publish login`` to keep a channel's login. It only gathers arguments for :func:`shortskit.publish`.

Progress goes to stdout; stderr holds only what went wrong (one line each). Exit codes: 0 every short is on the channel, 1 some failed or the day's quota ran out (one line says how many are
left and when it resets), 2 bad input or no usable login.
"""

from __future__ import annotations

import sys
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from shortskit.cli.app import app, reported
from shortskit.errors import ConfigError


class _PublishGroup(TyperGroup):
    """``shortskit publish PATH`` means ``shortskit publish upload PATH``; ``login`` is a command of its own."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["upload", *args]
        return super().parse_args(ctx, args)


publish_app = typer.Typer(
    cls=_PublishGroup,
    help="Upload finished shorts to YouTube and schedule them (needs the publish extra).",
    no_args_is_help=True,
)
app.add_typer(publish_app, name="publish")

ChannelOption = Annotated[
    str, typer.Option("--channel", help="Which kept login to use (several channels side by side).")
]


def _clock(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"a time of day like 06:00 (got {value!r})") from None


@publish_app.command("upload")
def upload(
    targets: Annotated[list[Path], typer.Argument(help="Shorts (OUT.mp4 with OUT.json beside it) or batch folders.")],
    channel: ChannelOption = "default",
    schedule: Annotated[bool, typer.Option("--schedule", help="Put each short in the next free slot.")] = False,
    zone: Annotated[str, typer.Option("--zone", help="The slots' time zone (IANA, e.g. America/New_York).")] = "UTC",
    first: Annotated[str, typer.Option("--first", help="The first slot of a day (wall clock).")] = "06:00",
    every: Annotated[float, typer.Option("--every", help="Hours from one slot to the next.", min=0.25)] = 2.0,
    per_day: Annotated[int, typer.Option("--per-day", help="Slots a day.", min=1, max=48)] = 6,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; send no write request.")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="When the quota is spent, wait for its reset and go on.")
    ] = False,
    privacy: Annotated[
        str, typer.Option("--privacy", help="private, unlisted or public (scheduled: private).")
    ] = "private",
    category: Annotated[str, typer.Option("--category", help="YouTube category id (22 People & Blogs).")] = "22",
    made_for_kids: Annotated[
        bool, typer.Option("--made-for-kids/--not-made-for-kids", help="Declare the videos made for children.")
    ] = False,
    synthetic: Annotated[
        str,
        typer.Option("--synthetic", help="Altered or synthetic content: auto (from OUT.json's facts), yes or no."),
    ] = "auto",
    thumbnail: Annotated[bool, typer.Option("--thumbnail/--no-thumbnail", help="Poster frame as thumbnail.")] = True,
    captions: Annotated[bool, typer.Option("--captions/--no-captions", help="OUT.srt as a caption track.")] = True,
    chunk_kib: Annotated[int, typer.Option("--chunk-kib", help="Upload chunk, a multiple of 256 KiB.", min=256)] = 8192,
) -> None:
    """Upload SHORTS (files or batch folders) once each; a re-run goes on where the last stopped."""
    import logging

    from shortskit.publish import MetaOptions, SlotPlan, publish

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # the client warns about every 403 it hands back; ours say it once, in one line (--debug shows both)
        logging.getLogger("googleapiclient").setLevel(logging.ERROR)
    with reported():
        plan = (
            SlotPlan(zone=zone, first=_clock(first), every=timedelta(hours=every), per_day=per_day)
            if schedule
            else None
        )
        if synthetic not in ("auto", "yes", "no"):
            raise ConfigError(f"--synthetic must be auto, yes or no (got {synthetic!r})")
        meta = MetaOptions(category=category, privacy=privacy, made_for_kids=made_for_kids, synthetic=synthetic)  # type: ignore[arg-type]
        result = publish(
            targets, channel=channel, schedule=plan or False, dry_run=dry_run, wait=wait, meta=meta,
            say=typer.echo, chunk_size=chunk_kib * 1024, thumbnail=thumbnail,
            captions=captions,
        )  # fmt: skip
    show = plan or SlotPlan()
    if dry_run:
        _table(result.rows, show)
        typer.echo(f"dry run: nothing was sent; ledger {result.ledger}")
        raise typer.Exit(0)
    for line in result.failed:
        typer.echo(f"failed: {line}", err=True)
    done = sum(r.state in ("uploaded", "scheduled") for r in result.rows)
    typer.echo(
        f"{done} of {len(result.rows)} shorts on the channel ({result.uploaded} uploaded now); ledger {result.ledger}"
    )
    raise typer.Exit(result.exit_code)


def _table(rows: list[Any], plan: Any) -> None:
    head = ("short", "action", "slot", "title", "synthetic media")
    cells = [(r.short, r.action, plan.show(r.publish_at) if r.publish_at else "-", r.title, r.synthetic) for r in rows]
    widths = [min(max(len(str(c[i])) for c in [head, *cells]), 48) for i in range(len(head))]
    widths[-1] = max(len(str(c[-1])) for c in [head, *cells])  # why a label is set: never cut
    for row in [head, *cells]:
        typer.echo("  ".join(str(c)[: widths[i]].ljust(widths[i]) for i, c in enumerate(row)).rstrip())


@publish_app.command("login")
def login(
    client_secrets: Annotated[
        Path, typer.Option("--client-secrets", help="The OAuth client JSON of a Desktop app (Google Cloud console).")
    ],
    channel: ChannelOption = "default",
    browser: Annotated[
        bool | None,
        typer.Option("--browser/--no-browser", help="Use a browser on this machine (default: when there is one)."),
    ] = None,
) -> None:
    """Log a channel in (Google's OAuth for installed apps); its token is kept in your config folder, mode 0600."""
    from shortskit.publish.auth import login as do_login

    with reported():
        path = do_login(
            client_secrets, channel=channel, browser=browser, ask=_ask, say=lambda s: typer.echo(s, err=True)
        )
    typer.echo(f"logged in; channel {channel!r} kept at {path}")


def _ask(prompt: str) -> str:
    typer.echo(prompt, err=True, nl=False)
    return sys.stdin.readline()
