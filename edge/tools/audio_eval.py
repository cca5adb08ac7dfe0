"""Evaluation on labelled recordings: detection by distance band, false alarms, latency.

Reads ``labels.csv`` (the ShotSpotter live-fire layout: file, firing_position, distance_m,
shot_offsets_s, first_shot_expected_s), runs the detector over every recording once, then
replays the window scores through :class:`BurstTracker` for any parameters, which makes
leave-one-firing-position-out cross-validation cheap.
"""

from __future__ import annotations

import csv
import logging
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from edge.audio.burst import BurstParams, BurstTracker
from edge.audio.classifier import SAMPLE_RATE, WINDOW
from edge.audio.detector import GunshotDetector, WindowResult
from edge.audio.source import FileSource

log = logging.getLogger(__name__)

WINDOW_S = WINDOW / SAMPLE_RATE
BACKGROUND_GAP_S = 1.5
"""Background windows are at least this far from every reported pulse."""
BANDS: tuple[tuple[str, float, float], ...] = (
    ("< 100 m", 0.0, 100.0),
    ("100-200 m", 100.0, 200.0),
    ("200-300 m", 200.0, 300.0),
    (">= 300 m", 300.0, float("inf")),
)
THRESHOLDS = tuple(round(0.05 + 0.025 * i, 3) for i in range(31))  # 0.05 .. 0.8
POOLINGS = ("max", "sum")


class EvalError(Exception):
    """A labels file or recording that cannot be evaluated; the text says which."""


@dataclass(frozen=True)
class Recording:
    """One labelled recording and the detector's windows over it."""

    file: str
    position: str
    distance_m: float
    pulses: tuple[float, ...]
    """Reported pulse times (s); empty when the sensor reported none."""
    first_shot_s: float
    duration_s: float
    windows: tuple[WindowResult, ...]

    @property
    def first_pulse_s(self) -> float:
        return min(self.pulses) if self.pulses else self.first_shot_s

    def is_background(self, start_s: float, end_s: float) -> bool:
        return bool(self.pulses) and all(
            p < start_s - BACKGROUND_GAP_S or p > end_s + BACKGROUND_GAP_S for p in self.pulses
        )

    def background_s(self) -> float:
        """Seconds of audio covered by background windows."""
        spans = [(w.start_s, w.end_s) for w in self.windows if self.is_background(w.start_s, w.end_s)]
        total, cur_end = 0.0, -1.0
        for s, e in spans:
            total += e - max(s, cur_end)
            cur_end = e
        return total


@dataclass(frozen=True)
class Outcome:
    detected: bool
    latency_s: float | None
    false_alarms: int


def read_labels(path: Path) -> list[dict[str, str]]:
    """The rows of a ``labels.csv``, checked for the columns the evaluation needs."""
    need = {"file", "firing_position", "distance_m", "shot_offsets_s", "first_shot_expected_s"}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = need - set(reader.fieldnames or ())
            if missing:
                raise EvalError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            return list(reader)
    except OSError as exc:
        raise EvalError(f"cannot read {path}: {exc.strerror}") from None


def analyse(path: Path, make: Callable[[], GunshotDetector]) -> tuple[tuple[WindowResult, ...], float]:
    """All windows of one file with a fresh detector, and the file's duration."""
    src = FileSource(path)
    det = make()
    return tuple(det.run(b.samples for b in src.blocks())), src.duration_s


def load_recordings(directory: Path, make: Callable[[], GunshotDetector]) -> list[Recording]:
    """Every recording that ``directory/labels.csv`` lists, analysed."""
    rows = read_labels(directory / "labels.csv")
    out = []
    for i, r in enumerate(rows, start=2):
        try:
            pulses = tuple(float(v) for v in r["shot_offsets_s"].split(";") if v.strip())
            distance, first = float(r["distance_m"]), float(r["first_shot_expected_s"])
        except ValueError as exc:
            raise EvalError(f"{directory / 'labels.csv'} line {i}: {exc}") from None
        windows, duration = analyse(directory / r["file"], make)
        out.append(Recording(r["file"], r["firing_position"], distance, pulses, first, duration, windows))
    return out


def fired(windows: Iterable[WindowResult], params: BurstParams) -> list[WindowResult]:
    """The windows that started an event."""
    tracker = BurstTracker(params)
    out = []
    for w in windows:
        if any(ev.state == "start" for ev in tracker.update(w)):
            out.append(w)
    return out


def outcome(rec: Recording, params: BurstParams) -> Outcome:
    """Whether the shots were detected, how late, and how many events nothing explains."""
    detected, latency, false_alarms = False, None, 0
    last = max(rec.pulses) if rec.pulses else rec.first_shot_s
    for w in fired(rec.windows, params):
        if not detected and w.end_s >= rec.first_pulse_s and w.start_s <= last + BACKGROUND_GAP_S:
            detected, latency = True, w.end_s - rec.first_pulse_s
        else:
            false_alarms += 1
    return Outcome(detected, latency, false_alarms)


@dataclass(frozen=True)
class Summary:
    """Detection per band, false alarms per hour on background and on other audio, latency."""

    bands: tuple[tuple[str, int, int], ...]
    """(band, recordings, detected)"""
    background_h: float
    background_fa: int
    other_h: float
    other_fa: int
    latencies: tuple[float, ...]

    def rate(self, lo: float, hi: float) -> float:
        """Detection rate over the bands lying within [lo, hi) metres."""
        n = d = 0
        for (_name, n_b, d_b), (_, b_lo, b_hi) in zip(self.bands, BANDS, strict=True):
            if b_lo >= lo and b_hi <= hi:
                n, d = n + n_b, d + d_b
        return d / n if n else 0.0

    @property
    def background_fa_per_h(self) -> float:
        return self.background_fa / self.background_h if self.background_h else 0.0

    @property
    def other_fa_per_h(self) -> float:
        return self.other_fa / self.other_h if self.other_h else 0.0


