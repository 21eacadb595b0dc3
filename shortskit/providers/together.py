"""Images from Together's FLUX models (``POST {base}/images/generations``), paced to the free tier's 6 a minute.

The frame is asked for at a size the API accepts (same shape, sides a multiple of 32 within 256..``max_side``)
and the answer is cover-cropped to the exact frame. Key: ``TOGETHER_API_KEY``, sent only to ``TOGETHER_BASE_URL`` (default: Together's own API).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from shortskit.endpoints import Endpoint, public_url
from shortskit.errors import ConfigError
from shortskit.http import DEFAULT_TIMEOUT, post_json
from shortskit.providers.openai_images import ImagesAPI
from shortskit.providers.options import positive

__all__ = ["DEFAULT_MODEL", "TogetherImages", "request_size"]

DEFAULT_MODEL = "black-forest-labs/FLUX.1-schnell-Free"
_MIN_SIDE = 256
_MULTIPLE = 32  # FLUX works in 16-pixel patches; 32 is what every FLUX host accepts


def request_size(width: int, height: int, *, max_side: int = 1440) -> tuple[int, int]:
    """The size to ask for: ``width`` x ``height``'s shape with sides a multiple of 32 in 256..``max_side``."""
    scale = min(1.0, max_side / max(width, height))
    if min(width, height) * scale < _MIN_SIDE:
        scale = _MIN_SIDE / min(width, height)

    def side(v: float) -> int:
        return int(min(max(math.floor(v / _MULTIPLE + 0.5) * _MULTIPLE, _MIN_SIDE), max_side // _MULTIPLE * _MULTIPLE))

    return side(width * scale), side(height * scale)


class TogetherImages(ImagesAPI):
    """Together AI images (FLUX.1 schnell by default), rate limited and cover-cropped to the frame."""

    name: ClassVar[str] = "together"
    version: ClassVar[str] = "1"
    vendor: ClassVar[str] = "together"

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        steps: int = 4,
        negative_prompt: str | None = None,
        response_format: str = "b64_json",
        max_side: int = 1440,
        rate_per_minute: float | None = 6,
        rate_burst: int | None = 1,
        max_concurrency: int = 2,
        timeout: float = DEFAULT_TIMEOUT,
        endpoint: Endpoint | str | None = None,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError("together model must be a model name")
        self.model = model.strip()
        self.steps = positive(steps, "steps", "together", integer=True)
        if negative_prompt is not None and not isinstance(negative_prompt, str):
            raise ConfigError(f"together negative_prompt must be text, got {negative_prompt!r}")
        self.negative_prompt = negative_prompt.strip() if negative_prompt and negative_prompt.strip() else None
        if response_format not in ("b64_json", "url"):
            raise ConfigError(f"together response_format must be b64_json or url, got {response_format!r}")
        self.response_format = response_format
        self.max_side = positive(max_side, "max_side", "together", integer=True)
        if self.max_side < _MIN_SIDE:
            raise ConfigError(f"together max_side must be at least {_MIN_SIDE}, got {max_side}")
        # The free model allows about 6 a minute over a rolling minute: one at a time every 10 s keeps any
        # 60 s window at 6, where a burst of 6 followed by the steady rate would put 7 in the first minute.
        self._set_limits(
            rate_per_minute=rate_per_minute, rate_burst=rate_burst, max_concurrency=max_concurrency, timeout=timeout
        )
        self.connect(endpoint, story_base=base_url)

    def key_required(self) -> bool:
        """Together's own API (or the endpoint configured for it) needs ``TOGETHER_API_KEY``."""
        return self.key_env is not None

    def settings(self) -> dict[str, Any]:
        """Options that change the picture (never the key)."""
        return {
            "model": self.model,
            "steps": self.steps,
            "negative_prompt": self.negative_prompt,
            "max_side": self.max_side,
            "base_url": public_url(self.base_url),
        }

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        """Ask Together for ``prompt`` and cover-crop the answer to ``width`` x ``height``."""
        w, h = request_size(width, height, max_side=self.max_side)
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "width": w,
            "height": h,
            "steps": self.steps,
            "n": 1,
            "seed": seed,
            "response_format": self.response_format,
        }
        if self.negative_prompt:
            body["negative_prompt"] = self.negative_prompt
        answer = await post_json(self, f"{self.base_url}/images/generations", body)
        return await self._save_answer(answer, out, width=width, height=height)
