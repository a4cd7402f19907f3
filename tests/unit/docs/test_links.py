"""The README and docs/ pages: every relative link resolves, the README stays short."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.paths import ROOT

pytestmark = pytest.mark.unit

README_MAX_LINES = 250
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files(root: Path) -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def _prose_lines(text: str):
    """``(line number, line)`` of the lines outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield number, line


def links(text: str) -> list[tuple[int, str]]:
    """``(line, target)`` of every inline link, image and reference definition."""
    found = []
    for number, line in _prose_lines(text):
        line = CODE_SPAN.sub("code", line)  # a link inside a code span is not a link
        found += [(number, m.group(1)) for m in INLINE_LINK.finditer(line)]
        found += [(number, m.group(1)) for m in REFERENCE_DEF.finditer(line)]
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Anchors of a page's headings (repeated headings get ``-1``, ``-2``...)."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in _prose_lines(text):
        match = HEADING.match(CODE_SPAN.sub(r"\2", line))
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def _has_anchor(page: Path, fragment: str) -> bool:
    return unquote(fragment).lower() in anchors(page.read_text(encoding="utf-8"))


def broken_links(page: Path, root: Path) -> list[str]:
    """Relative links of ``page`` whose file (or heading anchor) does not exist."""
    text = page.read_text(encoding="utf-8")
    problems = []
    for number, target in links(text):
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue  # external links are not checked here
        path_part, _, fragment = target.partition("#")
        path_part = unquote(path_part.split("?", 1)[0])
        where = f"{page.relative_to(root)}:{number}: {target}"
        resolved = (page.parent / path_part).resolve() if path_part else page
        if path_part.startswith("/") or not resolved.is_relative_to(root.resolve()):
            problems.append(f"{where} (points outside the repository)")
        elif not resolved.exists():
            problems.append(f"{where} (no such file)")
        elif fragment and resolved.suffix == ".md" and not _has_anchor(resolved, fragment):
            problems.append(f"{where} (no heading with that anchor)")
    return problems


@pytest.mark.parametrize("page", markdown_files(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page, ROOT) == []


def test_the_checker_reports_missing_files_anchors_and_escapes(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Second part\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[ok](docs/a.md) [ok anchor](docs/a.md#second-part) ![missing](docs/img/x.png)\n"
        "[bad anchor](docs/a.md#third-part) [outside](../elsewhere.md)\n"
        "[web](https://example.com/none.md) `[in code](nowhere.md)`\n"
        "```\n[in a fence](nowhere.md)\n```\n"
        "[ref]: docs/gone.md\n",
        encoding="utf-8",
    )
    problems = broken_links(readme, tmp_path)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "docs/img/x.png (no such file)",
        "docs/a.md#third-part (no heading with that anchor)",
        "../elsewhere.md (points outside the repository)",
        "docs/gone.md (no such file)",
    ]


def test_heading_anchors_follow_github():
    text = "# Running on Kubernetes with GPUs\n## 4. Settings\n## `status --json`\n## Settings\n"
    assert anchors(text) == {
        "running-on-kubernetes-with-gpus",
        "4-settings",
        "status---json",
        "settings",
    }


def test_readme_is_short_and_docs_has_pages():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    pages = list((ROOT / "docs").rglob("*.md"))
    assert len(pages) >= 3, f"docs/ has {len(pages)} Markdown pages"
