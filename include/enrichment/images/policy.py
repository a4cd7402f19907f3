"""Image intake policy: limits and network rules, the rejection error, settings.

:class:`ImagePolicy` is what :func:`enrichment.images.intake.fetch_image` and the
remote sources (:mod:`enrichment.images.remote`) obey; :class:`ImageRejected` is the
one error they raise for bad input.

Environment variables read by :func:`policy_from_settings`:

``ENRICHMENT_IMAGE_MAX_BYTES``        largest accepted file, bytes (default 20971520)
``ENRICHMENT_IMAGE_MAX_PIXELS``       largest accepted width*height (default 40000000)
``ENRICHMENT_IMAGE_TIMEOUT_SECONDS``  wall-clock budget of one fetch incl. redirects (10)
``ENRICHMENT_IMAGE_ALLOWED_HOSTS``    comma list of hosts; ``.cdn.example.com`` also
                                      matches sub-domains; empty: any public host
``ENRICHMENT_IMAGE_ALLOWED_SCHEMES``  comma list (default ``file,http,https,s3``)
``ENRICHMENT_IMAGE_ALLOW_PRIVATE``    true: allow loopback/private/CGNAT addresses (false);
                                      link-local and metadata addresses stay refused
``ENRICHMENT_IMAGE_MAX_REDIRECTS``    HTTP redirects followed (default 3)
``ENRICHMENT_IMAGE_S3_ENDPOINT_URL``  S3 endpoint (e.g. a local S3 server); empty: AWS
``ENRICHMENT_IMAGE_TRUSTED_HOSTS``    ``name=address,...`` operator-pinned hosts that may
                                      be internal (e.g. an in-cluster image CDN)
``ENRICHMENT_IMAGE_CA_BUNDLE``        CA bundle file for HTTPS (default: certifi's)
``ENRICHMENT_IMAGE_CONFINE_TO_ROOT``  true: local files must lie under the image root
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from enrichment.config import ConfigError, _env, _env_bool, _env_float, _env_int

if TYPE_CHECKING:
    from enrichment.config import Settings

MIB = 1024 * 1024


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
    allowed_schemes: tuple[str, ...] = ("file", "http", "https", "s3")
    allowed_hosts: tuple[str, ...] | None = None
    allow_private_addresses: bool = False
    max_redirects: int = 3
    base_dir: Path | None = None
    s3_endpoint_url: str | None = None
    # Beyond the core interface:
    resolver: Callable[[str], list[str]] | None = None  # replaces DNS (tests, custom DNS)
    trusted_hosts: Mapping[str, str] | None = None  # operator-pinned name -> address
    ca_bundle: Path | None = None
    confine_to_base_dir: bool = False


def _env_list(name: str) -> tuple[str, ...] | None:
    raw = _env(name)
    if raw is None:
        return None
    return tuple(item.strip().lower() for item in raw.split(",") if item.strip())


def _positive(name: str, default: int) -> int:
    value = _env_int(name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value}")
    return value


def policy_from_settings(settings: Settings, base_dir: Path | None = None) -> ImagePolicy:
    """Build the policy from ``ENRICHMENT_IMAGE_*`` variables (see the module docstring)."""
    trusted: dict[str, str] = {}
    for item in _env_list("ENRICHMENT_IMAGE_TRUSTED_HOSTS") or ():
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
    redirects = _env_int("ENRICHMENT_IMAGE_MAX_REDIRECTS", 3)
    if redirects < 0:
        raise ConfigError(f"ENRICHMENT_IMAGE_MAX_REDIRECTS must be >= 0, got {redirects}")
    ca_bundle = _env("ENRICHMENT_IMAGE_CA_BUNDLE")
    return ImagePolicy(
        max_bytes=_positive("ENRICHMENT_IMAGE_MAX_BYTES", 20 * MIB),
        max_pixels=_positive("ENRICHMENT_IMAGE_MAX_PIXELS", 40_000_000),
        timeout_seconds=_env_float("ENRICHMENT_IMAGE_TIMEOUT_SECONDS", 10.0),
        allowed_schemes=_env_list("ENRICHMENT_IMAGE_ALLOWED_SCHEMES")
        or ("file", "http", "https", "s3"),
        allowed_hosts=_env_list("ENRICHMENT_IMAGE_ALLOWED_HOSTS") or None,
        allow_private_addresses=_env_bool("ENRICHMENT_IMAGE_ALLOW_PRIVATE", False),
        max_redirects=redirects,
        base_dir=base_dir if base_dir is not None else settings.image_root,
        s3_endpoint_url=_env("ENRICHMENT_IMAGE_S3_ENDPOINT_URL"),
        trusted_hosts=trusted or None,
        ca_bundle=Path(ca_bundle) if ca_bundle else None,
        confine_to_base_dir=_env_bool("ENRICHMENT_IMAGE_CONFINE_TO_ROOT", False),
    )
