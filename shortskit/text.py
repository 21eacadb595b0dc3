"""Sentence splitting and TTS chunking (NLTK Punkt), offline: trained punkt data when present, never a download.

Text-to-speech models take a few hundred characters a call; :func:`chunk_text` cuts narration at sentence
boundaries (then clauses, then words) so that no chunk passes ``max_chars`` and nothing is split inside a
number, an abbreviation or a word.
"""

from __future__ import annotations

import importlib.abc
import re
import sys
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktSentenceTokenizer

__all__ = ["chunk_text", "is_emoji", "split_sentences", "strip_emoji"]

# Punkt language names for the languages whose trained data NLTK publishes.
_PUNKT_LANG = {
    "cs": "czech", "da": "danish", "de": "german", "el": "greek", "en": "english", "es": "spanish",
    "et": "estonian", "fi": "finnish", "fr": "french", "it": "italian", "ml": "malayalam",
    "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese", "ru": "russian",
    "sl": "slovene", "sv": "swedish", "tr": "turkish",
}  # fmt: skip

# Without trained data Punkt knows no abbreviations; these keep "Dr. Smith" and "e.g. this" whole.
_ABBREVIATIONS = {
    # English
    "dr", "mr", "mrs", "ms", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co",
    "corp", "no", "fig", "approx", "dept", "est", "mt", "ave", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "a.m", "p.m", "ph.d",
    # Spanish, Portuguese, French, German, Italian
    "sra", "srta", "dra", "ud", "uds", "pág", "núm", "av", "avda", "gral", "lic", "ing", "profa",
    "mme", "mlle", "m", "bzw", "usw", "z.b", "d.h", "sig", "dott",
}  # fmt: skip


class _NoScipyStats(importlib.abc.MetaPathFinder):
    """Refuses ``scipy.stats`` while NLTK is first imported.

    NLTK's package import pulls in ``nltk.metrics.association``, which imports ``scipy.stats`` (a second of
    CPU) for a Fisher test it guards with ``except ImportError``. Sentence splitting never uses it.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "scipy.stats" or name.startswith("scipy.stats."):
            raise ImportError("scipy.stats is not needed to split sentences")


def _import_punkt() -> Any:
    """``nltk.tokenize.punkt``, imported without the statistics NLTK's package import would bring along."""
    if "nltk" in sys.modules or "scipy.stats" in sys.modules:
        import nltk.tokenize.punkt as punkt

        return punkt
    blocker = _NoScipyStats()
    sys.meta_path.insert(0, blocker)
    try:
        import nltk.tokenize.punkt as punkt
    finally:
        sys.meta_path.remove(blocker)
    return punkt


@lru_cache(maxsize=32)
def _tokenizer(language: str) -> PunktSentenceTokenizer:
    # NLTK is imported only when sentences are actually split (and without scipy.stats: see _NoScipyStats)
    punkt = _import_punkt()
    PunktParameters, PunktSentenceTokenizer = punkt.PunktParameters, punkt.PunktSentenceTokenizer

    primary = language.split("-")[0].lower()
    name = _PUNKT_LANG.get(primary)
    if name:
        try:
            return punkt.PunktTokenizer(name)  # trained data, only if already installed locally
        except (LookupError, OSError, ValueError, ImportError):
            pass  # no punkt data on this machine: the untrained tokenizer below is good enough
    params = PunktParameters()
    params.abbrev_types = set(_ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split ``text`` into sentences (whitespace-trimmed, none empty)."""
    text = " ".join(text.split())
    if not text:
        return []
    return [s.strip() for s in _tokenizer(language).tokenize(text) if s.strip()]


_CLAUSE = re.compile(r"(?<=[,;:—–])\s+")


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Cut one over-long sentence at clause marks, then between words (never inside a word)."""
    pieces: list[str] = []
    for clause in _CLAUSE.split(sentence):
        if len(clause) <= max_chars:
            pieces.append(clause)
            continue
        line = ""
        for word in clause.split():
            if line and len(line) + 1 + len(word) > max_chars:
                pieces.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            pieces.append(line)
    return _pack(pieces, max_chars)


def _pack(pieces: list[str], max_chars: int) -> list[str]:
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return chunks


def chunk_text(text: str, *, max_chars: int = 300, language: str = "en") -> list[str]:
    """Group sentences into chunks of at most ``max_chars`` characters for a TTS call each.

    Whole sentences are packed together while they fit; a longer sentence is cut at commas and
    semicolons, then between words. A single word longer than ``max_chars`` stays whole.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    pieces: list[str] = []
    for sentence in split_sentences(text, language):
        pieces.extend([sentence] if len(sentence) <= max_chars else _split_long(sentence, max_chars))
    return _pack(pieces, max_chars)


def is_emoji(char: str) -> bool:
    """True for pictographs and their joiners/modifiers, which caption fonts do not carry."""
    cp = ord(char)
    if cp in (0x200D, 0xFE0F, 0x20E3) or 0x1F3FB <= cp <= 0x1F3FF:
        return True
    return unicodedata.category(char) == "So" and (cp >= 0x2190)


def strip_emoji(text: str) -> str:
    """``text`` without emoji, with the spaces they leave collapsed."""
    return " ".join("".join(c for c in text if not is_emoji(c)).split())
