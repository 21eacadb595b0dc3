"""Every notebook in ``notebooks/`` runs top to bottom with papermill (cwd = notebooks/) and makes its files.

The notebooks share one workspace, so the example story is rendered once and reused after that.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from shortskit import ffmpeg
from tests.conftest import FAKE_CHATTERBOX, ROOT, small_story, write_story

pm = pytest.importorskip("papermill", reason="the notebook extra (papermill) is not installed")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = ROOT / "notebooks"
TESTED = {
    "01_quickstart.ipynb",
    "02_scene_editor.ipynb",
    "03_voice_cloning.ipynb",
    "04_batch.ipynb",
    "colab.ipynb",
    "make_short.ipynb",
}


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        pytest.fail("no python3 Jupyter kernel: run `python -m ipykernel install --sys-prefix`")
    return tmp_path_factory.mktemp("notebook-workspace")


def execute(name: str, tmp_path: Path, **parameters: Any) -> Any:
    """Run notebook ``name`` into tmp_path and return the executed notebook."""
    out = tmp_path / f"executed-{name}"
    pm.execute_notebook(
        NOTEBOOKS / name,
        out,
        parameters=parameters,
        cwd=NOTEBOOKS,
        kernel_name="python3",
        progress_bar=False,
    )
    return nbformat.read(out, as_version=4)


def outputs(nb: Any) -> str:
    """Everything the executed notebook showed, as one string."""
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def assert_short(path: Path, size: tuple[int, int] = (1080, 1920)) -> None:
    info = ffmpeg.probe(path)
    assert (info.width, info.height) == size and info.video_codec == "h264" and info.has_audio
    assert info.duration and info.duration > 1


def test_every_notebook_is_tested_and_committed_clean() -> None:
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == TESTED
    for name in TESTED:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), f"{name} has outputs"
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and code[0] is tagged[0], f"{name}: one parameters cell, first"
        assert nb.metadata.kernelspec.name == "python3"
        text = "\n".join(c.source for c in nb.cells).lower()
        assert "api_key =" not in text and "sk-" not in text and "token =" not in text


def test_quickstart(tmp_path: Path, shared_workspace: Path) -> None:
    nb = execute("01_quickstart.ipynb", tmp_path, output=str(tmp_path / "short.mp4"), workspace=str(shared_workspace))
    assert_short(tmp_path / "short.mp4")
    assert_short(tmp_path / "short-edited.mp4")
    shown = outputs(nb)
    assert "<video" in shown and "The Octopus Has Three Hearts" in shown
    assert "'voice': 1, 'captions': 1, 'clip': 1" in shown  # start(): only the edited scene was made again


def test_scene_editor(tmp_path: Path, shared_workspace: Path) -> None:
    nb = execute(
        "02_scene_editor.ipynb",
        tmp_path,
        output=str(tmp_path / "edited.mp4"),
        workspace=str(shared_workspace),
        render_now=True,
    )
    assert_short(tmp_path / "edited.mp4")
    shown = outputs(nb)
    assert "application/vnd.jupyter.widget-view+json" in shown and str(tmp_path / "edited.mp4") in shown


def _saved_voice(ws: Path, tmp_path: Path) -> Path:
    wav = ws / "voices-library" / "me.wav"
    info = ffmpeg.probe(wav)
    assert (info.sample_rate, info.channels) == (24000, 1) and 5 <= info.duration <= 30
    assert json.loads(wav.with_suffix(".json").read_text())["source"] == "sample.wav"
    assert (tmp_path / "sample.wav").exists()
    return wav


def test_voice_cloning_without_chatterbox_says_how_to_get_it(tmp_path: Path) -> None:
    if importlib.util.find_spec("chatterbox") is not None:
        pytest.skip("chatterbox is installed here: this test is for a machine without it")
    ws = tmp_path / "ws"
    nb = execute("03_voice_cloning.ipynb", tmp_path, workspace=str(ws), out_dir=str(tmp_path), voice_name="me")
    _saved_voice(ws, tmp_path)
    shown = outputs(nb)
    assert "['me']" in shown and 'pip install \\"shortskit[chatterbox]\\"' in shown
    assert "Chatterbox is installed" not in shown and "the test sentence in the voice" not in shown


@pytest.fixture
def kernel_chatterbox(fake_chatterbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Kernels started now import the stand-in chatterbox; what it does is logged to the file returned."""
    log = tmp_path / "chatterbox.jsonl"
    monkeypatch.setenv("PYTHONPATH", str(FAKE_CHATTERBOX))
    monkeypatch.setenv("FAKE_CHATTERBOX_LOG", str(log))
    return log


