"""Cameras: last state and health of every box the hub has heard from (page and API).

``clock_skew_s`` is the box's clock minus the hub's, measured on its last health message
(positive: the box is ahead); beyond the hub's ``max_clock_skew_s`` its dated messages are
quarantined."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from central.db import get_db
from central.web.auth import roles
from central.web.openapi import doc

bp = Blueprint("cameras", __name__)

VIEWERS = ("operator", "supervisor", "admin")


def camera_rows() -> list[dict[str, Any]]:
    """Every camera with its state, silence and last health, as the page and API show them."""
    now = time.time()
    silent_after = float(current_app.config.get("SILENT_AFTER_S", 60.0))
    out = []
    for row in get_db().query("SELECT * FROM cameras ORDER BY site, camera"):
        silent = round(now - row["last_seen"], 1) if row["last_seen"] else None
        health = json.loads(row["health"]) if row["health"] else None
        state = row["state"] or "unknown"
        online = state == "online" and silent is not None and silent < silent_after
        out.append({
            "site": row["site"],
            "camera": row["camera"],
            "state": state,
            "online": online,
            "shown_state": "online" if online else ("silent" if state == "online" else state),
            "label": row.get("label"),
            "plan_x": row.get("plan_x"),
            "plan_y": row.get("plan_y"),
            "last_seen": row["last_seen"],
            "silent_s": silent,
            "health": health,
            "clock_skew_s": row.get("clock_skew_s"),
            "clock_skew_at": row.get("clock_skew_at"),
        })
    return out


@bp.get("/api/v1/cameras")
@roles(*VIEWERS)
@doc("Cameras with state, silence, last health and measured clock skew")
def list_cameras() -> Any:
    return jsonify(cameras=camera_rows())


@bp.get("/cameras")
@roles(*VIEWERS)
def page() -> str:
    """The cameras page."""
    return render_template("cameras/cameras.html", cameras=camera_rows(),
                           silent_after=current_app.config.get("SILENT_AFTER_S", 60.0),
                           max_skew=current_app.config.get("MAX_CLOCK_SKEW_S", 300.0))
