"""Images from any OpenAI-compatible ``POST /images/generations`` endpoint (OpenAI, or a local server).

The answer's ``data[0]`` holds the picture as ``b64_json`` or as a ``url`` (then downloaded, without our key);
either way it is cover-cropped to the frame with :func:`shortskit.images.prepare_image`.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, ClassVar

from shortskit.endpoints import Endpoint, public_url
from shortskit.errors import ConfigError, InputFileError, ProviderError
from shortskit.http import HttpProvider, decode_base64, post_json, quote

__all__ = ["ImagesAPI", "OpenAIImages"]


class ImagesAPI(HttpProvider):
    """What OpenAI-shaped image APIs share: the answer's ``data[0]`` turned into a framed PNG."""

    async def _save_answer(self, answer: Any, out: Path, *, width: int, height: int) -> Path:
        if not isinstance(answer, dict):
            raise ProviderError(f"answered with JSON {type(answer).__name__}, not an object", provider=self.name)
        items = answer.get("data")
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            detail = answer.get("error")
            if not self.trusts(self.base_url):  # a server the story chose: its words are never repeated
                raise ProviderError("answered without data[0]", provider=self.name)
            if detail:
                raise ProviderError(f"answered with an error: {quote(detail, (self._key,), 200)}", provider=self.name)
            keys = quote(", ".join(sorted(answer)), (self._key,), 200) or "none"
            raise ProviderError(f"answered without data[0] (keys: {keys})", provider=self.name)
        item = items[0]
        if item.get("b64_json"):
            blob = decode_base64(item["b64_json"], provider=self.name, what="b64_json")
        elif item.get("url"):
            blob = await self._download(str(item["url"]))
        else:
            raise ProviderError("answered without b64_json or url in data[0]", provider=self.name)
        return await asyncio.to_thread(self._frame, blob, Path(out), width, height)

    async def _download(self, url: str) -> bytes:
        # The picture usually sits on a CDN: our key is not sent there.
        response = await self.send("GET", url, auth=False)
        return response.content

    def fail(self, response: Any) -> ProviderError:
        err = super().fail(response)
        if response.request.method == "GET" and response.status_code in (401, 403, 404, 410):
            # an expired or unknown picture link: asking again for the picture may work
            return err.replace(
                message=f"cannot download the picture from {public_url(str(response.request.url))} "
                f"(HTTP {response.status_code})",
                retryable=True,
            )
        return err

    def _frame(self, blob: bytes, out: Path, width: int, height: int) -> Path:
        from shortskit.images import prepare_image

        if not blob:
            raise ProviderError("answered with an empty picture", provider=self.name)
        download = out.with_name(f"{out.name}.download")
        try:
            download.write_bytes(blob)
            return prepare_image(download, out, width=width, height=height)
        except InputFileError:
            head = blob[:64].lstrip().lower()
            hint = ", an HTML page" if head.startswith((b"<!doctype", b"<html")) else ""
            raise ProviderError(
                f"answered with data that is not an image ({len(blob)} bytes{hint})", provider=self.name
            ) from None
        except OSError as exc:
            raise ProviderError(f"cannot write {out}: {exc}", provider=self.name) from exc
        finally:
            with contextlib.suppress(OSError):
                download.unlink()


def _default_size(model: str) -> str:
    m = model.lower()
    if m.startswith("dall-e-3"):
        return "1024x1792"
    if m.startswith("dall-e-2"):
        return "1024x1024"
    return "1024x1536"  # gpt-image-1 and most compatible servers: their tallest portrait size


class OpenAIImages(ImagesAPI):
    """Pictures from an OpenAI-compatible images endpoint, cover-cropped to the frame."""

    name: ClassVar[str] = "openai"
    version: ClassVar[str] = "1"
    vendor: ClassVar[str] = "openai"

    def __init__(
        self,
        *,
        model: str = "gpt-image-1",
        base_url: str | None = None,
        size: str | None = None,
        quality: str | None = None,
        response_format: str | None = None,
        rate_per_minute: float | None = None,
        rate_burst: int | None = None,
        max_concurrency: int = 2,
        timeout: float = 180.0,
        endpoint: Endpoint | str | None = None,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError("openai images model must be a model name")
        self.model = model.strip()
        if size is not None and (not isinstance(size, str) or not _size_ok(size)):
            raise ConfigError(f"openai images size must look like 1024x1536 (or 'auto'), got {size!r}")
        self.size = size or _default_size(self.model)
        self.quality = quality
        if response_format not in (None, "b64_json", "url"):
            raise ConfigError(f"openai images response_format must be b64_json or url, got {response_format!r}")
        self.response_format = response_format
        self._set_limits(
            rate_per_minute=rate_per_minute, rate_burst=rate_burst, max_concurrency=max_concurrency, timeout=timeout
        )
        self.connect(endpoint, story_base=base_url)

    def settings(self) -> dict[str, Any]:
        """Options that change the picture (never the key)."""
        return {
            "model": self.model,
            "size": self.size,
            "quality": self.quality,
            "base_url": public_url(self.base_url),
        }

    async def generate(self, prompt: str, out: Path, *, width: int, height: int, seed: int) -> Path:
        """Ask for one picture of ``prompt`` and cover-crop it to ``width`` x ``height`` (no seed in this API)."""
        body: dict[str, Any] = {"model": self.model, "prompt": prompt, "n": 1, "size": self.size}
        if self.quality:
            body["quality"] = self.quality
        if self.response_format:
            body["response_format"] = self.response_format
        answer = await post_json(self, f"{self.base_url}/images/generations", body)
        return await self._save_answer(answer, out, width=width, height=height)


def _size_ok(size: str) -> bool:
    if size == "auto":
        return True
    w, sep, h = size.partition("x")
    return bool(sep) and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0
