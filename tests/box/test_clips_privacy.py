"""Anonymisation on real footage with the real models: where YuNet finds faces in the raw
frames, it finds none (threshold 0.5, at native and 2x size) in the same frames of the
encoded clip; privacy masks are black in every frame and hidden from detection."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.clips.encode import timeline
from edge.clips.maker import make_clip
from edge.clips.preroll import PreRoll, compress
from edge.config import DetectorConfig, PrivacyMask, SourceConfig
from edge.config_wings import ClipsConfig
from edge.detect import make_detector
from edge.modelstore import ModelStore
from edge.privacy.faces import Anonymiser, FaceFinder
from edge.privacy.masks import MaskPainter
from tests.kits.clipkit import decode_all

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

VIDEO = "video/one-by-one-person-detection.mp4"
SEGMENTS = ((260, 300), (770, 810))
"""Two 4 s stretches of the sample video where a visitor faces the camera (YuNet finds faces)."""


@pytest.fixture(scope="module")
def checkers(model_store: ModelStore) -> tuple[FaceFinder, FaceFinder]:
    """YuNet at threshold 0.5, as the acceptance test asks, at native size and upscaled 2x."""
    model = model_store.path("yunet")
    return FaceFinder(model, 0.5, 1.0), FaceFinder(model, 0.5, 2.0)


def faces_in(image: np.ndarray, checkers: tuple[FaceFinder, FaceFinder]) -> int:
    return sum(len(c.find(image)) for c in checkers)


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "segments", "expect"), [
    ("faces+persons", SEGMENTS, 40),  # the default
    ("faces", ((1290, 1330),), 20),   # YuNet alone, no head blur behind it
])
def test_no_face_survives_in_clips_of_the_sample_video(
    mode: str, segments: tuple[tuple[int, int], ...], expect: int,
    model_store: ModelStore, media: Path, checkers: tuple[FaceFinder, FaceFinder], output_dir: Path
) -> None:
    cfg = ClipsConfig(anonymize=mode)
    detector = make_detector(DetectorConfig(), model_store)
    anonymise = Anonymiser(MaskPainter([]), cfg.anonymize,
                           FaceFinder(model_store.path("yunet"), cfg.face_threshold, cfg.face_scale))
    cap = cv2.VideoCapture(str(media / VIDEO))
    raw_with_faces = 0
    for first, last in segments:
        cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        raw, stored = [], []
        for i in range(first, last):
            ok, image = cap.read()
            assert ok
            persons = tuple(d.box for d in detector.detect(image) if d.label == "person"
                            ) if "persons" in mode else ()
            raw.append(image)
            stored.append(compress(i / 10, image, persons, cfg.jpeg_quality, None))
        clip = make_clip(stored, first / 10, last / 10, cfg, anonymise, output_dir / f"{mode}-{first}.webm")
        frames = decode_all(clip.path)
        assert len(frames) == last - first and clip.duration_s == pytest.approx((last - first) / 10)
        for k, (before, after) in enumerate(zip(raw, frames, strict=True)):
            if faces_in(before, checkers):
                raw_with_faces += 1
                assert faces_in(after, checkers) == 0, f"face left in frame {first + k} of the clip"
    # the test means something only if the raw footage really shows faces
    assert raw_with_faces >= expect


@pytest.mark.parametrize("name", ["face.jpg", "grace_hopper.png"])
def test_faces_blurred_in_still_image_clips(
    name: str, media: Path, model_store: ModelStore, checkers: tuple[FaceFinder, FaceFinder],
    output_dir: Path,
) -> None:
    cfg = ClipsConfig(anonymize="faces")  # no person boxes: the face detector alone must do it
    image = cv2.imread(str(media / "images" / name))
    assert faces_in(image, checkers) >= 1
    anonymise = Anonymiser(MaskPainter([]), "faces",
                           FaceFinder(model_store.path("yunet"), cfg.face_threshold, cfg.face_scale))
    stored = [compress(i / 10, image, (), cfg.jpeg_quality, None) for i in range(10)]
    clip = make_clip(stored, 0.0, 1.0, cfg, anonymise, output_dir / f"{Path(name).stem}.webm")
    frames = decode_all(clip.path)
    assert len(frames) == 10
    for frame in frames:
        assert faces_in(frame, checkers) == 0
    cv2.imwrite(str(output_dir / f"{Path(name).stem}-anonymised.png"), frames[0])


def test_privacy_mask_is_black_in_every_frame(media: Path, model_store: ModelStore, output_dir: Path) -> None:
    image = cv2.imread(str(media / "images" / "grace_hopper.png"))
    h, w = image.shape[:2]
    mask = PrivacyMask(name="window", polygon=[(0.1, 0.1), (0.6, 0.15), (0.55, 0.6), (0.05, 0.5)])
    painter = MaskPainter([mask])
    cfg = ClipsConfig()
    anonymise = Anonymiser(painter, cfg.anonymize,
                           FaceFinder(model_store.path("yunet"), cfg.face_threshold, cfg.face_scale))
    inside = painter.mask(w, h)
    assert 0.1 < inside.mean() < 0.5
    # a blurred head box overlapping the mask must not bleed into it
    out = anonymise(image, [(0.0, 0.0, float(w), float(h))])
    assert out[inside].max() == 0 and out[~inside].max() > 0
    stored = [compress(i / 10, image, ((0.0, 0.0, float(w), float(h)),), 85, None) for i in range(10)]
    clip = make_clip(stored, 0.0, 1.0, cfg, anonymise, output_dir / "masked.webm")
    core = cv2.erode(inside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    for frame in decode_all(clip.path):
        # lossy VP8 smears a few pixels along the mask's edge; the inside stays black
        assert frame[core].max() <= 6 and frame[core].mean() < 1.0


def test_mask_hides_pixels_from_detection(media: Path, model_store: ModelStore, tmp_path: Path) -> None:
    from edge.config import BoxConfig
    from edge.pipeline import Agent
    from edge.records import Frame

    image = cv2.imread(str(media / "images" / "two_people.png"))
    everything = PrivacyMask(name="all", polygon=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
    counts = {}
    for masks in ([], [everything]):
        cfg = BoxConfig(site="t", camera="c", data_dir=tmp_path / str(len(masks)),
                        source=SourceConfig(url=str(media / VIDEO)), privacy_masks=masks)
        agent = Agent(cfg, model_store)
        for i in range(3):
            agent.process(Frame(i, i / 10, 0.0, image))
        counts[len(masks)] = agent.tracker.active
        agent.outbox.close()
    assert counts[0] >= 1 and counts[1] == 0


def test_preroll_is_bounded_in_time_bytes_and_rate() -> None:
    img = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    one = len(compress(0.0, img, (), 85, None).jpeg)
    ring = PreRoll(seconds=5.0, max_bytes=one * 20)
    for i in range(100):
        ring.push(compress(i / 10, img, (), 85, None))
    assert len(ring) == 20 and ring.nbytes <= one * 20 and ring.dropped_for_bytes > 0
    ring = PreRoll(seconds=5.0, max_bytes=10**9)
    for i in range(100):
        ring.push(compress(i / 10, img, (), 85, None))
    assert len(ring) == 51 and ring.snapshot(9.0)[0].ts == pytest.approx(9.0)
    slow = PreRoll(seconds=5.0, max_bytes=10**9, min_interval_s=0.5)
    for i in range(100):
        if slow.wants(i / 10):
            slow.push(compress(i / 10, img, (), 85, 160))
    assert len(slow) == 11
    assert slow.snapshot(0)[0].decode().shape == img.shape  # stored at 160 px, restored size


def test_timeline_keeps_real_time_whatever_the_input_rate() -> None:
    stamps = [0.0, 0.05, 0.5, 2.0, 2.1]
    picks = timeline(stamps, 0.0, 3.0, 10.0)
    assert len(picks) == 30  # 3 s at 10 fps, even with a 1.5 s gap in the input
    assert [picks[i] for i in (0, 1, 5, 19, 20, 29)] == [0, 1, 2, 2, 3, 4]
