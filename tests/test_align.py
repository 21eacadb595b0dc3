"""The model-free aligner on speech of known word times (eSpeak in other voices and rates than the aligner's
own reading, music under it, long pauses), its edge cases and errors, ``shortskit align``, and renders whose
captions come from it: a voice without word times, and a scene read from the author's own recording."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pysubs2
import pytest

import shortskit
from shortskit import NoSpeechError, TextMismatchError, ffmpeg, parse_story
from shortskit.audio import write_wav
from shortskit.timing import estimate_words
from tests.conftest import small_story, write_story
from tests.speech import (
    EN,
    ES,
    RATE,
    Spoken,
    build,
    errors_ms,
    espeak_case,
    espeak_sentence,
    festival_available,
    festival_sentence,
    tonal_bed,
    under,
)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Spoken]:
    d = tmp_path_factory.mktemp("speech")
    return {
        "en_f3_140": espeak_case(d / "en1.wav", EN, "en+f3", 140, pitch=70),
        "en_m3_210_music": espeak_case(
            d / "en2.wav", EN, "en-us+m3", 210, pitch=30, music_db=-15, gaps=[1.8, 0.2, 3.0]
        ),
        "es_f2_150_music": espeak_case(d / "es1.wav", ES, "es+f2", 150, music_db=-18, lead=2.5),
        "es419_m3_200": espeak_case(d / "es2.wav", ES, "es-419+m3", 200, pitch=35),
    }


@pytest.mark.parametrize("name", ["en_f3_140", "en_m3_210_music", "es_f2_150_music", "es419_m3_200"])
def test_word_starts_land_on_the_spoken_words(cases: dict[str, Spoken], name: str) -> None:
    case = cases[name]
    language = "es-419" if name.startswith("es419") else name[:2]
    words = shortskit.align(case.path, case.text, language=language)
    assert [w.text for w in words] == case.text.split()  # every word of the text, in order, as written
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert all(w.start <= w.end <= case.duration for w in words)
    err = errors_ms([w.start for w in words], case.starts)
    estimate = errors_ms([w.start for w in estimate_words(case.text, case.duration)], case.starts)
    assert np.median(err) <= 60 and np.percentile(err, 90) <= 150, (np.median(err), np.percentile(err, 90))
    assert np.median(err) < np.median(estimate) / 5  # far better than spreading words by their letters


def test_a_long_pause_and_silence_around_the_speech(tmp_path: Path) -> None:
    texts = ["The keeper climbed the stairs.", "Then, after a long wait, the light came on."]
    case = espeak_case(tmp_path / "pause.wav", texts, "en+m3", 160, lead=3.0, trail=4.0, gaps=[8.0], music_db=-20)
    words = shortskit.align(case.path, case.text, language="en")
    err = errors_ms([w.start for w in words], case.starts)
    assert err.max() < 120, err
    assert words[0].start > 2.8 and words[5].start > words[4].end + 7.0  # nothing placed in the silences


@pytest.mark.parametrize(
    ("text", "language"),
    [("Hello.", "en"), ("19:40", "en"), ("He paid 1,500 dollars at 19:40.", "en"), ("Esperó... y nada.", "es")],
)
def test_short_texts_numbers_and_ellipses(tmp_path: Path, text: str, language: str) -> None:
    voice = {"en": "en+f3", "es": "es+f3"}[language]
    case = espeak_case(tmp_path / "s.wav", [text], voice, 150)
    words = shortskit.align(case.path, text, language=language)
    assert [w.text for w in words] == text.split()
    assert errors_ms([w.start for w in words], case.starts).max() < 100


def test_silence_and_music_only_hold_no_speech(tmp_path: Path) -> None:
    write_wav(tmp_path / "silence.wav", np.zeros(RATE * 4, np.float32), RATE)
    with pytest.raises(NoSpeechError, match=r"silence\.wav: the audio is silent"):
        shortskit.align(tmp_path / "silence.wav", "Hello there.")
    from shortskit.music import make_music_bed

    make_music_bed(tmp_path / "music.wav", duration=10, mood="upbeat")
    with pytest.raises(NoSpeechError, match=r"music\.wav: no speech found"):
        shortskit.align(tmp_path / "music.wav", "Hello there, how are you today?")


@pytest.mark.skipif(not festival_available(), reason="needs Festival: apt-get install festival festvox-us-slt-hts")
def test_another_synthesizer_over_a_quiet_tonal_bed_is_speech(tmp_path: Path) -> None:
    # Festival's HTS voice 13 dB over a held chord whose harmonics fill the bands the speech detector reads:
    # the bed's bands barely change, so counted with them the voice's spectral flux looked like music's
    texts = EN[:2]
    clean = build(tmp_path / "clean.wav", [festival_sentence(t) for t in texts], texts)
    y = ffmpeg.decode_audio(clean.path, sample_rate=RATE)
    write_wav(tmp_path / "bed.wav", under(y, tonal_bed(len(y)), -13.0), RATE)
    words = shortskit.align(tmp_path / "bed.wav", clean.text, language="en")
    err = errors_ms([w.start for w in words], clean.starts)
    assert np.median(err) <= 50 and np.percentile(err, 90) <= 250, (np.median(err), np.percentile(err, 90))
    # the bed alone is still no speech
    write_wav(tmp_path / "only.wav", 0.3 * tonal_bed(RATE * 8) / 20, RATE)
    with pytest.raises(NoSpeechError):
        shortskit.align(tmp_path / "only.wav", clean.text, language="en")


FR = [
    "Le vieux gardien du phare montait l'escalier chaque soir à la même heure.",
    "Personne au village ne savait pourquoi il ne manquait jamais une soirée.",
]


def test_a_right_text_read_slowly_word_by_word_with_pauses(tmp_path: Path) -> None:
    # each word on its own at 90 words a minute, 0.4 to 1.2 s apart: three and a half times the speech of
    # eSpeak's reading (once refused as "implausible for this text"), and a reading without those pauses that
    # let the warp put words in the tail of the word before
    words = " ".join(FR).split()
    gaps = list(np.random.default_rng(0).uniform(0.4, 1.2, len(words)))
    case = espeak_case(tmp_path / "slow.wav", words, "fr-be+f3", 90, gaps=gaps)
    found = shortskit.align(case.path, case.text, language="fr")
    err = errors_ms([w.start for w in found], case.starts)
    assert np.median(err) <= 50 and np.percentile(err, 90) <= 150, (np.median(err), np.percentile(err, 90))


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise of unit RMS."""
    f = np.fft.rfftfreq(n, 1 / RATE)
    spec = (rng.normal(size=len(f)) + 1j * rng.normal(size=len(f))) / np.sqrt(np.maximum(f, 20.0))
    y = np.fft.irfft(spec, n).astype(np.float32)
    return y / np.sqrt(float((y**2).mean()))


