"""Declared settings: a frozen dataclass of variables, read with their type and range."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from enrichment.config import ConfigError
from enrichment.config.declare import Var, declared, read_fields, setting

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Example:
    size: int = setting("ENRICHMENT_TEST_SIZE", "int", 5, "items per batch", low=1)
    ratio: float = setting("ENRICHMENT_TEST_RATIO", "number", 0.5, "share", low=0, high=1)
    token: str | None = setting("ENRICHMENT_TEST_TOKEN", "text", None, "API key", secret=True)
    names: tuple = setting("ENRICHMENT_TEST_NAMES", "list", ("a",), "names", lower=True)


def test_fields_read_the_environment_with_defaults(monkeypatch):
    for name in ("SIZE", "RATIO", "TOKEN", "NAMES"):
        monkeypatch.delenv(f"ENRICHMENT_TEST_{name}", raising=False)
    assert read_fields(Example) == {"size": 5, "ratio": 0.5, "token": None, "names": ("a",)}
    monkeypatch.setenv("ENRICHMENT_TEST_SIZE", "12")
    monkeypatch.setenv("ENRICHMENT_TEST_NAMES", "X, y")
    monkeypatch.setenv("ENRICHMENT_TEST_TOKEN", "s3cret")
    values = read_fields(Example)
    assert values["size"] == 12 and values["names"] == ("x", "y")
    assert "s3cret" not in repr(Example(**values))  # secrets stay out of the repr


def test_out_of_range_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("ENRICHMENT_TEST_RATIO", "1.5")
    with pytest.raises(ConfigError, match="ENRICHMENT_TEST_RATIO"):
        read_fields(Example)


def test_declarations_describe_themselves_for_the_docs():
    size, ratio, token, names = declared(Example)
    assert (size.name, size.type_text(), size.default_text()) == (
        "ENRICHMENT_TEST_SIZE", "integer >= 1", "5",
    )  # fmt: skip
    assert ratio.type_text() == "number 0..1"
    assert ratio.default_text() == "0.5" and token.type_text() == "secret"
    assert names.default_text() == "a" and token.default_text() == ""
    assert Var("X", "path", Path("/d"), "").default_text() == "/d"
    with pytest.raises(ValueError, match="unknown kind 'colour'"):
        Var("ENRICHMENT_TEST_BAD", "colour", None, "")
