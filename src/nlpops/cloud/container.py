"""The training image's entry point: SageMaker's container contract → ``train.py``'s config → ``train``.

SageMaker starts the image as ``docker run IMAGE train`` on every instance, with a tree under ``/opt/ml``:
``input/config/hyperparameters.json`` (the job's overrides, ``nlpops.cloud.jobs``), ``input/data/<channel>``
(the data), ``input/config/resourceconfig.json`` (this host and all hosts), ``model/`` (uploaded as
``model.tar.gz``), ``checkpoints/`` (synced with S3: a spot replacement finds the last checkpoint there and
resumes through ``train``'s usual ``last.ckpt`` path) and ``output/failure`` (the reason shown when the job
fails). ``output/data/`` is uploaded as ``output.tar.gz``: the run folder (logs, metrics) goes there.
``NLPOPS_SAGEMAKER_ROOT`` moves the tree (tests use a temporary one).

Several hosts run one DDP job: the first host is the master, each host's rank is its place in ``hosts``;
Lightning computes the world size from ``trainer.num_nodes`` times ``trainer.devices``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlpops.cloud.jobs import CHANNEL, DATA_FILE, MODEL_FOLDER, OVERRIDES
from nlpops.errors import UserError

ROOT_VARIABLE = "NLPOPS_SAGEMAKER_ROOT"
CONFIG_DIR_VARIABLE = "NLPOPS_CONFIG_DIR"  # default: ./configs (the image's WORKDIR is /app)
MASTER_PORT = "29500"
METRIC_LINES = "+callbacks.sagemaker_metrics._target_=nlpops.cloud.metric_lines.MetricLines"
# last.ckpt as a file, not the link train.py keeps locally: SageMaker syncs files to S3, and a replacement
# instance must find a real last.ckpt to resume from
LAST_AS_FILE = "++callbacks.model_checkpoint.save_last=true"


@dataclass(frozen=True)
class Contract:
    """The ``/opt/ml`` tree of one instance."""

    root: Path

    @classmethod
    def from_environment(cls) -> Contract:
        return cls(Path(os.environ.get(ROOT_VARIABLE, "/opt/ml")))

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    def hyperparameters(self) -> dict[str, str]:
        return _read_json(self.root / "input" / "config" / "hyperparameters.json", {})

    def hosts(self) -> tuple[str, list[str]]:
        """This host and all hosts: ``resourceconfig.json``, else the ``SM_*`` variables, else one host."""
        config = _read_json(self.root / "input" / "config" / "resourceconfig.json", {})
        current = config.get("current_host") or os.environ.get("SM_CURRENT_HOST", "algo-1")
        hosts = config.get("hosts") or json.loads(os.environ.get("SM_HOSTS", "[]")) or [current]
        if current not in hosts:
            raise UserError(f"resourceconfig.json: current_host {current!r} is not one of hosts {hosts}")
        return current, sorted(hosts)

    def data_file(self, name: str | None) -> Path:
        """The channel's data under its own name (SageMaker names the DVC object by its hash: linked elsewhere)."""
        channel = Path(os.environ.get(f"SM_CHANNEL_{CHANNEL.upper()}", self.root / "input" / "data" / CHANNEL))
        files = sorted(path for path in channel.rglob("*") if path.is_file()) if channel.is_dir() else []
        if len(files) != 1:
            raise UserError(f"the {CHANNEL} channel {channel} must hold one data file, found {len(files)}")
        if not name or files[0].name == name:
            return files[0]
        link = Path(tempfile.mkdtemp(prefix="nlpops-data-")) / name
        link.symlink_to(files[0])
        return link

    def overrides(self) -> list[str]:
        """The job's overrides, its tuned hyperparameters, then where this tree says data, model and run go."""
        values = self.hyperparameters()
        user = json.loads(values.get(OVERRIDES, "[]"))
        tuned = [f"{key}={value}" for key, value in values.items() if _is_tuned(key)]
        _, hosts = self.hosts()
        ours = [
            f"data.source={self.data_file(values.get(DATA_FILE))}",
            f"model_dir={self.root / 'model' / MODEL_FOLDER}",
            f"paths.checkpoint_dir={self.root / 'checkpoints'}",
            f"hydra.run.dir={self.root / 'output' / 'data' / 'run'}",
            f"trainer.num_nodes={len(hosts)}",
            METRIC_LINES,
            LAST_AS_FILE,
        ]
        if len(hosts) > 1:
            ours.append("trainer.strategy=ddp")
        given = {_key(item) for item in [*user, *tuned]}
        return [*user, *tuned, *(item for item in ours if _key(item) not in given)]

    def distributed_environment(self) -> dict[str, str]:
        """``MASTER_ADDR`` (the first host; kept if already set, as tests set it), ``MASTER_PORT``, ``NODE_RANK``.

        Nothing for one host: Lightning's defaults (127.0.0.1) serve the devices of a single instance.
        """
        current, hosts = self.hosts()
        if len(hosts) == 1:
            return {}
        return {
            "MASTER_ADDR": os.environ.get("MASTER_ADDR", hosts[0]),
            "MASTER_PORT": os.environ.get("MASTER_PORT", MASTER_PORT),
            "NODE_RANK": str(hosts.index(current)),
        }


