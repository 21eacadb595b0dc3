"""What a batch will do: the stories found, a slug and a folder for each, their notebook parameters checked, and
the digest of everything that decides a story's outputs (a re-run skips the stories whose digest is unchanged).

Nothing here runs a notebook. Bad input (no story found, a bad ``-p``) is a :class:`~shortskit.errors.ConfigError`
before any work starts; a story that does not parse or validate is a job that carries its error, and fails alone.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shortskit._version import __version__
from shortskit.errors import ConfigError, StoryError
from shortskit.story import Story, load_story
from shortskit.workspace import file_digest

__all__ = [
    "BATCH_DIR",
    "DEFAULT_NOTEBOOK",
    "REPORT_FILES",
    "TOPIC_STORIES",
    "Job",
    "blank",
    "check_parameters",
    "find_stories",
    "inputs_digest",
    "is_secret_name",
    "make_jobs",
    "parse_value",
    "secret_values",
    "slugs_for",
    "written_by_batch",
]

STORY_SUFFIXES = (".json", ".yaml", ".yml")
# What a batch writes into OUTDIR besides a folder per story: never read back as stories.
REPORT_FILES = ("summary.csv", "summary.json", "index.html")
BATCH_DIR = ".batch"  # the batch's own state (the rate limits its jobs share)
TOPIC_STORIES = "_stories"  # stories written from --topics (no slug has an underscore)
# The notebook the batch runs per story: the one in the repository's notebooks/ folder.
DEFAULT_NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "make_short.ipynb"
SET_BY_BATCH = ("story", "output")  # parameters every job gets from the batch itself
NOT_IN_DIGEST = ("workspace",)  # parameters that change where the cache is, not what is made
_SECRET = re.compile(r"key|token|secret|passw|credential|auth", re.I)


@dataclass(frozen=True)
class Job:
    """One story to run: where its files go and the notebook parameters that make them."""

    slug: str  # the story's folder name under OUTDIR, unique in the batch
    story: Path  # the story file, absolute
    folder: Path  # OUTDIR/<slug>: the short, its sidecars, the executed notebook, job.json
    notebook: Path  # the parameterized notebook run for it
    parameters: dict[str, Any] = field(default_factory=dict)  # papermill parameters, story and output included
    digest: str = ""  # of the story, the files it uses, the parameters, the notebook and shortskit's version
    title: str = ""  # the story's title, for progress lines before the record has one
    error: str = ""  # why the story cannot run at all (it does not parse or validate): it fails alone, unrun
    failed_scenes: tuple[int, ...] = ()  # the scene that error is about, if any

    @property
    def video(self) -> Path:
        return self.folder / f"{self.slug}.mp4"

    @property
    def executed(self) -> Path:
        """The executed notebook: the record of the run, kept on failure too."""
        return self.folder / f"{self.slug}.ipynb"

    @property
    def result(self) -> Path:
        """What the notebook says happened (make_short.ipynb writes it beside the short)."""
        return self.folder / f"{self.slug}.result.json"

    @property
    def record(self) -> Path:
        """What the batch says happened (status, times, the failure), read back by a re-run."""
        return self.folder / "job.json"


def is_secret_name(name: str) -> bool:
    """True for a name that looks like it holds a credential (API_KEY, token, password, ...)."""
    return bool(_SECRET.search(name))


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of the environment's secret-looking variables (API keys, tokens), longest first."""
    env = os.environ if env is None else env
    found = {v.strip() for k, v in env.items() if is_secret_name(k) and len(v.strip()) >= 8}
    return sorted(found, key=len, reverse=True)


def written_by_batch(path: Path, out_dir: Path) -> str | None:
    """What ``path`` is when a batch into ``out_dir`` wrote it (its report, its state, a story written from
    topics, a file of a story's folder); None for any other file. Both paths absolute."""
    try:
        parts = path.relative_to(out_dir).parts
    except ValueError:
        return None
    if len(parts) == 1:
        return "the batch's report" if parts[0] in REPORT_FILES else None
    if parts[0] == BATCH_DIR:
        return "the batch's own state"
    if parts[0] == TOPIC_STORIES:
        return "a story the batch wrote from --topics (--topics renders it)"
    folder = out_dir / parts[0]  # a story's folder: it holds the job's record, its notebook or its result
    kept = ("job.json", f"{folder.name}.ipynb", f"{folder.name}.result.json")
    return f"a file of the story folder {parts[0]}/" if any((folder / n).is_file() for n in kept) else None


def _is_story_file(path: Path, out_dir: Path | None) -> bool:
    if path.suffix.lower() not in STORY_SUFFIXES or not path.is_file():
        return False
    return out_dir is None or written_by_batch(path.resolve(), out_dir) is None


def blank(text: str, secrets: Sequence[str]) -> str:
    """``text`` with each of ``secrets`` (see :func:`secret_values`) replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def find_stories(items: Iterable[str | Path], *, out_dir: Path | None = None) -> list[Path]:
    """Story files from files, folders of them and glob patterns.

    A folder (not recursive) or a glob gives its ``.json``/``.yaml``/``.yml`` files only, leaving out the files
    a batch into ``out_dir`` (absolute) writes; a file named explicitly is taken as given, unless it is one of
    those (then a :class:`ConfigError`).
    """
    found: list[Path] = []
    for item in items:
        text = str(item)
        path = Path(text).expanduser()
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if _is_story_file(p, out_dir))
            if not matches:
                raise ConfigError(f"no story files (.json, .yaml) in folder {path}")
        elif any(ch in text for ch in "*?["):
            globbed = map(Path, glob.glob(str(path), recursive=True))
            matches = sorted(p for p in globbed if _is_story_file(p, out_dir))
            if not matches:
                raise ConfigError(f"no story files (.json, .yaml) match {text}")
        elif path.is_file():
            matches = [path]
            what = written_by_batch(path.resolve(), out_dir) if out_dir is not None else None
            if what:
                raise ConfigError(f"{text} is {what}, not a story to render")
        else:
            raise ConfigError(f"story file not found: {text}")
        found += [m.resolve() for m in matches]
    unique = list(dict.fromkeys(found))
    if not unique:
        raise ConfigError("no stories given")
    return unique


def slugs_for(stories: Sequence[Path]) -> list[str]:
    """A folder name per story: its file name's stem, made unique with a digest of its path where stems repeat."""
    stems = [re.sub(r"[^a-z0-9]+", "-", p.stem.lower()).strip("-") or "story" for p in stories]
    return [
        f"{s}-{hashlib.sha256(str(p).encode()).hexdigest()[:6]}" if stems.count(s) > 1 else s
        for s, p in zip(stems, stories, strict=True)
    ]


