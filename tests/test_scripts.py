"""Captions in every script our voices speak: fonts chosen per script, Arabic and Hebrew right to left, Chinese,
Japanese and Thai cut into words, and whole renders read back from the MP4 (tesseract OCR where it is here)."""

from __future__ import annotations

import difflib
import functools
import itertools
import logging
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pysubs2
import pytest
from PIL import Image

import shortskit
from shortskit import ffmpeg, fonts, scripts
from shortskit.captions import caption_font, group_words
from shortskit.errors import ConfigError, StoryError
from shortskit.providers.base import Word
from shortskit.story import Story
from shortskit.subtitles import write_ass
from tests.conftest import run_cli, write_story

TEXTS = {
    "ru": "Привет, мир! Это iPhone пятнадцать.",
    "el": "Γεια σου κόσμε, καλημέρα σε όλους.",
    "ar": "مرحبا بكم في عالم جديد وجميل.",
    "he": "שלום עולם, בוקר טוב לכולם.",
    "hi": "नमस्ते दुनिया, आज मौसम अच्छा है।",
    "th": "ภาษาไทยเป็นภาษาที่สวยงามมาก",
    "zh": "今天天气很好，我们去公园散步吧。人工智能正在改变我们的世界。",
    "ja": "東京は日本の首都です。「こんにちは」と言いました。",
    "ko": "안녕하세요 저는 학생입니다.",
}
CJK_FONT = fonts._system_face("zh-cn", "天") is not None
needs_cjk = pytest.mark.skipif(not CJK_FONT, reason="no CJK font installed (apt-get install fonts-noto-cjk)")
OCR_LANGS = {
    "ru": "rus", "el": "ell", "ar": "ara", "he": "heb", "hi": "hin", "th": "tha", "zh": "chi_sim", "ja": "jpn",
    "ko": "kor",
}  # fmt: skip


def _tesseract(lang: str) -> bool:
    exe = shutil.which("tesseract")
    if exe is None:
        return False
    found = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, check=False).stdout.split()
    return lang in found


def _bare(text: str) -> str:
    """Letters, marks and digits only: what OCR and our captions must agree on."""
    return "".join(c for c in text if c.isalnum() or unicodedata.category(c)[0] == "M")


# -- words where there are no spaces ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "ja", "th"])
def test_segmenter_cuts_spaceless_text_into_words_that_give_it_back(lang: str) -> None:
    text = TEXTS[lang]
    tokens = scripts.segment(text, lang)
    assert "".join(tokens) == text
    assert len(tokens) >= 5  # a clause is many words, not one
    assert all(len(t) <= 8 for t in tokens)
    # kinsoku: no word starts with closing punctuation, so no caption line or cue can
    assert not any(t[0] in "。，、！？」』）" for t in tokens)
    # a word boundary never falls inside a grapheme cluster (Thai vowels and tone marks stay on their letter)
    clusters = scripts._graphemes(text, lang)
    bounds = {0}
    for c in clusters:
        bounds.add(max(bounds) + len(c))
    pos = 0
    for t in tokens:
        assert pos in bounds, (t, tokens)
        pos += len(t)


def test_korean_keeps_its_spaces_and_latin_is_untouched() -> None:
    words = [Word("안녕하세요", 0.0, 0.5), Word("저는", 0.5, 0.8), Word("학생입니다.", 0.8, 1.4)]
    assert scripts.caption_words(words, "ko") == tuple(words)
    latin = [Word("Hello", 0.0, 0.4), Word("world.", 0.4, 0.9)]
    assert scripts.caption_words(latin, "en") == tuple(latin)


@pytest.mark.parametrize("per_character", [False, True])
def test_caption_words_spread_the_voice_timings_over_the_segmenter_words(per_character: bool) -> None:
    text = "今天天气很好，我们去公园散步吧。"
    # a voice that times every character, or eSpeak's one word for the whole clause
    words = [Word(c, i * 0.2, (i + 1) * 0.2) for i, c in enumerate(text)] if per_character else [Word(text, 0.0, 3.2)]
    out = scripts.caption_words(words, "zh")
    assert "".join(w.text for w in out) == text
    assert out[0].text == "今天" and out[0].start == 0.0
    assert out[-1].end == pytest.approx(words[-1].end)
    starts = [w.start for w in out]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(w.end == pytest.approx(n.start) for w, n in itertools.pairwise(out))
    assert not out[0].glued and all(w.glued for w in out[1:])  # shown without spaces
    # "天气" starts when its first character is heard: the third of the clause's 14 letters
    assert out[1].start == pytest.approx(words[0].start + (2 / 14) * 3.2 if not per_character else 0.4)


