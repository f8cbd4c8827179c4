"""Release an image to a task's Lambda function: publish it as a version, move an alias, smoke-test, roll back.

Traffic reaches the function through its aliases, one per registry stage (``staging``, ``prod``): the Function
URL and the provisioned concurrency belong to an alias, not to ``$LATEST``. A release points ``$LATEST`` at the new
image and at the model's registry name, version and stage (``NLPOPS_MODEL_*``, which ``/ready`` reports), waits
until Lambda has taken them, publishes them as a new immutable version and moves the alias there. If the smoke
test fails (a wrong answer, or ``/ready`` reporting another model than the one set), the alias moves back to the
version it had, which still holds the previous image: a rollback is one API call, with no rebuild and no image
pull. Each task has its own function and repository (``deploy.env``), and the smoke test is that task's own check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, WaiterError

from nlpops.deploy.settings import DeploySettings
from nlpops.deploy.smoke import SmokeResult, SmokeTestFailed, smoke_test
from nlpops.errors import UserError

MODEL_NAME, MODEL_VERSION, MODEL_STAGE = "NLPOPS_MODEL_NAME", "NLPOPS_MODEL_VERSION", "NLPOPS_MODEL_STAGE"
MODEL_VARIABLES = (MODEL_NAME, MODEL_VERSION, MODEL_STAGE)
READY_FIELDS = {MODEL_NAME: "model_name", MODEL_VERSION: "model_version", MODEL_STAGE: "model_stage"}  # in /ready
WAITER_CONFIG = {"Delay": 2, "MaxAttempts": 300}  # Lambda takes seconds to minutes to optimise a new image
TERRAFORM = "`terraform -chdir=infra apply{}` (docs/deployment.md)"


class ReleaseFailed(Exception):
    """The new version is not serving: Lambda could not take the image, or it failed the smoke test."""


@dataclass(frozen=True)
class Release:
    image_uri: str
    version: str  # the version the alias points at now
    previous_version: str
    smoke: SmokeResult


def find_image(ecr: Any, repository: str, tag: str) -> tuple[str, str]:
    """The URI (``repository:tag``) and digest of an image pushed to ECR."""
    uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    [image] = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    return f"{uri}:{tag}", image["imageDigest"]


def model_environment(settings: DeploySettings, model_version: str | None) -> dict[str, str]:
    """What the released version tells ``/ready``: the registry's model name, its version (if any) and the stage."""
    environment = {MODEL_NAME: settings.model, MODEL_STAGE: settings.lambda_alias}
    return environment | ({MODEL_VERSION: model_version} if model_version else {})


def live_release(lam: Any, function: str, alias: str) -> tuple[str, str, dict[str, str]]:
    """The version the alias points at, the image URI it runs and its environment variables."""
    live = lam.get_function(FunctionName=function, Qualifier=alias)
    variables = live["Configuration"].get("Environment", {}).get("Variables", {})
    return live["Configuration"]["Version"], live["Code"]["ImageUri"], variables


def function_url(lam: Any, function: str, alias: str) -> str:
    return lam.get_function_url_config(FunctionName=function, Qualifier=alias)["FunctionUrl"]


def publish(lam: Any, function: str, image_uri: str, model: dict[str, str]) -> str:
    """Point ``$LATEST`` at the image and the ``model`` variables, wait, publish them as a version; return it.

    The variables are merged into the function's own, and every ``NLPOPS_MODEL_*`` one is set or removed, so a
    version never reports the previous release's model.
    """
    variables = lam.get_function_configuration(FunctionName=function).get("Environment", {}).get("Variables", {})
    kept = {name: value for name, value in variables.items() if name not in MODEL_VARIABLES}
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": kept | model})
    _wait(lam, "function_updated_v2", FunctionName=function)
    updated = lam.update_function_code(FunctionName=function, ImageUri=image_uri)
    _wait(lam, "function_updated_v2", FunctionName=function)
    # CodeSha256: publish exactly the code this release put there, never a concurrent change
    version = lam.publish_version(FunctionName=function, CodeSha256=updated["CodeSha256"])["Version"]
    _wait(lam, "published_version_active", FunctionName=function, Qualifier=version)
    return version


def point_alias(lam: Any, function: str, alias: str, version: str) -> None:
    lam.update_alias(FunctionName=function, Name=alias, FunctionVersion=version)


