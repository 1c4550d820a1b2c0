"""Keep the shape honest: pages draw, data_access knows."""

import ast
import importlib
import pkgutil
from pathlib import Path

import data_access

ROOT = Path(__file__).resolve().parents[2]


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
    knowing = [
        str(p.relative_to(ROOT)) for p in sorted((ROOT / "data_access").rglob("*.py")) if "streamlit" in _imports(p)
    ]
    assert knowing == ["data_access/cache.py"]


def test_public_functions_have_docstrings():
    missing = []
    for mod in pkgutil.walk_packages(data_access.__path__, "data_access."):
        if mod.name.rsplit(".", 1)[-1] in {"__main__", "cache"} or ".migrations" in mod.name:
            continue
        module = importlib.import_module(mod.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if callable(obj) and not (obj.__doc__ or "").strip():
                missing.append(f"{mod.name}.{name}")
    assert not missing, missing


def test_the_default_store_and_key_live_in_the_projects_data_folder(monkeypatch):
    """Moving config.py deeper must not move the default store (and the personal-data key beside
    it) into the package: it stays in ./data of the project, as the README says."""
    from data_access.store import config

    monkeypatch.delenv(config.ENV_DATA_DIR, raising=False)
    monkeypatch.delenv(config.ENV_URL, raising=False)
    assert config.PROJECT_ROOT == ROOT
    assert config.database_url() == f"sqlite:///{ROOT / 'data' / 'bangfu.db'}"
