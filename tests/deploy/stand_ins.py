"""Stand-ins for what a release talks to: the stack infra/ creates (in moto) and deployed APIs (local servers)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlpops.deploy.settings import DeploySettings
from tests.local_servers import Answer
from tests.serving.artifacts import LABELS

SETTINGS = DeploySettings(
    aws_region="eu-west-1", ecr_repository="nlpops-test", lambda_function="nlpops-test", lambda_alias="live"
)
READY = {"status": "ready", "model": {"variant": "int8", "version": "0123456789ab"}, "labels": LABELS}
FRESH = {"label": "fresh", "score": 0.8, "scores": {"fresh": 0.8, "rotten": 0.2}}
ROTTEN = {"label": "rotten", "score": 0.7, "scores": {"fresh": 0.3, "rotten": 0.7}}


def deployment(predictions: list[Any] | dict[str, Any], status: int = 200) -> Answer:
    """A deployed API that is ready and answers /predict with ``predictions`` (or this whole body)."""
    body = {"predictions": predictions, "model": READY["model"]} if isinstance(predictions, list) else predictions

    def answer(method: str, path: str, request: Any) -> tuple[int, Any]:
        return (200, READY) if path == "/ready" else (status, body)

    return answer


@dataclass
class Stack:
    """The deployed stack, as infra/ creates it: repository, function (version 1), alias, Function URL."""

    settings_file: Path
    ecr: Any
    lam: Any

    def push(self, tag: str) -> None:
        """What `docker push` leaves in ECR: an image manifest under a tag."""
        config = {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": _digest(tag)}
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
        manifest |= {"config": config, "layers": [config | {"digest": _digest(tag + "-layer")}]}
        self.ecr.put_image(repositoryName=SETTINGS.ecr_repository, imageManifest=json.dumps(manifest), imageTag=tag)

    def live(self) -> dict[str, Any]:
        """The configuration of the version the alias points at."""
        live = self.lam.get_function(FunctionName=SETTINGS.lambda_function, Qualifier=SETTINGS.lambda_alias)
        return live["Configuration"]

    def versions(self) -> list[str]:
        listed = self.lam.list_versions_by_function(FunctionName=SETTINGS.lambda_function)["Versions"]
        return [version["Version"] for version in listed]


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def write_settings(path: Path, settings: DeploySettings) -> Path:
    path.write_text(
        f"AWS_REGION={settings.aws_region}\nECR_REPOSITORY={settings.ecr_repository}\n"
        f"LAMBDA_FUNCTION={settings.lambda_function}\nLAMBDA_ALIAS={settings.lambda_alias}\n"
    )
    return path
