"""Evidently's drift report of the current predictions against the reference: HTML for people, JSON for jobs.

Evidently picks each column's statistical test (by type and sample size) and decides both column drift and
dataset drift (at least a share of the columns drifted); this module only reads its verdicts. It needs
the monitor environment (pandas<3): ``make monitor-env``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry, read when it is imported

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.report import Snapshot
from evidently.presets import DataDriftPreset

from nlpops.monitor.predictions import CATEGORICAL, NUMERICAL, PredictionLog

_VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
_DRIFTED_COLUMNS = "evidently:metric_v2:DriftedColumnsCount"
_FAILED = "FAIL"


def _dataset(log: PredictionLog) -> Dataset:
    names = {
        kind: [column.name for column in log.columns() if column.kind == kind] for kind in (NUMERICAL, CATEGORICAL)
    }
    # float: a column of None (no entity found in any text) is missing numbers, not objects
    frame = pd.DataFrame(log.table()).astype(dict.fromkeys(names[NUMERICAL], float))
    definition = DataDefinition(numerical_columns=names[NUMERICAL], categorical_columns=names[CATEGORICAL])
    return Dataset.from_pandas(frame, data_definition=definition)


def empty_columns(*logs: PredictionLog) -> list[str]:
    """Columns with no value in one of ``logs`` (no confidence where no text had an entity): no test applies."""
    tables = [log.table() for log in logs]
    return [name for name in tables[0] if any(all(value is None for value in table[name]) for table in tables)]


def run_drift(reference: PredictionLog, current: PredictionLog, min_drifted: int) -> Snapshot:
    """Evidently's data drift preset over the task's columns, with its tests on (they carry the verdicts).

    Dataset drift is ``min_drifted`` columns or more, as a share of the columns, which is how Evidently counts.
    """
    empty = empty_columns(reference, current)
    columns = [column.name for column in reference.columns() if column.name not in empty]
    drift_share = min(1.0, min_drifted / len(columns))
    report = Report([DataDriftPreset(columns=columns, drift_share=drift_share)], include_tests=True)
    with warnings.catch_warnings():  # numpy's divide-by-zero on a constant column (no unknown tokens) in its plots
        warnings.simplefilter("ignore", RuntimeWarning)
        return report.run(current_data=_dataset(current), reference_data=_dataset(reference))


def summarize(snapshot: Snapshot, reference: PredictionLog, current: PredictionLog) -> dict[str, Any]:
    """The verdict, each column's test and score, and what was read: the JSON a scheduled job acts on."""
    result = snapshot.dict()
    failed = {test["metric_config"]["metric_id"] for test in result["tests"] if test["status"] == _FAILED}
    summary: dict[str, Any] = {"drift": False, "columns": {}}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"] == _VALUE_DRIFT:
            summary["columns"][config["column"]] = {
                "drift": metric["id"] in failed,
                "method": config["method"],
                "score": metric["value"],
                "threshold": config["threshold"],
            }
        elif config["type"] == _DRIFTED_COLUMNS:
            summary.update(drift=metric["id"] in failed, drift_share=config["drift_share"])
            summary["drifted_share"] = metric["value"]["share"]
    summary["drifted_columns"] = [name for name, column in summary["columns"].items() if column["drift"]]
    summary["empty_columns"] = empty_columns(reference, current)
    return {**summary, "reference": reference.summary(), "current": current.summary()}
