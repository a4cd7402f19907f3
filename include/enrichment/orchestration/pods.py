"""Settings of the GPU shard pods (Kubernetes execution mode), in plain Python.

``ENRICHMENT_EXECUTION=local|kubernetes`` chooses how shards are launched; every pod
setting below has an environment name ``ENRICHMENT_K8S_<NAME>`` and an Airflow Variable
of the same name in lower case (``enrichment_k8s_<name>``). The environment wins, then
the Variable, then the default. ``pool`` and ``gpus`` shape the DAG (pool and pool slots)
and are read from the environment only. The pod runs the same ``python -m enrichment
process-shard`` command as local mode; the Airflow side (``plugins/``) builds the
KubernetesPodOperator from :meth:`PodSettings.operator_kwargs` and :func:`pod_env`.
Credentials never appear in the pod spec: they come from Airflow connections, copied
into Kubernetes Secrets named after them (:func:`secret_name`, :func:`connection_env`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import quote, urlencode

from enrichment.config import ConfigError

log = logging.getLogger(__name__)

EXECUTION_ENV = "ENRICHMENT_EXECUTION"
MODES = ("local", "kubernetes")
PREFIX = "ENRICHMENT_K8S_"
Lookup = Callable[[str], "str | None"]

_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
_SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIAL|DATABASE_URL)")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
FINISH_ACTIONS = ("delete_pod", "delete_succeeded_pod", "delete_active_pod", "keep_pod")


def _lookup(name: str, env: Mapping[str, str], variable: Lookup | None) -> str | None:
    value = env.get(name)
    if value in (None, "") and variable is not None:
        value = variable(name.lower())
    return None if value in (None, "") else str(value)


def execution_mode(env: Mapping[str, str], variable: Lookup | None = None) -> str:
    """``local`` or ``kubernetes``: ``ENRICHMENT_EXECUTION``, else Variable, else local."""
    mode = (_lookup(EXECUTION_ENV, env, variable) or "local").strip().lower()
    if mode not in MODES:
        raise ConfigError(
            f"{EXECUTION_ENV} (or Airflow Variable {EXECUTION_ENV.lower()}) must "
            f"be one of {', '.join(MODES)}, got {mode!r}"
        )
    return mode


# -- parsers: raw string -> value; ValueError messages are wrapped with the setting name ---
def _text(raw: str) -> str:
    return raw.strip()


def _count(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _seconds(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive number of seconds")
    return value


def _flag(raw: str) -> bool:
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _names(raw: str) -> tuple[str, ...]:
    if raw.strip().startswith("["):
        return tuple(str(x) for x in json.loads(raw))
    return tuple(x.strip() for x in raw.split(",") if x.strip())


def _mapping(raw: str) -> dict[str, str]:
    if raw.strip().startswith("{"):
        data = json.loads(raw)
    else:
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if any("=" not in p for p in parts):
            raise ValueError("must be k=v,k=v or a JSON object")
        data = dict(p.split("=", 1) for p in parts)
    return {str(k).strip(): str(v).strip() for k, v in data.items()}


def _quantity(raw: str) -> str:
    if not _QUANTITY.match(raw.strip()):
        raise ValueError("must be a Kubernetes quantity such as 2, 500m, 8Gi")
    return raw.strip()


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.strip() not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return raw.strip()

    return parse


def _tolerations(raw: str) -> tuple[dict, ...]:
    items = json.loads(raw)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("must be a JSON list of toleration objects")
    allowed = {"key", "operator", "value", "effect", "tolerationSeconds"}
    for item in items:
        if set(item) - allowed:
            raise ValueError(f"unknown toleration fields {sorted(set(item) - allowed)}")
    return tuple(items)


def _setting(default: Any, parse: Callable[[str], Any], doc: str, *, dag: bool = False):
    meta = {"parse": parse, "doc": doc, "dag": dag}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


@dataclass(frozen=True)
class PodSettings:
    """Every setting of the shard pods, with its default (see :func:`settings_table`)."""

    image: str = _setting(
        "catalog-enrichment-worker:0.1.0",
        _text,
        "GPU worker image (docker/worker.Dockerfile), with registry and tag",
    )
    image_pull_policy: str = _setting("IfNotPresent", _choice(PULL_POLICIES), "image pull policy")
    image_pull_secrets: tuple[str, ...] = _setting(
        (), _names, "names of image pull Secrets, comma-separated"
    )
    namespace: str = _setting("enrichment", _text, "namespace of the shard pods")
    service_account: str = _setting("default", _text, "service account of the shard pods")
    gpus: int = _setting(
        1, _count, "GPUs per shard pod; also the pool slots a shard takes", dag=True
    )
    gpu_resource: str = _setting("nvidia.com/gpu", _text, "extended resource name of a GPU")
    cpu_request: str = _setting("2", _quantity, "CPU request")
    cpu_limit: str = _setting("4", _quantity, "CPU limit")
    memory_request: str = _setting("8Gi", _quantity, "memory request")
    memory_limit: str = _setting("12Gi", _quantity, "memory limit")
    node_selector: dict = _setting(
        {"nvidia.com/gpu.present": "true"}, _mapping, "node labels, k=v,k=v or a JSON object"
    )
    tolerations: tuple[dict, ...] = _setting(
        (GPU_TOLERATION,), _tolerations, "JSON list of tolerations (Kubernetes field names)"
    )
    connections: tuple[str, ...] = _setting(
        ("enrichment_db", "enrichment_s3"),
        _names,
        "Airflow connections given to the pods as Secrets",
    )
    sync_secrets: bool = _setting(
        True,
        _flag,
        "copy those connections into Kubernetes Secrets "
        "before each pod starts (false: you manage the Secrets)",
    )
    forward_exclude: tuple[str, ...] = _setting(
        (
            "ENRICHMENT_DATA_DIR",
            "ENRICHMENT_CLIP_MODEL",
            "ENRICHMENT_EXECUTION",
            "ENRICHMENT_DATABASE_URL",
            "ENRICHMENT_S3_ENDPOINT_URL",
        ),
        _names,
        "ENRICHMENT_* variables of the Airflow worker NOT copied into the pods",
    )
    env: dict = _setting({}, _mapping, "extra non-secret pod environment, k=v,k=v or JSON")
    active_deadline_seconds: int = _setting(3600, _seconds, "pod deadline (activeDeadlineSeconds)")
    startup_timeout_seconds: int = _setting(
        900,
        _seconds,
        "time allowed to schedule, pull and start a pod (GPU node scale-up + image pull)",
    )
    deferrable: bool = _setting(True, _flag, "wait for the pod in the triggerer, not a worker slot")
    get_logs: bool = _setting(True, _flag, "copy the pod log into the task log")
    log_interval_seconds: int = _setting(
        0,
        _count,
        "deferrable mode: fetch the pod log every N seconds while it runs (0: once, when it ends)",
    )
    on_finish_action: str = _setting(
        "delete_succeeded_pod",
        _choice(FINISH_ACTIONS),
        "what to do with a finished pod (the default keeps failed pods for inspection)",
    )
    conn_id: str = _setting(
        "kubernetes_default", _text, "Airflow connection of the cluster (in-cluster if absent)"
    )
    pool: str = _setting(
        "gpu_shards",
        _text,
        "Airflow pool of the shard pods; size it to the "
        "GPUs the platform may use, with include_deferred on",
        dag=True,
    )
    pod_name: str = _setting("enrichment-shard", _text, "pod name prefix (a suffix is added)")

    @classmethod
    def load(cls, env: Mapping[str, str], variable: Lookup | None = None) -> PodSettings:
        """Settings from ``env`` (then Airflow Variables through ``variable``), else defaults.

        DAG-shaping settings (``pool``, ``gpus``) are read from ``env`` only.
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            raw = _lookup(name, env, None if f.metadata["dag"] else variable)
            if raw is None:
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except (ValueError, TypeError) as exc:
                raise ConfigError(
                    f"{name} (or Airflow Variable {name.lower()}) = {raw!r}: {exc}"
                ) from exc
        return cls(**values)

    def resources(self) -> dict[str, dict[str, str]]:
        limits = {"cpu": self.cpu_limit, "memory": self.memory_limit}
        if self.gpus:
            limits[self.gpu_resource] = str(self.gpus)
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": limits,
        }

    def tolerations_snake(self) -> list[dict]:
        """Tolerations with the Python client's field names (``toleration_seconds``)."""
        return [
            {("toleration_seconds" if k == "tolerationSeconds" else k): v for k, v in t.items()}
            for t in self.tolerations
        ]

    def operator_kwargs(self) -> dict[str, Any]:
        """KubernetesPodOperator keyword arguments that need no Kubernetes model classes."""
        return {
            "namespace": self.namespace,
            "image": self.image,
            "image_pull_policy": self.image_pull_policy,
            "service_account_name": self.service_account,
            "automount_service_account_token": False,
            "node_selector": dict(self.node_selector),
            "active_deadline_seconds": self.active_deadline_seconds,
            "startup_timeout_seconds": self.startup_timeout_seconds,
            "deferrable": self.deferrable,
            "get_logs": self.get_logs,
            "logging_interval": self.log_interval_seconds or None,
            "on_finish_action": self.on_finish_action,
            "kubernetes_conn_id": self.conn_id,
            "name": self.pod_name,
            "random_name_suffix": True,
            "do_xcom_push": False,
        }


