"""The learning curves as a PNG in the run folder, for runs without W&B (and without ``dvc plots``)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer

from nlpops.utils.files import atomic_file

log = logging.getLogger(__name__)


class HistoryPlot(Callback):
    """At the end of fit, draws ``metrics`` of the per-epoch ``history`` CSV (``EpochHistory``'s) into ``path``.

    One panel per kind of metric (the name after ``/`` up to any ``_``: ``val/perplexity_pretrained`` is drawn
    with ``val/perplexity``, ``train/loss_epoch`` with ``val/loss``), each with its own scale, a line per metric.
    """

    def __init__(self, history: str, path: str, metrics: Sequence[str]) -> None:
        self.history = Path(history)
        self.path = Path(path)
        self.metrics = list(metrics)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero or not self.history.is_file():
            return
        points = history_points(self.history, self.metrics)
        if not points:
            return
        import vl_convert

        with atomic_file(self.path) as scratch:
            scratch.write_bytes(vl_convert.vegalite_to_png(curves_spec(points), scale=2))
        log.info("Learning curves: %s", self.path)


def history_points(history: Path, metrics: Sequence[str]) -> list[dict[str, object]]:
    """(epoch, panel, metric, value) of each metric logged in each epoch of the history CSV."""
    with history.open(newline="") as file:
        rows = list(csv.DictReader(file))
    return [
        {
            "epoch": int(row["epoch"]),
            "panel": name.split("/")[-1].split("_")[0],
            "metric": name,
            "value": float(row[name]),
        }
        for row in rows
        for name in metrics
        if row.get(name) not in (None, "")
    ]


def curves_spec(points: list[dict[str, object]]) -> dict[str, object]:
    """A Vega-Lite spec: a panel per kind of metric, its own y scale, a coloured line per metric."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": points},
        "facet": {"column": {"field": "panel", "type": "nominal", "title": None}},
        "spec": {
            "width": 280,
            "height": 200,
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "epoch", "type": "ordinal", "axis": {"labelAngle": 0}},
                "y": {"field": "value", "type": "quantitative", "scale": {"zero": False}},
                "color": {"field": "metric", "type": "nominal"},
            },
        },
        "resolve": {"scale": {"y": "independent"}},
    }
