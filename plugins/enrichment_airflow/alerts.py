"""Failure and deadline alerts through Airflow's notifier interface, off by default.

Configured in one place, the Airflow Variable ``enrichment_alerts`` (JSON)::

    {"email": ["catalog-oncall@example.com"], "smtp_conn_id": "smtp_default",
     "from_email": "airflow@example.com", "webhook_conn_id": "catalog_alerts_webhook",
     "webhook_endpoint": "/hooks/catalog"}

``email`` sends through the SMTP provider's :class:`SmtpNotifier`; ``webhook_conn_id``
POSTs a JSON message through the HTTP provider's hook (an ``http`` connection: host,
port, ``schema`` http/https; ``webhook_endpoint`` is the path). Without the Variable nothing is sent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference
from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)

VARIABLE = "enrichment_alerts"
DAILY_DEADLINE = timedelta(hours=6)


def alert_config() -> dict:
    """The ``enrichment_alerts`` Variable as a dict ({} when unset: alerts off)."""
    from airflow.sdk import Variable

    value = Variable.get(VARIABLE, default=None, deserialize_json=True)
    return value if isinstance(value, dict) else {}


def message(context: dict, event: str) -> tuple[str, dict]:
    """Subject and JSON body of an alert for ``event`` (failure, deadline)."""
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    body = {
        "event": event,
        "dag_id": dag_id,
        "run_id": getattr(dag_run, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "try_number": getattr(ti, "try_number", None),
        "error": str(context.get("exception") or context.get("reason") or ""),
    }
    what = f"{dag_id}.{body['task_id']}" if body["task_id"] else dag_id
    return f"[catalog] {event}: {what} ({body['run_id']})", body


class CatalogAlert(BaseNotifier):
    """Sends a failure or deadline alert by e-mail and/or webhook, per ``enrichment_alerts``."""

    template_fields = ()

    def __init__(self, event: str = "failure", config: dict | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.event = event
        self.config = config

    def notify(self, context: Any) -> None:
        config = self.config if self.config is not None else alert_config()
        if not config:
            return
        subject, body = message(dict(context), self.event)
        if config.get("email"):
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            html = "<br>".join(f"<b>{k}</b>: {v}" for k, v in body.items())
            SmtpNotifier(
                to=config["email"],
                from_email=config.get("from_email"),
                smtp_conn_id=config.get("smtp_conn_id"),
                subject=subject,
                html_content=html,
            ).notify(context)
        if config.get("webhook_conn_id"):
            from airflow.providers.http.hooks.http import HttpHook

            hook = HttpHook(method="POST", http_conn_id=config["webhook_conn_id"])
            hook.run(endpoint=config.get("webhook_endpoint"), json={"text": subject, **body})
        log.info("sent %s alert: %s", self.event, subject)

    async def async_notify(self, context: Any) -> None:
        await asyncio.to_thread(self.notify, context)


def daily_deadline() -> DeadlineAlert | None:
    """Alert when a daily run has not finished ``DAILY_DEADLINE`` after it was queued.

    None when ``ENRICHMENT_AIRFLOW_DEADLINES=off``: ``dag.test()`` / ``airflow dags test``
    (Airflow 3.3) fail on a DAG with a deadline (the in-memory run looks the alert up
    by id), so local test runs parse the DAGs with it off.
    """
    from enrichment.config.airflow import AirflowSettings

    if not AirflowSettings.from_env().deadlines:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=DAILY_DEADLINE,
        callback=AsyncCallback(CatalogAlert, kwargs={"event": "deadline missed"}),
    )
