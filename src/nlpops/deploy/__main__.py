"""``python -m nlpops.deploy``: package a model artifact for an image, release a task's image to Lambda, or promote
a registered model version (a GTO stage tag) to its stage's alias.

Exit status: 0 done; 1 the release was not kept (rolled back) or AWS refused a call; 2 bad input, missing
resources or no credentials, said in one ``error:`` line.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from nlpops.deploy.package import package_artifact
from nlpops.deploy.settings import DEFAULT_PATH, DEFAULT_TASK, DeploySettings, read_settings, task_of_model
from nlpops.errors import UserError

EXAMPLES = """examples:
  python -m nlpops.deploy package models/ner-onnx /model --variant int8      (in the image build)
  python -m nlpops.deploy env --task ner >> "$GITHUB_ENV"                    (in CD: the task's AWS names)
  python -m nlpops.deploy release --task ner --image-tag "$GITHUB_SHA"       (in CD, after the push)
  python -m nlpops.deploy promote --tag 'text-classifier#prod#3'            (in CD, on a stage tag)
"""
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # what ECR accepts as a tag


def image_tag(text: str) -> str:
    if not IMAGE_TAG.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an image tag (letters, digits, _ . -; at most 128)")
    return text


def http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL")
    return text


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return seconds


def run_package(args: argparse.Namespace) -> int:
    names = package_artifact(args.artifact, args.target, args.variant)
    print(f"packaged {args.variant}: {', '.join(names)} -> {args.target}")
    return 0


def run_env(args: argparse.Namespace) -> int:
    """CD appends these lines to ``$GITHUB_ENV``: its jobs use the names deploy.env gives, never their own."""
    print(read_settings(args.settings, args.task).as_env(), end="")
    return 0


def run_release(args: argparse.Namespace) -> int:
    settings = read_settings(args.settings, args.task)
    return _release(args, settings, args.image_tag)


def run_promote(args: argparse.Namespace) -> int:
    """The version a stage tag names, to its stage's alias: the image CD built from the version's commit."""
    # imported here: GTO is absent where `package` and `env` run
    from nlpops.registry import resolve

    promoted = resolve(args.repo, args.tag)
    settings = read_settings(args.settings, task_of_model(args.settings, promoted.model), promoted.stage)
    print(
        f"promote  {promoted.model} {promoted.version} (commit {promoted.commit}) to {promoted.stage}", file=sys.stderr
    )
    return _release(args, settings, promoted.commit, promoted.version)


def _release(args: argparse.Namespace, settings: DeploySettings, tag: str, model_version: str | None = None) -> int:
    # imported here: boto3 is absent where `package` runs (the image build, before dependencies are installed)
    from botocore.exceptions import BotoCoreError, ClientError

    from nlpops.deploy.release import ReleaseFailed, release

    progress = partial(print, file=sys.stderr)
    try:
        done = release(settings, tag, args.smoke_url, args.smoke_timeout, log=progress, model_version=model_version)
    except ReleaseFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as err:
        print(f"error: AWS: {err}", file=sys.stderr)
        return 1
    alias = f"{settings.lambda_function}:{settings.lambda_alias}"
    model = " ".join(done.smoke.model.values())
    print(f"released {done.image_uri} as {alias} version {done.version} (was {done.previous_version}), model {model}")
    return 0


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """Which task's function, and the file naming it: the same options for every command that reads deploy.env."""
    parser.add_argument(
        "--task", default=DEFAULT_TASK, help=f"the task, as deploy.env's TASKS names it (default: {DEFAULT_TASK})"
    )
    parser.add_argument("--settings", type=Path, default=DEFAULT_PATH, help=f"settings file (default: {DEFAULT_PATH})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlpops.deploy",
        description="Package the model artifact for an image, or release an image to AWS Lambda.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    package = commands.add_parser(
        "package",
        help="copy the manifest, tokenizer and one model of an artifact into a new folder (checksums verified)",
    )
    package.add_argument("artifact", type=Path, help="the exported artifact, e.g. models/text-classifier-onnx")
    package.add_argument("target", type=Path, help="a new (or empty) folder to write")
    package.add_argument("--variant", default="int8", help="the model the image serves: int8 (default) or fp32")
    package.set_defaults(run=run_package)

    env = commands.add_parser(
        "env", help="print a task's AWS names (region, repository, function, alias) as KEY=value lines, for CD"
    )
    add_task_arguments(env)
    env.set_defaults(run=run_env)

    release = commands.add_parser(
        "release",
        help="deploy an image pushed to ECR: new Lambda version, alias moved, smoke test, rollback on failure",
    )
    add_task_arguments(release)
    release.add_argument("--image-tag", type=image_tag, required=True, help="the pushed image's tag (the commit SHA)")
    add_smoke_arguments(release)
    release.set_defaults(run=run_release)

    promote = commands.add_parser(
        "promote",
        help="release the version a stage tag (MODEL#STAGE#N, `gto assign`) names to the alias of its stage",
    )
    promote.add_argument("--tag", required=True, help="the stage tag, e.g. 'text-classifier#prod#3'")
    promote.add_argument("--repo", type=Path, default=Path("."), help="the git repository holding it (default: .)")
    promote.add_argument("--settings", type=Path, default=DEFAULT_PATH, help=f"settings file (default: {DEFAULT_PATH})")
    add_smoke_arguments(promote)
    promote.set_defaults(run=run_promote)
    return parser


def add_smoke_arguments(parser: argparse.ArgumentParser) -> None:
    """How to judge a release: the same options for `release` and `promote`."""
    parser.add_argument("--smoke-url", type=http_url, help="base URL to test (default: the alias's Function URL)")
    parser.add_argument(
        "--smoke-timeout", type=positive_seconds, default=120.0, help="seconds to wait for good answers (default: 120)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
