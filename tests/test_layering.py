"""DESIGN.md's layering, checked: every module imports alone; no import (at the top, inside a
function, under `if TYPE_CHECKING:` or `if False:`) goes up a layer or closes a circle between
units; `state`, `records` and `markdown` do no I/O; each third-party package stays in its one
place. Table-driven: a unit DESIGN names that does not exist yet is simply absent; a module in
no row of the table fails until it is given one."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "loopkit"

# DESIGN.md "Layering", top to bottom; a unit is a top-level module or package of loopkit. Within
# a layer a unit may import another, as long as no circle closes. The last row's small helpers
# (names, globs, scope, signed, timefmt, trust) are the ones DESIGN's tree does not name.
LAYERS: list[set[str]] = [
    {"__main__", "cli", "mcp_server"},
    {"commands"},
    {"services"},
    {"txn", "state", "index", "probe", "records", "workspace", "gitrepo", "render", "config"},
    {
        "markdown",
        "model",
        "documents",
        "errors",
        "redact",
        "names",
        "globs",
        "scope",
        "signed",
        "timefmt",
        "trust",
    },
    {""},  # loopkit/__init__.py: the version
]
LAYER_OF = {unit: depth for depth, units in enumerate(LAYERS) for unit in units}

# units that do no I/O: they import nothing that reads or writes (type-only imports aside) and
# never call open(); they import only each other and the last two layers
PURE = {"state", "records", "markdown"}
IO_MODULES = {"os", "io", "subprocess", "shutil", "socket", "tempfile", "mmap", "fcntl", "glob", "sqlite3"}
IO_NAMES = {("pathlib", "Path")}

# each third-party package, and the only units that may import it
CONFINED = {
    "typer": {"cli"},
    "mcp": {"mcp_server"},
    "markdown_it": {"markdown"},
    "git": {"gitrepo"},
    "jinja2": {"render"},
}


@cache
def modules() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def source_of(module: str) -> Path:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


class Import:
    """One import: the module, the name taken from it (`from target import name`, when that is
    not a module itself), its line, and whether it is only for type checking."""

    def __init__(self, target: str, name: str, line: int, typing_only: bool) -> None:
        self.target, self.name, self.line, self.typing_only = target, name, line, typing_only


def _typing_only(test: ast.expr) -> bool:
    if isinstance(test, ast.Constant):
        return test.value is False
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


@cache
def imports(module: str) -> tuple[Import, ...]:
    path = source_of(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return tuple(imports_in(path.read_text("utf-8"), package))


def imports_in(text: str, package: str) -> Iterator[Import]:
    """Every import in the text, wherever it is, relative ones resolved against `package`;
    `from loopkit import x` names loopkit.x when that is a module."""
    known = set(modules())

    def walk(node: ast.AST, typing_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _typing_only(child.test):
                yield from walk(child, True)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, "", child.lineno, typing_only)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*up, base] if base else up)
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    if full in known:
                        yield Import(full, "", child.lineno, typing_only)
                    else:
                        yield Import(base, alias.name, child.lineno, typing_only)
            yield from walk(child, typing_only)

    yield from walk(ast.parse(text), False)


def loopkit_imports(module: str) -> Iterator[Import]:
    for found in imports(module):
        if found.target == "loopkit" or found.target.startswith("loopkit."):
            yield found


def test_every_module_is_in_a_layer() -> None:
    missing = sorted({unit_of(m) for m in modules()} - set(LAYER_OF))
    assert not missing, f"give these units a row of LAYERS (DESIGN.md's layering): {missing}"


def test_no_import_goes_up_a_layer() -> None:
    upward = []
    for module in modules():
        here = unit_of(module)
        for found in loopkit_imports(module):
            there = unit_of(found.target)
            if there != here and LAYER_OF.get(there, -1) < LAYER_OF[here]:
                upward.append(
                    f"{source_of(module).relative_to(PACKAGE.parent)}:{found.line} imports {found.target}"
                )
    assert not upward, "imports up a layer:\n" + "\n".join(upward)


def _circle(edges: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph, as the path round it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_circle_between_units() -> None:
    edges: dict[str, set[str]] = {}
    for module in modules():
        for found in loopkit_imports(module):
            if unit_of(found.target) != unit_of(module):
                edges.setdefault(unit_of(module), set()).add(unit_of(found.target))
    circle = _circle(edges)
    assert circle is None, "units import each other in a circle: " + " -> ".join(circle or ())


def test_pure_units_do_no_io() -> None:
    found_io = []
    for module in modules():
        here = unit_of(module)
        if here not in PURE:
            continue
        where = source_of(module).relative_to(PACKAGE.parent)
        for found in imports(module):
            top = found.target
            target = unit_of(top) if top == "loopkit" or top.startswith("loopkit.") else None
            if target is not None and target != here and target not in PURE and LAYER_OF.get(target, 0) < 4:
                found_io.append(f"{where}:{found.line} imports {found.target} (not a pure unit)")
            if found.typing_only:
                continue
            if top.split(".")[0] in IO_MODULES or (top, found.name) in IO_NAMES:
                found_io.append(f"{where}:{found.line} imports {found.target}")
        for node in ast.walk(ast.parse(source_of(module).read_text("utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
                found_io.append(f"{where}:{node.lineno} calls open()")
    assert not found_io, "state, records and markdown do no I/O:\n" + "\n".join(found_io)


def test_third_party_packages_stay_in_their_place() -> None:
    strays = []
    for module in modules():
        for found in imports(module):
            top = found.target.split(".")[0]
            allowed = CONFINED.get(top)
            if allowed is not None and unit_of(module) not in allowed:
                where = source_of(module).relative_to(PACKAGE.parent)
                strays.append(f"{where}:{found.line} imports {top} (only {', '.join(sorted(allowed))})")
    assert not strays, "\n".join(strays)


def test_the_checks_see_what_they_look_for() -> None:
    """The parser finds imports inside functions and type-only blocks, relative ones resolved."""
    text = (
        "import typing\nfrom loopkit import txn, errors\nif typing.TYPE_CHECKING:\n    from .context import Context\n"
        "if False:\n    import git\ndef f():\n    from ..gitrepo import Repo\n    import os\n"
    )
    found = {(i.target, i.name, i.typing_only) for i in imports_in(text, "loopkit.services")}
    assert found == {
        ("typing", "", False),
        ("loopkit.txn", "", False),
        ("loopkit.errors", "", False),
        ("loopkit.services.context", "Context", True),
        ("git", "", True),
        ("loopkit.gitrepo", "Repo", False),
        ("os", "", False),
    }
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


_ALONE = """
import importlib, json, sys
failed = {}
before = set(sys.modules)
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
    for loaded in set(sys.modules) - before:
        if loaded == "loopkit" or loaded.startswith("loopkit."):
            del sys.modules[loaded]
