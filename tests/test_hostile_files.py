"""Hostile stories against the local disk: each file of ``tests/hostile/files_*`` is one attack (a file outside the
story's folder, a playlist, a picture bomb, an eSpeak voice that is a path or overflows a buffer, an injected font
name), run through the real ``shortskit validate``, ``render`` and ``batch``.

Each is staged in a temporary folder beside a ``private`` folder whose files hold a secret marker; the story's
tricks (symlinks, playlists, crafted pictures) are made there. Every run must end in exit 2 and one line naming
the scene and field, with no traceback, no private path, no private byte in any output, and no hang.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import nbformat
import pytest

from shortskit import ffmpeg
from shortskit.captions import FONT_FILE
from shortskit.errors import RenderError, StoryError
from shortskit.story import parse_story
from tests.conftest import FAKE_CHATTERBOX, ROOT, small_story, tone, write_story

HOSTILE = Path(__file__).parent / "hostile"
SECRET = "SECRET-7d1f-PRIVATE"  # planted in every private file; must never come out
CORPUS = sorted(p.name for p in HOSTILE.glob("files_*"))

# Where each attack's one line must point ("scene N: field", or the story-wide field), and what it must say.
OUTSIDE = "must name a file inside the story's folder"
NOT_AUDIO = "not audio ffmpeg can read"
PLACE = {
    "files_audio_concat_script.json": ("scene 1: audio", NOT_AUDIO),
    "files_audio_dotdot.json": ("scene 1: audio", OUTSIDE),
    "files_audio_live_playlist.json": ("scene 1: audio", NOT_AUDIO),
    "files_audio_playlist.json": ("scene 1: audio", NOT_AUDIO),
    "files_espeak_voice_overflow.json": ("voice", "eSpeak has no voice"),
    "files_espeak_voice_path.json": ("voice", "eSpeak has no voice"),
    "files_font_file_outside.json": ("captions.font_file", OUTSIDE),
    "files_font_newline.json": ("captions.font", "must be a font family name"),
    "files_image_absolute.json": ("scene 1: image", OUTSIDE),
    "files_image_bomb.json": ("scene 1: image", "decompression bomb"),
    "files_image_dotdot.json": ("scene 2: image", OUTSIDE),
    "files_image_home.yaml": ("scene 1: image", OUTSIDE),
    "files_image_missing_outside.json": ("scene 1: image", OUTSIDE),
    "files_image_postscript.json": ("scene 1: image", "cannot identify image file"),
    "files_image_symlink.json": ("scene 1: image", OUTSIDE),
    "files_image_too_many_pixels.json": ("scene 1: image", "at most 40 MP"),
    "files_language_newline.json": ("language", "BCP-47"),
    "files_music_absolute.json": ("music.file", OUTSIDE),
    "files_music_symlinked_folder.json": ("music.file", OUTSIDE),
    "files_voice_sample_outside.json": ("voice.sample", OUTSIDE),
}


def test_every_attack_says_where_it_must_fail() -> None:
    assert sorted(PLACE) == CORPUS


# -- staging ---------------------------------------------------------------------------------------------------


def _png(path: Path, width: int, height: int) -> Path:
    """A valid grey PNG of any size, written without holding its pixels (rows of zeros compress to almost nothing)."""
    row = b"\x00" * (1 + width)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    text = chunk(b"tEXt", b"Comment\x00" + SECRET.encode())
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + text + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def _private(folder: Path) -> Path:
    """The operator's private files, each holding the secret marker."""
    folder.mkdir(parents=True)
    _png(folder / "photo.png", 64, 64)
    tone(folder / "tone.wav", 6.0)  # long enough to be a voice sample
    # an M4A whose title tag is the secret: it shows wherever the file's bytes or tags go
    ffmpeg.run(["-y", "-i", folder / "tone.wav", "-metadata", f"title={SECRET}", "-c:a", "aac", folder / "secret.m4a"])
    shutil.copyfile(FONT_FILE, folder / "font.otf")
    (folder / "voice").write_text(f"name {SECRET}\nlanguage {SECRET}\nphonemes {SECRET}\n", encoding="utf-8")
    return folder


