"""Sentence splitting and TTS chunking, offline."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shortskit.text import chunk_text, split_sentences, strip_emoji


def test_abbreviations_and_numbers_are_not_split() -> None:
    text = "Dr. Smith paid $1,500.75 ... 3.14 for it. Then he left! Did he? Yes, e.g. on Jan. 3rd."
    assert split_sentences(text) == [
        "Dr. Smith paid $1,500.75 ... 3.14 for it.",
        "Then he left!",
        "Did he?",
        "Yes, e.g. on Jan. 3rd.",
    ]


def test_spanish_inverted_marks_and_abbreviations() -> None:
    text = "¿Dónde está la Sra. López? ¡Aquí! El Dr. Pérez llegó."
    assert split_sentences(text, "es") == ["¿Dónde está la Sra. López?", "¡Aquí!", "El Dr. Pérez llegó."]


def test_empty_text_gives_no_sentences() -> None:
    assert split_sentences("   \n ") == []
    assert chunk_text("") == []


def test_chunks_respect_the_limit_and_keep_every_word() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = chunk_text(text, max_chars=100)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    # whole sentences only: every chunk ends a sentence
    assert all(c.endswith(".") for c in chunks)


def test_long_sentence_is_cut_at_clauses_then_words() -> None:
    text = "First clause goes here, second clause follows it; " + "word " * 60 + "end."
    chunks = chunk_text(text, max_chars=60)
    assert all(len(c) <= 60 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert chunks[0].endswith(",") or chunks[0].endswith(";")


def test_a_single_huge_word_stays_whole() -> None:
    word = "x" * 80
    assert chunk_text(f"Hi {word} there.", max_chars=30) == ["Hi", word, "there."]


def test_number_is_never_split_in_chunks() -> None:
    chunks = chunk_text("Dr. Smith paid $1,500.75 ... 3.14 today. " * 10, max_chars=45)
    assert all("$1,500.75" in c or "1,500" not in c for c in chunks)


def test_bad_limit() -> None:
    with pytest.raises(ValueError):
        chunk_text("hi", max_chars=0)


def test_strip_emoji_keeps_letters_and_symbols() -> None:
    assert strip_emoji("hola 😀 niño 👍🏽 ❤️ ¿sí? © 3") == "hola niño ¿sí? © 3"


def test_splitting_sentences_does_not_import_scipy_stats() -> None:
    # NLTK's package import would pull in scipy.stats (about a CPU second) for a test it never runs here.
    code = (
        "import sys; from shortskit.text import split_sentences; "
        "print(split_sentences('Dr. Smith came home. It rained.', 'en')); "
        "print('scipy.stats' in sys.modules); import scipy.stats; print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["['Dr. Smith came home.', 'It rained.']", "False", "True"]
