"""The Chatterbox voice, with a stand-in ``chatterbox`` package at the model boundary (tests/fake_chatterbox).

Everything above the model is real: our chunking, seeding, locking, loading once, the sample checks, the cache,
the pipeline, ffmpeg, the CLI. The stand-in speaks with eSpeak, so the true time of every word is known.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import threading
import types
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shortskit import ConfigError, StoryError, create_voice, parse_story, render_sync
from shortskit.checks import check_story
from shortskit.errors import ScenesFailedError
from shortskit.models import model_loads
from shortskit.timing import words_from_char_events
from shortskit.voicesample import save_voice
from shortskit.workspace import file_digest
from tests.conftest import FAKE_CHATTERBOX, run_cli, small_story, tone, write_story

LONG = (
    "The octopus has three hearts, and two of them stop beating when it swims, which is why it prefers to crawl "
    "along the sea floor instead of swimming through the open water. Its blood is blue because it carries oxygen "
    "with copper instead of iron. Each of its eight arms can taste what it touches, and the arms hold most of its "
    "neurons, so an arm can keep reaching for food, pulling open shells, and exploring narrow cracks even when "
    "the brain is busy with something else entirely, like watching a diver, hiding from a shark, or changing "
    "colour to match the rocks around it. Clever animal!"
)


def _story(tmp_path: Path, voice: dict[str, Any], scenes: list[str] | None = None, **top: Any) -> Path:
    texts = scenes or ["Hello there, small world.", "The sea is deep and blue.", "Goodbye now."]
    data = small_story(scenes=[{"text": t, "image_prompt": "sea"} for t in texts], voice=voice, **top)
    return write_story(tmp_path, data)


def _wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


def _bound(story: Path, workspace: Path, **options: Any) -> Any:
    voice = create_voice("chatterbox", **options)
    voice.bind(parse_story(json.loads(story.read_text()), source=story), workspace)
    return voice


# -- speaking one scene --------------------------------------------------------------------------------------


def test_sentence_chunks_of_300_characters_at_most_joined_by_silences(
    fake_chatterbox: Any, tmp_path: Path, workspace: Path
) -> None:
    tone(tmp_path / "me.wav", 6.0)
    voice = _bound(_story(tmp_path, {}), workspace, sample="me.wav", chunk_pause=0.5)
    speech = asyncio.run(voice.synthesize(LONG, tmp_path / "out.wav", language="en"))

    calls = fake_chatterbox.calls()
    texts = [c["text"] for c in calls]
    assert len(texts) >= 3 and all(len(t) <= 300 for t in texts), [len(t) for t in texts]
    assert " ".join(texts).split() == LONG.split()  # exactly the story's words, in order, none lost or added
    assert all(t.rstrip().endswith((".", ",", "!")) for t in texts)  # cut at sentence (or clause) ends
    # the checked sample is what the model hears: the converted copy of the story's file
    prompt = Path(calls[0]["audio_prompt_path"])
    assert all(c["audio_prompt_path"] == str(prompt) for c in calls) and prompt.parent.name == ".samples"
    assert calls[0]["voice"] == f"clone:{file_digest(prompt)}"

    samples, rate = _wav(speech.path)
    gap = round(0.5 * 24000)
    assert rate == speech.sample_rate == 24000 and speech.words is None
    assert len(samples) == sum(c["samples"] for c in calls) + gap * (len(calls) - 1)
    first = calls[0]["samples"]
    assert not samples[first : first + gap].any() and samples[first - 2400 : first].any()
    assert abs(speech.duration - len(samples) / 24000) < 1e-9


def test_the_seed_is_set_before_every_chunk_so_a_rerun_is_the_same(
    fake_chatterbox: Any, tmp_path: Path, workspace: Path
) -> None:
    story = _story(tmp_path, {})

    def speak(seed: int, name: str) -> bytes:
        voice = _bound(story, workspace, seed=seed)
        return asyncio.run(voice.synthesize(LONG, tmp_path / name, language="en")).path.read_bytes()

    first = speak(7, "a.wav")
    assert {c["seed"] for c in fake_chatterbox.calls()} == {7}
    assert speak(7, "b.wav") == first
    assert speak(8, "c.wav") != first


def test_the_device_is_cuda_then_mps_then_cpu_unless_chosen(
    fake_chatterbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert create_voice("chatterbox").device == "cuda"
    assert create_voice("chatterbox", device="mps").device == "mps"
    voice = create_voice("chatterbox", device="cpu")
    asyncio.run(voice.synthesize("Hello there.", tmp_path / "a.wav", language="en"))
    assert [e["device"] for e in fake_chatterbox.loads()] == ["cpu"]

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert create_voice("chatterbox").device == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert create_voice("chatterbox").device == "cpu"
    with pytest.raises(ConfigError, match="device 'cuda': torch sees no such device here"):
        create_voice("chatterbox", device="cuda")
    with pytest.raises(ConfigError, match="device must be one of auto, cuda, mps, cpu"):
        create_voice("chatterbox", device="tpu")


def test_one_model_load_and_one_job_at_a_time_across_threads(fake_chatterbox: Any, tmp_path: Path) -> None:
    """Two renders in two threads (each its own event loop, so no shared asyncio limit) share one model."""
    errors: list[BaseException] = []

    def job(k: int) -> None:
        try:
            voice = create_voice("chatterbox")
            asyncio.run(voice.synthesize(LONG, tmp_path / f"{k}.wav", language="en"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(fake_chatterbox.calls()) >= 9 and fake_chatterbox.most_at_once() == 1
    assert len(fake_chatterbox.loads()) == 1 and model_loads()["chatterbox"] >= 1


def test_cfg_weight_zero_is_kept_off_the_english_model_only(fake_chatterbox: Any, tmp_path: Path) -> None:
    asyncio.run(create_voice("chatterbox", cfg_weight=0).synthesize("Hi there.", tmp_path / "a.wav", language="en"))
    asyncio.run(create_voice("chatterbox", cfg_weight=0).synthesize("Hola.", tmp_path / "b.wav", language="es"))
    assert [c["cfg_weight"] for c in fake_chatterbox.calls()] == [0.001, 0.0]


def test_without_a_sample_the_model_speaks_with_its_own_voice(
    fake_chatterbox: Any, tmp_path: Path, workspace: Path
) -> None:
    tone(tmp_path / "me.wav", 6.0)
    story = _story(tmp_path, {})
    asyncio.run(_bound(story, workspace, sample="me.wav").synthesize("One.", tmp_path / "a.wav", language="en"))
    asyncio.run(_bound(story, workspace).synthesize("Two.", tmp_path / "b.wav", language="en"))
    cloned, own = fake_chatterbox.calls()
    assert cloned["voice"].startswith("clone:") and own["audio_prompt_path"] is None
    assert own["voice"] == "built-in voice"  # not the voice cloned just before on the same model


def test_weights_from_a_local_copy(fake_chatterbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy = tmp_path / "weights"
    copy.mkdir()
    for name in ("ve.safetensors", "t3_cfg.safetensors", "s3gen.safetensors", "tokenizer.json"):
        (copy / name).write_bytes(b"x")
    monkeypatch.setenv("SHORTSKIT_CHATTERBOX_DIR", str(copy))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    asyncio.run(create_voice("chatterbox").synthesize("Hi.", tmp_path / "a.wav", language="en"))
    assert [e["from"] for e in fake_chatterbox.loads()] == [str(copy)]

    (copy / "tokenizer.json").unlink()
    voice = create_voice("chatterbox", model_dir=str(copy), device="cpu")
    with pytest.raises(
        ConfigError, match=r"cannot load the weights in .*weights \(a local copy of ResembleAI/chatterbox"
    ):
        asyncio.run(voice.synthesize("Hi.", tmp_path / "b.wav", language="fr"))


# -- whole renders ---------------------------------------------------------------------------------------------


def _scene_calls(fake: Any, before: int) -> list[dict[str, Any]]:
    return fake.calls()[before:]


@pytest.mark.slow
def test_a_render_clones_a_saved_voice_and_remakes_what_a_change_touches(
    fake_chatterbox: Any, tmp_path: Path, workspace: Path
) -> None:
    save_voice(tone(tmp_path / "take1.wav", 6.0), "narrator", workspace=workspace)
    path = _story(tmp_path, {"provider": "chatterbox", "sample": "narrator"})
    out = tmp_path / "short.mp4"
    story = parse_story(json.loads(path.read_text()), source=path)
    loads_before = model_loads().get("chatterbox", 0)

    first = render_sync(story, out, workspace=workspace)
    library = workspace / "voices-library" / "narrator.wav"
    calls = fake_chatterbox.calls()
    assert {c["audio_prompt_path"] for c in calls} == {str(library)}
    assert {c["voice"] for c in calls} == {f"clone:{file_digest(library)}"}
    assert [c["text"] for c in calls] == [s.text for s in story.scenes]
    assert [[w.text for w in s.words] for s in first.scenes] == [s.text.split() for s in story.scenes]
    assert fake_chatterbox.most_at_once() == 1

    # an edited scene is spoken again alone
    story.scenes[1].text = "The sea is very deep."
    n = len(fake_chatterbox.calls())
    render_sync(story, out, workspace=workspace)
    assert [c["text"] for c in _scene_calls(fake_chatterbox, n)] == ["The sea is very deep."]

    # a new take under the same name is spoken again everywhere, with the new sample
    save_voice(tone(tmp_path / "take2.wav", 7.0, amplitude=0.5), "narrator", workspace=workspace)
    n = len(fake_chatterbox.calls())
    again = render_sync(story, out, workspace=workspace)
    redone = _scene_calls(fake_chatterbox, n)
    assert [c["text"] for c in redone] == [s.text for s in story.scenes]
    assert {c["voice"] for c in redone} == {f"clone:{file_digest(library)}"} != {calls[0]["voice"]}
    assert again.made["voice"] == 3

    # one load for the three renders of this process
    assert len(fake_chatterbox.loads()) == 1 and model_loads()["chatterbox"] == loads_before + 1


@pytest.mark.slow
def test_a_spanish_story_speaks_through_the_multilingual_model(
    fake_chatterbox: Any, tmp_path: Path, workspace: Path
) -> None:
    path = _story(
        tmp_path,
        {"provider": "chatterbox"},
        ["Hola, pequeño mundo.", "El mar es profundo y azul."],
        language="es",
    )
    result = render_sync(
        parse_story(json.loads(path.read_text()), source=path), tmp_path / "s.mp4", workspace=workspace
    )
    calls = fake_chatterbox.calls()
    assert {c["model"] for c in calls} == {"ChatterboxMultilingualTTS"} and {c["language_id"] for c in calls} == {"es"}
    assert [e["model"] for e in fake_chatterbox.loads()] == ["ChatterboxMultilingualTTS"]
    assert result.scenes[1].words[-1].text == "azul."


def _true_starts(calls: list[dict[str, Any]], pause: float) -> list[float]:
    """When each word of the spoken chunks really starts in the joined audio (eSpeak's own word events)."""
    starts, offset = [], 0.0
    for call in calls:
        length = call["samples"] / 24000
        events = [(int(p), float(t)) for p, t in call["words"]]
        starts += [w.start + offset for w in words_from_char_events(call["text"], events, length)]
        offset += length + pause
    return starts


@pytest.mark.slow
def test_captions_follow_the_spoken_words(fake_chatterbox: Any, tmp_path: Path, workspace: Path) -> None:
    path = _story(tmp_path, {"provider": "chatterbox"}, [LONG, "A short one. Then a second sentence, spoken after it."])
    result = render_sync(
        parse_story(json.loads(path.read_text()), source=path), tmp_path / "a.mp4", workspace=workspace
    )
    calls = fake_chatterbox.calls()
    shown = [w.start for s in result.scenes for w in s.words]
    first = sum(1 for c in calls if c["text"] in LONG)
    truth = _true_starts(calls[:first], 0.35) + _true_starts(calls[first:], 0.35)
    assert len(shown) == len(truth)
    errors = [abs(a - b) for a, b in zip(shown, truth, strict=True)]
    assert statistics.median(errors) <= 0.120, f"median {statistics.median(errors) * 1000:.0f} ms"


# -- errors: one line, exit 2 ------------------------------------------------------------------------------------


def _no_torch_cli(*args: str | Path) -> Any:
    """The CLI in a Python where neither torch nor chatterbox can be imported."""
    import subprocess

    code = (
        "import sys; sys.modules.update(torch=None, chatterbox=None); "
        "sys.argv = ['shortskit', *sys.argv[1:]]; from shortskit.cli import main; main()"
    )
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300)