def settings_table() -> list[tuple[str, str, str]]:
    """(setting, default, description) rows for the README."""
    rows = [(EXECUTION_ENV, "local", "local (in-process task) or kubernetes (GPU pods)")]
    defaults = PodSettings()
    for f in fields(PodSettings):
        default = getattr(defaults, f.name)
        if isinstance(default, tuple) and default and isinstance(default[0], dict):
            shown = json.dumps(list(default))
        elif isinstance(default, tuple):
            shown = ",".join(default)
        elif isinstance(default, dict):
            shown = ",".join(f"{k}={v}" for k, v in default.items())
        else:
            shown = str(default).lower() if isinstance(default, bool) else str(default)
        doc = f.metadata["doc"] + (" (environment only)" if f.metadata["dag"] else "")
        rows.append((PREFIX + f.name.upper(), shown, doc))
    return rows


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


def connection_env(
    conn_id: str,
    conn_type: str | None,
    *,
    host: str | None = None,
    login: str | None = None,
    password: str | None = None,
    port: int | None = None,
    schema: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The environment variables an Airflow connection gives the shard worker.

    ``postgres``: ``ENRICHMENT_DATABASE_URL``; ``aws``: the standard ``AWS_*`` variables
    and ``ENRICHMENT_S3_ENDPOINT_URL`` (extra ``endpoint_url``). Any connection may add
    variables with its extra ``pod_env`` object.
    """
    extra = dict(extra or {})
    env: dict[str, str] = {}
    kind = (conn_type or "").lower()
    if kind in ("postgres", "postgresql"):
        user = quote(login or "", safe="") + (":" + quote(password, safe="") if password else "")
        query = {
            k: v
            for k, v in extra.items()
            if k in ("sslmode", "sslrootcert", "connect_timeout", "options")
        }
        netloc = "" if not host or host.startswith("/") else host + (f":{port}" if port else "")
        if host and host.startswith("/"):
            query["host"] = host
        url = f"postgresql://{user + '@' if user else ''}{netloc}/{quote(schema or '', safe='')}"
        env["ENRICHMENT_DATABASE_URL"] = url + (f"?{urlencode(query)}" if query else "")
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
