"""Tests for the eSpeak NG voice: real synthesis (fast), WAV facts and word timings."""

from __future__ import annotations

import array
import asyncio
import itertools
import math
import sys
import wave
from pathlib import Path

import pytest

from shortskit.errors import ConfigError, ProviderError
from shortskit.providers.base import Speech, VoiceProvider
from shortskit.providers.espeak import EspeakVoice, list_voices

SR = 22050
LONG = "Once upon a time, in a small village by the sea, there lived an old fisherman and his clever daughter."


@pytest.fixture(autouse=True)
def _needs_espeak() -> None:
    # the voice is an optional extra; its module imports the loader lazily
    pytest.importorskip("espeakng_loader")


def speak(voice: EspeakVoice, text: str, out: Path, language: str = "en") -> Speech:
    return asyncio.run(voice.synthesize(text, out, language=language))


def read_wav(path: Path) -> tuple[int, int, int, array.array[int]]:
    with wave.open(str(path), "rb") as wav:
        channels, width, rate = (
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.getframerate(),
        )
        samples = array.array("h", wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    return channels, width, rate, samples


def rms(samples: array.array[int] | list[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if len(samples) else 0.0


def check_speech(speech: Speech, text: str) -> array.array[int]:
    """The invariants every result must keep; returns the samples for further checks."""
    assert speech.path.exists()
    channels, width, rate, samples = read_wav(speech.path)
    assert (channels, width, rate) == (1, 2, SR)
    assert speech.sample_rate == SR
    assert speech.duration > 0
    assert speech.duration == pytest.approx(len(samples) / SR)
    assert rms(samples) > 500, "audio is (nearly) silent"
    assert speech.words is not None
    assert [w.text for w in speech.words] == text.split()
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts)
    for word in speech.words:
        assert 0.0 <= word.start <= word.end <= speech.duration + 1e-9
    for word, following in zip(speech.words, speech.words[1:], strict=False):
        assert word.end == following.start
    return samples


def test_protocol_and_settings() -> None:
    voice = EspeakVoice(rate=160, pitch=40, speed=1.25)
    assert isinstance(voice, VoiceProvider)
    assert voice.name == "espeak"
    assert voice.max_concurrency >= 1
    assert voice.settings() == {"voice": None, "rate": 160, "pitch": 40, "speed": 1.25}
    assert EspeakVoice(voice="en+f3").settings()["voice"] == "en+f3"


def test_english(tmp_path: Path) -> None:
    text = "Hello there, my friend. The weather is lovely today!"
    speech = speak(EspeakVoice(), text, tmp_path / "en.wav", "en-US")
    check_speech(speech, text)
    assert speech.meta["voice"] == "en-us"


def test_spanish_keeps_punctuation(tmp_path: Path) -> None:
    text = "¿Dónde está el niño? ¡Aquí!"
    speech = speak(EspeakVoice(), text, tmp_path / "es.wav", "es-MX")
    check_speech(speech, text)
    # eSpeak's Latin American Spanish voice lists es-mx among its languages
    assert speech.meta["voice"] == "es-419"
    assert speech.words is not None
    assert speech.words[-1].text == "¡Aquí!"


def test_emoji_numbers_and_dashes(tmp_path: Path) -> None:
    text = "— Dr. Smith paid $1,500.75 — really? 😀 Yes, señor. Niño ok"
    speech = speak(EspeakVoice(), text, tmp_path / "mix.wav", "en")
    check_speech(speech, text)
    assert speech.words is not None
    by_text = [w.text for w in speech.words]
    money = speech.words[by_text.index("$1,500.75")]
    really = speech.words[by_text.index("really?")]
    # the amount is spoken as several words, all inside one token: it takes a while
    assert money.end - money.start > 0.8
    assert really.start > money.start


def test_long_sentence_timings_follow_the_audio(tmp_path: Path) -> None:
    speech = speak(EspeakVoice(), LONG, tmp_path / "long.wav")
    samples = check_speech(speech, LONG)
    assert speech.words is not None
    assert speech.words[-1].start > 1.0
    window = int(0.15 * SR)
    for word in speech.words:
        begin = int(word.start * SR)
        assert rms(samples[begin : begin + window]) > 300, f"no sound after {word.text!r}"
    # the last word ends where the speech does, not in the trailing silence
    tail = samples[int(speech.words[-1].end * SR) :]
    assert rms(tail) < 300


def test_chinese_words_are_the_segmenter_s_each_with_its_own_start(tmp_path: Path) -> None:
    """eSpeak times every Han character; a clause without spaces becomes ICU's words, each starting at its own
    first character's event (not one word for the clause, its time spread evenly over the letters)."""
    text = "人工智能正在改变世界，我们每天都在学习新东西。"
    speech = speak(EspeakVoice(), text, tmp_path / "zh.wav", "zh")
    words = [w.text for w in speech.words]
    assert "".join(words) == text and len(words) >= 8
    starts = [w.start for w in speech.words]
    assert all(b > a for a, b in itertools.pairwise(starts))  # every word heard after the one before


def test_rate_changes_duration(tmp_path: Path) -> None:
    fast = speak(EspeakVoice(rate=300), LONG, tmp_path / "fast.wav")
    slow = speak(EspeakVoice(rate=120), LONG, tmp_path / "slow.wav")
    assert fast.duration < slow.duration * 0.6
    faster = speak(EspeakVoice(rate=300, speed=2.0), LONG, tmp_path / "faster.wav")
    assert faster.duration < fast.duration


def test_explicit_voice_and_language_fallbacks(tmp_path: Path) -> None:
    speech = speak(EspeakVoice(voice="en+f3"), "Good morning.", tmp_path / "f3.wav", "fr")
    check_speech(speech, "Good morning.")
    assert speech.meta["voice"] == "en+f3"
    expected = {
        "pt-BR": "pt-br",
        "es-MX": "es-419",
        "zh-CN": "cmn",
        "de-DE": "de",
        "no": "nb",
    }
    for language, voice in expected.items():
        spoken = speak(EspeakVoice(), "Hola.", tmp_path / f"{language}.wav", language)
        assert spoken.meta["voice"] == voice, language
    # a language a voice lists works as voice= too, and keeps its variant
    mexican = speak(EspeakVoice(voice="es-mx+f3"), "Hola.", tmp_path / "mx.wav", "en")
    assert mexican.meta["voice"] == "es-419+f3"


def test_unknown_language_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="xx-zz"):
        speak(EspeakVoice(), "Hello.", tmp_path / "x.wav", "xx-zz")
    assert not (tmp_path / "x.wav").exists()


def test_unknown_voice_is_config_error() -> None:
    with pytest.raises(ConfigError, match="no-such-voice"):
        EspeakVoice(voice="no-such-voice")


@pytest.mark.parametrize(
    "options",
    [
        {"rate": 79},
        {"rate": 451},
        {"pitch": -1},
        {"pitch": 100},
        {"speed": 0.4},
        {"speed": 2.5},
    ],
)
def test_bad_options_are_config_errors(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        EspeakVoice(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_provider_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ProviderError) as info:
        speak(EspeakVoice(), text, tmp_path / "empty.wav")
    assert info.value.provider == "espeak"
    assert info.value.field == "text"


def test_concurrent_calls_are_serialized(tmp_path: Path) -> None:
    texts = [
        "One small step.",
        "¿Qué tal, señor? Muy bien.",
        "The third voice-over is a little longer than the others.",
        "Four.",
    ]
    languages = ["en", "es", "en-GB", "en"]
    voices = [
        EspeakVoice(),
        EspeakVoice(),
        EspeakVoice(rate=250),
        EspeakVoice(pitch=80),
    ]

    async def run_all() -> list[Speech]:
        jobs = [
            voice.synthesize(text, tmp_path / f"c{i}.wav", language=language)
            for i, (voice, text, language) in enumerate(zip(voices, texts, languages, strict=True))
        ]
        return list(await asyncio.gather(*jobs))

    results = asyncio.run(run_all())
    for i, (speech, text) in enumerate(zip(results, texts, strict=True)):
        assert speech.path == tmp_path / f"c{i}.wav"
        check_speech(speech, text)
    # each file holds its own text, not a neighbour's. eSpeak keeps a little waveform state between
    # calls, so a repeat is not byte-identical: compare length and timings instead
    alone = speak(voices[2], texts[2], tmp_path / "alone.wav", languages[2])
    assert alone.duration == pytest.approx(results[2].duration, rel=0.02)
    assert results[2].words is not None
    assert alone.words is not None
    for mixed, single in zip(results[2].words, alone.words, strict=True):
        assert mixed.start == pytest.approx(single.start, abs=0.03)


def test_list_voices() -> None:
    voices = list_voices()
    assert {"en", "en-us", "es", "pt-br", "cmn"} <= set(voices)
    assert voices == sorted(voices)


# -- other scripts -------------------------------------------------------------------------------------------


def test_chinese_word_events_at_every_character_time_segmented_words() -> None:
    from shortskit import espeak
    from shortskit.timing import words_from_char_events

    text = "今天天气很好，我们去公园散步吧。"
    said = espeak.synthesize(text, language="zh")
    assert said.voice == "cmn" and len(said.events) >= 12  # about one event per Han character
    end = espeak.speech_end(said.samples, said.sample_rate)
    assert len(words_from_char_events(text, said.events, end)) == 1  # no spaces: one token
    cuts = ["今天", "天气", "很", "好，", "我们", "去", "公园", "散步", "吧。"]
    spans, at = [], 0
    for w in cuts:
        spans.append((at, at + len(w), w))
        at += len(w)
    words = words_from_char_events(text, said.events, end, spans)
    assert [w.text for w in words] == cuts
    starts = [w.start for w in words]
    assert starts == sorted(starts) and len(set(starts)) == len(cuts)  # each word its own time, in order
    by_position = dict(said.events)
    assert words[6].start == pytest.approx(by_position[text.index("公园") + 1])  # the event at its first character


def test_japanese_kanji_are_said_to_be_unspoken_kana_are_spoken(tmp_path: Path) -> None:
    from shortskit import espeak

    voice = EspeakVoice()
    with pytest.raises(ConfigError, match=r"kana only .*Chinese letter.*今日天気"):
        voice.check_text("今日はいい天気です。", "ja")
    kanji = speak(voice, "今日はいい天気です。", tmp_path / "k.wav", "ja")  # made all the same (the story warned)
    assert kanji.duration > 0
    voice.check_text("きょうは いい てんき です。", "ja")
    speech = speak(voice, "きょうは いい てんき です。", tmp_path / "j.wav", "ja")
    assert "".join(w.text for w in speech.words) == "きょうはいいてんきです。" and len(speech.words) >= 4  # ICU's words
    assert speech.words[-1].start > speech.words[0].start and speech.duration < 3.0
    assert espeak.unspoken("今日", "cmn") is None  # Chinese voices read Han characters


def test_a_japanese_story_with_kanji_warns_once_naming_the_scene(tmp_path: Path) -> None:
    from tests.conftest import run_cli, small_story, write_story

    scenes = [
        {"text": "きょうは いい てんき。", "image_prompt": "sky"},
        {"text": "公園に 行きましょう。", "image_prompt": "park"},
    ]
    story = write_story(tmp_path, small_story(scenes=scenes, language="ja"))
    done = run_cli("validate", story)
    assert done.returncode == 0, done.stderr  # the short can be made: its captions are right, its voice is not
    warned = [ln for ln in done.stderr.splitlines() if "kana only" in ln]
    assert len(warned) == 1 and "scene 2" in warned[0] and "text" in warned[0], done.stderr


def test_the_aligner_leaves_japanese_kanji_to_the_estimate_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from shortskit.alignment import words_for

    speech = speak(EspeakVoice(), "こうえんに いきましょう。", tmp_path / "j.wav", "ja")
    unaligned = Speech(speech.path, speech.duration, speech.sample_rate, None, {})
    words, source = words_for(unaligned, "公園に 行きましょう。", language="ja", scene=3)
    assert source.startswith("estimate/") and [w.text for w in words] == ["公園に", "行きましょう。"]
    assert "scene 3" in caplog.text and "kana only" in caplog.text
    words, source = words_for(unaligned, "こうえんに いきましょう。", language="ja")
    assert source.startswith("dtw/")  # kana: aligned
