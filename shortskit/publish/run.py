"""The whole publish run: the shorts found, their slots planned around what the channel already has, each one
uploaded once (the ledger says which are done), and a clean stop when the day's quota is spent.

``--dry-run`` plans only: it reads the channel's scheduled videos (when scheduling) and sends no write request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shortskit.errors import ConfigError, LoginError, PublishError, QuotaExceededError
from shortskit.publish.base import Publisher, Short, Uploaded, VideoMeta, find_shorts
from shortskit.publish.ledger import LEDGER_NAME, Entry, Ledger
from shortskit.publish.metadata import MetaOptions, video_meta
from shortskit.publish.slots import PACIFIC, SlotPlan, free_slots, next_pacific_midnight, parse_rfc3339, rfc3339

__all__ = ["PlanRow", "PublishResult", "ledger_path", "publish"]


@dataclass
class PlanRow:
    """One short in the plan, and what became of it."""

    short: str  # the MP4's file name
    action: str  # upload | resume | finish | schedule | skip
    state: str  # the ledger's state after the run (before it, in a dry run)
    title: str
    publish_at: datetime | None  # its slot (UTC), if scheduled
    synthetic: str  # the containsSyntheticMedia line
    video_id: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class PublishResult:
    """What a publish run did; ``exit_code`` 0 when every short is on the platform, 1 when some failed."""

    rows: list[PlanRow]
    ledger: Path
    dry_run: bool
    failed: list[str] = field(default_factory=list)  # one line each

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def uploaded(self) -> int:
        return sum(r.action in ("upload", "resume") and r.video_id is not None for r in self.rows)


def ledger_path(targets: Sequence[str | Path]) -> Path:
    """The ledger beside the batch's report: in the folder given, or beside the one short given."""
    first = Path(targets[0])
    return (first if first.is_dir() else first.parent) / LEDGER_NAME


def _done(entry: Entry | None, scheduling: bool) -> bool:
    if entry is None or not entry.finished:
        return False
    return entry.state == "scheduled" or (entry.state == "uploaded" and not scheduling)


def _action(entry: Entry | None, scheduling: bool) -> str:
    if _done(entry, scheduling):
        return "skip"
    if entry is None or entry.state == "failed" or (entry.state == "uploading" and not entry.session_uri):
        return "upload"
    if entry.state == "uploading":
        return "resume"
    return "finish" if not entry.finished else "schedule"


def publish(
    targets: str | Path | Sequence[str | Path],
    *,
    channel: str = "default",
    schedule: SlotPlan | bool = False,
    dry_run: bool = False,
    wait: bool = False,
    meta: MetaOptions | None = None,
    publisher: Publisher | None = None,
    ledger: str | Path | None = None,
    now: datetime | None = None,
    say: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **youtube: Any,
) -> PublishResult:
    """Upload the shorts in ``targets`` (OUT.mp4 files with their OUT.json, or batch folders) to ``channel``.

    ``schedule``: True (the default plan: 6 slots a day from 06:00 every 2 hours, UTC) or a :class:`SlotPlan`
    puts each in the next free slot. ``wait``: when the quota is spent, sleep until it resets and go on (else
    :class:`~shortskit.errors.QuotaExceededError` says how many are left and when it resets). Other keywords
    are :class:`~shortskit.publish.youtube.YouTubeOptions` fields (``chunk_size``, ``captions``, ...).
    """
    if isinstance(targets, (str, Path)):
        targets = [targets]
    if not targets:
        raise ConfigError("give a short (.mp4 with its .json) or a batch folder")
    plan = SlotPlan() if schedule is True else schedule or None
    options = meta or MetaOptions()
    if plan is not None and options.privacy != "private":
        raise ConfigError(
            f"a scheduled video is private until its time: drop --privacy {options.privacy} or --schedule"
        )
    say = say or (lambda line: None)
    shorts = find_shorts(targets)
    metas = {s.digest: video_meta(s, options) for s in shorts}
    book = Ledger(Path(ledger) if ledger else ledger_path(targets), platform="youtube", channel=channel)
    entries = {s.digest: book.get(s.digest) for s in shorts}
    todo = [s for s in shorts if not _done(entries[s.digest], plan is not None)]
    clock = now or datetime.now(timezone.utc)

    made: Publisher | None = None

    def platform() -> Publisher:
        nonlocal made
        if made is None:
            from shortskit.publish.youtube import YouTubeOptions, YouTubePublisher

            made = publisher or YouTubePublisher(channel, options=YouTubeOptions(**youtube), say=say, sleep=sleep)
        return made

    slots: dict[str, datetime] = {}
    if plan is not None and todo:
        for s in todo:
            e = entries[s.digest]
            kept = parse_rfc3339(e.publish_at) if e is not None and e.publish_at and e.state != "failed" else None
            if kept is not None and (kept > clock + plan.lead or (e is not None and e.state != "uploading")):
                slots[s.digest] = kept  # its slot from an earlier run (a slot gone by is given anew)
        needing = [s for s in todo if s.digest not in slots]
        if needing:
            taken = [*platform().scheduled(), *slots.values()]
            taken += [
                t for e in book.all() if e.publish_at and e.state != "failed" and (t := parse_rfc3339(e.publish_at))
            ]
            for s, slot in zip(needing, free_slots(plan, taken, len(needing), now=clock), strict=True):
                slots[s.digest] = slot

    rows = {
        s.digest: _row(s, metas[s.digest], entries[s.digest], plan is not None, slots.get(s.digest)) for s in shorts
    }
    result = PublishResult(list(rows.values()), book.path, dry_run)
    if dry_run:
        return result

    if todo:
        platform()  # a login that is missing or refused stops the run before any short is touched
    for i, s in enumerate(todo):
        while True:
            try:
                _one(platform(), book, s, metas[s.digest], slots.get(s.digest), rows[s.digest], say)
                break
            except QuotaExceededError as exc:
                left = len(todo) - i
                resets = next_pacific_midnight(datetime.now(timezone.utc) if now is None else clock)
                if not wait:
                    raise QuotaExceededError(
                        f"the daily quota is spent ({exc.message}): {left} of {len(shorts)} shorts left, the quota "
                        f"resets at {_pacific(resets)} ({rfc3339(resets)}); run again then, or use --wait",
                        left=left, resets_at=resets,
                    ) from None  # fmt: skip
                pause = max((resets - datetime.now(timezone.utc)).total_seconds(), 0) + 60
                say(f"quota spent: {left} shorts left; waiting until {_pacific(resets)} ({pause / 3600:.1f} h)")
                sleep(pause)
            except LoginError:
                raise
            except PublishError as exc:
                book.put(s.digest, str(s.video), "failed", error=str(exc), session_uri=None)
                rows[s.digest].state, rows[s.digest].notes = "failed", [str(exc)]
                result.failed.append(f"{s.video}: {exc}")
                say(f"failed: {s.name}: {exc}")
                break
    return result


