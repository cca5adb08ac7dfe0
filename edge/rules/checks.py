"""Cross-section checks of a box config for the event catalogue (rules, lines, calibration).

Called by :class:`edge.config.BoxConfig` validation; each failure is a ``ValueError`` whose
text names the rule and says what to change.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from edge.rules.configs import FIRE_LABELS

if TYPE_CHECKING:
    from edge.config import BoxConfig

log = logging.getLogger(__name__)


def model_labels(model: str) -> tuple[str, ...] | None:
    """The labels the manifest lists for ``model``, or None when it cannot be told here."""
    from edge.modelstore import Manifest, ModelStoreError

    try:
        return Manifest.load().get(model).labels or None
    except (ModelStoreError, OSError, ValueError):
        return None


def _needed_classes(rule: object) -> list[str]:
    kind = getattr(rule, "type", "")
    classes = list(getattr(rule, "classes", []))
    if kind in ("abandoned_object", "person_down", "crowd_density", "crowd_movement"):
        classes.append("person")
    return classes


def check_box(cfg: BoxConfig) -> None:
    """Raise ValueError on the first inconsistency between rules, model, lines and zones."""
    names = [ln.name for ln in cfg.lines]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"line names must be unique; repeated: {', '.join(dupes)}")
    zones = {z.name for z in cfg.zones}
    for z in cfg.stats.zones or []:
        if z not in zones:
            raise ValueError(f"stats.zones names zone {z!r}, not a [[zones]] entry")
    labels = model_labels(cfg.detector.model)
    for i, rule in enumerate(cfg.rules):
        where = f"rules[{i}] ({rule.type})"
        if rule.type == "crowd_density" and cfg.calibration is None:
            raise ValueError(
                f"{where} needs ground-plane calibration: add a [calibration] section with four "
                "image points and their ground positions in metres (see `vigie edge calibrate`)"
            )
        if rule.type == "fire" and labels is not None and not set(labels) & set(FIRE_LABELS):
            raise ValueError(
                f"{where}: model {cfg.detector.model!r} has no flame or smoke class, so fire "
                "cannot be detected; configure a detector model whose manifest labels include "
                f"one of {', '.join(FIRE_LABELS)}, or remove this rule"
            )
        if labels is not None and rule.type in ("weapon", "fire"):
            unknown = [c for c in getattr(rule, "classes", []) if c not in labels]
            if unknown:
                raise ValueError(
                    f"{where}: model {cfg.detector.model!r} has no class {', '.join(map(repr, unknown))}"
                )
        missing = [c for c in _needed_classes(rule) if c not in cfg.detector.classes]
        if missing:
            raise ValueError(
                f"{where} uses class(es) {', '.join(map(repr, sorted(set(missing))))} that the "
                f"detector does not report; add them to [detector] classes"
            )
