"""The import layering of src/chefbot, enforced.

The pipeline reads bottom-up:

    foundations (config, errors, io, progress, recipe_format, chat, model, stops, cooking)
      < data < train < generate < evaluate | plan | serve | align < demo, config_cli < cli

A module may import from its own layer's package or from any lower layer, never from
a higher one.  Among the siblings of layer 4 only ``serve -> plan`` is allowed
(the server exposes the planner); ``evaluate`` and ``plan`` import neither sibling.
``chefbot/cli.py``, the entry point, registers every stage's commands and the demo's.
Every import counts: top-level, function-local and ``TYPE_CHECKING`` ones.  On top
of the layers, no two files may import each other, directly or round a longer cycle,
no module may import another module's private (``_name``) names, and a function-local
import of a chefbot module needs a ``lazy:`` comment naming the start-up cost it saves
(the only reason to hide an import inside a function).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "chefbot"

FOUNDATIONS = {"chefbot", "config", "errors", "io", "progress", "recipe_format", "chat", "model", "stops", "cooking"}
LAYERS = {
    **{f: 0 for f in FOUNDATIONS},
    "data": 1,
    "train": 2,
    "generate": 3,
    "kitchen": 3,
    "evaluate": 4,
    "plan": 4,
    "serve": 4,
    "align": 4,
    "config_cli": 5,
    "demo": 5,
    "cli": 6,
}
SIBLINGS_ALLOWED = {("serve", "plan")}


@dataclass(frozen=True)
class Edge:
    src: str  # importing module, dotted
    dst: str  # imported module, dotted (resolved to a module file of chefbot)
    names: tuple[str, ...]
    line: int
    local: bool  # inside a function
    comment: str  # source text of the import's lines and the line above

    def where(self) -> str:
        return f"{self.src.replace('.', '/')}.py:{self.line}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    """The chefbot module a dotted import name lands in (a package's __init__ counts)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def _collect(path: Path, mod: str, modules: dict[str, Path]) -> list[Edge]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text, filename=str(path))
    is_pkg = path.name == "__init__.py"
    edges: list[Edge] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                targets: list[tuple[str, tuple[str, ...]]] = []
                if isinstance(child, ast.Import):
                    targets = [(a.name, ()) for a in child.names]
                else:
                    base = child.module or ""
                    if child.level:
                        pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
                        pkg = pkg[: len(pkg) - (child.level - 1)]
                        base = ".".join(pkg + ([base] if base else []))
                    names = tuple(a.name for a in child.names)
                    # `from chefbot.x import y` may name a submodule y or an attribute y
                    subs = [n for n in names if f"{base}.{n}" in modules]
                    targets = [(f"{base}.{n}", ()) for n in subs]
                    attrs = tuple(n for n in names if n not in subs)
                    if attrs or not subs:
                        targets.append((base, attrs))
                for name, attrs in targets:
                    if not (name == "chefbot" or name.startswith("chefbot.")):
                        continue
                    dst = _resolve(name, modules)
                    if dst is None or dst == mod:
                        continue
                    lo = max(0, child.lineno - 2)
                    comment = "\n".join(lines[lo : child.end_lineno or child.lineno])
                    edges.append(Edge(mod, dst, attrs, child.lineno, local, comment))
            visit(child, inner)

    visit(tree, False)
    return edges


def all_edges() -> list[Edge]:
    modules = all_modules()
    out: list[Edge] = []
    for mod, path in modules.items():
        out += _collect(path, mod, modules)
    return out


def layer_key(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "chefbot"


def layer_of(mod: str) -> int:
    key = layer_key(mod)
    if key not in LAYERS:
        raise AssertionError(f"{mod}: not placed in a layer; add {key!r} to LAYERS in tests/test_layering.py")
    return LAYERS[key]


EDGES = all_edges()


def test_every_module_is_placed_in_a_layer() -> None:
    for mod in all_modules():
        layer_of(mod)


def test_no_import_from_a_higher_layer() -> None:
    bad = []
    for e in EDGES:
        a, b = layer_key(e.src), layer_key(e.dst)
        la, lb = layer_of(e.src), layer_of(e.dst)
        if b == "chefbot" and e.dst == "chefbot":
            continue  # the package itself (__version__)
        if lb > la or (lb == la and la > 0 and a != b and (a, b) not in SIBLINGS_ALLOWED):
            bad.append(f"{e.where()}: {e.src} (layer {la}) imports {e.dst} (layer {lb})")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def find_cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative enough for ~100 nodes)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.src, set()).add(e.dst)
        graph.setdefault(e.dst, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return comps


def test_no_import_cycles_between_files() -> None:
    # A package's __init__ re-exporting its own modules is not a cycle between files.
    edges = [e for e in EDGES if not (e.dst == e.src.rpartition(".")[0] or e.src == e.dst.rpartition(".")[0])]
    cycles = find_cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_finds_a_cycle() -> None:
    e = [
        Edge("a", "b", (), 1, False, ""),
        Edge("b", "c", (), 1, False, ""),
        Edge("c", "a", (), 1, False, ""),
        Edge("c", "d", (), 1, False, ""),
    ]
    assert find_cycles(e) == [["a", "b", "c"]]


def test_no_private_names_imported_across_modules() -> None:
    bad = [
        f"{e.where()}: {e.src} imports {n} from {e.dst}"
        for e in EDGES
        for n in e.names
        if n.startswith("_") and not n.startswith("__")
    ]
    assert not bad, "private names imported from another module (make them public where they live):\n" + "\n".join(bad)


def test_function_local_imports_say_why() -> None:
    bad = [
        f"{e.where()}: {e.src} imports {e.dst} inside a function" for e in EDGES if e.local and "lazy:" not in e.comment
    ]
    assert not bad, (
        "function-local imports of chefbot modules without a `# lazy: <measured start-up cost>` comment "
        "(move them to the top of the file):\n" + "\n".join(bad)
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from chefbot.data import tokenize\n", [("chefbot.data.tokenize", ())]),
        ("from chefbot.data.tokenize import IGNORE_INDEX\n", [("chefbot.data.tokenize", ("IGNORE_INDEX",))]),
        ("def f():\n    from chefbot.train.loop import train  # lazy: torch\n", [("chefbot.train.loop", ("train",))]),
        ("from . import tokenize\n", [("chefbot.data.tokenize", ())]),
    ],
)
def test_import_collector_resolves(tmp_path: Path, source: str, expected: list) -> None:
    modules = all_modules()
    p = tmp_path / "x.py"
    p.write_text(source)
    edges = _collect(p, "chefbot.data.x", modules)
    assert [(e.dst, e.names) for e in edges] == expected
