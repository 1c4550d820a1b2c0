"""The layers of data_access stay visible: arrows point down, no cycles, function-local imports only
with a reason, pages reach data only through the cache adapter, and every write takes a principal."""

from __future__ import annotations

import ast
import importlib
import inspect
import shutil
from pathlib import Path

import pytest

from tests.meta.layers import LAYERS, cycles, edges, layer_violations, upward

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "data_access"


def test_no_cycles_no_upward_imports_no_unexplained_local_imports():
    assert layer_violations(PACKAGE) == []


def test_every_module_lives_in_a_layer():
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if "migrations" in rel.parts or rel.name == "__init__.py" and len(rel.parts) == 1:
            continue
        head = rel.parts[0].removesuffix(".py")
        assert head in LAYERS, f"{rel}: not in a layer folder ({', '.join(LAYERS)})"


@pytest.mark.parametrize(
    "plant, expect",
    [
        # The store's config importing a figure: an upward import, and a cycle through the engine factory.
        ("store/config.py", "upward"),
        # Two figures importing each other: a cycle inside one layer.
        ("figures/catalogue.py", "cycle"),
        # An import inside a function with no comment saying why.
        ("query/text.py", "local"),
    ],
)
def test_the_checker_catches_what_it_forbids(tmp_path, plant, expect):
    copy = tmp_path / "data_access"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / plant
    if expect == "upward":
        target.write_text(target.read_text() + "\nfrom data_access.figures.overview import data_as_of  # noqa\n")
        found = upward(edges(copy))
        assert any("data_access.store.config" in v and "up a layer" in v for v in found), found
    elif expect == "cycle":
        target.write_text(target.read_text() + "\nfrom data_access.figures import overview  # noqa\n")
        other = copy / "figures" / "overview.py"
        other.write_text(other.read_text() + "\nfrom data_access.figures import catalogue  # noqa\n")
        assert any(
            {"data_access.figures.catalogue", "data_access.figures.overview"} <= set(c) for c in cycles(edges(copy))
        )
    else:
        target.write_text(
            target.read_text() + "\n\ndef _planted():\n    from data_access.query import filters\n    return filters\n"
        )
        assert any("inside a function" in v for v in layer_violations(copy))
    assert layer_violations(copy), "the planted import must be refused"


def _engine_functions(module) -> set[str]:
    out = set()
    for name, obj in vars(module).items():
        if inspect.isfunction(obj) and obj.__module__.startswith("data_access"):
            params = list(inspect.signature(obj).parameters)
            if params and params[0] == "engine":
                out.add(name)
    return out


def _direct_calls(path: Path) -> list[str]:
    """Calls of data_access functions that take an engine, made straight from a page (not through
    ``cache.query`` / ``cache.run`` / ``cache.act``, which receive the function as an argument)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions: set[str] = set()
    modules: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("data_access"):
            for alias in node.names:
                local = alias.asname or alias.name
                try:
                    sub = importlib.import_module(f"{node.module}.{alias.name}")
                    modules[local] = _engine_functions(sub)
                except ModuleNotFoundError:
                    parent = importlib.import_module(node.module)
                    if alias.name in _engine_functions(parent):
                        functions.add(local)
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in functions:
            bad.append(f"{path.name}:{node.lineno} calls {f.id}")
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.attr in modules.get(f.value.id, ()):
            bad.append(f"{path.name}:{node.lineno} calls {f.value.id}.{f.attr}")
    return bad


def test_pages_reach_data_only_through_the_cache_adapter():
    bad = []
    for path in sorted((ROOT / "pages").rglob("*.py")) + [ROOT / "dashboard.py"]:
        bad += _direct_calls(path)
    assert bad == []


def test_pages_import_no_store_internals():
    found = [
        e
        for e in edges(ROOT / "pages")
        if e.target.startswith("data_access.store") and e.target != "data_access.store.config"
    ]
    assert found == [], [f"{e.source}:{e.line} imports {e.target}" for e in found]


# Functions that open a transaction without a principal, and why.
UNCHECKED_WRITES = {
    "data_access.trust.auth.authenticate": "signing in is how a principal comes to be; it writes the sign-in audit row",
    "data_access.trust.second_factor.verify_sign_in": "the second step of signing in (the TOTP code)",
    "data_access.trust.sessions.check": "keeps a signed-in session alive or ends it (idle, lifetime); audited",
    "data_access.trust.auth.change_own_password": "the user proves who they are with the old password",
    "data_access.trust.setup.issue_token": "an empty configured store's one-time token, printed to the server log",
    "data_access.trust.setup.create_first_admin": "the one-time token from the server log is the authority",
}
# Layers whose writes are tooling run by the operator (schema, reference data, the demo generator, bench).
TOOLING = ("data_access.store", "data_access.reference", "data_access.tools", "data_access.cli")


def _writers():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and ".begin(" in ast.unparse(node):
                yield module, node


def test_engines_and_figures_never_write():
    writers = [
        f"{m}.{n.name}"
        for m, n in _writers()
        if m.startswith(("data_access.engines", "data_access.figures", "data_access.query", "data_access.packs"))
    ]
    assert writers == []


def test_every_write_takes_a_principal():
    missing = []
    for module, node in _writers():
        name = f"{module}.{node.name}"
        if module.startswith(TOOLING) or name in UNCHECKED_WRITES or node.name.startswith("_"):
            continue
        params = [a.arg for a in node.args.args + node.args.kwonlyargs]
        if "principal" not in params:
            missing.append(name)
    assert missing == []
