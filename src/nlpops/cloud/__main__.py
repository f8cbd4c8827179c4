"""``python -m nlpops.cloud`` (``nlpops-cloud``): train and tune on AWS SageMaker, follow and fetch the jobs.

Exit status: 0 done; 1 AWS refused a call or the followed job did not complete; 2 bad input, missing resources
or no credentials, said in one ``error:`` line, and nothing created in AWS.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from nlpops.deploy.__main__ import image_tag
from nlpops.deploy.settings import DEFAULT_PATH
from nlpops.errors import UserError

if TYPE_CHECKING:
    from nlpops.cloud.submit import Submission

EXAMPLES = """examples:
  python -m nlpops.cloud train --instance-type ml.g5.xlarge --instance-count 2 --spot -- trainer=gpu
  python -m nlpops.cloud train --instance-type ml.m5.xlarge -- trainer.max_epochs=5
  python -m nlpops.cloud tune --max-jobs 12 --max-parallel 3 -- hparams_search=sentiment_optuna
  python -m nlpops.cloud status JOB [--download models/text-classifier]
  python -m nlpops.cloud logs JOB --follow
Setup (role, bucket, image): docs/cloud-setup.md.
"""
log = partial(print, file=sys.stderr)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def run_train(args: argparse.Namespace) -> int:
    from nlpops.cloud.submit import start_training

    name = start_training(_submission(args), log)
    print(f"created training job {name}: python -m nlpops.cloud logs {name} --follow")
    return 0


def run_tune(args: argparse.Namespace) -> int:
    from nlpops.cloud.submit import start_tuning

    name = start_tuning(_submission(args), args.max_jobs, args.max_parallel, log)
    print(f"created tuning job {name} ({args.max_jobs} jobs, {args.max_parallel} at a time)")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from nlpops.cloud import aws, follow
    from nlpops.cloud.settings import read_cloud_settings

    region = read_cloud_settings(args.settings).region
    job = follow.describe(aws.client("sagemaker", region), args.job)
    for line in follow.status_lines(job):
        print(line)
    if args.download:
        from nlpops.cloud.register import download_model

        print(f"model with its training record: {download_model(job, args.download, region)}")
    return 0


def run_logs(args: argparse.Namespace) -> int:
    from nlpops.cloud import aws, follow
    from nlpops.cloud.settings import read_cloud_settings

    region = read_cloud_settings(args.settings).region
    state = follow.follow(
        aws.client("sagemaker", region),
        aws.client("logs", region),
        args.job,
        poll=args.poll,
        keep_going=args.follow,
        out=partial(print, flush=True),
        ask=_ask,
    )
    log(f"{args.job}: {state}")
    return 0 if state in ("Completed", "InProgress") or not args.follow else 1


def _ask(question: str) -> str:
    try:
        return input(question)
    except EOFError:
        return ""


def _submission(args: argparse.Namespace) -> Submission:
    """The options of ``train`` and ``tune``; imported late, as ``--help`` needs neither boto3 nor Hydra."""
    from nlpops.cloud.jobs import JobOptions
    from nlpops.cloud.submit import Submission

    options = JobOptions(
        args.instance_type, args.instance_count, args.volume_gb, args.max_run, args.spot, args.max_wait
    )
    return Submission(args.settings, options, args.overrides, args.data, args.image_tag, args.role_arn, args.job_name)


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """What ``train`` and ``tune`` share: instances, limits, spot, image, role, data, overrides."""
    from nlpops.cloud.data import DEFAULT_DATA  # light: names only

    parser.add_argument("--instance-type", default="ml.g5.xlarge", help="e.g. ml.g5.xlarge (default), ml.m5.xlarge")
    parser.add_argument("--instance-count", type=positive, default=1, help="instances; >1 runs DDP across them")
    parser.add_argument("--volume-gb", type=positive, default=30, help="EBS volume per instance (default: 30)")
    parser.add_argument("--max-run", type=positive, default=24 * 3600, help="seconds of training at most (24 h)")
    parser.add_argument("--spot", action="store_true", help="managed spot: cheaper, may be interrupted and resumed")
    parser.add_argument(
        "--max-wait", type=positive, help="spot: seconds of waiting plus running (default: 2 x max run)"
    )
    parser.add_argument("--image-tag", type=image_tag, help="the train image's tag in ECR (default: HEAD's commit)")
    parser.add_argument("--role-arn", help="the execution role (default: $NLPOPS_SAGEMAKER_ROLE_ARN)")
    parser.add_argument(
        "--data", default=DEFAULT_DATA, help=f"a DVC-tracked file to train on (default: {DEFAULT_DATA})"
    )
    parser.add_argument("--job-name", help="the job's name (default: a timestamped one)")
    parser.add_argument("--settings", type=Path, default=DEFAULT_PATH, help=f"settings file (default: {DEFAULT_PATH})")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for train.py, after --")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlpops.cloud",
        description="Train and tune on AWS SageMaker from the same configs as train.py; follow the jobs.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="start a training job running train.py with the overrides")
    add_job_arguments(train)
    train.set_defaults(run=run_train)

    tune = commands.add_parser("tune", help="start a tuning job over an hparams_search config's search space")
    add_job_arguments(tune)
    tune.add_argument("--max-jobs", type=positive, default=12, help="training jobs in all (default: 12)")
    tune.add_argument("--max-parallel", type=positive, default=3, help="training jobs at a time (default: 3)")
    tune.set_defaults(run=run_tune)

    status = commands.add_parser("status", help="a training job's state, transitions, spot savings and metrics")
    status.add_argument("job")
    status.add_argument("--download", type=Path, help="a completed job's model to this folder, with its record")
    status.add_argument("--settings", type=Path, default=DEFAULT_PATH, help=f"settings file (default: {DEFAULT_PATH})")
    status.set_defaults(run=run_status)

    logs = commands.add_parser("logs", help="a training job's CloudWatch logs (--follow: until it ends)")
    logs.add_argument("job")
    logs.add_argument("--follow", action="store_true", help="keep printing until the job ends; Ctrl-C asks to stop it")
    logs.add_argument("--poll", type=float, default=10.0, help="seconds between polls (default: 10)")
    logs.add_argument("--settings", type=Path, default=DEFAULT_PATH, help=f"settings file (default: {DEFAULT_PATH})")
    logs.set_defaults(run=run_logs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return args.run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as err:
        print(f"error: AWS: {' '.join(str(err).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
