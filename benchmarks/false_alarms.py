"""False alarms per camera-hour with verification off, on, and with a false-alarm suppression.

    .venv/bin/python benchmarks/false_alarms.py [--loops 3] [--stride 1] [--only NAME]

Replays the shared footage (../shared/media/video) through detector, tracker and rules with the
configurations a technician would write (one deliberately noisy: intrusion over the whole frame
for several classes with a 0.1 score threshold), then feeds the same candidate events to four
gates (:class:`edge.verify.EventGate`): verification off (what the box sent before), off plus
the suppression the hub would make (:func:`central.suppressions.region_of`, default margin)
when an operator resolves the first false alarm that got through, ``crop`` (the defaults of
``[verify]``), and crop plus that suppression.

Each clip is replayed ``--loops`` times in a row (default 3, a scene we compose: the same
place on following days, where the same reflection or object fools the detector again; that
is what a suppression is for). Ground truth is scene-level, written by us from watching the
clips (not the model's output): the classes really present in each clip. An event is true when
one of its objects has a class present in its clip (vehicles count as one class), false
otherwise. So an intrusion by a person
in the corridor clip is true, a "dog" or a "suitcase" there is false. The labels are coarse (a
person detected where nobody stands in a clip with persons counts as true), so the false-alarm
figures are lower bounds. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from central.config import HubSuppressions  # noqa: E402
from central.suppressions import region_of  # noqa: E402
from edge.config import BoxConfig  # noqa: E402
from edge.detect.tiling import make_box_detector  # noqa: E402
from edge.modelstore import ModelStore, default_mirror  # noqa: E402
from edge.records import Event, Frame, normalise_box  # noqa: E402
from edge.rules import build_rules  # noqa: E402
from edge.suppressions import SuppressionBook  # noqa: E402
from edge.track import IouTracker  # noqa: E402
from edge.verify import VEHICLES, EventGate  # noqa: E402
from edge.wire.messages import utc_iso  # noqa: E402
from edge.wire.suppress import Suppression  # noqa: E402
from edge.wire.tomlconf import parse_model  # noqa: E402

VIDEO = ROOT.parent / "shared" / "media" / "video"
PRESENT = {  # classes really in each clip (our labels, from watching it)
    "one-by-one-person-detection.mp4": {"person", "backpack", "handbag"},
    "car-detection.mp4": {"car"},
    "traffic_frames.mp4": {"car"},
}
VERBOSE = False
WHOLE = "[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]"


@dataclass(frozen=True)
class Scenario:
    name: str
    video: str
    toml: str


SCENARIOS = (
    Scenario("corridor, intrusion of persons (default detector)",
             "one-by-one-person-detection.mp4", f"""
[[zones]]
name = "room"
polygon = {WHOLE}
[[rules]]
type = "intrusion"
zone = "room"
"""),
    Scenario("corridor, noisy: whole frame, 6 classes, score 0.1, no dwell",
             "one-by-one-person-detection.mp4", f"""
[detector]
score_threshold = 0.1
classes = ["person", "dog", "suitcase", "backpack", "handbag", "knife"]
[[zones]]
name = "room"
polygon = {WHOLE}
[[rules]]
type = "intrusion"
zone = "room"
classes = ["person", "dog", "suitcase", "backpack", "handbag"]
dwell_s = 0.0
clear_s = 1.0
[[rules]]
type = "weapon"
"""),
    Scenario("car park from above, noisy: persons and bags, score 0.1, no dwell",
             "car-detection.mp4", f"""
[detector]
score_threshold = 0.1
classes = ["person", "suitcase", "backpack", "handbag", "car", "truck", "bus"]
[[zones]]
name = "park"
polygon = {WHOLE}
[[rules]]
type = "intrusion"
zone = "park"
classes = ["person", "suitcase", "backpack", "handbag"]
dwell_s = 0.0
clear_s = 1.0
"""),
)


def _cls(label: str) -> str:
    return "vehicle" if label in VEHICLES else label


def is_true(ev: Event, video: str) -> bool:
    present = {_cls(c) for c in PRESENT[video]}
    return any(_cls(o.label) in present for o in ev.objects)


@dataclass
class Tally:
    true: int = 0
    false: int = 0
    refused: int = 0
    suppressed: int = 0
    starts: list[Event] = field(default_factory=list)


class SuppressedGate(EventGate):
    """The crop gate plus the suppression an operator's first false alarm makes."""

    def __init__(self, *a: object, video: str, **k: object):
        super().__init__(*a, **k)  # type: ignore[arg-type]
        self.video = video

    def admit(self, events: list[Event], frame: Frame, now: float | None = None) -> list[Event]:
        out = super().admit(events, frame, now)
        for ev in out:
            if ev.state == "start" and not is_true(ev, self.video) and self.book is not None \
                    and not self.book.entries:
                self._suppress(ev)
        return out

    def _suppress(self, ev: Event) -> None:
        assert self.book is not None
        objs = [{"bbox": list(normalise_box(o.box, ev.frame_w, ev.frame_h))} for o in ev.objects]
        region = region_of(objs, HubSuppressions().margin)
        assert region is not None
        expiry = utc_iso(time.time() + 7 * 86400)
        self.book.entries = (Suppression("00000000-0000-4000-8000-000000000000", ev.type,
                                         ev.zone, region, expiry),)
        self.book._expiry = {e.id: time.time() + 7 * 86400 for e in self.book.entries}


