"""What ``vigie index eval-colour`` prints and writes: markdown tables of an evaluation of the
colour classifier (:mod:`edge.tools.colour_eval`) and contact sheets of the labelled crops.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from edge.search.colour import PALETTE
from edge.tools.colour_eval import GRID, CrossValidation, Evaluation, TrackRow

log = logging.getLogger(__name__)


def confusion_table(ev: Evaluation, title: str) -> str:
    """A markdown confusion matrix (rows: labelled colour, columns: predicted) with accuracy."""
    m = ev.confusion()
    used = [c for c in PALETTE if sum(m[c].values()) or any(m[r][c] for r in PALETTE)]
    head = "| labelled \\ predicted | " + " | ".join(used) + " | n | recall |"
    lines = [f"**{title}**", "", head, "|" + "---|" * (len(used) + 3)]
    for a in used:
        n = sum(m[a].values())
        if not n:
            continue
        cells = " | ".join(f"**{m[a][b]}**" if a == b and m[a][b] else str(m[a][b]) for b in used)
        lines.append(f"| {a} | {cells} | {n} | {m[a][a] / n:.2f} |")
    right = sum(x == y for x, y in zip(ev.labels, ev.predicted, strict=True))
    lines += ["", f"accuracy {ev.accuracy:.3f} ({right}/{len(ev.labels)})"]
    return "\n".join(lines)


def folds_table(cv: CrossValidation, keys: Iterable[str] = tuple(GRID)) -> str:
    """One line per held-out group: its crops, held-out accuracy and the thresholds chosen."""
    keys = list(keys)
    lines = [f"| held-out {cv.by} | crops | accuracy | " + " | ".join(keys) + " |",
             "|" + "---|" * (3 + len(keys))]
    for g, n, acc, p in cv.folds:
        lines.append(f"| {g} | {n} | {acc:.2f} | " + " | ".join(f"{getattr(p, k):g}" for k in keys) + " |")
    return "\n".join(lines)


def tracks_table(rows: Sequence[TrackRow]) -> str:
    """A markdown table of :func:`track_rows` with the share of vehicles right."""
    lines = ["| vehicle | source | crops | labelled | track colour | track colour, held out |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.vehicle} | {r.source} | {r.crops} | {r.labelled} | {r.box} | "
                     f"{r.held_out or '-'} |")
    right = sum(r.box == r.labelled for r in rows)
    held = [r for r in rows if r.held_out is not None]
    summary = f"vehicles right: {right}/{len(rows)}"
    if held:
        summary += f", held out: {sum(r.held_out == r.labelled for r in held)}/{len(held)}"
    return "\n".join([*lines, "", summary])


def contact_sheets(
    crops: Sequence[np.ndarray], captions: Sequence[str], out_dir: Path, tile: int = 190,
    per_side: int = 5,
) -> list[Path]:
    """Write the crops as numbered PNG contact sheets (``per_side`` x ``per_side`` tiles, the
    crop's number and caption drawn above it) for a person to check the labels by eye."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tiles = []
    for n, (crop, caption) in enumerate(zip(crops, captions, strict=True)):
        t = np.full((tile, tile, 3), 255, np.uint8)
        s = min((tile - 4) / crop.shape[1], (tile - 26) / crop.shape[0])
        small = cv2.resize(crop, (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))))
        t[24:24 + small.shape[0], 2:2 + small.shape[1]] = small
        cv2.putText(t, f"{n} {caption}"[:30], (3, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        tiles.append(cv2.copyMakeBorder(t, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=(0, 0, 0)))
    paths: list[Path] = []
    if not tiles:
        return paths
    blank = np.full_like(tiles[0], 255)
    page = per_side * per_side
    for k in range(0, len(tiles), page):
        group = tiles[k:k + page] + [blank] * (page - len(tiles[k:k + page]))
        rows = [np.hstack(group[r * per_side:(r + 1) * per_side]) for r in range(per_side)]
        path = out_dir / f"sheet_{k // page:02d}.png"
        cv2.imwrite(str(path), np.vstack(rows))
        paths.append(path)
    return paths