def summarise(recs: list[Recording], others: list[Recording], params: BurstParams) -> Summary:
    counts = {name: [0, 0] for name, _, _ in BANDS}
    fa, latencies = 0, []
    for rec in recs:
        o = outcome(rec, params)
        band = next(name for name, lo, hi in BANDS if lo <= rec.distance_m < hi)
        counts[band][0] += 1
        counts[band][1] += o.detected
        fa += o.false_alarms
        if o.latency_s is not None:
            latencies.append(o.latency_s)
    other_fa = sum(len(fired(r.windows, params)) for r in others)
    return Summary(
        tuple((name, c[0], c[1]) for name, c in counts.items()),
        sum(r.background_s() for r in recs) / 3600,
        fa,
        sum(r.duration_s for r in others) / 3600,
        other_fa,
        tuple(latencies),
    )


def choose(recs: list[Recording], others: list[Recording], refractory_s: float,
           max_fa_per_h: float = 1.0) -> BurstParams:
    """The pooling and threshold that detect most shots below 300 m on ``recs`` with no
    false alarm on ``others`` and at most ``max_fa_per_h`` on background; ties go to the
    higher threshold. With no candidate meeting the false-alarm limits, the fewest false
    alarms wins."""
    best: tuple[tuple[float, ...], BurstParams] | None = None
    for how in POOLINGS:
        for th in THRESHOLDS:
            p = BurstParams(th, th / 2, refractory_s, how)  # type: ignore[arg-type]
            s = summarise(recs, others, p)
            ok = s.other_fa == 0 and s.background_fa_per_h <= max_fa_per_h
            key = (float(ok), -(s.background_fa + s.other_fa) if not ok else 0.0, s.rate(0, 300), th)
            if best is None or key > best[0]:
                best = (key, p)
    assert best is not None
    return best[1]


def table(s: Summary, title: str) -> str:
    """The evaluation as a markdown table."""
    lines = [f"**{title}**", "", "| measure | value |", "|---|---|"]
    for name, n, d in s.bands:
        rate = f"{d / n:.2f}" if n else "n/a"
        lines.append(f"| detection rate {name} | {rate} ({d}/{n}) |")
    lines.append(
        f"| false alarms on background ({s.background_h * 3600:.0f} s) | {s.background_fa} "
        f"= {s.background_fa_per_h:.1f}/h |"
    )
    lines.append(
        f"| false alarms on other audio ({s.other_h * 3600:.0f} s) | {s.other_fa} "
        f"= {s.other_fa_per_h:.1f}/h |"
    )
    if s.latencies:
        lat = sorted(s.latencies)
        p90 = lat[min(len(lat) - 1, int(0.9 * len(lat)))]
        lines.append(
            f"| detection latency, median / p90 / max | {statistics.median(lat):.2f} / {p90:.2f} / "
            f"{lat[-1]:.2f} s |"
        )
    return "\n".join(lines)


def cross_validate(recs: list[Recording], others: list[Recording], refractory_s: float) -> str:
    """Leave-one-firing-position-out: choose on the other positions, report on the held-out one."""
    positions = sorted({r.position for r in recs})
    head = ["| held out | chosen | < 100 m | 100-200 m | 200-300 m | >= 300 m | background FA | other FA |",
            "|---|---|---|---|---|---|---|---|"]
    lines = list(head)
    total = [[0, 0] for _ in BANDS]
    bg_fa, bg_s, other_fa = 0, 0.0, 0
    for pos in positions:
        train = [r for r in recs if r.position != pos]
        test = [r for r in recs if r.position == pos]
        p = choose(train, others, refractory_s)
        s = summarise(test, others, p)
        cells = [f"{d}/{n}" for _, n, d in s.bands]
        for t, (_, n, d) in zip(total, s.bands, strict=True):
            t[0], t[1] = t[0] + n, t[1] + d
        bg_fa, bg_s, other_fa = bg_fa + s.background_fa, bg_s + s.background_h * 3600, other_fa + s.other_fa
        lines.append(
            f"| {pos} | {p.pooling} >= {p.threshold} | {' | '.join(cells)} | "
            f"{s.background_fa} in {s.background_h * 3600:.0f} s | {s.other_fa} |"
        )
    cells = [f"{d}/{n} = {d / n:.2f}" if n else "0/0" for n, d in total]
    lines.append(
        f"| **all held out** | | {' | '.join(cells)} | {bg_fa} in {bg_s:.0f} s = "
        f"{bg_fa / bg_s * 3600 if bg_s else 0.0:.1f}/h | {other_fa} |"
    )
    return "\n".join(lines)


def evaluate_dirs(
    directory: Path, other_dir: Path | None, make: Callable[[], GunshotDetector]
) -> tuple[list[Recording], list[Recording]]:
    """Analyse the labelled recordings in ``directory`` and every WAV/FLAC in ``other_dir``
    (default ``directory/../other`` when it exists)."""
    if not (directory / "labels.csv").is_file():
        raise EvalError(f"{directory} has no labels.csv (columns: file, firing_position, distance_m, "
                        "shot_offsets_s, first_shot_expected_s)")
    recs = load_recordings(directory, make)
    if other_dir is None and (directory.parent / "other").is_dir():
        other_dir = directory.parent / "other"
    others = []
    if other_dir is not None:
        for p in sorted(other_dir.iterdir()):
            if p.suffix.lower() in {".wav", ".flac"}:
                windows, duration = analyse(p, make)
                others.append(Recording(p.name, "other", 0.0, (), 0.0, duration, windows))
    return recs, others
