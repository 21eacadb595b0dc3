"""The diffusers image provider with a tiny pipeline of the real diffusers classes (tests/tiny_diffusers.py),
random weights saved in a temporary folder and named by the user (never the story), on CPU torch.

Everything is real: diffusers' loading and denoising, our loading once, locking, the GPU turn, the cache, the
pipeline, ffmpeg and the CLI. Only the faults (a GPU out of memory) are injected, at the pipeline's call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from shortskit import parse_story, render_sync
from shortskit.errors import ScenesFailedError
from shortskit.models import forget_models, model_loads
from tests.conftest import run_cli, small_story, write_story

pytest.importorskip("diffusers", reason="the diffusers tests need diffusers and CPU torch (CI installs both)")
pytest.importorskip("transformers", reason="the diffusers tests need transformers (CI installs it)")

SIZE = "64x128"  # what the tiny pipeline paints: fast on the CPU, cover-cropped to the frame like any picture
IMAGES = {"provider": "diffusers", "model": "segmind/SSD-1B", "steps": 2}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_diffusers import build

    return build(tmp_path_factory.mktemp("tiny-diffusers"))


@pytest.fixture(scope="session")
def tiny_checked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_diffusers import build

    return build(tmp_path_factory.mktemp("tiny-checked"), checker=True)


@pytest.fixture
def local_model(monkeypatch: pytest.MonkeyPatch, tiny: Path, tmp_path: Path) -> Path:
    """The user points at the tiny pipeline; nothing can be downloaded; no pipeline is kept between tests."""
    monkeypatch.setenv("SHORTSKIT_DIFFUSERS_DIR", str(tiny))
    monkeypatch.setenv("SHORTSKIT_DIFFUSERS_SIZE", SIZE)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SHORTSKIT_GPU_LOCK_DIR", str(tmp_path))
    forget_models("diffusers")
    yield tiny
    forget_models("diffusers")


def _story(tmp_path: Path, prompts: tuple[str, ...] = ("a calm sea", "a dark forest"), **images: Any) -> Path:
    scenes = [{"text": t, "image_prompt": p} for t, p in zip(("Hello there.", "Goodbye now."), prompts, strict=False)]
    data = small_story(scenes=scenes, images={**IMAGES, **images}, captions={"enabled": False})
    return write_story(tmp_path, data)


def _load(path: Path) -> Any:
    return parse_story(json.loads(path.read_text()), source=path)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# -- a whole short, the cache, one load ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_short_renders_with_pictures_from_the_pipeline_loaded_once_and_cached(
    local_model: Path, tmp_path: Path
) -> None:
    from shortskit import ffmpeg
    from shortskit.providers.diffusers import DiffusersImages, DiffusersSetup

    story, ws = _story(tmp_path), tmp_path / "ws"
    before = model_loads().get("diffusers", 0)
    first = render_sync(_load(story), tmp_path / "a.mp4", workspace=ws)
    assert model_loads()["diffusers"] == before + 1  # two pictures, one load
    assert first.made["image"] == 2
    info = ffmpeg.probe(first.video)
    assert (info.width, info.height) == (270, 480) and info.has_audio

    # each scene's picture is the pipeline's own for its prompt and seed (scene N: seed + N - 1), cover-cropped
    # to the story's images size (1080x1920 by default)
    painter = DiffusersImages(
        model="segmind/SSD-1B", steps=2, setup=DiffusersSetup(weights=local_model, size=(64, 128))
    )
    for i, (scene, prompt) in enumerate(zip(first.scenes, ("a calm sea", "a dark forest"), strict=True)):
        again = asyncio.run(painter.generate(prompt, tmp_path / f"direct{i}.png", width=1080, height=1920, seed=i))
        assert np.array_equal(_pixels(scene.image), _pixels(again))
        assert _pixels(again).std() > 5  # a picture, not a blank
    assert not np.array_equal(_pixels(first.scenes[0].image), _pixels(first.scenes[1].image))
    assert model_loads()["diffusers"] == before + 1  # the direct calls reused the loaded pipeline too

    # a frame of the short shows the picture (the same colours, give or take the motion and the encoder)
    frame = tmp_path / "frame.png"
    ffmpeg.run(["-y", "-v", "error", "-ss", "0.2", "-i", first.video, "-frames:v", "1", frame], what="a frame")
    assert np.abs(_pixels(frame).mean(axis=(0, 1)) - _pixels(first.scenes[0].image).mean(axis=(0, 1))).max() < 12

    # unchanged: no picture is made again; one prompt changed: only its scene's picture
    second = render_sync(_load(story), tmp_path / "b.mp4", workspace=ws)
    assert second.made.get("image", 0) == 0
    changed = render_sync(_load(_story(tmp_path, ("a calm sea", "a red desert"))), tmp_path / "c.mp4", workspace=ws)
    assert changed.made["image"] == 1
    assert changed.scenes[0].image == first.scenes[0].image and changed.scenes[1].image != first.scenes[1].image
    assert model_loads()["diffusers"] == before + 1


def test_the_same_seed_paints_the_same_picture_and_another_seed_another(local_model: Path, tmp_path: Path) -> None:
    from shortskit.providers.diffusers import DiffusersImages

    def paint(name: str, seed: int) -> np.ndarray:
        painter = DiffusersImages(steps=2)
        return _pixels(asyncio.run(painter.generate("a calm sea", tmp_path / name, width=90, height=160, seed=seed)))

    a = paint("a.png", 7)
    forget_models("diffusers")  # a fresh load: the seed alone decides the noise
    assert np.array_equal(a, paint("b.png", 7))
    assert not np.array_equal(a, paint("c.png", 8))


def test_one_picture_at_a_time_even_when_asked_for_many_at_once(local_model: Path, tmp_path: Path) -> None:
    from shortskit.providers.diffusers import DiffusersImages

    painter = DiffusersImages(steps=1)
    loaded = painter._pipeline()
    real, state = loaded.pipe, {"now": 0, "most": 0}
    guard = threading.Lock()

    def counting(**kwargs: Any) -> Any:
        with guard:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)  # long enough for another thread to come in, if nothing stopped it
        try:
            return real(**kwargs)
        finally:
            with guard:
                state["now"] -= 1

    loaded.pipe = counting

    async def many() -> None:
        await asyncio.gather(
            *(painter.generate("a calm sea", tmp_path / f"{i}.png", width=90, height=160, seed=i) for i in range(4))
        )

    asyncio.run(many())
    assert state["most"] == 1 and all((tmp_path / f"{i}.png").is_file() for i in range(4))


def test_processes_sharing_a_gpu_take_turns(tmp_path: Path) -> None:
    """Two processes ask for the same GPU's turn at once: their turns never overlap (threads of one share it)."""
    code = (
        "import sys, time, json; from shortskit.models import gpu_turn\n"
        "with gpu_turn('cuda'):\n"
        "    start = time.time(); time.sleep(0.4); print(json.dumps([start, time.time()]))\n"
    )
    env = {"SHORTSKIT_GPU_LOCK_DIR": str(tmp_path), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    import os

    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env={**os.environ, **env})
        for _ in range(2)
    ]
    spans = sorted(json.loads(p.communicate(timeout=60)[0]) for p in procs)
    assert all(p.returncode == 0 for p in procs)
    assert spans[0][1] <= spans[1][0], spans  # the second began after the first had ended
    assert (tmp_path / "shortskit-gpu-cuda-0.lock").exists()


