"""The GPU pod of a shard, rendered from the real DAG without a cluster.

The hook reads a throwaway kubeconfig (through the ``kubernetes_default`` connection);
nothing talks to Kubernetes. Settings come from
the environment and from Airflow Variables (``AIRFLOW_VAR_*``, Airflow's own environment
backend for Variables), the way a worker resolves them when it renders the task.
"""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace

import pytest

from enrichment.config import ConfigError
from enrichment.orchestration import pods as k8s
from enrichment.orchestration import tasks as airflow_tasks
from enrichment.orchestration.connections import ConnectionFields

pytestmark = pytest.mark.unit

RUN_ID = "scheduled__2026-03-01T00:00:00+00:00"
SECRET = "s3cr3t-value"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: from-kubeconfig}}]
current-context: ctx
"""


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    from tests.unit.dags.test_dag_integrity import DAGS

    path = next(p for p in DAGS if p.stem == "catalog_incremental")
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["catalog_incremental"]


@pytest.fixture
def cluster_env(monkeypatch, tmp_path):
    """A worker's environment in kubernetes mode: settings, Variables, a kubeconfig."""
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG)
    for name, value in {
        "KUBECONFIG": str(config),
        "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(
            {"conn_type": "kubernetes", "extra": {"kube_config_path": str(config)}}
        ),
        "ENRICHMENT_SHARD_STORE": "s3://shards/runs",
        "ENRICHMENT_STATE_SCHEMA": "enrichment",
        "ENRICHMENT_TAG_STORE": "postgres",
        "ENRICHMENT_DATABASE_URL": f"postgresql://app:{SECRET}@db.internal/catalog",
        "ENRICHMENT_OPENAI_API_KEY": SECRET,
        "ENRICHMENT_K8S_NAMESPACE": "gpu-jobs",
        "AIRFLOW_VAR_ENRICHMENT_K8S_NAMESPACE": "loses-to-the-environment",
        "AIRFLOW_VAR_ENRICHMENT_K8S_IMAGE": "registry.example.com/enrichment-worker:1.4.0",
    }.items():
        monkeypatch.setenv(name, value)
    return config


def _context(dag, shard: int) -> dict:
    dag_run = SimpleNamespace(
        dag_id=dag.dag_id, run_id=RUN_ID, run_after=datetime(2026, 3, 1), conf={}
    )
    ti = SimpleNamespace(
        dag_id=dag.dag_id, task_id="process_shard_pod", map_index=shard, try_number=1
    )
    return {"dag": dag, "dag_run": dag_run, "ti": ti, "run_id": RUN_ID, "params": {}}


def _render(dag, shard: int):
    """What the worker does: unmap the shard, render its templates, build the pod."""
    op = dag.get_task("process_shard_pod").unmap({"shard": shard})
    context = _context(dag, shard)
    op.render_template_fields(context)
    return op, op.build_pod_request_obj(context), context


def test_rendered_pod_runs_the_local_shard_command_on_a_gpu_node(dag, cluster_env):
    op, pod, context = _render(dag, 3)
    container = pod.spec.containers[0]

    argv = airflow_tasks.process_shard_command(context, 3)
    assert container.command + container.args == argv
    assert argv == [
        "python",
        "-m",
        "enrichment",
        "process-shard",
        "--run-id",
        f"catalog_incremental__{RUN_ID}",
        "--shard",
        "3",
    ]

    assert container.resources.limits == {"cpu": "4", "memory": "12Gi", "nvidia.com/gpu": "1"}
    assert container.resources.requests == {"cpu": "2", "memory": "8Gi"}
    assert pod.spec.node_selector == {"nvidia.com/gpu.present": "true"}
    [toleration] = pod.spec.tolerations
    assert (toleration.key, toleration.operator, toleration.effect) == (
        "nvidia.com/gpu",
        "Exists",
        "NoSchedule",
    )

    assert pod.metadata.namespace == "gpu-jobs"  # environment beats the Variable
    assert container.image == "registry.example.com/enrichment-worker:1.4.0"  # Variable
    assert container.image_pull_policy == "IfNotPresent"
    assert pod.spec.service_account_name == "default"
    assert pod.spec.automount_service_account_token is False
    assert pod.spec.active_deadline_seconds == 3600
    assert pod.spec.restart_policy == "Never"
    assert pod.spec.security_context.run_as_non_root is True
    assert container.security_context.allow_privilege_escalation is False
    assert pod.metadata.labels["enrichment/shard"] == "3"
    assert pod.metadata.labels["airflow_kpo_in_cluster"] == "False"  # the kubeconfig was read

    assert op.deferrable is True and op.get_logs is True
    assert op.on_finish_action.value == "delete_succeeded_pod"
    assert op.startup_timeout_seconds == 900
    assert (op.pool, op.pool_slots) == ("gpu_shards", 1)


