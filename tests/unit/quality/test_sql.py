"""SQL building blocks of the quality checks: only identifier-like literals are inlined."""

from __future__ import annotations

import pytest

from enrichment.quality import sql
from enrichment.tagging.taxonomy import Taxonomy

pytestmark = pytest.mark.unit


def test_literals_of_ids_are_quoted_and_anything_else_is_refused():
    assert sql.lit("t-shirt") == "'t-shirt'" and sql.lit("enrichment.vec_x") == "'enrichment.vec_x'"
    for bad in ("x'; DROP TABLE tags; --", "a b", "", "é"):
        with pytest.raises(ValueError, match="unsafe SQL literal"):
            sql.lit(bad)


def test_text_arrays_are_sorted_and_empty_is_null():
    assert sql.text_array({"hat", "bag"}) == "ARRAY['bag', 'hat']::text[]"
    assert sql.text_array([]) == "NULL"


def test_coverage_query_inlines_every_attribute_of_the_taxonomy():
    taxonomy = Taxonomy.load()
    query = sql.coverage_query("enrichment", taxonomy)
    assert "FROM enrichment.product_state" in query
    for attribute in taxonomy.attributes:
        assert f"'{attribute.id}'" in query
