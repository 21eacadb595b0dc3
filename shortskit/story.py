"""The story model: scenes plus voice, image, caption, music and output settings; load, save, validate.

A story file is JSON or YAML. Only ``title``, ``language`` and ``scenes`` (each with ``text`` and an
``image_prompt`` or ``image``) are required; every other field has a documented default. Errors name the
file, the scene as a person counts it (1-based) and the field: ``bad.json: scene 2: text: must not be empty``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from shortskit import bounds
from shortskit.confine import OUTSIDE, allowed_roots, inside, roots_of
from shortskit.errors import StoryError
from shortskit.safetext import font_name
from shortskit.storyfile import read_story_file

__all__ = [
    "CaptionStyle",
    "ImageSettings",
    "MusicSettings",
    "OutputSettings",
    "Scene",
    "Story",
    "VoiceSettings",
    "load_story",
    "parse_story",
    "save_story",
    "story_schema",
    "story_text",
]

# matched in full (``fullmatch``): ``$`` alone would let a trailing newline through
_LANG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,5}")
_COLOR = re.compile(r"#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})")


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty")
    return v.strip()


# Text a person must write: surrounding whitespace dropped, and not empty after that.
_Text = Annotated[str, AfterValidator(_not_blank)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class _ProviderSettings(BaseModel):
    # Provider options vary by provider, so extra keys are allowed and handed to the provider as options.
    model_config = ConfigDict(extra="allow", validate_assignment=True)

    provider: str = Field(description="Registered provider name.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider options (may also be given at this level)."
    )

    def provider_options(self) -> dict[str, Any]:
        """The options to build the provider with: ``options`` plus any extra keys at this level."""
        return {**(self.model_extra or {}), **self.options}


class VoiceSettings(_ProviderSettings):
    """Which voice speaks the narration. Extra keys (``voice``, ``rate``, ``pitch``, ...) go to the provider."""

    provider: str = Field(
        "espeak", description="Voice provider: espeak (offline default), chatterbox (cloning), openai, kokoro, ..."
    )


class ImageSettings(_ProviderSettings):
    """How scene pictures are made from prompts. Extra keys go to the provider."""

    provider: str = Field("procedural", description="Image provider: procedural (offline default), ...")
    width: int = Field(1080, ge=64, le=4096, description="Width asked of the provider, pixels.")
    height: int = Field(1920, ge=64, le=4096, description="Height asked of the provider, pixels.")
    seed: int = Field(0, description="Base seed; scene N uses seed + N - 1.")


class CaptionStyle(_Model):
    """Word-level burned-in captions. Sizes are pixels at 1080 wide and scale with the output."""

    enabled: bool = Field(True, description="Burn captions into the video.")
    max_words: int = Field(3, ge=1, le=12, description="Most words shown at once.")
    max_chars: int = Field(18, ge=4, le=80, description="Most characters in one caption group.")
    font: Annotated[str, AfterValidator(font_name)] = Field(
        "League Spartan", description="Font family name (the shipped font by default)."
    )
    font_file: str | None = Field(
        None, description="A .ttf/.otf file to use instead of the shipped font (relative to the story)."
    )
    size: int = Field(120, ge=8, le=400, description="Font size in pixels at 1080 wide.")
    bold: bool = Field(True, description="Use the bold face.")
    uppercase: bool = Field(False, description="Show captions in capitals.")
    color: str = Field("#FFFFFF", description="Text colour, #RRGGBB or #RRGGBBAA.")
    highlight: bool = Field(True, description="Colour the word being spoken.")
    highlight_color: str = Field("#FFE14D", description="Colour of the word being spoken.")
    stroke: float = Field(5, ge=0, le=40, description="Outline width in pixels.")
    stroke_color: str = Field("#000000", description="Outline colour.")
    shadow: float = Field(10, ge=0, le=60, description="Shadow offset in pixels.")
    shadow_color: str = Field("#00000099", description="Shadow colour (alpha from the last two digits).")
    position: Literal["top", "center", "bottom"] = Field("bottom", description="Where captions sit.")
    margin: int = Field(
        520, ge=0, le=1800, description="Distance from the top/bottom edge in pixels (ignored for center)."
    )
    pop: bool = Field(False, description="Enlarge the word being spoken a little (110%).")

    @field_validator("color", "highlight_color", "stroke_color", "shadow_color")
    @classmethod
    def _check_color(cls, v: str) -> str:
        if not _COLOR.fullmatch(v):
            raise ValueError("must be a colour like #FFFFFF or #FFFFFF80")
        return v.upper()


class MusicSettings(_Model):
    """Background music, mixed under the voice."""

    enabled: bool = Field(True, description="Mix background music under the narration.")
    file: str | None = Field(
        None, description="Music file (relative to the story); default: a bed generated by shortskit."
    )
    mood: Literal["calm", "upbeat"] = Field("calm", description="Mood of the generated bed.")
    volume: float = Field(
        0.35, ge=0, le=2, description="Music gain before ducking (1 = as is), when output.loudness is null."
    )
    duck: bool = Field(True, description="Lower the music while the voice speaks.")
    fade_in: float = Field(1.0, ge=0, le=10, description="Seconds of fade-in at the start.")
    fade_out: float = Field(1.5, ge=0, le=10, description="Seconds of fade-out at the end.")
    level: float = Field(
        -13.0,
        ge=-40,
        le=0,
        description="Loudness of the music under the voice, in LU (with output.loudness; ducking takes ~11 dB more "
        "while the voice speaks).",
    )


class OutputSettings(_Model):
    """The finished video."""

    width: int = Field(1080, ge=144, le=4320, description="Video width; must be even.")
    height: int = Field(1920, ge=256, le=7680, description="Video height; must be even.")
    fps: int = Field(30, ge=10, le=60, description="Frames per second.")
    quality: Literal["draft", "preview", "production"] = Field(
        "production", description="Encoder preset: draft (fast, small), preview, production."
    )
    motion: Literal["auto", "zoom_in", "zoom_out", "pan_left", "pan_right", "none"] = Field(
        "auto", description="Ken Burns motion; auto alternates per scene."
    )
    zoom: float = Field(0.10, ge=0, le=0.5, description="How far the Ken Burns motion zooms (0.1 = 10%).")
    encoder: Literal["auto", "libx264", "h264_nvenc"] = Field(
        "auto", description="auto uses h264_nvenc when a usable NVIDIA GPU is present."
    )
    loudness: float | None = Field(
        -14.0,
        ge=-40,
        le=-5,
        description="Integrated loudness of the short in LUFS (YouTube, TikTok and Instagram play at about -14); "
        "null leaves the voices and music as they come.",
    )

    @field_validator("width", "height")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be even (H.264 with yuv420p needs even sizes)")
        return v


class Scene(_Model):
    """One scene: narration plus a picture (from a prompt, or a local file)."""

    text: _Text = Field(description="Narration spoken in this scene.", max_length=bounds.MAX_SCENE_CHARS)
    image_prompt: str | None = Field(None, description="Prompt for the image provider.")
    image: str | None = Field(None, description="A local picture instead of a prompt (relative to the story).")
    pause: float | None = Field(
        None, ge=0, le=10, description="Seconds of silence after the narration (default: story's pause)."
    )
    motion: Literal["auto", "zoom_in", "zoom_out", "pan_left", "pan_right", "none"] | None = Field(
        None, description="Ken Burns motion for this scene (default: output.motion)."
    )
    audio: str | None = Field(
        None,
        description="Your own recording of this scene's text (relative to the story), heard instead of the "
        "voice provider; its captions come from the aligner and the scene lasts as long as it.",
    )

    @field_validator("image_prompt", "image", "audio")
    @classmethod
    def _blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty (leave it out instead)")
        return v.strip() if v is not None else None

    @model_validator(mode="after")
    def _picture(self) -> Scene:
        if self.image_prompt is None and self.image is None:
            raise ValueError("needs an image_prompt or an image")
        return self


class Story(_Model):
    """A short: a titled list of scenes in one language, and how to voice, picture and render them."""

    title: _Text = Field(description="Title of the short.", max_length=bounds.MAX_PROMPT_CHARS)
    language: str = Field(description="BCP-47 language tag of the narration, e.g. en, es, pt-BR.")
    scenes: list[Scene] = Field(description="The scenes, in order.", min_length=1, max_length=bounds.MAX_SCENES)
    description: str | None = Field(None, description="Description for upload (optional).")
    hashtags: list[str] = Field(default_factory=list, description="Hashtags for upload (optional).")
    pause: float = Field(0.4, ge=0, le=10, description="Default seconds of silence after each scene.")
    voice: VoiceSettings = Field(default_factory=VoiceSettings, description="Narration voice.")
    images: ImageSettings = Field(default_factory=ImageSettings, description="Scene pictures.")
    captions: CaptionStyle = Field(default_factory=CaptionStyle, description="Caption style.")
    music: MusicSettings = Field(default_factory=MusicSettings, description="Background music.")
    output: OutputSettings = Field(default_factory=OutputSettings, description="The video file.")

    # Folder relative paths (scene images, music, fonts) are resolved against; the story file's folder.
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str | None = PrivateAttr(default=None)
    _path: Path | None = PrivateAttr(default=None)
    # Folders besides its own the operator lets this story read files from (render's allow_dirs, --allow-dir).
    _allowed: tuple[Path, ...] = PrivateAttr(default=())

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if not _LANG.fullmatch(v):
            raise ValueError("must be a BCP-47 language tag like en, es or pt-BR")
        return v

    @model_validator(mode="after")
    def _narration_length(self) -> Story:
        bounds.check_narration([s.text for s in self.scenes])
        return self

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the story are resolved against."""
        return self._base_dir

    @property
    def source(self) -> str | None:
        """The file this story was loaded from (for error messages), if any."""
        return self._source

    @property
    def path(self) -> Path | None:
        """The story file's absolute path, when it was loaded from one."""
        return self._path

    def with_source(self, path: str | Path | None, base_dir: str | Path | None = None) -> Story:
        """Record where the story came from; relative paths resolve against ``base_dir`` (default: its folder)."""
        if path is not None:
            self._source = Path(path).name
            self._path = Path(path).resolve()
            self._base_dir = Path(base_dir) if base_dir else Path(path).resolve().parent
        elif base_dir is not None:
            self._base_dir = Path(base_dir)
        return self

    def with_allowed_dirs(self, dirs: Iterable[str | Path]) -> Story:
        """Let the story also read files under ``dirs`` (the operator's choice, never the story's)."""
        self._allowed = tuple(dict.fromkeys([*self._allowed, *roots_of(dirs)]))
        return self

    def resolve(
        self, relative: str | Path, *, field: str | None = None, scene: int | None = None, also: Sequence[Path] = ()
    ) -> Path:
        """The absolute path (links followed) of a file named in ``field`` (of ``scene``); :mod:`shortskit.confine`
        says where it may be (``also``: the operator's folders too); else a StoryError that never shows the path."""
        path = inside(self._base_dir, relative, [*allowed_roots(self._base_dir, self._allowed), *roots_of(also)])
        if path is None:
            raise StoryError(OUTSIDE, file=self.source, scene=scene, field=field)
        return path

    def local_files(self) -> list[tuple[str, Path]]:
        """The files the story reads, each with what it is ("scene 2's audio", "music.file"), through :meth:`resolve`."""
        named = [(f"scene {n}'s {f}", n, f, getattr(s, f)) for n, s in enumerate(self.scenes, 1) for f in ("image", "audio")]  # fmt: skip
        named += [(f, None, f, v) for f, v in (("music.file", self.music.file), ("captions.font_file", self.captions.font_file))]  # fmt: skip
        return [(what, self.resolve(value, field=field, scene=n)) for what, n, field, value in named if value]

    def scene_pause(self, index: int) -> float:
        """Seconds of silence after scene ``index`` (0-based)."""
        p = self.scenes[index].pause
        return self.pause if p is None else p

    def words(self) -> list[str]:
        """Every word of the narration, in order, as written."""
        return [w for s in self.scenes for w in s.text.split()]