def _espeak_path_to(private: Path) -> str:
    """A private voice file as a voice name relative to eSpeak's voices folder: what eSpeak would open for it.

    eSpeak cuts names at about 60 characters, so the file sits in a short folder of /tmp (shared by the runs).
    """
    import espeakng_loader

    short = Path(tempfile.gettempdir()) / f"skv{os.getuid()}"
    short.mkdir(exist_ok=True)
    (short / "voice").write_text((private / "voice").read_text(encoding="utf-8"), encoding="utf-8")
    return os.path.relpath(short / "voice", Path(espeakng_loader.get_data_path()) / "voices")


def _tricks(story_dir: Path, private: Path) -> None:
    """What the corpus' stories find in their own folder: links out, playlists, crafted pictures."""
    (story_dir / "pictures").symlink_to(private, target_is_directory=True)
    (story_dir / "sounds").symlink_to(private, target_is_directory=True)
    (story_dir / "rec.m3u8").write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n{private / 'secret.m4a'}\n#EXT-X-ENDLIST\n", encoding="utf-8"
    )
    # no #EXT-X-ENDLIST: a live playlist, which ffmpeg would keep reloading, waiting for more
    (story_dir / "live.m3u8").write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:60\n#EXTINF:2,\n{private / 'secret.m4a'}\n", encoding="utf-8"
    )
    (story_dir / "take.wav").write_text("ffconcat version 1.0\nfile 'sounds/secret.m4a'\n", encoding="utf-8")
    _png(story_dir / "bomb.png", 13000, 13000)  # 169 MP: Pillow's own bomb check
    _png(story_dir / "huge.png", 9000, 5000)  # 45 MP: under Pillow's check, over ours
    (story_dir / "cover.eps").write_text(f"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n% {SECRET}\nshowpage\n")


def stage(tmp: Path, name: str) -> tuple[Path, Path, dict[str, str]]:
    """The attack ``name`` in ``tmp/story`` beside ``tmp/private``: its story file, the private folder, its env."""
    if "voice_sample" in name:
        pytest.importorskip("torch", reason="the stand-in chatterbox needs torch (CI installs the CPU wheel)")
    private = _private(tmp / "private")
    story_dir = tmp / "story"
    story_dir.mkdir()
    _tricks(story_dir, private)
    text = (HOSTILE / name).read_text(encoding="utf-8")
    text = text.replace("@PRIVATE@", str(private)).replace("@ESPEAK_TO_PRIVATE@", _espeak_path_to(private))
    story = story_dir / name
    story.write_text(text, encoding="utf-8")
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(FAKE_CHATTERBOX)]), "SHORTSKIT_FFMPEG_TIMEOUT": "60"}
    if name == "files_image_home.yaml":
        env["HOME"] = str(private)
    return story, private, env


