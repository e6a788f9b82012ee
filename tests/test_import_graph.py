"""No import circles between the project's modules (module-level imports, parsed with ``ast``).

An import inside a function runs when the function is called, after every module has loaded, so
only imports that run while a module loads are edges of the graph: module-level ones (including
those under ``try``/``if``/``with`` at module level, but not under ``if TYPE_CHECKING:``) and those
inside a function of the module that the module itself calls at load. A circle among them means a
module that can only be imported in one order, or a layering that points both ways.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("solver", "rl", "kernel_payload", "orchestrator")
#: circles that are known and scheduled for removal (each a frozenset of module names): none left
KNOWN_CIRCLES: set[frozenset[str]] = set()


def module_names(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``: dotted name -> file (packages as ``__init__``)."""
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _module_level(body: list[ast.stmt], functions: dict[str, ast.FunctionDef] | None = None):
    """Import statements executed when the module loads (descends into if/try/with, and into the
    body of a module function called by a module-level statement; not into other defs)."""
    functions = functions if functions is not None else {
        n.name: n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    for node in body:
        if isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            called = node.value.func
            if isinstance(called, ast.Name) and called.id in functions:
                yield from _module_level(functions.pop(called.id).body, functions)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if "TYPE_CHECKING" not in test:
                yield from _module_level(node.body, functions)
            yield from _module_level(node.orelse, functions)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _module_level(block, functions)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body, functions)


def import_edges(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the project modules it imports at module level."""
    modules = module_names(root, packages)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _module_level(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` where only a.b is ours
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_among_the_packages():
    found = set(circles(import_edges(ROOT, PACKAGES)))
    new = [sorted(c) for c in found - KNOWN_CIRCLES]
    assert not new, f"module-level import circles (move an import into the function that needs it, or move the shared code): {new}"


def test_every_folder_of_modules_is_a_regular_package():
    """setuptools' ``packages.find`` (pyproject.toml) installs only folders with an ``__init__.py``;
    a subpackage without one would be missing from an installed copy."""
    missing = sorted(str(folder.relative_to(ROOT)) for package in PACKAGES
                     for folder in [ROOT / package, *(ROOT / package).rglob("*")]
                     if folder.is_dir() and any(folder.glob("*.py")) and not (folder / "__init__.py").exists())
    assert not missing, f"add an __init__.py (with a docstring) to: {missing}"


def test_a_circle_is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("try:\n    from ..c import f\nexcept ImportError:\n    pass\n")
    (pkg / "c.py").write_text("import pkg.a\n\ndef f():\n    from pkg import d\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (pkg / "e.py").write_text("def register():\n    from pkg import f\n\nregister()\n")
    (pkg / "f.py").write_text("def command():\n    from pkg import e\n")
    graph = import_edges(tmp_path, ("pkg",))
    assert graph["pkg.sub.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"} and graph["pkg.d"] == set()
    assert graph["pkg.e"] == {"pkg.f"} and graph["pkg.f"] == set()
    assert circles(graph) == [frozenset({"pkg.a", "pkg.sub.b", "pkg.c"})]
    (pkg / "f.py").write_text("from pkg.e import register\n")
    assert frozenset({"pkg.e", "pkg.f"}) in circles(import_edges(tmp_path, ("pkg",)))
