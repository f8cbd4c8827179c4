"""Where SageMaker jobs find their image, data, role and S3 prefixes: names written once in deploy.env.

The training image lives in the ECR repository ``NAME_PREFIX-train``, next to the tasks' Lambda repositories;
jobs write their checkpoints and output under ``sagemaker/`` in the DVC remote's bucket, the prefixes the
execution role of infra/sagemaker.tf may write.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from nlpops.deploy.settings import DEFAULT_PATH, parse_env_file
from nlpops.errors import UserError

ROLE_VARIABLE = "NLPOPS_SAGEMAKER_ROLE_ARN"
ROLE_OUTPUT = "sagemaker_role_arn"  # the Terraform output naming the execution role (infra/outputs.tf)
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_S3_URL = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?")


@dataclass(frozen=True)
class CloudSettings:
    region: str
    name_prefix: str
    bucket: str

    @property
    def train_repository(self) -> str:
        """The training image's ECR repository, also the prefix of training jobs' names."""
        return f"{self.name_prefix}-train"

    @property
    def tuning_prefix(self) -> str:
        return f"{self.name_prefix}-tune"

    @property
    def checkpoint_prefix(self) -> str:
        """Jobs' synced ``/opt/ml/checkpoints``: a spot replacement resumes from here."""
        return f"s3://{self.bucket}/sagemaker/checkpoints"

    @property
    def output_prefix(self) -> str:
        """Jobs' ``model.tar.gz`` (``/opt/ml/model``) and ``output.tar.gz`` (run logs, metrics)."""
        return f"s3://{self.bucket}/sagemaker/output"


def read_cloud_settings(path: Path = DEFAULT_PATH) -> CloudSettings:
    values = parse_env_file(path)
    missing = [key for key in ("AWS_REGION", "NAME_PREFIX", "DVC_REMOTE") if key not in values]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}")
    bucket, _ = split_s3_url(values["DVC_REMOTE"])
    return CloudSettings(values["AWS_REGION"], values["NAME_PREFIX"], bucket)


def split_s3_url(url: str) -> tuple[str, str]:
    match = _S3_URL.fullmatch(url)
    if match is None:
        raise UserError(f"not an s3://BUCKET/KEY url: {url!r}")
    return match["bucket"], match["prefix"] or ""


def role_arn(given: str | None) -> str:
    """``--role-arn``, else ``$NLPOPS_SAGEMAKER_ROLE_ARN``: the execution role Terraform created."""
    arn = given or os.environ.get(ROLE_VARIABLE)
    if not arn:
        raise UserError(
            f"no SageMaker execution role: pass --role-arn or set {ROLE_VARIABLE} "
            f"(terraform -chdir=infra output -raw {ROLE_OUTPUT})"
        )
    if not _ROLE_ARN.fullmatch(arn):
        raise UserError(f"not an IAM role ARN: {arn!r} (expected arn:aws:iam::ACCOUNT:role/NAME)")
    return arn