def release(
    settings: DeploySettings,
    image_tag: str,
    smoke_url: str | None = None,
    smoke_timeout: float = 120.0,
    log: Callable[[str], None] = print,
    model_version: str | None = None,
) -> Release:
    """Release the image tagged ``image_tag``; raise ReleaseFailed (after rolling back) if it is not kept.

    Everything is looked up before anything changes, so a missing image, function, alias or credentials
    stops the release with a UserError and the live version untouched. ``smoke_url`` defaults to the
    alias's Function URL; ``model_version`` is the registry version being promoted (none for a push to main).
    """
    session = boto3.session.Session(region_name=settings.aws_region)
    ecr, lam = session.client("ecr"), session.client("lambda")
    function, alias = settings.lambda_function, settings.lambda_alias
    try:
        image_uri, digest = find_image(ecr, settings.ecr_repository, image_tag)
        previous, live_image, live_variables = live_release(lam, function, alias)
        url = smoke_url or function_url(lam, function, alias)
    except NoCredentialsError:
        raise UserError(
            "no AWS credentials: CI gets them from the OIDC role (aws-actions/configure-aws-credentials); "
            "locally, sign in (e.g. `aws sso login`) or set AWS_PROFILE"
        ) from None
    except ClientError as err:
        missing = _missing(err, settings, image_tag)
        if missing is None:
            raise
        raise missing from None
    model = model_environment(settings, model_version)
    log(f"image    {image_uri} ({digest})")
    log(f"live     {function}:{alias} is version {previous} ({live_image})")
    log(f"model    {' '.join(f'{name}={value}' for name, value in model.items())}")
    live_model = {name: value for name, value in live_variables.items() if name in MODEL_VARIABLES}
    if live_image == image_uri and live_model == model:  # tags are immutable: a re-run of a release only
        version = previous  # re-checks it
        log("alias    the live version already runs this image and model version")
    else:
        version = publish(lam, function, image_uri, model)
        point_alias(lam, function, alias, version)
        log(f"alias    {function}:{alias} -> version {version}")
    try:
        # the served version must say it is the model this release set: name, stage (and the promoted version)
        expected = {READY_FIELDS[name]: value for name, value in model.items()}
        smoke = smoke_test(url, smoke_timeout, task=settings.task, expected=expected)
    except SmokeTestFailed as err:
        if version == previous:
            raise ReleaseFailed(f"smoke test failed: {err} (version {version} was already live)") from None
        point_alias(lam, function, alias, previous)
        raise ReleaseFailed(f"smoke test failed: {err}; rolled {function}:{alias} back to version {previous}") from None
    log(f"smoke    {url}: {smoke.summary}, model {smoke.model} ({smoke.attempts} attempt(s))")
    return Release(image_uri, version, previous, smoke)


def _wait(lam: Any, waiter: str, **params: str) -> None:
    """Run a boto3 waiter; if Lambda ends in a failed state, say why (e.g. the image cannot be pulled)."""
    try:
        lam.get_waiter(waiter).wait(**params, WaiterConfig=WAITER_CONFIG)
    except WaiterError as err:
        config = lam.get_function_configuration(**params)
        reason = config.get("LastUpdateStatusReason") or config.get("StateReason") or str(err)
        raise ReleaseFailed(f"Lambda did not take the image for {params['FunctionName']}: {reason}") from None


def _missing(err: ClientError, settings: DeploySettings, tag: str) -> UserError | None:
    """A missing image, repository, function, alias or URL as a UserError that says what to do; else None."""
    code, message = err.response["Error"]["Code"], err.response["Error"]["Message"]
    if code == "ImageNotFoundException":
        where = f"ECR repository {settings.ecr_repository}"
        return UserError(f"no image tagged {tag} in {where}: push it first (CD builds one per commit pushed to main)")
    if code == "RepositoryNotFoundException":
        where = f"{settings.ecr_repository} in {settings.aws_region}"
        return UserError(f"no ECR repository {where}: create it with {TERRAFORM.format('')}")
    if code == "ResourceNotFoundException":  # the function, its alias or the alias's URL
        create = TERRAFORM.format(f" -var image_tag={tag}")
        return UserError(f"{message}: create the function from this image with {create}")
    return None
