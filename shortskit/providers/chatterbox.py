"""Chatterbox in-process (``shortskit[chatterbox]``): a voice cloned from a short sample, on a GPU when there is one.

English speaks through ``chatterbox.tts.ChatterboxTTS``, 22 more languages through
``chatterbox.mtl_tts.ChatterboxMultilingualTTS``. A model loads at its first use, once per process
(:func:`shortskit.models.load_once`), and speaks one chunk at a time: narration is cut into sentence chunks of at
most 300 characters (longer calls garble), each seeded, joined by short silences at the model's 24 kHz. It gives
no word timings, so captions come from :func:`shortskit.alignment.words_for` (the aligner).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from shortskit.audio import write_wav
from shortskit.errors import ConfigError, InputFileError, ProviderError, ShortskitError, StoryError
from shortskit.models import gpu_turn, load_once, torch_device
from shortskit.providers.base import Speech
from shortskit.providers.chatterbox_patches import (
    PKUSEG_URL,
    clear_stale_hooks,
    from_pkuseg,
    pkuseg_missing,
    quiet_bars,
)
from shortskit.providers.chatterbox_patches import lazy_segmenter as _lazy_segmenter
from shortskit.providers.options import in_range
from shortskit.text import chunk_text
from shortskit.voicesample import is_voice_name, library_voice, prepare_sample, voice_library
from shortskit.workspace import default_workspace, file_digest

if TYPE_CHECKING:
    from shortskit.story import Story

__all__ = ["ENV_DIR", "INSTALL", "LANGUAGES", "PKUSEG_URL", "REPO", "ChatterboxVoice", "availability", "language_id"]

REPO = "ResembleAI/chatterbox"  # the Hugging Face repository from_pretrained downloads
# the Chinese segmenter's model (spacy-pkuseg), which the multilingual tokenizer fetches into $PKUSEG_HOME
ENV_DIR = "SHORTSKIT_CHATTERBOX_DIR"  # a local copy of REPO, for machines that cannot download it
INSTALL = 'pip install "shortskit[chatterbox]"'
# What ChatterboxMultilingualTTS speaks (chatterbox-tts 0.1.7's SUPPORTED_LANGUAGES); English has its own model.
LANGUAGES = (
    "ar", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "it", "ja", "ko", "ms", "nl", "no", "pl", "pt",
    "ru", "sv", "sw", "tr", "zh",
)  # fmt: skip
_ALIASES = {"nb": "no", "nn": "no", "iw": "he"}  # BCP-47 tags the model knows under another code
_DEVICES = ("auto", "cuda", "mps", "cpu")
_MIN_CFG = 1e-3  # cfg_weight 0 crashes ChatterboxTTS.generate (0.1.7); this is classifier-free guidance all but off
_OOM = (
    "chatterbox: the GPU ran out of memory (the model needs about 4 GB free): free it (close other notebooks "
    "or models, restart the kernel), or set the voice option device: cpu (far slower)"
)


@dataclass
class _Loaded:
    """A loaded model, shared by every render in the process."""

    model: Any  # ChatterboxTTS or ChatterboxMultilingualTTS
    built_in: Any  # its own voice (conds.pt): cloning replaces it, a story without a sample puts it back
    # One job at a time: the model keeps the voice it was last given, and the seed is process-wide.
    lock: threading.Lock = field(default_factory=threading.Lock)


def language_id(language: str) -> str | None:
    """The multilingual model's code for the BCP-47 ``language`` (``pt-BR`` -> ``pt``), None if it has none."""
    primary = language.replace("_", "-").split("-")[0].lower()
    primary = _ALIASES.get(primary, primary)
    return primary if primary in LANGUAGES else None


def _torch() -> Any:
    """torch, once ``chatterbox`` imports; else the ConfigError that says how to install it."""
    try:
        import chatterbox  # noqa: F401  (detects the extra; it imports torch itself)
        import torch
    except ImportError as exc:
        raise ConfigError(
            f"the chatterbox voice needs the chatterbox extra: {INSTALL}, then restart Python "
            f"(no module {exc.name or 'chatterbox'} here)"
        ) from None
    perth = sys.modules.get("perth")  # the watermarker chatterbox.tts imports
    if perth is not None and getattr(perth, "PerthImplicitWatermarker", True) is None:
        raise ConfigError(
            "chatterbox cannot build its model: its watermarker (resemble-perth) needs pkg_resources, which "
            'setuptools 81 removed: pip install "setuptools<81", then restart Python'
        )
    return torch


