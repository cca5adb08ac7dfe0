"""Pydantic configs of the event rules, and of the counting lines, statistics and calibration.

Every class refuses unknown keys and is discriminated on ``type`` in the box config's
``[[rules]]`` list. Times are seconds; positions and distances are normalised to the frame
(0..1), except ``crowd_density`` which is in persons per square metre of ground (it needs
the ``[calibration]`` section). This module imports nothing from :mod:`edge.config` so that
the config can import it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from edge.wire.messages import NAME_PATTERN
from edge.wire.tomlconf import Strict

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Severity = Literal["info", "warning", "critical"]
Seconds = Annotated[float, Field(ge=0.0, le=3600.0)]
GapSeconds = Annotated[float, Field(ge=0.0, le=60.0)]
GAP_S = 1.0
"""Default lapse bridged by rule timers: as long as the tracker keeps an unmatched track."""

VEHICLES = ["bicycle", "car", "motorcycle", "bus", "truck"]


class _RuleBase(Strict):
    zone: Name | None = None
    """Only objects whose foot point is in this zone count (None: the whole frame)."""
    dwell_s: Seconds = 0.0
    """How long the condition must hold before the event starts."""
    clear_s: Seconds = 3.0
    """How long the condition must stay false before the event ends (hysteresis)."""
    cooldown_s: Seconds = 30.0
    """After an end, no new start of this rule for this long."""
    gap_s: GapSeconds = GAP_S
    """Longest lapse of the condition (a missed detection, an unmatched frame) that does not
    restart the rule's timers (dwell, stillness, lying, wrong way) nor end its event."""
    severity: Severity = "warning"
    """Severity of the events this rule raises."""


class IntrusionRule(Strict):
    type: Literal["intrusion"]
    zone: Name
    """The watched zone (a ``[[zones]]`` name)."""
    classes: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    """Object classes that intrude."""
    dwell_s: float = Field(default=2.0, ge=0.0, le=3600.0)
    """How long an object must stay in the zone before the event starts."""
    clear_s: float = Field(default=3.0, ge=0.0, le=3600.0)
    """How long the zone must stay empty before the event ends (hysteresis)."""
    gap_s: GapSeconds = GAP_S
    """Longest time an object may go unseen (a missed detection) and still keep its dwell time."""
    severity: Literal["info", "warning", "critical"] = "warning"
    """Severity of the events this rule raises."""


class WrongWayRule(_RuleBase):
    type: Literal["wrong_way"]
    zone: Name
    """The zone where the direction is enforced (a ``[[zones]]`` name)."""
    classes: list[str] = Field(default_factory=lambda: ["person", *VEHICLES], min_length=1)
    """Object classes whose direction is checked."""
    direction: tuple[float, float]
    """The allowed direction of travel in the image, e.g. ``[1, 0]`` = left to right."""
    min_distance: float = Field(default=0.08, gt=0.0, le=1.0)
    """Displacement (normalised) a track must make against the direction before it counts."""
    window_s: float = Field(default=3.0, gt=0.0, le=60.0)
    """The displacement is measured over the last ``window_s`` of the track."""
    max_angle_deg: float = Field(default=60.0, gt=0.0, le=90.0)
    """How far from exactly backwards the displacement may point and still count."""

    @model_validator(mode="after")
    def _direction_not_zero(self) -> WrongWayRule:
        if abs(self.direction[0]) + abs(self.direction[1]) < 1e-6:
            raise ValueError("direction must be a non-zero vector [dx, dy], e.g. [1, 0] for left to right")
        return self


