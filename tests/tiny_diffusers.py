"""A tiny text-to-image pipeline of the real diffusers classes (UNet, VAE, CLIP text encoder, a tokenizer written
from a 56-word vocabulary, a DDIM scheduler) with random weights, saved with ``save_pretrained``: nothing is
downloaded, and it paints a 64x128 picture on the CPU in a few hundredths of a second.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _tokenizer(folder: Path) -> Any:
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in LETTERS:  # every letter alone and ending a word: any lowercase prompt has tokens
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=16, pad_token="<|endoftext|>"
    )


def _safety_checker() -> tuple[Any, Any]:
    """Stable Diffusion's real checker, tiny, with every concept threshold below any score: it flags everything."""
    import torch
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1},
        vision_config={
            "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1,
            "image_size": 32, "patch_size": 8,
        },
        projection_dim=16,
    )  # fmt: skip
    checker = StableDiffusionSafetyChecker(config)
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(-2.0)  # cosine similarity is at least -1: always over the threshold
        checker.special_care_embeds_weights.fill_(-2.0)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return checker, processor


def build(folder: Path, *, checker: bool = False) -> Path:
    """Save the tiny pipeline into ``folder`` (with Stable Diffusion's safety checker if ``checker``)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as words:
        tokenizer = _tokenizer(Path(words))
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, norm_num_groups=4, attention_head_dim=4,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=[8, 16], in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2, sample_size=32,
    )  # fmt: skip
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=16, intermediate_size=32,
            num_attention_heads=2, num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=16,
        )
    )  # fmt: skip
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    safety, processor = _safety_checker() if checker else (None, None)
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=safety, feature_extractor=processor, requires_safety_checker=checker,
    )  # fmt: skip
    pipe.save_pretrained(folder)
    return folder
