"""Each concern's settings: defaults, derived defaults, and out-of-range values that fail."""

from __future__ import annotations

import pytest

from enrichment.config import PROJECT_ROOT, ConfigError, load_settings
from enrichment.config.airflow import AirflowSettings
from enrichment.config.images import ImageSettings
from enrichment.config.models import ModelSettings, OpenAISettings
from enrichment.config.pods import PodSettings
from enrichment.config.quality import quality_variables
from enrichment.config.tags import ElasticsearchSettings, TagSettings
from enrichment.config.vectors import PineconeSettings, VectorSettings

pytestmark = pytest.mark.unit


def test_platform_defaults_derive_from_the_data_dir(monkeypatch, tmp_path):
    for name in ("SHARD_STORE", "IMAGE_ROOT", "CLIP_MODEL", "VECTOR_KINDS", "CLIP_REQUIRED"):
        monkeypatch.delenv(f"ENRICHMENT_{name}", raising=False)
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.data_dir == tmp_path.resolve()
    assert settings.shard_store == str(tmp_path.resolve() / "shards")
    assert settings.image_root == tmp_path.resolve() / "images"
    assert settings.vector_kinds == ("text",)
    assert settings.clip_required is False
    assert (settings.shard_size, settings.overlap_seconds, settings.max_shards) == (500, 300, 256)
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", "some/clip")
    settings = load_settings()
    assert settings.vector_kinds == ("text", "image")
    assert settings.clip_required is True
    monkeypatch.setenv("ENRICHMENT_CLIP_REQUIRED", "false")
    assert load_settings().clip_required is False


def test_the_default_data_dir_is_under_the_project(monkeypatch):
    monkeypatch.delenv("ENRICHMENT_DATA_DIR")
    assert load_settings().data_dir == (PROJECT_ROOT / ".data").resolve()
    assert (PROJECT_ROOT / "include" / "enrichment" / "config").is_dir()


@pytest.mark.parametrize(
    ("name", "raw", "accepted"),
    [
        ("ENRICHMENT_OVERLAP_SECONDS", "-600", ">= 0"),
        ("ENRICHMENT_SHARD_SIZE", "0", ">= 1"),
        ("ENRICHMENT_MAX_SHARDS", "0", ">= 1"),
        ("ENRICHMENT_CLIP_BATCH_SIZE", "-1", ">= 1"),
        ("ENRICHMENT_CLIP_TEMPERATURE", "0", "> 0"),
        ("ENRICHMENT_SHARD_SIZE", "lots", "an integer"),
    ],
)
def test_platform_values_out_of_range_fail_naming_the_variable(monkeypatch, name, raw, accepted):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigError, match=f"{name} must be .*{accepted}"):
        load_settings()


def test_unknown_vector_kinds_and_image_vectors_without_clip_fail(monkeypatch):
    monkeypatch.delenv("ENRICHMENT_CLIP_MODEL", raising=False)
    monkeypatch.setenv("ENRICHMENT_VECTOR_KINDS", "text,audio")
    with pytest.raises(ConfigError, match="ENRICHMENT_VECTOR_KINDS: unknown kind 'audio'"):
        load_settings()
    monkeypatch.setenv("ENRICHMENT_VECTOR_KINDS", "image")
    with pytest.raises(ConfigError, match="ENRICHMENT_CLIP_MODEL is not set"):
        load_settings()


@pytest.mark.parametrize(
    ("load", "name", "raw"),
    [
        (ImageSettings.from_env, "ENRICHMENT_IMAGE_TIMEOUT_SECONDS", "-5"),
        (ImageSettings.from_env, "ENRICHMENT_IMAGE_MAX_BYTES", "0"),
        (ImageSettings.from_env, "ENRICHMENT_IMAGE_MAX_REDIRECTS", "-1"),
        (ElasticsearchSettings.from_env, "ENRICHMENT_ES_TIMEOUT_SECONDS", "-1"),
        (ElasticsearchSettings.from_env, "ENRICHMENT_ES_MAX_RETRIES", "-1"),
        (PineconeSettings.from_env, "ENRICHMENT_PINECONE_TIMEOUT", "-30"),
        (PineconeSettings.from_env, "ENRICHMENT_PINECONE_BATCH_SIZE", "0"),
        (OpenAISettings.from_env, "ENRICHMENT_OPENAI_TIMEOUT_SECONDS", "0"),
        (OpenAISettings.from_env, "ENRICHMENT_OPENAI_BATCH_SIZE", "0"),
        (OpenAISettings.from_env, "ENRICHMENT_OPENAI_MAX_RETRIES", "-1"),
        (VectorSettings.from_env, "ENRICHMENT_HNSW_EF_SEARCH", "5000"),
        (VectorSettings.from_env, "ENRICHMENT_HNSW_M", "1"),
        (ModelSettings.from_env, "ENRICHMENT_TEXT_MAX_TOKENS", "4"),
    ],
)
def test_concern_values_out_of_range_fail_naming_the_variable(monkeypatch, load, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigError, match=f"{name} must be"):
        load()


