"""``status`` and ``logs``: what a training job is doing, from its description and its CloudWatch log streams.

SageMaker writes each instance's output to the stream ``JOB/algo-N-<epoch>`` of ``/aws/sagemaker/TrainingJobs``;
following polls them all, prefixing each line with its host, until the job ends. Ctrl-C while following asks
whether to stop the job (a paid instance keeps running when only the terminal is closed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from nlpops.errors import UserError

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDED = frozenset({"Completed", "Failed", "Stopped"})


def describe(sagemaker: Any, name: str) -> dict[str, Any]:
    try:
        return sagemaker.describe_training_job(TrainingJobName=name)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            raise UserError(f"no training job {name!r} in this account and region") from None
        raise


def spot_savings(job: dict[str, Any]) -> float | None:
    """1 - billable/training seconds: what managed spot saved (None before the job has run, or on demand)."""
    trained, billed = job.get("TrainingTimeInSeconds"), job.get("BillableTimeInSeconds")
    if not job.get("EnableManagedSpotTraining") or not trained or billed is None:
        return None
    return 1 - billed / trained


def final_metrics(job: dict[str, Any]) -> dict[str, float]:
    return {item["MetricName"]: float(item["Value"]) for item in job.get("FinalMetricDataList", [])}


def status_lines(job: dict[str, Any]) -> Iterator[str]:
    """The job's state, its state transitions with their times, spot savings and final metrics."""
    resources = job.get("ResourceConfig", {})
    secondary = job.get("SecondaryStatus")
    yield f"{job['TrainingJobName']}: {job['TrainingJobStatus']}" + (f" ({secondary})" if secondary else "")
    spot = " spot" if job.get("EnableManagedSpotTraining") else ""
    yield f"  instances: {resources.get('InstanceCount', '?')} x {resources.get('InstanceType', '?')}{spot}"
    for step in job.get("SecondaryStatusTransitions", []):
        start = step["StartTime"].strftime("%Y-%m-%d %H:%M:%S")
        yield f"  {start}  {step['Status']:<12} {step.get('StatusMessage', '')}".rstrip()
    if job.get("FailureReason"):
        yield f"  failure: {job['FailureReason']}"
    savings = spot_savings(job)
    if savings is not None:
        billed = f"{job['BillableTimeInSeconds']} of {job['TrainingTimeInSeconds']} s billed"
        yield f"  spot savings: {savings:.0%} ({billed})"
    for name, value in final_metrics(job).items():
        yield f"  {name} = {value:g}"
    model = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if model and job["TrainingJobStatus"] == "Completed":
        yield f"  model: {model}"


class LogReader:
    """New events of every ``JOB/...`` stream since the last call, remembering where each stream was."""

    def __init__(self, logs: Any, name: str) -> None:
        self.logs, self.name, self.tokens = logs, name, {}

    def new_lines(self) -> Iterator[str]:
        for stream in self._streams():
            host = stream.removeprefix(f"{self.name}/").rsplit("-", 1)[0]
            for message in self._events(stream):
                yield f"[{host}] {message.rstrip()}"

    def _streams(self) -> list[str]:
        try:
            found = self.logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{self.name}/")
        except ClientError as err:
            if err.response["Error"]["Code"] == "ResourceNotFoundException":
                return []  # no instance has started logging yet
            raise
        return sorted(stream["logStreamName"] for stream in found["logStreams"])

    def _events(self, stream: str) -> Iterator[str]:
        while True:
            kwargs = {"nextToken": self.tokens[stream]} if stream in self.tokens else {"startFromHead": True}
            page = self.logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, **kwargs)
            for event in page["events"]:
                yield event["message"]
            done = page["nextForwardToken"] == self.tokens.get(stream) or not page["events"]
            self.tokens[stream] = page["nextForwardToken"]
            if done:
                return


def follow(
    sagemaker: Any,
    logs: Any,
    name: str,
    *,
    poll: float,
    keep_going: bool,
    out: Callable[[str], None],
    ask: Callable[[str], str],
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Print the job's log lines (until it ends if ``keep_going``); its final state. Ctrl-C asks to stop it."""
    reader = LogReader(logs, name)
    describe(sagemaker, name)  # an unknown job is an error before any waiting
    try:
        while True:
            state = describe(sagemaker, name)["TrainingJobStatus"]
            for line in reader.new_lines():
                out(line)
            if not keep_going or state in ENDED:
                return state
            sleep(poll)
    except KeyboardInterrupt:
        if ask(f"\nstop the job {name}? [y/N] ").strip().lower() in ("y", "yes"):
            sagemaker.stop_training_job(TrainingJobName=name)
            out(f"stopping {name}")
            return "Stopping"
        out(f"{name} goes on: python -m nlpops.cloud logs {name} --follow")
        return describe(sagemaker, name)["TrainingJobStatus"]
