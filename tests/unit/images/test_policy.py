"""The image policy: defaults, settings from the environment, errors naming the variable."""

from __future__ import annotations

import pytest

from enrichment.config import ConfigError, load_settings
from enrichment.images.policy import MIB, ImagePolicy, ImageRejected, policy_from_settings

pytestmark = pytest.mark.unit


def test_rejections_read_as_reason_and_detail():
    exc = ImageRejected("too_large", "25 MiB > 20 MiB", content_hash="abc")
    assert str(exc) == "too_large: 25 MiB > 20 MiB"
    assert (exc.reason, exc.content_hash) == ("too_large", "abc")


def test_defaults_are_safe(monkeypatch):
    for name in ("MAX_BYTES", "ALLOWED_HOSTS", "ALLOW_PRIVATE", "TRUSTED_HOSTS"):
        monkeypatch.delenv(f"ENRICHMENT_IMAGE_{name}", raising=False)
    settings = load_settings()
    policy = policy_from_settings(settings)
    assert policy.max_bytes == ImagePolicy().max_bytes == 20 * MIB
    assert policy.allow_private_addresses is False and policy.allowed_hosts is None
    assert policy.base_dir == settings.image_root


def test_variables_set_the_limits_and_hosts(monkeypatch, tmp_path):
    monkeypatch.setenv("ENRICHMENT_IMAGE_MAX_BYTES", "1024")
    monkeypatch.setenv("ENRICHMENT_IMAGE_ALLOWED_HOSTS", "CDN.example.com, .img.example.org")
    monkeypatch.setenv("ENRICHMENT_IMAGE_TRUSTED_HOSTS", "images.internal=10.0.0.7")
    policy = policy_from_settings(load_settings(), base_dir=tmp_path)
    assert policy.max_bytes == 1024 and policy.base_dir == tmp_path
    assert policy.allowed_hosts == ("cdn.example.com", ".img.example.org")
    assert policy.trusted_hosts == {"images.internal": "10.0.0.7"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "ENRICHMENT_IMAGE_MAX_BYTES",
            "0",
            "ENRICHMENT_IMAGE_MAX_BYTES must be an integer >= 1, got .0.",
        ),
        (
            "ENRICHMENT_IMAGE_MAX_REDIRECTS",
            "-1",
            "ENRICHMENT_IMAGE_MAX_REDIRECTS must be an integer >= 0",
        ),
        ("ENRICHMENT_IMAGE_TRUSTED_HOSTS", "cdn", "expected name=address"),
        ("ENRICHMENT_IMAGE_TRUSTED_HOSTS", "cdn=example.com", "is not an IP address"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        policy_from_settings(load_settings())
