"""Shard launchers: in-process (local) or one GPU pod per shard (kubernetes), per run.

``launch_shards(shards, local_task)`` adds to the current DAG::

    detect ─> choose_launcher ─┬─> process_shard      (mapped in-process task: local)
                               └─> process_shard_pod  (mapped ShardPodOperator: kubernetes)

The mode is ``ENRICHMENT_EXECUTION``, else the Airflow Variable ``enrichment_execution``,
else ``local``. It is chosen by a branch task when the run starts, not at parse time:
a DAG file may not read Variables, a mapped task cannot change its operator class per
run, and templating cannot turn a Python task into a pod. The graph is identical in
both modes; only which launcher runs differs, and both run the same shard command
(:func:`enrichment.orchestration.tasks.process_shard_command`).

Pod settings (:mod:`enrichment.orchestration.pods`) are resolved on the worker through the
operator's public hooks: ``execute`` at every try, ``trigger_reentry`` on resume from
deferral (and ``render_template_fields`` for an unmapped task), so Airflow Variables apply
without being read at parse time. No private operator API is overridden or set.
"""

from __future__ import annotations

import base64
import logging
import os
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret
from airflow.sdk import task

from enrichment.config import ConfigError
from enrichment.orchestration import pods as k8s

log = logging.getLogger(__name__)

POD_TASK_ID = "process_shard_pod"


def airflow_variable(name: str) -> str | None:
    """An Airflow Variable, or None when it does not exist (run time only)."""
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


