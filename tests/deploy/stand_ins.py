"""Stand-ins for what a release talks to: the stack infra/ creates (in moto) and deployed APIs (local servers)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from nlpops import tasks
from nlpops.deploy.settings import DeploySettings
from tests.local_servers import Answer, json_server, request
from tests.serving.artifacts import LABELS

# deploy.env of the tests; SETTINGS and NER_SETTINGS are what it says for each task (test_settings checks it)
DEPLOY_ENV = {
    "AWS_REGION": "eu-west-1",
    "NAME_PREFIX": "nlpops",
    "TASKS": "classification:test,ner:test-ner",
    "LAMBDA_ALIAS": "live",
    "STAGES": "live,prod",
}
SETTINGS = DeploySettings(
    aws_region="eu-west-1",
    ecr_repository="nlpops-test",
    lambda_function="nlpops-test",
    lambda_alias="live",
    model="test",
)
NER_SETTINGS = DeploySettings(
    aws_region="eu-west-1",
    ecr_repository="nlpops-test-ner",
    lambda_function="nlpops-test-ner",
    lambda_alias="live",
    model="test-ner",
    task=tasks.TOKEN_CLASSIFICATION,
)
READY = {"status": "ready", "model": {"variant": "int8", "version": "0123456789ab"}, "labels": LABELS}
FRESH = {"label": "fresh", "score": 0.8, "scores": {"fresh": 0.8, "rotten": 0.2}}
ROTTEN = {"label": "rotten", "score": 0.7, "scores": {"fresh": 0.3, "rotten": 0.7}}
OBAMA = {"type": "person", "text": "Barack Obama", "start": 0, "end": 12, "score": 0.9}  # in the NER smoke text


def deployment(predictions: list[Any] | dict[str, Any], status: int = 200) -> Answer:
    """A deployed API that is ready and answers its task's route with ``predictions`` (or this whole body)."""
    body = {"predictions": predictions, "model": READY["model"]} if isinstance(predictions, list) else predictions

    def answer(method: str, path: str, request: Any) -> tuple[int, Any]:
        return (200, READY) if path == "/ready" else (status, body)

    return answer


def write_settings(path: Path, **changes: str) -> Path:
    """The tests' deploy.env, with ``changes`` to its keys (e.g. ``LAMBDA_ALIAS="canary"``)."""
    path.write_text("".join(f"{key}={value}\n" for key, value in (DEPLOY_ENV | changes).items()))
    return path


@dataclass
class Stack:
    """One task's part of the stack infra/ creates: repository, function (version 1), alias, Function URL."""

    settings_file: Path
    settings: DeploySettings
    ecr: Any
    lam: Any

    @classmethod
    def create(cls, settings_file: Path, settings: DeploySettings) -> Stack:
        """The task's repository holding image v1, as after the first `terraform apply` and CD push."""
        session = boto3.session.Session(region_name=settings.aws_region)
        stack = cls(settings_file, settings, session.client("ecr"), session.client("lambda"))
        stack.ecr.create_repository(repositoryName=settings.ecr_repository, imageTagMutability="IMMUTABLE")
        stack.push("v1")
        return stack

    def add_function(self) -> Stack:
        """The function from image v1 (version 1), an alias per stage and its URL: `apply -var image_tag=v1`."""
        iam = boto3.session.Session(region_name=self.settings.aws_region).client("iam")
        name = self.settings.lambda_function
        role = iam.create_role(RoleName=f"{name}-function", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        image = f"{self.repository_uri()}:v1"
        self.lam.create_function(
            FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": image}, Publish=True
        )
        for alias in DEPLOY_ENV["STAGES"].split(","):
            self.lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
            self.lam.create_function_url_config(FunctionName=name, Qualifier=alias, AuthType="NONE")
        return self

    def repository_uri(self) -> str:
        repositories = self.ecr.describe_repositories(repositoryNames=[self.settings.ecr_repository])
        return repositories["repositories"][0]["repositoryUri"]

    def push(self, tag: str) -> None:
        """What `docker push` leaves in ECR: an image manifest under a tag."""
        digest = _digest(f"{self.settings.ecr_repository}:{tag}")
        config = {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": digest}
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
        manifest |= {"config": config, "layers": [config | {"digest": _digest(digest + "-layer")}]}
        repository = self.settings.ecr_repository
        self.ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)

    def live(self, alias: str | None = None) -> dict[str, Any]:
        """The configuration of the version ``alias`` (default: the one a push to main moves) points at."""
        qualifier = alias or self.settings.lambda_alias
        return self.lam.get_function(FunctionName=self.settings.lambda_function, Qualifier=qualifier)["Configuration"]

    @contextmanager
    def serve(self, api: str, qualifier: str | None = None) -> Iterator[str]:
        """The Function URL as Lambda would serve it (moto runs no image): ``api`` answers every request, and its
        ``/ready`` reports the ``NLPOPS_MODEL_*`` of the version ``qualifier`` (default: the alias a push to main
        moves; an alias or a version) points at when asked, as the served app reads them. Yield its base URL."""

        def answer(method: str, path: str, body: Any) -> tuple[int, Any]:
            status, answered = request(f"{api}{path}", None if body is None else json.dumps(body).encode())
            if path == "/ready" and status == 200:
                variables = self.live(qualifier).get("Environment", {}).get("Variables", {})
                answered |= {
                    "model_name": variables.get("NLPOPS_MODEL_NAME", answered["model_name"]),
                    "model_version": variables.get("NLPOPS_MODEL_VERSION"),
                    "model_stage": variables.get("NLPOPS_MODEL_STAGE"),
                }
            return status, answered

        with json_server(answer) as url:
            yield url

    def versions(self) -> list[str]:
        listed = self.lam.list_versions_by_function(FunctionName=self.settings.lambda_function)["Versions"]
        return [version["Version"] for version in listed]


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
