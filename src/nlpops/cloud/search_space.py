"""SageMaker parameter ranges from an ``hparams_search`` config's ``hydra.sweeper.params``.

One search space drives both tuners: the Optuna sweeper reads these values with Hydra's sweep grammar, and so
does this module (Hydra's own parser, not regexes), mapping each to the range type SageMaker has:
``interval`` → continuous (``tag(log, ...)`` → logarithmic), ``tag(int, interval(...))`` and ``range`` → integer,
``choice`` → categorical.
"""

from __future__ import annotations

from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from nlpops.errors import UserError

RANGE_TYPES = ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")


def parameter_ranges(cfg: DictConfig) -> dict[str, list[dict[str, Any]]]:
    """SageMaker's ``ParameterRanges`` for the sweep the composed ``cfg`` holds."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params")
    if not params:
        raise UserError("no search space: pass an hparams_search config, e.g. hparams_search=sentiment_optuna")
    ranges: dict[str, list[dict[str, Any]]] = {kind: [] for kind in RANGE_TYPES}
    for name, text in OmegaConf.to_container(params, resolve=True).items():
        kind, entry = parameter_range(name, text)
        ranges[kind].append(entry)
    return ranges


def parameter_range(name: str, text: Any) -> tuple[str, dict[str, Any]]:
    """The range type and entry of one sweep parameter, written as the Optuna sweeper reads it."""
    if isinstance(text, list):
        return _categorical(name, text)
    try:
        sweep = OverridesParser.create().parse_override(f"{name}={text}").value()
    except HydraException as err:
        raise UserError(f"hydra.sweeper.params.{name}: {' '.join(str(err).split())}") from None
    if isinstance(sweep, ChoiceSweep):
        return _categorical(name, sweep.list)
    if isinstance(sweep, RangeSweep) and sweep.step == 1 and sweep.stop is not None:
        return "IntegerParameterRanges", _bounds(name, sweep.start, sweep.stop - 1, sweep.tags)
    if isinstance(sweep, IntervalSweep):
        if "int" in sweep.tags:
            return "IntegerParameterRanges", _bounds(name, int(sweep.start), int(sweep.end), sweep.tags)
        return "ContinuousParameterRanges", _bounds(name, sweep.start, sweep.end, sweep.tags)
    raise UserError(
        f"hydra.sweeper.params.{name}={text!r}: SageMaker tunes interval(...), range(...) and choice(...) only"
    )


def _categorical(name: str, values: list[Any]) -> tuple[str, dict[str, Any]]:
    return "CategoricalParameterRanges", {"Name": name, "Values": [str(value) for value in values]}


def _bounds(name: str, low: float, high: float, tags: set[str]) -> dict[str, Any]:
    scaling = "Logarithmic" if "log" in tags else "Linear"
    return {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}