def test_pod_env_is_forwarded_settings_and_credentials_are_secret_references(dag, cluster_env):
    from kubernetes.client import ApiClient

    _, pod, _ = _render(dag, 0)
    container = pod.spec.containers[0]
    env = {e.name: e.value for e in container.env}
    assert env["ENRICHMENT_SHARD_STORE"] == "s3://shards/runs"
    assert env["ENRICHMENT_STATE_SCHEMA"] == "enrichment"
    assert env["ENRICHMENT_TAG_STORE"] == "postgres"
    assert "ENRICHMENT_DATABASE_URL" not in env and "ENRICHMENT_OPENAI_API_KEY" not in env
    assert not [name for name in env if name.startswith("ENRICHMENT_K8S_")]
    assert [e.secret_ref.name for e in container.env_from] == ["enrichment-db", "enrichment-s3"]

    manifest = json.dumps(ApiClient().sanitize_for_serialization(pod))
    assert SECRET not in manifest


def test_bad_settings_fail_with_the_setting_name(dag, cluster_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_ENRICHMENT_K8S_TOLERATIONS", '{"key": "gpu"}')
    with pytest.raises(ConfigError, match="enrichment_k8s_tolerations"):
        _render(dag, 0)
    monkeypatch.delenv("AIRFLOW_VAR_ENRICHMENT_K8S_TOLERATIONS")

    monkeypatch.setenv("ENRICHMENT_K8S_ENV", "AWS_SECRET_ACCESS_KEY=x")
    with pytest.raises(ConfigError, match="ENRICHMENT_K8S_CONNECTIONS"):
        _render(dag, 0)
    monkeypatch.delenv("ENRICHMENT_K8S_ENV")

    monkeypatch.setenv("ENRICHMENT_SHARD_STORE", "/var/lib/shards")
    with pytest.raises(ConfigError, match="ENRICHMENT_SHARD_STORE=s3://"):
        _render(dag, 0)

    with pytest.raises(ConfigError, match="ENRICHMENT_K8S_MEMORY_LIMIT"):
        k8s.PodSettings.load({"ENRICHMENT_K8S_MEMORY_LIMIT": "lots"})
    with pytest.raises(ConfigError, match="ENRICHMENT_K8S_GPUS"):
        k8s.PodSettings.load({"ENRICHMENT_K8S_GPUS": "two"})


def test_gpus_set_both_the_pod_limit_and_the_pool_slots(cluster_env, monkeypatch):
    from airflow.sdk import DAG, task

    from enrichment_airflow.k8s_shards import POD_TASK_ID, launch_shards

    monkeypatch.setenv("ENRICHMENT_K8S_GPUS", "2")
    monkeypatch.setenv("ENRICHMENT_K8S_POOL", "a100_shards")
    with DAG("gpus", schedule=None, start_date=datetime(2026, 1, 1)) as dag:

        @task
        def detect() -> list[int]:
            return [0]

        @task
        def process_shard(shard: int) -> None:
            return None

        launch_shards(detect(), process_shard)
    op, pod, _ = _render(dag, 0)
    assert (op.pool, op.pool_slots) == ("a100_shards", 2)
    assert pod.spec.containers[0].resources.limits["nvidia.com/gpu"] == "2"
    assert dag.get_task(POD_TASK_ID).upstream_task_ids == {"detect", "choose_launcher"}


@pytest.mark.parametrize(
    ("env", "variable", "expected"),
    [
        ({}, None, "process_shard"),
        ({}, "kubernetes", "process_shard_pod"),
        ({"ENRICHMENT_EXECUTION": "local"}, "kubernetes", "process_shard"),
        ({"ENRICHMENT_EXECUTION": "Kubernetes"}, None, "process_shard_pod"),
    ],
)
def test_the_branch_chooses_the_launcher_from_env_then_variable(
    dag, monkeypatch, env, expected, variable
):
    monkeypatch.delenv("ENRICHMENT_EXECUTION", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if variable:
        monkeypatch.setenv("AIRFLOW_VAR_ENRICHMENT_EXECUTION", variable)
    assert dag.get_task("choose_launcher").python_callable() == expected
    assert dag.get_task(expected).downstream_task_ids == {"commit"}


def test_an_unknown_mode_names_both_setting_names():
    with pytest.raises(ConfigError, match="ENRICHMENT_EXECUTION .*enrichment_execution"):
        k8s.execution_mode({"ENRICHMENT_EXECUTION": "gpu"})


def test_connections_become_pod_environment_and_secrets(monkeypatch):
    from enrichment_airflow.k8s_shards import connection_secrets

    monkeypatch.setenv(
        "AIRFLOW_CONN_ENRICHMENT_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db.internal",
                "port": 5432,
                "login": "app",
                "password": "p@ss word",
                "schema": "catalog",
                "extra": {"sslmode": "require"},
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ENRICHMENT_S3",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIA123",
                "password": "secret/key",
                "extra": {
                    "region_name": "eu-west-1",
                    "endpoint_url": "https://minio.internal",
                    "pod_env": {"ENRICHMENT_OPENAI_API_KEY": "sk-1"},
                },
            }
        ),
    )
    secrets = connection_secrets(k8s.PodSettings())
    assert secrets["enrichment_db"] == {
        "ENRICHMENT_DATABASE_URL": "postgresql://app:p%40ss%20word@db.internal:5432/catalog?sslmode=require"
    }
    assert secrets["enrichment_s3"] == {
        "AWS_ACCESS_KEY_ID": "AKIA123",
        "AWS_SECRET_ACCESS_KEY": "secret/key",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "ENRICHMENT_S3_ENDPOINT_URL": "https://minio.internal",
        "ENRICHMENT_OPENAI_API_KEY": "sk-1",
    }
    manifest = k8s.secret_manifest("enrichment_s3", "gpu-jobs", secrets["enrichment_s3"])
    assert manifest["metadata"]["name"] == "enrichment-s3"
    assert manifest["stringData"]["AWS_ACCESS_KEY_ID"] == "AKIA123"

    socket = k8s.connection_env(
        ConnectionFields("db", "postgres", host="/run/pg", login="postgres", schema="x")
    )
    assert socket == {"ENRICHMENT_DATABASE_URL": "postgresql://postgres@/x?host=%2Frun%2Fpg"}

    with pytest.raises(ConfigError, match="'enrichment_gpu' does not exist"):
        connection_secrets(k8s.PodSettings(connections=("enrichment_db", "enrichment_gpu")))
    with pytest.raises(ConfigError, match="ENRICHMENT_DATABASE_URL"):
        connection_secrets(k8s.PodSettings(connections=("enrichment_s3",)))


def test_reembed_fill_slices_render_as_gpu_pods_running_the_local_fill_command(cluster_env):
    from airflow.dag_processing.dagbag import DagBag

    from tests.unit.dags.test_dag_integrity import DAGS

    path = next(p for p in DAGS if p.stem == "catalog_reembed")
    reembed = DagBag(dag_folder=str(path)).dags["catalog_reembed"]
    op = reembed.get_task("fill_pod").unmap({"shard": 1})
    params = {"kind": "image", "shards": 4, "switch": True, "drop_old": False}
    context = {**_context(reembed, 1), "params": params}
    op.render_template_fields(context)
    container = op.build_pod_request_obj(context).spec.containers[0]
    argv = airflow_tasks.reembed_fill_command(params, 1)
    assert container.command + container.args == argv
    assert argv[3:] == ["index", "fill", "--kind", "image", "--shard", "1", "--shards", "4"]
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    assert (op.pool, op.pool_slots) == ("gpu_shards", 1)
