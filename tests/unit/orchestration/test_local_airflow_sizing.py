"""`make airflow` is sized to the machine, and explicit settings win."""

from __future__ import annotations

import pytest

from enrichment.orchestration import local_airflow

pytestmark = pytest.mark.unit


def test_a_two_core_machine_gets_four_task_processes_not_thirty_two():
    sizes = local_airflow.sizing(2)
    assert sizes["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert sizes["AIRFLOW__API__WORKERS"] == "1"
    assert sizes["AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES"] == "1"
    assert local_airflow.sizing(16)["AIRFLOW__CORE__PARALLELISM"] == "32"


def test_sizing_names_real_airflow_options():
    from airflow.configuration import conf

    for key in local_airflow.sizing(2):
        section, option = key.removeprefix("AIRFLOW__").lower().split("__")
        assert conf.has_option(section, option), key