class AbandonedObjectRule(_RuleBase):
    """Two kinds of objects: tracks of ``classes`` left with nobody near, and (the main path)
    static foreground objects whose owner has left (:mod:`edge.rules.ownership`)."""

    type: Literal["abandoned_object"]
    classes: list[str] = Field(default_factory=lambda: ["backpack", "handbag", "suitcase"])
    """Detector classes that can be left behind (a bag on the ground often scores too low to be
    tracked: the static-object path does not need the class)."""
    dwell_s: Seconds = 30.0
    """How long unattended before the event: a tracked object still with nobody near it, or a
    static object with its owner(s) away."""
    max_motion: float = Field(default=0.02, gt=0.0, le=1.0)
    """A tracked object's foot point may move this much (normalised) and still be still."""
    person_radius: float = Field(default=0.15, gt=0.0, le=2.0)
    """Normalised distance between foot points within which a person is near an object (the
    owner radius too, without ``[calibration]``)."""
    foreground_blob: bool = True
    """Watch static foreground objects: things that differ from the learned background and
    stay still, with or without a detector class."""
    static_s: float = Field(default=5.0, ge=1.0, le=600.0)
    """How long a foreground region must stay still to be an object (its owner is whoever was
    at it meanwhile)."""
    learn_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    """A static object that nobody brought (street furniture, a parked thing) becomes background
    after this long; everything in view when the rule starts is background already."""
    require_owner: bool = True
    """Only objects somebody was seen leaving count. False also flags ownerless static objects
    after ``dwell_s`` (a dumping site watched at night): many more false alarms."""
    owner_radius_m: float = Field(default=3.0, gt=0.0, le=50.0)
    """With ``[calibration]``: an owner farther than this (metres on the ground) has left."""
    blob_min_area: float = Field(default=0.0008, gt=0.0, le=0.5)
    """Smallest static object without calibration, as a fraction of the frame (0.0008 of
    768x432 is 16x16 pixels; a bag 31x33 pixels is 0.003)."""
    min_object_m2: float = Field(default=0.03, gt=0.0, le=10.0)
    """With ``[calibration]``: smallest static object, in square metres of its apparent size at
    its distance (0.03 m2 is a box of about 17 x 17 cm; a small backpack is 0.08)."""

    @model_validator(mode="after")
    def _something_to_watch(self) -> AbandonedObjectRule:
        if not self.classes and not self.foreground_blob:
            raise ValueError("set at least one object class or foreground_blob = true")
        return self


class PersonDownRule(_RuleBase):
    type: Literal["person_down"]
    dwell_s: Seconds = 5.0
    """How long a person must lie still before the event starts."""
    posture: Literal["body", "box"] = "body"
    """``body``: the torso axis (hips to shoulders) found by the pose model on the person's
    crop, compared with the camera's vertical at the person's feet (from ``[calibration]``
    when present, else straight up the image); sitting and crouching keep the torso upright
    and are not down. ``box``: the box's width over height only (fooled by sitting, by
    outstretched arms and by people cut by the frame's edge)."""
    min_tilt_deg: float = Field(default=60.0, ge=20.0, le=90.0)
    """With ``body``: the torso leans at least this far from the vertical to count as lying."""
    min_pose_score: float = Field(default=0.5, gt=0.0, lt=1.0)
    """With ``body``: the pose model's confidence below which the posture is unknown."""
    min_size_px: int = Field(default=40, ge=8, le=4000)
    """With ``body``: persons whose box's longer side is shorter than this many pixels are
    too small for the pose model; their posture stays unknown."""
    pose_interval_s: float = Field(default=0.5, ge=0.0, le=10.0)
    """With ``body``: a track's posture is re-estimated at most this often (CPU)."""
    min_aspect: float = Field(default=1.2, gt=0.5, le=10.0)
    """With ``box``: box width / height above which a person is lying."""
    max_motion: float = Field(default=0.03, gt=0.0, le=1.0)
    """A lying person's torso centre (box centre with ``box``) may move this much
    (normalised to the frame) over the dwell and still be down: arms and legs may move."""
    gap_s: float = Field(default=1.5, ge=0.0, le=60.0)
    """A lying person unseen for up to this long (a detector miss, a new track id over the
    same place, a pose not found) keeps their lying and stillness timers."""
    severity: Severity = "critical"


class CrowdDensityRule(_RuleBase):
    type: Literal["crowd_density"]
    zone: Name
    """The zone whose density is measured (a ``[[zones]]`` name; its ground area comes from
    ``[calibration]``)."""
    max_density: float = Field(default=2.0, gt=0.0, le=10.0)
    """Persons per square metre of the zone's ground above which the event starts."""
    hysteresis: float = Field(default=0.2, ge=0.0, lt=1.0)
    """The event ends only below ``max_density * (1 - hysteresis)``."""
    dwell_s: Seconds = 5.0
    min_persons: int = Field(default=3, ge=1, le=10000)
    """No event with fewer persons in the zone, whatever the density."""


