"""Event rules: each turns the tracks of a frame into event starts and ends.

A rule is an object with ``update(frame, tracks) -> list[Event]`` and ``close(frame)``
(end whatever is open, at shutdown). One module per event type; their configs are in
:mod:`edge.rules.configs` and shared helpers in :mod:`edge.rules.common`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from edge.records import Event, Frame, Track

if TYPE_CHECKING:
    from edge.config import BoxConfig
    from edge.modelstore import ModelStore
    from edge.posture import PoseEstimator
    from edge.rules.configs import PersonDownRule


class Rule(Protocol):
    type: str

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]: ...

    def close(self, frame: Frame) -> list[Event]: ...


def build_rules(cfg: BoxConfig, store: ModelStore | None = None) -> list[Rule]:
    """Instantiate the rules a box config lists (models they need come from ``store``, by
    default the config's ``models_dir``)."""
    from edge.calibration import GroundPlane
    from edge.rules.abandoned_object import AbandonedObject
    from edge.rules.camera_tamper import CameraTamper
    from edge.rules.crowd_density import CrowdDensity
    from edge.rules.crowd_movement import CrowdMovement
    from edge.rules.fire import Fire
    from edge.rules.intrusion import Intrusion
    from edge.rules.person_down import PersonDown
    from edge.rules.weapon import Weapon
    from edge.rules.wrong_way import WrongWay

    rules: list[Rule] = []
    plane = (GroundPlane.from_points(cfg.calibration.image, cfg.calibration.ground)
             if cfg.calibration is not None else None)
    for rc in cfg.rules:
        zone = cfg.zone(rc.zone) if rc.zone is not None else None
        if rc.type == "intrusion":
            rules.append(Intrusion(rc, cfg.zone(rc.zone)))
        elif rc.type == "wrong_way":
            rules.append(WrongWay(rc, cfg.zone(rc.zone)))
        elif rc.type == "abandoned_object":
            rules.append(AbandonedObject(rc, zone, plane))
        elif rc.type == "person_down":
            rules.append(PersonDown(rc, zone, _pose(rc, cfg, store), plane))
        elif rc.type == "crowd_density":
            assert plane is not None  # config validation requires the calibration
            rules.append(CrowdDensity(rc, cfg.zone(rc.zone), plane))
        elif rc.type == "crowd_movement":
            rules.append(CrowdMovement(rc, zone))
        elif rc.type == "weapon":
            rules.append(Weapon(rc, zone))
        elif rc.type == "fire":
            rules.append(Fire(rc, zone))
        elif rc.type == "camera_tamper":
            rules.append(CameraTamper(rc, cfg.data_dir))
    return rules


def _pose(rc: PersonDownRule, cfg: BoxConfig, store: ModelStore | None) -> PoseEstimator | None:
    """The pose model a ``posture = "body"`` person_down rule needs (None for ``box``)."""
    if rc.posture != "body":
        return None
    from edge.modelstore import ModelStore
    from edge.posture import load_estimator

    return load_estimator(store or ModelStore(cfg.models_dir), rc.min_pose_score)
