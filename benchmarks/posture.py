"""Posture from the body: the torso's angle from the vertical that the pose model gives for every
real person of the shared footage (upright) and for the same persons turned a quarter turn each
way (lying: there is no real fall footage here), the share called lying at ``min_tilt_deg``, and
the pose model's CPU per estimate.

    .venv/bin/python benchmarks/posture.py

Persons: the YOLOX person boxes (score 0.5 or more, 40 px or taller) of one-by-one-person-
detection.mp4 every 50th frame, two_people.png, kite_and_cold.jpg and grace_hopper.png (a head-
and-shoulders portrait). Prints markdown.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import DetectorConfig  # noqa: E402
from edge.detect import make_detector  # noqa: E402
from edge.modelstore import ModelStore, default_mirror  # noqa: E402
from edge.posture import load_estimator, square_crop  # noqa: E402
from edge.rules.configs import PersonDownRule  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"


def person_crops() -> list[tuple[str, np.ndarray]]:
    """Square crops (grown 60 %, so a quarter turn keeps the whole body) of every person."""
    store = ModelStore()
    store.fetch(mirror=default_mirror(), allow_download=False)
    det = make_detector(DetectorConfig(classes=["person"]), store)
    images: list[tuple[str, np.ndarray]] = []
    cap = cv2.VideoCapture(str(MEDIA / "video/one-by-one-person-detection.mp4"))
    i = 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if i % 50 == 0:
            images.append(("one-by-one", f))
        i += 1
    for name in ("two_people.png", "kite_and_cold.jpg", "grace_hopper.png"):
        images.append((name, cv2.imread(str(MEDIA / "images" / name))))
    crops = []
    for name, img in images:
        for d in det.detect(img):
            if d.score >= 0.5 and d.box[3] - d.box[1] >= 40:
                crops.append((name, square_crop(img, d.box, margin=0.6)[0]))
    return crops


def main() -> None:
    store = ModelStore()
    pose = load_estimator(store)
    threshold = PersonDownRule(type="person_down").min_tilt_deg
    crops = person_crops()
    rows: dict[str, list[float | None]] = {"upright": [], "turned clockwise": [], "turned anticlockwise": []}
    cpu = 0.0
    for _name, crop in crops:
        s = crop.shape[0]
        inner = (s * 0.19, s * 0.19, s * 0.81, s * 0.81)  # the person's box inside the crop
        for key, img in (("upright", crop), ("turned clockwise", cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE)),
                         ("turned anticlockwise", cv2.rotate(crop, cv2.ROTATE_90_COUNTERCLOCKWISE))):
            c0 = time.process_time()
            body = pose.estimate(img, inner)
            cpu += time.process_time() - c0
            rows[key].append(body.tilt_deg((0.0, -1.0)) if body else None)
    print(f"{len(crops)} real persons; lying = torso at least {threshold:.0f} degrees from the vertical; "
          f"pose CPU {cpu * 1000 / (3 * len(crops)):.1f} ms per estimate\n")
    print("| persons | body found | median tilt (degrees) | min-max | called lying |")
    print("|---|---|---|---|---|")
    for key, tilts in rows.items():
        seen = [t for t in tilts if t is not None]
        lying = sum(t >= threshold for t in seen)
        print(f"| {key} | {len(seen)}/{len(tilts)} | {np.median(seen):.0f} | {min(seen):.0f}-{max(seen):.0f} "
              f"| {lying}/{len(tilts)} |")


if __name__ == "__main__":
    main()