def _weights_dir(model_dir: str | None, base: Path | None) -> Path | None:
    """Where local weights are: the ``model_dir`` option (relative to ``base``, the story's folder), else
    $SHORTSKIT_CHATTERBOX_DIR, else None (the hub)."""
    if model_dir:
        path = Path(model_dir).expanduser()
        return path if path.is_absolute() or base is None else base / path
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else None


def availability() -> tuple[bool, str]:
    """Whether Chatterbox can clone here, and one sentence that says so truly (or says what to do)."""
    try:
        torch = _torch()
    except ConfigError as exc:
        return False, str(exc)
    device = torch_device("auto", torch, who="chatterbox")
    local = _weights_dir(None, None)
    weights = f"the local copy in {local}" if local else f"Hugging Face ({REPO}, about 3 GB, downloaded once)"
    speed = "" if device != "cpu" else " No GPU here: on the CPU each sentence takes minutes."
    return True, f"Chatterbox is installed; it loads on {device} at its first use, with weights from {weights}.{speed}"


class ChatterboxVoice:
    """The Chatterbox voice provider (see the module docstring)."""

    name: ClassVar[str] = "chatterbox"
    version: ClassVar[str] = "1"
    operator_hint: ClassVar[str] = f"${ENV_DIR}"  # where its weights are: the user's to set, never a story's
    max_concurrency: int = 1  # one job at a time per model, whatever the caller asks
    rate_per_minute: float | None = None

    def __init__(
        self,
        *,
        sample: str | None = None,
        exaggeration: float = 0.5,
        cfg_weight: float = 0.5,
        temperature: float = 0.8,
        seed: int = 0,
        device: str = "auto",
        model_dir: str | None = None,
        max_chars: int = 300,
        chunk_pause: float = 0.35,
    ) -> None:
        who = self.name
        if sample is not None and (not isinstance(sample, str) or not sample.strip()):
            raise ConfigError("chatterbox sample must be a saved voice's name or an audio file")
        self.sample = sample.strip() if sample else None  # a saved voice's name, or a file relative to the story
        self.exaggeration = float(in_range(exaggeration, "exaggeration", who, 0.0, 2.0))  # emotion intensity
        self.cfg_weight = float(in_range(cfg_weight, "cfg_weight", who, 0.0, 1.0))  # how closely it follows
        self.temperature = float(in_range(temperature, "temperature", who, 0.05, 5.0))  # sampling randomness
        self.seed = in_range(seed, "seed", who, 0, 2**32 - 1, integer=True)  # set before every chunk
        self.max_chars = in_range(max_chars, "max_chars", who, 50, 300, integer=True)  # characters a call
        self.chunk_pause = float(in_range(chunk_pause, "chunk_pause", who, 0.0, 2.0))  # seconds between chunks
        if device not in _DEVICES:
            raise ConfigError(f"chatterbox device must be one of {', '.join(_DEVICES)}, got {device!r}")
        if model_dir is not None and (not isinstance(model_dir, str) or not model_dir.strip()):
            raise ConfigError("chatterbox model_dir must be a folder holding a copy of " + REPO)
        self._torch = _torch()
        self.device = torch_device(device, self._torch, who="chatterbox")
        self.model_dir = model_dir
        self._weights: Path | None = _weights_dir(model_dir, None)
        self._prompt: Path | None = None  # the checked sample the model hears
        self._digest: str | None = None  # its content digest (part of the cache key)
        self._bound = False
        self._failed: str | None = None  # a model that would not load is not tried again by this provider

    # -- the story's sample ----------------------------------------------------------------------------------

    def bind(self, story: Story | None = None, workspace: str | Path | None = None) -> None:
        """Find and check ``sample``: a voice saved in ``workspace``'s library, or a file relative to ``story``.

        A story's file is checked (readable, at least 5 s, not silent) and converted once into the library's
        ``.samples`` folder. Raises :class:`StoryError` naming the story and ``voice.sample``.
        """
        ws = Path(workspace).expanduser() if workspace is not None else default_workspace()
        where: dict[str, Any] = {"file": story.source if story is not None else None, "field": "voice.sample"}
        self._weights = _weights_dir(self.model_dir, story.base_dir if story is not None else None)
        self._prompt = self._digest = None
        if self.sample is not None and is_voice_name(self.sample):
            try:
                self._prompt = library_voice(self.sample, workspace=ws)
            except ConfigError as exc:
                raise StoryError(str(exc), **where) from None
            self._digest = file_digest(self._prompt)
        elif self.sample is not None:
            # the voice library is the operator's: a story may name a file in it, and nothing outside its folder
            library = (voice_library(ws),)
            source = (
                story.resolve(self.sample, field="voice.sample", also=library)
                if story is not None
                else Path(self.sample).expanduser()
            )
            if not source.is_file():
                raise StoryError(f"voice sample file not found: {source.name}", **where)
            self._digest = file_digest(source)
            converted = voice_library(ws) / ".samples" / f"{self._digest}.wav"
            try:
                if not converted.is_file():
                    prepare_sample(source, converted)
            except InputFileError as exc:
                raise StoryError(exc.message, **where) from None
            except OSError as exc:
                raise ConfigError(f"cannot write the converted voice sample in {converted.parent}: {exc}") from None
            self._prompt = converted
        self._bound = True

    def _ready(self) -> None:
        if not self._bound:
            self.bind()

    def settings(self) -> dict[str, Any]:
        """Everything that changes the audio: the sample's content digest and every option.

        Not the device nor where the weights are: they change where the voice is made, not which voice.
        """
        self._ready()
        return {
            "sample": self._digest,
            "exaggeration": self.exaggeration,
            "cfg_weight": self.cfg_weight,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_chars": self.max_chars,
            "chunk_pause": self.chunk_pause,
            "package": _package_version(),
        }

    def check_language(self, language: str) -> None:
        """Raise :class:`ConfigError` before any work when Chatterbox does not speak ``language``."""
        if language_id(language) is None:
            raise ConfigError(f"chatterbox does not speak {language!r}; it speaks {', '.join(LANGUAGES)}")

    # -- speaking --------------------------------------------------------------------------------------------

    def load(self, language: str = "en") -> None:
        """Load the model that speaks ``language`` now rather than at its first use (a batch worker warming up)."""
        self.check_language(language)
        self._model(language_id(language) != "en")

    async def synthesize(self, text: str, out: Path, *, language: str) -> Speech:
        """Speak ``text`` in ``language`` into the 24 kHz mono WAV ``out`` (no word timings)."""
        if not text or not text.strip():
            raise ProviderError("nothing to say: the narration text is empty", provider=self.name, field="text")
        self.check_language(language)
        self._ready()
        chunks = chunk_text(text, max_chars=self.max_chars, language=language)
        return await asyncio.to_thread(self._speak, chunks, Path(out), language)

    def _speak(self, chunks: list[str], out: Path, language: str) -> Speech:
        code = language_id(language)
        lang = None if code == "en" else code  # English has a model of its own
        loaded = self._model(lang is not None)
        rate = int(getattr(loaded.model, "sr", 24_000))
        gap = np.zeros(round(self.chunk_pause * rate), dtype=np.float32)
        pieces: list[np.ndarray] = []
        for i, chunk in enumerate(chunks):
            if i:
                pieces.append(gap)
            pieces.append(self._generate(loaded, chunk, lang))
        samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        if not samples.size:
            raise ProviderError("Chatterbox produced no audio", provider=self.name, field="text")
        write_wav(out, samples, rate)
        meta = {"model": "multilingual" if lang else "english", "device": self.device, "chunks": len(chunks)}
        if self.sample is not None:
            meta["sample"] = self.sample
        return Speech(out, samples.size / rate, rate, None, meta)

    def _model(self, multilingual: bool) -> _Loaded:
        """The model for English or the other languages, loaded once per process (weights, device)."""
        if self._failed is not None:
            raise ConfigError(self._failed)
        where = self._weights

        def load() -> _Loaded:
            if multilingual:
                _lazy_segmenter()
                from chatterbox.mtl_tts import ChatterboxMultilingualTTS as model_class
            else:
                from chatterbox.tts import ChatterboxTTS as model_class
            with gpu_turn(self.device):  # processes sharing the GPU load and speak in turn
                if where is not None:
                    model = model_class.from_local(where, self.device)
                else:
                    model = model_class.from_pretrained(self.device)
            return _Loaded(model, getattr(model, "conds", None))

        kind = "multilingual" if multilingual else "english"
        key = (kind, str(where) if where is not None else f"hub:{REPO}", self.device)
        try:
            return load_once("chatterbox", key, load)
        except ShortskitError:
            raise
        except Exception as exc:
            err = self._load_error(exc, where, multilingual)
            if isinstance(err, ConfigError):
                self._failed = str(err)
            raise err from exc

    def _load_error(self, exc: Exception, where: Path | None, multilingual: bool) -> ShortskitError:
        what = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
        if self._is_oom(exc):
            return ConfigError(_OOM)
        if multilingual and from_pkuseg(exc):  # a package whose segmenter we could not make lazy
            return ConfigError(pkuseg_missing(exc))
        if where is not None:
            return ConfigError(
                f"chatterbox: cannot load the weights in {where} (a local copy of {REPO}, from ${ENV_DIR} "
                f"or model_dir given in Python): {what}"
            )
        if isinstance(exc, OSError):  # every Hugging Face hub failure is one, and so is a dropped connection
            extra = (
                " (the multilingual model also fetches its Chinese segmenter into ~/.pkuseg)" if multilingual else ""
            )
            return ConfigError(
                f"chatterbox: cannot download the model weights from Hugging Face ({REPO}){extra}: {what}. "
                f"Offline? Download them where there is a network (`hf download {REPO} --local-dir DIR`), then "
                f"set {ENV_DIR}=DIR (or pass model_dir=DIR in Python; a story cannot choose it)"
            )
        return ProviderError(f"the model did not load: {what}", provider=self.name)

    def _is_oom(self, exc: BaseException) -> bool:
        oom = getattr(self._torch, "OutOfMemoryError", None) or getattr(self._torch.cuda, "OutOfMemoryError", None)
        return oom is not None and isinstance(exc, oom)

    def _generate(self, loaded: _Loaded, text: str, lang: str | None) -> np.ndarray:
        options: dict[str, Any] = {
            "audio_prompt_path": str(self._prompt) if self._prompt is not None else None,
            "exaggeration": self.exaggeration,
            "cfg_weight": self.cfg_weight if lang else max(self.cfg_weight, _MIN_CFG),
            "temperature": self.temperature,
        }
        model = loaded.model
        with loaded.lock, gpu_turn(self.device):
            if self._prompt is None and loaded.built_in is not None:
                model.conds = loaded.built_in  # the model keeps the last voice it cloned: back to its own
            if lang:
                clear_stale_hooks(model)
                options["language_id"] = lang
            self._torch.manual_seed(self.seed)
            quiet_bars()
            try:
                # 0.1.7 warns (FutureWarning) and draws its own "Sampling" bar on every chunk: not for our
                # users' stderr; our progress events say how far a render is
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    wav = model.generate(text, **options)
            except ShortskitError:
                raise
            except Exception as exc:
                if self._is_oom(exc):
                    self._torch.cuda.empty_cache()
                    raise ConfigError(_OOM) from exc
                raise ProviderError(f"{type(exc).__name__}: {exc}", provider=self.name) from exc
        data = wav.detach().cpu().float().numpy() if hasattr(wav, "detach") else np.asarray(wav)
        return np.nan_to_num(np.asarray(data, dtype=np.float32).reshape(-1))


def _package_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chatterbox-tts")
    except PackageNotFoundError:
        return None