def _one_error_line(proc: Any) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_without_the_extra_the_error_names_the_install(tmp_path: Path) -> None:
    story = _story(tmp_path, {"provider": "chatterbox"})
    line = _one_error_line(_no_torch_cli("render", story, "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "w"))
    assert 'pip install "shortskit[chatterbox]"' in line and "story.json: voice:" in line
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.slow
def test_without_weights_the_error_names_the_repository_and_a_local_copy(fake_chatterbox: Any, tmp_path: Path) -> None:
    story = _story(tmp_path, {"provider": "chatterbox"})
    log = tmp_path / "calls.jsonl"
    env = {"PYTHONPATH": str(FAKE_CHATTERBOX), "HF_HUB_OFFLINE": "1", "FAKE_CHATTERBOX_LOG": str(log)}
    proc = run_cli("render", story, "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "w", env=env)
    line = _one_error_line(proc)
    assert "cannot download the model weights from Hugging Face (ResembleAI/chatterbox)" in line
    assert "set SHORTSKIT_CHATTERBOX_DIR=DIR (or pass model_dir=DIR in Python; a story cannot choose it)" in line
    assert not (tmp_path / "o.mp4").exists() and not log.exists()  # nothing was spoken


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: tone(d / "quiet.wav", 6.0, amplitude=0.0), r"story\.json: voice\.sample: quiet\.wav: is silent"),
        (lambda d: tone(d / "short.wav", 3.0), r"voice\.sample: short\.wav: is only 3\.0 s long; .* at least 5 s"),
        (lambda d: (d / "junk.wav").write_bytes(b"RIFF junk" * 50) and d / "junk.wav", r"voice\.sample: junk\.wav: not an audio file"),
        (lambda d: d / "gone.wav", r"story\.json: voice\.sample: voice sample file not found: .*gone\.wav"),
        (lambda d: "narator", r"voice\.sample: no saved voice 'narator'; saved voices: narrator \(add one with"),
    ],
)  # fmt: skip
def test_a_bad_sample_is_refused_before_any_work(
    fake_chatterbox: Any, tmp_path: Path, workspace: Path, make: Any, message: str
) -> None:
    save_voice(tone(tmp_path / "take.wav", 6.0), "narrator", workspace=workspace)
    sample = make(tmp_path)
    story = _story(tmp_path, {"provider": "chatterbox", "sample": sample if isinstance(sample, str) else sample.name})
    with pytest.raises(StoryError, match=message) as err:
        check_story(parse_story(json.loads(story.read_text()), source=story), workspace=workspace)
    assert err.value.exit_code == 2 and not fake_chatterbox.EVENTS