# Thai puts a space between phrases and none between words; a Chinese or Japanese story may have one too
SPACED = {
    "th": "ภาษาไทยสวยงาม เราชอบมาก",
    "zh": "今天天气很好。 我们去 AI 公园散步吧。",
    "ja": "東京は日本の首都です。 私は AI が好きです。",
    "ko": "안녕하세요 저는 학생입니다.",
}


def _reads_back(pieces: list[str], text: str) -> None:
    """``pieces`` (cues or caption lines, in order) are ``text`` exactly, its spaces included; only a space the
    text has may fall between two pieces."""
    pos = 0
    for piece in pieces:
        while pos < len(text) and text[pos].isspace() and not piece[:1].isspace():
            pos += 1
        assert text.startswith(piece, pos), f"{piece!r} is not the text at {pos}: {text[pos:]!r} (all: {pieces})"
        pos += len(piece)
    assert not text[pos:].strip(), f"{text[pos:]!r} is missing from {pieces}"


@pytest.mark.parametrize("lang", sorted(SPACED))
@pytest.mark.parametrize("voice", ["espeak", "per-character", "per-token"])
def test_caption_words_keep_the_spaces_of_the_story_and_add_none(lang: str, voice: str) -> None:
    text = SPACED[lang]
    if voice == "espeak":  # eSpeak's words: the segmenter's, each timed by its own event
        spans = scripts.word_spans(text, lang) if scripts.spaceless(text) else None
        tokens = [w for _, _, w in spans] if spans else text.split()
    elif voice == "per-character":  # a voice that times every character
        tokens = [c for c in text if not c.isspace()]
    else:  # one word per space-separated clause
        tokens = text.split()
    words = [Word(t, i * 0.3, (i + 1) * 0.3) for i, t in enumerate(tokens)]
    out = scripts.caption_words(words, lang, text)
    assert scripts.join_words(out) == text
    groups = group_words(words, max_words=3, max_chars=18, language=lang, text=text)
    _reads_back([g.text for g in groups], text)
    assert len(groups) >= 2
    if lang == "th":  # the phrase space is kept and none is added between the Thai words around it
        assert " " not in scripts.join_words(out[:3]) and sum(not w.glued for w in out[1:]) == 1


def test_cjk_groups_count_display_width_and_join_without_spaces() -> None:
    words = scripts.caption_words([Word(TEXTS["zh"], 0.0, 6.0)], "zh")
    groups = group_words(words, max_words=7, max_chars=32)
    assert "".join(g.text for g in groups) == TEXTS["zh"]
    assert all(len(g.text) <= 16 for g in groups)
    assert all(scripts.display_width(g.text) <= 32 for g in groups)
    assert not any(g.text[0] in "。，" for g in groups)
    assert scripts.display_width("天气") == 4 and scripts.display_width("ab") == 2


def test_visual_order_runs_right_to_left_but_keeps_a_latin_run_in_order() -> None:
    words = ["مرحبا", "بكم", "iPhone", "Pro", "2026"]
    order = scripts.visual_order(words, rtl=True)
    assert [words[i] for i in order] == ["2026", "iPhone", "Pro", "بكم", "مرحبا"]
    assert scripts.visual_order(["a", "b"], rtl=False) == [0, 1]


# -- fonts --------------------------------------------------------------------------------------------------


def _story(lang: str, **captions: object) -> Story:
    return Story.model_validate(
        {"title": "T", "language": lang, "scenes": [{"text": TEXTS[lang], "image_prompt": "x"}], "captions": captions}
    )


@pytest.mark.parametrize(
    ("lang", "family"),
    [("ru", "Noto Sans"), ("el", "Noto Sans"), ("ar", "Noto Sans Arabic"), ("he", "Noto Sans Hebrew"),
     ("hi", "Noto Sans Devanagari"), ("th", "Noto Sans Thai")],
)  # fmt: skip
def test_each_script_gets_a_shipped_font_that_draws_it(lang: str, family: str) -> None:
    font = caption_font(_story(lang))
    assert font.style.font == family
    assert font.file.parent == fonts.FONT_DIR
    assert not font.choice.unsupported
    letters = "".join(c for c in TEXTS[lang].replace("iPhone", "") if unicodedata.category(c)[0] in "LM")
    assert fonts.covers(font.choice.primary, letters)  # the primary face draws every letter (punctuation may fall back)


