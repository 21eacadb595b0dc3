"""``shortskit align AUDIO TEXT``: where each word of TEXT is heard in AUDIO (any file ffmpeg reads)."""

from __future__ import annotations

import json
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from shortskit.cli.app import app, reported
from shortskit.safetext import plain_text


class Aligner(str, Enum):
    auto = "auto"
    dtw = "dtw"
    mms = "mms"
    whisper = "whisper"


@app.command()
def align(
    audio: Annotated[Path, typer.Argument(help="The speech: any audio (or video) file ffmpeg reads.")],
    text: Annotated[str, typer.Argument(help="What it says (or @FILE to read the text from a file).")],
    language: Annotated[str, typer.Option("--language", help="BCP-47 language of the speech.")] = "en",
    as_json: Annotated[bool, typer.Option("--json", help='Print [{"word", "start", "end"}, ...].')] = False,
    as_srt: Annotated[bool, typer.Option("--srt", help="Print captions (SubRip) grouped as in OUT.srt.")] = False,
    aligner: Annotated[
        Aligner, typer.Option("--aligner", help="auto: MMS when its weights are here, else the model-free dtw.")
    ] = Aligner.auto,
) -> None:
    """Word timings for your own recording (or any speech): one line per word of TEXT, in seconds."""
    from shortskit.alignment import align as find_words
    from shortskit.alignment import aligner_id, speaks
    from shortskit.errors import ConfigError

    with reported():
        if as_json and as_srt:
            raise ConfigError("use --json or --srt, not both")
        if text.startswith("@"):
            text = _read_text(Path(text[1:]))
        if aligner_id(aligner.value).startswith("dtw/") and not speaks(language):
            raise ConfigError(
                f"--language {language}: eSpeak, which the dtw aligner reads the text with, has no voice for it; "
                "pass --language with a language eSpeak speaks (such as en, es, fr or pt-BR)"
            )
        words = find_words(audio, text, language=language, aligner=aligner.value)
    if as_json:
        rows = [{"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)} for w in words]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    elif as_srt:
        from shortskit.captions import group_words
        from shortskit.subtitles import write_srt

        with tempfile.TemporaryDirectory() as tmp:
            srt = write_srt(group_words(words, max_words=7, max_chars=42), Path(tmp) / "words.srt")
            typer.echo(srt.read_text(encoding="utf-8"), nl=False)
    else:
        for w in words:
            typer.echo(plain_text(f"{w.start:8.3f} {w.end:8.3f}  {w.text}"))


def _read_text(path: Path) -> str:
    """The text of ``@FILE``; a file that is missing or not UTF-8 text is the user's to fix (exit 2)."""
    from shortskit.errors import ConfigError

    if not path.exists():
        raise ConfigError(f"{path.name}: text file not found")
    if not path.is_file():
        raise ConfigError(f"{path.name}: is a folder, not a text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name}: not UTF-8 text (save the text file as UTF-8)") from None
    except OSError as exc:
        raise ConfigError(f"{path.name}: cannot read the text file ({exc.strerror or exc})") from None
