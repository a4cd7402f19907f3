"""Settings of the GPU shard pods (Kubernetes execution mode), in plain Python.

``ENRICHMENT_EXECUTION=local|kubernetes`` chooses how shards are launched; every pod
setting below has an environment name ``ENRICHMENT_K8S_<NAME>`` and an Airflow Variable
of the same name in lower case (``enrichment_k8s_<name>``). The environment wins, then
the Variable, then the default. ``pool`` and ``gpus`` shape the DAG (pool and pool slots)
and are read from the environment only. The pod runs the same ``python -m enrichment
process-shard`` command as local mode; the Airflow side (``plugins/``) builds the
KubernetesPodOperator from :meth:`PodSettings.operator_kwargs` and :func:`pod_env`.
The settings themselves are declared in :mod:`enrichment.config.pods`.
Credentials never appear in the pod spec: they come from Airflow connections, copied
into Kubernetes Secrets named after them (:func:`secret_name`, :func:`connection_env`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from enrichment.config import ConfigError
from enrichment.config.pods import (
    EXECUTION_ENV,
    MODES,
    PREFIX,
    PodSettings,
    execution_mode,
    settings_table,
)
from enrichment.orchestration.connections import ConnectionFields, postgres_url

__all__ = [
    "EXECUTION_ENV",
    "MODES",
    "PREFIX",
    "PodSettings",
    "connection_env",
    "execution_mode",
    "looks_secret",
    "pod_env",
    "pod_labels",
    "secret_manifest",
    "secret_name",
    "settings_table",
]

log = logging.getLogger(__name__)

_SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIAL|DATABASE_URL)")


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name.upper())) or name.upper().startswith("AWS_")


def pod_env(settings: PodSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """The pod's literal (non-secret) environment.

    Every ``ENRICHMENT_*`` variable of the Airflow worker is copied, so pods use the same
    stores, schemas and models as detect and commit, except the excluded ones, the
    ``ENRICHMENT_K8S_*`` settings and anything that looks like a credential (those come
    from connections). The shard store must be on S3: pods cannot see a worker's folder.
    """
    env: dict[str, str] = {}
    for name, value in sorted(environ.items()):
        if (
            not name.startswith("ENRICHMENT_")
            or name.startswith(PREFIX)
            or value == ""
            or name in settings.forward_exclude
        ):
            continue
        if looks_secret(name):
            log.warning(
                "%s is set on the Airflow worker but holds a credential; it is not "
                "copied into the pod spec. Give it to the pods through a connection in "
                "%sCONNECTIONS (extra 'pod_env').",
                name,
                PREFIX,
            )
            continue
        env[name] = value
    for name, value in settings.env.items():
        if looks_secret(name):
            raise ConfigError(
                f"{PREFIX}ENV sets {name}, a credential; credentials must come "
                f"from an Airflow connection listed in {PREFIX}CONNECTIONS"
            )
        env[name] = value
    store = env.get("ENRICHMENT_SHARD_STORE", "")
    if not store.startswith("s3://"):
        raise ConfigError(
            "kubernetes execution needs ENRICHMENT_SHARD_STORE=s3://bucket/prefix "
            f"on the Airflow workers (got {store or 'the local default'!r}); "
            "shard pods cannot see a worker's folder"
        )
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def secret_name(conn_id: str) -> str:
    """The Kubernetes Secret that holds an Airflow connection's pod environment."""
    name = re.sub(r"[^a-z0-9-]+", "-", conn_id.lower()).strip("-")
    if not name:
        raise ConfigError(f"{PREFIX}CONNECTIONS: {conn_id!r} is not a usable connection id")
    return name[:253]


def connection_env(conn: ConnectionFields) -> dict[str, str]:
    """The environment variables an Airflow connection gives the shard worker.

    ``postgres``: ``ENRICHMENT_DATABASE_URL``; ``aws``: the standard ``AWS_*`` variables
    and ``ENRICHMENT_S3_ENDPOINT_URL`` (extra ``endpoint_url``). Any connection may add
    variables with its extra ``pod_env`` object.
    """
    conn_id, conn_type = conn.conn_id, conn.conn_type
    login, password = conn.login, conn.password
    extra = dict(conn.extra or {})
    env: dict[str, str] = {}
    kind = (conn_type or "").lower()
    if kind in ("postgres", "postgresql"):
        env["ENRICHMENT_DATABASE_URL"] = postgres_url(conn)
    elif kind == "aws":
        pairs = {
            "AWS_ACCESS_KEY_ID": login,
            "AWS_SECRET_ACCESS_KEY": password,
            "AWS_SESSION_TOKEN": extra.get("aws_session_token"),
            "AWS_DEFAULT_REGION": extra.get("region_name"),
            "ENRICHMENT_S3_ENDPOINT_URL": extra.get("endpoint_url"),
        }
        env.update({k: str(v) for k, v in pairs.items() if v})
    pod_extra = extra.get("pod_env") or {}
    if not isinstance(pod_extra, Mapping):
        raise ConfigError(f"connection {conn_id}: extra 'pod_env' must be a JSON object")
    env.update({str(k): str(v) for k, v in pod_extra.items()})
    if not env:
        raise ConfigError(
            f"connection {conn_id} (type {conn_type!r}) gives the pods nothing; "
            "use a postgres or aws connection, or add an extra 'pod_env' object"
        )
    return env


def secret_manifest(conn_id: str, namespace: str, data: Mapping[str, str]) -> dict:
    """The Kubernetes Secret (as a manifest) holding one connection's pod environment."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": secret_name(conn_id),
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "airflow",
                "app.kubernetes.io/part-of": "catalog-enrichment",
            },
            "annotations": {"enrichment/airflow-connection": conn_id},
        },
        "stringData": dict(data),
    }


def pod_labels(shard: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "catalog-enrichment",
        "app.kubernetes.io/component": "shard-worker",
        "enrichment/shard": str(shard),
    }