@needs_cjk
@pytest.mark.parametrize(("lang", "family"), [("zh", "SC"), ("ja", "JP"), ("ko", "KR")])
def test_cjk_comes_from_an_installed_font_for_the_language(lang: str, family: str) -> None:
    font = caption_font(_story(lang))
    assert font.style.font.endswith(family), font.style.font
    assert fonts.covers(font.choice.primary, TEXTS[lang])
    assert font.folder.is_dir() and any(p.resolve() == font.file.resolve() for p in font.folder.iterdir())


@needs_cjk
def test_each_cjk_language_gets_its_own_face_of_the_font_collection() -> None:
    """One .ttc holds a face per region (骨 and 直 are drawn differently in each): the caption language picks it,
    and the face index chosen is the face the family name (what libass is told) names."""
    want = {"zh": "SC", "zh-Hans": "SC", "cmn": "SC", "zh-Hant": "TC", "zh-TW": "TC", "zh-HK": "HK", "yue": "HK",
            "ja": "JP", "ko": "KR"}  # fmt: skip
    chosen: dict[str, fonts.Face] = {}
    for lang, region in want.items():
        text = "안녕 骨直" if lang == "ko" else "骨直"
        story = Story.model_validate({"title": "T", "language": lang, "scenes": [{"text": text, "image_prompt": "x"}]})
        face = caption_font(story).choice.primary
        assert face.family.endswith(f" {region}"), (lang, face)
        assert fonts.face_of(face.file, face.index).family == face.family  # the index and the name agree
        chosen[lang] = face
    if chosen["zh"].file == chosen["ja"].file:  # one collection (Debian's fonts-noto-cjk): faces apart by index
        assert len({chosen[k].index for k in ("zh", "zh-Hant", "zh-HK", "ja", "ko")}) == 5


def test_the_story_font_wins_where_it_draws_the_text(tmp_path: Path) -> None:
    own = tmp_path / "mine.ttf"
    shutil.copyfile(fonts.FONT_DIR / "NotoSans-Bold.ttf", own)
    story = _story("ru", font_file="mine.ttf").with_source(tmp_path / "story.json")  # a font in its own folder
    font = caption_font(story)
    assert font.file == own and font.style.font == "Noto Sans"
    # a new font with other bytes is another key: no clip made with the old one is reused
    before = font.digest
    own.write_bytes(own.read_bytes() + b"\0" * 16)
    assert caption_font(story).digest != before
    # one Greek letter in an English story changes only that word's face, not the story's look
    english = Story.model_validate(
        {"title": "T", "language": "en", "scenes": [{"text": "It is 5 μm across, a tiny thing.", "image_prompt": "x"}]}
    )
    mixed = caption_font(english)
    assert mixed.style.font == "League Spartan" and mixed.choice.face_for("μm").family == "Noto Sans"
    # Latin words inside Arabic are drawn by the story's own font (League Spartan), the rest by Noto Arabic
    choice = caption_font(_story("ar")).choice
    assert choice.face_for("iPhone").family == "League Spartan"
    assert choice.face_for("2026").family == "Noto Sans Arabic"  # Arabic digits context: the primary face


def test_a_language_no_font_draws_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "_system_face", lambda lang, chars: None)  # a machine without CJK fonts
    with pytest.raises(StoryError) as err:
        caption_font(_story("zh"))
    message = str(err.value)
    assert "Chinese" in message and "fonts-noto-cjk" in message and "captions.font_file" in message
    assert err.value.field == "captions.font_file"


def test_the_cli_refuses_it_with_exit_2_before_any_work(tmp_path: Path) -> None:
    """Georgian: no shipped font; with fontconfig out of reach (no fc-match on PATH), nothing draws it."""
    story = {"title": "T", "language": "ka", "scenes": [{"text": "გამარჯობა მსოფლიო", "image_prompt": "x"}]}
    path = write_story(tmp_path, story)
    proc = run_cli(
        "render", path, "-o", tmp_path / "out.mp4", "--workspace", tmp_path / "ws", env={"PATH": "/nonexistent"}
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "captions" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "ws" / "voices").exists()


# -- ASS: direction, fonts, lines ------------------------------------------------------------------------


