"""Subject-access export on real clips, real models, real HTTP: the chosen person stays visible
and no other face is found by YuNet at 0.5 (native and 2x) in the exported clip.

Two clips are made from the sample video with two visitors side by side (two 2 s stretches
where each faces the camera): one by the real clip pipeline (anonymised as a box sends it),
and one encoded WITHOUT anonymisation (the hard case: every face visible before the export)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from central.ingest.clipstore import clip_path
from edge.clips.encode import encode
from edge.clips.maker import make_clip
from edge.clips.preroll import compress
from edge.config import DetectorConfig
from edge.config_wings import ClipsConfig
from edge.detect import make_detector
from edge.modelstore import ModelStore
from edge.privacy.faces import Anonymiser, FaceFinder
from edge.privacy.masks import MaskPainter
from tests.kits.clipkit import decode_all
from tests.kits.hubkit import Hub, hub, insert_event  # noqa: F401

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
N = 20


@pytest.fixture(scope="module")
def two_visitors(media: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(media / "video" / "one-by-one-person-detection.mp4"))

    def stretch(first: int) -> list[np.ndarray]:
        cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        return [cap.read()[1] for _ in range(N)]

    left, right = stretch(270), stretch(780)
    cap.release()
    return [np.hstack([a, b]) for a, b in zip(left, right, strict=True)]


def store_clip(hub: Hub, path: Path) -> str:  # noqa: F811
    import hashlib

    event_id = insert_event(hub.database, camera="cam-01")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    dest = clip_path(Path(hub.app.config["CLIPS_DIR"]), sha)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    hub.db().table("clips").insert({"event_id": event_id, "site": "test", "camera": "cam-01",
                                    "sha256": sha, "bytes": len(data), "stored_at": time.time()})
    return event_id


def outside(face: tuple[float, ...], keep: list[float] | None, w: int, h: int) -> bool:
    if keep is None:
        return True
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    x, y, bw, bh = keep
    return not (x * w <= cx <= (x + bw) * w and y * h <= cy <= (y + bh) * h)


@pytest.mark.slow
def test_export_keeps_the_requester_and_hides_every_other_face(
    hub: Hub, two_visitors: list[np.ndarray], model_store: ModelStore, tmp_path: Path,  # noqa: F811
    output_dir: Path,
) -> None:
    hub.app.config["MODELS_DIR"] = model_store.root
    cfg = ClipsConfig()
    detector = make_detector(DetectorConfig(), model_store)
    anonymise = Anonymiser(MaskPainter([]), cfg.anonymize,
                           FaceFinder(model_store.path("yunet"), cfg.face_threshold, cfg.face_scale))
    stored = [compress(i / 10, im, tuple(d.box for d in detector.detect(im) if d.label == "person"),
                       cfg.jpeg_quality, None) for i, im in enumerate(two_visitors)]
    real = make_clip(stored, 0.0, N / 10, cfg, anonymise, tmp_path / "real.webm")
    raw = encode(two_visitors, 10.0, tmp_path / "raw.webm", 64 * 1024 * 1024)
    checkers = (FaceFinder(model_store.path("yunet"), 0.5, 1.0),
                FaceFinder(model_store.path("yunet"), 0.5, 2.0))
    po = hub.login("privacy-officer")

    r = po.get(f"{hub.url}/api/v1/privacy/access/clips", params={"camera": "cam-01"}, timeout=10)
    assert r.status_code == 200 and r.json()["clips"] == []
    for name, clip in (("pipeline", real.path), ("unanonymised", raw.path)):
        event_id = store_clip(hub, clip)
        r = po.get(f"{hub.url}/api/v1/privacy/access/clips", params={"camera": "cam-01"}, timeout=10)
        assert event_id in [c["id"] for c in r.json()["clips"]]
        mark_frame = N // 2
        r = po.get(f"{hub.url}/api/v1/privacy/access/{event_id}/persons",
                   params={"frame": mark_frame}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["frames"] == N and r.json()["persons"], r.json()
        # the marking page and its numbered frame (a clip view, audited)
        page = po.get(f"{hub.url}/privacy/access/{event_id}", params={"frame": mark_frame}, timeout=60)
        assert page.status_code == 200 and event_id in page.text
        jpg = po.get(f"{hub.url}/privacy/access/{event_id}/frame.jpg", params={"frame": mark_frame},
                     timeout=60)
        assert jpg.status_code == 200 and jpg.content[:2] == b"\xff\xd8", jpg.text[:200]
        assert po.get(f"{hub.url}/privacy/access/{event_id}/frame.jpg", params={"frame": N},
                      timeout=10).status_code == 400  # past the last frame
        # the officer draws the requester's box (left visitor) and we know the other (right)
        fh, fw = two_visitors[mark_frame].shape[:2]
        people = [(d.box[0] / fw, d.box[1] / fh, (d.box[2] - d.box[0]) / fw, (d.box[3] - d.box[1]) / fh)
                  for d in detector.detect(two_visitors[mark_frame]) if d.label == "person"]
        left = [p for p in people if p[0] + p[2] / 2 < 0.5]
        right = [p for p in people if p[0] + p[2] / 2 >= 0.5]
        assert left and right, people
        chosen = list(max(left, key=lambda p: p[2] * p[3]))
        r = po.post(f"{hub.url}/api/v1/privacy/access/{event_id}/export",
                    json={"frame": mark_frame, "box": chosen, "reason": "SAR 2026-117, requester letter"},
                    timeout=300)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "application/zip"
        z = zipfile.ZipFile(io.BytesIO(r.content))
        assert sorted(z.namelist()) == ["LISEZMOI.txt", "clip.webm", "manifest.json"]
        manifest = json.loads(z.read("manifest.json"))
        assert manifest["what"]["event_id"] == event_id
        assert manifest["where"] == {"site": "test", "camera": "cam-01"}
        assert manifest["retention"]["days"] == 10 and manifest["reason"].startswith("SAR 2026-117")
        track = manifest["subject"]["track"]
        assert manifest["subject"]["frames_tracked"] >= N - 2
        (output_dir / f"{name}.zip").write_bytes(r.content)
        (tmp_path / "export.webm").write_bytes(z.read("clip.webm"))
        exported = decode_all(tmp_path / "export.webm")
        source = decode_all(clip)
        assert len(exported) == len(source) == N

        h, w = source[0].shape[:2]
        others_before = others_after = mine_before = mine_after = 0
        kept_diff, others_diff = [], []
        for k, (before, after) in enumerate(zip(source, exported, strict=True)):
            keep = track[k]
            for c in checkers:
                fb, fa = c.find(before), c.find(after)
                others_before += sum(outside(f, keep, w, h) for f in fb)
                mine_before += sum(not outside(f, keep, w, h) for f in fb)
                others_after += sum(outside(f, keep, w, h) for f in fa)
                mine_after += sum(not outside(f, keep, w, h) for f in fa)
            if keep is not None:  # the requester's pixels are left as they were (codec aside)
                x, y, bw, bh = keep
                sl = np.s_[int(y * h):int((y + bh) * h), int(x * w):int((x + bw) * w)]
                kept_diff.append(float(np.abs(before[sl].astype(int) - after[sl].astype(int)).mean()))
            other = right[0]
            sl = np.s_[int(other[1] * h):int((other[1] + other[3]) * h),
                       int(other[0] * w):int((other[0] + other[2]) * w)]
            if k == mark_frame:
                others_diff.append(float(np.abs(before[sl].astype(int) - after[sl].astype(int)).mean()))
        assert others_after == 0, f"{name}: {others_after} other face(s) left in the export"
        assert np.mean(kept_diff) < 6.0, (name, np.mean(kept_diff))
        assert others_diff[0] > 3 * np.mean(kept_diff), (name, others_diff, np.mean(kept_diff))
        if name == "unanonymised":  # the hard case really had faces to hide, and one to keep
            assert others_before > 0 and mine_before > 0
            assert mine_after >= mine_before // 2, (mine_before, mine_after)
    db = hub.db()
    rows = db.execute("SELECT actor, action, why FROM audit WHERE action LIKE 'subject_access%' "
                      "ORDER BY id").fetchall()
    assert [r[1] for r in rows].count("subject_access.export") == 2
    assert all("SAR 2026-117" in r[2] for r in rows if r[1] == "subject_access.export")
    assert [r[1] for r in rows].count("subject_access.search") == 3
    op = hub.login("operator")
    assert op.post(f"{hub.url}/api/v1/privacy/access/{event_id}/export",
                   json={"frame": 0, "box": chosen, "reason": "curious operator"}, timeout=10
                   ).status_code == 403
    r = po.post(f"{hub.url}/api/v1/privacy/access/{event_id}/export",
                json={"frame": 0, "box": chosen, "reason": "x"}, timeout=10)
    assert r.status_code == 400 and "reason" in r.json()["message"]
    r = po.post(f"{hub.url}/api/v1/privacy/access/{event_id}/export",
                json={"frame": 999, "box": chosen, "reason": "SAR 2026-118"}, timeout=60)
    assert r.status_code == 400 and "outside the clip" in r.json()["message"]
