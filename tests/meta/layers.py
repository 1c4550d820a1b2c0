"""The import graph of ``data_access`` and ``pages``, read from the source (no import is executed),
and the rules the layers keep: arrows point down, no cycles, no unexplained function-local import,
pages reach data only through the cache adapter."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# A layer imports only from layers with a rank not above its own (same rank: no cycle allowed).
LAYERS = {
    "store": 0,
    "reference": 1,
    "query": 2,
    "engines": 3,
    "trust": 4,
    "figures": 5,
    "desks": 6,
    "packs": 6,
    "tools": 7,
    "cache": 8,
    "cli": 9,
    "__main__": 10,
}
PURE_LAYERS = ("engines",)  # no writes: they never open a transaction (engine.begin)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    local: bool  # inside a function
    explained: bool  # a comment on the line or the line before says why


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root`` (``data_access``), migrations excluded."""
    return {module_name(root, p): p for p in sorted(root.rglob("*.py")) if "migrations" not in p.parts}


def _resolve(target: str, names: list[str], known: set[str]) -> list[str]:
    out = []
    for n in names:
        sub = f"{target}.{n}"
        out.append(sub if sub in known else target)
    return out or [target]


def _explained(lines: list[str], row: int) -> bool:
    """A comment on the import's line, or just above the run of imports it belongs to."""
    if "#" in lines[row - 1]:
        return True
    i = row - 2
    while (
        i >= 0
        and lines[i].strip().startswith(("import ", "from ", ")"))
        or (i >= 0 and lines[i].startswith(" " * 8) and lines[i].strip().endswith(","))
    ):
        i -= 1
    return i >= 0 and lines[i].strip().startswith("#")


def edges(root: Path, prefix: str = "data_access") -> list[Edge]:
    """Imports of ``prefix`` modules by modules under ``root`` (a package or the pages folder)."""
    known = set(modules(Path(root).parent / prefix)) if Path(root).name != prefix else set(modules(root))
    found = []
    for path in sorted(Path(root).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = module_name(Path(root), path)
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        local_nodes = {
            id(n)
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            for n in ast.walk(f)
            if isinstance(n, ast.Import | ast.ImportFrom)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = _resolve(node.module, [a.name for a in node.names], known)
            else:
                continue
            row = node.lineno
            explained = _explained(lines, row)
            for target in targets:
                if target == prefix or target.startswith(prefix + "."):
                    found.append(Edge(source, target, row, id(node) in local_nodes, explained))
                elif id(node) in local_nodes:
                    found.append(Edge(source, target, row, True, explained))
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "data_access" else None


def upward(all_edges: list[Edge]) -> list[str]:
    """Imports that go up a layer (a lower layer importing a higher one)."""
    bad = []
    for e in all_edges:
        src, dst = layer_of(e.source), layer_of(e.target)
        if src in LAYERS and dst in LAYERS and LAYERS[dst] > LAYERS[src]:
            bad.append(f"{e.source}:{e.line} imports {e.target} ({src} → {dst}, up a layer)")
    return bad


def cycles(all_edges: list[Edge]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    graph: dict[str, set[str]] = {}
    for e in all_edges:
        if e.target.startswith("data_access") and e.source != e.target:
            graph.setdefault(e.source, set()).add(e.target)
            graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def unexplained_local_imports(all_edges: list[Edge]) -> list[str]:
    """Function-local imports with no comment saying why."""
    return [
        f"{e.source}:{e.line} imports {e.target} inside a function" for e in all_edges if e.local and not e.explained
    ]


def layer_violations(root: Path) -> list[str]:
    """Everything the layer rules refuse in the package at ``root``: upward imports, cycles, unexplained
    function-local imports."""
    found = edges(root)
    return upward(found) + [" ↔ ".join(c) + " form a cycle" for c in cycles(found)] + unexplained_local_imports(found)