print(json.dumps(failed))
"""


def test_every_module_imports_alone() -> None:
    """Each module imported first, in a process where no other loopkit module is loaded: an
    import circle or an import that leans on another module being loaded first fails here."""
    names = [m for m in modules() if m != "loopkit.__main__"]
    done = subprocess.run(
        [sys.executable, "-c", _ALONE, json.dumps(names)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}


RUFF = Path(sys.executable).parent / "ruff"


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is not installed beside this Python (the dev extra)")
@pytest.mark.parametrize("package", sorted(CONFINED))
def test_ruff_bans_each_confined_package_outside_its_place(package: str) -> None:
    """pyproject's TID251 says so in an editor, before this test: an import of the package is
    refused in a service and allowed in its own place."""

    def codes(filename: str) -> set[str]:
        done = subprocess.run(
            [
                str(RUFF),
                "check",
                "--select",
                "TID251",
                "--output-format",
                "json",
                "--stdin-filename",
                filename,
                "-",
            ],
            input=f"import {package}\n",
            capture_output=True,
            text=True,
            cwd=PACKAGE.parent,
            timeout=60,
        )
        return {finding["code"] for finding in json.loads(done.stdout)}

    place = {
        "cli": "loopkit/cli/x.py",
        "mcp_server": "loopkit/mcp_server.py",
        "markdown": "loopkit/markdown/x.py",
    }
    home = next(iter(CONFINED[package]))
    assert codes("loopkit/services/x.py") == {"TID251"}
    assert (
        codes(place.get(home, f"loopkit/{home}/x.py" if home == "gitrepo" else f"loopkit/{home}.py")) == set()
    )
