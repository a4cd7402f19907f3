"""The demo: seed a catalogue, run ``catalog_incremental`` through Airflow, mutate one day,
run it again, and show both run summaries and the platform status.

Everything runs on the embedded PostgreSQL; the two runs are real Airflow DAG runs
(``airflow dags test``), with task logs kept under ``$ENRICHMENT_DATA_DIR/demo-logs``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable

from enrichment.cdc import install as cdc
from enrichment.config import Settings, load_settings
from enrichment.db import connection as db
from enrichment.db import schema
from enrichment.demo import catalog as demo_catalog
from enrichment.orchestration import local_airflow
from enrichment.quality.evaluate import quality_summary_text
from enrichment.quality.records import recorded_result
from enrichment.runs import lifecycle as runs
from enrichment.runs.status import platform_status

DAG_ID = "catalog_incremental"
BROKEN_RATE = 0.003  # "a few broken images": under the 0.5 % quarantine threshold
# demo mutation kind -> the change class the platform must detect for it
EXPECTED_CLASS = {
    "price_stock": "metadata_only",
    "text": "text_changed",
    "image": "image_changed",
    "new": "new",
    "soft_delete": "deleted",
    "hard_delete": "deleted",
}


def _latest_summary(settings: Settings) -> dict | None:
    with db.connect(db.database_url(settings)) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT summary FROM {settings.state_schema}.runs WHERE status = "
            "'committed' ORDER BY committed_at DESC LIMIT 1"
        )
        row = cur.fetchone()
    return row[0] if row else None


def reset_platform(settings: Settings) -> None:
    """Drop the platform state and shard files so the demo starts from nothing."""
    url = db.database_url(settings)
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {settings.state_schema} CASCADE")
    if "://" not in settings.shard_store:
        shutil.rmtree(settings.shard_store, ignore_errors=True)
    schema.upgrade(url, settings.state_schema)


def _airflow_run(env: dict, log_name: str, settings: Settings, say: Callable) -> dict:
    logs = settings.data_dir / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = local_airflow.dags_test(DAG_ID, env, quiet=True)
    (logs / log_name).write_text(result.stdout + "\n" + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise RuntimeError(f"airflow dags test {DAG_ID} failed ({logs / log_name}):\n{tail}")
    summary = _latest_summary(settings)
    say(
        f"  Airflow run finished in {time.monotonic() - started:.0f} s "
        f"(task logs: {logs / log_name})"
    )
    say(runs.format_summary(summary))
    quality = recorded_result(summary["run_id"], settings=settings)
    if quality is not None:
        say(quality_summary_text(quality))
    return summary


def run_demo(products: int = 2000, *, seed: int = 42, say: Callable = print) -> dict:
    """Run the whole demo; returns both summaries, the mutation and the final status."""
    settings = load_settings()
    url = db.database_url(settings)
    say(f"== Setting up the embedded PostgreSQL and platform schema ({settings.pg_dir})")
    reset_platform(settings)
    say(f"== Seeding a demo catalogue of {products} products with rendered photos")
    with db.connect(url) as conn:
        seeded = demo_catalog.seed(
            conn,
            products=products,
            image_root=settings.image_root,
            schema=settings.source_schema,
            seed=seed,
            reset=True,
            broken_rate=BROKEN_RATE,
        )
    cdc.install(settings)  # the demo mapping, through the configured capture mode
    say(
        "   "
        + json.dumps(
            {k: v for k, v in seeded.items() if not isinstance(v, (list, dict))}, default=str
        )
    )
    env = local_airflow.airflow_env(settings)
    say("== Preparing Airflow's metadata database")
    local_airflow.migrate(env)

    say(f"== Run 1: {DAG_ID} (everything is new)")
    first = _airflow_run(env, "run1.log", settings, say)

    say("== One day of catalogue changes")
    with db.connect(url) as conn:
        mutation = demo_catalog.mutate(
            conn, image_root=settings.image_root, schema=settings.source_schema, seed=seed + 1
        )
    say("   " + json.dumps(mutation["counts"]))

    say(f"== Run 2: {DAG_ID} (only what changed)")
    second = _airflow_run(env, "run2.log", settings, say)

    status = platform_status(settings)
    say("== Platform status (python -m enrichment status --json)")
    say(json.dumps(status, indent=1, default=str))
    checks = demo_checks(status, second, mutation, detected_skus(settings, second["run_id"]))
    for name, ok in checks.items():
        say(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    return {
        "first": first,
        "second": second,
        "mutation": mutation,
        "status": status,
        "checks": checks,
    }


def detected_skus(settings: Settings, run_id: str) -> dict[str, set[str]]:
    """SKUs of each change class in a run's change set."""
    with db.connect(db.database_url(settings)) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT change_class, sku FROM {settings.state_schema}.run_items WHERE run_id = %s",
            (run_id,),
        )
        out: dict[str, set[str]] = {}
        for cls, sku in cur.fetchall():
            out.setdefault(cls, set()).add(sku)
    return out


def demo_checks(
    status: dict, second: dict, mutation: dict, detected: dict[str, set[str]]
) -> dict[str, bool]:
    """What the demo promises, checked on its own results."""
    active = status["products_active"] or 1
    changed = second["changes"]
    expected: dict[str, set[str]] = {}
    for kind, skus in mutation["skus"].items():
        expected.setdefault(EXPECTED_CLASS[kind], set()).update(skus)
    return {
        "run 2 detected exactly the SKUs the day changed, each in its class": expected == detected,
        f"tagged_active / products_active = {status['tagged_active'] / active:.3f} >= 0.98": status[
            "tagged_active"
        ]
        / active
        >= 0.98,
        "vectors_active == products_active": status["vectors_active"] == active,
        "no orphan tags or vectors": status["orphan_tags"] == 0 == status["orphan_vectors"],
        "metadata-only changes were not re-embedded or re-tagged": second["text_embedded"]
        + second.get("image_embedded", 0)
        <= sum(
            changed.get(k, 0)
            for k in ("new", "text_changed", "image_changed", "image_and_text_changed")
        )
        and second["retagged"]
        == sum(
            changed.get(k, 0)
            for k in ("new", "text_changed", "image_changed", "image_and_text_changed")
        ),
        "deletes propagated": second["deleted"] == changed.get("deleted", 0) > 0,
    }
