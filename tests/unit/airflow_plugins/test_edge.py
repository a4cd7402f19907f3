"""The Airflow edge: deterministic errors fail without retry, asset extras, alerts off."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "error",
    [
        "enrichment.runs.selection:SelectionError",
        "enrichment.config:ConfigError",
        "enrichment.runs.lifecycle:PastIntervalError",
        "enrichment.bluegreen.vector_versions:SwitchRefused",
    ],
)
def test_deterministic_errors_fail_at_once(error):
    import importlib

    from airflow.sdk.exceptions import AirflowFailException

    from enrichment_airflow.failfast import call

    module, name = error.split(":")
    exc_type = getattr(importlib.import_module(module), name)

    def step():
        raise exc_type("bad input")

    with pytest.raises(AirflowFailException, match=f"{name}: bad input"):
        call(step)


def test_transient_errors_keep_their_retries():
    from enrichment_airflow.failfast import call

    def step():
        raise ConnectionError("database went away")

    with pytest.raises(ConnectionError):
        call(step)
    assert call(lambda x: x + 1, 1) == 2


def test_asset_extras_carry_run_id_and_counts():
    from enrichment_airflow.assets import COMMIT_OUTLETS, asset_extras

    extras = asset_extras(
        {"run_id": "r1", "kind": "incremental", "retagged": 3, "tags_written": 9,
         "text_embedded": 2, "image_embedded": 0, "deleted": 1}
    )  # fmt: skip
    assert set(extras) == {a.name for a in COMMIT_OUTLETS}
    assert extras["catalog_tag_store"]["retagged"] == 3
    assert extras["catalog_text_vectors"] == {
        "run_id": "r1", "kind": "incremental", "upserted": 2, "deleted": 1
    }  # fmt: skip


def test_alerts_are_off_without_configuration_and_name_the_run():
    from enrichment_airflow.alerts import CatalogAlert, message

    CatalogAlert("failure", config={}).notify({})  # nothing configured: nothing sent
    subject, body = message({"exception": ValueError("boom")}, "failure")
    assert subject.startswith("[catalog] failure") and body["error"] == "boom"


def test_webhook_alert_posts_through_the_http_provider(monkeypatch):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = {"conn_type": "http", "host": "127.0.0.1", "port": server.server_port,
                "schema": "http"}  # fmt: skip
        monkeypatch.setenv("AIRFLOW_CONN_CATALOG_ALERTS", json.dumps(conn))
        from enrichment_airflow.alerts import CatalogAlert

        config = {"webhook_conn_id": "catalog_alerts", "webhook_endpoint": "/hook"}
        CatalogAlert("failure", config=config).notify({"exception": RuntimeError("shard 3 failed")})
    finally:
        server.shutdown()
    assert received and received[0]["error"] == "shard 3 failed"
    assert received[0]["event"] == "failure"
