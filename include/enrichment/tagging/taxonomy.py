"""The attribute taxonomy as code: load ``taxonomy.yaml``, validate it, version it.

Every tag the platform emits names an attribute and a value of this taxonomy. The
file is validated on load; an error names the offending entry. The version is a
short hash of the normalised content (key order and YAML formatting do not matter),
so any real edit yields a new version, which is recorded on every tag.

Also home of :func:`fold`, the case- and diacritics-insensitive normalisation used by
every text matcher ("Áo thun màu đỏ" -> "ao thun mau do").
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from enrichment.config import ConfigError

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("taxonomy.yaml")
SIGNALS = ("clip", "pixels", "text", "catalog")
REGIONS = ("upper", "lower", "full")
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HEX_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_ATTR_KEYS = {"id", "label", "multi", "threshold", "applies_to", "weights", "templates", "values"}
_VALUE_KEYS = {
    "id", "label", "synonyms", "prompts", "applies_to", "region", "swatches", "exclude",
}  # fmt: skip


class TaxonomyError(ConfigError):
    """The taxonomy file is invalid; the message names the bad entry."""


def fold(text: str) -> str:
    """Lower-case, strip diacritics (Vietnamese included, đ -> d) and unify quotes."""
    text = text.replace("đ", "d").replace("Đ", "d").replace("’", "'").replace("‘", "'")
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


@dataclass(frozen=True)
class Value:
    """One value of an attribute, e.g. ``color=red``."""

    id: str
    label_en: str
    label_vi: str
    synonyms_en: tuple[str, ...] = ()
    synonyms_vi: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    applies_to: frozenset[str] | None = None
    region: str | None = None
    swatches: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attribute:
    """An attribute group (category, color, ...) and its values."""

    id: str
    label_en: str
    label_vi: str
    multi: bool
    threshold: float
    applies_to: frozenset[str] | None  # None: all categories
    weights: dict[str, float]
    templates: tuple[str, ...]
    values: tuple[Value, ...]

    @property
    def value_ids(self) -> list[str]:
        return [v.id for v in self.values]

    def value(self, value_id: str) -> Value:
        for v in self.values:
            if v.id == value_id:
                return v
        raise KeyError(f"{self.id} has no value {value_id!r}")

    def applies(self, category: str | None) -> bool:
        """Whether the attribute applies to an item of this category (unknown: yes)."""
        return category is None or self.applies_to is None or category in self.applies_to

    def applicable_values(self, category: str | None) -> list[Value]:
        """Values possible for an item of this category (all when it is unknown)."""
        if category is None:
            return list(self.values)
        return [v for v in self.values if v.applies_to is None or category in v.applies_to]


@dataclass(frozen=True)
class Taxonomy:
    """A validated taxonomy; ``version`` is a short hash of its normalised content."""

    attributes: tuple[Attribute, ...]
    version: str
    source: str = "<dict>"
    _by_id: dict[str, Attribute] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({a.id: a for a in self.attributes})

    @property
    def attribute_ids(self) -> list[str]:
        return [a.id for a in self.attributes]

    def attribute(self, attribute_id: str) -> Attribute:
        try:
            return self._by_id[attribute_id]
        except KeyError:
            raise KeyError(f"taxonomy has no attribute {attribute_id!r}") from None

    def __contains__(self, attribute_id: object) -> bool:
        return attribute_id in self._by_id

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        """Load and validate a taxonomy file (default: the bundled ``taxonomy.yaml``)."""
        path = Path(path) if path else DEFAULT_TAXONOMY_PATH
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TaxonomyError(f"cannot read taxonomy file {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise TaxonomyError(f"{path.name}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=path.name)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Taxonomy:
        """Validate a parsed taxonomy document and build the taxonomy."""
        attributes = _parse(data, source)
        normalised = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        version = hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]
        return cls(attributes=tuple(attributes), version=version, source=source)


def _fail(where: str, message: str) -> TaxonomyError:
    return TaxonomyError(f"{where}: {message}")


def _labels(raw: Any, where: str) -> tuple[str, str]:
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), str) and raw[k].strip() for k in ("en", "vi")
    ):
        raise _fail(where, "label must be a mapping with non-empty 'en' and 'vi' strings")
    return raw["en"].strip(), raw["vi"].strip()


def _str_list(raw: Any, where: str, what: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise _fail(where, f"{what} must be a list of non-empty strings")
    return tuple(s.strip() for s in raw)


def _applies(raw: Any, where: str) -> frozenset[str] | None:
    if raw is None or raw == "all":
        return None
    items = _str_list(raw, where, "applies_to ('all' or a list of category ids)")
    if not items:
        raise _fail(where, "applies_to must not be empty (use 'all')")
    return frozenset(items)


def _parse_value(raw: Any, where: str, attr_id: str) -> Value:
    if not isinstance(raw, dict):
        raise _fail(where, "each value must be a mapping")
    vid = raw.get("id")
    if not isinstance(vid, str) or not _ID_RE.match(vid):
        raise _fail(where, f"value id {vid!r} must be lower-case letters/digits joined by '-'")
    where = f"{where} ({attr_id}={vid})"
    unknown = set(raw) - _VALUE_KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}")
    en, vi = _labels(raw.get("label"), where)
    syn = raw.get("synonyms") or {}
    if not isinstance(syn, dict) or set(syn) - {"en", "vi"}:
        raise _fail(where, "synonyms must be a mapping with 'en' and/or 'vi' lists")
    prompts = _str_list(raw.get("prompts"), where, "prompts")
    if any("{label}" in p for p in prompts):
        raise _fail(
            where, "per-value prompts are complete sentences; '{label}' belongs in templates"
        )
    region = raw.get("region")
    if region is not None and (attr_id != "category" or region not in REGIONS):
        raise _fail(where, f"region is only for category values and must be one of {REGIONS}")
    swatches = _str_list(raw.get("swatches"), where, "swatches")
    for sw in swatches:
        if not _HEX_RE.match(sw):
            raise _fail(where, f"swatch {sw!r} is not a #rrggbb colour")
    return Value(
        id=vid,
        label_en=en,
        label_vi=vi,
        synonyms_en=_str_list(syn.get("en"), where, "synonyms.en"),
        synonyms_vi=_str_list(syn.get("vi"), where, "synonyms.vi"),
        prompts=prompts,
        applies_to=_applies(raw.get("applies_to"), where),
        region=region,
        swatches=swatches,
        exclude=_str_list(raw.get("exclude"), where, "exclude"),
    )


def _parse_attribute(raw: Any, where: str) -> Attribute:
    if not isinstance(raw, dict):
        raise _fail(where, "each attribute must be a mapping")
    aid = raw.get("id")
    if not isinstance(aid, str) or not _ID_RE.match(aid):
        raise _fail(where, f"attribute id {aid!r} must be lower-case letters/digits joined by '-'")
    where = f"{where} ({aid})"
    unknown = set(raw) - _ATTR_KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}")
    en, vi = _labels(raw.get("label"), where)
    multi = raw.get("multi", False)
    if not isinstance(multi, bool):
        raise _fail(where, "multi must be true or false")
    threshold = raw.get("threshold")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise _fail(where, f"threshold must be a number in (0, 1], got {threshold!r}")
    weights = raw.get("weights") or {}
    if not isinstance(weights, dict):
        raise _fail(where, "weights must be a mapping of signal -> number")
    for sig, w in weights.items():
        if sig not in SIGNALS:
            raise _fail(where, f"weights: unknown signal {sig!r} (use {', '.join(SIGNALS)})")
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
            raise _fail(where, f"weights.{sig} must be in [0, 1], got {w!r}")
    templates = _str_list(raw.get("templates"), where, "templates")
    if not templates:
        raise _fail(where, "needs at least one CLIP prompt template")
    for t in templates:
        if "{label}" not in t:
            raise _fail(where, f"template {t!r} lacks '{{label}}'")
    raw_values = raw.get("values")
    if not isinstance(raw_values, list) or not raw_values:
        raise _fail(where, "values must be a non-empty list")
    values = [_parse_value(v, f"{where} values[{i}]", aid) for i, v in enumerate(raw_values)]
    seen: set[str] = set()
    for v in values:
        if v.id in seen:
            raise _fail(where, f"duplicate value id {v.id!r}")
        seen.add(v.id)
    return Attribute(
        id=aid,
        label_en=en,
        label_vi=vi,
        multi=multi,
        threshold=float(threshold),
        applies_to=_applies(raw.get("applies_to"), where),
        weights={k: float(w) for k, w in weights.items()},
        templates=templates,
        values=tuple(values),
    )


def _parse(data: Any, source: str) -> list[Attribute]:
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), list):
        raise _fail(source, "top level must be a mapping with an 'attributes' list")
    if set(data) - {"attributes"}:
        raise _fail(source, f"unknown top-level keys {sorted(set(data) - {'attributes'})}")
    attrs = [
        _parse_attribute(a, f"{source}: attributes[{i}]") for i, a in enumerate(data["attributes"])
    ]
    by_id: dict[str, Attribute] = {}
    for a in attrs:
        if a.id in by_id:
            raise _fail(source, f"duplicate attribute id {a.id!r}")
        by_id[a.id] = a
    if "category" not in by_id:
        raise _fail(source, "a 'category' attribute is required (applies_to refers to it)")
    if by_id["category"].multi:
        raise _fail(source, "attribute 'category' must be single-valued (multi: false)")
    categories = set(by_id["category"].value_ids)
    for a in attrs:
        scopes = [(f"attribute {a.id!r}", a.applies_to)]
        scopes += [(f"value {a.id}={v.id}", v.applies_to) for v in a.values]
        for what, scope in scopes:
            bad = sorted((scope or set()) - categories)
            if bad:
                raise _fail(source, f"{what}: applies_to names unknown categories {bad}")
    if "color" in by_id:
        for v in by_id["color"].values:
            if not v.swatches:
                raise _fail(source, f"color value {v.id!r} needs swatches for the pixel signal")
    return attrs


_DEFAULT: Taxonomy | None = None


def default_taxonomy() -> Taxonomy:
    """The bundled taxonomy, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Taxonomy.load()
    return _DEFAULT