def _is_tuned(key: str) -> bool:
    """A tuning job's parameter (named by its config key), not ours nor SageMaker's own (``_tuning_...``)."""
    return key not in (OVERRIDES, DATA_FILE) and not key.startswith(("_", "sagemaker_"))


def _last_of_each_key(overrides: list[str]) -> list[str]:
    """Hydra refuses a key given twice: keep each key's last value, in the order of those."""
    last = {_key(item): item for item in overrides}
    return [item for item in overrides if last[_key(item)] is item]


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _read_json(path: Path, default: dict[str, Any]) -> dict[str, Any]:
    if not path.is_file():
        return default
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path}: {err}") from None


def run_training(config_dir: Path, overrides: list[str], failure: Callable[[str], None]) -> int:
    """``train.py``'s run (Hydra's main: run folder, logging, one-line errors) with ``overrides``; its exit status."""
    import hydra
    from omegaconf import DictConfig

    import nlpops.utils.resolvers  # noqa: F401  (the resolvers the configs use)
    from nlpops.train import train
    from nlpops.utils.runs import run_stage

    def recorded(cfg: DictConfig) -> dict[str, float]:
        try:
            return train(cfg)
        except Exception as err:
            failure(f"{type(err).__name__}: {err}")
            raise

    @hydra.main(version_base="1.3", config_path=str(config_dir.resolve()), config_name="train")
    def main(cfg: DictConfig) -> None:
        run_stage(recorded, cfg)

    sys.argv = [sys.argv[0], *overrides]
    try:
        main()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    contract = Contract.from_environment()

    def failure(message: str) -> None:
        contract.failure_file.parent.mkdir(parents=True, exist_ok=True)
        contract.failure_file.write_text(message[:1024] + "\n")  # SageMaker shows the first 1024 characters

    config_dir = Path(os.environ.get(CONFIG_DIR_VARIABLE, "configs"))
    if os.environ.get("LOCAL_RANK", "0") != "0":
        # a process Lightning started for another device of this host: its command line is the first one's
        # overrides with Lightning's own hydra.run.dir appended, its environment the first one's
        return run_training(config_dir, _last_of_each_key(args), failure)
    if args not in ([], ["train"]):
        print(f"error: this image trains: run it as `train`, not {' '.join(args)!r}", file=sys.stderr)
        return 2
    try:
        overrides = contract.overrides()
        os.environ.update(contract.distributed_environment())
    except UserError as err:
        failure(str(err))
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"train.py {' '.join(overrides)}", file=sys.stderr, flush=True)
    status = run_training(config_dir, overrides, failure)
    if status and not contract.failure_file.exists():
        failure(f"train.py exited with status {status}: the job's log says why")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