@pytest.mark.slow
def test_a_bad_sample_on_the_command_line(fake_chatterbox: Any, tmp_path: Path) -> None:
    tone(tmp_path / "quiet.wav", 6.0, amplitude=0.0)
    story = _story(tmp_path, {"provider": "chatterbox", "sample": "quiet.wav"})
    env = {"PYTHONPATH": str(FAKE_CHATTERBOX)}
    line = _one_error_line(run_cli("render", story, "-o", tmp_path / "o.mp4", "--workspace", tmp_path / "w", env=env))
    assert "story.json: voice.sample: quiet.wav: is silent" in line


def test_a_full_gpu_says_so_and_what_to_do(fake_chatterbox: Any, tmp_path: Path, workspace: Path) -> None:
    import torch

    fake_chatterbox.FAIL["generate"] = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    path = _story(tmp_path, {"provider": "chatterbox"})
    with pytest.raises(ScenesFailedError) as err:
        render_sync(parse_story(json.loads(path.read_text()), source=path), tmp_path / "o.mp4", workspace=workspace)
    assert err.value.exit_code == 2 and not (tmp_path / "o.mp4").exists()
    # said once, though every scene failed
    assert str(err.value) == (
        "chatterbox: the GPU ran out of memory (the model needs about 4 GB free): free it (close other notebooks "
        "or models, restart the kernel), or set the voice option device: cpu (far slower)"
    )