def _logged(log: Path, event: str) -> list[dict[str, Any]]:
    return [e for e in map(json.loads, log.read_text().splitlines()) if e["event"] == event]


def test_voice_cloning_speaks_with_the_saved_voice(tmp_path: Path, kernel_chatterbox: Path) -> None:
    ws = tmp_path / "ws"
    nb = execute("03_voice_cloning.ipynb", tmp_path, workspace=str(ws), out_dir=str(tmp_path), voice_name="me")
    wav = _saved_voice(ws, tmp_path)
    assert len(_logged(kernel_chatterbox, "load")) == 1
    (call,) = _logged(kernel_chatterbox, "generate")
    assert call["audio_prompt_path"] == str(wav) and call["text"].startswith("Meet the octopus.")
    shown = outputs(nb)
    assert "Chatterbox is installed; it loads on cpu" in shown and "the test sentence in the voice 'me'" in shown
    assert (ws / "voices-library" / ".scratch" / "clone-me.wav").exists()


def test_batch_goes_on_after_a_failure_and_resumes(tmp_path: Path, shared_workspace: Path) -> None:
    tiny = write_story(tmp_path, small_story(title="Tiny one"), "tiny.json")
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    broken = small_story(title="Bad", scenes=[{"text": "A broken picture.", "image": "broken.png"}])
    bad = write_story(tmp_path, broken, "bad.json")
    params = {
        "stories": ["examples/octopus.json", str(tiny), str(bad)],
        "out_dir": str(tmp_path / "batch"),
        "workspace": str(shared_workspace),
    }
    nb = execute("04_batch.ipynb", tmp_path, **params)
    out = tmp_path / "batch"
    summary = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in summary["stories"]] == ["done", "done", "failed"]
    assert "broken.png" in summary["stories"][2]["error"] and summary["stories"][2]["failed_scenes"] == [1]
    assert_short(out / "octopus" / "octopus.mp4")
    assert_short(out / "tiny" / "tiny.mp4", (270, 480))
    assert (out / "bad" / "bad.ipynb").exists() and (out / "index.html").exists()  # the failed run's notebook
    shown = outputs(nb)
    assert (
        shown.count('"image/jpeg": "/9j/') == 2 and "Tiny one" in shown and "2 made, 0 already made, 1 failed" in shown
    )

    execute("04_batch.ipynb", tmp_path, **params)  # again: the shorts already made are skipped
    again = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in again["stories"]] == ["skipped", "skipped", "failed"]


def test_make_short_template_records_its_result(tmp_path: Path, shared_workspace: Path) -> None:
    tiny = write_story(tmp_path, small_story())
    out = tmp_path / "out" / "tiny.mp4"
    nb = execute(
        "make_short.ipynb",
        tmp_path,
        story=str(tiny),
        output=str(out),
        voice="espeak",
        images="procedural",
        quality="draft",
        workspace=str(shared_workspace),
    )
    assert_short(out, (270, 480))
    record = json.loads(out.with_suffix(".result.json").read_text())
    assert record["ok"] and record["scenes"] == 2 and record["title"] == "Tiny" and record["seconds"] > 0
    # the title is printed as plain text (a story's words are never Markdown or HTML for the notebook)
    assert out.with_suffix(".srt").exists() and "Tiny: " in outputs(nb) and "text/markdown" not in outputs(nb)


def test_colab_without_a_gpu_skips_the_gpu_cells_and_renders_with_espeak(
    tmp_path: Path, shared_workspace: Path
) -> None:
    nb = execute("colab.ipynb", tmp_path, output=str(tmp_path / "colab.mp4"), workspace=str(shared_workspace))
    assert_short(tmp_path / "colab.mp4")
    shown = outputs(nb)
    if "GPU: " not in shown:
        assert "no GPU: the GPU cells are skipped" in shown and "with espeak" in shown


def test_colab_clones_a_voice_and_renders_the_story_with_it(tmp_path: Path, kernel_chatterbox: Path) -> None:
    tiny = write_story(tmp_path, small_story())
    ws = tmp_path / "ws"
    out = tmp_path / "out" / "colab.mp4"
    nb = execute("colab.ipynb", tmp_path, story_file=str(tiny), output=str(out), workspace=str(ws), clone=True)
    assert_short(out, (270, 480))
    sample = ws / "voices-library" / "narrator.wav"
    calls = _logged(kernel_chatterbox, "generate")
    assert [c["text"] for c in calls] == [s["text"] for s in small_story()["scenes"]]
    assert {c["audio_prompt_path"] for c in calls} == {str(sample)}
    shown = outputs(nb)
    assert "saved voice 'narrator'" in shown and "with chatterbox, encoded with" in shown
