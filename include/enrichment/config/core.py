"""Platform core: data folder, database, schemas, run sizing, models, vector kinds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from enrichment.config.declare import read_fields, setting
from enrichment.config.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[3]
VECTOR_KINDS = ("text", "image")
CAPTURE_MODES = ("triggers", "log", "cursor")


@dataclass(frozen=True)
class Settings:
    """All platform settings; build with :func:`load_settings`."""

    data_dir: Path = setting(
        "ENRICHMENT_DATA_DIR",
        "path",
        doc="folder of the embedded PostgreSQL, shards, images, reports and Airflow home",
        shown="<project>/.data",
    )
    database_url: str | None = setting(
        "ENRICHMENT_DATABASE_URL",
        "text",
        doc="libpq URL of an existing PostgreSQL with pgvector (unset: the embedded one in the data dir)",
        secret=True,
    )
    database_name: str = setting(
        "ENRICHMENT_DATABASE_NAME",
        "text",
        "enrichment",
        "database created in the embedded PostgreSQL",
    )
    source_schema: str = setting(
        "ENRICHMENT_SOURCE_SCHEMA",
        "text",
        "catalog",
        "schema of the source catalogue; replaces {schema} in the source mapping's SQL",
    )
    state_schema: str = setting(
        "ENRICHMENT_STATE_SCHEMA",
        "text",
        "enrichment",
        "schema of the platform's state, tags and vectors",
    )
    shard_store: str = setting(
        "ENRICHMENT_SHARD_STORE",
        "text",
        doc="folder or s3://bucket/prefix of run manifests and shard results",
        shown="<data dir>/shards",
    )
    shard_size: int = setting(
        "ENRICHMENT_SHARD_SIZE", "int", 500, "products per shard of a run", low=1
    )
    overlap_seconds: int = setting(
        "ENRICHMENT_OVERLAP_SECONDS",
        "int",
        300,
        "re-read window for late-committing rows; must exceed your longest catalogue transaction",
        low=0,
    )
    text_model: str = setting(
        "ENRICHMENT_TEXT_MODEL",
        "text",
        "bundled:all-MiniLM-L6-v2",
        "text embedding model: bundled:..., a sentence-transformers path or name, openai:<model>",
    )
    clip_model: str | None = setting(
        "ENRICHMENT_CLIP_MODEL",
        "text",
        doc="CLIP model folder or name for image tags and image vectors (unset: no CLIP)",
    )
    clip_required: bool = setting(
        "ENRICHMENT_CLIP_REQUIRED",
        "flag",
        doc="fail when the CLIP model cannot load instead of tagging without it",
        shown="true when ENRICHMENT_CLIP_MODEL is set",
    )
    image_root: Path = setting(
        "ENRICHMENT_IMAGE_ROOT",
        "path",
        doc="folder that relative image paths of the catalogue are resolved against",
        shown="<data dir>/images",
    )
    vector_kinds: tuple[str, ...] = setting(
        "ENRICHMENT_VECTOR_KINDS",
        "list",
        doc="vector kinds every active SKU must have: text, image",
        shown="text,image with a CLIP model, else text",
    )
    taxonomy_path: Path | None = setting(
        "ENRICHMENT_TAXONOMY", "path", doc="taxonomy YAML file (unset: the bundled taxonomy)"
    )
    calibration_path: Path | None = setting(
        "ENRICHMENT_CALIBRATION",
        "path",
        doc="calibration directory written by calibrate, applied to every tag (unset: none)",
    )
    clip_batch_size: int = setting(
        "ENRICHMENT_CLIP_BATCH_SIZE", "int", 32, "images per CLIP forward pass", low=1
    )
    clip_temperature: float = setting(
        "ENRICHMENT_CLIP_TEMPERATURE",
        "number",
        0.01,
        "softmax temperature of CLIP zero-shot scores",
        above=0,
    )
    text_model_next: str | None = setting(
        "ENRICHMENT_TEXT_MODEL_NEXT",
        "text",
        doc="text model being re-embedded into a new index version (blue/green)",
    )
    max_shards: int = setting(
        "ENRICHMENT_MAX_SHARDS",
        "int",
        256,
        "shards per run at most (shards grow instead; Airflow caps a mapping at core.max_map_length)",
        low=1,
    )
    clip_model_next: str | None = setting(
        "ENRICHMENT_CLIP_MODEL_NEXT",
        "text",
        doc="CLIP model being re-embedded into a new image index version",
    )
    tag_workers: int = setting(
        "ENRICHMENT_TAG_WORKERS",
        "int",
        0,
        "processes tagging without CLIP (tag-images, shard worker); 0: one per CPU core",
        low=0,
    )
    s3_endpoint_url: str | None = setting(
        "ENRICHMENT_S3_ENDPOINT_URL",
        "text",
        doc="S3 endpoint of an s3:// shard store (unset: AWS)",
    )
    item_time_budget_seconds: float | None = setting(
        "ENRICHMENT_ITEM_TIME_BUDGET_SECONDS",
        "number",
        60.0,
        "seconds one item may take in the shard worker; over it the item is quarantined "
        "(reason time_budget) and the shard goes on (0: no budget)",
        low=0,
    )
    text_max_chars: int | None = setting(
        "ENRICHMENT_TEXT_MAX_CHARS",
        "int",
        65_536,
        "characters of a text field the text signal reads (0: the whole field)",
        low=0,
    )
    source_database_url: str | None = setting(
        "ENRICHMENT_SOURCE_DATABASE_URL",
        "text",
        doc="libpq URL of the shop's database, a read-only role (unset: the platform database)",
        secret=True,
    )
    source_mapping: Path | None = setting(
        "ENRICHMENT_SOURCE_MAPPING",
        "path",
        doc="source mapping YAML (docs/source-mapping.md; unset: the demo mapping)",
    )
    capture_mode: str = setting(
        "ENRICHMENT_CAPTURE_MODE",
        "text",
        "triggers",
        "change capture: triggers, log (logical replication) or cursor (timestamps)",
    )
    capture_schema: str = setting(
        "ENRICHMENT_CAPTURE_SCHEMA",
        "text",
        "enrichment_capture",
        "schema of the trigger mode's change log, in the source database",
    )

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"


def _kinds(raw: tuple[str, ...] | None, clip_model: str | None) -> tuple[str, ...]:
    kinds = raw or (("text", "image") if clip_model else ("text",))
    for kind in kinds:
        if kind not in VECTOR_KINDS:
            raise ConfigError(f"ENRICHMENT_VECTOR_KINDS: unknown kind {kind!r} (use text, image)")
    if "image" in kinds and not clip_model:
        raise ConfigError(
            "ENRICHMENT_VECTOR_KINDS includes 'image' but ENRICHMENT_CLIP_MODEL is not set; "
            "image vectors come from the CLIP image tower"
        )
    return kinds


def load_settings() -> Settings:
    """Read settings from the environment (call again after changing it)."""
    values = read_fields(Settings)
    data_dir = Path(values["data_dir"] or PROJECT_ROOT / ".data").resolve()
    clip_model = values["clip_model"]
    values.update(
        data_dir=data_dir,
        shard_store=values["shard_store"] or str(data_dir / "shards"),
        clip_required=clip_model is not None
        if values["clip_required"] is None
        else values["clip_required"],
        image_root=Path(values["image_root"] or data_dir / "images").resolve(),
        vector_kinds=_kinds(values["vector_kinds"], clip_model),
        taxonomy_path=values["taxonomy_path"].resolve() if values["taxonomy_path"] else None,
        calibration_path=values["calibration_path"].resolve()
        if values["calibration_path"]
        else None,
        item_time_budget_seconds=values["item_time_budget_seconds"] or None,  # 0: off
        text_max_chars=values["text_max_chars"] or None,
        source_mapping=values["source_mapping"].resolve() if values["source_mapping"] else None,
    )
    if values["capture_mode"] not in CAPTURE_MODES:
        raise ConfigError(
            f"ENRICHMENT_CAPTURE_MODE must be one of {', '.join(CAPTURE_MODES)}, "
            f"got {values['capture_mode']!r}"
        )
    return Settings(**values)
