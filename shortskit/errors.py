"""The exceptions shortskit raises: one root, a few kinds that carry where the problem is.

    ShortskitError                 root; ``str(err)`` is one line a person can act on
    ├── StoryError                 bad story or settings: ``file``, ``scene`` (1-based), ``field``
    ├── ConfigError                bad option or environment (unknown provider, missing extra)
    ├── ProviderError              a provider failed: ``provider``, ``scene``, ``status``, ``retryable``
    │   ├── InputFileError         a file we were given is unreadable (corrupt image, voice sample)
    │   └── ForbiddenAddressError  a URL the story chose leads to an internal address (the operator's)
    ├── RenderError                ffmpeg (or moviepy) failed; ``stderr`` keeps ffmpeg's own words
    ├── AlignmentError             words could not be placed in an audio file
    │   ├── NoSpeechError          the audio holds no speech (silence, music only)
    │   └── TextMismatchError      the audio does not say the text (the wrong file?)
    ├── ScenesFailedError          some scenes of a render failed: ``errors``, one per failure
    └── PublishError               a platform refused or failed an upload: ``platform``, ``status``, ``short``
        ├── LoginError             no usable login for a channel (never made, expired or revoked)
        └── QuotaExceededError     the platform's daily quota is spent: ``left`` shorts, ``resets_at``

User mistakes (StoryError, ConfigError, InputFileError, ForbiddenAddressError) map to exit code 2 in the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "AlignmentError",
    "ConfigError",
    "ForbiddenAddressError",
    "InputFileError",
    "LoginError",
    "NoSpeechError",
    "ProviderError",
    "PublishError",
    "QuotaExceededError",
    "RenderError",
    "ScenesFailedError",
    "ShortskitError",
    "StoryError",
    "TextMismatchError",
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


class _Located(ShortskitError):
    """An error about a place in the user's input: ``file``, ``scene`` (1-based, as a person counts) and
    ``field`` (a dotted path inside the scene or story), each when known, lead its message."""

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
        super().__init__(self._format())

    def _format(self) -> str:
        where = _where(self.file, self.scene, self.field)
        return f"{where}: {self.message}" if where else self.message


class StoryError(_Located, ValueError):
    """The story (or one of its settings) is invalid."""


class ConfigError(ShortskitError, ValueError):
    """An option, provider name, missing extra or environment variable is wrong."""

    exit_code = 2


class ProviderError(_Located):
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
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(message, scene=scene, field=field)

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        # A rejected key or request (400/401/403) is the user's to fix, like a bad story.
        user = isinstance(self, (InputFileError, ForbiddenAddressError))
        return 2 if self.status in (400, 401, 403) or user else 1

    def _format(self) -> str:
        return f"{self.provider}: {super()._format()}"

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


class ForbiddenAddressError(ProviderError):
    """A URL the story chose (its ``base_url``, a picture link a server gave) leads to a loopback, private,
    link-local or metadata address: only the operator may point shortskit there. Never retried."""


class RenderError(ShortskitError):
    """Rendering failed; ``stderr`` holds the tail of ffmpeg's own message."""

    def __init__(self, message: str, *, stderr: str = "", scene: int | None = None) -> None:
        self.message = message
        self.stderr = stderr
        self.scene = scene
        prefix = f"scene {scene}: " if scene is not None else ""
        tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        super().__init__(f"{prefix}{message}" + (f" (ffmpeg: {tail})" if tail else ""))


class AlignmentError(_Located):
    """Words could not be placed in an audio file; ``file`` names it when known."""


class NoSpeechError(AlignmentError):
    """The audio holds no speech: silence, a steady noise, or music only."""


class TextMismatchError(AlignmentError):
    """The audio does not say the text it was given (the wrong file, or garbled speech)."""


class ScenesFailedError(ShortskitError):
    """Some scenes failed; the others' finished work stays in the workspace for the next run.

    ``errors`` holds every failure (a scene whose picture and voice both failed gives two); the exit code is
    2 when every one of them is the user's to fix (a bad file, a rejected key), else 1.
    """

    def __init__(self, errors: Sequence[ShortskitError]) -> None:
        self.errors = list(errors)
        self.exit_code = 2 if all(getattr(e, "exit_code", 1) == 2 for e in self.errors) else 1
        parts = [_same_failure(group) for group in _grouped(self.errors)]
        if len(parts) == 1 or len(self.errors) == 1:
            msg = "; ".join(parts)
        else:
            msg = f"{len({getattr(e, 'scene', None) for e in self.errors})} scenes failed: " + "; ".join(parts)
        super().__init__(msg)


class PublishError(ShortskitError):
    """A platform refused or failed a request; ``status`` is its HTTP status, ``short`` the short's name."""

    def __init__(
        self, message: str, *, platform: str = "youtube", status: int | None = None, short: str | None = None
    ) -> None:
        self.message, self.platform, self.status, self.short = message, platform, status, short
        super().__init__(f"{platform}: {short + ': ' if short else ''}{message}")


class LoginError(PublishError):
    """No usable login for a channel: never made, expired or revoked. The message says how to log in again."""

    exit_code = 2


class QuotaExceededError(PublishError):
    """The platform's daily quota is spent: ``left`` shorts wait for ``resets_at`` (an aware datetime)."""

    def __init__(self, message: str, *, left: int, resets_at: object, platform: str = "youtube") -> None:
        self.left, self.resets_at = left, resets_at
        super().__init__(message, platform=platform, status=403)


def _grouped(errors: Sequence[ShortskitError]) -> list[list[ShortskitError]]:
    """The errors, those that are one failure in many scenes (one rejected key, say) put together."""
    groups: dict[tuple[object, ...], list[ShortskitError]] = {}
    for e in errors:
        # one missing model or full GPU fails every scene with the same words: say it once
        same = (type(e), e.provider, e.field, e.message) if isinstance(e, ProviderError) else (type(e), str(e))
        groups.setdefault(same, []).append(e)
    return list(groups.values())


def _same_failure(group: list[ShortskitError]) -> str:
    first = group[0]
    if len(group) == 1 or not isinstance(first, ProviderError):
        return str(first)
    scenes = sorted({e.scene for e in group if isinstance(e, ProviderError) and e.scene is not None})
    where = f" (scenes {', '.join(map(str, scenes))})" if scenes else ""
    return str(first.replace(scene=None)) + where


def failed_scenes(exc: BaseException) -> list[int]:
    """The scenes (1-based) an error is about: each failed scene of a ScenesFailedError, or the error's own."""
    errors = exc.errors if isinstance(exc, ScenesFailedError) else [exc]
    return sorted({s for e in errors if isinstance(s := getattr(e, "scene", None), int)})
