"""Print the third-party requirements of the package and some of its extras, one a line, for ``pip install -r``.

The images install their dependencies in a layer of their own, before the package, so that layer is rebuilt
only when pyproject.toml or constraints.txt change, not on every code change; pyproject.toml stays the one
list of them. An extra that names another (``nlpops[serve]``) is expanded. Standard library only: it runs
in the bare base image.

    python docker/requirements.py pyproject.toml serve > requirements.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    self_reference = re.compile(rf"{re.escape(project['name'])}\[([^\]]+)\]")
    found = list(project.get("dependencies", []))
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"error: {pyproject} has no extra '{extra}' (it has {', '.join(optional)})")
        seen.add(extra)
        for requirement in optional[extra]:
            if nested := self_reference.fullmatch(requirement):
                pending.extend(name.strip() for name in nested[1].split(","))
            else:
                found.append(requirement)
    return list(dict.fromkeys(found))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(f"usage: python {sys.argv[0]} PYPROJECT EXTRA [EXTRA ...]")
    print("\n".join(requirements(Path(sys.argv[1]), sys.argv[2:])))
