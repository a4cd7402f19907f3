"""Every module of the library is imported by at least one test file.

A module no test imports can break without any test noticing. The scan reads the test
files' import statements (``import enrichment.x``, ``from enrichment.x import y``,
``from enrichment import x``), also those inside functions; packages' ``__init__``
modules count as imported with any of their modules.
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


def imported_by_tests(tests_dir: Path, modules: set[str]) -> set[str]:
    """The modules in ``modules`` that some ``test_*.py`` under ``tests_dir`` imports."""
    found = set()
    for path in tests_dir.rglob("test_*.py"):
        for name in _imported_names(ast.parse(path.read_text(encoding="utf-8"))):
            while name and name not in modules:  # ``from m import function`` -> m
                name = name.rpartition(".")[0]
            while name:  # importing a module imports its packages
                found.add(name)
                name = name.rpartition(".")[0]
    return found


def test_the_scan_finds_direct_from_and_function_level_imports(tmp_path):
    modules = {"enrichment", "enrichment.a", "enrichment.a.b", "enrichment.c", "enrichment.d"}
    (tmp_path / "test_x.py").write_text(
        "from enrichment.a.b import thing\ndef test():\n    from enrichment import c\n"
    )
    (tmp_path / "helper.py").write_text("import enrichment.d\n")  # not a test file
    assert imported_by_tests(tmp_path, modules) == {
        "enrichment",
        "enrichment.a",
        "enrichment.a.b",
        "enrichment.c",
    }


def test_every_library_module_is_imported_by_a_test():
    modules = library_modules()
    assert len(modules) > 50
    untested = sorted(modules - imported_by_tests(ROOT / "tests", modules))
    assert not untested, f"modules no test imports (add tests under tests/unit/): {untested}"
