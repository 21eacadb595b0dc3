"""What shortskit changes in chatterbox-tts (0.1.7) at the model boundary, and why: the package's own tqdm bars
kept off our users' stderr, the attention hooks it leaks dropped, and its Chinese segmenter (spacy-pkuseg, which
downloads a model) built only when Chinese is spoken, so the other languages load offline."""

from __future__ import annotations

import os
import sys
from typing import Any

from shortskit.errors import ConfigError

__all__ = ["PKUSEG_URL", "clear_stale_hooks", "from_pkuseg", "lazy_segmenter", "pkuseg_missing", "quiet_bars"]

PKUSEG_URL = "https://github.com/explosion/spacy-pkuseg/releases/download/v0.0.26/spacy_ontonotes.zip"


def clear_stale_hooks(model: Any) -> None:
    """Drop the attention hooks earlier calls of the multilingual model left behind (0.1.7 leaks three a call,
    and generation slows with every one); the call about to run registers its own."""
    layers = getattr(getattr(getattr(model, "t3", None), "tfmr", None), "layers", None)
    for i in (9, 12, 13):
        if layers is not None and i < len(layers):
            hooks = getattr(getattr(layers[i], "self_attn", None), "_forward_hooks", None)
            if hooks is not None:
                hooks.clear()


def _no_bar(iterable: Any = None, *args: Any, **kwargs: Any) -> Any:
    """What chatterbox's ``tqdm`` becomes: the iterable itself, no bar."""
    return iterable


def quiet_bars() -> None:
    """Drop the package's own tqdm bars (T3's ``Sampling …/1000``, the flow matcher's): every module of
    chatterbox that imported ``tqdm`` by name gets a pass-through instead."""
    for name, module in list(sys.modules.items()):
        if (name == "chatterbox" or name.startswith("chatterbox.")) and getattr(module, "tqdm", None) is not None:
            module.tqdm = _no_bar  # type: ignore[attr-defined]


class _LazySegmenter:
    """spacy-pkuseg's segmenter, built at the first Chinese text rather than when the model loads.

    chatterbox-tts 0.1.7 builds it in every multilingual tokenizer, whatever the language, and ``pkuseg()``
    downloads its model into $PKUSEG_HOME (default ~/.pkuseg): offline, Spanish failed to load. The package
    catches only ImportError; we say what failed and how to fetch the model beforehand.
    """

    def __init__(self) -> None:
        self._segmenter: Any = None
        self._missing = False

    def cut(self, text: str) -> list[str]:
        if self._segmenter is None and not self._missing:
            try:
                from spacy_pkuseg import pkuseg
            except ImportError:  # as the package does: Chinese without segmentation
                self._missing = True
            else:
                try:
                    self._segmenter = pkuseg()
                except Exception as exc:
                    raise ConfigError(pkuseg_missing(exc)) from None
        return [text] if self._segmenter is None else self._segmenter.cut(text)


def pkuseg_missing(exc: BaseException) -> str:
    home = os.environ.get("PKUSEG_HOME", "~/.pkuseg")
    return (
        f"chatterbox: the multilingual model's Chinese segmenter (spacy-pkuseg) downloads its model into {home} "
        f"($PKUSEG_HOME) and could not ({type(exc).__name__}: {exc}). Offline? Fetch {PKUSEG_URL} where there is "
        f"a network and put it in {home}, unzipped beside the zip ({home}/spacy_ontonotes.zip and "
        f"{home}/spacy_ontonotes/); the model weights are not the problem"
    )


def from_pkuseg(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside spacy-pkuseg (its model download)."""
    import traceback

    return any("pkuseg" in frame.filename for frame in traceback.extract_tb(exc.__traceback__))


def lazy_segmenter() -> None:
    """Make the multilingual tokenizer's Chinese segmenter lazy (see :class:`_LazySegmenter`), so a model for
    Spanish or Hindi loads offline; a package without that converter is left as it is."""
    try:
        from chatterbox.models.tokenizers.tokenizer import ChineseCangjieConverter
    except ImportError:
        return

    def init_segmenter(self: Any) -> None:
        self.segmenter = _LazySegmenter()

    ChineseCangjieConverter._init_segmenter = init_segmenter