# -- the user's memory options ---------------------------------------------------------------------------------


def test_attention_slicing_and_vae_tiling_load_and_paint_nearly_the_same_picture(
    local_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shortskit.providers.diffusers import DiffusersImages

    def paint(memory: str, seed: int = 1) -> tuple[np.ndarray, Any]:
        monkeypatch.setenv("SHORTSKIT_DIFFUSERS_MEMORY", memory)
        forget_models("diffusers")  # each setup is its own load
        painter = DiffusersImages(steps=2)
        out = asyncio.run(
            painter.generate("a calm sea", tmp_path / f"{memory}{seed}.png", width=90, height=160, seed=seed)
        )
        return _pixels(out).astype(float), painter._pipeline().pipe

    plain, pipe = paint("")
    assert not pipe.vae.use_tiling
    other_seed = np.abs(paint("", seed=2)[0] - plain).mean()  # what another picture is: about 50 levels away
    sliced, pipe = paint("attention_slicing")
    assert {type(p).__name__ for p in pipe.unet.attn_processors.values()} == {"SlicedAttnProcessor"}
    assert np.abs(sliced - plain).max() <= 2  # the same sums, a slice at a time
    tiled, pipe = paint("attention_slicing,vae_tiling")
    assert pipe.vae.use_tiling and {type(p).__name__ for p in pipe.unet.attn_processors.values()} == {
        "SlicedAttnProcessor"
    }
    # the tiny VAE decodes 32-pixel tiles, each with its own group norms, blended where they overlap: the same
    # picture with faint seams (about 4 levels on average), not another one
    assert np.abs(tiled - plain).mean() < other_seed / 5, (np.abs(tiled - plain).mean(), other_seed)
    forget_models("diffusers")


def test_offload_on_the_cpu_is_a_warning_and_paints_as_without_it(
    local_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from shortskit.providers.diffusers import DiffusersImages

    plain = _pixels(
        asyncio.run(DiffusersImages(steps=2).generate("a calm sea", tmp_path / "a.png", width=90, height=160, seed=1))
    )
    forget_models("diffusers")
    monkeypatch.setenv("SHORTSKIT_DIFFUSERS_MEMORY", "model_offload,attention_slicing")
    with caplog.at_level(logging.WARNING, logger="shortskit"):
        painter = DiffusersImages(steps=2)
        offloaded = asyncio.run(painter.generate("a calm sea", tmp_path / "b.png", width=90, height=160, seed=1))
    warned = [r.getMessage() for r in caplog.records if "model_offload" in r.getMessage()]
    assert len(warned) == 1 and "painting on the CPU, it is ignored" in warned[0], warned
    assert painter.setup.memory == ("attention_slicing",)
    assert np.abs(_pixels(offloaded) - plain).max() <= 2


@pytest.mark.parametrize("option", ["8bit", "4bit"])
def test_quantization_without_a_cuda_gpu_is_one_line_naming_the_option(tmp_path: Path, tiny: Path, option: str) -> None:
    env = {
        "SHORTSKIT_DIFFUSERS_DIR": str(tiny),
        "SHORTSKIT_DIFFUSERS_MEMORY": option,
        "SHORTSKIT_DIFFUSERS_DEVICE": "cpu",
    }
    story = _story(tmp_path)
    line = _one_error_line(run_cli("render", story, "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "w", env=env))
    assert f"diffusers memory option {option} (SHORTSKIT_DIFFUSERS_MEMORY) needs a CUDA GPU and bitsandbytes" in line
    assert "this machine paints on cpu" in line and not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize(
    ("option", "package", "hint"),
    [("8bit", "bitsandbytes", "pip install bitsandbytes"), ("model_offload", "accelerate", "pip install accelerate")],
)
def test_a_memory_option_on_a_gpu_without_its_package_names_the_package(
    local_model: Path, monkeypatch: pytest.MonkeyPatch, option: str, package: str, hint: str
) -> None:
    import torch

    from shortskit.errors import ConfigError
    from shortskit.providers import diffusers as provider

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a CUDA machine, as far as the check can tell
    monkeypatch.setattr(provider, "_installed", lambda name: name != package)
    with pytest.raises(ConfigError) as caught:
        provider.DiffusersImages(setup=provider.DiffusersSetup(weights=local_model, memory=(option,)))
    message = str(caught.value)
    assert f"diffusers memory option {option} (SHORTSKIT_DIFFUSERS_MEMORY) needs {package}" in message
    assert hint in message and "\n" not in message
    monkeypatch.setattr(provider, "_installed", lambda name: True)  # with the package, the check lets it through
    assert (
        provider.DiffusersImages(setup=provider.DiffusersSetup(weights=local_model, memory=(option,))).device == "cuda"
    )


@pytest.mark.parametrize(
    ("total_gb", "memory", "planned"),
    [
        (16, (), ("vae_tiling",)),  # a T4: the float32 VAE decode is what overflows beside Chatterbox
        (24, (), ()),  # an L4 or bigger: nothing to do
        (16, ("none",), ("none",)),  # the operator says no option at all
        (16, ("attention_slicing",), ("attention_slicing",)),  # the operator's own choice stands
    ],
)
def test_the_memory_plan_tiles_the_vae_on_a_small_gpu_unless_told(
    local_model: Path, monkeypatch: pytest.MonkeyPatch, total_gb: int, memory: tuple[str, ...], planned: tuple
) -> None:
    import torch

    from shortskit.providers import diffusers as provider

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a CUDA machine, as far as the plan can tell
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=total_gb * 10**9)
    )
    images = provider.DiffusersImages(setup=provider.DiffusersSetup(weights=local_model, memory=memory))
    assert images.device == "cuda" and images.setup.memory == planned


def test_a_local_copy_paints_at_the_size_it_was_trained_at(local_model: Path, tmp_path: Path) -> None:
    """Named as SSD-1B (768x1344), the tiny copy says it was trained at 32 px: it paints 64x128, not for minutes a
    picture of noise; a copy whose configs say 1024 px (SDXL's latents and VAE) keeps the model's own size."""
    from shortskit.providers.diffusers import DiffusersImages, DiffusersSetup

    tiny = DiffusersImages(model="segmind/SSD-1B", setup=DiffusersSetup(weights=local_model))
    assert tiny.size == (64, 128) and tiny.settings()["size"] == [64, 128]

    def copy_trained_at(latent: int) -> Path:  # SDXL's and SD 1.5's VAE: 8 pixels a latent
        (folder := tmp_path / f"at{latent}").mkdir()
        shutil.copytree(local_model, folder, dirs_exist_ok=True)
        for part, key, value in (("unet", "sample_size", latent), ("vae", "block_out_channels", [8, 8, 8, 8])):
            config = json.loads((folder / part / "config.json").read_text())
            (folder / part / "config.json").write_text(json.dumps({**config, key: value}))
        return folder

    assert DiffusersImages(setup=DiffusersSetup(weights=copy_trained_at(128))).size == (768, 1344)
    at512 = copy_trained_at(64)
    sd15 = DiffusersImages(model="stable-diffusion-v1-5/stable-diffusion-v1-5", setup=DiffusersSetup(weights=at512))
    assert sd15.size == (576, 1024)  # 512 px is near enough to its known 9:16 size
    assert DiffusersImages(setup=DiffusersSetup(weights=at512)).size == (384, 704)  # not 768x1344
    assert DiffusersImages(setup=DiffusersSetup(weights=local_model, size=(128, 256))).size == (128, 256)  # told


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ({"device": "gpu"}, "diffusers device must be auto, cuda, cuda:N, mps or cpu, got 'gpu'"),
        ({"dtype": "half"}, "diffusers dtype must be one of auto, float16, bfloat16, float32, got 'half'"),
        ({"memory": ("cpu_offload",)}, "unknown diffusers memory option 'cpu_offload' (SHORTSKIT_DIFFUSERS_MEMORY)"),
        ({"memory": ("model_offload", "sequential_offload")}, "choose one offload (model or sequential)"),
        ({"memory": ("8bit", "4bit")}, "and one quantization"),
        ({"memory": ("none", "vae_tiling")}, "diffusers memory option none (SHORTSKIT_DIFFUSERS_MEMORY) goes alone"),
        ({"size": (100, 200)}, "diffusers size must be two multiples of 64 (WIDTHxHEIGHT), got (100, 200)"),
    ],
)
def test_a_wrong_setup_is_named(setup: dict[str, Any], says: str) -> None:
    from shortskit.errors import ConfigError
    from shortskit.providers.diffusers import DiffusersSetup

    with pytest.raises(ConfigError) as caught:
        DiffusersSetup(**setup).checked()
    assert says in str(caught.value)
    with pytest.raises(ConfigError, match="SHORTSKIT_DIFFUSERS_SIZE must be WIDTHxHEIGHT like 576x1024, got 'big'"):
        DiffusersSetup.from_env({"SHORTSKIT_DIFFUSERS_SIZE": "big"})
    assert DiffusersSetup.from_env({"SHORTSKIT_DIFFUSERS_MEMORY": " vae_tiling, attention_slicing ,"}).memory == (
        "vae_tiling",
        "attention_slicing",
    )