def test_a_language_it_lacks_and_the_watermarker_trap(
    fake_chatterbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    story = _story(tmp_path, {"provider": "chatterbox"}, language="uk")
    with pytest.raises(StoryError, match=r"story\.json: language: chatterbox does not speak 'uk'; it speaks ar, da"):
        check_story(parse_story(json.loads(story.read_text()), source=story))
    assert create_voice("chatterbox").check_language("pt-BR") is None  # pt, on the multilingual model

    monkeypatch.setitem(sys.modules, "perth", types.SimpleNamespace(PerthImplicitWatermarker=None))
    with pytest.raises(ConfigError, match=r'setuptools 81 removed: pip install "setuptools<81"'):
        create_voice("chatterbox")


# -- the voice library on the command line ----------------------------------------------------------------------


def test_voice_add_and_list(tmp_path: Path, workspace: Path) -> None:
    empty = run_cli("voice", "list", "--workspace", workspace)
    assert empty.returncode == 0 and "no saved voices" in empty.stdout

    added = run_cli("voice", "add", "narrator", tone(tmp_path / "long take.wav", 40.0), "--workspace", workspace)
    assert added.returncode == 0, added.stderr
    assert "saved voice 'narrator': 30.0 s, cut from 40.0 s" in added.stdout
    assert "voice: {provider: chatterbox, sample: narrator}" in added.stdout
    with wave.open(str(workspace / "voices-library" / "narrator.wav")) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, 24000, 30 * 24000)

    listed = run_cli("voice", "list", "--workspace", workspace)
    assert listed.returncode == 0 and listed.stdout.split()[:4] == ["narrator", "30.0", "s", "long"]

    line = _one_error_line(run_cli("voice", "add", "me", tone(tmp_path / "short.wav", 2.0), "--workspace", workspace))
    assert "short.wav: is only 2.0 s long" in line

    again = run_cli("voice", "add", "narrator", tone(tmp_path / "second.wav", 8.0), "--workspace", workspace)
    assert again.returncode == 0 and "replaced voice 'narrator': 8.0 s" in again.stdout
    assert "it was long take.wav" in again.stdout

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    line = _one_error_line(run_cli("voice", "add", "me", tmp_path / "second.wav", "--workspace", a_file))
    assert "cannot keep voices in" in line and "check --workspace" in line


