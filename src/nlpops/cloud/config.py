"""The Hydra config a job will run, composed here before anything is created in AWS.

A job's overrides are composed locally on ``configs/`` exactly as ``train.py`` would compose them in the image: an
unknown key or group fails here, as one line, not an hour later in a paid instance. The composed config also
gives what SageMaker must know: the metrics to parse from the log and a sweep's search space.
"""

from __future__ import annotations

import re
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nlpops.errors import UserError

CONFIG_DIR = Path("configs")
CONFIG_NAME = "train"
# What the metric lines of the container (nlpops.cloud.metric_lines) look like: ``metrics: val/acc=0.81 ...``
METRIC_VALUE = r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"


def compose_train(overrides: list[str], config_dir: Path = CONFIG_DIR) -> DictConfig:
    """``train.py``'s config with ``overrides``; a ``UserError`` naming the override that does not compose."""
    import nlpops.utils.resolvers  # noqa: F401  (the resolvers the configs use)

    if not (config_dir / f"{CONFIG_NAME}.yaml").is_file():
        raise UserError(f"no {CONFIG_NAME}.yaml in {config_dir}: run from the repository root")
    try:
        with initialize_config_dir(str(config_dir.resolve()), version_base="1.3"):
            return compose(CONFIG_NAME, overrides=overrides, return_hydra_config=True)
    except (HydraException, OmegaConfBaseException) as err:
        raise UserError(f"the overrides do not compose: {' '.join(str(err).split())}") from None


def metric_names(cfg: DictConfig) -> list[str]:
    """The metrics SageMaker records for a job: the task's monitored metric, its best, and the losses."""
    monitored = _value(cfg, "monitor.metric")
    names = [monitored, f"{monitored}_best", _value(cfg, "optimized_metric"), "val/loss", "train/loss_epoch"]
    if monitored.startswith("val/"):
        names.append("test/" + monitored.removeprefix("val/"))
    return list(dict.fromkeys(names))


def metric_definitions(names: list[str]) -> list[dict[str, str]]:
    """SageMaker metric definitions: a regex per metric over the container's ``metrics:`` log lines."""
    # anchored after a space, so that ``val/acc`` does not match inside ``val/acc_best``
    return [{"Name": name, "Regex": rf"(?:^|\s){re.escape(name)}=({METRIC_VALUE})"} for name in names]


def _value(cfg: DictConfig, key: str) -> str:
    try:
        value = OmegaConf.select(cfg, key, throw_on_missing=True)
    except OmegaConfBaseException as err:
        raise UserError(f"cannot resolve {key}: {' '.join(str(err).split())}") from None
    if not isinstance(value, str) or not value:
        raise UserError(f"{key} must name a metric, got {value!r}")
    return value
