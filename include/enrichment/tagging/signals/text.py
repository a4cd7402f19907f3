"""Text signal: taxonomy synonyms found in titles, descriptions and catalogue categories.

Text is cleaned (HTML entities decoded, tags stripped), lower-cased and split into
word tokens; matching works on whole tokens, so "redwood" is not "red". Matching
ignores case and diacritics ("AO THUN MAU DO" finds t-shirt and red), with one
exception: a single-word Vietnamese synonym written with diacritics must keep them
("đỏ" matches "đỏ"/"ĐỎ" but not the unrelated "do"), because without its marks such
a word collides with common words in both languages. Multi-word phrases ("màu đỏ")
match with or without marks.

A material preceded by a percentage ("98% Merino Wool") is a composition statement
and counts as much as a title mention wherever it appears.

A mention preceded within three words (same clause) by a negation ("not red",
"without a hood", "không phải màu đỏ") counts against the value instead of for it.
Overlapping mentions inside one attribute keep the longest ("pullover hoodie" is a
hoodie, not a sweater); a value's ``exclude`` phrases ("short sleeve") never count.

Hostile text is bounded: matching is linear in the number of tokens (overlaps are
resolved with a per-attribute map of taken token positions), and only the first
``MAX_FIELD_CHARS`` characters of a field are read (default 65,536, about 10,000 words;
``ENRICHMENT_TEXT_MAX_CHARS``). A :class:`~enrichment.tagging.budget.Deadline` passed to
:meth:`TextMatcher.mentions` is checked while matching.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from enrichment.tagging.budget import Deadline
from enrichment.tagging.taxonomy import Taxonomy, fold

MAX_FIELD_CHARS = 65_536
_CHECK_EVERY = 2048  # tokens between deadline checks

_TAG_BREAK_RE = re.compile(r"<\s*(?:br|/p|/li|li|p|/div|div|/h\d|tr|/tr)\b[^>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]{0,500}>")
_TOKEN_RE = re.compile(r"\w+|[.;:!?,()•|/\n%]")
_CLAUSE = "|"
_NEGATORS = {
    "not", "no", "non", "without", "never", "nor", "neither", "isn", "aren", "doesn", "don",
    "wasn", "weren", "khong", "chang", "chua",
}  # fmt: skip
_VI_NEGATORS = {"khong", "chang", "chua"}
_CONTRAST = {"but", "however", "nhung", "except"}
_NEGATION_WINDOW = 3


def clean_text(text: str | None) -> str:
    """Decode HTML entities and strip tags (block tags become sentence breaks)."""
    if not text:
        return ""
    text = html.unescape(str(text))
    text = _TAG_BREAK_RE.sub(" . ", text)
    text = _TAG_RE.sub(" ", text)
    return html.unescape(text)


def tokenize(text: str) -> tuple[list[str], list[str]]:
    """Return (lower-case tokens with diacritics, folded tokens); clause marks are '|'."""
    lowered: list[str] = []
    for tok in _TOKEN_RE.findall(clean_text(text).lower()):
        lowered.append(tok if tok[0].isalnum() or tok in "_%" else _CLAUSE)
    return lowered, [fold(t) for t in lowered]


@dataclass(frozen=True)
class Mention:
    """One synonym occurrence: tokens [start, end) of the text."""

    attribute: str
    value: str
    start: int
    end: int
    negated: bool
    composition: bool = False  # preceded by a percentage ("60% cotton")


@dataclass
class TextEvidence:
    """Per attribute: value -> strength in (0, 1], and values explicitly negated."""

    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    negated: dict[str, set[str]] = field(default_factory=dict)


def _phrase(s: str) -> tuple[str, ...]:
    lowered, _ = tokenize(s)
    return tuple(t for t in lowered if t != _CLAUSE)


class TextMatcher:
    """Finds taxonomy values in free text; build once per taxonomy and reuse."""

    def __init__(self, taxonomy: Taxonomy, *, max_chars: int | None = MAX_FIELD_CHARS) -> None:
        self.taxonomy = taxonomy
        self.max_chars = max_chars  # None: read whole fields (still linear)
        # first token -> [(phrase tokens, attribute, value)], one index per matching mode
        self._folded: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        self._strict: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
        self._exclude: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        for attr in taxonomy.attributes:
            for val in attr.values:
                phrases = {(p, False) for p in (*val.synonyms_en, val.label_en, val.id)}
                phrases |= {(p, True) for p in val.synonyms_vi}
                for raw, is_vi in phrases:
                    toks = _phrase(raw)
                    if not toks:
                        continue
                    folded = tuple(fold(t) for t in toks)
                    strict = is_vi and len(toks) == 1 and folded != toks
                    index, key = (self._strict, toks) if strict else (self._folded, folded)
                    entry = (key, attr.id, val.id)
                    bucket = index.setdefault(key[0], [])
                    if entry not in bucket:
                        bucket.append(entry)
                if val.exclude:
                    self._exclude[(attr.id, val.id)] = [
                        tuple(fold(t) for t in _phrase(e)) for e in val.exclude
                    ]

    def mentions(self, text: str | None, deadline: Deadline | None = None) -> list[Mention]:
        """All non-overlapping (per attribute) synonym mentions in ``text``."""
        text = text or ""
        if self.max_chars is not None and len(text) > self.max_chars:
            text = text[: self.max_chars]
        lowered, folded = tokenize(text)
        if deadline is not None:
            deadline.check("text matching")
        found: list[tuple[str, str, int, int]] = []
        for i in range(len(lowered)):
            if deadline is not None and i % _CHECK_EVERY == 0:
                deadline.check("text matching")
            for index, toks in ((self._folded, folded), (self._strict, lowered)):
                for phrase, attr, val in index.get(toks[i], ()):
                    n = len(phrase)
                    if tuple(toks[i : i + n]) == phrase:
                        found.append((attr, val, i, i + n))
        found = [m for m in found if not self._excluded(m, folded)]
        # longest first; drop a mention overlapping a longer one of the same attribute.
        # Taken positions per attribute make this linear (phrases are a few tokens long).
        found.sort(key=lambda m: (-(m[3] - m[2]), m[2]))
        taken: dict[str, set[int]] = {}
        kept: list[tuple[str, str, int, int]] = []
        for m in found:
            positions = taken.setdefault(m[0], set())
            if not any(p in positions for p in range(m[2], m[3])):
                kept.append(m)
                positions.update(range(m[2], m[3]))
        kept.sort(key=lambda m: m[2])
        return [
            Mention(a, v, s, e, _negated(lowered, folded, s), "%" in lowered[max(0, s - 2) : s])
            for a, v, s, e in kept
        ]

    def _excluded(self, m: tuple[str, str, int, int], folded: list[str]) -> bool:
        attr, val, start, end = m
        for phrase in self._exclude.get((attr, val), ()):
            n = len(phrase)
            for s in range(max(0, end - n), min(start, len(folded) - n) + 1):
                if tuple(folded[s : s + n]) == phrase and s < end and start < s + n:
                    return True
        return False

    def evidence(
        self, fields: list[tuple[str | None, float]], deadline: Deadline | None = None
    ) -> TextEvidence:
        """Combine several text fields, each with a strength (e.g. title 1.0, description 0.6).

        Within one field a single-valued attribute with k different values mentioned
        gives each strength/k; across fields a value keeps its strongest support.
        """
        ev = TextEvidence()
        for text, strength in fields:
            if not text:
                continue
            positive: dict[str, dict[str, float]] = {}
            for m in self.mentions(text, deadline):
                if m.negated:
                    ev.negated.setdefault(m.attribute, set()).add(m.value)
                else:
                    level = positive.setdefault(m.attribute, {})
                    # a composition statement ("98% wool") is as explicit as a title
                    level[m.value] = max(
                        level.get(m.value, 0.0), 1.0 if m.composition else strength
                    )
            for attr_id, values in positive.items():
                share = 1.0 if self.taxonomy.attribute(attr_id).multi else 1.0 / len(values)
                scores = ev.scores.setdefault(attr_id, {})
                for v, level in values.items():
                    scores[v] = max(scores.get(v, 0.0), level * share)
        for attr_id, values in ev.negated.items():
            for v in values:
                ev.scores.get(attr_id, {}).pop(v, None)
        ev.scores = {a: s for a, s in ev.scores.items() if s}
        return ev


def _negated(lowered: list[str], folded: list[str], start: int) -> bool:
    for j in range(start - 1, max(-1, start - 1 - _NEGATION_WINDOW), -1):
        tok = folded[j]
        if tok == _CLAUSE or tok in _CONTRAST:
            return False
        # an English negator must be written without marks ("nó" is not "no")
        if tok in _NEGATORS and (tok in _VI_NEGATORS or lowered[j] == tok):
            return True
    return False
