"""Event rules: each turns the tracks of a frame into event starts and ends.

A rule is an object with ``update(frame, tracks) -> list[Event]`` and ``close(frame)``
(end whatever is open, at shutdown). One module per event type.
"""

from __future__ import annotations

from typing import Protocol

from edge.config import BoxConfig
from edge.records import Event, Frame, Track


class Rule(Protocol):
    type: str

    def update(self, frame: Frame, tracks: list[Track]) -> list[Event]: ...

    def close(self, frame: Frame) -> list[Event]: ...


def build_rules(cfg: BoxConfig) -> list[Rule]:
    """Instantiate the rules a box config lists."""
    from edge.rules.intrusion import Intrusion

    rules: list[Rule] = []
    for rc in cfg.rules:
        if rc.type == "intrusion":
            rules.append(Intrusion(rc, cfg.zone(rc.zone)))
    return rules
