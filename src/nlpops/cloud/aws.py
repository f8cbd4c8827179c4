"""boto3 clients for the deploy.env region, and the checks that must pass before a job is created.

Every check raises ``UserError``: no credentials or a missing image is one ``error:`` line, and nothing in the
account has changed yet.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from nlpops.errors import UserError


def client(service: str, region: str) -> Any:
    """A client of ``service`` from a fresh session: credentials as the environment gives them now, not as boto3's
    default session cached them. ``AWS_ENDPOINT_URL`` (a local moto server in tests) is honoured by boto3 itself."""
    return boto3.session.Session(region_name=region).client(service)


def require_credentials(region: str) -> str:
    """The caller's ARN; a ``UserError`` when boto3 finds no credentials or AWS refuses them."""
    try:
        return client("sts", region).get_caller_identity()["Arn"]
    except NoCredentialsError:
        raise UserError(
            "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (docs/cloud-setup.md)"
        ) from None
    except (ClientError, BotoCoreError) as err:
        raise UserError(f"AWS refused the credentials: {err}") from None


def image_uri(region: str, repository: str, tag: str) -> str:
    """The URI of ``repository:tag`` in ECR; a ``UserError`` if the repository or the tag does not exist."""
    ecr = client("ecr", region)
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code == "RepositoryNotFoundException":
            raise UserError(f"no ECR repository {repository}: run terraform apply in infra/ first") from None
        if code == "ImageNotFoundException":
            raise UserError(
                f"no image {repository}:{tag} in ECR: push it first (CD does on every push to main)"
            ) from None
        raise UserError(f"AWS: {err}") from None
    return f"{uri}:{tag}"
