"""The publish panel: a batch folder (or one short) to YouTube from a notebook, its plan shown as a table first."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from shortskit.publish import MetaOptions, PublishResult, SlotPlan, publish
from shortskit.widgets._common import Background, note

__all__ = ["PublishPanel"]


class PublishPanel(Background, w.VBox):
    """Channel, schedule, privacy and synthetic-media choices, a Publish button and the plan or result table.

    ``targets`` are what :func:`shortskit.publish` takes; ``publish_options`` go to it too (``chunk_size=...``).
    The login is the one ``shortskit publish login`` kept: this panel never sees or shows a token.
    """

    def __init__(
        self, targets: str | Path | list[str | Path], *, channel: str = "default", **publish_options: Any
    ) -> None:
        super().__init__()
        self._tasks, self.error = set(), None
        self.targets, self.publish_options = targets, publish_options
        self.result: PublishResult | None = None
        self.channel = w.Text(value=channel, description="Channel")
        self.schedule = w.Checkbox(value=False, description="Schedule into free slots")
        self.zone = w.Text(value="UTC", description="Time zone")
        self.privacy = w.Dropdown(options=["private", "unlisted", "public"], value="private", description="Privacy")
        self.synthetic = w.Dropdown(options=["auto", "yes", "no"], value="auto", description="Synthetic")
        self.dry_run = w.Checkbox(value=True, description="Dry run (plan only)")
        self.publish_button = w.Button(description="Publish", icon="upload", button_style="primary")
        self.status = w.HTML()
        self.table = w.HTML()
        self.publish_button.on_click(lambda _b: self._spawn(self._guard(self.status, self._publish())))
        self.children = [
            w.HBox([self.channel, self.privacy, self.synthetic]),
            w.HBox([self.schedule, self.zone, self.dry_run]),
            w.HBox([self.publish_button, self.status]),
            self.table,
        ]

    async def _publish(self) -> None:
        self.publish_button.disabled = True
        self.status.value = note("planning…" if self.dry_run.value else "publishing…")
        try:
            plan = SlotPlan(zone=self.zone.value.strip() or "UTC") if self.schedule.value else False
            meta = MetaOptions(privacy=self.privacy.value, synthetic=self.synthetic.value)
            self.result = await asyncio.to_thread(
                publish, self.targets, channel=self.channel.value.strip() or "default", schedule=plan,
                dry_run=self.dry_run.value, meta=meta, **self.publish_options,
            )  # fmt: skip
        finally:
            self.publish_button.disabled = False
        self.table.value = _table(self.result, plan or SlotPlan())
        failed = len(self.result.failed)
        self.status.value = note(
            "plan only: nothing was sent" if self.result.dry_run else f"done, {failed} failed" if failed else "done",
            "error" if failed else "ok",
        )


def _table(result: PublishResult, plan: SlotPlan) -> str:
    e = html.escape
    head = "<tr><th>short</th><th>action</th><th>state</th><th>slot</th><th>title</th><th>synthetic media</th></tr>"
    rows = "".join(
        f"<tr><td>{e(r.short)}</td><td>{e(r.action)}</td><td>{e(r.state)}</td>"
        f"<td>{e(plan.show(r.publish_at)) if r.publish_at else '–'}</td><td>{e(r.title)}</td><td>{e(r.synthetic)}</td></tr>"
        for r in result.rows
    )
    return f"<table>{head}{rows}</table>"