def _own_noise_fading_in(
    said: tuple[np.ndarray, list[float]], rng: np.random.Generator, fade: float = 0.3, db: float = -45.0
) -> tuple[np.ndarray, list[float]]:
    """A word with its own noise floor (``db`` under its peak): fading in over ``fade`` s before it, under
    it, fading out after it, as in recordings made one word at a time."""
    y, starts = said
    lead, tail = round(fade * RATE), round(0.1 * RATE)
    out = np.concatenate([np.zeros(lead, np.float32), y, np.zeros(tail, np.float32)])
    env = np.concatenate([np.linspace(0, 1, lead), np.ones(len(y)), np.linspace(1, 0, tail)]).astype(np.float32)
    out += _pink(len(out), rng) * env * float(np.abs(y).max()) * 10 ** (db / 20)
    return out, [s + fade for s in starts]


@pytest.mark.parametrize(
    ("language", "voice", "words"),
    [
        ("en", "en+m3", "car dog fix gas hot jet key me my no pet saw"),
        ("fr", "fr-be+f3", "la le de ma si sa me mo pa pi so su"),
    ],
)
def test_a_noise_fading_in_before_each_word_is_not_its_start(
    tmp_path: Path, language: str, voice: str, words: str
) -> None:
    # each word opens with 0.3 s of its recording's own noise fading in (as KLettres' French recordings do):
    # once taken for the start of the word, up to 180 ms early; a quick rise over a local floor is the start
    rng = np.random.default_rng(0)
    tokens = words.split()
    pieces = [_own_noise_fading_in(espeak_sentence(w, voice, 120), rng) for w in tokens]
    case = build(tmp_path / "w.wav", pieces, tokens, lead=0.5, trail=0.8, gaps=list(rng.uniform(0.3, 1.0, len(tokens))))
    y = ffmpeg.decode_audio(case.path, sample_rate=RATE)
    write_wav(case.path, y + rng.normal(0.0, 1e-3, len(y)).astype(np.float32), RATE)  # a room's noise under all
    found = shortskit.align(case.path, case.text, language=language)
    early = [round((w.start - s) * 1000) for w, s in zip(found, case.starts, strict=True)]
    err = errors_ms([w.start for w in found], case.starts)
    assert min(early) > -100, early  # no word starts in the noise before it
    assert np.median(err) <= 50 and np.percentile(err, 90) <= 120, early