def parse_value(text: str) -> Any:
    """A ``-p`` value as papermill's own command line reads it: True/False/None, a number, else text."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text in ("None", "none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _inspect(notebook: Path) -> dict[str, Any]:
    try:
        import papermill
    except ImportError:
        raise ConfigError("batch runs need papermill: pip install 'shortskit[notebook]'") from None
    if not notebook.is_file():
        raise ConfigError(f"notebook not found: {notebook}")
    try:
        return dict(papermill.inspect_notebook(str(notebook)))
    except Exception as exc:  # papermill's own errors, or not a notebook at all
        raise ConfigError(f"cannot read the notebook {notebook}: {exc}") from None


def check_parameters(pairs: Iterable[tuple[str, Any]], notebook: Path) -> dict[str, Any]:
    """``-p KEY VALUE`` pairs checked against the notebook's ``parameters`` cell (names, types, known values)."""
    declared = _inspect(notebook)
    for name in SET_BY_BATCH:
        if name not in declared:
            raise ConfigError(f"{notebook.name} has no {name!r} parameter: a batch notebook needs story and output")
    params: dict[str, Any] = {}
    secrets = secret_values()
    for key, raw in pairs:
        value = parse_value(raw) if isinstance(raw, str) else raw
        if is_secret_name(key) or (isinstance(value, str) and value.strip() in secrets):
            raise ConfigError(f"-p {key}: keys come from the environment of the workers, never as parameters")
        if key in SET_BY_BATCH:
            raise ConfigError(f"-p {key}: the batch sets {key} for each story itself")
        if key not in declared:
            valid = ", ".join(n for n in declared if n not in SET_BY_BATCH)
            raise ConfigError(f"-p {key}: {notebook.name} has no such parameter; valid: {valid}")
        default = declared[key].get("inferred_type_name", "None")
        if value is not None and default in ("str", "int", "float", "bool"):
            ok = type(value).__name__ == default or (default == "float" and isinstance(value, int))
            if default == "str" and not ok:
                value, ok = raw if isinstance(raw, str) else str(raw), True  # "-p voice 42": the text 42
            if not ok:
                raise ConfigError(f"-p {key}: expected a {default}, got {raw!r}")
        params[key] = value
    _check_known(params, notebook)
    if isinstance(params.get("workspace"), str):  # the kernels run in the notebook's folder, not here
        params["workspace"] = str(Path(params["workspace"]).expanduser().resolve())
    return params


def _check_known(params: dict[str, Any], notebook: Path) -> None:
    """The values make_short.ipynb's parameters can take (another notebook's are its own business)."""
    if notebook.resolve() != DEFAULT_NOTEBOOK:
        return
    from shortskit.providers import image_names, voice_names

    quality = params.get("quality")
    if quality is not None and quality not in ("draft", "preview", "production"):
        raise ConfigError(f"-p quality: {quality!r} is not one of draft, preview, production")
    for key, names in (("voice", voice_names()), ("images", image_names())):
        value = params.get(key)
        if value is not None and value not in names:
            raise ConfigError(f"-p {key}: unknown provider {value!r}; valid: {', '.join(names)}")


def inputs_digest(story_file: Path, story: Story, parameters: dict[str, Any], notebook: Path) -> str:
    """The digest of everything that decides a story's outputs (its own path and output folder excluded)."""
    files = {str(p): file_digest(p) if p.is_file() else "missing" for _, p in story.local_files()}
    kept = {k: v for k, v in parameters.items() if k not in (*SET_BY_BATCH, *NOT_IN_DIGEST)}
    blob = json.dumps(
        [file_digest(story_file), files, kept, file_digest(notebook), __version__], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def make_jobs(
    stories: Sequence[Path],
    out_dir: Path,
    *,
    notebook: Path,
    parameters: dict[str, Any] | None = None,
    allow_dirs: Sequence[str | Path] = (),
) -> list[Job]:
    """One checked job per story. Each story is loaded: one that does not parse or validate, or names a file
    outside its folder and ``allow_dirs``, is a job with its ``error`` (naming the file, and the scene and
    field), to be reported as failed without running."""
    params = dict(parameters or {})
    jobs = []
    for path, slug in zip(stories, slugs_for(stories), strict=True):
        folder = out_dir / slug
        own = {**params, "story": str(path), "output": str(folder / f"{slug}.mp4")}
        try:
            story = load_story(path).with_allowed_dirs(allow_dirs)
            digest = inputs_digest(path, story, own, notebook)
        except StoryError as exc:
            why, scenes = str(exc).splitlines()[0], (exc.scene,) if exc.scene else ()
            jobs.append(Job(slug, path, folder, notebook, own, error=why, failed_scenes=scenes))
            continue
        jobs.append(Job(slug, path, folder, notebook, own, digest, story.title))
    return jobs
