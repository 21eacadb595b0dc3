"""A night of shorts: :func:`run_batch` plans the stories, skips those already made, shares the cores out, runs
the rest on job slots (here or on Dask) and writes the report; a bar and a line per story follow it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shortskit.batch.jobs import (
    BATCH_DIR,
    DEFAULT_NOTEBOOK,
    TOPIC_STORIES,
    Job,
    check_parameters,
    find_stories,
    make_jobs,
)
from shortskit.batch.report import failure_line, totals, write_report
from shortskit.batch.runner import DEFAULT_STORY_TIMEOUT, SlotSettings, read_record, run_local
from shortskit.confine import ALLOW_DIRS_ENV
from shortskit.engines.ffmpeg import THREADS_ENV
from shortskit.errors import ConfigError
from shortskit.ratelimit import RATE_DASK_ENV, RATE_DB_ENV
from shortskit.safetext import plain_text

__all__ = ["BatchResult", "Shares", "cores", "run_batch", "shares"]

RATE_DB = f"{BATCH_DIR}/rates.sqlite"  # under OUTDIR: the rate limits every job of the batch shares


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: one record per story (in the order given), the totals and the report's files."""

    out_dir: Path
    records: list[dict[str, Any]]  # per story: slug, story, status (done | skipped | failed), title, times, error
    summary: dict[str, Any]  # totals: counts, shorts an hour, CPU seconds a short, model loads
    files: dict[str, Path]  # summary.csv, summary.json, index.html

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every story has its short, 1 when any failed."""
        return 1 if self.failed else 0


@dataclass(frozen=True)
class Shares:
    """How a batch shares the machine's cores between its jobs."""

    jobs: int  # stories at once
    threads: int  # cores per job
    render_jobs: int  # clip renders at once within a story
    encoder_threads: int  # x264 threads per clip render


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def shares(jobs: int | None, stories: int, available: int | None = None) -> Shares:
    """Jobs x threads that fit the cores: by default a job per core (x264 spreads thin over many threads)."""
    available = available or cores()
    n = max(1, min(jobs or available, max(stories, 1)))
    threads = max(1, available // n)
    render_jobs = 2 if threads >= 2 else 1
    return Shares(n, threads, render_jobs, max(1, threads // render_jobs))


class _Progress:
    """A bar over the stories and a line per story (in a terminal or a notebook; lines only elsewhere)."""

    def __init__(self, total: int, show: bool) -> None:
        from tqdm.auto import tqdm

        in_notebook = tqdm.__module__.startswith("tqdm.notebook")
        self.show = show
        self.bar = tqdm(
            total=total, desc="stories", unit="short", file=sys.stderr, dynamic_ncols=True,
            disable=not (show and (in_notebook or sys.stderr.isatty())),
        )  # fmt: skip
        self.seen = 0

    def __call__(self, record: dict[str, Any]) -> None:
        self.seen += 1
        if self.show:
            # a story's title and error are its author's words: no escape sequences reach the terminal
            self.bar.write(plain_text(self.line(record, self.seen, int(self.bar.total or 0))), file=sys.stdout)
        self.bar.update(1)

    @staticmethod
    def line(record: dict[str, Any], n: int, total: int) -> str:
        status = record.get("status", "?")
        head = f"[{n}/{total}] {status:<7} {record.get('slug', '')}"
        if status == "failed":
            return f"{head}: {failure_line(record)}"
        video = f"{float(record['duration']):.1f} s" if record.get("duration") else "?"
        took = f", made in {float(record['seconds']):.1f} s" if status == "done" and record.get("seconds") else ""
        return f"{head}: {record.get('title', '')} ({video}{took})"

    def close(self) -> None:
        self.bar.close()


def _pairs(parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    if parameters is None:
        return []
    return list(parameters.items() if isinstance(parameters, Mapping) else parameters)


def _resumable(job: Job) -> dict[str, Any] | None:
    """The earlier record of ``job`` when its short is made from the same inputs; else None (run it)."""
    prior = read_record(job.record)
    made = prior and prior.get("status") in ("done", "skipped") and prior.get("digest") == job.digest
    return {**prior, "status": "skipped"} if made and prior and job.video.is_file() else None


def _unrunnable(job: Job) -> dict[str, Any]:
    """The record of a story that cannot run (its file does not parse or validate): a failure, never run."""
    return {"slug": job.slug, "story": str(job.story), "title": job.title, "status": "failed", "error": job.error,
            "failed_scenes": list(job.failed_scenes), "ename": "StoryError"}  # fmt: skip


def _check_output(out: Path) -> None:
    """Refuse an output folder that cannot be one (an existing file, or a path under one) before any work."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the output folder {out} is a file, not a folder")
    above = next((p for p in out.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ConfigError(f"cannot make the output folder {out}: {above} is a file")


def _make_output(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot make the output folder {out}: {exc.strerror or exc}") from None


def run_batch(
    stories: str | Path | Sequence[str | Path] = (),
    out_dir: str | Path = "shorts",
    *,
    jobs: int | None = None,
    notebook: str | Path | None = None,
    parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    cluster: str | None = None,
    topics: str | Path | None = None,
    timeout: float | None = None,
    force: bool = False,
    progress: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    allow_dirs: Sequence[str | Path] | None = None,
) -> BatchResult:
    """Render every story (files, folders of them, globs) headless through ``notebook``, into ``out_dir``.

    Per story, ``out_dir/<slug>/`` gets the MP4, its SRT and JSON, the executed notebook and ``job.json``.
    ``jobs`` stories run at once (default: one per core), each in a warm kernel that keeps its models loaded;
    a re-run skips the stories already made from the same inputs (``force`` redoes them). ``parameters``
    go to the notebook (never a key: keys come from the workers' environment). ``cluster``: ``"local"`` for a
    dask LocalCluster, or a scheduler address; ``topics``: a CSV of topics the writer makes stories of first.
    ``timeout``: seconds a notebook cell may run. ``allow_dirs``: folders besides each story's own that its files
    may be in (given to every kernel as ``$SHORTSKIT_ALLOW_DIRS``). Bad input (no stories, a missing notebook, a bad parameter)
    raises before any work; failed stories, a story file that does not parse or validate among them, are in the
    result (``exit_code`` 1), never raised.
    """
    started = time.perf_counter()
    out = Path(out_dir).expanduser().resolve()
    template = Path(notebook).expanduser().resolve() if notebook else DEFAULT_NOTEBOOK
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs must be 1 or more, got {jobs}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be more than 0 seconds (None: no limit), got {timeout}")
    _check_output(out)
    if not template.is_file():
        raise ConfigError(f"notebook not found: {template}" + ("" if notebook else " (pass one with --notebook)"))
    params = check_parameters(_pairs(parameters), template)
    if not stories and topics is None:
        raise ConfigError("no stories given (story files, folders or globs, or --topics FILE)")
    given = [stories] if isinstance(stories, (str, Path)) else stories
    paths = find_stories(given, out_dir=out) if stories else []  # never the files a batch wrote into out
    _make_output(out)
    topic_failures: list[dict[str, Any]] = []
    if topics is not None:
        from shortskit.batch.topics import read_topics, write_stories

        written, failed = write_stories(read_topics(Path(topics).expanduser()), out / TOPIC_STORIES)
        paths += [p for p in written if p not in paths]
        topic_failures = [{"slug": t.slug, "story": t.topic, "title": t.topic, "status": "failed", "error": why,
                           "failed_scenes": []} for t, why in failed]  # fmt: skip
    allowed = [str(Path(d).expanduser().resolve()) for d in allow_dirs or ()]
    planned = make_jobs(paths, out, notebook=template, parameters=params, allow_dirs=allowed)
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for job in planned:
        if job.error:  # it does not parse or validate: it fails alone, and the others go on
            records[job.slug] = _unrunnable(job)
            continue
        prior = None if force else _resumable(job)
        if prior is None:
            todo.append(job)
        else:
            records[job.slug] = prior
    share = shares(jobs, len(todo))
    if cluster is None or cluster == "local":  # one host: a SQLite file, and this machine's cores shared out
        env = {RATE_DB_ENV: str(out / RATE_DB), THREADS_ENV: str(share.encoder_threads),
               "SHORTSKIT_RENDER_JOBS": str(share.render_jobs)}  # fmt: skip
        (out / RATE_DB).parent.mkdir(parents=True, exist_ok=True)
    else:  # hosts of their own: the rate is kept by the scheduler, the cores are theirs to share
        env = {RATE_DASK_ENV: cluster}
    if allowed:  # the kernels' own, beside any the workers already have
        env[ALLOW_DIRS_ENV] = os.pathsep.join([*allowed, *filter(None, [os.environ.get(ALLOW_DIRS_ENV, "")])])
    settings = SlotSettings(env=env, timeout=timeout or DEFAULT_STORY_TIMEOUT)

    bar = _Progress(len(planned) + len(topic_failures), progress)

    def done(record: dict[str, Any]) -> None:
        records[record["slug"]] = record
        bar(record)
        if on_record is not None:
            on_record(record)

    try:
        for record in [*topic_failures, *(records[j.slug] for j in planned if j.slug in records)]:
            done(record)
        if cluster is None:
            run_local(todo, slots=share.jobs, settings=settings, on_record=done)
        else:
            from shortskit.batch.cluster import run_dask

            run_dask(todo, address=cluster, workers=share.jobs, settings=settings, on_record=done)
    finally:
        bar.close()
    ordered = topic_failures + [records[j.slug] for j in planned if j.slug in records]
    summary = totals(ordered, wall_seconds=time.perf_counter() - started, jobs=share.jobs, threads=share.threads)
    summary["cluster"] = cluster
    files = write_report(out, ordered, summary)
    return BatchResult(out, ordered, summary, files)