def test_words_after_a_stretch_of_speech_the_warp_left_empty_move_back() -> None:
    # words read one by one: four stretches of speech, the warp ran late and put no word in the second and
    # two in the last; each word moves one stretch back, each starting its stretch
    from shortskit.alignment.dtw import _fill_islands
    from shortskit.alignment.features import Tuning

    real = np.zeros(200, bool)
    for a in (10, 60, 110, 160):
        real[a : a + 20] = True
    found = _fill_islands(np.array([10, 112, 165, 170]), real, Tuning())
    assert list(found) == [10, 60, 110, 160]
    # and the other way round (the warp ran early): the words before the empty stretch move on
    assert list(_fill_islands(np.array([10, 15, 62, 160]), real, Tuning())) == [10, 60, 110, 160]


def test_the_wrong_text_is_an_error_naming_the_file(cases: dict[str, Spoken]) -> None:
    case = cases["en_f3_140"]
    wrong = (
        "Maria opened her small bakery on the corner of Fifth Street in the spring. Every morning she baked forty "
        "loaves of bread before the sun came up. The neighbours said her cinnamon rolls were the best in the city. "
        "When the rent doubled, she thought about closing the shop for good."
    )
    with pytest.raises(TextMismatchError, match=r"en1\.wav: .*is it the right audio file"):
        shortskit.align(case.path, wrong, language="en")
    with pytest.raises(TextMismatchError, match="implausible for this text"):
        shortskit.align(case.path, "Just two words.", language="en")  # far too little text for the speech


def test_minutes_of_audio_in_bounded_memory(tmp_path: Path) -> None:
    texts = EN * 12  # about 4 minutes: aligned coarse, then in windows
    case = espeak_case(tmp_path / "long.wav", texts, "en+f3", 150, gaps=[0.6] * len(texts))
    code = (
        "import resource, sys, shortskit\n"
        "from tests.speech import errors_ms\n"
        f"w = shortskit.align({str(case.path)!r}, {case.text!r})\n"
        f"e = errors_ms([x.start for x in w], {case.starts!r})\n"
        "print(float(__import__('numpy').median(e)), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent
    )
    assert proc.returncode == 0, proc.stderr
    median, peak_mb = proc.stdout.split()
    assert case.duration > 200 and float(median) < 60 and int(peak_mb) < 700


def test_align_command(cases: dict[str, Spoken], tmp_path: Path) -> None:
    case = cases["en_f3_140"]

    def run(*args: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shortskit", "align", *map(str, args)], capture_output=True, text=True
        )

    as_json = run(case.path, case.text, "--json")
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [r["word"] for r in rows] == case.text.split() and set(rows[0]) == {"word", "start", "end"}
    assert np.median(errors_ms([r["start"] for r in rows], case.starts)) < 60
    (tmp_path / "text.txt").write_text(case.text, encoding="utf-8")
    as_srt = run(case.path, f"@{tmp_path / 'text.txt'}", "--srt")
    subs = pysubs2.SSAFile.from_string(as_srt.stdout)
    assert " ".join(e.plaintext.replace("\n", " ") for e in subs).split() == case.text.split()
    bad = run(tmp_path / "missing.wav", "Hello.")
    assert bad.returncode == 2 and bad.stderr.startswith("error: audio file not found")
    silent = write_wav(tmp_path / "quiet.wav", np.zeros(RATE * 3, np.float32), RATE)
    none = run(silent, "Hello there.", "--aligner", "dtw")
    assert (
        none.returncode == 2
        and none.stderr.strip() == "error: quiet.wav: the audio is silent: there is no speech to align the text with"
    )
    missing_model = run(case.path, case.text, "--aligner", "whisper")
    assert missing_model.returncode == 2 and "the whisper aligner cannot run here" in missing_model.stderr


def _unreadable_files(folder: Path) -> list[tuple[Path, str]]:
    """Files that are not speech, each with what the user is told about it."""
    noise = folder / "noise.bin"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    empty = folder / "empty.wav"
    empty.write_bytes(b"")
    notes = folder / "notes.txt"
    notes.write_text("Hello there, this is text, not audio.\n", encoding="utf-8")
    broken = folder / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(40)))
    clip = folder / "clip.mp4"  # a video without sound
    ffmpeg.run(
        ["-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64:d=1", "-pix_fmt", "yuv420p", clip]
    )
    picture = folder / "picture.png"
    ffmpeg.run(["-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", picture])
    return [
        (noise, "not audio ffmpeg can read"),
        (empty, "the file is empty"),
        (notes, "not audio ffmpeg can read"),
        (broken, "not audio ffmpeg can read"),
        (clip, "has no audio stream"),
        (picture, "has no audio stream"),
    ]


