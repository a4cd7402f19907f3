"""The environment getters: defaults, parsing, ranges, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrichment.config import ConfigError, env

pytestmark = pytest.mark.unit

NAME = "ENRICHMENT_TEST_SETTING"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_or_blank_takes_the_default(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(NAME, raising=False)
    else:
        monkeypatch.setenv(NAME, value)
    assert env.text(NAME, "d") == "d"
    assert env.integer(NAME, 7, low=1) == 7
    assert env.number(NAME, 0.5, above=0) == 0.5
    assert env.flag(NAME, True) is True
    assert env.names(NAME, ("a",)) == ("a",)
    assert env.path(NAME) is None


def test_values_are_parsed_and_stripped(monkeypatch):
    monkeypatch.setenv(NAME, " 12 ")
    assert env.text(NAME) == "12"
    assert env.integer(NAME, 0, low=1, high=12) == 12
    assert env.number(NAME, 0.0, above=0) == 12.0
    monkeypatch.setenv(NAME, "Pinecone, ,S3 ,")
    assert env.names(NAME) == ("Pinecone", "S3")
    assert env.names(NAME, lower=True) == ("pinecone", "s3")
    monkeypatch.setenv(NAME, "some/dir")
    assert env.path(NAME) == Path("some/dir")


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("Yes", True), ("off", False)])
def test_flags(monkeypatch, raw, expected):
    monkeypatch.setenv(NAME, raw)
    assert env.flag(NAME, not expected) is expected


@pytest.mark.parametrize(
    ("call", "raw", "message"),
    [
        (lambda: env.integer(NAME, 1, low=1), "0", ">= 1"),
        (lambda: env.integer(NAME, 1, low=0), "-600", ">= 0"),
        (lambda: env.integer(NAME, 1, low=1, high=1000), "1001", "1..1000"),
        (lambda: env.integer(NAME, 1, low=1), "ten", "an integer >= 1"),
        (lambda: env.integer(NAME, 1), "1.5", "an integer"),
        (lambda: env.number(NAME, 1.0, above=0), "-1", "> 0"),
        (lambda: env.number(NAME, 1.0, above=0), "0", "> 0"),
        (lambda: env.number(NAME, 1.0, low=0, high=1), "1.2", "0..1"),
        (lambda: env.number(NAME, 1.0), "nan", "a number"),
        (lambda: env.number(NAME, 1.0), "fast", "a number"),
        (lambda: env.flag(NAME, False), "maybe", "true or false"),
    ],
)
def test_bad_values_name_the_variable_and_the_accepted_range(monkeypatch, call, raw, message):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ConfigError) as err:
        call()
    assert NAME in str(err.value)
    assert message in str(err.value)
    assert repr(raw) in str(err.value)


def test_with_prefix_lists_only_that_prefix_sorted(monkeypatch):
    monkeypatch.setenv("ENRICHMENT_TESTX_B", "2")
    monkeypatch.setenv("ENRICHMENT_TESTX_A", "1")
    monkeypatch.setenv("ENRICHMENT_TESTY", "3")
    assert env.with_prefix("ENRICHMENT_TESTX_") == {
        "ENRICHMENT_TESTX_A": "1",
        "ENRICHMENT_TESTX_B": "2",
    }
