"""Aligner benchmark (not a test): word-start error and speed of ``shortskit.align`` on speech of known word times.

    python bench/align.py            # eSpeak voices (+ Festival's, when `apt-get install festival
                                     #   festvox-us-slt-hts festvox-kallpc16k festvox-ca-ona-hts` was run)
    python bench/align.py --real fr  # only the real recordings, of these languages (fr, or fr,de; all: --real all)
    python bench/align.py --synthetic   # only the synthetic cases and the command's speed

Speech comes from eSpeak NG in voices and rates other than the aligner's own reading, and from Festival (another
synthesizer altogether), English and Spanish (Catalan for Festival: Debian has no Spanish Festival voice), with
and without the music bed under it and with long pauses. For each case it prints the median and 90th percentile
of the word-start error next to the syllable estimate (words spread by their letters), and the speed in times
real time (CPU of the align call); then the speed of the whole ``shortskit align`` command, process start
included. Targets: median <= 50 ms, p90 <= 120 ms, >= 20x real time (the issue's floor: 60 / 150 ms, 10x).

Then real recordings of people (tests/real_speech.py: Debian's klettres-data and alsa-utils, words timed by hand
in tests/data/real_speech.json; `apt-get install klettres-data alsa-utils`): per language, words read one by one
with pauses, the same under the music bed, and read quicker; target median <= 50 ms, p90 <= 150 ms per language.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shortskit import align
from shortskit.timing import estimate_words
from tests import real_speech
from tests.speech import EN, ES, Spoken, build, errors_ms, espeak_case, festival_available, festival_sentence

CA = [
    "El vell guardià del far pujava les escales cada nit a la mateixa hora.",
    "Ningú del poble sabia per què no faltava mai, ni tan sols durant la gran tempesta.",
    "Un hivern, una periodista jove li va oferir diners per la història.",
    "Ell va riure, va servir dues tasses de te i no va dir res.",
]
SLT, KAL, ONA = "(voice_cmu_us_slt_arctic_hts)", "(voice_kal_diphone)", "(voice_upc_ca_ona_hts)"


def cases(folder: Path) -> list[tuple[str, str, Spoken]]:
    found: list[tuple[str, str, Spoken]] = [
        ("en espeak en+f3 140 wpm", "en", espeak_case(folder / "1.wav", EN, "en+f3", 140, pitch=70)),
        ("en espeak en-us+m3 210 wpm, music -15 dB, pauses", "en",
         espeak_case(folder / "2.wav", EN, "en-us+m3", 210, pitch=30, music_db=-15, gaps=[1.8, 0.3, 3.0])),
        ("es espeak es+f2 150 wpm, music -18 dB", "es", espeak_case(folder / "3.wav", ES, "es+f2", 150, music_db=-18)),
        ("es espeak es-419+m3 200 wpm", "es-419", espeak_case(folder / "4.wav", ES, "es-419+m3", 200, pitch=35)),
    ]  # fmt: skip
    if festival_available():
        for name, language, voice, texts, music in (
            ("en festival slt", "en", SLT, EN, None),
            ("en festival slt, music -15 dB, pauses", "en", SLT, EN, -15.0),
            ("en festival kal (diphone)", "en", KAL, EN, None),
            ("ca festival ona, music -15 dB", "ca", ONA, CA, -15.0),
        ):
            spoken = [festival_sentence(t, voice) for t in texts]
            gaps = [0.3, 2.5, 0.6] if music is not None else None
            case = build(folder / f"festival-{len(found)}.wav", spoken, texts, music_db=music, gaps=gaps)
            found.append((name, language, case))
    else:
        print("(Festival is not installed: eSpeak cases only)")
    return found


def real(folder: Path, only: set[str] | None = None) -> None:
    """The aligner on real recordings of people, per language and reading (see the module docstring)."""
    if not real_speech.available():
        print(f"(real recordings missing: {real_speech.INSTALL})")
        return
    print(f"\n{'real recordings of people':<34} {'slow':>13} {'music':>13} {'quick':>13} | {'all':>13}")
    for language in real_speech.languages():
        if only is not None and language not in only:
            continue
        for alsa in (False, True) if language == "en" else (False,):
            cells, pooled = [], []
            for style in real_speech.STYLES:
                case = real_speech.case(folder / "real.wav", language, style, alsa=alsa)
                try:
                    words = align(case.path, case.text, language=language, aligner="dtw")
                except Exception as exc:  # a refusal is a result here
                    cells.append(f"{type(exc).__name__[:13]:>13}")
                    pooled += [10_000.0] * len(case.starts)
                    continue
                err = errors_ms([w.start for w in words], case.starts)
                pooled += list(err)
                cells.append(f"{np.median(err):>5.0f}/{np.percentile(err, 90):>5.0f}ms")
            name = f"{language} {'alsa-utils phrases' if alsa else 'klettres words'} ({len(case.starts)})"
            print(f"{name:<34} {' '.join(cells)} | {np.median(pooled):>5.0f}/{np.percentile(pooled, 90):>5.0f}ms")
    print("(median/p90 word-start error; a refusal counts as 10 s for every word)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--real", metavar="LANGS", help="only the real recordings of these languages (comma-separated, or all)"
    )
    group.add_argument("--synthetic", action="store_true", help="only the synthetic cases and the command's speed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.real:
            real(folder, None if args.real == "all" else set(args.real.split(",")))
            return
        rows, pooled, base, speeds = [], [], [], []
        made = cases(folder)
        for name, language, case in made:
            started = time.process_time()
            words = align(case.path, case.text, language=language)
            cpu = time.process_time() - started
            err = errors_ms([w.start for w in words], case.starts)
            est = errors_ms([w.start for w in estimate_words(case.text, case.duration)], case.starts)
            pooled += list(err)
            base += list(est)
            speeds.append(case.duration / cpu)
            rows.append(
                (name, np.median(err), np.percentile(err, 90), np.median(est), np.percentile(est, 90), speeds[-1])
            )
        print(f"{'case':<50} {'median':>7} {'p90':>6} | {'estimate':>8} {'p90':>6} | {'x real time':>11}")
        for name, med, p90, emed, ep90, speed in rows:
            print(f"{name:<50} {med:>5.0f}ms {p90:>4.0f}ms | {emed:>6.0f}ms {ep90:>4.0f}ms | {speed:>10.0f}x")
        print(
            f"{'pooled':<50} {np.median(pooled):>5.0f}ms {np.percentile(pooled, 90):>4.0f}ms | "
            f"{np.median(base):>6.0f}ms {np.percentile(base, 90):>4.0f}ms | {min(speeds):>9.0f}x (slowest)"
        )
        if not args.synthetic:
            real(folder)
        # the whole command, Python start and imports included, on the longest case
        name, language, case = max(made, key=lambda r: r[2].duration)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "shortskit", "align", str(case.path), case.text, "--language", language, "--json"],
            check=True, capture_output=True,
        )  # fmt: skip
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(
            f"`shortskit align` on {case.duration:.0f} s ({name}): {case.duration / wall:.0f}x real time by the clock, "
            f"{case.duration / cpu:.0f}x by CPU, process start included"
        )


if __name__ == "__main__":
    main()
