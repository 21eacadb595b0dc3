"""The caption font of a story, per script, with nothing to set.

The story's own font (``captions.font_file``, else League Spartan) draws every word it has the glyphs for; the
package ships small OFL Noto fonts for Latin, Greek and Cyrillic, Arabic, Hebrew, Devanagari, Bengali, Tamil
and Thai; CJK fonts (about 20 MB a weight) are found through fontconfig (``fonts-noto-cjk`` on Debian/Colab).
A story whose letters no font here can draw is refused before any work, naming the language and the fix.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shortskit.safetext import FONT_FAMILY
from shortskit.scripts import _cjk, _locale
from shortskit.text import is_emoji
from shortskit.workspace import file_digest

__all__ = ["BUNDLED_FONTS", "FONT_DIR", "Face", "FontChoice", "NoFontError", "choose_fonts", "covers", "face_of"]

FONT_DIR = Path(__file__).parent / "assets" / "fonts"
# Tried in this order after the story's own font: the first that has a word's glyphs draws it.
BUNDLED_FONTS = (
    "LeagueSpartan-Bold.otf",
    "NotoSans-Bold.ttf",  # Latin, Greek, Cyrillic (subset)
    "NotoSansArabic-Bold.ttf",
    "NotoSansHebrew-Bold.ttf",
    "NotoSansDevanagari-Bold.ttf",
    "NotoSansBengali-Bold.ttf",
    "NotoSansTamil-Bold.ttf",
    "NotoSansThai-Bold.ttf",
)
# Languages by primary subtag, for messages and fontconfig's lang= (CJK faces differ per language).
_NAMES = {
    "ar": "Arabic", "bn": "Bengali", "el": "Greek", "fa": "Persian", "he": "Hebrew", "hi": "Hindi", "ja": "Japanese",
    "ko": "Korean", "mr": "Marathi", "ne": "Nepali", "ru": "Russian", "ta": "Tamil", "th": "Thai", "uk": "Ukrainian",
    "ur": "Urdu", "yue": "Cantonese", "zh": "Chinese", "cmn": "Chinese",
}  # fmt: skip


class NoFontError(ValueError):
    """No font here can draw some letters of the text (``missing``: those letters)."""

    def __init__(self, message: str, missing: str) -> None:
        super().__init__(message)
        self.missing = missing


# -- fonts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Face:
    """One font face: a file (and the face's index in a .ttc collection) and its family name."""

    file: Path
    index: int  # face in a font collection (0 for .ttf/.otf)
    family: str  # the name libass matches (the style's Fontname, or a \\fn override)

    def pil(self, size: int, *, basic: bool = False) -> Any:
        """This face as a Pillow font (``basic``: without Raqm, for one-character probes)."""
        return _pil(str(self.file), self.index, size, basic)


@lru_cache(maxsize=128)
def _pil(file: str, index: int, size: int, basic: bool) -> Any:
    from PIL import ImageFont

    layout = ImageFont.Layout.BASIC if basic else None
    return ImageFont.truetype(file, size, index=index, layout_engine=layout)


@lru_cache(maxsize=32)
def _notdef(face: Face) -> tuple[tuple[int, int], bytes]:
    mask = face.pil(40, basic=True).getmask("\U0010fffd")  # a private-use code point: what "missing" looks like
    return mask.size, bytes(mask)


@lru_cache(maxsize=65536)
def _has(face: Face, ch: str) -> bool:
    mask = face.pil(40, basic=True).getmask(ch)
    return (mask.size, bytes(mask)) != _notdef(face)


def _drawn(text: str) -> list[str]:
    """The characters of ``text`` a font must have: no spaces, emoji, joiners or variation selectors."""
    seen: dict[str, None] = {}
    for ch in text:
        if ch.isspace() or is_emoji(ch) or unicodedata.category(ch) in ("Cf", "Cc", "Zs"):
            continue
        seen.setdefault(ch, None)
    return list(seen)


def covers(face: Face, text: str) -> bool:
    """Whether ``face`` has a glyph for every character of ``text`` that is drawn."""
    return all(_has(face, c) for c in _drawn(text))


def face_of(path: Path, index: int = 0) -> Face:
    """The face in ``path`` (ValueError if it is not a font)."""
    try:
        name = _pil(str(path), index, 20, True).getname()[0]
    except OSError:
        raise ValueError(f"{path.name} is not a font file (.ttf, .otf or .ttc)") from None
    family = name or path.stem
    # the name goes into the ASS file's Style line and \fn tags: a comma or a line break in a font's own name
    # would add fields or lines of the font maker's choosing
    if not FONT_FAMILY.fullmatch(family):
        raise ValueError(f"{path.name}: its family name has characters a caption style cannot hold; use another font")
    return Face(path, index, family)


@lru_cache(maxsize=1)
def _bundled() -> tuple[Face, ...]:
    return tuple(face_of(FONT_DIR / name) for name in BUNDLED_FONTS)


def _fc_lang(language: str, text: str) -> str | None:
    """fontconfig's language for the CJK face of ``language`` (``text`` where the language does not say).

    One CJK collection holds a face per region (Noto Sans CJK: JP, KR, SC, TC, HK), drawing the same code point
    in the region's form (骨 and 直 differ): zh, zh-Hans, zh-CN, zh-SG and cmn take SC; zh-Hant and zh-TW TC;
    zh-HK, zh-MO and Cantonese HK; ja JP; ko KR.
    """
    primary = _locale(language)
    if primary == "zh":
        subtags = language.lower().replace("_", "-").split("-")[1:]
        if "hans" in subtags or any(s in subtags for s in ("cn", "sg")):
            return "zh-cn"
        if any(s in subtags for s in ("hk", "mo")) or language.lower().startswith("yue"):
            return "zh-hk"
        return "zh-tw" if any(s in subtags for s in ("hant", "tw")) else "zh-cn"
    if primary in ("ja", "ko"):
        return primary
    if any(0x3040 <= ord(c) <= 0x30FF for c in text):
        return "ja"
    if any(0xAC00 <= ord(c) <= 0xD7AF or 0x1100 <= ord(c) <= 0x11FF for c in text):
        return "ko"
    if any(_cjk(c) for c in text):
        return "zh-cn"
    return None


@lru_cache(maxsize=64)
def _system_face(lang: str | None, chars: str) -> Face | None:
    """A bold sans-serif face fontconfig knows for ``lang`` having ``chars``; None without fontconfig or a match."""
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    charset = " ".join(f"{ord(c):x}" for c in chars[:64])
    pattern = "sans-serif:weight=bold" + (f":lang={lang}" if lang else "") + f":charset={charset}"
    try:
        done = subprocess.run(
            [exe, "-f", "%{file}\n%{index}\n%{family[0]}", pattern], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    parts = done.stdout.split("\n")
    if done.returncode != 0 or len(parts) < 3 or not parts[0]:
        return None
    path = Path(parts[0])
    try:
        face = Face(path, int(parts[1] or 0), parts[2] or path.stem)
        face.pil(20, basic=True)
    except (OSError, ValueError):
        return None
    return face if all(_has(face, c) for c in chars) else None


@dataclass(frozen=True)
class FontChoice:
    """The faces a story's captions are drawn with: ``faces[0]`` draws what it can, the others the rest."""

    faces: tuple[Face, ...]  # the primary face first, then the fallbacks in the order they are tried
    digest: str  # content digest of every face (files and face indices): part of caption and clip keys
    unsupported: str  # drawn characters (symbols, not letters) no face has; they will not show

    @property
    def primary(self) -> Face:
        return self.faces[0]

    def face_for(self, text: str) -> Face:
        """The face that draws ``text``: the first that has all of its glyphs, else the one with most."""
        for face in self.faces:
            if covers(face, text):
                return face
        chars = _drawn(text)
        return max(self.faces, key=lambda f: sum(_has(f, c) for c in chars))

    def runs(self, text: str) -> list[tuple[str, Face]]:
        """``text`` in pieces each one face draws whole (one piece where a face has every glyph).

        For drawing without font fallback (Pillow): "טוב." is Hebrew letters from one face, the period from
        another. A combining mark stays with the character before it.
        """
        face = self.face_for(text)
        if covers(face, text):
            return [(text, face)]
        out: list[tuple[str, Face]] = []
        for ch in text:
            if out and (unicodedata.category(ch) in ("Mn", "Me", "Cf") or _has(out[-1][1], ch)):
                out[-1] = (out[-1][0] + ch, out[-1][1])
                continue
            f = self.face_for(ch)
            if out and out[-1][1] == f:
                out[-1] = (out[-1][0] + ch, f)
            else:
                out.append((ch, f))
        return out

    def folder(self) -> Path:
        """One folder holding every face's file, for libass's ``fontsdir`` (links where the files are apart)."""
        folders = {f.file.parent for f in self.faces}
        if len(folders) == 1:
            return next(iter(folders))
        target = Path(tempfile.gettempdir()) / f"shortskit-fonts-{self.digest[:16]}"
        if target.is_dir():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
        for i, face in enumerate(dict.fromkeys(f.file for f in self.faces)):
            link = tmp / f"{i:02d}-{face.name}"
            try:
                os.symlink(face.resolve(), link)
            except OSError:  # no symlinks here (Windows without the right): a copy
                shutil.copyfile(face, link)
        try:
            os.replace(tmp, target)
        except OSError:  # another render made it first
            shutil.rmtree(tmp, ignore_errors=True)
        return target


def _language_name(language: str) -> str:
    primary = language.replace("_", "-").split("-")[0].lower()
    return _NAMES.get(primary, f"the {language!r}")


def _letters(chars: Iterable[str]) -> str:
    return "".join(c for c in chars if unicodedata.category(c)[0] in "LMN")


def choose_fonts(text: str, language: str, own: Face | None = None) -> FontChoice:
    """The faces that draw ``text`` (all of a story's captions), the story's own face ``own`` first where it can.

    The primary face is the story's own while it draws 90 % of the letters, else the one that draws most (so a
    Russian short is all Noto Sans rather than League Spartan for its brand names and Noto for the rest); words it lacks fall to the others in order.
    :class:`NoFontError` when no face here draws some letters, naming the language and the fix.
    """
    chain: list[Face] = [own] if own is not None else []
    chain += [f for f in _bundled() if f not in chain]
    chars = _drawn(text)
    missing = [c for c in chars if not any(_has(f, c) for f in chain)]
    if missing:
        found = _system_face(_fc_lang(language, "".join(missing)), "".join(_letters(missing)) or missing[0])
        if found is not None:
            chain.append(found)
            missing = [c for c in missing if not _has(found, c)]
        for c in list(missing):  # letters of yet another script: any installed face that has them
            if c in missing and (extra := _system_face(None, c)) is not None:
                chain.append(extra)
                missing = [m for m in missing if not _has(extra, m)]
    letters = _letters(missing)
    if letters:
        cjk = any(_cjk(c) or 0xAC00 <= ord(c) <= 0xD7AF for c in letters)
        fix = (
            "install a CJK font (Debian/Ubuntu/Colab: apt-get install fonts-noto-cjk)"
            if cjk
            else "install a font for it (e.g. Debian's fonts-noto-core)"
        )
        raise NoFontError(
            f"no font here draws the {_language_name(language).removeprefix('the ')} captions "
            f"({letters[:8]!r}): {fix}, or set captions.font_file to a font that has them, "
            "or captions.enabled: false",
            letters,
        )
    letters_used = _letters(chars) or "".join(chars)
    counts = [sum(_has(f, c) for c in letters_used) for f in chain]
    best = max(range(len(chain)), key=lambda i: (counts[i], -i))
    if own is not None and counts[0] >= 0.9 * counts[best]:  # a stray µ or é does not change the look of a story
        best = 0
    used = [chain[best], *(f for f in chain if f != chain[best])]
    # only the faces some word may need are part of the key, so an unrelated new font changes nothing
    needed = [f for f in used if f == used[0] or any(_has(f, c) for c in chars)]
    h = hashlib.sha256()
    for f in needed:
        h.update(f"{file_digest(f.file)}:{f.index};".encode())
    return FontChoice(tuple(needed), h.hexdigest()[:32], "".join(missing))
