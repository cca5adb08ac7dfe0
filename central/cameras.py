"""Cameras: last state and health of every box the hub has heard from."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, jsonify

from central import get_db
from central.auth import token_required

bp = Blueprint("cameras", __name__)


@bp.get("/api/v1/cameras")
@token_required
def list_cameras() -> Any:
    now = time.time()
    out = []
    for row in get_db().query("SELECT * FROM cameras ORDER BY site, camera"):
        out.append({
            "site": row["site"],
            "camera": row["camera"],
            "state": row["state"] or "unknown",
            "last_seen": row["last_seen"],
            "silent_s": round(now - row["last_seen"], 1) if row["last_seen"] else None,
            "health": json.loads(row["health"]) if row["health"] else None,
        })
    return jsonify(cameras=out)
