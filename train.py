"""Train a model: ``python train.py [key=value ...]``. See configs/train.yaml and the README."""

import hydra
from omegaconf import DictConfig

import nlpops.utils.resolvers  # noqa: F401  (registers the resolvers the configs use)


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from nlpops.train import train  # heavy imports after Hydra has checked the command line
    from nlpops.utils.runs import run_stage

    metrics = run_stage(train, cfg)
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
