"""Shard manifests and results on S3 (a local moto server), and the pod's command end to end.

The end-to-end test renders the GPU pod of shard 0 from the real DAG, then runs that
pod's exact command as a subprocess with the pod's environment: its literal variables
plus the values of the Secrets it references, which are what the Airflow connections
turn into. Only the image's own variables are added (data folder, offline hub);
``ENRICHMENT_CLIP_MODEL`` is left unset so the shard is tagged without CLIP by
configuration, not by a flag.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest

from enrichment.db import connection as db
from enrichment.orchestration import pods as k8s
from enrichment.orchestration import tasks as airflow_tasks
from enrichment.runs import lifecycle as runs
from enrichment.runs.errors import RunError
from enrichment.runs.shard_store import ShardStore, result_name, safe_run_id
from enrichment.runs.status import platform_status
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration

BUCKET = "enrichment-shards"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 with a versioned bucket (versions count the writes)."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    yield url
    server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ENRICHMENT_S3_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)


def _versions(client, prefix: str) -> Counter:
    """How many times each key under ``prefix`` was written."""
    out = client.list_object_versions(Bucket=BUCKET, Prefix=prefix)
    return Counter(v["Key"] for v in out.get("Versions", []))


def test_a_shard_result_overwrite_touches_only_that_result(s3, s3_endpoint):
    store = ShardStore(f"s3://{BUCKET}/store-test", s3_endpoint_url=s3_endpoint)
    for shard in (0, 1):
        store.write_manifest("run:1", shard, [{"sku": f"S{shard}"}])
        store.write_result("run:1", shard, {"status": "ok", "shard": shard, "attempt": 1})
    before = _versions(s3, "store-test/")
    assert set(before.values()) == {1} and len(before) == 4

    store.write_result("run:1", 0, {"status": "ok", "shard": 0, "attempt": 2})
    after = _versions(s3, "store-test/")
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {f"store-test/{result_name('run:1', 0)}"}
    assert store.read_result("run:1", 0)["attempt"] == 2
    assert store.read_result("run:1", 1)["attempt"] == 1
    assert store.read_manifest("run:1", 1) == [{"sku": "S1"}]
    assert store.read_result("run:1", 7) is None
    with pytest.raises(FileNotFoundError, match="was the detect step run") as missing:
        store.read_manifest("run:1", 7)
    assert isinstance(missing.value, RunError)  # the CLI prints it as an error, no traceback


def _connections(monkeypatch, settings, s3_endpoint: str) -> None:
    """The two Airflow connections the pods get their credentials from."""
    url = urlparse(db.database_url(settings))
    socket_dir = parse_qs(url.query)["host"][0]
    monkeypatch.setenv(
        "AIRFLOW_CONN_ENRICHMENT_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": socket_dir,
                "login": url.username or "postgres",
                "schema": url.path.lstrip("/"),
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_ENRICHMENT_S3",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"region_name": "us-east-1", "endpoint_url": s3_endpoint},
            }
        ),
    )


def _snapshot(cat: Catalog) -> tuple:
    tags = cat.sql(
        "SELECT sku, attribute, value, confidence, run_id, updated_at "
        "FROM enrichment.tags ORDER BY 1, 2, 3"
    )
    [index] = cat.sql("SELECT name FROM enrichment.vector_indexes WHERE kind = 'text'")
    vectors = cat.sql(
        f"SELECT sku, content_hash, updated_at FROM enrichment.vec_{index[0]} ORDER BY 1"
    )
    return tags, vectors


def test_the_rendered_pod_command_processes_its_shard_from_s3(
    platform_db, s3, s3_endpoint, monkeypatch, tmp_path
):
    from airflow.dag_processing.dagbag import DagBag

    from enrichment_airflow.k8s_shards import connection_secrets
    from tests.unit.dags.test_dag_integrity import DAGS

    monkeypatch.setenv("ENRICHMENT_SHARD_STORE", f"s3://{BUCKET}/runs")
    cat = Catalog(platform_db)
    cat.add("A", "Classic red cotton tee", "red")
    cat.add("B", "Summer dress", "blue", category="Dresses")
    cat.add("C", "Wool hat", "black", category="Hats")
    _connections(monkeypatch, platform_db, s3_endpoint)

    bag = DagBag(dag_folder=str(next(p for p in DAGS if p.stem == "catalog_incremental")))
    dag = bag.dags["catalog_incremental"]
    dag_run = SimpleNamespace(
        dag_id=dag.dag_id, run_id="scheduled__2026-03-02T00:00:00+00:00", run_after=None, conf={}
    )
    context = {
        "dag": dag,
        "dag_run": dag_run,
        "run_id": dag_run.run_id,
        "params": {},
        "data_interval_end": cat.now(),
        "logical_date": None,
        "ti": SimpleNamespace(
            dag_id=dag.dag_id, task_id="process_shard_pod", map_index=0, try_number=1
        ),
    }
    assert airflow_tasks.detect(context) == [0]
    run_id = airflow_tasks.run_id_from(context)
    prefix = f"runs/{safe_run_id(run_id)}/"
    assert list(_versions(s3, prefix)) == [f"{prefix}manifest-00000.jsonl"]

    op = dag.get_task("process_shard_pod").unmap({"shard": 0})
    op.render_template_fields(context)
    container = op.build_pod_request_obj(context, dry_run=True).spec.containers[0]
    argv = container.command + container.args
    assert argv == airflow_tasks.process_shard_command(context, 0)

    secrets = {k8s.secret_name(c): env for c, env in connection_secrets(op.pod_settings).items()}
    pod_env = {e.name: e.value for e in container.env}
    for ref in container.env_from:
        pod_env.update(secrets[ref.secret_ref.name])
    image_env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ENRICHMENT_DATA_DIR": str(tmp_path / "pod-data"),
    }
    assert "ENRICHMENT_CLIP_MODEL" not in pod_env

    def run_pod_command() -> None:
        done = subprocess.run(
            argv,
            env={**image_env, **pod_env},
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    run_pod_command()
    result = ShardStore(f"s3://{BUCKET}/runs", s3_endpoint_url=s3_endpoint).read_result(run_id, 0)
    assert result["status"] == "ok" and result["clip_enabled"] is False
    assert result["counts"]["items"] == 3 and result["counts"]["items_tagged"] == 3
    assert result["counts"]["text_vectors_upserted"] == 3
    tags, vectors = _snapshot(cat)
    assert {t[0] for t in tags} == {"A", "B", "C"}
    assert ("A", "color", "red") in {t[:3] for t in tags}
    assert [v[0] for v in vectors] == ["A", "B", "C"]
    writes = _versions(s3, prefix)
    assert writes == {f"{prefix}manifest-00000.jsonl": 1, f"{prefix}result-00000.json": 1}

    run_pod_command()  # the same pod again (a retry or a cleared task): nothing changes
    assert _snapshot(cat) == (tags, vectors)
    assert _versions(s3, prefix) == writes

    summary = runs.commit(run_id)  # the commit step reads the result from S3
    assert summary["processed"] == 3
    status = platform_status(platform_db)
    assert status["tagged_active"] == 3 and status["vectors_active"] == 3
