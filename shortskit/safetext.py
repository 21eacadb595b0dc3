"""Story strings made safe to show: control characters out before a terminal, a log or a notebook prints them.

A story is untrusted, and its title, text and the errors that quote it reach terminals, where an escape sequence
can rewrite the screen, and notebooks, which show them as plain text (never as Markdown or HTML).
"""

from __future__ import annotations

import re

__all__ = ["FONT_FAMILY", "font_name", "plain_text"]

# C0 and C1 controls and DEL (escape sequences, carriage returns, bells), and the bidirectional overrides and
# isolates that reorder what a line shows (U+202A-U+202E, U+2066-U+2069)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain_text(text: object) -> str:
    """``text`` as one printable line: each control character becomes a space (tabs and line breaks too)."""
    return _CONTROL.sub(" ", str(text))


# A font family name goes into the ASS file's Style line (comma-separated, one line): letters and digits of any
# script, spaces and a few marks; never a comma, a line break, a brace or a backslash.
FONT_FAMILY = re.compile(r"\w[\w .'&()+-]{0,63}")


def font_name(name: str) -> str:
    """``name`` when it is a font family name (see :data:`FONT_FAMILY`); else ValueError."""
    if not FONT_FAMILY.fullmatch(name):
        raise ValueError("must be a font family name: up to 64 letters, digits, spaces and . ' & ( ) + -")
    return name
