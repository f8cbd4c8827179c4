"""A moto account holding what infra/sagemaker.tf and CD leave: the bucket, the train image, the role."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "eu-west-1"  # deploy.env's
BUCKET = "nlpops-artifacts"
REPOSITORY = "nlpops-train"
TAG = "v1"
ROLE_ARN = "arn:aws:iam::123456789012:role/nlpops-sagemaker"


def push_image(ecr: Any, repository: str, tag: str) -> None:
    """What `docker push` leaves in ECR: an image manifest under a tag."""
    digest = "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    config = {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": digest}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    manifest |= {"config": config, "layers": [config | {"digest": digest[:-4] + "abcd"}]}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


@dataclass
class Account:
    sagemaker: Any
    s3: Any
    logs: Any

    @classmethod
    def create(cls) -> Account:
        ecr = boto3.client("ecr", region_name=REGION)
        ecr.create_repository(repositoryName=REPOSITORY)
        push_image(ecr, REPOSITORY, TAG)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        return cls(boto3.client("sagemaker", region_name=REGION), s3, boto3.client("logs", region_name=REGION))

    def training_jobs(self) -> list[str]:
        return [job["TrainingJobName"] for job in self.sagemaker.list_training_jobs()["TrainingJobSummaries"]]

    def tuning_jobs(self) -> list[str]:
        listed = self.sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
        return [job["HyperParameterTuningJobName"] for job in listed]
