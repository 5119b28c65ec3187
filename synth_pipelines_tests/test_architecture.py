"""The package's import structure: no cycles, domains free of the Dagster wiring, core free of Dagster.

Imports are read from the source with ``ast``: top-level ones and those inside functions (a cycle
hidden in a function is still a cycle, only a later one), absolute and relative. Imports under
``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import itertools
import textwrap
from dataclasses import dataclass
from pathlib import Path

import synth_pipelines

PACKAGE_DIR = Path(synth_pipelines.__file__).resolve().parent


@dataclass(frozen=True)
class Import:
    importer: str  # module doing the import
    imported: str  # full dotted name as resolved (may be outside the package)
    line: int


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package rooted at ``package_dir``."""
    root = package_dir.name
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [root, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except the bodies of ``if TYPE_CHECKING:`` blocks (their ``else`` runs)."""
    nodes: list[ast.AST] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The imports in one module, each resolved to the deepest module it names.

    ``from pkg import name`` is an import of ``pkg.name`` when that is a module, else of ``pkg``.
    """
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                # The package a relative import starts from: the module itself if it is a package.
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append(Import(module, candidate if candidate in modules else base, node.lineno))
    return found


def _owning_module(name: str, modules: dict[str, Path]) -> str | None:
    """The deepest module of the package that ``name`` is or lies in (``a.b.c`` -> ``a.b`` if no ``a.b.c``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(package_dir: Path) -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
    """Module -> modules of the same package it imports, and the first line of each edge."""
    modules = module_files(package_dir)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    lines: dict[tuple[str, str], int] = {}
    for name, path in modules.items():
        for imp in imports_of(name, path, modules):
            target = _owning_module(imp.imported, modules)
            if target is not None and target != name:
                graph[name].add(target)
                lines.setdefault((name, target), imp.line)
    return graph, lines


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of size > 1, each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One shortest cycle through the component's first member: ``[a, b, ..., a]``."""
    start, members = component[0], set(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a strongly connected component always has one


def cycle_report(package_dir: Path) -> list[str]:
    """One line per import cycle: the modules with the line of each import, e.g. ``a:3 -> b:7 -> a``."""
    graph, lines = import_graph(package_dir)
    report = []
    for component in strongly_connected(graph):
        cycle = shortest_cycle(graph, component)
        steps = [f"{a} (line {lines[a, b]})" for a, b in itertools.pairwise(cycle)]
        knot = len(component) > len(cycle) - 1  # more modules tangled than this one cycle shows
        others = f"; all {len(component)} modules in the knot: {', '.join(component)}" if knot else ""
        report.append(" -> ".join([*steps, cycle[-1]]) + others)
    return report


def forbidden_imports(package_dir: Path, rules: dict[str, tuple[str, ...]]) -> list[str]:
    """``module:line imports name`` for every import of a forbidden prefix, by module prefix."""
    modules = module_files(package_dir)
    found = []
    for name, path in modules.items():
        for prefix, banned in rules.items():
            if not (name == prefix or name.startswith(prefix + ".")):
                continue
            for imp in imports_of(name, path, modules):
                if any(imp.imported == b or imp.imported.startswith(b + ".") for b in banned):
                    found.append(f"{name}:{imp.line} imports {imp.imported}")
    return sorted(set(found))


LAYER_RULES = {
    "synth_pipelines.domains": ("synth_pipelines.orchestration", "synth_pipelines.definitions"),
    "synth_pipelines.core": ("dagster",),
}


def test_the_package_has_no_import_cycles() -> None:
    cycles = cycle_report(PACKAGE_DIR)
    assert not cycles, "import cycles in synth_pipelines:\n  " + "\n  ".join(cycles)


def test_domains_do_not_import_the_dagster_wiring_and_core_does_not_import_dagster() -> None:
    found = forbidden_imports(PACKAGE_DIR, LAYER_RULES)
    assert not found, "imports across layers:\n  " + "\n  ".join(found)


# The walker itself, on small packages built for the test.


def make_package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / "pkg"


def test_the_walker_finds_cycles_through_function_level_relative_and_from_imports(tmp_path: Path) -> None:
    pkg = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "cli.py": "def main():\n    from pkg.sub import tool\n",  # from-import of a module, in a function
            "sub/__init__.py": "",
            "sub/tool.py": "from .. import cli\n",  # relative, two dots, names a module
            "a.py": "import pkg.b\n",
            "b.py": "from pkg.c import helper\n",  # a function of c: an import of c
            "c.py": "from . import a\n\ndef helper(): ...\n",
            "leaf.py": "import os\nfrom pkg import cli\n",
        },
    )
    graph, _ = import_graph(pkg)
    assert graph["pkg.cli"] == {"pkg.sub.tool"} and graph["pkg.sub.tool"] == {"pkg.cli"}
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.leaf"] == {"pkg.cli"}
    report = cycle_report(pkg)
    assert report == [
        "pkg.a (line 1) -> pkg.b (line 1) -> pkg.c (line 1) -> pkg.a",
        "pkg.cli (line 2) -> pkg.sub.tool (line 1) -> pkg.cli",
    ]


def test_the_walker_passes_an_acyclic_package_and_ignores_type_checking_imports(tmp_path: Path) -> None:
    pkg = make_package(
        tmp_path,
        {
            "__init__.py": "",
            "core.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.app import App\n",
            "app.py": "from pkg import core\nfrom .core import *\n",
            "domains/__init__.py": "from . import x\n",  # a package importing its own submodule
            "domains/x.py": "import dagster\nfrom pkg.core import thing\n",
        },
    )
    assert cycle_report(pkg) == []
    assert import_graph(pkg)[0]["pkg.domains"] == {"pkg.domains.x"}
    rules = {"pkg.domains": ("pkg.app",), "pkg.core": ("dagster",), "pkg.app": ("dagster",)}
    assert forbidden_imports(pkg, rules) == []
    (pkg / "core.py").write_text("import dagster as dg\n")
    (pkg / "domains" / "x.py").write_text("def f():\n    from pkg.app import main\n")
    assert forbidden_imports(pkg, rules) == ["pkg.core:1 imports dagster", "pkg.domains.x:2 imports pkg.app"]
