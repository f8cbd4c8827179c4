"""Prepare the data: ``python prepare.py [key=value ...]``. See configs/prepare.yaml and the README."""

import hydra
from omegaconf import DictConfig

import nlpops.utils.resolvers  # noqa: F401  (registers the resolvers the configs use)


@hydra.main(version_base="1.3", config_path="configs", config_name="prepare")
def main(cfg: DictConfig) -> None:
    from nlpops.prepare import prepare  # heavy imports after Hydra has checked the command line
    from nlpops.utils.runs import run_stage

    run_stage(prepare, cfg)


if __name__ == "__main__":
    main()
