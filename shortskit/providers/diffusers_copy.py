"""A local copy of a diffusers pipeline, as the operator names it (``$SHORTSKIT_DIFFUSERS_DIR``): what identifies it
in the cache key without its path, and the size it paints at."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def fingerprint(folder: Path) -> str:
    """What identifies a local copy without reading gigabytes: its configs' bytes and its weight files' names
    and sizes (never the folder's path, so two machines with the same copy share cached pictures)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and ".cache" not in p.parts:
            rel = p.relative_to(folder).as_posix()
            small = p.suffix in (".json", ".txt", ".model") and p.stat().st_size < 4_000_000
            h.update(rel.encode() + b"\0" + (p.read_bytes() if small else str(p.stat().st_size).encode()) + b"\0")
    return h.hexdigest()[:16]


def paint_size(folder: Path, size: tuple[int, int]) -> tuple[int, int]:
    """``size``, or a 9:16 size of the area a local copy says it was trained at where that is far from ``size``
    (its denoiser's ``sample_size`` in latents times the VAE's scale): a small or tiny copy named as a big model
    would otherwise paint for minutes a picture of noise it was never trained at."""
    try:
        net = next(json.loads((folder / d / "config.json").read_text()) for d in ("unet", "transformer")
                   if (folder / d / "config.json").is_file())  # fmt: skip
        vae = json.loads((folder / "vae" / "config.json").read_text())
        latent = net["sample_size"] if isinstance(net["sample_size"], int) else max(net["sample_size"])
        native = int(latent) * 2 ** (len(vae["block_out_channels"]) - 1)
    except (StopIteration, OSError, ValueError, KeyError, TypeError):
        return size  # a layout without them: the size the model is known by
    if 0.4 <= size[0] * size[1] / native**2 <= 2.5:
        return size
    w = max(64, round(native * 0.75 / 64) * 64)
    return w, max(w + 64, round(w * 16 / 9 / 64) * 64)
