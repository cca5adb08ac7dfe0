"""``GET /healthz``: the hub process's vital threads (:mod:`edge.wire.vitals`) as a health check.

No login (for the load balancer and monitoring): 200 while every vital thread of the process is
alive, 503 with the names of the dead ones otherwise.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from central.web.auth import public
from edge.wire.vitals import EXIT_THREAD_DIED, forget, health, mark_dead, start_vital, watch

__all__ = ["EXIT_THREAD_DIED", "bp", "forget", "health", "mark_dead", "start_vital", "watch"]

bp = Blueprint("vitals", __name__)


@bp.get("/healthz")
@public
def healthz() -> Any:
    """200 while every vital thread of this process is alive, else 503."""
    report = health()
    resp = jsonify(report)
    resp.status_code = 200 if report["ok"] else 503
    return resp
