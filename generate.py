"""Continue a prompt with a trained language model: ``python generate.py prompt=...``; ``--help`` lists the options."""

import re
import sys

import hydra
from omegaconf import DictConfig

import nlpops.utils.resolvers  # noqa: F401  (registers the resolvers the configs use)

PROMPT = "prompt="


def quoted_prompt(argument: str) -> str:
    """``prompt=TEXT`` with TEXT quoted for Hydra, so a prompt is any text: commas, brackets, ``=`` and all.

    Hydra would read ``prompt=To be, or not to be`` as a list; a value the user quoted already is left alone.
    """
    text = argument.removeprefix(PROMPT)
    if not argument.startswith(PROMPT) or text[:1] in ("'", '"'):
        return argument
    # Hydra unescapes backslashes only before a quote: double those, escape the quotes; ${ is no interpolation here
    escaped = re.sub(r"(\\*)('|$)", lambda m: m[1] * 2 + ("\\'" if m[2] else ""), text).replace("${", "\\${")
    return f"{PROMPT}'{escaped}'"


@hydra.main(version_base="1.3", config_path="configs", config_name="generate")
def main(cfg: DictConfig) -> None:
    from nlpops.generate import generate  # heavy imports after Hydra has checked the command line
    from nlpops.utils.runs import run_stage

    run_stage(generate, cfg)


if __name__ == "__main__":
    sys.argv[1:] = [quoted_prompt(argument) for argument in sys.argv[1:]]
    main()
