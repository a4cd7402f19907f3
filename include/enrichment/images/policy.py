"""Image intake policy: limits and network rules, the rejection error, settings.

:class:`ImagePolicy` is what :func:`enrichment.images.intake.fetch_image` and the
remote sources (:mod:`enrichment.images.remote`) obey; :class:`ImageRejected` is the
one error they raise for bad input.

Its settings are :class:`enrichment.config.images.ImageSettings` (``ENRICHMENT_IMAGE_*``,
listed in docs/configuration.md). Safe by default: a local path must lie under the
image root once symlinks are resolved, and ``file://`` URLs are refused (the default
schemes are ``path`` -- a plain local path -- ``http``, ``https`` and ``s3``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from enrichment.config import ConfigError
from enrichment.config.images import DEFAULT_SCHEMES, MIB, ImageSettings

if TYPE_CHECKING:
    from enrichment.config import Settings


class ImageRejected(Exception):
    """An image that cannot be used; ``reason`` is a stable short code."""

    def __init__(self, reason: str, detail: str, content_hash: str | None = None) -> None:
        super().__init__(reason, detail, content_hash)
        self.reason = reason
        self.detail = detail
        self.content_hash = content_hash

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass
class ImagePolicy:
    """Limits and network rules for :func:`fetch_image`."""

    max_bytes: int = 20 * MIB
    max_pixels: int = 40_000_000
    timeout_seconds: float = 10.0
    allowed_schemes: tuple[str, ...] = DEFAULT_SCHEMES
    allowed_hosts: tuple[str, ...] | None = None
    allow_private_addresses: bool = False
    max_redirects: int = 3
    base_dir: Path | None = None
    s3_endpoint_url: str | None = None
    # Beyond the core interface:
    resolver: Callable[[str], list[str]] | None = None  # replaces DNS (tests, custom DNS)
    trusted_hosts: Mapping[str, str] | None = None  # operator-pinned name -> address
    ca_bundle: Path | None = None
    confine_to_base_dir: bool = True  # local files only under base_dir (symlinks resolved)
    # HTTP: retries of transient failures (connect timeouts, connection errors, 429, 5xx)
    # within timeout_seconds, and keep-alive connections per worker thread
    http_retries: int = 2
    retry_backoff_seconds: float = 0.25
    reuse_connections: bool = True


def policy_from_settings(settings: Settings, base_dir: Path | None = None) -> ImagePolicy:
    """Build the policy from the ``ENRICHMENT_IMAGE_*`` settings (:class:`ImageSettings`)."""
    images = ImageSettings.from_env()
    trusted: dict[str, str] = {}
    for item in images.trusted_hosts:
        name, sep, address = item.partition("=")
        if not sep or not name or not address:
            raise ConfigError(
                f"ENRICHMENT_IMAGE_TRUSTED_HOSTS: expected name=address, got {item!r}"
            )
        try:
            ipaddress.ip_address(address)
        except ValueError as exc:
            raise ConfigError(
                f"ENRICHMENT_IMAGE_TRUSTED_HOSTS: {address!r} is not an IP address"
            ) from exc
        trusted[name.rstrip(".")] = address
    return ImagePolicy(
        max_bytes=images.max_bytes,
        max_pixels=images.max_pixels,
        timeout_seconds=images.timeout_seconds,
        allowed_schemes=images.allowed_schemes,
        allowed_hosts=images.allowed_hosts,
        allow_private_addresses=images.allow_private,
        max_redirects=images.max_redirects,
        http_retries=images.http_retries,
        base_dir=base_dir if base_dir is not None else settings.image_root,
        s3_endpoint_url=images.s3_endpoint_url,
        trusted_hosts=trusted or None,
        ca_bundle=images.ca_bundle,
        confine_to_base_dir=images.confine_to_root,
    )
