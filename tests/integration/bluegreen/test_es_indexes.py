"""Blue/green of the Elasticsearch tag indexes: versions, and the refusals that keep the
alias on a complete index (against the local Elasticsearch protocol server)."""

from __future__ import annotations

import pytest

from enrichment.bluegreen import es_indexes
from enrichment.config import load_settings
from enrichment.orchestration import pipeline
from enrichment.tagging.taxonomy import Taxonomy
from tests.integration.tags.test_es_sink import ALIAS, catalog, es  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def test_versions_show_the_active_index_with_its_documents(catalog):  # noqa: F811
    pipeline.run_all("r1", catalog.now(), settings=catalog.settings, use_clip=False)
    index = f"{ALIAS}-{Taxonomy.load().version}"
    info = es_indexes.versions(load_settings())
    assert info["alias"] == ALIAS and info["expected"] == 5
    assert info["configured_index"] == index
    assert info["indexes"] == [
        {"index": index, "taxonomy_version": Taxonomy.load().version, "state": "active",
         "documents": 5}
    ]  # fmt: skip


def test_switch_and_drop_refuse_what_would_break_reads(catalog, es):  # noqa: F811
    pipeline.run_all("r1", catalog.now(), settings=catalog.settings, use_clip=False)
    index = f"{ALIAS}-{Taxonomy.load().version}"
    with pytest.raises(es_indexes.SwitchRefused, match="already behind the alias"):
        es_indexes.switch()
    with pytest.raises(es_indexes.SwitchRefused, match="no index"):
        es_indexes.switch(version="0.0-never")
    with pytest.raises(es_indexes.SwitchRefused, match="switch first"):
        es_indexes.drop(names=[index])
    with pytest.raises(es_indexes.SwitchRefused, match="no version index 'other'"):
        es_indexes.drop(names=["other"])
    assert es_indexes.drop(all_retired=True) == {"dropped": []}
    assert es.alias(ALIAS) == {index}
