"""``docs/configuration.md`` from the declarations: every variable once, by concern."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from enrichment.config.airflow import AirflowSettings
from enrichment.config.core import Settings
from enrichment.config.declare import declared
from enrichment.config.images import ImageSettings
from enrichment.config.models import ModelSettings, OpenAISettings
from enrichment.config.pods import settings_kinds, settings_table
from enrichment.config.quality import (
    CONFIG_FILE,
    PER_ATTRIBUTE,
    PREFIX,
    THRESHOLDS,
    QualitySettings,
)
from enrichment.config.tags import ElasticsearchSettings, TagSettings
from enrichment.config.vectors import PineconeSettings, VectorSettings

QUALITY_YAML = Path(__file__).resolve().parents[1] / "quality" / "quality.yaml"
COMMAND = "python -m enrichment config --markdown > docs/configuration.md"


@dataclass(frozen=True)
class Row:
    name: str
    kind: str
    default: str
    doc: str


def _rows(cls: type) -> list[Row]:
    return [Row(v.name, v.type_text(), v.default_text(), v.doc) for v in declared(cls)]


def _quality_rows() -> list[Row]:
    import yaml

    data = yaml.safe_load(QUALITY_YAML.read_text(encoding="utf-8")) or {}

    def default(section: str | None, entry: str) -> str:
        value = (data.get(section) or {}).get(entry) if section else data.get(entry)
        if isinstance(value, dict):
            return ",".join(f"{k}={v}" for k, v in value.items())
        return "" if value is None else str(value)

    rows = [Row(CONFIG_FILE.name, CONFIG_FILE.type_text(), "", CONFIG_FILE.doc)]
    for t in THRESHOLDS:
        rows.append(Row(t.var.name, t.var.type_text(), default(t.section, t.entry), t.var.doc))
    for prefix, section in PER_ATTRIBUTE.items():
        rows.append(
            Row(
                f"{PREFIX}{prefix}<ATTRIBUTE>",
                "number 0..1",
                default(section, "attributes"),
                f"one attribute's threshold ({section}.attributes in quality.yaml)",
            )
        )
    return rows + _rows(QualitySettings)


def _pod_rows() -> list[Row]:
    kinds = settings_kinds()
    return [Row(name, kinds[name], default, doc) for name, default, doc in settings_table()]


SECTIONS = (  # title, introduction, declarations (a settings class or a row builder)
    ("Platform", "Data folder, database, schemas, run sizing, models, vector kinds", Settings),
    ("Images", "Image intake limits and network rules ([tagging.md](tagging.md))", ImageSettings),
    ("Models", "Text token budget and offline model loading", ModelSettings),
    ("OpenAI embeddings API", "Used with `ENRICHMENT_TEXT_MODEL=openai:<model>`", OpenAISettings),
    ("Vector stores", "pgvector, its HNSW indexes and the vector sinks", VectorSettings),
    (
        "Pinecone",
        "The `pinecone` vector sink ([production-stores.md](production-stores.md))",
        PineconeSettings,
    ),
    ("Tag stores", "PostgreSQL tag store and the tag sinks", TagSettings),
    (
        "Elasticsearch",
        "The `elasticsearch` tag sink ([production-stores.md](production-stores.md))",
        ElasticsearchSettings,
    ),
    (
        "Quality and report",
        "Thresholds override `include/enrichment/quality/quality.yaml` (defaults shown from "
        "it; `enrichment.config.quality`; [quality-and-report.md](quality-and-report.md))",
        _quality_rows,
    ),
    (
        "Kubernetes execution",
        "Shard pods; each `ENRICHMENT_K8S_*` may also be an Airflow Variable of the "
        "lower-case name (`enrichment.config.pods.PodSettings`; [kubernetes.md](kubernetes.md))",
        _pod_rows,
    ),
    ("Local Airflow", "`make airflow` and `demo run`", AirflowSettings),
)


def sections() -> list[tuple[str, str, list[Row]]]:
    """(title, introduction, rows) per concern, in the order of the page."""
    out = []
    for title, intro, source in SECTIONS:
        if isinstance(source, type):
            out.append(
                (title, f"{intro} (`{source.__module__}.{source.__name__}`).", _rows(source))
            )
        else:
            out.append((title, f"{intro}.", source()))
    return out


def names() -> list[str]:
    """Every documented variable (``<ATTRIBUTE>`` patterns included), in page order."""
    return [row.name for _, _, rows in sections() for row in rows]


def _cell(text: str) -> str:
    """Table-cell text: pipes escaped, and ``<`` so that ``<model>`` is not read as HTML."""
    return text.replace("|", "\\|").replace("<", "&lt;") if text else ""


def markdown() -> str:
    """The whole page."""
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable, declared once in `include/enrichment/config/`",
        "with its type, default and meaning; `enrichment.config.env` is the only module that",
        "reads the environment. Platform-wide settings are read by `load_settings()` into one",
        "frozen `Settings` object that is passed down; each other concern has its own frozen",
        "settings class with `from_env()`, called where the setting is used. Settings are read",
        "when a command or task starts (call again after changing the environment). An unset",
        "or blank variable takes the default; a value that does not parse or is out of range",
        "raises `ConfigError` naming the variable and what it accepts.",
        "`python -m enrichment config` shows the variables in effect (secrets hidden) and names `ENRICHMENT_*` variables that are not settings (a misspelt name is otherwise ignored).",
        "",
        f"This page is generated: `{COMMAND}` (a unit test fails when it is out of date).",
    ]
    for title, intro, rows in sections():
        lines += ["", f"## {title}", "", intro, "", "| Variable | Type | Default | Meaning |"]
        lines.append("|---|---|---|---|")
        for row in rows:
            default = f"`{row.default.replace('|', chr(92) + '|')}`" if row.default else ""
            lines.append(f"| `{row.name}` | {_cell(row.kind)} | {default} | {_cell(row.doc)} |")
    return "\n".join(lines) + "\n"


__all__ = ["Row", "markdown", "names", "sections"]