def test_half_precision_on_a_gpu_bfloat16_only_where_the_gpu_has_it(
    local_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from shortskit.providers.diffusers import DiffusersImages, DiffusersSetup

    setup = DiffusersSetup(weights=local_model)
    assert DiffusersImages(setup=setup).dtype == "float32"  # the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # what the choice reads of the machine
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=80 * 10**9))
    bf16 = {"yes": True}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16["yes"])
    assert DiffusersImages(setup=setup).dtype == "float16"  # SSD-1B's own
    flux = "black-forest-labs/FLUX.1-schnell"
    assert DiffusersImages(model=flux, setup=setup).dtype == "bfloat16"  # an L4 or an A100
    bf16["yes"] = False  # a T4
    assert DiffusersImages(model=flux, setup=setup).dtype == "float16"
    assert DiffusersImages(setup=replace(setup, dtype="float32")).dtype == "float32"  # the user's choice wins


def test_the_cache_key_holds_the_model_and_a_fingerprint_of_the_local_copy_never_its_path(
    local_model: Path, tmp_path: Path
) -> None:
    from shortskit.providers.diffusers import DiffusersImages, DiffusersSetup

    here, there = tmp_path / "here" / "ssd", tmp_path / "there" / "copy"
    shutil.copytree(local_model, here)
    shutil.copytree(local_model, there)

    def settings(folder: Path, **options: Any) -> dict[str, Any]:
        return DiffusersImages(steps=2, setup=DiffusersSetup(weights=folder, **options)).settings()

    a, b = settings(here), settings(there)
    assert a == b and a["model"] == "segmind/SSD-1B" and a["revision"].startswith("local:")  # two machines share it
    blob = json.dumps(a)
    assert str(tmp_path) not in blob and "here" not in blob and "there" not in blob
    assert settings(here, memory=("attention_slicing",)) == a  # how it fits in memory is not what it paints
    config = there / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "beta_end": 0.02}))
    assert settings(there)["revision"] != a["revision"]  # other weights: other pictures
    painter = DiffusersImages(steps=3, guidance=5, negative_prompt=" blurry ", setup=DiffusersSetup(weights=here))
    assert {k: painter.settings()[k] for k in ("steps", "guidance", "negative_prompt")} == {
        "steps": 3, "guidance": 5.0, "negative_prompt": "blurry",
    }  # fmt: skip


