"""The morning report of a batch: ``summary.csv``, ``summary.json`` and ``index.html``, a gallery that opens
offline in a browser (a poster frame, title, duration, status and time taken per story, with links to the short
and its executed notebook), plus the batch's totals: shorts an hour, CPU seconds a short, model loads.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shortskit.batch.jobs import REPORT_FILES, blank, secret_values
from shortskit.workspace import atomic_path

__all__ = ["COLUMNS", "failure_line", "poster", "totals", "write_report"]

COLUMNS = ("slug", "story", "status", "title", "duration", "scenes", "seconds", "cpu_seconds", "model_loads",
           "failed_scenes", "error", "video", "notebook", "poster")  # fmt: skip
POSTER_WIDTH = 270  # pixels; the gallery shows posters at this width


def failure_line(record: dict[str, Any]) -> str:
    """One line for a failed story: the story, the scene (when the failure is a scene's) and why."""
    scenes = record.get("failed_scenes") or []
    where = f" (scene {', '.join(map(str, scenes))})" if scenes else ""
    return f"{record.get('story')}{where}: {record.get('error') or 'failed'}"


def poster(video: Path, out: Path, duration: float | None) -> Path | None:
    """A JPEG frame from a third of the way into ``video`` (kept while it is newer than the video)."""
    if out.is_file() and out.stat().st_mtime >= video.stat().st_mtime:
        return out
    from shortskit.errors import ShortskitError
    from shortskit.ffmpeg import frame_at

    try:
        frame = frame_at(video, (duration or 0.0) / 3)
    except (ShortskitError, OSError, ValueError):
        return None
    frame.thumbnail((POSTER_WIDTH, POSTER_WIDTH * 16 // 9))
    with atomic_path(out) as tmp:
        frame.convert("RGB").save(tmp, "JPEG", quality=82)
    return out


def totals(records: Sequence[dict[str, Any]], *, wall_seconds: float, jobs: int, threads: int) -> dict[str, Any]:
    """The batch's own numbers: counts by status, shorts an hour, CPU seconds a short, model loads."""
    made = [r for r in records if r.get("status") == "done"]
    loads: Counter[str] = Counter()
    for r in records:
        if r.get("status") != "skipped":
            loads.update(r.get("model_loads") or {})
    cpu = [r["cpu_seconds"] for r in made if isinstance(r.get("cpu_seconds"), (int, float))]
    return {
        "stories": len(records),
        "done": len(made),
        "skipped": sum(r.get("status") == "skipped" for r in records),
        "failed": sum(r.get("status") == "failed" for r in records),
        "wall_seconds": round(wall_seconds, 2),
        "shorts_per_hour": round(len(made) * 3600 / wall_seconds, 1) if made and wall_seconds > 0 else None,
        "cpu_seconds_per_short": round(sum(cpu) / len(cpu), 2) if cpu else None,
        "video_seconds": round(sum(float(r.get("duration") or 0) for r in made), 2),
        "model_loads": dict(loads),
        "jobs": jobs,
        "threads_per_job": threads,
    }


def _rel(path: Path | None, root: Path) -> str:
    return "" if path is None else Path(os.path.relpath(path, root)).as_posix()


def _row(record: dict[str, Any], root: Path) -> dict[str, Any]:
    folder = root / record["slug"]
    video, notebook = folder / f"{record['slug']}.mp4", folder / f"{record['slug']}.ipynb"
    shot = None
    if record.get("status") in ("done", "skipped") and video.is_file():
        shot = poster(video, folder / "poster.jpg", record.get("duration"))
    return {
        **{k: record.get(k) for k in COLUMNS},
        "model_loads": sum((record.get("model_loads") or {}).values()),
        "failed_scenes": " ".join(map(str, record.get("failed_scenes") or [])),
        "video": _rel(video, root) if video.is_file() else "",
        "notebook": _rel(notebook, root) if notebook.is_file() else "",
        "poster": _rel(shot, root),
    }


def _card(row: dict[str, Any], record: dict[str, Any]) -> str:
    e = html.escape
    status = row["status"] or "?"
    img = (
        f'<img class="poster" src="{e(row["poster"])}" alt="{e(str(row["title"] or ""))}">'
        if row["poster"]
        else '<div class="poster none">no short</div>'
    )
    dur = f"{float(row['duration']):.1f} s" if row.get("duration") else "–"
    took = f"{float(row['seconds']):.1f} s" if row.get("seconds") is not None else "–"
    links = " ".join(
        f'<a class="{cls}" href="{e(row[key])}">{label}</a>'
        for key, cls, label in (("video", "mp4", "MP4"), ("notebook", "ipynb", "notebook"))
        if row[key]
    )
    why = f'<p class="error">{e(failure_line(record))}</p>' if status == "failed" else ""
    return (
        f'<figure class="card {e(status)}" data-slug="{e(row["slug"])}">{img}<figcaption>'
        f"<h2>{e(str(row['title'] or row['slug']))}</h2>"
        f'<p><span class="status">{e(status)}</span> · <span class="duration">{dur}</span> · '
        f'made in <span class="took">{took}</span></p><p class="links">{links}</p>{why}</figcaption></figure>'
    )


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;background:#111;color:#eee}
a{color:#8cf} .grid{display:flex;flex-wrap:wrap;gap:16px}
.card{margin:0;width:270px;background:#222;border-radius:8px;overflow:hidden}
.poster{display:block;width:270px;height:480px;object-fit:cover;background:#000}
.none{display:flex;align-items:center;justify-content:center;color:#888}
figcaption{padding:8px 12px} h2{font-size:16px;margin:4px 0} p{margin:4px 0;font-size:13px}
.failed .status{color:#f66} .done .status{color:#6f6} .skipped .status{color:#ccc} .error{color:#f99}
"""


def _html(rows: list[dict[str, Any]], records: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    t = summary
    facts = (
        f"{t['done']} made, {t['skipped']} already made, {t['failed']} failed of {t['stories']} · "
        f"{t['wall_seconds']} s · {t['shorts_per_hour'] or '–'} shorts an hour · "
        f"{t['cpu_seconds_per_short'] or '–'} CPU s a short · model loads: "
        + (", ".join(f"{k} {v}" for k, v in t["model_loads"].items()) or "none")
    )
    cards = "\n".join(_card(row, rec) for row, rec in zip(rows, records, strict=True))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>shortskit batch</title>'
        f"<style>{_STYLE}</style></head><body><h1>shortskit batch</h1>"
        f'<p class="totals">{html.escape(facts)}</p><div class="grid">\n{cards}\n</div>'
        f'<p><a href="summary.csv">summary.csv</a> · <a href="summary.json">summary.json</a></p></body></html>\n'
    )


def write_report(out_dir: Path, records: Sequence[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Path]:
    """Write summary.csv, summary.json and index.html into ``out_dir``; their paths.

    Each record gets the path of its poster frame (relative to ``out_dir``, "" when it has none).
    """
    rows = [_row(r, out_dir) for r in records]
    for record, row in zip(records, rows, strict=True):
        record["poster"] = row["poster"]
    paths = {name: out_dir / name for name in REPORT_FILES}
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    data = {"batch": summary, "stories": list(records)}
    texts = {
        "summary.csv": table.getvalue(),
        "summary.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        "index.html": _html(rows, records, summary),
    }
    secrets = secret_values()  # an error that quoted a key, whatever path it took to get here
    for name, text in texts.items():
        with atomic_path(paths[name]) as tmp:
            tmp.write_bytes(blank(text, secrets).encode("utf-8"))
    return paths


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a title like ``=HYPERLINK(...)`` must not become a formula."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value