class CrowdMovementRule(_RuleBase):
    type: Literal["crowd_movement"]
    method: Literal["tracks", "flow"] = "tracks"
    """``tracks``: mean speed of the zone's person tracks; ``flow``: dense optical flow."""
    min_tracks: int = Field(default=4, ge=1, le=1000)
    """With ``tracks``: at least this many persons moving at once."""
    rise: float = Field(default=3.0, gt=1.0, le=100.0)
    """Fires when the zone's speed exceeds ``rise`` times its running baseline..."""
    min_speed: float = Field(default=0.15, gt=0.0, le=10.0)
    """...and this absolute floor (frame widths per second, or flow px/frame at 160 px wide)."""
    baseline_s: float = Field(default=60.0, gt=1.0, le=3600.0)
    """Time constant of the running baseline."""
    warmup_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    """No event before the baseline has seen this much video."""
    dwell_s: Seconds = 1.0
    severity: Severity = "critical"


class WeaponRule(_RuleBase):
    """A weapon class of the detector over several frames. With the shipped COCO models this
    sees **knives only** (COCO's ``knife``): no shipped model detects firearms. A firearm
    detector (e.g. trained on Open Images' Handgun/Rifle/Shotgun boxes) plugs in through its
    manifest labels and ``classes``."""

    type: Literal["weapon"]
    classes: list[str] = Field(default_factory=lambda: ["knife"], min_length=1)
    """Weapon classes of the detector: ``knife`` is the only one the shipped COCO models have;
    firearm classes need a firearm model in the manifest."""
    k: int = Field(default=3, ge=1, le=100)
    """Frames, of the last ``n``, in which the weapon must be seen."""
    n: int = Field(default=5, ge=1, le=100)
    """Seen in ``k`` of the last ``n`` frames."""
    min_score: float = Field(default=0.4, gt=0.0, lt=1.0)
    """Least detection score of a weapon class for a frame to count."""
    severity: Severity = "critical"

    @model_validator(mode="after")
    def _k_le_n(self) -> WeaponRule:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) must not exceed n ({self.n})")
        return self


class FireRule(_RuleBase):
    """Flames or smoke, from the classical detector (:mod:`edge.rules.flame`: colour,
    flicker, persistence; no model needed) or from a detector model with flame/smoke classes."""

    type: Literal["fire"]
    source: Literal["classical", "model"] = "classical"
    """``classical``: flame colour + broadband flicker + persistence, and grey veiling smoke,
    computed on the frames; ``model``: a detector whose manifest labels include ``classes``."""
    classes: list[str] = Field(default_factory=lambda: ["fire", "smoke"], min_length=1)
    """With ``source = "model"``: the detector's flame and smoke classes (its manifest labels)."""
    k: int = Field(default=5, ge=1, le=100)
    """Frames, of the last ``n``, in which fire or smoke must be seen."""
    n: int = Field(default=10, ge=1, le=100)
    """Length of the frame window of ``k``."""
    min_score: float = Field(default=0.4, gt=0.0, lt=1.0)
    """With ``source = "model"``: least detection score of a fire class for a frame to count."""
    window_s: float = Field(default=2.0, ge=0.5, le=10.0)
    """Classical: seconds of frames over which flicker, occupancy and drift are measured
    (flame flicker is 1-15 Hz: two seconds hold several periods of its slowest part)."""
    min_flicker: float = Field(default=8.0, ge=1.0, le=100.0)
    """Classical: least temporal standard deviation of a flame pixel's brightness, in grey
    levels (a lit sign under sensor noise stays below 3; flames vary by tens of levels)."""
    max_peak: float = Field(default=0.6, ge=0.2, le=1.0)
    """Classical: most of the flicker power that one frequency (with its two neighbours) may
    hold; a blinking beacon holds over 0.8, irregular flame flicker about 0.3-0.5."""
    min_occupancy: float = Field(default=0.4, gt=0.0, le=1.0)
    """Classical: least share of the window's frames in which a pixel shows flame colour (or
    smoke); a headlight's reflection passes over a pixel in a fraction of a second."""
    min_area: float = Field(default=0.0005, gt=0.0, le=0.5)
    """Classical: smallest flame or smoke region, as a fraction of the watched area (zone, or
    frame): 0.0005 of a 768x432 frame is about 13x13 pixels."""
    max_drift: float = Field(default=0.03, gt=0.0, le=1.0)
    """Classical: how far (fraction of the frame width) a flame region's centroid may move over
    the window; a fire stays where it burns, a reflection travels with its car."""
    learn_s: float = Field(default=10.0, ge=1.0, le=3600.0)
    """Classical: pixels steadily of flame colour without flicker for this long (lit signs) are
    background; also the time constant of the smoke background."""
    smoke: bool = False
    """Classical: also look for smoke (grey, blurring the background, growing or rising). Off by
    default: grey clothes and vehicles that the detector does not track look alike."""
    smoke_max_saturation: float = Field(default=0.25, gt=0.0, le=1.0)
    """Classical: most colour saturation (0-1) of a smoke pixel."""
    smoke_edge_ratio: float = Field(default=0.6, gt=0.0, lt=1.0)
    """Classical: smoke veils the background: its edge energy falls below this fraction."""
    severity: Severity = "critical"

    @model_validator(mode="after")
    def _k_le_n(self) -> FireRule:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) must not exceed n ({self.n})")
        return self