def test_align_command_names_what_it_cannot_read(cases: dict[str, Spoken], tmp_path: Path) -> None:
    def run(*args: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shortskit", "align", *map(str, args)], capture_output=True, text=True
        )

    for path, problem in _unreadable_files(tmp_path):
        proc = run(path, "Hello there.")
        assert (proc.returncode, proc.stderr) == (2, f"error: {path.name}: {problem}\n")
        with pytest.raises(shortskit.AlignmentError, match=f"^{path.name}: {problem}$"):
            shortskit.align(path, "Hello there.")
    case = cases["en_f3_140"]
    proc = run(case.path, f"@{tmp_path / 'nofile.txt'}")
    assert (proc.returncode, proc.stderr) == (2, "error: nofile.txt: text file not found\n")
    (tmp_path / "latin1.txt").write_bytes("Espero, señor.".encode("latin-1"))
    proc = run(case.path, f"@{tmp_path / 'latin1.txt'}")
    assert proc.returncode == 2 and proc.stderr.startswith("error: latin1.txt: not UTF-8 text")
    proc = run(case.path, case.text, "--language", "xx")
    assert proc.returncode == 2 and proc.stderr.startswith("error: --language xx: eSpeak")
    assert "pass --language with a language eSpeak speaks" in proc.stderr and "voice=" not in proc.stderr
    with pytest.raises(shortskit.ConfigError, match="eSpeak has no voice for language 'xx'") as raised:
        shortskit.align(case.path, case.text, language="xx")
    assert "voice=" not in str(raised.value) and "story" not in str(raised.value)


def test_a_scene_recording_that_is_not_audio_is_a_located_error(tmp_path: Path) -> None:
    for path, problem in _unreadable_files(tmp_path):
        scenes = [{"text": "Hello.", "image_prompt": "sky"}, {"text": "Hi.", "image_prompt": "x", "audio": path.name}]
        story_file = write_story(tmp_path, small_story(scenes=scenes))
        proc = subprocess.run(
            [sys.executable, "-m", "shortskit", "validate", story_file], capture_output=True, text=True
        )
        assert (proc.returncode, proc.stderr) == (2, f"error: story.json: scene 2: audio: {path.name}: {problem}\n")


# -- in renders ------------------------------------------------------------------------------------------


class PlainVoice:
    """A voice that, like OpenAI's speech or Chatterbox, gives audio but no word times (eSpeak, another voice)."""

    name = "plain-voice"
    version = "1"
    max_concurrency = 1
    truth: ClassVar[dict[str, list[float]]] = {}

    def settings(self) -> dict[str, Any]:
        return {}

    async def synthesize(self, text: str, out: Path, *, language: str) -> shortskit.Speech:
        y, starts = espeak_sentence(text, "en+f4", 150)
        y = np.concatenate([np.zeros(int(0.3 * RATE), np.float32), y])  # a little lead-in, as servers have
        self.truth[text] = [s + 0.3 for s in starts]
        write_wav(out, y, RATE)
        return shortskit.Speech(out, len(y) / RATE, RATE, None)


def test_a_voice_without_word_times_gets_aligned_captions_cached_with_it(tmp_path: Path) -> None:
    shortskit.register_voice("plain-voice", PlainVoice)
    scenes = [
        {"text": "Octopuses have three hearts and blue blood.", "image_prompt": "an octopus"},
        {"text": "Two hearts pump blood through the gills, one through the body.", "image_prompt": "gills"},
    ]
    story = parse_story(small_story(scenes=scenes, voice={"provider": "plain-voice"}))
    result = shortskit.render_sync(story, tmp_path / "s.mp4", workspace=tmp_path / "ws")
    for scene, sc in zip(result.scenes, scenes, strict=True):
        err = errors_ms([w.start for w in scene.words], PlainVoice.truth[sc["text"]])
        assert np.median(err) <= 60, err
        sidecar = json.loads(scene.voice.with_suffix(".json").read_text())
        assert sidecar["timings"] == shortskit.alignment.aligner_id() and sidecar["words"][0]["start"] > 0.2
    again = shortskit.render_sync(story, tmp_path / "t.mp4", workspace=tmp_path / "ws")
    assert again.made["voice"] == again.made["captions"] == 0  # the aligned words came from the cache


