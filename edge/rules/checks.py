"""Cross-section checks of a box config for the event catalogue (rules, lines, calibration).

Called by :class:`edge.config.BoxConfig` validation; each finding is an
:class:`~edge.wire.tomlconf.Issue` that locates what it names (so the loader can give its line)
and says what to change. All findings are returned, not only the first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from edge.rules.configs import FIRE_LABELS
from edge.wire.tomlconf import Issue

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
    if kind == "fire" and getattr(rule, "source", "") == "classical":
        return []
    classes = list(getattr(rule, "classes", []))
    if kind in ("abandoned_object", "person_down", "crowd_density", "crowd_movement"):
        classes.append("person")
    return classes


def _repeated(names: list[str]) -> list[int]:
    """Positions of names already seen earlier in the list."""
    return [i for i, n in enumerate(names) if n in names[:i]]


def check_box(cfg: BoxConfig) -> list[Issue]:
    """Every inconsistency between rules, model, lines and zones."""
    out: list[Issue] = []
    for what, items in (("zone", cfg.zones), ("line", cfg.lines)):
        names = [item.name for item in items]
        for i in _repeated(names):
            out.append(Issue((f"{what}s", i, "name"),
                             f"{what} names must be unique; repeated: {names[i]}"))
    zones = {z.name for z in cfg.zones}
    known = ", ".join(sorted(zones)) or "none defined"
    for j, z in enumerate(cfg.stats.zones or []):
        if z not in zones:
            out.append(Issue(("stats", "zones", j),
                             f"stats.zones names zone {z!r}, not a [[zones]] entry ({known})"))
    for j, z in enumerate(cfg.detector.tiling.zones):
        if z not in zones:
            out.append(Issue(("detector", "tiling", "zones", j),
                             f"detector.tiling.zones names zone {z!r}, not a [[zones]] entry ({known})"))
    labels = model_labels(cfg.detector.model)
    for i, rule in enumerate(cfg.rules):
        out.extend(_rule_issues(cfg, i, rule, zones, known, labels))
    return out


def _rule_issues(cfg: BoxConfig, i: int, rule: Any, zones: set[str], known: str,
                 labels: tuple[str, ...] | None) -> list[Issue]:
    where = f"rules[{i}] ({rule.type})"
    out: list[Issue] = []
    if rule.zone is not None and rule.zone not in zones:
        out.append(Issue(("rules", i, "zone"),
                         f"{where} names zone {rule.zone!r}, not a [[zones]] entry ({known})"))
    if rule.type == "crowd_density" and cfg.calibration is None:
        out.append(Issue(("rules", i, "type"), (
            f"{where} needs ground-plane calibration: add a [calibration] section with four "
            "image points and their ground positions in metres (see `vigie edge calibrate`)")))
    model_fire = rule.type == "fire" and rule.source == "model"
    if model_fire and labels is not None and not set(labels) & set(FIRE_LABELS):
        out.append(Issue(("rules", i, "source"), (
            f"{where}: model {cfg.detector.model!r} has no flame or smoke class, so it cannot "
            "detect fire; use source = \"classical\" (flame colour, flicker and smoke, no model "
            f"needed) or a detector model whose manifest labels include one of "
            f"{', '.join(FIRE_LABELS)}")))
    if labels is not None and (rule.type == "weapon" or model_fire):
        unknown = [c for c in getattr(rule, "classes", []) if c not in labels]
        if unknown:
            out.append(Issue(("rules", i, "classes"), f"{where}: model {cfg.detector.model!r} has no "
                                                       f"class {', '.join(map(repr, unknown))}"))
    missing = [c for c in _needed_classes(rule) if c not in cfg.detector.classes]
    if missing:
        out.append(Issue(("rules", i, "classes"), (
            f"{where} uses class(es) {', '.join(map(repr, sorted(set(missing))))} that the "
            f"detector does not report; add them to [detector] classes")))
    return out
