"""Evaluate a checkpoint: ``python eval.py ckpt_path=PATH [key=value ...]``. See configs/eval.yaml."""

import hydra
from omegaconf import DictConfig

import nlpops.utils.resolvers  # noqa: F401  (registers the resolvers the configs use)


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    from nlpops.evaluate import evaluate
    from nlpops.utils.runs import run_stage

    run_stage(evaluate, cfg)


if __name__ == "__main__":
    main()
