"""Pictures made in-process by a diffusers text-to-image pipeline (``shortskit[diffusers]``), on a GPU when there is one.

The story chooses the model by its Hugging Face id and how it paints (``steps``, ``guidance``, ``negative_prompt``;
the seed is ``images.seed``). Where the weights are and how the GPU's memory is used are the operator's:
:class:`DiffusersSetup`, from ``$SHORTSKIT_DIFFUSERS_*`` or ``render(setup={"diffusers": ...})``, never a story. A
pipeline loads once per process (:func:`shortskit.models.load_once`), paints one picture at a time at a 9:16 size
the model handles well, taking its turn on a GPU shared with other processes (:func:`shortskit.models.gpu_turn`),
and the picture is cover-cropped to the frame.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from shortskit.errors import ConfigError, ProviderError, ShortskitError
from shortskit.models import gpu_turn, hub_unreachable, load_once, torch_device
from shortskit.providers.base import current_scene
from shortskit.providers.diffusers_copy import fingerprint, paint_size
from shortskit.providers.options import in_range

__all__ = ["DEFAULT_MODEL", "ENV_DIR", "ENV_MEMORY", "INSTALL", "MODELS", "DiffusersImages", "DiffusersSetup"]

log = logging.getLogger("shortskit")

DEFAULT_MODEL = "segmind/SSD-1B"  # Apache-2.0, about 4.4 GB in fp16: fits a T4 beside Chatterbox (README: the table)
INSTALL = 'pip install "shortskit[diffusers]"'
ENV_DIR = "SHORTSKIT_DIFFUSERS_DIR"  # a local copy of the model (what `hf download MODEL --local-dir DIR` writes)
ENV_DEVICE = "SHORTSKIT_DIFFUSERS_DEVICE"  # auto, cuda, cuda:1, mps, cpu
ENV_MEMORY = "SHORTSKIT_DIFFUSERS_MEMORY"  # comma list: model_offload, sequential_offload, attention_slicing, ...
ENV_SIZE = "SHORTSKIT_DIFFUSERS_SIZE"  # WIDTHxHEIGHT the pipeline paints at, multiples of 64 (small GPUs, tests)


@dataclass(frozen=True)
class _Model:
    """What a known model paints best with."""

    steps: int  # denoising steps
    guidance: float  # classifier-free guidance scale (0: the model is distilled to do without)
    size: tuple[int, int]  # 9:16-ish width x height it was trained near, multiples of 64
    dtype: str = "float16"  # on a GPU


# Known models (README: "Pictures on the GPU"); any other text-to-image id works with the last row's defaults.
MODELS: dict[str, _Model] = {
    "segmind/SSD-1B": _Model(25, 7.0, (768, 1344)),
    "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS": _Model(20, 4.5, (768, 1344)),
    "black-forest-labs/FLUX.1-schnell": _Model(4, 0.0, (768, 1344), "bfloat16"),
    "stabilityai/stable-diffusion-3.5-medium": _Model(28, 4.5, (768, 1344)),
    "stable-diffusion-v1-5/stable-diffusion-v1-5": _Model(25, 7.5, (576, 1024)),
}
_OTHER = _Model(25, 7.0, (768, 1344))
_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")  # owner/name, never a path
_MEMORY = (
    "model_offload",
    "sequential_offload",
    "attention_slicing",
    "vae_tiling",
    "8bit",
    "4bit",
    "no_safety_checker",
    "none",  # no option, and no automatic one on a small GPU
)
SMALL_GPU = 20 * 2**30  # below this, with no memory option set, the VAE decodes in tiles (the memory plan)
_DTYPES = ("auto", "float16", "bfloat16", "float32")


@dataclass(frozen=True)
class DiffusersSetup:
    """The operator's settings for the diffusers provider: a story can set none of them (they name local
    folders, or decide how this machine's GPU memory is used)."""

    weights: str | Path | None = None  # a local copy of the story's model (a save_pretrained folder); None: the hub
    device: str = "auto"  # auto: CUDA, then Apple's MPS, then the CPU; or cuda, cuda:N, mps, cpu
    dtype: str = "auto"  # auto: the model's half precision on a GPU, float32 on the CPU
    memory: tuple[str, ...] = ()  # model_offload | sequential_offload, attention_slicing, vae_tiling, 8bit | 4bit,
    # no_safety_checker; none; (): vae_tiling on a CUDA GPU under 20 GB (the memory plan), nothing elsewhere
    size: tuple[int, int] | None = None  # width x height to paint at (multiples of 64); None: the model's own

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DiffusersSetup:
        """The setup the environment gives: ``$SHORTSKIT_DIFFUSERS_DIR``, ``_DEVICE``, ``_MEMORY``, ``_SIZE``."""
        env = os.environ if environ is None else environ
        size = env.get(ENV_SIZE, "").strip().lower()
        parsed: tuple[int, int] | None = None
        if size:
            w, _, h = size.partition("x")
            if not (w.isdigit() and h.isdigit()):
                raise ConfigError(f"{ENV_SIZE} must be WIDTHxHEIGHT like 576x1024, got {size!r}")
            parsed = (int(w), int(h))
        memory = tuple(m.strip() for m in env.get(ENV_MEMORY, "").split(",") if m.strip())
        return cls(env.get(ENV_DIR) or None, env.get(ENV_DEVICE, "auto").strip() or "auto", "auto", memory, parsed)

    def checked(self) -> DiffusersSetup:
        """This setup, or the ConfigError that names the setting that is wrong."""
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(f"diffusers device must be auto, cuda, cuda:N, mps or cpu, got {self.device!r}")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"diffusers dtype must be one of {', '.join(_DTYPES)}, got {self.dtype!r}")
        unknown = [m for m in self.memory if m not in _MEMORY]
        if unknown:
            raise ConfigError(
                f"unknown diffusers memory option {unknown[0]!r} ({ENV_MEMORY}); valid: {', '.join(_MEMORY)}"
            )
        if {"model_offload", "sequential_offload"} <= set(self.memory) or {"8bit", "4bit"} <= set(self.memory):
            raise ConfigError("diffusers memory: choose one offload (model or sequential) and one quantization")
        if "none" in self.memory and len(self.memory) > 1:
            raise ConfigError(f"diffusers memory option none ({ENV_MEMORY}) goes alone, not with other options")
        if self.size is not None and (
            len(self.size) != 2 or any(not isinstance(v, int) or v < 64 or v % 64 for v in self.size)
        ):
            raise ConfigError(f"diffusers size must be two multiples of 64 (WIDTHxHEIGHT), got {self.size!r}")
        weights = Path(self.weights).expanduser() if self.weights else None
        if weights is not None and not (weights / "model_index.json").is_file():
            raise ConfigError(
                f"diffusers weights {weights}: no model_index.json there; give the folder that "
                "`hf download MODEL --local-dir DIR` or pipeline.save_pretrained(DIR) wrote"
            )
        return replace(self, weights=weights)


