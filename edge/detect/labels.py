"""One label vocabulary for every detector: the COCO names (person, bicycle, car, ...).

Models trained on other label sets map to it in the manifest (for example Intel's
person-vehicle-bike: vehicle -> car, bike -> bicycle); :func:`select_classes` turns the
configured class list into the indices a given model can report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)

VEHICLES = frozenset({"car", "motorcycle", "bus", "truck"})
"""COCO classes counted as "vehicle" when comparing detectors with different label sets."""


def select_classes(
    labels: Sequence[str], classes: Sequence[str] | None, model_name: str,
    vocabulary: Sequence[str] = (),
) -> set[int] | None:
    """Indices of ``labels`` to keep for the configured ``classes`` (None keeps all).

    A class outside the vocabulary (default: the model's own labels) is a mistake and raises
    DetectorError; a vocabulary class the model cannot see (a bus for a person/vehicle/bike
    model) is dropped with a log line.
    """
    from edge.detect import DetectorError

    if not classes:
        return None
    vocabulary = vocabulary or labels
    unknown = [c for c in classes if c not in vocabulary and c not in labels]
    if unknown:
        raise DetectorError(f"classes {unknown} are not labels of model {model_name} nor COCO names")
    missing = [c for c in classes if c not in labels]
    if missing:
        log.info("model %s cannot detect %s; ignoring those classes", model_name, ", ".join(missing))
    keep = {i for i, lab in enumerate(labels) if lab in classes}
    if not keep:
        raise DetectorError(f"model {model_name} detects none of the configured classes {list(classes)}")
    return keep


def read_labelmap(path: str) -> tuple[str, ...]:
    """A one-label-per-line file (TensorFlow style; ``???`` marks unused ids)."""
    with open(path, encoding="utf-8") as f:
        return tuple(line.strip() for line in f)