# -- loading -------------------------------------------------------------------------------------------

_FRIENDLY = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "too_short": "must not be empty",
    "too_long": "has too many items",
    "string_too_long": "is too long",
}


def _error_from_validation(exc: ValidationError, file: str | None) -> StoryError:
    first = exc.errors()[0]
    loc = list(first["loc"])
    scene: int | None = None
    if len(loc) >= 2 and loc[0] == "scenes" and isinstance(loc[1], int):
        scene = loc[1] + 1
        loc = loc[2:]
    field = ".".join(str(p) for p in loc) or None
    kind = first["type"]
    if field is None and scene is not None and kind == "value_error":
        field = "image_prompt"  # the only scene-wide rule: a picture source is required
    if kind == "value_error":
        msg = str(first.get("ctx", {}).get("error", first["msg"]))
    elif kind == "literal_error":
        msg = f"must be one of {first.get('ctx', {}).get('expected', '')}"
    elif kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        msg = first["msg"].replace("Input should be", "must be")
    else:
        msg = _FRIENDLY.get(kind, first["msg"])
        if kind in ("too_long", "string_too_long") and "max_length" in first.get("ctx", {}):
            unit = "items" if kind == "too_long" else "characters"
            msg += f" (at most {first['ctx']['max_length']} {unit})"
        if kind.endswith("_type") and "input" in first:
            msg += f" (got {type(first['input']).__name__})"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    err = StoryError(msg, file=file, scene=scene, field=field)
    err.all_errors = exc.errors()  # type: ignore[attr-defined]
    return err


