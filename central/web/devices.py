"""Box public keys over the API (role ``admin``): the HTTP twin of ``vigie hub enrol-box``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, jsonify

from central import audit
from central.db import get_db
from central.web.auth import roles
from central.web.httpjson import json_object
from central.web.openapi import doc

bp = Blueprint("devices", __name__)


@bp.get("/api/v1/devices")
@roles("admin", "privacy_officer")
@doc("Registered boxes and their Ed25519 public keys")
def list_devices() -> Any:
    rows = get_db().query("SELECT site, camera, public_key, enrolled_at, enrolled_by FROM devices "
                          "ORDER BY site, camera")
    return jsonify(devices=[dict(r) for r in rows])


@bp.put("/api/v1/devices/<site>/<camera>")
@roles("admin")
@doc("Register (or replace) a box's public key; audited",
     body={"public_key": {"type": "string", "pattern": "^ed25519:"}}, required=["public_key"])
def enrol(site: str, camera: str) -> Any:
    from central.ingest.receipts import EnrolError, enrol_device

    body = json_object()
    if not isinstance(body.get("public_key"), str):
        abort(400, "body must be {\"public_key\": \"ed25519:<base64>\"} as `vigie edge enrol` prints it")
    db = get_db()
    try:
        changed = enrol_device(db, site, camera, body["public_key"], g.actor)
    except EnrolError as exc:
        abort(400, str(exc))
    if changed:
        audit.record(db, g.actor, "device.enrol", f"{site}/{camera}", body["public_key"].strip())
    return jsonify(site=site, camera=camera, public_key=body["public_key"].strip(), changed=changed)
