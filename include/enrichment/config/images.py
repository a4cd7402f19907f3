"""Image intake: size limits, network rules and trust of remote images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from enrichment.config.declare import read_fields, setting

MIB = 1024 * 1024
# ``path``: a plain local path (relative to the image root); ``file`` (``file://`` URLs,
# and plain paths) is off unless listed.
DEFAULT_SCHEMES: tuple[str, ...] = ("path", "http", "https", "s3")


@dataclass(frozen=True)
class ImageSettings:
    """``ENRICHMENT_IMAGE_*``; :func:`enrichment.images.policy.policy_from_settings` uses them."""

    max_bytes: int = setting(
        "ENRICHMENT_IMAGE_MAX_BYTES", "int", 20 * MIB, "largest accepted image file, bytes", low=1
    )
    max_pixels: int = setting(
        "ENRICHMENT_IMAGE_MAX_PIXELS",
        "int",
        40_000_000,
        "largest accepted width*height",
        low=1,
    )
    timeout_seconds: float = setting(
        "ENRICHMENT_IMAGE_TIMEOUT_SECONDS",
        "number",
        10.0,
        "wall-clock budget of one fetch, redirects included",
        above=0,
    )
    allowed_schemes: tuple[str, ...] = setting(
        "ENRICHMENT_IMAGE_ALLOWED_SCHEMES",
        "list",
        DEFAULT_SCHEMES,
        "schemes an image may use: path (a plain local path), file (file:// URLs), http, https, s3",
        lower=True,
    )
    allowed_hosts: tuple[str, ...] | None = setting(
        "ENRICHMENT_IMAGE_ALLOWED_HOSTS",
        "list",
        None,
        "hosts images may come from; .cdn.example.com also matches sub-domains (unset: any public host)",
        lower=True,
    )
    allow_private: bool = setting(
        "ENRICHMENT_IMAGE_ALLOW_PRIVATE",
        "flag",
        False,
        "allow loopback/private/CGNAT addresses (link-local and metadata addresses stay refused)",
    )
    max_redirects: int = setting(
        "ENRICHMENT_IMAGE_MAX_REDIRECTS", "int", 3, "HTTP redirects followed per image", low=0
    )
    http_retries: int = setting(
        "ENRICHMENT_IMAGE_HTTP_RETRIES",
        "int",
        2,
        "retries of a connect timeout, connection error, 429 or 5xx within the fetch's timeout",
        low=0,
    )
    ca_bundle: Path | None = setting(
        "ENRICHMENT_IMAGE_CA_BUNDLE", "path", doc="CA bundle file for HTTPS (unset: certifi's)"
    )
    s3_endpoint_url: str | None = setting(
        "ENRICHMENT_IMAGE_S3_ENDPOINT_URL",
        "text",
        doc="S3 endpoint of s3:// images, e.g. a local S3 server (unset: AWS)",
    )
    trusted_hosts: tuple[str, ...] = setting(
        "ENRICHMENT_IMAGE_TRUSTED_HOSTS",
        "list",
        (),
        "name=address,... operator-pinned hosts that may be internal (e.g. an in-cluster image CDN)",
        lower=True,
    )
    confine_to_root: bool = setting(
        "ENRICHMENT_IMAGE_CONFINE_TO_ROOT",
        "flag",
        True,
        "local image files must lie under ENRICHMENT_IMAGE_ROOT (tag-images: the CSV's folder "
        "or --image-root) once symlinks are resolved; false reads any path the process can open",
    )

    @classmethod
    def from_env(cls) -> ImageSettings:
        values = read_fields(cls)
        defaults = cls()
        # an empty list ("," or blanks) means the default, as an unset variable does
        values["allowed_schemes"] = values["allowed_schemes"] or defaults.allowed_schemes
        values["allowed_hosts"] = values["allowed_hosts"] or None
        return cls(**values)
