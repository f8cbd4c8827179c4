"""What a sweep leaves in its folder: the best trial, a table of every trial, and plots that open offline.

Files: ``trials.csv`` and ``trials.md`` (one row per trial), ``optimization_results.yaml`` (the stock sweeper's
best value and parameters), ``optimization.html`` (table and plots as inline SVG: no CDN, no JavaScript) and
``optimization.png`` (optimisation history and parameter importances, rendered with vl-convert as
``nlpops.utils.dvc_plots`` does).
"""

from __future__ import annotations

import csv
import html
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)


def write_summary(study: optuna.Study, folder: Path) -> None:
    """Print the best trial and the trials table, and write the summary files into the sweep ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = trial_rows(study)
    table = markdown_table(rows)
    best = best_trial(study)
    headline = (
        f"Best trial {best.number}: value {best.value:.6g}, params {best.params}" if best else "No completed trial yet"
    )
    _write(folder / "trials.md", f"# Study {study.study_name}\n\n{headline}\n\n{table}")
    _write(folder / "trials.csv", csv_text(rows))
    if best:
        results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
        _write(folder / "optimization_results.yaml", OmegaConf.to_yaml(OmegaConf.create(results)))
    write_plots(study, folder, headline, table)
    print(f"\n{headline}\n\n{table}\nSummary: {folder}/trials.md, trials.csv, optimization.html, optimization.png")


def write_plots(study: optuna.Study, folder: Path, headline: str, table: str) -> None:
    """``optimization.html`` and ``.png``; skipped, with a warning, where vl-convert is not installed."""
    try:
        import vl_convert
    except ImportError:
        log.warning("No plots: vl-convert-python is not installed (pip install 'nlpops[dvc]')")
        return
    spec = plot_spec(study)
    page = html_page(study.study_name, headline, table, vl_convert.vegalite_to_svg(spec))
    _write(folder / "optimization.html", page)
    _write(folder / "optimization.png", vl_convert.vegalite_to_png(spec, scale=2))


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best completed trial of a single-objective study; ``None`` before any trial completed."""
    if len(study.directions) > 1 or not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, each parameter, seconds, why it failed, its run folder's name."""
    trials = study.get_trials(deepcopy=False)
    names = sorted({name for trial in trials for name in trial.params})
    rows = []
    for trial in trials:
        duration = trial.duration.total_seconds() if trial.duration else None
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                "value": trial.value if len(study.directions) == 1 else trial.values,
                **{name: trial.params.get(name) for name in names},
                "seconds": round(duration, 1) if duration is not None else None,
                "note": _note(trial),
                "run_dir": Path(trial.user_attrs.get("run_dir", "")).name,
            }
        )
    return rows


def _note(trial: FrozenTrial) -> str:
    retried = optuna.storages.RetryFailedTrialCallback.retried_trial_number(trial)
    parts = [trial.user_attrs.get("error", ""), trial.user_attrs.get("note", "")]
    if retried is not None:
        parts.append(f"re-run of interrupted trial {retried}")
    return "; ".join(part for part in parts if part)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no trials)\n"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def parameter_importances(study: optuna.Study) -> dict[str, float]:
    """How much each parameter explains the objective (a random forest's mean decrease in impurity).

    Optuna 2.10's default fANOVA evaluator fails under NumPy 2; empty while too few trials completed to fit.
    """
    evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0)
    try:
        return optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError, ImportError) as err:  # ImportError: scikit-learn is not installed
        log.info("No parameter importances: %s", err)
        return {}


def plot_spec(study: optuna.Study) -> dict[str, Any]:
    """Vega-Lite: each completed trial's value and the best so far; beside it, the parameter importances."""
    maximize = len(study.directions) == 1 and study.direction == optuna.study.StudyDirection.MAXIMIZE
    history, best = [], None
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        value = trial.values[0]
        best = value if best is None else (max if maximize else min)(best, value)
        history.append({"trial": trial.number, "value": value, "best": best})
    charts: list[dict[str, Any]] = [
        {
            "title": "Optimisation history",
            "data": {"values": history},
            "width": 320,
            "height": 220,
            "encoding": {
                "x": {"field": "trial", "type": "quantitative", "axis": {"tickMinStep": 1, "format": "d"}},
            },
            "layer": [
                {
                    "mark": {"type": "point", "filled": True},
                    "encoding": {"y": {"field": "value", "type": "quantitative", "scale": {"zero": False}}},
                },
                {
                    "mark": {"type": "line", "interpolate": "step-after", "color": "firebrick"},
                    "encoding": {
                        "y": {
                            "field": "best",
                            "type": "quantitative",
                            "title": "objective value",
                            "scale": {"zero": False},
                        }
                    },
                },
            ],
        }
    ]
    importances = parameter_importances(study)
    if importances:
        charts.append(
            {
                "title": "Parameter importances",
                "data": {"values": [{"parameter": k, "importance": v} for k, v in importances.items()]},
                "width": 240,
                "height": 220,
                "mark": "bar",
                "encoding": {
                    "y": {"field": "parameter", "type": "nominal", "sort": "-x"},
                    "x": {"field": "importance", "type": "quantitative"},
                },
            }
        )
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "hconcat": charts}


def html_page(name: str, headline: str, table: str, svg: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Study {html.escape(name)}</title>'
        "<style>body{font-family:sans-serif;margin:2em}</style></head><body>"
        f"<h1>Study {html.escape(name)}</h1><p>{html.escape(headline)}</p>{svg}"
        f"<pre>{html.escape(table)}</pre></body></html>\n"
    )


def _write(path: Path, content: str | bytes) -> None:
    """Replace ``path`` in one step. Each writer has its own scratch file: sweep processes sharing a study all
    write the summary when they finish, possibly at the same moment."""
    data = content.encode() if isinstance(content, str) else content
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as scratch:
        scratch.write(data)
    Path(scratch.name).chmod(0o644)
    os.replace(scratch.name, path)