def test_ass_of_rtl_text_lets_libass_find_the_direction(tmp_path: Path) -> None:
    font = caption_font(_story("ar"))
    words = [Word("مرحبا", 0.0, 0.5), Word("بكم", 0.5, 0.9), Word("iPhone", 0.9, 1.5)]
    ass = pysubs2.load(str(write_ass(group_words(words), tmp_path / "a.ass", font.style, fonts=font.choice)))
    assert ass.styles["Default"].encoding == -1
    assert ass.styles["Default"].fontname == "Noto Sans Arabic"
    assert all(
        r"{\fnLeague Spartan}iPhone{\fnNoto Sans Arabic}" in e.text or r"{\fnLeague Spartan}iPhone{\r}" in e.text
        for e in ass
    )
    latin = pysubs2.load(str(write_ass(group_words([Word("Hi", 0, 1)]), tmp_path / "b.ass", _story("ru").captions)))
    assert latin.styles["Default"].encoding == 1


def test_moviepy_engine_refuses_unshaped_text_without_raqm(monkeypatch: pytest.MonkeyPatch) -> None:
    from shortskit.engines import moviepy_captions
    from shortskit.engines.base import ClipSpec

    font = caption_font(_story("ar"))
    spec = ClipSpec(
        image=Path("x.png"), voice=Path("x.wav"), duration=1.0, groups=tuple(group_words([Word("مرحبا", 0, 1)])),
        style=font.style, fonts=font.choice, font_file=font.file, width=270, height=480,
    )  # fmt: skip
    monkeypatch.setattr(moviepy_captions, "raqm", lambda: False)
    with pytest.raises(ConfigError, match="Raqm"):
        moviepy_captions.caption_clips(spec, 1.0)


# -- whole renders, read back ---------------------------------------------------------------------------------


def _render(
    folder: Path,
    lang: str,
    *,
    captions: bool = True,
    engine: str | shortskit.engines.ClipEngine = "ffmpeg",
    text: str | None = None,
    highlight: str = "#FFFFFF",
    size: int | None = None,
) -> shortskit.RenderResult:
    image = folder / "dark.png"
    if not image.exists():
        Image.new("RGB", (360, 640), (40, 44, 52)).save(image)
    data = {
        "title": "T", "language": lang,
        "scenes": [{"text": text or TEXTS[lang], "image": "dark.png"}],
        "output": {"width": 360, "height": 640, "fps": 10, "quality": "draft", "motion": "none"},
        "captions": {"enabled": captions, "highlight_color": highlight, **({"size": size} if size else {})},
        "music": {"enabled": False},
    }  # fmt: skip
    story = shortskit.load_story(write_story(folder, data))
    name = f"{lang}-{'c' if captions else 'n'}-{getattr(engine, 'name', engine)}.mp4"
    return shortskit.render_sync(story, folder / name, workspace=folder / "ws", engine=engine)


def _caption_frame(result: shortskit.RenderResult, t: float) -> np.ndarray:
    return np.asarray(ffmpeg.frame_at(result.video, t).convert("RGB")).astype(int)