def test_a_negative_prompt_reaches_the_pipeline(local_model: Path, tmp_path: Path) -> None:
    from shortskit.providers.diffusers import DiffusersImages

    def paint(name: str, negative: str) -> np.ndarray:
        painter = DiffusersImages(steps=2, negative_prompt=negative)
        return _pixels(asyncio.run(painter.generate("a calm sea", tmp_path / name, width=90, height=160, seed=1)))

    plain = paint("a.png", "")
    assert np.array_equal(plain, paint("b.png", ""))
    assert np.abs(paint("c.png", "a dark storm").astype(float) - plain).mean() > 5


def test_a_model_that_takes_no_negative_prompt_says_so_naming_the_field(
    local_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import diffusers

    real = diffusers.AutoPipelineForText2Image.from_pretrained

    class NoNegative:
        """The tiny pipeline behind a call with no negative_prompt, as some text-to-image pipelines have."""

        def __init__(self, pipe: Any) -> None:
            self._pipe = pipe

        def __getattr__(self, name: str) -> Any:
            return getattr(self._pipe, name)

        def __call__(self, prompt: str, num_inference_steps: int, width: int, height: int, guidance_scale: float,
                     generator: Any) -> Any:  # fmt: skip
            return self._pipe(prompt=prompt, num_inference_steps=num_inference_steps, width=width, height=height,
                              guidance_scale=guidance_scale, generator=generator)  # fmt: skip

    monkeypatch.setattr(
        diffusers.AutoPipelineForText2Image, "from_pretrained", lambda *a, **k: NoNegative(real(*a, **k))
    )
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    plain = render_sync(_load(_story(tmp_path / "a")), tmp_path / "a.mp4", workspace=tmp_path / "wa")
    assert plain.made["image"] == 2  # the pipeline paints without one
    with pytest.raises(ScenesFailedError) as caught:
        render_sync(
            _load(_story(tmp_path / "b", negative_prompt="blurry")), tmp_path / "b.mp4", workspace=tmp_path / "wb"
        )
    assert "diffusers: segmind/SSD-1B takes no negative_prompt; remove it from the story" in str(caught.value)
    assert "Traceback" not in str(caught.value) and not (tmp_path / "b.mp4").exists()


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            "RepositoryNotFoundError",
            "diffusers: model segmind/SSD-1B is not on Hugging Face (or revision 'main' is not)",
        ),
        ("GatedRepoError", "diffusers: model segmind/SSD-1B is gated: accept its licence on huggingface.co and log in"),
        ("RevisionNotFoundError", "diffusers: model segmind/SSD-1B is not on Hugging Face (or revision 'main' is not)"),
    ],
)
def test_an_unknown_or_gated_model_is_named(
    local_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: str, says: str
) -> None:
    import diffusers.configuration_utils
    import httpx
    from huggingface_hub import errors

    def hub(repo: str, **kwargs: Any) -> Any:  # what the hub answers for a repository it has not, or gates
        response = httpx.Response(404, request=httpx.Request("GET", f"https://huggingface.co/{repo}"))
        raise getattr(errors, error)(f"{repo}: {error}", response=response)

    monkeypatch.setattr(diffusers.configuration_utils, "hf_hub_download", hub)
    monkeypatch.delenv("SHORTSKIT_DIFFUSERS_DIR")
    with pytest.raises(ScenesFailedError) as caught:
        render_sync(_load(_story(tmp_path)), tmp_path / "o.mp4", workspace=tmp_path / "w")
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in message and message.startswith(says), message


