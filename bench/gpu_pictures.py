"""GPU smoke test for the diffusers image provider: model load time and seconds per picture.

    python bench/gpu_pictures.py [--model segmind/SSD-1B] [--pictures 4] [--random] [--out DIR]

Where a CUDA GPU and the weights are here (Hugging Face, or a local copy named by $SHORTSKIT_DIFFUSERS_DIR, with
$SHORTSKIT_DIFFUSERS_MEMORY as the user set it): loads the pipeline through the provider, paints a warm-up picture,
then ``--pictures`` more, and prints the load time, seconds per picture and the peak GPU memory. Where the GPU is
here but the weights cannot be fetched: builds SDXL base's architecture (UNet, both text encoders, VAE; SSD-1B is a
distilled SDXL with about half its UNet, so this is an upper bound for the default) with random weights, saves it
and measures it the same way. ``--scale tiny`` builds the same classes small, to check this script on a CPU
(``--device cpu``): nothing measured on a CPU means anything. ``bench/gpu_smoke.py`` runs this after the voice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROMPTS = [
    "an octopus on the sea floor, photograph, soft light",
    "a lighthouse at dusk, waves, cinematic",
    "a forest path in autumn, mist",
    "a city street at night, neon reflections",
]

# SDXL base 1.0's published configs (unet, text_encoder, text_encoder_2, vae), and a tiny version of each.
_SCALES: dict[str, dict[str, Any]] = {
    "full": {
        "unet": {"block_out_channels": (320, 640, 1280), "transformer_layers_per_block": (1, 2, 10),
                 "attention_head_dim": (5, 10, 20), "cross_attention_dim": 2048, "sample_size": 128,
                 "addition_time_embed_dim": 256, "projection_class_embeddings_input_dim": 2816},
        "clip": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12},
        "clip2": {"hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 20, "num_hidden_layers": 32,
                  "projection_dim": 1280},
        "vae": {"block_out_channels": (128, 256, 512, 512), "sample_size": 1024, "norm_num_groups": 32},
        "size": (768, 1344),
    },
    "tiny": {
        "unet": {"block_out_channels": (32, 64, 64), "transformer_layers_per_block": (1, 1, 1),
                 "attention_head_dim": (2, 4, 4), "cross_attention_dim": 64, "sample_size": 16,
                 "addition_time_embed_dim": 8, "projection_class_embeddings_input_dim": 80, "norm_num_groups": 16},
        "clip": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1},
        "clip2": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1,
                  "projection_dim": 32},
        "vae": {"block_out_channels": (8, 16, 16, 16), "sample_size": 64, "norm_num_groups": 8},
        "size": (128, 256),
    },
}  # fmt: skip


def _tokenizer(folder: Path) -> Any:
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz,":
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77, pad_token="<|endoftext|>"
    )


def random_sdxl(folder: Path, scale: str) -> Path:
    """SDXL's architecture with random weights (fp16 for ``full``), saved into ``folder`` with save_pretrained."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    s = _SCALES[scale]
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as words:
        tokenizer = _tokenizer(Path(words))
    common = {"vocab_size": 49408, "max_position_embeddings": 77, "bos_token_id": 0, "eos_token_id": 1}
    unet = UNet2DConditionModel(
        in_channels=4, out_channels=4, layers_per_block=2, use_linear_projection=True, addition_embed_type="text_time",
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), **s["unet"],
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, scaling_factor=0.13025,
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4, **s["vae"],
    )  # fmt: skip
    pipe = StableDiffusionXLPipeline(
        vae=vae, unet=unet, tokenizer=tokenizer, tokenizer_2=tokenizer,
        text_encoder=CLIPTextModel(CLIPTextConfig(**common, **s["clip"])),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**common, **s["clip2"])),
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
    )  # fmt: skip
    if scale == "full":
        pipe = pipe.to(torch.float16)
    pipe.save_pretrained(folder)
    return folder


def measure(
    weights: Path | None, model: str, pictures: int, out: Path, device: str, size: tuple[int, int] | None
) -> None:
    """Load through the provider, paint a warm-up picture and ``pictures`` more; print the figures."""
    import torch

    from shortskit.providers.diffusers import DiffusersImages, DiffusersSetup

    env = DiffusersSetup.from_env()
    setup = DiffusersSetup(weights=weights or env.weights, device=device, memory=env.memory, size=size or env.size)
    painter = DiffusersImages(model=model, setup=setup)
    cuda = painter.device.startswith("cuda")
    t = time.perf_counter()
    painter.load()
    load = time.perf_counter() - t
    where = setup.weights or f"Hugging Face ({model})"
    print(f"pipeline load: {load:.1f} s from {where}; {painter.device}, {painter.dtype}, painting {painter.size}")
    asyncio.run(painter.generate(PROMPTS[0], out / "warm.png", width=1080, height=1920, seed=0))
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(pictures):
        asyncio.run(painter.generate(PROMPTS[i % len(PROMPTS)], out / f"{i}.png", width=1080, height=1920, seed=i))
    if cuda:
        torch.cuda.synchronize()
    each = (time.perf_counter() - t) / pictures
    peak = f"; peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cuda else ""
    print(f"{pictures} pictures: {each:.2f} s per picture ({painter.steps} steps, cover-cropped to 1080x1920){peak}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="segmind/SSD-1B", help="the Hugging Face id (weights: hub or local copy)")
    parser.add_argument("--pictures", type=int, default=4, help="pictures timed after the warm-up")
    parser.add_argument("--random", action="store_true", help="time random weights even when the real ones load")
    parser.add_argument("--scale", choices=sorted(_SCALES), default="full", help="random weights: full or tiny")
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu only to check the script (--scale tiny)")
    parser.add_argument("--out", type=Path, help="where the pictures go (default: a temporary folder)")
    args = parser.parse_args(argv)
    try:
        import diffusers  # noqa: F401
        import torch
    except ImportError as exc:
        print(f'diffusers is not installed here ({exc.name}): pip install "shortskit[diffusers]"; nothing measured')
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA GPU here (torch sees none): nothing measured; run this on a GPU machine")
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu-pictures-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.device.startswith("cuda"):
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    if not args.random:
        from shortskit.errors import ConfigError

        try:
            measure(None, args.model, args.pictures, out, args.device, None)
            return 0
        except ConfigError as exc:
            if "cannot download" not in str(exc) and "cannot load the weights" not in str(exc):
                raise
            print(f"no weights here ({exc}); timing SDXL's architecture with random weights instead")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = random_sdxl(out / "random-sdxl", args.scale)
    measure(folder, "random/sdxl-architecture", args.pictures, out, args.device, _SCALES[args.scale]["size"])
    print("random weights, SDXL base's architecture (an upper bound for SSD-1B, whose UNet is about half as big)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
