"""Every config group option and every experiment composes, and the default run's pieces build."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

import nlpops.utils.resolvers  # noqa: F401
from nlpops import tasks

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIGS / group).glob("*.yaml"))


def compose_train(*overrides: str, config: str = "train") -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose(config, overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):  # what @hydra.main fills in at run time
        cfg.hydra.runtime.output_dir = "/tmp/nlpops-test-run"
        cfg.hydra.runtime.cwd = str(CONFIGS.parent)
        cfg.hydra.job.override_dirname = ",".join(overrides)
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.mark.parametrize("group", ["task", "data", "model", "trainer", "logger", "callbacks", "debug", "experiment"])
def test_every_option_of_every_group_composes(group):
    for option in options(group):
        cfg = compose_train(f"{group}={option}")
        assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
        assert cfg.paths.checkpoint_dir == "/tmp/nlpops-test-run/checkpoints"
        assert cfg.data._target_ and cfg.model._target_


@pytest.mark.parametrize("task", options("task"))
def test_a_task_config_agrees_with_its_modules_and_the_registry(task):
    """configs/task/<task>.yaml: the registered task of that config, its modules, the monitor its module names."""
    cfg = compose_train(f"task={task}")
    registered = tasks.get(cfg.task_name)
    assert registered.config == task
    module = get_object(cfg.model._target_)
    for layer, target in (("models", module), ("data", get_object(cfg.data._target_))):
        assert target.__module__ == f"nlpops.{layer}.{registered.module}"
    assert (cfg.monitor.metric, cfg.monitor.mode) == (module.monitor, module.monitor_mode)
    for callback in (cfg.callbacks.model_checkpoint, cfg.callbacks.early_stopping):
        assert (callback.monitor, callback.mode) == (module.monitor, module.monitor_mode)
    assert cfg.optimized_metric == f"{module.monitor}_best"


def test_the_tasks_callbacks_come_with_the_callbacks_group_so_only_training_has_them():
    assert "classification_report" in compose_train().callbacks
    assert not compose_train("callbacks=none").callbacks
    for config in ("eval", "export", "prepare"):
        assert "callbacks" not in compose_train(config=config)


def test_hparams_search_composes_into_an_optuna_sweep():
    cfg = compose_train("hparams_search=sentiment_optuna", "experiment=sentiment_quick")
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert cfg.hydra.sweeper.direction == "maximize" and cfg.optimized_metric == "val/acc_best"
    assert cfg.model_dir is None


@pytest.mark.parametrize("config", ["train", "prepare", "export", "eval"])
def test_every_entry_point_config_resolves(config):
    """Each entry point's default config resolves fully, as its script needs (`python prepare.py` and so on)."""
    cfg = compose_train(config=config)
    with open_dict(cfg):
        del cfg.hydra  # Hydra's own settings: what @hydra.main resolves, not the script
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["stage"] == config and resolved["data"]["tokenizer"]
    assert resolved["task_name"] == tasks.CLASSIFICATION  # the default task, selectable with task=...


def test_eval_config_evaluates_nothing_until_told_what():
    cfg = compose_train(config="eval")
    assert cfg.ckpt_path is None and cfg.artifact_dir is None and cfg.variant == "int8"


@pytest.mark.parametrize(("config", "params_file"), [("pipeline", "params.yaml"), ("pipeline_ner", "params_ner.yaml")])
def test_params_files_are_what_dvc_composes_from_configs(tmp_path, config, params_file):
    """The params files (what the pipeline runs on) must not drift from configs/: run `make params` if this fails."""
    from dvc.utils.hydra import compose_and_dump

    composed = tmp_path / params_file
    compose_and_dump(composed, str(CONFIGS), None, config, str(CONFIGS.parent), [])
    assert composed.read_text() == (CONFIGS.parent / params_file).read_text()


def test_pipeline_params_keep_run_time_values_for_the_stages_to_resolve():
    params = OmegaConf.load(CONFIGS.parent / "params.yaml")
    unresolved = OmegaConf.to_container(params)
    assert unresolved["logger"]["wandb"]["offline"] == "${wandb_offline:}"  # decided where the stage runs
    assert unresolved["trainer"]["precision"] == "${cpu_precision:}"
    assert params.data.source == params.prepare.output and params.data.split_column == "split"
    assert params.model_dir == "./models/text-classifier" and params.artifact_dir == "./models/text-classifier-onnx"


def test_each_pipeline_branch_keeps_its_own_data_models_reports_and_run_folder():
    branches = {name: OmegaConf.load(CONFIGS.parent / name) for name in ("params.yaml", "params_ner.yaml")}
    for field in ("task_name", "prepare.raw_file", "data.source", "model_dir", "artifact_dir", "metrics_file"):
        values = {OmegaConf.select(params, field) for params in branches.values()}
        assert len(values) == len(branches), field
    assert branches["params_ner.yaml"].task_name == tasks.TOKEN_CLASSIFICATION
    assert branches["params_ner.yaml"].paths.output_dir == "./logs/pipeline/ner/train"


def test_default_run_is_the_offline_minilm_sentiment_model():
    cfg = compose_train()
    assert cfg.model.pretrained == "asset:all-minilm-l6-v2"
    assert cfg.data.source == "asset:rotten-tomatoes" and cfg.data.tokenizer == cfg.model.pretrained
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.precision in ("bf16-mixed", "32-true")  # per CPU
    assert cfg.run_name == "default"
    assert cfg.paths.output_dir == "/tmp/nlpops-test-run"


def test_run_folder_is_named_after_the_overrides():
    assert compose_train("trainer.max_epochs=5").run_name == "trainer.max_epochs-5"


@pytest.mark.parametrize("trainer", ["default", "cpu", "ddp_sim"])
def test_cpu_trainers_and_default_callbacks_instantiate(trainer):
    cfg = compose_train(f"trainer={trainer}", "logger=csv")
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c]
    built = instantiate(cfg.trainer, callbacks=callbacks, logger=False)
    assert built.max_epochs == cfg.trainer.max_epochs
    assert built.checkpoint_callback.dirpath == cfg.paths.checkpoint_dir
