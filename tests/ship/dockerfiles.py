"""Read a Dockerfile as its instructions, so tests check what the images are built from, not a copy of it."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.cli import REPO_ROOT

DOCKER = REPO_ROOT / "docker"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ENV, ...
    arguments: str


def instructions(path: Path) -> list[Instruction]:
    """The instructions in order, continuation lines joined, comments dropped."""
    found, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return found


def arg_defaults(path: Path) -> dict[str, str]:
    return dict(i.arguments.split("=", 1) for i in instructions(path) if i.keyword == "ARG" and "=" in i.arguments)


def expand(text: str, variables: dict[str, str]) -> str:
    """``text`` with each ``${NAME}`` replaced by its value in ``variables``."""
    return re.sub(r"\$\{(\w+)\}", lambda match: variables[match[1]], text)


def env(path: Path, variables: dict[str, str]) -> dict[str, str]:
    """The ENV the final image sets, with ``${NAME}`` expanded from ``variables`` (build args, base image ENV)."""
    values: dict[str, str] = {}
    for instruction in instructions(path):
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, value = pair.split("=", 1)
                values[name] = expand(value, {**variables, **values})
    return values


def cmd(path: Path) -> list[str]:
    return json.loads([i for i in instructions(path) if i.keyword == "CMD"][-1].arguments)


def context_sources(path: Path) -> list[str]:
    """What the Dockerfile takes from the build context: COPY sources (build args at their defaults) and bind-mount
    sources, not other stages."""
    sources = []
    for instruction in instructions(path):
        words = shlex.split(instruction.arguments)
        if instruction.keyword == "COPY" and not any(word.startswith("--from=") for word in words):
            sources += [expand(word, arg_defaults(path)) for word in words[:-1] if not word.startswith("--")]
        if instruction.keyword == "RUN":
            for mount in (word.removeprefix("--mount=") for word in words if word.startswith("--mount=")):
                options = dict(option.split("=", 1) for option in mount.split(",") if "=" in option)
                if options.get("type") == "bind" and "from" not in options:
                    sources.append(options["source"])
    return sources
