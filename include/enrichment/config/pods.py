"""Kubernetes execution: ``ENRICHMENT_EXECUTION`` and the shard pods' ``ENRICHMENT_K8S_*``.

Every pod setting has an environment name ``ENRICHMENT_K8S_<NAME>`` and an Airflow
Variable of the same name in lower case; the environment wins, then the Variable, then
the default. ``pool`` and ``gpus`` shape the DAG and are read from the environment only.
The values come from the mapping given to :meth:`PodSettings.load` (the Airflow side
passes its environment), or from the process environment with :meth:`PodSettings.from_env`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import enrichment.config.env as environment
from enrichment.config.errors import ConfigError

EXECUTION_ENV = "ENRICHMENT_EXECUTION"
MODES = ("local", "kubernetes")
PREFIX = "ENRICHMENT_K8S_"
Lookup = Callable[[str], "str | None"]

_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
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

    parse.options = options  # type: ignore[attr-defined]
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


def _kind(parse: Callable[[str], Any]) -> str:
    kinds = {
        _text: "text",
        _count: "integer >= 0",
        _seconds: "integer > 0",
        _flag: "true/false",
        _names: "comma list or JSON list",
        _mapping: "k=v list or JSON object",
        _quantity: "Kubernetes quantity",
        _tolerations: "JSON list",
    }
    return kinds.get(parse) or "one of " + ", ".join(parse.options)  # type: ignore[attr-defined]


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

    @classmethod
    def from_env(cls, variable: Lookup | None = None) -> PodSettings:
        """:meth:`load` from the process environment."""
        return cls.load(environment.with_prefix(PREFIX), variable)

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
    """(setting, default, description) rows for docs/configuration.md."""
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


def settings_kinds() -> dict[str, str]:
    """``{variable: accepted values}`` of every setting of :func:`settings_table`."""
    kinds = {EXECUTION_ENV: "one of " + ", ".join(MODES)}
    kinds.update({PREFIX + f.name.upper(): _kind(f.metadata["parse"]) for f in fields(PodSettings)})
    return kinds