def connection_secrets(settings: k8s.PodSettings) -> dict[str, dict[str, str]]:
    """Pod environment of each connection in ``settings.connections`` (read at run time).

    A connection that is also a role connection (``ENRICHMENT_AIRFLOW_CONN_*``: platform
    database, Elasticsearch, Pinecone, OpenAI) gives the pods that role's settings.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from enrichment_airflow.connections import connection_fields, connection_settings

    roles = connection_settings(pods=True)
    out: dict[str, dict[str, str]] = {}
    for conn_id in settings.connections:
        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException as exc:
            raise ConfigError(
                f"Airflow connection {conn_id!r} does not exist; create it or "
                f"remove it from {k8s.PREFIX}CONNECTIONS"
            ) from exc
        if conn_id in roles:
            out[conn_id] = roles[conn_id]
            continue
        out[conn_id] = k8s.connection_env(connection_fields(conn))
    if not any("ENRICHMENT_DATABASE_URL" in env for env in out.values()):
        raise ConfigError(
            f"no connection in {k8s.PREFIX}CONNECTIONS gives the pods "
            "ENRICHMENT_DATABASE_URL; add a postgres connection (enrichment_db)"
        )
    return out


def sync_secrets(client: Any, settings: k8s.PodSettings) -> None:
    """Create or update one Kubernetes Secret per connection (skipped when unchanged)."""
    from kubernetes.client.rest import ApiException

    namespace = settings.namespace
    for conn_id, data in connection_secrets(settings).items():
        body = k8s.secret_manifest(conn_id, namespace, data)
        name = body["metadata"]["name"]
        try:
            try:
                current = client.read_namespaced_secret(name, namespace)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                try:
                    client.create_namespaced_secret(namespace, body)
                    log.info("created Secret %s/%s from connection %s", namespace, name, conn_id)
                    continue
                except ApiException as exc2:
                    if exc2.status != 409:  # 409: another shard created it meanwhile
                        raise
                    current = client.read_namespaced_secret(name, namespace)
            have = {k: base64.b64decode(v).decode() for k, v in (current.data or {}).items()}
            if have != data:
                client.replace_namespaced_secret(name, namespace, body)
                log.info("updated Secret %s/%s from connection %s", namespace, name, conn_id)
        except ApiException as exc:
            if exc.status in (401, 403):
                raise ConfigError(
                    f"not allowed to read/write Secret {namespace}/{name} ({exc.reason}); grant "
                    "get/create/update on secrets to Airflow's Kubernetes identity, or set "
                    f"{k8s.PREFIX}SYNC_SECRETS=false and create the Secrets yourself"
                ) from exc
            raise


class ShardPodOperator(KubernetesPodOperator):
    """One shard's GPU pod: ``python -m enrichment process-shard --run-id R --shard N``."""

    def command(self, context: Any) -> list[str]:
        """The argv the pod runs: the local mode's command for the same shard."""
        from enrichment.orchestration import tasks as airflow_tasks

        return airflow_tasks.process_shard_command(context, self.shard)

    def __init__(self, *, shard: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard = shard
        self.pod_settings: k8s.PodSettings | None = None

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        # An unmapped pod task renders through here: resolve the settings first.
        self.apply_settings(context)
        super().render_template_fields(context, jinja_env)

    def apply_settings(self, context: Any, settings: k8s.PodSettings | None = None) -> None:
        """Resolve the pod settings and the shard command onto this operator."""
        from airflow.providers.cncf.kubernetes.backcompat.backwards_compat_converters import (
            convert_toleration,
        )
        from airflow.providers.cncf.kubernetes.utils.pod_manager import OnFinishAction
        from kubernetes.client import models as k8s_models

        settings = settings or k8s.PodSettings.load(os.environ, airflow_variable)
        argv = self.command(context)
        for key, value in settings.operator_kwargs().items():
            setattr(self, key, value)
        self.on_finish_action = OnFinishAction(settings.on_finish_action)
        self.schedule_timeout_seconds = settings.startup_timeout_seconds
        self.container_resources = k8s_models.V1ResourceRequirements(**settings.resources())
        self.security_context = k8s_models.V1PodSecurityContext(run_as_non_root=True)
        self.container_security_context = k8s_models.V1SecurityContext(
            allow_privilege_escalation=False, capabilities=k8s_models.V1Capabilities(drop=["ALL"])
        )
        self.tolerations = [convert_toleration(t) for t in settings.tolerations_snake()]
        self.image_pull_secrets = [
            k8s_models.V1LocalObjectReference(name=n) for n in settings.image_pull_secrets
        ]
        self.secrets = [Secret("env", None, k8s.secret_name(c)) for c in settings.connections]
        self.env_vars = k8s.pod_env(settings, os.environ)
        self.labels = k8s.pod_labels(self.shard)
        self.cmds, self.arguments = argv[:3], argv[3:]
        self.pod_settings = settings

    def execute(self, context: Any) -> Any:
        # every try resolves settings afresh (a mapped task is rendered by its mapped
        # operator, so this is where a mapped shard first sees its operator)
        self.apply_settings(context)
        if self.pod_settings.sync_secrets:
            sync_secrets(self.client, self.pod_settings)
        return super().execute(context)

    def trigger_reentry(self, context: Any, event: dict[str, Any]) -> Any:
        # resumed from deferral on a fresh operator: the same settings decide cleanup
        if self.pod_settings is None:
            self.apply_settings(context)
        return super().trigger_reentry(context, event)


class FillPodOperator(ShardPodOperator):
    """One slice of a blue/green re-embed fill in a GPU pod (``index fill --shard N``)."""

    def command(self, context: Any) -> list[str]:
        from enrichment.orchestration import tasks as airflow_tasks

        return airflow_tasks.reembed_fill_command(context["params"], self.shard)


def launch_shards(
    shards: Any,
    local_task: Any,
    *,
    operator: type[ShardPodOperator] = ShardPodOperator,
    pod_task_id: str = POD_TASK_ID,
) -> list:
    """Add both launchers and the branch choosing one; returns the two mapped tasks."""
    static = k8s.PodSettings.load(os.environ)  # environment only: no Variable at parse time
    local = local_task.expand(shard=shards)
    pod = operator.partial(
        task_id=pod_task_id,
        pool=static.pool,
        pool_slots=max(1, static.gpus),
        **static.operator_kwargs(),
    ).expand(shard=shards)
    local_id = local.operator.task_id

    @task.branch(task_id="choose_launcher")
    def choose_launcher() -> str:
        mode = k8s.execution_mode(os.environ, airflow_variable)
        log.info("execution mode: %s", mode)
        return pod_task_id if mode == "kubernetes" else local_id

    chosen = choose_launcher()
    shards >> chosen >> [local, pod]
    return [local, pod]
