"""GPU smoke test for the Chatterbox voice (load time, real-time factor, a 3-scene short rendered with a clone) and
for the diffusers pictures (load time, seconds per picture: bench/gpu_pictures.py, run after the voice).

    python bench/gpu_smoke.py [--sample ME.wav] [--tokens 100 400] [--out DIR]

Where a CUDA GPU and the weights are here (Hugging Face ``ResembleAI/chatterbox``, or a local copy named by
$SHORTSKIT_CHATTERBOX_DIR): loads the model once, clones ``--sample`` (else a made-up eSpeak sample), and prints
the load time, the real-time factor of speaking a paragraph, and the time to render a fresh 3-scene short with
that voice (NVENC where the GPU has video encoders). Where the GPU is here but the weights cannot be fetched:
builds the real architecture with randomly initialised weights (nothing downloaded) and times ``generate`` forced
to two lengths, which gives the cost of each generated speech token (25 tokens are 1 s of audio) and the fixed
cost of a call. Without a CUDA GPU or without chatterbox it says so and exits 2: nothing here is measured on a CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

PARAGRAPH = (
    "The octopus has three hearts, and two of them stop beating when it swims. Its blood is blue, because it "
    "carries oxygen with copper instead of iron. Each arm can taste what it touches."
)
SCENES = [
    "Meet the octopus. It has three hearts, and its blood is blue.",
    "Each of its eight arms can taste what it touches, and most of its neurons live in them.",
    "So the next time you see one, say hello. It is probably already watching you.",
]


def _gpu() -> tuple[object, str] | None:
    try:
        import chatterbox  # noqa: F401
        import torch
    except ImportError as exc:
        print(f'chatterbox is not installed here ({exc.name}): pip install "shortskit[chatterbox]"; nothing measured')
        return None
    if not torch.cuda.is_available():
        print("no CUDA GPU here (torch sees none): nothing measured; run this on a GPU machine")
        return None
    return torch, torch.cuda.get_device_name(0)


def _sync(torch: object) -> None:
    torch.cuda.synchronize()  # type: ignore[attr-defined]


async def _made_up_sample(path: Path) -> Path:
    import shortskit

    text = "Hello! This is a sample of my voice. I speak clearly, for a few seconds, so it can be cloned."
    await shortskit.create_voice("espeak", rate=150).synthesize(text, path, language="en")
    return path


def with_weights(torch: object, sample: Path | None, out: Path) -> None:
    """The real model: load once, clone, the real-time factor of a paragraph, then a 3-scene short."""
    import shortskit
    from shortskit.engines.ffmpeg import resolve_encoder
    from shortskit.voicesample import save_voice

    ws = out / "workspace"
    src = sample or asyncio.run(_made_up_sample(out / "sample.wav"))
    save_voice(src, "bench", workspace=ws)
    voice = shortskit.create_voice("chatterbox", sample="bench", device="cuda")
    voice.bind(None, ws)  # type: ignore[attr-defined]

    t = time.perf_counter()
    voice.load("en")  # type: ignore[attr-defined]
    _sync(torch)
    load = time.perf_counter() - t
    print(f"model load: {load:.1f} s (weights from {os.environ.get('SHORTSKIT_CHATTERBOX_DIR') or 'Hugging Face'})")

    asyncio.run(voice.synthesize("A first sentence, to warm up the kernels.", out / "warm.wav", language="en"))
    torch.cuda.reset_peak_memory_stats()  # type: ignore[attr-defined]
    t = time.perf_counter()
    speech = asyncio.run(voice.synthesize(PARAGRAPH, out / "paragraph.wav", language="en"))
    _sync(torch)
    spent = time.perf_counter() - t
    peak = torch.cuda.max_memory_allocated() / 2**30  # type: ignore[attr-defined]
    print(
        f"cloned speech: {speech.duration:.1f} s of audio in {spent:.1f} s: real-time factor {spent / speech.duration:.2f} "
        f"(below 1 is faster than real time); peak GPU memory {peak:.1f} GiB"
    )

    story = shortskit.parse_story(
        {
            "title": "GPU smoke",
            "language": "en",
            "scenes": [{"text": text, "image_prompt": "an octopus"} for text in SCENES],
            "voice": {"provider": "chatterbox", "sample": "bench", "device": "cuda"},
            "output": {"quality": "preview"},
        }
    )
    encoder = resolve_encoder("auto")
    fresh = out / "render-workspace"
    save_voice(src, "bench", workspace=fresh)  # a fresh workspace: every artefact is made
    t = time.perf_counter()
    result = shortskit.render_sync(story, out / "smoke.mp4", workspace=fresh, encoder=encoder)
    render = time.perf_counter() - t
    print(
        f"3-scene short: {result.duration:.1f} s rendered in {render:.1f} s with the cloned voice, encoder {encoder} "
        f"(made {result.made}); {result.video}"
    )


def random_weights(torch: object, lengths: list[int]) -> None:
    """The real English architecture with random weights: seconds per generated speech token, and per call."""
    import numpy as np
    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.t3 import T3
    from chatterbox.models.tokenizers import EnTokenizer
    from chatterbox.models.voice_encoder import VoiceEncoder
    from chatterbox.tts import ChatterboxTTS
    from tokenizers import Tokenizer, models

    from shortskit.audio import write_wav

    folder = Path(tempfile.mkdtemp(prefix="chatterbox-random-"))
    vocab = {"[STOP]": 0, "[UNK]": 1, "[SPACE]": 2}
    for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-()":
        vocab[c] = len(vocab)
    vocab["[START]"] = 255  # T3's start_text_token
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tok.add_special_tokens(["[START]", "[STOP]", "[UNK]", "[SPACE]"])
    tok.save(str(folder / "tokenizer.json"))

    torch.manual_seed(0)  # type: ignore[attr-defined]
    t3, s3gen, ve = T3().to("cuda").eval(), S3Gen().to("cuda").eval(), VoiceEncoder().to("cuda").eval()
    model = ChatterboxTTS(t3, s3gen, ve, EnTokenizer(str(folder / "tokenizer.json")), "cuda")
    ref = folder / "ref.wav"
    write_wav(ref, (0.1 * np.random.default_rng(0).standard_normal(6 * 24000)).astype(np.float32), 24000)
    model.prepare_conditionals(str(ref))

    # Random weights almost never stop by themselves: force exactly N speech tokens.
    state = {"n": 0, "stop": 0}

    def fix_length(_module: object, _inputs: object, logits: object) -> object:
        logits[..., 6561:] = -1e4  # type: ignore[index]  # finite, so classifier-free guidance stays finite
        state["n"] += 1
        if state["n"] > state["stop"]:  # the first call is the prompt's
            logits[..., 6562] = 1e4  # type: ignore[index]  # stop_speech_token
        return logits

    t3.speech_head.register_forward_hook(fix_length)
    timings: dict[int, float] = {}
    for n in [min(lengths), *lengths]:  # the first run warms the kernels up
        state.update(n=0, stop=n)
        torch.cuda.reset_peak_memory_stats()  # type: ignore[attr-defined]
        _sync(torch)
        t = time.perf_counter()
        wav = model.generate("A sentence of caption length, spoken for a timing test.")
        _sync(torch)
        timings[n] = time.perf_counter() - t
        seconds = wav.shape[-1] / model.sr
        peak = torch.cuda.max_memory_allocated() / 2**30  # type: ignore[attr-defined]
        print(
            f"{n} tokens ({seconds:.1f} s of audio): {timings[n]:.2f} s, RTF {timings[n] / seconds:.3f}, peak {peak:.1f} GiB"
        )
    low, high = min(lengths), max(lengths)
    per_token = (timings[high] - timings[low]) / (high - low)
    fixed = timings[low] - per_token * low
    print(
        f"random weights, real architecture, fp32: {per_token * 1000:.1f} ms per speech token "
        f"({1 / per_token:.0f} tokens/s; real time is 25), {fixed:.2f} s fixed per call"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, help="a recording of the voice to clone (5-30 s)")
    parser.add_argument("--tokens", type=int, nargs=2, default=[100, 400], help="lengths for the random-weights run")
    parser.add_argument("--out", type=Path, help="where the files go (default: a temporary folder)")
    parser.add_argument("--random", action="store_true", help="time random weights even when the real ones load")
    parser.add_argument("--no-pictures", action="store_true", help="skip the diffusers pictures (gpu_pictures.py)")
    args = parser.parse_args(argv)
    voiced = _voice(args)
    if args.no_pictures:
        return voiced
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_pictures", Path(__file__).with_name("gpu_pictures.py"))
    assert spec is not None and spec.loader is not None
    pictures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pictures)
    print("-- pictures (diffusers) --")
    painted = pictures.main(["--random"] if args.random else [])
    return 0 if 0 in (voiced, painted) else 2


def _voice(args: argparse.Namespace) -> int:
    found = _gpu()
    if found is None:
        return 2
    torch, name = found
    print(f"GPU: {name}")
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu-smoke-"))
    out.mkdir(parents=True, exist_ok=True)
    if not args.random:
        from shortskit.errors import ConfigError

        try:
            with_weights(torch, args.sample, out)
            return 0
        except ConfigError as exc:
            if "weights" not in str(exc):
                raise
            print(f"no weights here ({exc}); timing the architecture with random weights instead")
    random_weights(torch, sorted(args.tokens))
    return 0


if __name__ == "__main__":
    sys.exit(main())