def _pacific(instant: datetime) -> str:
    from zoneinfo import ZoneInfo

    return instant.astimezone(ZoneInfo(PACIFIC)).strftime("%Y-%m-%d %H:%M %Z")


def _row(s: Short, meta: VideoMeta, entry: Entry | None, scheduling: bool, slot: datetime | None) -> PlanRow:
    at = slot or (parse_rfc3339(entry.publish_at) if entry and entry.publish_at else None)
    return PlanRow(s.video.name, _action(entry, scheduling), entry.state if entry else "new", meta.title, at,
                   meta.synthetic_why, entry.video_id if entry else None, list(meta.notes))  # fmt: skip


def _one(p: Publisher, book: Ledger, s: Short, meta: VideoMeta, slot: datetime | None, row: PlanRow,
         say: Callable[[str], None]) -> None:  # fmt: skip
    """Take one short as far as it goes: upload (or resume), thumbnail and captions, schedule."""
    entry = book.get(s.digest)
    at = rfc3339(slot) if slot else None
    if entry is None or entry.state in ("uploading", "failed"):
        session = entry.session_uri if entry is not None and entry.state == "uploading" else None
        book.put(s.digest, str(s.video), "uploading", session_uri=session, publish_at=at, video_id=None, finished=False)

        def keep(uri: str | None) -> None:
            book.put(s.digest, str(s.video), "uploading", session_uri=uri, publish_at=at)

        say(f"{'resuming' if session else 'uploading'} {s.name}")
        up = p.upload(s, meta, slot, session=session, on_session=keep)
        entry = book.put(s.digest, str(s.video), "uploaded", session_uri=None, video_id=up.video_id,
                         publish_at=rfc3339(up.publish_at) if up.publish_at else at)  # fmt: skip
        row.video_id = up.video_id
    assert entry.video_id is not None
    row.video_id = entry.video_id
    when = parse_rfc3339(entry.publish_at) if entry.publish_at else None
    if not entry.finished:
        row.notes += p.finish(s, Uploaded(entry.video_id, when))
        entry = book.put(s.digest, str(s.video), "scheduled" if when else "uploaded", finished=True)
    if slot is not None and when is None:  # uploaded by an earlier run without --schedule: schedule it now
        p.schedule(entry.video_id, slot, meta)
        entry = book.put(s.digest, str(s.video), "scheduled", publish_at=rfc3339(slot), finished=True)
        when = slot
    row.state, row.publish_at = entry.state, when
    say(f"{entry.state} {s.name}: https://youtu.be/{entry.video_id}")
