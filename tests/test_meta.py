"""Keep the shape honest: pages draw, data_access knows."""

import ast
import importlib
import pkgutil
from pathlib import Path

import data_access

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_page_touches_sqlalchemy():
    for path in list((ROOT / "pages").rglob("*.py")) + [ROOT / "dashboard.py"]:
        assert "sqlalchemy" not in _imports(path), path


def test_only_the_cache_module_knows_streamlit():
    knowing = [p.name for p in (ROOT / "data_access").glob("*.py") if "streamlit" in _imports(p)]
    assert knowing == ["cache.py"]


def test_public_functions_have_docstrings():
    missing = []
    for mod in pkgutil.iter_modules(data_access.__path__):
        if mod.name in {"__main__", "cache"}:
            continue
        module = importlib.import_module(f"data_access.{mod.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if callable(obj) and not name.startswith("register_cli") and not (obj.__doc__ or "").strip():
                missing.append(f"{mod.name}.{name}")
    assert not missing, missing
