"""Settings, read from environment variables with documented defaults.

Every setting has one name (``ENRICHMENT_*``); the README lists them. Errors about
configuration name the variable to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message names the variable to fix."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """All platform settings; build with :func:`load_settings`."""

    data_dir: Path
    database_url: str | None
    database_name: str
    source_schema: str
    state_schema: str
    shard_store: str
    shard_size: int
    overlap_seconds: int
    text_model: str
    clip_model: str | None
    clip_required: bool
    image_root: Path
    vector_kinds: tuple[str, ...] = field(default=("text",))
    taxonomy_path: Path | None = None
    clip_batch_size: int = 32
    clip_temperature: float = 0.01
    text_model_next: str | None = None
    max_shards: int = 256
    clip_model_next: str | None = None

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"


def load_settings() -> Settings:
    """Read settings from the environment (call again after changing it)."""
    data_dir = Path(_env("ENRICHMENT_DATA_DIR", str(PROJECT_ROOT / ".data"))).resolve()
    clip_model = _env("ENRICHMENT_CLIP_MODEL")
    kinds_raw = _env("ENRICHMENT_VECTOR_KINDS")
    if kinds_raw:
        kinds = tuple(k.strip() for k in kinds_raw.split(",") if k.strip())
    else:
        kinds = ("text", "image") if clip_model else ("text",)
    for kind in kinds:
        if kind not in ("text", "image"):
            raise ConfigError(f"ENRICHMENT_VECTOR_KINDS: unknown kind {kind!r} (use text, image)")
    if "image" in kinds and not clip_model:
        raise ConfigError(
            "ENRICHMENT_VECTOR_KINDS includes 'image' but ENRICHMENT_CLIP_MODEL is not set; "
            "image vectors come from the CLIP image tower"
        )
    return Settings(
        data_dir=data_dir,
        database_url=_env("ENRICHMENT_DATABASE_URL"),
        database_name=_env("ENRICHMENT_DATABASE_NAME", "enrichment"),
        source_schema=_env("ENRICHMENT_SOURCE_SCHEMA", "catalog"),
        state_schema=_env("ENRICHMENT_STATE_SCHEMA", "enrichment"),
        shard_store=_env("ENRICHMENT_SHARD_STORE", str(data_dir / "shards")),
        shard_size=_env_int("ENRICHMENT_SHARD_SIZE", 500),
        overlap_seconds=_env_int("ENRICHMENT_OVERLAP_SECONDS", 300),
        text_model=_env("ENRICHMENT_TEXT_MODEL", "bundled:all-MiniLM-L6-v2"),
        clip_model=clip_model,
        clip_required=_env_bool("ENRICHMENT_CLIP_REQUIRED", clip_model is not None),
        image_root=Path(_env("ENRICHMENT_IMAGE_ROOT", str(data_dir / "images"))).resolve(),
        vector_kinds=kinds,
        taxonomy_path=Path(taxonomy).resolve()
        if (taxonomy := _env("ENRICHMENT_TAXONOMY"))
        else None,
        clip_batch_size=_env_int("ENRICHMENT_CLIP_BATCH_SIZE", 32),
        clip_temperature=_env_float("ENRICHMENT_CLIP_TEMPERATURE", 0.01),
        text_model_next=_env("ENRICHMENT_TEXT_MODEL_NEXT"),
        max_shards=_env_int("ENRICHMENT_MAX_SHARDS", 256),
        clip_model_next=_env("ENRICHMENT_CLIP_MODEL_NEXT"),
    )
