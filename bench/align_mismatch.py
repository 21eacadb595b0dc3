"""Mismatch benchmark (not a test): does the model-free aligner tell the right text from a wrong one?

    python bench/align_mismatch.py      # the voices of bench/align.py: eSpeak variants and rates, Festival's

For each voice (and music bed, pauses) as in bench/align.py, sentences, pairs and fours of sentences are aligned
with their own text, with another text of about as many words, and with a half-wrong text (the first half of
its words, then the second half of the other's). It prints what the aligner's check measures (the cost of the
text's own reading over an impostor's; + the jitter of the warp's slope for long texts) as min / median / max,
and how many of each kind it rejected (TextMismatchError, by the length check or by the score). A right text
must never be rejected; how many wrong ones are is what the check is worth.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.align import CA, KAL, ONA, SLT
from shortskit import TextMismatchError, align
from shortskit.alignment import dtw
from tests.speech import EN, ES, build, espeak_case, festival_available, festival_sentence

MORE = {
    "en": [
        "Octopuses have three hearts and blue blood.",
        "Maria opened her small bakery on the corner of Fifth Street in the spring.",
        "Every morning she baked forty loaves of bread before the sun came up.",
        "Scientists discovered a new species of frog in the rainforest last year.",
        "The train left the station twenty minutes late because of the snow.",
        "My grandmother kept every letter she ever received in a wooden box.",
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "Mary had a little lamb whose fleece was white as snow and everywhere that Mary went.",
    ],
    "es": [
        "Los pulpos tienen tres corazones y la sangre azul.",
        "María abrió su pequeña panadería en la esquina de la calle mayor.",
        "Cada mañana horneaba cuarenta panes antes de que saliera el sol.",
        "El tren salió de la estación con veinte minutos de retraso por la nieve.",
    ],
    "ca": [
        "La Maria va obrir una fleca petita a la cantonada del carrer major.",
        "Cada matí coïa quaranta pans abans que sortís el sol.",
    ],
}
TEXTS = {"en": EN + MORE["en"], "es": ES + MORE["es"], "es-419": ES + MORE["es"], "ca": CA + MORE["ca"]}


def voices() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, language, how to speak): the voices and conditions of bench/align.py."""
    found: list[tuple[str, str, dict[str, Any]]] = [
        ("espeak en+f3 140", "en", {"voice": "en+f3", "rate": 140, "pitch": 70}),
        ("espeak en-us+m3 210, music, pauses", "en",
         {"voice": "en-us+m3", "rate": 210, "pitch": 30, "music_db": -15, "gaps": [1.8, 0.3, 3.0]}),
        ("espeak es+f2 150, music", "es", {"voice": "es+f2", "rate": 150, "music_db": -18}),
        ("espeak es-419+m3 200", "es-419", {"voice": "es-419+m3", "rate": 200, "pitch": 35}),
    ]  # fmt: skip
    if festival_available():
        found += [
            ("festival slt", "en", {"festival": SLT}),
            ("festival slt, music, pauses", "en", {"festival": SLT, "music_db": -15.0, "gaps": [0.3, 2.5, 0.6]}),
            ("festival kal (diphone)", "en", {"festival": KAL}),
            ("festival ona (ca), music", "ca", {"festival": ONA, "music_db": -15.0}),
        ]
    else:
        print("(Festival is not installed: eSpeak voices only)")
    return found


def speak(out: Path, texts: list[str], how: dict[str, Any]) -> Path:
    options = {k: how[k] for k in ("music_db", "gaps") if k in how}
    if "gaps" in options:
        options["gaps"] = (options["gaps"] * 2)[: max(0, len(texts) - 1)]
    if "festival" in how:
        return build(out, [festival_sentence(t, how["festival"]) for t in texts], texts, **options).path
    return espeak_case(out, texts, how["voice"], how["rate"], pitch=how.get("pitch", 50), **options).path


def units(texts: list[str]) -> list[list[str]]:
    """Single sentences, pairs and fours."""
    return [[t] for t in texts] + [texts[i : i + 2] for i in range(0, len(texts) - 1, 2)] + [texts[:4], texts[4:8]]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    measured: list[tuple[float, float, bool]] = []
    real = dtw._spoken_score

    def spy(*args: Any) -> tuple[float, float]:
        ratio, jitter = real(*args)
        measured.append((ratio, jitter, args[3] is not None))  # args[3]: the impostor (None: a short text)
        return ratio, jitter

    dtw._spoken_score = spy  # type: ignore[assignment]
    table: dict[tuple[str, str], list[float]] = defaultdict(list)  # (label, short/long) -> statistic
    rejected: dict[tuple[str, str], int] = defaultdict(int)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for name, language, how in voices():
            us = units(TEXTS[language])
            for n, u in enumerate(us):
                text = " ".join(u)
                size = len(text.split())
                others = [o for o in us if not set(o) & set(u) and 0.8 <= len(" ".join(o).split()) / size <= 1.25]
                audio = speak(Path(tmp) / f"{n}.wav", u, how)
                given = [("right", text)]
                if others:
                    wrong = " ".join(others[rng.integers(len(others))]).split()
                    given += [
                        ("wrong", " ".join(wrong)),
                        ("half", " ".join(text.split()[: size // 2] + wrong[len(wrong) // 2 :])),
                    ]
                for label, said in given:
                    measured.clear()
                    try:
                        align(audio, said, language=language, aligner="dtw")
                        outcome = None
                    except TextMismatchError as exc:
                        outcome = "length" if "implausible" in str(exc) else "score"
                    kind = ("long" if measured[0][2] else "short") if measured else "length"
                    if measured:
                        ratio, jitter, long_text = measured[0]
                        table[(label, kind)].append(ratio + jitter if long_text else ratio)
                    if outcome:
                        rejected[(label, kind)] += 1
                    if label == "right" and outcome:
                        print(f"RIGHT TEXT REJECTED: {name}: {text[:50]} ({outcome})")
    print(
        f"{'text':<6} {'kind':<7} {'n':>4} {'min':>6} {'median':>7} {'max':>6}  rejected  (long: ratio + jitter, limit 1.30;"
        " short: ratio, limit 0.98)"
    )
    for label in ("right", "wrong", "half"):
        for kind in ("short", "long", "length"):
            values = table.get((label, kind), [])
            n = len(values) + (rejected[(label, kind)] if kind == "length" else 0)
            if not n:
                continue
            stats = f"{min(values):>6.3f} {np.median(values):>7.3f} {max(values):>6.3f}" if values else f"{'':>21}"
            print(f"{label:<6} {kind:<7} {n:>4} {stats}  {rejected[(label, kind)]:>4}")


if __name__ == "__main__":
    main()
