"""Catalog enrichment platform: incremental product tagging and embeddings.

The package holds all the logic; Airflow DAG files under ``dags/`` only wire its
functions into tasks. Nothing here imports Airflow.
"""

__version__ = "0.1.0"
