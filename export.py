"""Export the trained model: ``python export.py [key=value ...]``; ``--help`` lists the options. See the README."""

import hydra
from omegaconf import DictConfig

import nlpops.utils.resolvers  # noqa: F401  (registers the resolvers the configs use)


@hydra.main(version_base="1.3", config_path="configs", config_name="export")
def main(cfg: DictConfig) -> None:
    from nlpops.export.stage import export  # heavy imports after Hydra has checked the command line
    from nlpops.utils.runs import run_stage

    run_stage(export, cfg)


if __name__ == "__main__":
    main()
