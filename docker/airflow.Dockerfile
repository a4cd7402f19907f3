# syntax=docker/dockerfile:1
# Airflow image (API server, scheduler, DAG processor, triggerer; LocalExecutor workers)
# with the project's DAGs, plugins and the `enrichment` package. It mirrors the
# repository layout under /opt/airflow (dags/, plugins/, include/, airflow_settings.yaml).
# Build from the repository root:
#   docker build -f docker/airflow.Dockerfile -t catalog-enrichment-airflow:0.1.0 .
# The Airflow version of the base image must match the apache-airflow pin in requirements.txt.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
# The CPU build of the pinned torch (local mode runs shards in the worker; GPU work runs
# in the worker image's pods), then every other pin.
RUN pip install "$(grep -E '^torch==' /opt/airflow/requirements.txt)" \
        --index-url https://download.pytorch.org/whl/cpu \
    && pip install -r /opt/airflow/requirements.txt

COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 airflow_settings.yaml /opt/airflow/airflow_settings.yaml
ENV PYTHONPATH=/opt/airflow/include \
    ENRICHMENT_DATA_DIR=/opt/airflow/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
RUN mkdir -p /opt/airflow/data && python -m enrichment --help > /dev/null
