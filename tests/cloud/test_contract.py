"""How the container reads SageMaker's ``/opt/ml`` tree: overrides, tuned parameters, hosts and ranks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlpops.cloud.container import Contract
from nlpops.errors import UserError
from tests.cloud.sagemaker_tree import lay_out


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text("review,sentiment\ngood,fresh\n")
    return path


def test_tuned_parameters_become_overrides_and_sagemakers_own_keys_do_not(data: Path, tmp_path: Path) -> None:
    root = lay_out(tmp_path / "ml", ["trainer.max_epochs=2"], data)
    hyperparameters = json.loads((root / "input/config/hyperparameters.json").read_text())
    hyperparameters |= {"model.optimizer.lr": "3.1e-05", "_tuning_objective_metric": "val/acc_best"}
    (root / "input/config/hyperparameters.json").write_text(json.dumps(hyperparameters))

    overrides = Contract(root).overrides()
    assert overrides[:2] == ["trainer.max_epochs=2", "model.optimizer.lr=3.1e-05"]
    assert not any("_tuning_objective_metric" in item for item in overrides)
    assert f"model_dir={root}/model/model" in overrides
    assert f"paths.checkpoint_dir={root}/checkpoints" in overrides
    assert "trainer.num_nodes=1" in overrides and "trainer.strategy=ddp" not in overrides
    (source,) = [item for item in overrides if item.startswith("data.source=")]
    assert source.endswith("/reviews.csv") and Path(source.split("=", 1)[1]).read_text() == data.read_text()


def test_the_users_value_wins_over_the_containers(data: Path, tmp_path: Path) -> None:
    root = lay_out(tmp_path / "ml", ["callbacks.model_checkpoint.save_last=link"], data)
    overrides = Contract(root).overrides()
    assert [item for item in overrides if "save_last" in item] == ["callbacks.model_checkpoint.save_last=link"]


def test_each_host_ranks_by_its_place_and_the_first_is_the_master(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    hosts = ("algo-2", "algo-1", "algo-3")  # SageMaker lists them in any order; ranks follow the sorted names
    root = lay_out(tmp_path / "ml", [], data, "algo-3", hosts)
    contract = Contract(root)
    assert contract.distributed_environment() == {"MASTER_ADDR": "algo-1", "MASTER_PORT": "29500", "NODE_RANK": "2"}
    assert {"trainer.num_nodes=3", "trainer.strategy=ddp"} <= set(contract.overrides())


def test_one_host_leaves_the_rendezvous_to_lightning(data: Path, tmp_path: Path) -> None:
    assert Contract(lay_out(tmp_path / "ml", [], data)).distributed_environment() == {}


def test_a_host_missing_from_the_hosts_is_a_user_error(data: Path, tmp_path: Path) -> None:
    root = lay_out(tmp_path / "ml", [], data, "algo-9", ("algo-1", "algo-2"))
    with pytest.raises(UserError, match="current_host 'algo-9' is not one of hosts"):
        Contract(root).hosts()
