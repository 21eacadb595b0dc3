"""The exceptions shortskit raises: one root, a few kinds that carry where the problem is.

    ShortskitError                 root; ``str(err)`` is one line a person can act on
    ├── StoryError                 bad story or settings: ``file``, ``scene`` (1-based), ``field``
    ├── ConfigError                bad option or environment (unknown provider, missing extra)
    ├── ProviderError              a provider failed: ``provider``, ``scene``, ``status``, ``retryable``
    │   └── InputFileError         a file we were given is unreadable (corrupt image, voice sample)
    ├── RenderError                ffmpeg (or moviepy) failed; ``stderr`` keeps ffmpeg's own words
    └── ScenesFailedError          some scenes of a render failed: ``errors``, one per failure

User mistakes (StoryError, ConfigError, InputFileError) map to exit code 2 in the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "ConfigError",
    "InputFileError",
    "ProviderError",
    "RenderError",
    "ScenesFailedError",
    "ShortskitError",
    "StoryError",
    "failed_scenes",
]


def _where(file: str | Path | None, scene: int | None, field: str | None) -> str:
    parts = []
    if file is not None:
        parts.append(Path(file).name if isinstance(file, Path) else str(file))
    if scene is not None:
        parts.append(f"scene {scene}")
    if field:
        parts.append(field)
    return ": ".join(parts)


class ShortskitError(Exception):
    """Root of every error shortskit raises on purpose."""

    #: exit code the CLI uses for this error
    exit_code: int = 1


class StoryError(ShortskitError, ValueError):
    """The story (or one of its settings) is invalid.

    ``scene`` counts from 1, as a person counts; ``field`` is a dotted path inside the scene or story.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        scene: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.scene = scene
        self.field = field
        where = _where(file, scene, field)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(ShortskitError, ValueError):
    """An option, provider name, missing extra or environment variable is wrong."""

    exit_code = 2


class ProviderError(ShortskitError):
    """A provider (image, voice, writer) failed to make an artefact.

    ``retryable`` marks failures a later try may not have (429, 5xx, timeouts); ``retry_after`` is the wait
    in seconds the server asked for, if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        scene: int | None = None,
        field: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.provider = provider
        self.scene = scene
        self.field = field
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(self._format())

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        # A rejected key or request (400/401/403) is the user's to fix, like a bad story.
        return 2 if self.status in (400, 401, 403) or isinstance(self, InputFileError) else 1

    def _format(self) -> str:
        where = _where(None, self.scene, self.field)
        prefix = f"{self.provider}: {where}" if where else self.provider
        return f"{prefix}: {self.message}"

    def for_scene(self, scene: int) -> ProviderError:
        """A copy of this error that names ``scene`` (providers do not know which scene they serve)."""
        return self.replace(scene=scene)

    def replace(self, **changes: object) -> ProviderError:
        """A copy with some attributes changed (exceptions do not copy through ``copy.copy``)."""
        err = type(self).__new__(type(self))
        err.__dict__.update(self.__dict__, **changes)
        err.args = (err._format(),)
        err.__traceback__ = self.__traceback__
        return err


class InputFileError(ProviderError):
    """A file the user gave us (an image, a voice sample, music) cannot be read."""


class RenderError(ShortskitError):
    """Rendering failed; ``stderr`` holds the tail of ffmpeg's own message."""

    def __init__(self, message: str, *, stderr: str = "", scene: int | None = None) -> None:
        self.message = message
        self.stderr = stderr
        self.scene = scene
        prefix = f"scene {scene}: " if scene is not None else ""
        tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        super().__init__(f"{prefix}{message}" + (f" (ffmpeg: {tail})" if tail else ""))


class ScenesFailedError(ShortskitError):
    """Some scenes failed; the others' finished work stays in the workspace for the next run.

    ``errors`` holds every failure (a scene whose picture and voice both failed gives two); the exit code is
    2 when every one of them is the user's to fix (a bad file, a rejected key), else 1.
    """

    def __init__(self, errors: Sequence[ShortskitError]) -> None:
        self.errors = list(errors)
        self.exit_code = 2 if all(getattr(e, "exit_code", 1) == 2 for e in self.errors) else 1
        if len(self.errors) == 1:
            msg = str(self.errors[0])
        else:
            scenes = {getattr(e, "scene", None) for e in self.errors}
            what = f"{len(scenes)} scenes" if None not in scenes else f"{len(self.errors)} steps"
            msg = f"{what} failed: " + "; ".join(str(e) for e in self.errors)
        super().__init__(msg)


def failed_scenes(exc: BaseException) -> list[int]:
    """The scenes (1-based) an error is about: each failed scene of a ScenesFailedError, or the error's own."""
    errors = exc.errors if isinstance(exc, ScenesFailedError) else [exc]
    return sorted({s for e in errors if isinstance(s := getattr(e, "scene", None), int)})