class CameraTamperRule(_RuleBase):
    type: Literal["camera_tamper"]
    dwell_s: Seconds = 2.0
    cooldown_s: Seconds = 10.0
    learn_s: float = Field(default=3.0, ge=0.0, le=3600.0)
    """Without a stored reference image, the first ``learn_s`` of video make one."""
    reference: str = "tamper-reference.png"
    """The reference image, relative to ``data_dir``; it never leaves the box."""
    dark_level: float = Field(default=25.0, ge=0.0, le=255.0)
    """Mean grey level below which the camera is covered."""
    bright_level: float = Field(default=235.0, ge=0.0, le=255.0)
    """Mean grey level above which the camera is blinded."""
    min_contrast: float = Field(default=8.0, ge=0.0, le=128.0)
    """Grey-level standard deviation below which, with lost sharpness, the view is covered."""
    sharpness_ratio: float = Field(default=0.35, gt=0.0, lt=1.0)
    """Defocused when edge energy falls below this fraction of the reference's."""
    min_similarity: float = Field(default=0.45, ge=-1.0, lt=1.0)
    """Moved when the edge-map correlation with the reference falls below this."""
    min_stability: float = Field(default=0.8, ge=-1.0, le=1.0)
    """...while the view itself is steady (edge correlation with 1 s earlier at least this)..."""
    moved_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    """...for this long."""


class LineConfig(Strict):
    """A counting line: two normalised points. ``forward`` crossings go from the left of
    ``a -> b`` to its right (as seen in the image, y down)."""

    name: Name
    """The line's name, in ``stats`` messages; unique in the file."""
    a: tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]
    """First end of the line, ``[x, y]`` normalised to the frame."""
    b: tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]
    """Second end of the line, ``[x, y]`` normalised to the frame."""
    classes: list[str] = Field(default_factory=lambda: ["person", *VEHICLES], min_length=1)
    """Object classes whose crossings are counted."""

    @model_validator(mode="after")
    def _not_a_point(self) -> LineConfig:
        if abs(self.a[0] - self.b[0]) + abs(self.a[1] - self.b[1]) < 1e-3:
            raise ValueError(f"line {self.name!r}: a and b are the same point")
        return self


class StatsConfig(Strict):
    """Statistics: line crossings and zone occupancy per class, published on ``stats``."""

    enabled: bool = True
    """Count line crossings and zone occupancy (needs ``[[lines]]`` or ``[[zones]]``)."""
    interval_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    """Seconds of counts in one ``stats`` message."""
    zones: list[Name] | None = None
    """Zones whose occupancy is counted (default: all)."""
    classes: list[str] = Field(default_factory=lambda: ["person", *VEHICLES], min_length=1)
    """Object classes counted."""


class CalibrationConfig(Strict):
    """Ground-plane calibration: four image points (normalised) and where they lie on the
    ground, in metres. Gives the homography image -> ground."""

    image: list[tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]] = (
        Field(min_length=4, max_length=4)
    )
    """Four ``[x, y]`` points of the ground in the image, normalised to the frame."""
    ground: list[tuple[float, float]] = Field(min_length=4, max_length=4)
    """Where those four points lie on the ground, ``[x, y]`` in metres."""

    @model_validator(mode="after")
    def _non_degenerate(self) -> CalibrationConfig:
        from edge.calibration import degenerate

        for what, pts in (("image", self.image), ("ground", self.ground)):
            if why := degenerate(pts):
                raise ValueError(f"calibration.{what}: {why}")
        return self


RULE_TYPES = (
    "intrusion", "wrong_way", "abandoned_object", "person_down", "crowd_density",
    "crowd_movement", "weapon", "fire", "camera_tamper",
)
FIRE_LABELS = ("fire", "flame", "smoke")