def parse_story(data: Any, *, source: str | Path | None = None, base_dir: str | Path | None = None) -> Story:
    """Build a :class:`Story` from already-parsed data (a dict), raising :class:`StoryError` if invalid."""
    name = Path(source).name if source is not None else None
    if not isinstance(data, dict):
        raise StoryError(f"must be an object with title, language and scenes (got {type(data).__name__})", file=name)
    bounds.check_shape(data, name)
    try:
        story = Story.model_validate(data)
    except ValidationError as exc:
        raise _error_from_validation(exc, name) from None
    return story.with_source(source, base_dir)


def load_story(path: str | Path) -> Story:
    """Load and validate a story from a JSON or YAML file (``.yaml``/``.yml`` are YAML, anything else JSON)."""
    path = Path(path)
    return bounds.one_line(path.name, lambda: parse_story(read_story_file(path), source=path))


def story_text(story: Story, *, yaml_format: bool = False) -> str:
    """``story`` as JSON (or YAML) text, leaving out settings left at their default."""
    data = story.model_dump(mode="json", exclude_defaults=True)
    data = {"title": story.title, "language": story.language, **data}
    if yaml_format:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def save_story(story: Story, path: str | Path) -> Path:
    """Write ``story`` to ``path`` atomically as JSON or YAML (by extension), defaults left out."""
    from shortskit.workspace import atomic_path

    path = Path(path)
    text = story_text(story, yaml_format=path.suffix.lower() in {".yaml", ".yml"})
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def story_schema() -> dict[str, Any]:
    """The JSON Schema of a story file."""
    schema = Story.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "shortskit story"
    return schema