def _frames(video: Path, loops: int) -> Iterator[np.ndarray]:
    """The clip's frames, ``loops`` times over (the same scene on following days)."""
    for _ in range(loops):
        cap = cv2.VideoCapture(str(video))
        while True:
            ok, image = cap.read()
            if not ok:
                break
            yield image
        cap.release()


def run(sc: Scenario, store: ModelStore, stride: int,
        loops: int) -> tuple[float, dict[str, Tally], dict[str, dict[str, int]]]:
    """Hours of footage, the tallies of the three gates and their counters."""
    text = f'site = "bench"\ncamera = "cam-01"\n[source]\nurl = "x"\n{sc.toml}'
    cfg = parse_model(BoxConfig, text, Path(f"{sc.video}.toml"))
    detector = make_box_detector(cfg, store)
    tracker = IouTracker(cfg.tracker)
    rules = build_rules(cfg, store)
    off = cfg.verify.model_copy(update={"modes": {k: "off" for k in cfg.verify.modes}})
    def book() -> SuppressionBook:
        return SuppressionBook("bench", "cam-01", Path("/nonexistent"))

    gates = {"off": EventGate(off, detector),
             "off + suppression": SuppressedGate(off, detector, book(), video=sc.video),
             "crop": EventGate(cfg.verify, detector),
             "crop + suppression": SuppressedGate(cfg.verify, detector, book(), video=sc.video)}
    tallies = {k: Tally() for k in gates}
    fps = cv2.VideoCapture(str(VIDEO / sc.video)).get(cv2.CAP_PROP_FPS) or 10.0
    i = 0
    last: Frame | None = None
    for image in _frames(VIDEO / sc.video, loops):
        if i % stride == 0:
            frame = Frame(i, i / fps, 1.8e9 + i / fps, image)
            tracks = tracker.update(detector.detect(image), frame.ts)
            events = [e for r in rules for e in r.update(frame, tracks)]
            _feed(gates, tallies, events, frame, sc.video)
            last = frame
        i += 1
    if last is not None:
        _feed(gates, tallies, [e for r in rules for e in r.close(last)], last, sc.video)
    return i / fps / 3600.0, tallies, {k: g.counts for k, g in gates.items()}


def _feed(gates: dict[str, EventGate], tallies: dict[str, Tally], events: list[Event],
          frame: Frame, video: str) -> None:
    for name, gate in gates.items():
        for ev in gate.admit(events, frame, now=frame.ts):
            if ev.state == "start":
                if VERBOSE:
                    print(f"  {name}: {ev.type} t={frame.ts:.1f}s true={is_true(ev, video)} "
                          f"{[(o.label, round(o.score, 2)) for o in ev.objects]} {ev.measure}")
                t = tallies[name]
                t.starts.append(ev)
                t.true += is_true(ev, video)
                t.false += not is_true(ev, video)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stride", type=int, default=1, help="process every Nth frame")
    ap.add_argument("--only", default=None, help="only scenarios whose name contains this")
    ap.add_argument("--loops", type=int, default=3,
                    help="replay each clip this many times in a row (the scene recurring)")
    ap.add_argument("--verbose", action="store_true", help="list every event sent")
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    logging.basicConfig(level=logging.ERROR)
    store = ModelStore(Path("/tmp/vigie-bench-models"))
    store.fetch(mirror=default_mirror(), allow_download=False)
    print("| scene and configuration | footage | gate | true events | false alarms | "
          "false alarms / camera-hour | refused | suppressed |")
    print("|---|---|---|---|---|---|---|---|")
    for sc in SCENARIOS:
        if args.only and args.only not in sc.name:
            continue
        hours, tallies, counts = run(sc, store, args.stride, args.loops)
        for name, t in tallies.items():
            c = counts[name]
            print(f"| {sc.name} | {sc.video} ({hours * 60:.1f} min) | {name} | {t.true} | "
                  f"{t.false} | {t.false / hours:.0f} | {c['refused']} | {c['suppressed']} |")


if __name__ == "__main__":
    main()
