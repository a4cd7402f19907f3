"""Taxonomy loading, validation messages, versioning and text folding."""

from __future__ import annotations

import copy

import pytest
import yaml

from enrichment.tagging.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, TaxonomyError, fold

pytestmark = pytest.mark.unit

REQUIRED = {
    "category": "t-shirt shirt tank-top hoodie sweater jacket dress skirt pants shorts shoes hat bag",
    "color": "black white gray red orange yellow green blue navy purple pink brown beige",
    "pattern": "solid striped checked dotted floral graphic",
    "material": "cotton wool polyester nylon leather denim silk linen fleece spandex",
    "style": "casual sport formal outdoor",
    "gender": "men women unisex kids",
}


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))


def test_bundled_taxonomy_has_the_agreed_ids():
    tax = Taxonomy.load()
    for attr, ids in REQUIRED.items():
        assert set(ids.split()) <= set(tax.attribute(attr).value_ids), attr
    assert tax.attribute("material").multi and tax.attribute("style").multi
    assert not tax.attribute("color").multi and not tax.attribute("category").multi
    for attr in tax.attributes:
        assert all("{label}" in t for t in attr.templates)
        for value in attr.values:
            assert value.label_en and value.label_vi


def test_version_is_content_hash_independent_of_formatting(raw):
    version = Taxonomy.load().version
    assert len(version) == 12 and int(version, 16) >= 0
    reordered = {"attributes": [dict(reversed(list(a.items()))) for a in raw["attributes"]]}
    assert Taxonomy.from_dict(reordered).version == version
    edited = copy.deepcopy(raw)
    edited["attributes"][1]["threshold"] = 0.9
    assert Taxonomy.from_dict(edited).version != version


def _broken(raw: dict, attr_index: int, **changes) -> dict:
    data = copy.deepcopy(raw)
    data["attributes"][attr_index].update(changes)
    return data


def test_errors_name_the_bad_entry(raw):
    bad_value = copy.deepcopy(raw)
    bad_value["attributes"][1]["values"][3]["swatches"] = ["#zz0000"]
    with pytest.raises(TaxonomyError, match=r"color=red.*#zz0000"):
        Taxonomy.from_dict(bad_value, source="t.yaml")

    with pytest.raises(TaxonomyError, match=r"\(pattern\).*lacks '\{label\}'"):
        Taxonomy.from_dict(_broken(raw, 2, templates=["a striped thing"]))

    with pytest.raises(TaxonomyError, match=r"\(color\).*threshold"):
        Taxonomy.from_dict(_broken(raw, 1, threshold=1.5))

    with pytest.raises(TaxonomyError, match=r"attribute 'pattern'.*unknown categories \['boots'\]"):
        Taxonomy.from_dict(_broken(raw, 2, applies_to=["t-shirt", "boots"]))

    with pytest.raises(TaxonomyError, match=r"\(gender\).*unknown keys \['treshold'\]"):
        Taxonomy.from_dict(_broken(raw, 5, treshold=0.5))

    dup = copy.deepcopy(raw)
    dup["attributes"][5]["values"].append(copy.deepcopy(dup["attributes"][5]["values"][0]))
    with pytest.raises(TaxonomyError, match=r"\(gender\).*duplicate value id 'men'"):
        Taxonomy.from_dict(dup)

    upper = copy.deepcopy(raw)
    upper["attributes"][0]["values"][0]["id"] = "T-Shirt"
    with pytest.raises(TaxonomyError, match="T-Shirt"):
        Taxonomy.from_dict(upper)


def test_load_errors_name_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("attributes: [", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="mine.yaml"):
        Taxonomy.load(path)
    with pytest.raises(TaxonomyError, match="cannot read"):
        Taxonomy.load(tmp_path / "missing.yaml")


def test_applies_to_limits_attributes_and_values():
    tax = Taxonomy.load()
    assert not tax.attribute("pattern").applies("shoes")
    assert tax.attribute("pattern").applies("t-shirt")
    assert tax.attribute("pattern").applies(None)
    materials = {v.id for v in tax.attribute("material").applicable_values("t-shirt")}
    assert "leather" not in materials and "cotton" in materials


def test_fold_strips_case_and_vietnamese_marks():
    assert fold("Áo thun màu đỏ") == "ao thun mau do"
    assert fold("ĐEN Người Nữ") == "den nguoi nu"
    assert fold("Men’s") == "men's"
