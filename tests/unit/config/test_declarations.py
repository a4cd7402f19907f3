"""Every variable declared once and documented; only the config package reads the environment."""

from __future__ import annotations

import ast
import re

import pytest

from enrichment.config import docs
from tests.paths import ROOT

pytestmark = pytest.mark.unit

PACKAGE = ROOT / "include" / "enrichment"
CONFIG = PACKAGE / "config"
# writes that set the environment of this process's children (e.g. the embedded PostgreSQL)
WRITES = {"setdefault", "update", "pop", "__setitem__", "__delitem__"}


def test_every_variable_is_declared_once_with_a_description():
    sections = docs.sections()
    names = docs.names()
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    for _, _, rows in sections:
        for row in rows:
            assert row.doc.strip(), f"{row.name} has no description"
            assert row.kind, f"{row.name} has no type"
    assert len(names) > 100


def test_docs_configuration_md_is_generated_from_the_declarations():
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == docs.markdown(), f"docs/configuration.md is out of date: run `{docs.COMMAND}`"


def test_every_variable_named_in_the_code_is_declared():
    declared = set(docs.names())
    for path in PACKAGE.rglob("*.py"):
        for name in set(re.findall(r"ENRICHMENT_[A-Z0-9_]*[A-Z0-9]", path.read_text())):
            # prefixes in messages and loops (ENRICHMENT_K8S_, ENRICHMENT_PINECONE_IMAGE...)
            known = name in declared or any(d.startswith(name + "_") for d in declared)
            assert known, f"{path.relative_to(ROOT)}: {name} is not declared in enrichment.config"


def _environment_reads(tree: ast.AST) -> list[int]:
    """Lines that read ``os.environ`` / ``os.getenv`` (writes for child processes allowed)."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            lines += [
                node.lineno for a in node.names if a.name in ("environ", "getenv", "environb")
            ]
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            continue
        if node.value.id != "os" or node.attr not in ("environ", "getenv", "environb"):
            continue
        parent = parents.get(node)
        if node.attr == "environ" and isinstance(parent, ast.Attribute) and parent.attr in WRITES:
            continue
        if (
            node.attr == "environ"
            and isinstance(parent, ast.Subscript)
            and isinstance(parent.ctx, ast.Store | ast.Del)
        ):
            continue
        lines.append(node.lineno)
    return lines


def test_only_the_config_package_reads_the_environment():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if CONFIG in path.parents:
            continue
        lines = _environment_reads(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in lines]
    assert not offenders, "read settings through enrichment.config: " + ", ".join(offenders)


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("import os\nx = os.environ.get('A')", 1),
        ("import os\nx = os.environ['A']", 1),
        ("import os\nx = dict(os.environ)", 1),
        ("import os\nx = os.getenv('A')", 1),
        ("from os import environ", 1),
        ("import os\nos.environ['A'] = '1'\nos.environ.setdefault('B', '2')", 0),
        ("import os\ndel os.environ['A']", 0),
    ],
)
def test_the_environment_check_tells_reads_from_writes(source, reads):
    assert len(_environment_reads(ast.parse(source))) == reads
