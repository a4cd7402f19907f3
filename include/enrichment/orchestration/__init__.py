"""What the Airflow DAG tasks call, in plain Python: run bounds, tasks, pod settings."""
