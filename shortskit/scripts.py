"""Text that is not Latin: which font draws a story's captions, which way they run, and where the words are in
languages written without spaces.

Fonts: the story's own font (``captions.font_file``, else League Spartan) is used wherever it has the glyphs;
the package ships small OFL Noto fonts for Latin, Greek and Cyrillic, Arabic, Hebrew, Devanagari, Bengali,
Tamil and Thai; CJK fonts (about 20 MB a weight) are found through fontconfig (``fonts-noto-cjk`` on
Debian/Colab). A story whose letters no font can draw is refused before any work, naming the language and the
fix. libass (HarfBuzz, FriBidi) shapes and orders the text; the moviepy engine uses Pillow's Raqm layout.

Words: Chinese, Japanese and Thai are cut into words by ICU's dictionary word breaks (``icu4py``), with the
voice's timings spread over them; a word never starts with closing punctuation (kinsoku) and never splits a
grapheme cluster. Korean and every spaced script keep their own words.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shortskit.providers.base import Word
from shortskit.text import is_emoji
from shortskit.workspace import file_digest

__all__ = [
    "BUNDLED_FONTS",
    "FONT_DIR",
    "CaptionWord",
    "Face",
    "FontChoice",
    "NoFontError",
    "caption_words",
    "choose_fonts",
    "covers",
    "cue_width",
    "display_width",
    "face_of",
    "is_rtl",
    "join_words",
    "needs_shaping",
    "rtl_language",
    "segment",
    "spaceless",
    "visual_order",
]

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
SEGMENTER = "icu-words-1"  # bump when the same text would be cut differently

# Languages by primary subtag, for messages and fontconfig's lang= (CJK faces differ per language).
_NAMES = {
    "ar": "Arabic", "bn": "Bengali", "el": "Greek", "fa": "Persian", "he": "Hebrew", "hi": "Hindi", "ja": "Japanese",
    "ko": "Korean", "mr": "Marathi", "ne": "Nepali", "ru": "Russian", "ta": "Tamil", "th": "Thai", "uk": "Ukrainian",
    "ur": "Urdu", "yue": "Cantonese", "zh": "Chinese", "cmn": "Chinese",
}  # fmt: skip
_RTL_LANGUAGES = ("ar", "he", "fa", "ur", "yi", "ps")


class NoFontError(ValueError):
    """No font here can draw some letters of the text (``missing``: those letters)."""

    def __init__(self, message: str, missing: str) -> None:
        super().__init__(message)
        self.missing = missing


# -- which characters are what --------------------------------------------------------------------------------


def _cjk(ch: str) -> bool:
    """Han, kana and CJK punctuation or full-width forms: text written without spaces between words."""
    cp = ord(ch)
    return (
        0x2E80 <= cp <= 0x2FDF  # radicals
        or 0x3000 <= cp <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x31F0 <= cp <= 0x31FF
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF  # full-width and half-width forms
        or 0x20000 <= cp <= 0x3FFFF
    )


def _southeast_asian(ch: str) -> bool:
    """Thai, Lao, Khmer, Myanmar: spaces between phrases, none between words."""
    cp = ord(ch)
    return 0x0E00 <= cp <= 0x0EFF or 0x1780 <= cp <= 0x17FF or 0x1000 <= cp <= 0x109F


def spaceless(text: str) -> bool:
    """Whether ``text`` holds script written without spaces between words (Chinese, Japanese, Thai, ...)."""
    return any(_cjk(c) or _southeast_asian(c) for c in text)


def display_width(text: str) -> int:
    """Columns ``text`` takes: a CJK character two, a combining mark none, anything else one."""
    total = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def _closing(token: str) -> bool:
    """Punctuation that may not start a line: 。、，！？」』）… (kinsoku), and ASCII closers too."""
    return bool(token) and all(unicodedata.category(c) in ("Pe", "Pf", "Po") and c not in "¿¡#@&*" for c in token)


def _opening(token: str) -> bool:
    return bool(token) and all(unicodedata.category(c) in ("Ps", "Pi") or c in "¿¡" for c in token)


def is_rtl(text: str) -> bool:
    """Whether ``text`` reads right to left: its first strongly directional character does."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def _strong(text: str) -> str | None:
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "R"
        if kind == "L":
            return "L"
    return None


