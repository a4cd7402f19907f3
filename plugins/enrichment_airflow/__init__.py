"""Airflow-side code of the platform: DAG wiring shared by the DAG files, and UI plugins.

The ``plugins/`` folder is on Airflow's import path for the scheduler, the DAG processor
and the workers, so DAG files import this package. The platform logic itself lives in
the ``enrichment`` package, which never imports Airflow.
"""
