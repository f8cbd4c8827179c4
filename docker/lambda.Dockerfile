# syntax=docker/dockerfile:1.7
# The AWS Lambda image: AWS's Python base image (runtime interface client included) + the serving stack and
# one task's model artifact; the handler is nlpops.serving.lambda_handler.handler, which serves the route of the
# artifact's task. CD builds one image per task from the repository root after `dvc pull export@<task>` and
# pushes each to the task's ECR repository:
#   docker buildx build --platform linux/amd64 --provenance=false -f docker/lambda.Dockerfile -t nlpops-lambda .
#   docker buildx build ... --build-arg NLPOPS_ARTIFACT=models/ner-onnx -t nlpops-lambda-ner .
# (Lambda takes a single-platform Docker v2 or OCI manifest: no provenance attestation index.)
#checkov:skip=CKV_DOCKER_2:Lambda runs no Docker HEALTHCHECK; the Runtime API reports init and invoke errors
#checkov:skip=CKV_DOCKER_3:Lambda runs the image as its own non-root sandbox user whatever USER says
FROM public.ecr.aws/lambda/python:3.12.2026.06.13.12-x86_64 AS base

# --- build: the package wheel, and the artifact reduced to the one model served (checksums verified) ---
FROM base AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels .
# the exported artifact to serve, a folder of the build context: text classification unless told otherwise
ARG NLPOPS_ARTIFACT=models/text-classifier-onnx
COPY ${NLPOPS_ARTIFACT}/ /artifact/
ARG NLPOPS_VARIANT=int8
RUN PYTHONPATH=src python -m nlpops.deploy package /artifact /model --variant "${NLPOPS_VARIANT}"

# --- the image ---
FROM base
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# 1. third-party dependencies (the `serve` extra, versions from constraints.txt): rebuilt only when those change.
#    Not the `lambda` extra: its awslambdaric is already in the base image.
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=docker/requirements.py,target=/tmp/build/requirements.py \
    --mount=type=bind,source=pyproject.toml,target=/tmp/build/pyproject.toml \
    --mount=type=bind,source=constraints.txt,target=/tmp/build/constraints.txt \
    python /tmp/build/requirements.py /tmp/build/pyproject.toml serve > /tmp/build-requirements.txt \
    && pip install -r /tmp/build-requirements.txt -c /tmp/build/constraints.txt \
    && rm /tmp/build-requirements.txt
# 2. the model (changes when it is retrained), then 3. the package (changes with every commit)
COPY --from=build /model ${LAMBDA_TASK_ROOT}/model
RUN --mount=type=bind,from=build,source=/wheels,target=/tmp/wheels \
    pip install --no-cache-dir --no-deps /tmp/wheels/nlpops-*.whl
ARG NLPOPS_VARIANT=int8
# checksums were verified when the model was packaged; the image digest covers the files since
ENV NLPOPS_ARTIFACT_DIR=${LAMBDA_TASK_ROOT}/model \
    NLPOPS_VARIANT=${NLPOPS_VARIANT} \
    NLPOPS_VERIFY_CHECKSUMS=false
CMD ["nlpops.serving.lambda_handler.handler"]
