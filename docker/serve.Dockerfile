# syntax=docker/dockerfile:1.7
# The API server: ONNX Runtime + tokenizers + FastAPI and the model artifact, no torch. Build from the
# repository root once models/text-classifier-onnx exists (`python export.py` or `dvc pull export`):
#   docker build -f docker/serve.Dockerfile -t nlpops-serve .
#   docker run --rm -p 127.0.0.1:8000:8000 nlpops-serve          (or: docker compose -f docker/compose.yaml up)
# Settings are the server's NLPOPS_* variables (docker run -e NLPOPS_INFERENCE_THREADS=4 ...).
FROM python:3.12.12-slim-bookworm@sha256:593bd06efe90efa80dc4eee3948be7c0fde4134606dd40d8dd8dbcade98e669c AS base

# --- build: the package wheel, and the artifact reduced to the one model served (checksums verified) ---
FROM base AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels .
COPY models/text-classifier-onnx/ /artifact/
ARG NLPOPS_VARIANT=int8
RUN PYTHONPATH=src python -m nlpops.deploy package /artifact /model --variant "${NLPOPS_VARIANT}"

# --- the image ---
FROM base
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# 1. third-party dependencies (the `serve` extra, versions from constraints.txt): rebuilt only when those change
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=docker/requirements.py,target=/tmp/build/requirements.py \
    --mount=type=bind,source=pyproject.toml,target=/tmp/build/pyproject.toml \
    --mount=type=bind,source=constraints.txt,target=/tmp/build/constraints.txt \
    python /tmp/build/requirements.py /tmp/build/pyproject.toml serve > /tmp/build-requirements.txt \
    && pip install -r /tmp/build-requirements.txt -c /tmp/build/constraints.txt \
    && rm /tmp/build-requirements.txt
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin nlpops
# 2. the model (changes when it is retrained), then 3. the package (changes with every commit)
COPY --from=build /model /opt/nlpops/model
RUN --mount=type=bind,from=build,source=/wheels,target=/tmp/wheels \
    pip install --no-cache-dir --no-deps /tmp/wheels/nlpops-*.whl
ARG NLPOPS_VARIANT=int8
# checksums were verified when the model was packaged; the image digest covers the files since
ENV NLPOPS_ARTIFACT_DIR=/opt/nlpops/model \
    NLPOPS_VARIANT=${NLPOPS_VARIANT} \
    NLPOPS_VERIFY_CHECKSUMS=false \
    NLPOPS_HOST=0.0.0.0 \
    NLPOPS_PORT=8000
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2)"]
CMD ["python", "-m", "nlpops.serving"]
