"""The current predictions of a deployed function: its CloudWatch log events for a time window.

The Lambda function prints a prediction-log line per text to stdout, so its log group holds them among the
runtime's own lines (START, END, REPORT), which the reader skips and counts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from nlpops.errors import UserError

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h`` or ``7d`` as a time span (argparse type of ``--since``)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h or 7d")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def log_group(function: str) -> str:
    return f"/aws/lambda/{function}"


def read_log_events(function: str, since: timedelta) -> list[str]:
    """The messages ``function`` logged in the last ``since``, every page of them.

    AWS problems (no credentials or region, no such log group, access denied) are ``UserError``s: the
    command says what to fix instead of reporting drift.
    """
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
    except ImportError:
        raise UserError("the CloudWatch source needs boto3: pip install -e '.[monitor]'") from None
    end = datetime.now(UTC)
    window = {"startTime": _millis(end - since), "endTime": _millis(end)}
    group = log_group(function)
    try:
        client = boto3.session.Session().client("logs")  # its own session: the credentials of now, not cached
        pages = client.get_paginator("filter_log_events").paginate(logGroupName=group, **window)
        return [event["message"].rstrip("\n") for page in pages for event in page["events"]]
    except NoCredentialsError:
        raise UserError(
            "no AWS credentials for the CloudWatch source: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, or assume the drift role (in GitHub Actions: OIDC)"
        ) from None
    except NoRegionError:
        raise UserError(
            "no AWS region for the CloudWatch source: set AWS_DEFAULT_REGION (deploy.env names it)"
        ) from None
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            raise UserError(f"no CloudWatch log group {group}: check the function name") from None
        raise UserError(f"CloudWatch refused to read {group}: {err}") from None
    except BotoCoreError as err:
        raise UserError(f"cannot read CloudWatch log group {group}: {err}") from None


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
