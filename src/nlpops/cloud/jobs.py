"""The ``create_training_job`` request for a run of ``train.py`` on SageMaker (a pure function of the options).

The container reads back what is set here (``nlpops.cloud.container``): the Hydra overrides as the
``overrides`` hyperparameter (SageMaker hyperparameters are a str→str map, so the list travels as JSON), the
data file's name as ``data_file`` (the channel holds the DVC remote's content-addressed object, named by its
hash), and the synced checkpoint folder a spot replacement resumes from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from nlpops.errors import UserError

CHANNEL = "training"
CHECKPOINT_PATH = "/opt/ml/checkpoints"
OVERRIDES = "overrides"  # hyperparameter: the JSON list of Hydra overrides
DATA_FILE = "data_file"  # hyperparameter: the data file's own name (its suffix says how to read it)
MODEL_FOLDER = "model"  # /opt/ml/model/model: a folder train.py may replace (/opt/ml/model itself is a mount)
# ml.<family>.<size>, for the families that train: general purpose, compute, memory, GPU and Trainium
INSTANCE_TYPE = re.compile(r"ml\.(?P<family>[a-z]+\d+[a-z]*)\.(?P<size>medium|large|\d*xlarge|metal)")
TRAINING_FAMILIES = frozenset(
    {"m4", "m5", "m5d", "m6i", "m7i", "c4", "c5", "c5n", "c6i", "c7i", "r5", "r5d"}
    | {"g4dn", "g5", "g6", "g6e", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "trn1", "trn1n"}
)
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


@dataclass(frozen=True)
class JobOptions:
    """What the user chose: where and how long to run, on spot or not."""

    instance_type: str
    instance_count: int = 1
    volume_gb: int = 30
    max_run: int = 24 * 3600
    spot: bool = False
    max_wait: int | None = None  # spot only: run time plus time waiting for capacity

    def check(self) -> None:
        """The options' own errors, found before anything that needs the config or AWS."""
        self.stopping_condition()
        self.resource_config()

    def stopping_condition(self) -> dict[str, int]:
        """``MaxRuntimeInSeconds``, and for spot ``MaxWaitTimeInSeconds`` (≥ the run time, as SageMaker requires)."""
        condition = {"MaxRuntimeInSeconds": self.max_run}
        if self.max_wait is not None and not self.spot:
            raise UserError("--max-wait is the longest a spot job may wait and run: it needs --spot")
        if self.spot:
            wait = self.max_wait if self.max_wait is not None else 2 * self.max_run
            if wait < self.max_run:
                raise UserError(
                    f"--max-wait {wait} is shorter than --max-run {self.max_run}: a spot job waits for capacity "
                    "and then runs, so its max wait must be at least its max run"
                )
            condition["MaxWaitTimeInSeconds"] = wait
        return condition

    def resource_config(self) -> dict[str, Any]:
        return {
            "InstanceType": check_instance_type(self.instance_type),
            "InstanceCount": self.instance_count,
            "VolumeSizeInGB": self.volume_gb,
        }


def check_instance_type(name: str) -> str:
    match = INSTANCE_TYPE.fullmatch(name)
    if match is None or match["family"] not in TRAINING_FAMILIES:
        families = ", ".join(sorted(TRAINING_FAMILIES))
        raise UserError(f"unknown instance type {name!r}: expected ml.FAMILY.SIZE, e.g. ml.g5.xlarge ({families})")
    return name


def job_name(prefix: str, given: str | None = None, now: datetime | None = None, limit: int = 63) -> str:
    """``given``, or ``PREFIX-YYYYmmdd-HHMMSS``; SageMaker's rule: letters, digits and hyphens, at most ``limit``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    name = given or f"{prefix}-{stamp}"
    if len(name) > limit or not JOB_NAME.fullmatch(name):
        raise UserError(f"job name {name!r}: letters, digits and single hyphens, at most {limit} characters")
    return name


def hyperparameters(overrides: list[str], data_file: str) -> dict[str, str]:
    """The overrides and the data file's name (the channel holds its content under its hash)."""
    return {OVERRIDES: json.dumps(overrides), DATA_FILE: PurePosixPath(data_file).name}


def definition(
    *,
    image: str,
    role_arn: str,
    options: JobOptions,
    data_url: str,
    output_prefix: str,
    checkpoint_uri: str,
    metric_definitions: list[dict[str, str]],
) -> dict[str, Any]:
    """What a training job and a tuning job's training jobs share: image, role, data, resources, limits."""
    return {
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions,
        },
        "RoleArn": role_arn,
        "InputDataConfig": [
            {
                "ChannelName": CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": data_url,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_prefix},
        "ResourceConfig": options.resource_config(),
        "StoppingCondition": options.stopping_condition(),
        "EnableManagedSpotTraining": options.spot,
        "CheckpointConfig": {"S3Uri": checkpoint_uri, "LocalPath": CHECKPOINT_PATH},
    }


def training_job_request(name: str, job: dict[str, Any], hyper: dict[str, str]) -> dict[str, Any]:
    """``create_training_job``'s arguments: the shared ``definition`` under a name, with its hyperparameters."""
    return {"TrainingJobName": name, **job, "HyperParameters": hyper}
