# syntax=docker/dockerfile:1
# GPU shard worker: the image the Kubernetes shard pods run. Its entry point is the
# platform CLI; the pod passes `process-shard --run-id RUN --shard N`, the same command
# the local mode runs in-process. Build from the repository root:
#   docker build -f docker/worker.Dockerfile -t catalog-enrichment-worker:0.1.0 .
# torch (CUDA build) comes from the official PyTorch image; CLIP weights are fetched at
# build time, so pods never download anything at run time.
ARG BASE_IMAGE=pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

ARG CLIP_MODEL_ID=openai/clip-vit-base-patch32
ARG CLIP_MODEL_REVISION=main
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

WORKDIR /opt/enrichment
# The project's pins minus what the pod does not need: torch (the base image's CUDA
# build), Airflow and its providers, Great Expectations, the embedded PostgreSQL.
COPY requirements.txt ./
RUN grep -vE '^(torch|apache-airflow[a-z0-9-]*|great-expectations|pgserver)([=<>~!; ]|$)' requirements.txt \
        > requirements-worker.txt \
    && pip install -r requirements-worker.txt

COPY pyproject.toml README.md ./
COPY include/ include/
RUN pip install --no-deps . && rm -rf build include/*.egg-info

# CLIP weights into the image, then a check that the platform's own loader reads them offline.
RUN HF_HOME=/tmp/hf python -c "from transformers import AutoModel, AutoProcessor; \
m = AutoModel.from_pretrained('${CLIP_MODEL_ID}', revision='${CLIP_MODEL_REVISION}'); \
p = AutoProcessor.from_pretrained('${CLIP_MODEL_ID}', revision='${CLIP_MODEL_REVISION}'); \
m.save_pretrained('/models/clip'); p.save_pretrained('/models/clip')" \
    && rm -rf /tmp/hf \
    && HF_HUB_OFFLINE=1 python -c "from enrichment.clip_zero_shot import ClipModel; \
ClipModel.load('/models/clip', device='cpu')"

RUN useradd --create-home --uid 10001 --user-group enrichment \
    && mkdir -p /home/enrichment/data \
    && chown -R 10001:10001 /home/enrichment
ENV ENRICHMENT_CLIP_MODEL=/models/clip \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ENRICHMENT_DATA_DIR=/home/enrichment/data
USER 10001
WORKDIR /home/enrichment

ENTRYPOINT ["python", "-m", "enrichment"]
CMD ["--help"]