def visual_order(words: Sequence[str], rtl: bool) -> list[int]:
    """The order, left to right, to place ``words`` of one line in (word-level Unicode bidi).

    In a right-to-left line the words run from the right, except that a run of left-to-right words (a brand
    name, a Latin phrase) keeps its own order; digits and punctuation take the line's direction.
    """
    order = list(range(len(words)))
    if not rtl:
        # an RTL run inside an LTR line is reversed in place
        return _reverse_runs(order, [_strong(w) == "R" for w in words])
    runs = _reverse_runs(order, [_strong(w) == "L" for w in words])
    return runs[::-1]


def _reverse_runs(order: list[int], marked: list[bool]) -> list[int]:
    out: list[int] = []
    i = 0
    while i < len(order):
        if not marked[i]:
            out.append(order[i])
            i += 1
            continue
        j = i
        while j + 1 < len(order) and marked[j + 1]:
            j += 1
        out.extend(reversed(order[i : j + 1]))
        i = j + 1
    return out


def needs_shaping(text: str) -> bool:
    """Whether ``text`` needs a shaping engine to come out right: joined or reordered scripts, Indic, Thai."""
    for ch in text:
        cp = ord(ch)
        if unicodedata.bidirectional(ch) in ("R", "AL") or 0x0900 <= cp <= 0x0DFF or 0x0E00 <= cp <= 0x0EFF:
            return True
        if 0x1000 <= cp <= 0x109F or 0x1780 <= cp <= 0x17FF:
            return True
    return False


# -- words where there are no spaces ------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptionWord(Word):
    """A caption word; ``glued`` when it follows the previous word with no space (a word of Chinese, Thai, ...)."""

    glued: bool = False


def _glued(left: str, right: str) -> bool:
    """Whether two words the voice gave apart are really one run of CJK text (no space between them)."""
    return bool(left and right) and (_cjk(left[-1]) or _cjk(right[0]))


def join_words(words: Iterable[Word]) -> str:
    """The words as one line of text: spaces between them, none where a word is ``glued``."""
    out = ""
    for w in words:
        if out and not getattr(w, "glued", False):
            out += " "
        out += w.text
    return out


@lru_cache(maxsize=1)
def _icu() -> Any:
    from icu4py.breakers import CharacterBreaker, WordBreaker
    from icu4py.locale import Locale

    return WordBreaker, CharacterBreaker, Locale


def _locale(language: str) -> str:
    primary = language.replace("_", "-").split("-")[0].lower()
    return {"cmn": "zh", "yue": "zh"}.get(primary, primary)


def _graphemes(text: str, language: str) -> list[str]:
    _, characters, locale = _icu()
    return [text[a:b] for a, b in characters(text, locale(_locale(language))).segments()]


MAX_TOKEN = 6  # graphemes: a longer dictionary word (or unknown run) is cut so a caption never overflows


