"""Every module of the library is imported by at least one test file.

A module no test imports can break without any test noticing. The scan reads the test
files' import statements (``import enrichment.x``, ``from enrichment.x import y``,
``from enrichment import x``), also those inside functions; packages' ``__init__``
modules count as imported with any of their modules, and a name a package re-exports
(``from enrichment.config import ConfigError``) counts for the module that defines it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import ROOT

pytestmark = pytest.mark.unit

LIBRARY = ROOT / "include"
PACKAGE = "enrichment"


def library_modules() -> set[str]:
    """Dotted names of the library's modules (``__init__`` files as their package)."""
    names = set()
    for path in (LIBRARY / PACKAGE).rglob("*.py"):
        parts = path.relative_to(LIBRARY).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join(parts))
    return names


def _imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")}


def _reexports(modules: set[str], root: Path) -> dict[str, str]:
    """``{"package.name": "package.module"}`` for names package ``__init__`` files import."""
    out = {}
    for package in modules:
        init = root.joinpath(*package.split("."), "__init__.py")
        if not init.is_file():
            continue
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in modules and node.level == 0:
                out.update({f"{package}.{a.asname or a.name}": node.module for a in node.names})
    return out


def imported_by_tests(tests_dir: Path, modules: set[str], root: Path = LIBRARY) -> set[str]:
    """The modules in ``modules`` that some ``test_*.py`` under ``tests_dir`` imports."""
    reexports = _reexports(modules, root)
    found = set()
    for path in tests_dir.rglob("test_*.py"):
        for name in _imported_names(ast.parse(path.read_text(encoding="utf-8"))):
            name = reexports.get(name, name)
            while name and name not in modules:  # ``from m import function`` -> m
                name = name.rpartition(".")[0]
            while name:  # importing a module imports its packages
                found.add(name)
                name = name.rpartition(".")[0]
    return found


def test_the_scan_finds_direct_from_function_level_and_reexported_imports(tmp_path):
    modules = {"enrichment", "enrichment.a", "enrichment.a.b", "enrichment.c", "enrichment.d",
               "enrichment.e", "enrichment.e.errors"}  # fmt: skip
    package = tmp_path / "lib" / "enrichment" / "e"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from enrichment.e.errors import Oops\n")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_x.py").write_text(
        "from enrichment.a.b import thing\n"
        "from enrichment.e import Oops\n"
        "def test():\n    from enrichment import c\n"
    )
    (tests / "helper.py").write_text("import enrichment.d\n")  # not a test file
    assert imported_by_tests(tests, modules, tmp_path / "lib") == {
        "enrichment",
        "enrichment.a",
        "enrichment.a.b",
        "enrichment.c",
        "enrichment.e",
        "enrichment.e.errors",
    }


def test_every_library_module_is_imported_by_a_test():
    modules = library_modules()
    assert len(modules) > 50
    untested = sorted(modules - imported_by_tests(ROOT / "tests", modules))
    assert not untested, f"modules no test imports (add tests under tests/unit/): {untested}"