# -- the story decides the model and how it paints, never where the weights are --------------------------------


@pytest.mark.parametrize(
    ("images", "field"),
    [
        ({"model_dir": "weights"}, "images.model_dir"),
        ({"weights": "/content/models/ssd"}, "images.weights"),
        ({"cpu_offload": True}, "images.cpu_offload"),
        ({"memory": ["model_offload"]}, "images.memory"),
        ({"options": {"setup": {"weights": "/tmp"}}}, "images.setup"),
    ],
)
def test_a_story_that_names_weights_or_memory_options_is_refused(
    tmp_path: Path, images: dict[str, Any], field: str
) -> None:
    line = _one_error_line(run_cli("validate", _story(tmp_path, **images)))
    assert f"story.json: {field}: a story cannot set" in line and "SHORTSKIT_DIFFUSERS_DIR" in line


@pytest.mark.parametrize("model", ["./weights", "/content/ssd", "../../models/x", "owner/../x", "ssd"])
def test_a_model_must_be_a_hugging_face_id_never_a_path(tmp_path: Path, model: str) -> None:
    line = _one_error_line(run_cli("validate", _story(tmp_path, model=model)))
    assert "story.json: images:" in line and "diffusers model must be a Hugging Face id" in line


def test_without_the_extra_the_error_names_the_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules.update(torch=None, diffusers=None); "
        "sys.argv = ['shortskit', *sys.argv[1:]]; from shortskit.cli import main; main()"
    )
    story = _story(tmp_path)
    args = ["render", story, "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "w"]
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300)
    line = _one_error_line(proc)
    assert 'pip install "shortskit[diffusers]"' in line and "story.json: images:" in line
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.slow
def test_weights_that_cannot_be_fetched_name_the_model_and_a_local_copy(tmp_path: Path) -> None:
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "SHORTSKIT_DIFFUSERS_DIR": ""}
    proc = run_cli("render", _story(tmp_path), "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "w", env=env)
    line = _one_error_line(proc)
    assert "cannot download the model segmind/SSD-1B from Hugging Face" in line
    assert "hf download segmind/SSD-1B --local-dir DIR" in line and "SHORTSKIT_DIFFUSERS_DIR=DIR" in line
    assert not (tmp_path / "o.mp4").exists()


def _closed_port() -> int:
    """A loopback port nothing listens on: a hub there refuses every connection at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_hub_counts_as_unreachable_offline_or_refused_but_not_behind_a_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from huggingface_hub import constants

    from shortskit.models import hub_unreachable

    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert not hub_unreachable()
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        assert hub_unreachable()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert hub_unreachable()
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # the proxy may reach it: only a real load can tell
    assert not hub_unreachable()


@pytest.mark.slow
def test_an_unreachable_hub_fails_at_once_naming_it_or_loads_the_cached_copy(tiny: Path, tmp_path: Path) -> None:
    # no offline flag: the hub refuses connections, as where a notebook has no network
    hub = {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", "HF_HUB_OFFLINE": "", "SHORTSKIT_DIFFUSERS_DIR": "",
           "HF_HOME": str(tmp_path / "hf"), "SHORTSKIT_DIFFUSERS_SIZE": SIZE}  # fmt: skip
    proc = run_cli("render", _story(tmp_path), "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "w", env=hub)
    line = _one_error_line(proc)
    assert "Hugging Face cannot be reached from here and its cache has no copy" in line, line
    assert "hf download segmind/SSD-1B --local-dir DIR" in line and not (tmp_path / "o.mp4").exists()

    # the same model downloaded earlier into the Hugging Face cache is used from there
    repo = tmp_path / "hf" / "hub" / "models--segmind--SSD-1B"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    proc = run_cli("render", _story(tmp_path), "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "w", env=hub)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o.mp4").is_file() and len(list((tmp_path / "w" / "images").glob("*.png"))) == 2


def test_a_folder_that_is_no_text_to_image_pipeline_is_named(
    local_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "unconditional"
    shutil.copytree(local_model, other)
    index = json.loads((other / "model_index.json").read_text())
    (other / "model_index.json").write_text(json.dumps({**index, "_class_name": "DDPMPipeline"}))
    monkeypatch.setenv("SHORTSKIT_DIFFUSERS_DIR", str(other))
    with pytest.raises(ScenesFailedError) as caught:
        render_sync(_load(_story(tmp_path)), tmp_path / "o.mp4", workspace=tmp_path / "w")
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in message
    assert message.startswith("diffusers: segmind/SSD-1B is not a text-to-image pipeline") and "DDPMPipeline" in message


def test_a_weights_folder_without_a_pipeline_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    env = {"SHORTSKIT_DIFFUSERS_DIR": str(tmp_path / "empty")}
    line = _one_error_line(run_cli("validate", _story(tmp_path), env=env))
    assert f"diffusers weights {tmp_path / 'empty'}: no model_index.json there" in line


def test_a_gpu_out_of_memory_is_one_line_and_the_other_scene_is_kept(local_model: Path, tmp_path: Path) -> None:
    import torch

    from shortskit.providers.diffusers import DiffusersImages

    story, ws = _story(tmp_path), tmp_path / "ws"
    loaded = DiffusersImages(steps=2)._pipeline()  # the pipeline every render in this process shares
    real = loaded.pipe

    def full(**kwargs: Any) -> Any:
        if kwargs["prompt"] == "a dark forest":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(**kwargs)

    loaded.pipe = full
    with pytest.raises(ScenesFailedError) as caught:
        render_sync(_load(story), tmp_path / "a.mp4", workspace=ws)
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in message and "Traceback" not in message
    assert "scene 2" in message and "GPU ran out of memory" in message
    assert "SHORTSKIT_DIFFUSERS_MEMORY=model_offload,vae_tiling" in message
    assert not (tmp_path / "a.mp4").exists()

    loaded.pipe = real  # memory freed: the next run makes only the picture that failed
    done = render_sync(_load(story), tmp_path / "a.mp4", workspace=ws)
    assert done.made["image"] == 1 and done.made.get("voice", 0) == 0


def test_a_picture_the_safety_checker_blanks_is_a_warning_naming_the_scene(
    local_model: Path, tiny_checked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("SHORTSKIT_DIFFUSERS_DIR", str(tiny_checked))
    with caplog.at_level(logging.WARNING, logger="shortskit"):
        result = render_sync(_load(_story(tmp_path)), tmp_path / "a.mp4", workspace=tmp_path / "ws")
    blanked = [r.getMessage() for r in caplog.records if "safety checker" in r.getMessage()]
    assert sorted(m.split(":")[0] for m in blanked) == ["scene 1", "scene 2"], blanked
    assert "SHORTSKIT_DIFFUSERS_MEMORY=no_safety_checker" in blanked[0]
    assert _pixels(result.scenes[0].image).max() == 0  # what the checker left: a black picture


# -- notebooks: the render panel and the scene editor's Regenerate ---------------------------------------------


@pytest.mark.slow
def test_the_render_panel_and_the_editors_regenerate_paint_with_the_users_setup(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    widgets = pytest.importorskip("shortskit.widgets", reason="the notebook extra (ipywidgets) is not installed")
    from shortskit.providers.diffusers import DiffusersImages, DiffusersSetup

    monkeypatch.delenv("SHORTSKIT_DIFFUSERS_DIR", raising=False)  # the setup comes as a render argument here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SHORTSKIT_GPU_LOCK_DIR", str(tmp_path))
    forget_models("diffusers")
    setup = {"diffusers": DiffusersSetup(weights=tiny, size=(64, 128))}
    story, ws = _story(tmp_path), tmp_path / "ws"
    editor = widgets.StoryEditor(story, workspace=ws, quality="draft", setup=setup)
    panel = widgets.RenderPanel(editor, tmp_path / "panel.mp4", quality="draft", setup=setup)
    row = editor.rows[1]

    async def main() -> None:
        await panel.render()
        assert panel.result is not None and panel.error is None, panel.status.value
        first = panel.result.scenes[1].image.stat().st_mtime_ns
        row.regenerate_button.click()
        await editor.wait()
        assert row.result is not None and row.result.image == panel.result.scenes[1].image
        assert row.result.image.stat().st_mtime_ns > first  # painted again, by the same pipeline

    asyncio.run(main())
    painter = DiffusersImages(steps=2, setup=setup["diffusers"])
    direct = asyncio.run(painter.generate("a dark forest", tmp_path / "d.png", width=1080, height=1920, seed=1))
    assert np.array_equal(_pixels(row.result.image), _pixels(direct))  # the same seed: the same picture
    assert model_loads()["diffusers"] >= 1 and row.picture.value[:8] == b"\x89PNG\r\n\x1a\n"
    forget_models("diffusers")


@pytest.mark.slow
def test_colab_paints_the_pictures_with_diffusers_from_the_users_weights(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pm = pytest.importorskip("papermill", reason="the notebook extra (papermill) is not installed")
    import nbformat

    from shortskit import ffmpeg

    monkeypatch.setenv("SHORTSKIT_DIFFUSERS_SIZE", SIZE)  # the kernel inherits the environment
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SHORTSKIT_GPU_LOCK_DIR", str(tmp_path))
    story, out = write_story(tmp_path, small_story()), tmp_path / "out" / "colab.mp4"
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    params = {"story_file": str(story), "output": str(out), "workspace": str(tmp_path / "ws"), "install": False}
    params |= {"clone": False, "pictures": "diffusers", "weights_dir": str(tiny)}
    pm.execute_notebook(
        notebooks / "colab.ipynb", tmp_path / "run.ipynb", parameters=params, cwd=notebooks, kernel_name="python3",
        progress_bar=False,
    )  # fmt: skip
    nb = nbformat.read(tmp_path / "run.ipynb", as_version=4)
    shown = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "pictures: diffusers (segmind/SSD-1B, on the GPU)" in shown and "pictures by diffusers" in shown
    assert ffmpeg.probe(out).width == 270
    from shortskit.providers.diffusers import DiffusersImages, DiffusersSetup

    made = sorted((tmp_path / "ws" / "images").glob("*.png"))
    painter = DiffusersImages(setup=DiffusersSetup(weights=tiny, size=(64, 128)))  # the notebook's model's defaults
    first = asyncio.run(painter.generate("a calm ocean", tmp_path / "d.png", width=1080, height=1920, seed=0))
    # the pipeline's own picture (another process may sum floats in another order: a level or so apart; the other
    # scene's picture is about 50 levels away)
    assert len(made) == 2
    closest = min(np.abs(_pixels(p).astype(float) - _pixels(first).astype(float)).mean() for p in made)
    assert closest < 2.0, closest
