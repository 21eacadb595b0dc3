"""Caption grouping, the ASS file (style, highlight, emoji) and SRT output, parsed back with pysubs2."""

from __future__ import annotations

import itertools
from pathlib import Path

import pysubs2

from shortskit import CaptionStyle, Word, group_words, write_ass, write_srt
from shortskit.captions import shift_groups


def words(*spec: tuple[str, float]) -> list[Word]:
    out = []
    for i, (text, start) in enumerate(spec):
        end = spec[i + 1][1] if i + 1 < len(spec) else start + 0.4
        out.append(Word(text, start, end))
    return out


def test_groups_respect_limits_and_sentence_ends() -> None:
    ws = words(("One", 0.0), ("two", 0.3), ("three", 0.6), ("four.", 0.9), ("Five", 1.5), ("six", 1.8))
    groups = group_words(ws, max_words=3, max_chars=18)
    assert [g.text for g in groups] == ["One two three", "four.", "Five six"]
    assert all(len(g.words) <= 3 for g in groups)
    # shown until the next group starts, never overlapping
    for a, b in itertools.pairwise(groups):
        assert a.end <= b.start + 1e-9


def test_max_chars_and_long_pause_break_groups() -> None:
    ws = [Word("extraordinarily", 0.0, 0.5), Word("long", 0.5, 0.8), Word("a", 0.8, 1.0), Word("b", 3.0, 3.3)]
    groups = group_words(ws, max_words=5, max_chars=18)
    assert [g.text for g in groups] == ["extraordinarily", "long a", "b"]
    # a pause longer than max_gap: the group before it does not stay up across the whole silence
    assert groups[1].end < 2.0


def test_ass_has_style_and_one_event_per_word_with_highlight(tmp_path: Path) -> None:
    style = CaptionStyle()
    ws = words(("¿Señor", 0.0), ("niño?", 0.5), ("😀", 0.9), ("¡Sí!", 1.2))
    path = write_ass(group_words(ws, max_words=3, max_chars=20), tmp_path / "c.ass", style, width=540, height=960)
    subs = pysubs2.load(str(path))
    st = subs.styles["Default"]
    assert st.fontname == "League Spartan" and st.bold
    assert st.fontsize == 60 and st.outline == 2.5 and st.shadow == 5  # sizes scale with width / 1080
    assert (st.primarycolor.r, st.primarycolor.g, st.primarycolor.b) == (255, 255, 255)
    assert subs.info["PlayResX"] == "540" and subs.info["PlayResY"] == "960"
    texts = [e.text for e in subs]
    # the emoji-only word is spoken but never drawn; every drawn word gets its own highlighted event
    assert not any("😀" in t for t in texts)
    highlighted = [t.split("{\\c&H4DE1FF&}")[1].split("{")[0] for t in texts if "{\\c&H4DE1FF&}" in t]
    assert highlighted == ["¿Señor", "niño?", "¡Sí!"]


def test_plain_captions_without_highlight_and_uppercase(tmp_path: Path) -> None:
    style = CaptionStyle(highlight=False, uppercase=True, position="top")
    ws = words(("hello", 0.0), ("{brace}", 0.4))
    subs = pysubs2.load(str(write_ass(group_words(ws), tmp_path / "c.ass", style)))
    assert [e.plaintext for e in subs] == ["HELLO (BRACE)"]
    assert subs.styles["Default"].alignment == pysubs2.Alignment.TOP_CENTER


def test_srt_keeps_every_word_as_written_and_shifts(tmp_path: Path) -> None:
    ws = words(("Hola", 0.0), ("😀", 0.5), ("niño.", 0.8))
    groups = shift_groups(group_words(ws, max_words=7, max_chars=42), 10.0)
    subs = pysubs2.load(str(write_srt(groups, tmp_path / "c.srt")))
    assert " ".join(e.plaintext for e in subs).split() == ["Hola", "😀", "niño."]
    assert subs[0].start == 10000


def test_a_word_wider_than_the_frame_is_drawn_smaller(tmp_path: Path) -> None:
    style = CaptionStyle()
    long = [Word("Donaudampfschifffahrtsgesellschaftskapitän.", 0.0, 1.0)]
    short = [Word("Hallo", 0.0, 1.0)]
    long_ass = pysubs2.load(str(write_ass(group_words(long), tmp_path / "l.ass", style)))
    short_ass = pysubs2.load(str(write_ass(group_words(short), tmp_path / "s.ass", style)))
    size = float(long_ass[0].text.split("\\fs")[1].split("}")[0])
    assert 20 < size < style.size
    assert "\\fs" not in short_ass[0].text


def test_characters_the_font_lacks_are_found() -> None:
    from shortskit.captions import missing_glyphs

    assert missing_glyphs("¿Señor niño? €5 — ok 😀") == ""
    assert missing_glyphs("你好，世界 ok 你") == "你好，世界"
