"""Render ``dvc plots`` offline: ``make plots`` writes ``dvc_plots/index.html`` with every plot as inline SVG.

``dvc plots show`` writes an HTML page that loads Vega from a CDN, which stays blank without internet.
This asks DVC for the same Vega-Lite specs (``--json``, data included) and renders them here with
vl-convert, so the page needs no network and no JavaScript. Arguments are revisions to compare
(``python -m nlpops.utils.dvc_plots HEAD~1 workspace`` runs ``dvc plots diff``).
"""

from __future__ import annotations

import argparse
import html
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import vl_convert

from nlpops.utils.files import atomic_file

OUTPUT = Path("dvc_plots/index.html")


def dvc_plot_specs(revisions: list[str]) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """``{plot id: [rendered plot, ...]}`` and the errors DVC reported, from ``dvc plots show|diff --json``."""
    command = ["dvc", "plots", "diff", *revisions] if revisions else ["dvc", "plots", "show"]
    result = subprocess.run([sys.executable, "-m", *command, "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"error: `{' '.join(command)}` failed: {result.stderr.strip()}", file=sys.stderr)
        raise SystemExit(2)
    shown = json.loads(result.stdout)
    return shown.get("data", {}), shown.get("errors", [])


def render_page(plots: dict[str, list[dict[str, Any]]]) -> str:
    """One HTML page holding every Vega-Lite plot as SVG, in DVC's order."""
    sections = []
    for plot_id, renders in plots.items():
        for render in renders:
            if render.get("type") == "vega":
                svg = vl_convert.vegalite_to_svg(render["content"])
                sections.append(f"<section><h2>{html.escape(plot_id)}</h2>{svg}</section>")
    body = "\n".join(sections) or "<p>No plots: run <code>dvc repro</code> first.</p>"
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>DVC plots</title>'
        "<style>body{font-family:sans-serif;margin:2em}section{display:inline-block;margin:1em}</style>"
        f"</head><body><h1>DVC plots</h1>\n{body}\n</body></html>\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Render `dvc plots` offline into dvc_plots/index.html (SVG).")
    parser.add_argument("revisions", nargs="*", help="git revisions to compare (`dvc plots diff`); none: the workspace")
    args = parser.parse_args()
    plots, errors = dvc_plot_specs(args.revisions)
    for error in errors:
        print(f"warning: {error.get('source') or error.get('name')}: {error.get('msg')}", file=sys.stderr)
    with atomic_file(OUTPUT) as scratch:
        scratch.write_text(render_page(plots), encoding="utf-8")
    count = sum(len(renders) for renders in plots.values())
    print(f"wrote {count} plots to {OUTPUT}")


if __name__ == "__main__":
    main()