# What a story may not name (the operator's settings, and the words people use for them): refused, naming the field.
OPERATOR_ONLY = frozenset(
    {f.name for f in fields(DiffusersSetup)}
    | {"setup", "model_dir", "local_dir", "path", "cpu_offload", "offload", "attention_slicing", "vae_tiling"}
    | {"quantization", "quantize", "safety_checker", "torch_dtype"}
)


def _modules() -> tuple[Any, Any]:
    """torch and diffusers, or the ConfigError that says how to install them."""
    try:
        import diffusers
        import torch
        import transformers  # noqa: F401  (the text encoders of every pipeline)
    except ImportError as exc:
        raise ConfigError(
            f"the diffusers image provider needs the diffusers extra: {INSTALL}, then restart Python "
            f"(no module {exc.name or 'diffusers'} here)"
        ) from None
    return torch, diffusers


@dataclass
class _Loaded:
    """A loaded pipeline, shared by every render in the process."""

    pipe: Any
    accepts: frozenset[str]  # the keyword arguments its __call__ takes
    lock: threading.Lock = field(default_factory=threading.Lock)  # one picture at a time: the GPU is full enough


class DiffusersImages:
    """The diffusers image provider (see the module docstring)."""

    name: ClassVar[str] = "diffusers"
    version: ClassVar[str] = "1"
    operator_only: ClassVar[frozenset[str]] = OPERATOR_ONLY
    operator_hint: ClassVar[str] = f"${ENV_DIR}, ${ENV_MEMORY}, ${ENV_DEVICE} or render(setup=...)"
    max_concurrency: int = 1  # one picture at a time per model
    rate_per_minute: float | None = None

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        revision: str = "main",
        steps: int | None = None,
        guidance: float | None = None,
        negative_prompt: str = "",
        setup: DiffusersSetup | Mapping[str, Any] | None = None,
    ) -> None:
        who = self.name
        if not isinstance(model, str) or not _MODEL_ID.match(model) or ".." in model:
            raise ConfigError(
                f"diffusers model must be a Hugging Face id like {DEFAULT_MODEL} (never a folder: the operator "
                f"points at local weights with ${ENV_DIR}), got {model!r}"
            )
        if not isinstance(revision, str) or not re.fullmatch(r"[\w.-]{1,64}", revision):
            raise ConfigError(f"diffusers revision must be a branch, tag or commit of {model}, got {revision!r}")
        known = MODELS.get(model, _OTHER)
        self.model, self.revision = model, revision  # which weights (part of the cache key)
        self.steps = in_range(known.steps if steps is None else steps, "steps", who, 1, 150, integer=True)
        self.guidance = float(in_range(known.guidance if guidance is None else guidance, "guidance", who, 0, 30))
        if not isinstance(negative_prompt, str) or len(negative_prompt) > 1000:
            raise ConfigError("diffusers negative_prompt must be text of at most 1000 characters")
        self.negative_prompt = negative_prompt.strip()  # what the picture should not show
        if isinstance(setup, Mapping):
            setup = DiffusersSetup(**setup)
        self.setup = (setup or DiffusersSetup.from_env()).checked()
        self._torch, self._diffusers = _modules()
        self.device = torch_device(self.setup.device, self._torch, who="diffusers")
        gpu = self.device != "cpu"
        self.dtype = self.setup.dtype if self.setup.dtype != "auto" else known.dtype if gpu else "float32"
        if self.dtype == "bfloat16" and self.device.startswith("cuda") and not self._torch.cuda.is_bf16_supported():
            self.dtype = "float16"  # a T4 has no bfloat16
        self._fit_memory()
        self.weights: Path | None = self.setup.weights  # type: ignore[assignment]
        # what the pipeline paints, cover-cropped to the frame after
        self.size = self.setup.size or (paint_size(self.weights, known.size) if self.weights else known.size)
        self._identity = fingerprint(self.weights) if self.weights is not None else None
        self._failed: str | None = None  # a pipeline that would not load is not tried again by this provider
        self._offline = False  # the last load found the hub unreachable and asked the local cache only

    def _fit_memory(self) -> None:
        """Keep the memory options this machine can use, or say in one line what one of them needs: offload moves
        weights between the CPU and a GPU (painting on the CPU it is dropped, with a warning) and needs
        accelerate; 8bit and 4bit need a CUDA GPU and bitsandbytes."""
        memory = self.setup.memory
        offload = [m for m in memory if m.endswith("_offload")]
        quant = [m for m in memory if m in ("8bit", "4bit")]
        if quant and not self.device.startswith("cuda"):
            raise ConfigError(
                f"diffusers memory option {quant[0]} ({ENV_MEMORY}) needs a CUDA GPU and bitsandbytes; "
                f"this machine paints on {self.device}: remove {quant[0]}"
            )
        if quant and not _installed("bitsandbytes"):
            raise ConfigError(
                f"diffusers memory option {quant[0]} ({ENV_MEMORY}) needs bitsandbytes: pip install bitsandbytes"
            )
        if offload and self.device == "cpu":
            log.warning(
                "diffusers memory option %s (%s) moves weights between the CPU and a GPU; painting on the CPU, it "
                "is ignored", offload[0], ENV_MEMORY,
            )  # fmt: skip
            self.setup = replace(self.setup, memory=tuple(m for m in memory if m not in offload))
        elif offload and not _installed("accelerate"):
            raise ConfigError(
                f"diffusers memory option {offload[0]} ({ENV_MEMORY}) needs accelerate: {INSTALL} "
                "(or pip install accelerate)"
            )
        if not memory and self.device.startswith("cuda"):
            total = self._torch.cuda.get_device_properties(self._torch.device(self.device)).total_memory
            if total < SMALL_GPU:  # SDXL's VAE decodes in float32: its peak is what overflows a T4 beside a voice
                log.info("diffusers: a %.0f GB GPU, so the VAE decodes in tiles (%s=none to not)", total / 1e9,
                         ENV_MEMORY)  # fmt: skip
                self.setup = replace(self.setup, memory=("vae_tiling",))

    def settings(self) -> dict[str, Any]:
        """Everything that changes the picture: the model and its revision (or the local copy's fingerprint),
        how it paints, at which size and precision. Never where the weights are, nor the memory options that
        only change how they fit."""
        quantized = [m for m in self.setup.memory if m in ("8bit", "4bit")]
        return {
            "model": self.model,
            "revision": self.revision if self._identity is None else f"local:{self._identity}",
            "steps": self.steps,
            "guidance": self.guidance,
            "negative_prompt": self.negative_prompt,
            "size": list(self.size),
            "dtype": self.dtype,
            "quantized": quantized[0] if quantized else None,
            "package": getattr(self._diffusers, "__version__", None),
        }

    # -- loading ---------------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load the pipeline now rather than at the first picture (a batch worker warming up)."""
        self._pipeline()

    def _pipeline(self) -> _Loaded:
        if self._failed is not None:
            raise ConfigError(self._failed)
        key = (str(self.weights) if self.weights else f"hub:{self.model}@{self.revision}", self.device, self.dtype,
               self.setup.memory)  # fmt: skip
        try:
            return load_once("diffusers", key, self._load)
        except ShortskitError:
            raise
        except Exception as exc:
            err = self._load_error(exc)
            self._failed = str(err)
            raise err from exc

    def _load(self) -> _Loaded:
        torch, diffusers = self._torch, self._diffusers
        source = str(self.weights) if self.weights is not None else self.model
        options: dict[str, Any] = {"torch_dtype": getattr(torch, self.dtype)}
        if self.weights is None:
            options["revision"] = self.revision
            self._offline = hub_unreachable()
            options["local_files_only"] = self._offline  # the Hugging Face cache only: no half minute of retries
        if "no_safety_checker" in self.setup.memory:
            options["safety_checker"] = None
        quant = next((m for m in self.setup.memory if m in ("8bit", "4bit")), None)
        if quant:
            options["quantization_config"] = diffusers.PipelineQuantizationConfig(
                quant_backend=f"bitsandbytes_{quant}",
                quant_kwargs={"load_in_4bit": True} if quant == "4bit" else {"load_in_8bit": True},
                components_to_quantize=["transformer", "unet", "text_encoder_2", "text_encoder_3"],
            )
        _quiet(diffusers)
        with gpu_turn(self.device), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the hub's and diffusers' advice to library authors, not to users
            pipe = diffusers.AutoPipelineForText2Image.from_pretrained(source, **options)
            memory = self.setup.memory
            if "model_offload" in memory:
                pipe.enable_model_cpu_offload(device=self.device)
            elif "sequential_offload" in memory:
                pipe.enable_sequential_cpu_offload(device=self.device)
            else:  # quantized parts stay where bitsandbytes put them (diffusers' .to skips them)
                pipe.to(self.device)
            if "attention_slicing" in memory:
                pipe.enable_attention_slicing()
            if "vae_tiling" in memory and hasattr(pipe, "vae"):
                pipe.vae.enable_tiling()
        pipe.set_progress_bar_config(disable=True)
        return _Loaded(pipe, frozenset(inspect.signature(pipe.__call__).parameters))

    def _load_error(self, exc: Exception) -> ShortskitError:
        what = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
        names = {type(e).__name__ for e in _chain(exc)}
        if self._is_oom(exc):
            return ConfigError(self._oom("loading"))
        if isinstance(exc, ValueError) and ("AutoPipeline" in str(exc) or "pipeline" in str(exc).lower()):
            return ConfigError(f"diffusers: {self.model} is not a text-to-image pipeline ({what})")
        if isinstance(exc, ImportError):  # what a memory option needs: accelerate (offload), bitsandbytes (8/4 bit)
            return ConfigError(
                f"diffusers: {', '.join(self.setup.memory) or 'loading'} needs a package not installed here: {what}"
            )
        if self.weights is not None:
            return ConfigError(
                f"diffusers: cannot load the weights in {self.weights} (the local copy of {self.model}, from "
                f"${ENV_DIR} or the render's setup): {what}"
            )
        if names & {"RepositoryNotFoundError", "RevisionNotFoundError", "GatedRepoError"}:
            gated = "GatedRepoError" in names
            why = "is gated: accept its licence on huggingface.co and log in (hf auth login)" if gated else (
                f"is not on Hugging Face (or revision {self.revision!r} is not)")  # fmt: skip
            return ConfigError(f"diffusers: model {self.model} {why}")
        if isinstance(exc, OSError):  # every hub failure is one, and so is a dropped connection
            why = "Hugging Face cannot be reached from here and its cache has no copy" if self._offline else what
            return ConfigError(
                f"diffusers: cannot download the model {self.model} from Hugging Face ({why}). Offline? Download "
                f"it where there is a network (`hf download {self.model} --local-dir DIR`), then set {ENV_DIR}=DIR"
            )
        return ProviderError(f"the pipeline did not load: {what}", provider=self.name)

    def _is_oom(self, exc: BaseException) -> bool:
        oom = getattr(self._torch, "OutOfMemoryError", None) or getattr(self._torch.cuda, "OutOfMemoryError", None)
        return oom is not None and any(isinstance(e, oom) for e in _chain(exc))

    def _oom(self, doing: str) -> str:
        offload = "model_offload" not in self.setup.memory
        fix = f"set {ENV_MEMORY}=model_offload,vae_tiling" if offload else f"set {ENV_MEMORY}=sequential_offload"
        scene = current_scene()
        return (
            f"{f'scene {scene}: ' if scene else ''}diffusers: the GPU ran out of memory {doing} {self.model}: {fix} "
            "(README: one GPU, two models), "
            "or free the GPU (close other notebooks, restart the kernel)"
        )

    # -- painting --------------------------------------------------------------------------------------------

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        """Paint ``prompt`` at the model's size, then cover-crop it into the ``width`` x ``height`` PNG ``out``."""
        if not prompt or not prompt.strip():
            raise ProviderError("nothing to paint: the image prompt is empty", provider=self.name, field="image_prompt")
        return await asyncio.to_thread(self._paint, prompt.strip(), Path(out), width, height, seed)

    def _paint(self, prompt: str, out: Path, width: int, height: int, seed: int) -> Path:
        from shortskit.images import prepare_image

        loaded = self._pipeline()
        torch = self._torch
        w, h = self.size
        call: dict[str, Any] = {"prompt": prompt, "num_inference_steps": self.steps, "width": w, "height": h}
        call["guidance_scale"] = self.guidance
        if self.negative_prompt:
            if "negative_prompt" not in loaded.accepts:
                raise ConfigError(f"diffusers: {self.model} takes no negative_prompt; remove it from the story")
            call["negative_prompt"] = self.negative_prompt
        with loaded.lock, gpu_turn(self.device):
            # a CPU generator: the same seed gives the same noise on every device (diffusers' advice)
            call["generator"] = torch.Generator(device="cpu").manual_seed(seed)
            try:
                with torch.inference_mode():
                    result = loaded.pipe(**call)
            except Exception as exc:
                if self._is_oom(exc):
                    torch.cuda.empty_cache()
                    raise ConfigError(self._oom("painting with")) from exc
                raise ProviderError(f"{type(exc).__name__}: {exc}", provider=self.name) from exc
        blanked = getattr(result, "nsfw_content_detected", None)
        if blanked and blanked[0]:
            scene = current_scene()
            log.warning(
                "%sthe model's safety checker blanked the picture for %r; reword the prompt, or (if you may) load "
                "the model without its checker: %s=no_safety_checker",
                f"scene {scene}: " if scene else "", prompt[:80], ENV_MEMORY,
            )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="shortskit-diffusers-") as tmp:
            painted = Path(tmp) / "painted.png"
            result.images[0].save(painted)
            prepare_image(painted, out, width=width, height=height, scene=current_scene())
        return out


def _quiet(diffusers: Any) -> None:
    """No progress bars and no advice from diffusers and transformers: our progress and errors say it once."""
    import transformers

    for lib in (diffusers, transformers):
        lib.utils.logging.disable_progress_bar()
        lib.utils.logging.set_verbosity_error()


def _installed(package: str) -> bool:
    """Whether ``package`` can be imported here (without importing it)."""
    return importlib.util.find_spec(package) is not None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from."""
    found: list[BaseException] = []
    while exc is not None and exc not in found:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return found
