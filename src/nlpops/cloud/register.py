"""A completed job's model, from S3 into a local model folder, its record completed with where it was trained.

The container saves the model as ``train.py`` does, with its record (``manifest.json``, ``nlpops.model_record``)
in ``/opt/ml/model/<MODEL_FOLDER>``; SageMaker uploads ``/opt/ml/model`` as ``model.tar.gz``. The record then
gains ``training_job``: job name, instances, spot savings and SageMaker's final metrics, so the folder registers
(``dvc add``, ``python -m nlpops.registry``) like a local run's.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from nlpops.cloud import aws
from nlpops.cloud.follow import final_metrics, spot_savings
from nlpops.cloud.jobs import MODEL_FOLDER
from nlpops.cloud.settings import split_s3_url
from nlpops.errors import UserError
from nlpops.utils.files import atomic_directory
from nlpops.utils.provenance import MANIFEST


def training_job_record(job: dict[str, Any]) -> dict[str, Any]:
    resources = job["ResourceConfig"]
    return {
        "name": job["TrainingJobName"],
        "arn": job.get("TrainingJobArn"),
        "instance_type": resources["InstanceType"],
        "instance_count": resources["InstanceCount"],
        "spot": bool(job.get("EnableManagedSpotTraining")),
        "spot_savings": spot_savings(job),
        "training_seconds": job.get("TrainingTimeInSeconds"),
        "billable_seconds": job.get("BillableTimeInSeconds"),
        "metrics": final_metrics(job),
        "image": job.get("AlgorithmSpecification", {}).get("TrainingImage"),
        "model_s3": job["ModelArtifacts"]["S3ModelArtifacts"],
    }


def download_model(job: dict[str, Any], target: Path, region: str) -> Path:
    """The job's model folder at ``target`` (replaced whole, only once it is complete)."""
    if job["TrainingJobStatus"] != "Completed":
        raise UserError(f"{job['TrainingJobName']} is {job['TrainingJobStatus']}: only a completed job has a model")
    bucket, key = split_s3_url(job["ModelArtifacts"]["S3ModelArtifacts"])
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch, "model.tar.gz")
        aws.client("s3", region).download_file(bucket, key, str(archive))
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        source = Path(scratch, MODEL_FOLDER)
        if not (source / MANIFEST).is_file():
            raise UserError(f"{key} holds no {MODEL_FOLDER}/{MANIFEST}: not a model this project's image trained")
        with atomic_directory(target) as folder:
            for item in source.iterdir():
                item.rename(folder / item.name)
            record = json.loads((folder / MANIFEST).read_text())
            record["training_job"] = training_job_record(job)
            (folder / MANIFEST).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return target
