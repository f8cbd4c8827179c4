# syntax=docker/dockerfile:1.7
# Training, evaluation and export: torch + Lightning + Hydra + ONNX + DVC, the configs and the entry points.
# CPU torch by default. For NVIDIA GPUs pick a CUDA build of torch (any that download.pytorch.org has for
# this torch version): the CUDA runtime and cuDNN come inside torch's wheels, the driver from the host
# through the NVIDIA Container Toolkit, so the base image stays the same.
#   docker build -f docker/train.Dockerfile -t nlpops-train .
#   docker build -f docker/train.Dockerfile --build-arg TORCH_VARIANT=cu128 -t nlpops-train:cuda .
#   docker run --rm -v "$PWD/models:/app/models" -v "$PWD/logs:/app/logs" nlpops-train python train.py trainer.max_epochs=5
#   docker run --rm --gpus all ... nlpops-train:cuda python train.py trainer=gpu
# On AWS SageMaker (python -m nlpops.cloud, docs/cloud-setup.md) the same image runs as `docker run IMAGE train`:
# `train` on PATH is the entry point of SageMaker's contract (python -m nlpops.cloud.container), which reads
# /opt/ml and runs train.py's config with the job's overrides.
# It runs as uid 10001: on a Linux host let that uid write the mounted folders, or add --user "$(id -u)" -e HOME=/tmp.
#checkov:skip=CKV_DOCKER_2:a batch job (train, eval, export) that exits when done: no service to health-check
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS base

# --- build: the package wheel ---
FROM base AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels .

# --- the image ---
FROM base
ARG TORCH_VARIANT=cpu
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# 1. torch and everything training, export and DVC use (versions from constraints.txt; torch's build from
#    PyTorch's index: its local version, e.g. 2.13.0+cpu, ranks above PyPI's 2.13.0)
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=docker/requirements.py,target=/tmp/build/requirements.py \
    --mount=type=bind,source=pyproject.toml,target=/tmp/build/pyproject.toml \
    --mount=type=bind,source=constraints.txt,target=/tmp/build/constraints.txt \
    python /tmp/build/requirements.py /tmp/build/pyproject.toml train export dvc > /tmp/build-requirements.txt \
    && pip install --extra-index-url "https://download.pytorch.org/whl/${TORCH_VARIANT}" \
        -r /tmp/build-requirements.txt -c /tmp/build/constraints.txt \
    && rm /tmp/build-requirements.txt
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin nlpops
WORKDIR /app
# 2. configs and entry points, then 3. the package
COPY configs/ configs/
COPY *.py ./
RUN --mount=type=bind,from=build,source=/wheels,target=/tmp/wheels \
    pip install --no-cache-dir --no-deps /tmp/wheels/nlpops-*.whl \
    && mkdir data logs models && chown nlpops:nlpops data logs models
# SageMaker's `train` command, and the /opt/ml folders it mounts, writable by the user the job runs as
RUN printf '#!/bin/sh\nexec python -m nlpops.cloud.container train "$@"\n' > /usr/local/bin/train \
    && chmod 755 /usr/local/bin/train \
    && mkdir -p /opt/ml/model /opt/ml/checkpoints /opt/ml/output/data \
    && chown -R nlpops:nlpops /opt/ml
USER 10001
CMD ["python", "train.py"]
