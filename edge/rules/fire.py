"""``fire``: flames or smoke seen in ``k`` of ``n`` frames.

Needs a detector whose manifest labels include a flame or smoke class; config validation
refuses this rule otherwise (see :mod:`edge.rules.checks`).
"""

from __future__ import annotations

from edge.rules.weapon import KofNRule


class Fire(KofNRule):
    type = "fire"