# -- the GPU smoke bench, run through on the stand-in (a GPU machine runs it for real) ---------------------------


@pytest.mark.slow
def test_gpu_smoke_bench_runs_through(
    fake_chatterbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    import torch

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("gpu_smoke", ROOT / "bench" / "gpu_smoke.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    assert bench.main(["--out", str(tmp_path / "a")]) == 2  # neither the voice nor the pictures measured
    assert "no CUDA GPU here" in capsys.readouterr().out

    for name, value in [("is_available", True), ("get_device_name", "Stand-in GPU"), ("max_memory_allocated", 0)]:
        monkeypatch.setattr(torch.cuda, name, lambda *_a, v=value: v)
    for name in ("synchronize", "reset_peak_memory_stats"):
        monkeypatch.setattr(torch.cuda, name, lambda *_a: None)
    assert bench.main(["--out", str(tmp_path / "b"), "--no-pictures"]) == 0  # pictures: tests/test_diffusers.py
    shown = capsys.readouterr().out
    assert "GPU: Stand-in GPU" in shown and "model load:" in shown and "real-time factor" in shown
    assert "3-scene short:" in shown and (tmp_path / "b" / "smoke.mp4").exists()
    assert {e["device"] for e in fake_chatterbox.loads()} == {"cuda"} and len(fake_chatterbox.loads()) == 1


# -- languages: the Chinese segmenter, aligned captions, a quiet stderr --------------------------------------------


def test_offline_a_language_other_than_chinese_loads_without_the_segmenter_model(
    fake_chatterbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import spacy_pkuseg

    monkeypatch.setenv("PKUSEG_HOME", str(tmp_path / "pkuseg"))  # empty: pkuseg() would download here
    voice = create_voice("chatterbox", device="cpu")
    asyncio.run(voice.synthesize("Hola, mundo.", tmp_path / "es.wav", language="es"))
    err = capfd.readouterr().err
    assert "Sampling" not in err and "FutureWarning" not in err and "deprecated" not in err, err
    with pytest.raises(ConfigError, match=r"Chinese segmenter \(spacy-pkuseg\).*spacy_ontonotes\.zip") as caught:
        asyncio.run(voice.synthesize("你好。", tmp_path / "zh.wav", language="zh"))
    assert str(tmp_path / "pkuseg") in str(caught.value) and "cannot load the weights" not in str(caught.value)
    (tmp_path / "pkuseg").mkdir()
    (tmp_path / "pkuseg" / "spacy_ontonotes.zip").write_bytes(b"x")  # pre-seeded: Chinese works, segmented
    asyncio.run(voice.synthesize("你好。", tmp_path / "zh.wav", language="zh"))
    assert spacy_pkuseg.CUTS[-1] == "你好。"


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("zh", "今天天气很好。 我们去公园散步吧。 明天再见。"),
        ("ja", "きょうは いい てんき です。 こうえんに いきましょう。"),
        ("ar", "الطقس جميل اليوم. لنذهب إلى الحديقة معا."),
        ("hi", "आज मौसम अच्छा है। चलो पार्क चलते हैं।"),
    ],
)
def test_multilingual_speech_gets_aligned_captions(
    fake_chatterbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, language: str, text: str
) -> None:
    from shortskit.alignment import words_for

    (tmp_path / "pkuseg").mkdir()
    (tmp_path / "pkuseg" / "spacy_ontonotes.zip").write_bytes(b"x")  # the segmenter's model, pre-seeded
    monkeypatch.setenv("PKUSEG_HOME", str(tmp_path / "pkuseg"))

    voice = create_voice("chatterbox", device="cpu", chunk_pause=0.4)
    speech = asyncio.run(voice.synthesize(text, tmp_path / "a.wav", language=language))
    words, source = words_for(speech, text, language=language)
    assert source.startswith("dtw/") and [w.text for w in words] == text.split()
    truth = _true_starts(fake_chatterbox.calls(), 0.4)
    err = np.abs(np.array([w.start for w in words]) - np.array(truth)) * 1000
    assert np.median(err) <= 50 and err.max() <= 150, err


def test_a_segmenter_download_failing_at_load_is_named_not_the_weights(
    fake_chatterbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from chatterbox.mtl_tts import ChatterboxMultilingualTTS

    from shortskit.providers import chatterbox as provider

    monkeypatch.setattr(provider, "_lazy_segmenter", lambda: None)  # as 0.1.7 is: pkuseg() at load
    monkeypatch.setenv("PKUSEG_HOME", str(tmp_path / "pkuseg"))
    copy = tmp_path / "weights"
    copy.mkdir()
    for name in ChatterboxMultilingualTTS.FILES:
        (copy / name).write_bytes(b"x")  # a complete local copy: the weights are fine
    voice = create_voice("chatterbox", model_dir=str(copy), device="cpu")
    with pytest.raises(ConfigError, match=r"Chinese segmenter \(spacy-pkuseg\).*weights are not the problem"):
        asyncio.run(voice.synthesize("Hola.", tmp_path / "es.wav", language="es"))
