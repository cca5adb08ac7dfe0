"""``vigie eval ...``: measurements any change can run (labelled scenes through the real pipeline)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

log = logging.getLogger("vigie")


@click.group("eval")
def evaluate() -> None:
    """Measure the box on labelled footage."""


@evaluate.command("scenes")
@click.argument("scenes", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead of tables.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Change every scene's box config, e.g. tracker.max_gap_s=0 or rules.gap_s=0 "
                   "(a list such as rules gets it in every item). Repeatable.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder the scenes' video paths are relative to (default: this checkout).")
def eval_scenes(scenes: tuple[Path, ...], as_json: bool, overrides: tuple[str, ...],
                root: Path | None) -> None:
    """Replay labelled SCENES (files or folders; default evaluation/scenes) and print, per event
    type, true, false, duplicate and missed alerts, latency and false alarms per hour, and the
    tracker's fragmentation and id switches."""
    from tqdm import tqdm

    from edge.detect import DetectorError
    from edge.modelstore import ModelStoreError
    from edge.tools.replay import ReplayError
    from edge.tools.scene_eval import (
        CHECKOUT,
        SceneError,
        parse_overrides,
        render,
        run_scene,
        scene_files,
        summary,
        total_frames,
    )

    base = root or CHECKOUT
    try:
        files = scene_files(list(scenes) or [CHECKOUT / "evaluation" / "scenes"])
        changes = parse_overrides(overrides)
        total = sum(total_frames(f, base) for f in files)
        results = []
        with tqdm(total=total or None, unit="frame", desc="scenes", file=sys.stderr, mininterval=1) as bar:
            for f in files:
                bar.set_postfix_str(f.stem)
                results.append(run_scene(f, root=base, overrides=changes, progress=bar.update))
    except (SceneError, ReplayError, ModelStoreError, DetectorError) as exc:
        raise click.ClickException(str(exc)) from None
    report = summary(results)
    click.echo(json.dumps(report, indent=2) if as_json else render(report))
