"""DAG integrity: every DAG imports, parsing touches no database, connection or Variable,
and every DAG declares owner, tags and retries."""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import pytest

from tests.paths import DAGS_DIR

DAGS = sorted((DAGS_DIR).glob("*.py"))
pytestmark = pytest.mark.unit


def _dags_from(path: Path):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    return list(bag.dags.values())


def test_there_are_dags():
    assert {p.stem for p in DAGS} >= {"catalog_incremental"}


@pytest.mark.parametrize("path", DAGS, ids=lambda p: p.stem)
def test_dag_parses_without_db_connection_or_variable(path):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"parse-time access: {args!r}")

    import psycopg2

    heavy_before = {
        m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules
    }
    with (
        mock.patch.object(psycopg2, "connect", forbidden),
        mock.patch("airflow.sdk.Variable.get", forbidden),
        mock.patch("airflow.sdk.BaseHook.get_connection", forbidden),
    ):
        dags = _dags_from(path)
    assert dags, f"{path.name} defines no DAG"
    heavy_after = {
        m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules
    }
    assert heavy_after <= heavy_before, f"{path.name} imports heavy modules at parse time"


@pytest.mark.parametrize("path", DAGS, ids=lambda p: p.stem)
def test_dag_has_owner_tags_retries_and_docs(path):
    for dag in _dags_from(path):
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md, f"{dag.dag_id} has no doc_md"
        for t in dag.tasks:
            assert t.owner and t.owner != "airflow", f"{dag.dag_id}.{t.task_id} has no owner"
            assert t.retries >= 1, f"{dag.dag_id}.{t.task_id} has no retries"
            assert t.retry_exponential_backoff, f"{dag.dag_id}.{t.task_id}: no backoff"


@pytest.mark.parametrize("path", DAGS, ids=lambda p: p.stem)
def test_only_fields_that_always_hold_a_value_are_marked_required(path):
    """Airflow's form marks a field required unless its type includes "null": a switch
    or an optional field marked so blocks the selections that leave it empty."""
    for dag in _dags_from(path):
        for name, param in dag.params.items():
            kind = param.schema.get("type")
            kinds = kind if isinstance(kind, list) else [kind]
            if kind is None or "null" in kinds:
                continue
            assert "boolean" not in kinds, f"{dag.dag_id}: switch {name!r} shows as required"
            assert param.value not in (None, "", []), (
                f"{dag.dag_id}: {name!r} shows as required with no default"
            )
