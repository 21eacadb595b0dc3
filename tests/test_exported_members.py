"""The public face: every name in ``shortskit.__all__`` exists once, and nothing public is left out."""

from __future__ import annotations

import shortskit


def test_all_is_complete() -> None:
    names = shortskit.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(shortskit, name), name
    public = {n for n in dir(shortskit) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(shortskit, n)).__name__ == "module"}
    assert public - modules - {"annotations"} <= set(names)