def test_timings_from_an_older_aligner_are_made_again_from_the_same_audio(tmp_path: Path) -> None:
    shortskit.register_voice("plain-voice", PlainVoice)
    story = parse_story(small_story(voice={"provider": "plain-voice"}))
    first = shortskit.render_sync(story, tmp_path / "s.mp4", workspace=tmp_path / "ws")
    sidecar = first.scenes[0].voice.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    sidecar.write_text(
        json.dumps(
            {
                **data,
                "timings": "dtw/0",
                "words": [{"text": w, "start": 0, "end": 0} for w in story.scenes[0].text.split()],
            }
        )
    )
    audio_before = first.scenes[0].voice.read_bytes()
    again = shortskit.render_sync(story, tmp_path / "t.mp4", workspace=tmp_path / "ws")
    assert again.made["voice"] == 0 and again.scenes[0].voice.read_bytes() == audio_before  # not spoken again
    assert json.loads(sidecar.read_text())["timings"] == shortskit.alignment.aligner_id()
    # eSpeak's reading varies by a few samples between calls: the new timings are the old ones, give or take
    for new, old in zip(again.scenes[0].words, first.scenes[0].words, strict=True):
        assert abs(new.start - old.start) < 0.03 and abs(new.end - old.end) < 0.03


def _recording(tmp_path: Path, text: str) -> tuple[Path, list[float]]:
    case = espeak_case(tmp_path / "me.wav", [text], "en+m4", 145, lead=0.8, trail=1.2)
    m4a = tmp_path / "me.m4a"  # a phone's recording: compressed, 44.1 kHz
    ffmpeg.run(["-y", "-loglevel", "error", "-i", case.path, "-ar", "44100", "-c:a", "aac", m4a])
    return m4a, case.starts


def test_a_scene_read_from_your_own_recording(tmp_path: Path) -> None:
    text = "This scene is read by its author, not by a machine."
    m4a, truth = _recording(tmp_path, text)
    data = small_story(
        scenes=[
            {"text": text, "image_prompt": "a desk", "audio": "me.m4a"},
            {"text": "The end.", "image_prompt": "sky"},
        ]
    )
    story_file = write_story(tmp_path, data)
    proc = subprocess.run(
        [sys.executable, "-m", "shortskit", "render", story_file, "-o", tmp_path / "s.mp4", "--workspace", tmp_path / "ws"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "s.json").read_text())
    recorded = ffmpeg.probe(m4a).duration
    assert meta["scenes"][0]["end"] == pytest.approx(recorded + 0.4, abs=0.1)  # as long as the recording, + pause
    subs = pysubs2.load(str(tmp_path / "s.srt"))
    first = [e for e in subs if e.start / 1000 < meta["scenes"][0]["end"]]
    assert " ".join(e.plaintext.replace("\n", " ") for e in first).split() == text.split()
    assert abs(first[0].start / 1000 - truth[0]) < 0.08  # the captions start when the author starts speaking


def test_a_recording_that_does_not_say_the_text_names_the_scene(tmp_path: Path) -> None:
    _m4a, _ = _recording(
        tmp_path, "The lighthouse keeper climbed the stairs every night at seven, and nobody knew why."
    )
    wrong = "Maria opened her bakery on the corner of Fifth Street, and baked forty loaves every morning."
    data = small_story(
        scenes=[{"text": "Hello.", "image_prompt": "sky"}, {"text": wrong, "image_prompt": "a shop", "audio": "me.m4a"}]
    )
    story_file = write_story(tmp_path, data)
    proc = subprocess.run(
        [sys.executable, "-m", "shortskit", "render", story_file, "-o", tmp_path / "s.mp4", "--workspace", tmp_path / "ws"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(
        "error: story.json: scene 2: audio: me.m4a: the audio does not seem to say this text"
    )
    missing = write_story(
        tmp_path, small_story(scenes=[{"text": "Hi.", "image_prompt": "x", "audio": "gone.wav"}]), "m.json"
    )
    proc = subprocess.run([sys.executable, "-m", "shortskit", "validate", missing], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: m.json: scene 1: audio: recording not found")
    unspoken = write_story(tmp_path, {**data, "language": "xx", "voice": {"provider": "openai"}}, "x.json")
    proc = subprocess.run(
        [sys.executable, "-m", "shortskit", "validate", unspoken], capture_output=True, text=True,
        env={**os.environ, "OPENAI_API_KEY": "sk-test"},
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.startswith("error: x.json: language: eSpeak has no voice for 'xx'")
