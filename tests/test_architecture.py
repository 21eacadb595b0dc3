"""The house rules of the package, read from its source: no import cycles, no function hiding a module, no
logging set up on import, rooms small enough to read in one sitting."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import shortskit

PACKAGE = Path(shortskit.__file__).parent
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> set[str]:
    """Every shortskit module ``module`` imports, at the top or inside a function (not for type checking)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for a in node.names:  # `from shortskit import ffmpeg` imports the module shortskit.ffmpeg
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in MODULES and m != module}


def test_no_import_cycles() -> None:
    graph = {m: _imports(p, m) for m, p in MODULES.items()}
    # a package imports its own submodules to re-export them; a submodule importing its package is fine
    for m, deps in graph.items():
        graph[m] = {d for d in deps if not d.startswith(m + ".") and not m.startswith(d + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycle = [*stack[stack.index(d) :], d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if d not in state:
                walk(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)


def test_the_cycle_check_sees_cycles(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("from shortskit import stages\n\ndef f():\n    from shortskit.pipeline import render\n")
    assert _imports(a, "shortskit.x") == {"shortskit.stages", "shortskit.pipeline"}


@pytest.mark.parametrize("module", sorted(set(MODULES) - {"shortskit.__main__"}))
def test_every_module_file_is_a_module_attribute(module: str) -> None:
    """``shortskit.<name>`` for a file is that module: no function of the public face hides it."""
    import importlib

    if module.startswith("shortskit.widgets"):
        pytest.importorskip("ipywidgets")
    if module == "shortskit.batch.warm":
        pytest.importorskip("papermill")
    mod = importlib.import_module(module)
    parent, _, name = module.rpartition(".")
    if parent:
        assert getattr(importlib.import_module(parent), name) is mod


@pytest.mark.parametrize("module", sorted(MODULES))
def test_rooms_are_small(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: is it two rooms in one?"


def test_importing_sets_up_no_logging() -> None:
    code = (
        "import logging, shortskit, shortskit.cli, shortskit.stages, shortskit.engines.ffmpeg\n"
        "assert not logging.getLogger().handlers, logging.getLogger().handlers\n"
        "assert logging.getLogger().level == logging.WARNING\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"SHORTSKIT_DEBUG": "1"})
    assert proc.returncode == 0, proc.stderr
