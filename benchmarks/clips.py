"""What clips cost the box, measured within one run on the sample video.

* per frame, in the detection loop: privacy mask + JPEG into the pre-roll (``observe``),
  next to bare detector inference;
* per clip, in the worker thread: anonymisation (YuNet at 1x and 2x + head blur) and VP8
  encoding of a 15 s clip, per anonymisation mode.

Run: ``.venv/bin/python benchmarks/clips.py`` (models from $VIGIE_MODELS or ../shared/models).
Prints a markdown table.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.clips.maker import make_clip  # noqa: E402
from edge.clips.preroll import PreRoll, compress  # noqa: E402
from edge.config import DetectorConfig, PrivacyMask  # noqa: E402
from edge.config_wings import ClipsConfig  # noqa: E402
from edge.detect import make_detector  # noqa: E402
from edge.modelstore import ModelStore  # noqa: E402
from edge.privacy.faces import Anonymiser, FaceFinder  # noqa: E402
from edge.privacy.masks import MaskPainter  # noqa: E402

VIDEO = ROOT.parent / "shared" / "media" / "video" / "one-by-one-person-detection.mp4"
START, FRAMES = 250, 150  # 15 s at 10 fps, a stretch with a visitor facing the camera


def main() -> None:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    store = ModelStore(Path(os.environ["VIGIE_MODELS"]) if "VIGIE_MODELS" in os.environ else None)
    store.fetch(["yolox-nano", "yunet"], mirror=ROOT.parent / "shared" / "models", allow_download=False)
    cfg = ClipsConfig()
    detector = make_detector(DetectorConfig(), store)
    masks = MaskPainter([PrivacyMask(name="w", polygon=[(0.0, 0.0), (0.15, 0.0), (0.15, 0.3), (0.0, 0.3)])])
    cap = cv2.VideoCapture(str(VIDEO))
    cap.set(cv2.CAP_PROP_POS_FRAMES, START)
    ring = PreRoll(cfg.pre_s, cfg.preroll_max_bytes)
    stored, t_det, t_obs = [], 0.0, 0.0
    for i in range(FRAMES):
        ok, image = cap.read()
        assert ok
        t0 = time.perf_counter()
        masked = masks.apply(image)
        frame = compress(i / 10, masked, (), cfg.jpeg_quality, None)
        ring.push(frame)
        t1 = time.perf_counter()
        dets = detector.detect(masked)
        t2 = time.perf_counter()
        t_obs += t1 - t0
        t_det += t2 - t1
        stored.append(compress(i / 10, masked, tuple(d.box for d in dets if d.label == "person"),
                               cfg.jpeg_quality, None))
    rows = [
        ("detector inference, ms per frame", f"{t_det / FRAMES * 1000:.1f}"),
        ("mask + JPEG into pre-roll (in the loop), ms per frame", f"{t_obs / FRAMES * 1000:.2f}"),
        ("ratio loop overhead / inference", f"{t_obs / t_det:.3f}"),
        (f"pre-roll bytes for {cfg.pre_s:g} s at 768x432", f"{ring.nbytes / 1e6:.2f} MB"),
    ]
    out = Path(tempfile.mkdtemp(prefix="vigie-bench-"))
    yunet = store.path("yunet")
    for mode in ("faces+persons", "faces", "persons"):
        faces = FaceFinder(yunet, cfg.face_threshold, cfg.face_scale) if "faces" in mode else None
        anonymise = Anonymiser(masks, mode, faces)
        t0 = time.perf_counter()
        clip = make_clip(stored, 0.0, FRAMES / 10, cfg, anonymise, out / f"{mode}.webm")
        dt = time.perf_counter() - t0
        rows.append((f"15 s clip, anonymize={mode}: worker seconds (x real time)",
                     f"{dt:.1f} s ({dt / clip.duration_s:.2f}x), {clip.bytes / 1e6:.2f} MB"))
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