def _only_shipped_fonts(lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For a script the package ships a font for: a fresh machine, where fontconfig (ours and libass's in ffmpeg)
    sees no system font, so only what we ship can draw the captions."""
    if lang in ("zh", "ja", "ko"):
        return
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig></fontconfig>')
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    # a cache of fontconfig's answers of its own, so none of this machine's leaks in and none of these leaks out
    monkeypatch.setattr(fonts, "_system_face", functools.lru_cache(maxsize=64)(fonts._system_face.__wrapped__))


LANGS = [pytest.param(lang, marks=needs_cjk) if lang in ("zh", "ja", "ko") else lang for lang in TEXTS]


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_whole_render_burns_in_captions_in_reading_order(
    lang: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="shortskit")
    _only_shipped_fonts(lang, tmp_path, monkeypatch)
    with_captions = _render(tmp_path, lang)
    without = _render(tmp_path, lang, captions=False)
    assert not [r for r in caplog.records if "glyph" in r.getMessage()]
    first = with_captions.scenes[0].words
    t = (first[0].start + first[min(1, len(first) - 1)].end) / 2 if first else 0.5
    a, b = _caption_frame(with_captions, t), _caption_frame(without, t)
    band = slice(int(640 * 0.45), int(640 * 0.85))  # where the bottom captions sit (margin 520 of 1920)
    changed = np.abs(a[band] - b[band]).max(axis=2) > 60
    assert changed.mean() > 0.01, f"{lang}: no caption drawn ({changed.mean():.4f} of the caption band changed)"
    assert np.abs(a[: band.start] - b[: band.start]).max() < 40  # and nothing above it
    # the SRT and the ASS hold the story's text, in reading order
    cues = pysubs2.load(str(with_captions.srt))
    assert _bare("".join(c.plaintext for c in cues)) == _bare(TEXTS[lang])
    if lang in ("zh", "ja"):
        assert all(len(c.plaintext.replace(" ", "")) <= 16 for c in cues), [c.plaintext for c in cues]
        assert not any(c.plaintext[0] in "。，、」！？" for c in cues)
    ass_file = next((tmp_path / "ws").rglob("*.ass"))
    shown: list[str] = []
    for e in pysubs2.load(str(ass_file)):
        text = re.sub(r"\{[^}]*\}", "", e.text).replace(r"\N", "")
        if not shown or shown[-1] != text:
            shown.append(text)
    assert _bare("".join(shown)) == _bare(TEXTS[lang])


def _ass_lines(path: Path) -> list[str]:
    """The caption lines of an ASS file in reading order: override tags dropped, each caption once."""
    shown: list[str] = []
    for e in pysubs2.load(str(path)):
        text = re.sub(r"\{[^}]*\}", "", e.text)
        if not shown or shown[-1] != text:
            shown.append(text)
    return [line for text in shown for line in text.split(r"\N")]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lang", "engine"),
    [("th", "ffmpeg"), ("th", "moviepy"), pytest.param("zh", "ffmpeg", marks=needs_cjk),
     pytest.param("ja", "ffmpeg", marks=needs_cjk), pytest.param("ko", "ffmpeg", marks=needs_cjk)],
)  # fmt: skip
def test_a_render_keeps_the_story_spaces_in_the_srt_the_ass_and_the_drawn_captions(
    lang: str, engine: str, tmp_path: Path
) -> None:
    from shortskit.engines.moviepy import MoviepyEngine

    drawn: list[shortskit.CaptionGroup] = []

    class Seen(MoviepyEngine):  # the groups the moviepy engine draws, as the render gives them
        async def render_clip(self, spec, out, *, scene=None, effects=()):  # type: ignore[no-untyped-def]
            drawn.extend(spec.groups)
            return await super().render_clip(spec, out, scene=scene, effects=effects)

    text = SPACED[lang]
    result = _render(tmp_path, lang, text=text, engine=Seen() if engine == "moviepy" else engine)  # type: ignore[arg-type]
    _reads_back([c.plaintext for c in pysubs2.load(str(result.srt))], text)
    _reads_back(_ass_lines(next((tmp_path / "ws").rglob("*.ass"))), text)
    if engine == "moviepy":
        _reads_back([g.text for g in drawn], text)
        assert len(drawn) >= 2


@needs_cjk
@pytest.mark.slow
def test_chinese_and_japanese_captions_draw_their_own_forms_in_both_engines(tmp_path: Path) -> None:
    """骨 and 直 have other forms in Chinese than in Japanese: each engine draws each language's own, and the
    moviepy engine's Chinese is libass's Chinese (not the collection's first face, which is Japanese)."""
    ink: dict[tuple[str, str], np.ndarray] = {}
    for lang in ("zh", "ja"):
        for engine in ("ffmpeg", "moviepy"):
            (folder := tmp_path / f"{lang}-{engine}").mkdir()
            result = _render(folder, lang, text="骨直", engine=engine, size=360)
            ink[lang, engine] = _caption_frame(result, 0.3)[int(640 * 0.45) : int(640 * 0.85)].min(axis=2) > 170

    def apart(a: tuple[str, str], b: tuple[str, str]) -> int:
        return int((ink[a] != ink[b]).sum())

    assert min(int(v.sum()) for v in ink.values()) > 3000  # the two characters are drawn large
    for engine in ("ffmpeg", "moviepy"):
        assert apart(("zh", engine), ("ja", engine)) > 1000, engine  # measured: 1750 and 1967 pixels
    # the two engines agree within a language (measured: about 300 pixels) far more than across languages
    for lang, other in (("zh", "ja"), ("ja", "zh")):
        same, across = apart((lang, "moviepy"), (lang, "ffmpeg")), apart((lang, "moviepy"), (other, "ffmpeg"))
        assert 3 * same < across, (lang, same, across)


def _ocr(frame: np.ndarray, lang: str) -> str:
    """Tesseract's reading of the caption band: caption pixels (white fill) black on white, enlarged."""
    band = frame[int(640 * 0.45) : int(640 * 0.85)]
    ink = band.min(axis=2) > 170
    img = Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).resize((band.shape[1] * 3, band.shape[0] * 3))
    done = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", lang, "--psm", "6"],
        input=_png(img), capture_output=True, check=False,
    )  # fmt: skip
    return done.stdout.decode("utf-8", "replace")


def _png(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lang", "engine"),
    [("ru", "ffmpeg"), ("el", "ffmpeg"), ("ar", "ffmpeg"), ("ar", "moviepy"), ("he", "ffmpeg"), ("he", "moviepy"),
     ("hi", "ffmpeg"), ("th", "ffmpeg"), pytest.param("zh", "ffmpeg", marks=needs_cjk),
     pytest.param("ja", "ffmpeg", marks=needs_cjk), pytest.param("ko", "ffmpeg", marks=needs_cjk)],
)  # fmt: skip
def test_ocr_reads_the_burned_in_captions_back(
    lang: str, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tess = OCR_LANGS[lang]
    if not _tesseract(tess):
        pytest.skip(f"tesseract with {tess} is not installed (apt-get install tesseract-ocr-{tess.replace('_', '-')})")
    _only_shipped_fonts(lang, tmp_path, monkeypatch)
    result = _render(tmp_path, lang, engine=engine)
    words = scripts.caption_words(result.scenes[0].words, lang)
    groups = group_words(words, max_words=3, max_chars=18)
    g = groups[0]
    # every word of the first caption in turn is the spoken one: its override tags must not break the order
    for i, w in enumerate(g.words):
        start = g.start if i == 0 else w.start
        end = g.words[i + 1].start if i + 1 < len(g.words) else g.end
        read = _bare(_ocr(_caption_frame(result, (start + end) / 2), tess))
        want = _bare(g.text)
        ratio = difflib.SequenceMatcher(None, read, want).ratio()
        assert ratio >= 0.9, f"{lang}/{engine}, word {i + 1}: OCR read {read!r} for {want!r} ({ratio:.2f})"
        fonts._system_face.cache_clear()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ffmpeg", "moviepy"])
def test_arabic_with_a_latin_name_reads_right_to_left_while_its_first_word_is_spoken(
    engine: str, tmp_path: Path
) -> None:
    """The spoken (first) word of an Arabic line sits at its right end, even with a Latin name in the line."""
    result = _render(tmp_path, "ar", engine=engine, text="مرحبا بكم iPhone", highlight="#FF0000")
    first = result.scenes[0].words
    frame = _caption_frame(result, (first[0].start + first[1].start) / 2)[int(640 * 0.45) : int(640 * 0.85)]
    red = (frame[..., 0] > 180) & (frame[..., 1] < 90) & (frame[..., 2] < 90)
    white = frame.min(axis=2) > 180
    assert red.sum() > 50 and white.sum() > 50
    red_x, white_x = np.nonzero(red)[1].mean(), np.nonzero(white)[1].mean()
    assert red_x > white_x + 20, (
        f"{engine}: the spoken first word is drawn left of the others ({red_x:.0f} <= {white_x:.0f})"
    )


@needs_cjk
def test_a_wide_cjk_caption_is_broken_into_lines_between_words(tmp_path: Path) -> None:
    """libass breaks lines only at spaces: a Chinese caption wider than the frame gets its own \\N, between words."""
    font = caption_font(_story("zh"))
    text = "人工智能正在改变我们的世界科学家们每天都在研究新的方法"
    words = scripts.caption_words([Word(text, 0.0, 6.0)], "zh")
    groups = group_words(words, max_words=12, max_chars=80)
    style = font.style.model_copy(update={"highlight": False})
    ass = pysubs2.load(str(write_ass(groups, tmp_path / "z.ass", style, fonts=font.choice)))
    first = ass[0].text
    assert r"\N" in first
    lines = first.split(r"\N")
    assert "".join(lines) == groups[0].text  # nothing lost, no space added
    assert all(line[0] not in "。，、！？」" for line in lines[1:])
    assert all(len(line) < len(groups[0].text) for line in lines)