def segment(text: str, language: str) -> list[str]:
    """``text`` (a run with no spaces) cut into words by ICU's dictionary word breaks.

    Closing punctuation joins the word before it, opening punctuation the word after (so no line or cue starts
    with 。 or 」); a word longer than ``MAX_TOKEN`` graphemes is cut between graphemes. The words joined give
    ``text`` back exactly, spaces aside.
    """
    words, _, locale = _icu()
    raw = [text[a:b] for a, b in words(text, locale(_locale(language))).segments()]
    tokens: list[str] = []
    pending = ""  # opening punctuation waiting for its word
    for tok in raw:
        if not tok.strip():
            continue
        if _closing(tok) and tokens:
            tokens[-1] += tok
        elif _opening(tok):
            pending += tok
        else:
            tokens.append(pending + tok)
            pending = ""
    if pending:
        if tokens:
            tokens[-1] += pending
        else:
            tokens.append(pending)
    out: list[str] = []
    for tok in tokens:
        clusters = _graphemes(tok, language)
        if len(clusters) <= MAX_TOKEN:
            out.append(tok)
            continue
        # cut a long word into even pieces, never leaving a piece that is only punctuation
        pieces = -(-len(clusters) // MAX_TOKEN)
        step = -(-len(clusters) // pieces)
        chunks = ["".join(clusters[i : i + step]) for i in range(0, len(clusters), step)]
        for chunk in chunks:
            if out and _closing(chunk):
                out[-1] += chunk
            else:
                out.append(chunk)
    return out


def _weight(ch: str) -> float:
    """How much of a word's spoken time a character takes: letters and digits one, marks and punctuation none."""
    cat = unicodedata.category(ch)
    return 1.0 if cat[0] in "LN" else 0.0


def caption_words(words: Sequence[Word], language: str) -> tuple[Word, ...]:
    """The voice's ``words`` as caption words: runs of Chinese, Japanese or Thai cut by :func:`segment`.

    The voice may time a whole clause as one word (eSpeak's words are the text's space-separated tokens) or
    each character as one: both become the segmenter's words, each starting when its first character is
    heard (a voice word's time spread over its letters). Other words pass through unchanged.
    """
    if not words or all(isinstance(w, CaptionWord) for w in words) or not any(spaceless(w.text) for w in words):
        return tuple(words)
    out: list[Word] = []
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and _glued(words[j].text, words[j + 1].text):
            j += 1
        run = words[i : j + 1]
        i = j + 1
        text = "".join(w.text for w in run)
        if not spaceless(text):
            out.extend(CaptionWord(w.text, w.start, w.end) for w in run)
            continue
        times: list[float] = []  # when each character of the run is heard
        for w in run:
            weights = [_weight(c) for c in w.text]
            total = sum(weights) or 1.0
            done = 0.0
            for wt in weights:
                times.append(w.start + (w.end - w.start) * done / total)
                done += wt
        tokens = segment(text, language)
        starts, pos = [], 0
        for tok in tokens:
            starts.append(times[min(pos, len(times) - 1)])
            pos += len(tok)
        for k, tok in enumerate(tokens):
            end = starts[k + 1] if k + 1 < len(tokens) else run[-1].end
            out.append(CaptionWord(tok, starts[k], max(end, starts[k]), glued=k > 0))
    return tuple(out)


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
    return Face(path, index, name or path.stem)


@lru_cache(maxsize=1)
def _bundled() -> tuple[Face, ...]:
    return tuple(face_of(FONT_DIR / name) for name in BUNDLED_FONTS)


def _fc_lang(language: str, text: str) -> str | None:
    primary = _locale(language)
    if primary == "zh":
        tag = language.lower()
        return "zh-tw" if any(x in tag for x in ("tw", "hant", "hk", "mo")) or language.startswith("yue") else "zh-cn"
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

    The primary face is the one that draws most of the letters (so a Russian short is all Noto Sans rather than
    League Spartan for its brand names and Noto for the rest); words it lacks fall to the others in order.
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
    if own is not None and counts[0] == counts[best]:
        best = 0
    used = [chain[best], *(f for f in chain if f != chain[best])]
    # only the faces some word may need are part of the key, so an unrelated new font changes nothing
    needed = [f for f in used if f == used[0] or any(_has(f, c) for c in chars)]
    h = hashlib.sha256()
    for f in needed:
        h.update(f"{file_digest(f.file)}:{f.index};".encode())
    return FontChoice(tuple(needed), h.hexdigest()[:32], "".join(missing))


def rtl_language(language: str) -> bool:
    """Whether ``language`` is written right to left."""
    return language.replace("_", "-").split("-")[0].lower() in _RTL_LANGUAGES


def cue_width(language: str) -> int:
    """Display width of an SRT cue: 42 columns, or 16 characters (32 columns) of Chinese or Japanese."""
    return 32 if _locale(language) in ("zh", "ja") else 42