def cli(*args: str | Path, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # the timeout is the test's own guard against a hang: a hostile input must be refused long before it
    base = {k: v for k, v in os.environ.items() if k != "SHORTSKIT_ALLOW_DIRS"}
    return subprocess.run(
        [sys.executable, "-m", "shortskit", *map(str, args)],
        capture_output=True, text=True, env={**base, **env}, cwd=cwd, timeout=240, check=False,
    )  # fmt: skip


def leaks(folder: Path, private: Path) -> list[str]:
    """Files under ``folder`` holding the secret or the private folder's path."""
    marks = [SECRET.encode(), str(private).encode()]
    return [str(p) for p in folder.rglob("*") if p.is_file() and any(m in p.read_bytes() for m in marks)]


def assert_refused(proc: subprocess.CompletedProcess[str], name: str, private: Path) -> str:
    """Exit 2, one ``error:`` line naming the attack's place, no traceback, nothing private; the line."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr[-2000:]
    line = lines[0]
    assert line.startswith("error: ") and "Traceback" not in proc.stderr
    place, says = PLACE[name]
    assert f"{name}: {place}: " in line and says in line, line
    for text in (proc.stdout, proc.stderr):
        assert SECRET not in text and str(private) not in text and "not found" not in text
    return line


# -- validate and render, every attack -------------------------------------------------------------------------


@pytest.mark.parametrize("name", CORPUS)
def test_validate_refuses_the_attack(tmp_path: Path, name: str) -> None:
    story, private, env = stage(tmp_path, name)
    proc = cli("validate", story, "--workspace", tmp_path / "ws", env=env)
    assert_refused(proc, name, private)


@pytest.mark.parametrize("name", CORPUS)
def test_render_refuses_the_attack_and_makes_nothing(tmp_path: Path, name: str) -> None:
    story, private, env = stage(tmp_path, name)
    out = tmp_path / "out"
    out.mkdir()
    proc = cli("render", story, "-o", out / "short.mp4", "--workspace", tmp_path / "ws", env=env)
    assert_refused(proc, name, private)
    assert list(out.iterdir()) == []
    if (tmp_path / "ws").exists():
        assert leaks(tmp_path / "ws", private) == []


def test_a_file_outside_reads_the_same_whether_it_exists_or_not(tmp_path: Path) -> None:
    found, _, env = stage(tmp_path / "a", "files_image_absolute.json")
    missing, _, _ = stage(tmp_path / "b", "files_image_missing_outside.json")
    said = [cli("validate", s, env=env).stderr.replace(s.name, "STORY") for s in (found, missing)]
    assert said[0] == said[1] and OUTSIDE in said[0]


# -- what the operator allows ------------------------------------------------------------------------------------


def test_the_operator_may_allow_a_folder(tmp_path: Path) -> None:
    story, private, env = stage(tmp_path, "files_image_absolute.json")
    assert cli("validate", story, "--allow-dir", private, env=env).returncode == 0
    assert cli("validate", story, env={**env, "SHORTSKIT_ALLOW_DIRS": str(private)}).returncode == 0
    # a link inside the story's folder that points there is then fine too, as is render(allow_dirs=...)
    linked = parse_story(json.loads((HOSTILE / "files_image_symlink.json").read_text()), source=story)
    with pytest.raises(StoryError, match="scene 1: image: must name a file inside"):
        linked.resolve("pictures/photo.png", field="image", scene=1)
    assert linked.with_allowed_dirs([private]).resolve("pictures/photo.png") == private / "photo.png"


def test_the_shipped_assets_are_allowed(tmp_path: Path) -> None:
    story = parse_story(small_story(captions={"font_file": str(FONT_FILE)}), source=tmp_path / "s.json")
    assert story.local_files() == [("captions.font_file", FONT_FILE.resolve())]


@pytest.mark.parametrize("written", ["loop/x.png", "a\x00b.png", "~nobody-such-user/x.png", "/etc/hostname"])
def test_odd_paths_are_refused_without_a_traceback(tmp_path: Path, written: str) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    story = parse_story(small_story(), source=tmp_path / "s.json")
    with pytest.raises(StoryError) as raised:
        story.resolve(written, field="image", scene=2)
    assert str(raised.value) == (
        "s.json: scene 2: image: must name a file inside the story's folder, or in a folder the operator allows "
        "(--allow-dir, or $SHORTSKIT_ALLOW_DIRS)"
    )


# -- ffmpeg: known demuxers, the file protocol, a time limit ---------------------------------------------------


def test_ffmpeg_reads_no_playlist_whoever_calls(tmp_path: Path) -> None:
    _, private, _ = stage(tmp_path, "files_audio_playlist.json")
    for trick in ("rec.m3u8", "take.wav"):
        with pytest.raises(RenderError):
            ffmpeg.decode_audio(tmp_path / "story" / trick)
    assert len(ffmpeg.decode_audio(private / "secret.m4a")) > 16000  # a plain M4A still reads


def test_every_ffmpeg_call_has_a_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    # 20 s of silence read at its own pace (-re): the limit stops it after one
    endless = ["-re", "-f", "lavfi", "-i", "anullsrc", "-t", "20", "-f", "null", "-"]
    with pytest.raises(RenderError, match="took longer than 1 s"):
        ffmpeg.run(endless, timeout=1)
    monkeypatch.setenv("SHORTSKIT_FFMPEG_TIMEOUT", "1")
    with pytest.raises(RenderError, match="took longer than 1 s"):
        asyncio.run(ffmpeg.run_async(endless))
    monkeypatch.setenv("SHORTSKIT_FFMPEG_TIMEOUT", "nan")
    with pytest.raises(Exception, match="SHORTSKIT_FFMPEG_TIMEOUT must be a number"):
        ffmpeg.run(endless)


# -- names -----------------------------------------------------------------------------------------------------


def test_a_voice_library_name_matches_in_full(tmp_path: Path) -> None:
    sample = tone(tmp_path / "sample.wav", 6.0)
    proc = cli("voice", "add", "narrator\n", sample, "--workspace", tmp_path / "ws", env={})
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ws" / "voices-library").exists() or not list((tmp_path / "ws" / "voices-library").iterdir())


def test_a_font_file_whose_own_name_would_inject_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from shortskit import fonts
    from shortskit.captions import font_family
    from shortskit.errors import ConfigError

    class Evil:
        def getname(self) -> tuple[str, str]:
            return ("Spartan\nDialogue: 0,0:00:00.00,0:00:09.00,Default,,0,0,0,,INJECTED", "Bold")

    monkeypatch.setattr(fonts, "_pil", lambda *a, **k: Evil())
    with pytest.raises(ConfigError, match="family name"):
        font_family(FONT_FILE)
    with pytest.raises(ValueError, match="family name"):  # every face a caption may use, installed ones too
        fonts.face_of(FONT_FILE)


# -- batch: one attack fails its row, the others are made -----------------------------------------------------

TITLE = "Night \x1b]0;owned\x07\x1b[2J<b>bold</b> **loud**"


@pytest.mark.slow
def test_a_batch_fails_the_hostile_rows_alone_and_shows_text_plainly(tmp_path: Path) -> None:
    pytest.importorskip("papermill", reason="the notebook extra (papermill) is not installed")
    stories = tmp_path / "stories"
    # two attacks: one refused while the batch plans (a link out), one inside its kernel (an eSpeak path)
    _, private, env = stage(tmp_path / "a", "files_image_symlink.json")
    _, _, _ = stage(tmp_path / "b", "files_espeak_voice_path.json")
    shutil.copytree(tmp_path / "a" / "story", stories, symlinks=True)
    shutil.copy(tmp_path / "b" / "story" / "files_espeak_voice_path.json", stories)
    good = small_story(title=TITLE)
    good["scenes"] = good["scenes"][:1]
    write_story(stories, good, "good.json")
    out = tmp_path / "out"
    proc = cli(
        "batch", stories / "files_image_symlink.json", stories / "files_espeak_voice_path.json", stories / "good.json",
        "-o", out, "-p", "workspace", tmp_path / "ws", "-j", "1", env=env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    rows = {r["slug"]: r for r in summary["stories"]}
    assert rows["good"]["status"] == "done" and (out / "good" / "good.mp4").is_file()
    for slug, place in (("files-image-symlink", "scene 1: image"), ("files-espeak-voice-path", "voice")):
        assert rows[slug]["status"] == "failed" and place in rows[slug]["error"]
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("failed: ")]
    assert len(failed) == 2 and "Traceback" not in proc.stderr
    assert leaks(out, private) == [] and leaks(tmp_path / "ws", private) == []
    assert SECRET not in proc.stdout + proc.stderr and "\x1b" not in proc.stdout + proc.stderr
    # the title is shown as plain text: no Markdown or HTML output, no escape sequence
    notebook = nbformat.read(out / "good" / "good.ipynb", as_version=4)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    shown = [o for o in outputs if "text/markdown" in o.get("data", {}) or "text/html" in o.get("data", {})]
    assert [o for o in shown if "bold" in json.dumps(o)] == []
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "<b>bold</b> **loud**" in printed and "\x1b" not in printed
