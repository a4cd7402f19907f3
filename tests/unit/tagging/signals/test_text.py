"""Synonym matching in product text: languages, diacritics, boundaries, negation."""

from __future__ import annotations

import pytest

from enrichment.tagging.budget import Deadline, TimeBudgetExceeded
from enrichment.tagging.signals.text import TextMatcher, clean_text
from enrichment.tagging.taxonomy import Taxonomy

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def matcher() -> TextMatcher:
    return TextMatcher(Taxonomy.load())


def found(matcher: TextMatcher, text: str) -> set[tuple[str, str, bool]]:
    return {(m.attribute, m.value, m.negated) for m in matcher.mentions(text)}


def test_vietnamese_with_and_without_diacritics(matcher):
    expected = {("category", "t-shirt", False), ("color", "red", False)}
    assert found(matcher, "Áo thun màu đỏ") == expected
    assert found(matcher, "AO THUN MAU DO") == expected
    assert ("color", "black", False) in found(matcher, "Quần jean đen cho nữ")
    assert ("gender", "women", False) in found(matcher, "Quần jean đen cho nữ")


def test_single_vietnamese_word_needs_its_marks(matcher):
    # "do"/"den" without marks are ordinary words; only "đỏ"/"đen" name colours
    assert not any(a == "color" for a, _, _ in found(matcher, "ao thun do, den"))
    assert ("color", "red", False) in found(matcher, "ÁO THUN ĐỎ")


def test_word_boundaries(matcher):
    assert found(matcher, "Redwood trail jacket") == {
        ("category", "jacket", False),
        ("style", "outdoor", False),
    }
    assert not found(matcher, "a tanned, blackened, bluish item")
    assert ("color", "red", False) in found(matcher, "Red-orange trim")


def test_negation_english_and_vietnamese(matcher):
    assert found(matcher, "This is not red, it is blue") == {
        ("color", "red", True),
        ("color", "blue", False),
    }
    assert ("color", "red", True) in found(matcher, "không phải màu đỏ")
    assert ("color", "red", True) in found(matcher, "available without any red")
    # a clause break ends the negation
    assert ("color", "red", False) in found(matcher, "no hood. red body")
    # "nó" (it) is not the English "no"
    assert ("color", "red", False) in found(matcher, "nó màu đỏ")


def test_no_pattern_means_solid(matcher):
    assert ("pattern", "solid", False) in found(matcher, "Plain tee, no pattern")


def test_longest_match_and_exclusions(matcher):
    assert {v for a, v, _ in found(matcher, "Teton Pullover Hoodie") if a == "category"} == {
        "hoodie"
    }
    cats = {v for a, v, _ in found(matcher, "Short-sleeved shirt") if a == "category"}
    assert cats == {"shirt"}
    assert ("category", "shorts", False) in found(matcher, "Running Short")
    assert not any(a == "gender" for a, _, _ in found(matcher, "man-made fibres"))


def test_html_is_cleaned(matcher):
    assert clean_text("Tee &bull; <b>Navy</b>&nbsp;blue").split() == ["Tee", "•", "Navy", "blue"]
    assert ("color", "navy", False) in found(matcher, "Tee &bull; <b>Navy</b> &amp; white")
    assert ("material", "spandex", False) in found(matcher, "Lycra&reg; blend")


def test_evidence_strengths(matcher):
    ev = matcher.evidence([("Black hoodie", 1.0), ("Also comes in red and blue.", 0.5)])
    assert ev.scores["color"]["black"] == 1.0
    assert ev.scores["color"]["red"] == pytest.approx(0.25)  # 0.5 split over two colours
    ev = matcher.evidence([("Mona Pullover", 1.0), ("98% Merino Wool / 2% Spandex", 0.5)])
    assert ev.scores["material"] == {"wool": 1.0, "spandex": 1.0}
    ev = matcher.evidence([("Tee, not red", 1.0)])
    assert "red" in ev.negated["color"] and "color" not in ev.scores


# --- hostile text is bounded ----------------------------------------------------------------
UNIT = "red cotton t-shirt, pullover hoodie in blue; not green. "


def test_overlaps_resolved_per_attribute_as_before_on_long_text(matcher):
    """The linear overlap rule keeps the same mentions as the pairwise one."""
    text = UNIT * 500
    found = matcher.mentions(text)
    per_unit = len(matcher.mentions(UNIT))
    assert len(found) == 500 * per_unit
    values = {(m.attribute, m.value) for m in found}
    assert ("category", "hoodie") in values and ("category", "sweater") not in values
    taken: dict[str, set[int]] = {}
    for m in found:  # no two kept mentions of one attribute share a token
        span = set(range(m.start, m.end))
        assert not span & taken.setdefault(m.attribute, set())
        taken[m.attribute] |= span


@pytest.mark.parametrize("megabytes", [1, 10])
def test_huge_descriptions_are_read_up_to_the_cap(matcher, megabytes):
    huge = UNIT * (megabytes * 2**20 // len(UNIT))
    capped = matcher.mentions(huge)
    assert capped == matcher.mentions(huge[: matcher.max_chars])
    assert len(capped) < len(huge) // 100
    ev = matcher.evidence([("Wool hat", 1.0), (huge, 0.5)])
    assert ev.scores["category"]["hat"] == 1.0
    assert "green" in ev.negated["color"]


def test_uncapped_matching_reads_the_whole_field():
    """256 KB of mentions (quadratic matching needed ~50 s for this; linear: well under 1 s)."""
    whole = TextMatcher(Taxonomy.load(), max_chars=None)
    repeats = 2**18 // len(UNIT)
    assert len(whole.mentions(UNIT * repeats)) == repeats * len(whole.mentions(UNIT))


def test_deadline_stops_matching(matcher):
    ticks = iter(range(10**6))
    deadline = Deadline(5, clock=lambda: float(next(ticks)))
    with pytest.raises(TimeBudgetExceeded, match="text matching"):
        TextMatcher(Taxonomy.load(), max_chars=None).mentions(UNIT * 4_000, deadline)
    assert matcher.mentions(UNIT, Deadline(None)) == matcher.mentions(UNIT)
