"""Pinecone sink helpers: SKU <-> vector id, metadata values, which errors mean the SDK gave up."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from pinecone import ApiError, NotFoundError, PineconeConnectionError, RateLimitError, ServiceError

from enrichment.vectors.pinecone_client import (
    metadata_value,
    pinecone_metadata,
    sku_of,
    transient,
    vector_id,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "sku, vid",
    [
        ("SKU-123", "SKU-123"),
        ("Áo thun", "%C3%81o%20thun"),
        ("50%off", "50%25off"),
        ("tab\there", "tab%09here"),
    ],
)
def test_ids_are_the_sku_or_its_percent_encoding_and_decode_back(sku, vid):
    assert vector_id(sku) == vid
    assert vid.isascii() and vid.isprintable()
    assert sku_of(vid) == sku


def test_ids_never_collide_between_plain_and_encoded_skus():
    skus = ["Á", "%C3%81", "a b", "a%20b", "a+b"]
    assert len({vector_id(s) for s in skus}) == len(skus)


def test_metadata_keeps_pinecone_types_and_drops_nulls():
    assert metadata_value(Decimal("12.50")) == 12.5 and metadata_value(np.float32(2.5)) == 2.5
    assert metadata_value(np.int64(3)) == 3 and metadata_value(True) is True
    assert metadata_value(("a", None, 1)) == ["a", "1"]
    assert pinecone_metadata({"brand": None, "price": Decimal("9")}, model_id="m") == {
        "price": 9.0,
        "model_id": "m",
    }


def test_only_transient_errors_count_as_the_sdk_giving_up():
    assert transient(RateLimitError("slow down", 429, retry_after=1.5))
    assert transient(ServiceError("down", 503, headers={"Retry-After": "2"}))
    assert transient(ApiError("timeout", 408))
    assert transient(PineconeConnectionError("refused"))
    assert not transient(ApiError("bad metadata", 400))
    assert not transient(NotFoundError("gone", 404))
    assert not transient(ValueError("ours"))