def test_concern_defaults(monkeypatch):
    for name in (
        "ENRICHMENT_VECTOR_SINKS",
        "ENRICHMENT_TAG_SINKS",
        "ENRICHMENT_IMAGE_ALLOWED_SCHEMES",
    ):
        monkeypatch.delenv(name, raising=False)
    assert VectorSettings.from_env() == VectorSettings()
    assert VectorSettings().hnsw_ef_search == 100
    assert TagSettings.from_env() == TagSettings(store="postgres", sinks=())
    images = ImageSettings.from_env()
    assert images.allowed_schemes == ("path", "http", "https", "s3")  # no file:// by default
    assert images.confine_to_root is True
    assert images.allowed_hosts is None
    monkeypatch.setenv("ENRICHMENT_IMAGE_ALLOWED_SCHEMES", " , ")  # empty list: the default
    assert ImageSettings.from_env().allowed_schemes == images.allowed_schemes
    monkeypatch.setenv("ENRICHMENT_VECTOR_SINKS", "Pinecone")
    assert VectorSettings.from_env().sinks == ("pinecone",)


def test_secrets_stay_out_of_reprs(monkeypatch):
    monkeypatch.setenv("ENRICHMENT_PINECONE_API_KEY", "pc-secret-1")
    monkeypatch.setenv("ENRICHMENT_ES_PASSWORD", "es-secret-2")
    monkeypatch.setenv("ENRICHMENT_OPENAI_API_KEY", "sk-secret-3")
    monkeypatch.setenv("ENRICHMENT_DATABASE_URL", "postgresql://u:db-secret-4@h/db")
    shown = " ".join(
        repr(s)
        for s in (
            PineconeSettings.from_env(),
            ElasticsearchSettings.from_env(),
            OpenAISettings.from_env(),
            load_settings(),
        )
    )
    assert "secret" not in shown
    assert PineconeSettings.from_env().api_key == "pc-secret-1"


def test_openai_key_falls_back_to_openai_api_key(monkeypatch):
    monkeypatch.delenv("ENRICHMENT_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    assert OpenAISettings.from_env().key == "sk-fallback"
    monkeypatch.setenv("ENRICHMENT_OPENAI_API_KEY", "sk-own")
    assert OpenAISettings.from_env().key == "sk-own"


def test_offline_switches(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "true")
    models = ModelSettings.from_env()
    assert models.offline and not models.hub_offline
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    assert not ModelSettings.from_env().offline


def test_pod_settings_from_the_process_environment(monkeypatch):
    monkeypatch.setenv("ENRICHMENT_K8S_NAMESPACE", "gpu")
    monkeypatch.setenv("ENRICHMENT_K8S_GPUS", "-1")
    with pytest.raises(ConfigError, match="ENRICHMENT_K8S_GPUS"):
        PodSettings.from_env()
    monkeypatch.setenv("ENRICHMENT_K8S_GPUS", "2")
    variables = {"enrichment_k8s_image": "worker:2", "enrichment_k8s_namespace": "ignored"}
    pods = PodSettings.from_env(variable=variables.get)
    assert (pods.namespace, pods.gpus, pods.image) == ("gpu", 2, "worker:2")


def test_quality_variables_and_airflow_settings_file(monkeypatch, tmp_path):
    monkeypatch.setenv("ENRICHMENT_QUALITY_MAX_PSI", "0.4")
    monkeypatch.setenv("ENRICHMENT_QUALITYX", "not ours")
    assert quality_variables()["ENRICHMENT_QUALITY_MAX_PSI"] == "0.4"
    assert "ENRICHMENT_QUALITYX" not in quality_variables()
    monkeypatch.setenv("ENRICHMENT_AIRFLOW_SETTINGS", str(tmp_path / "a.yaml"))
    assert AirflowSettings.from_env().settings_file == tmp_path / "a.yaml"
