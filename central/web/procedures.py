"""Procedures: what the operator must do for an alert, written by a supervisor per event type
and optionally per camera (a camera's own procedure wins over its type's).

Table ``procedures`` (type, camera ``site/camera`` or ``''`` for every camera, text, who
wrote it and when); every change writes an audit row (``procedure.set``, ``procedure.delete``,
subject ``type`` or ``type@site/camera``).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request
from flask_babel import gettext as _

from central import audit
from central.db import get_db
from central.i18n import LABELS
from central.web.auth import roles
from central.web.httpjson import json_object
from central.web.openapi import doc

log = logging.getLogger(__name__)

bp = Blueprint("procedures", __name__)

MAX_TEXT = 4000
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CAMERA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
READERS = ("operator", "supervisor")


def for_alert(db: Any, type_: str, site: str, camera: str) -> dict[str, Any] | None:
    """The procedure shown on an alert: the camera's own, else its type's, else none."""
    rows = [dict(r) for r in db.query(
        "SELECT type, camera, text, updated_at, updated_by FROM procedures "
        "WHERE type = ? AND camera IN (?, '') ORDER BY camera DESC", [type_, f"{site}/{camera}"])]
    return rows[0] if rows else None


def _listing(db: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in db.query(
        "SELECT type, camera, text, updated_at, updated_by FROM procedures ORDER BY type, camera")]


def _checked(body: dict[str, Any], need_text: bool) -> tuple[str, str, str]:
    type_ = body.get("type")
    camera = body.get("camera") or ""
    text = body.get("text", "")
    if not isinstance(type_, str) or not _NAME.match(type_):
        abort(400, _("type must be an event type such as intrusion"))
    if not isinstance(camera, str) or (camera and not _CAMERA.match(camera)):
        abort(400, _("camera must be empty (every camera) or site/camera"))
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        abort(400, _("text must be a string of at most %(n)d characters", n=MAX_TEXT))
    if need_text and not text.strip():
        abort(400, _("text must say what the operator does"))
    return type_, camera, text.strip()


def _subject(type_: str, camera: str) -> str:
    return f"{type_}@{camera}" if camera else type_


def save(db: Any, actor: str, type_: str, camera: str, text: str) -> None:
    """Write (or replace) one procedure, audited."""
    db.execute(
        "INSERT INTO procedures (type, camera, text, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (type, camera) DO UPDATE SET text = excluded.text, "
        "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        [type_, camera, text, time.time(), actor])
    audit.record(db, actor, "procedure.set", _subject(type_, camera), text[:200])


def delete(db: Any, actor: str, type_: str, camera: str) -> bool:
    """Remove one procedure (audited); False when there was none."""
    cur = db.execute("DELETE FROM procedures WHERE type = ? AND camera = ?", [type_, camera])
    if not cur.rowcount:
        return False
    audit.record(db, actor, "procedure.delete", _subject(type_, camera))
    return True


@bp.get("/procedures")
@roles(*READERS)
def page() -> str:
    """The procedures in force; supervisors write and remove them here."""
    db = get_db()
    cameras = [r[0] for r in db.execute("SELECT key FROM cameras ORDER BY key")]
    return render_template("alerts/procedures.html", procedures=_listing(db),
                           types=sorted(LABELS["event_type"]), cameras=cameras,
                           saved=request.args.get("saved"))


@bp.post("/procedures")
@roles("supervisor")
def page_save() -> Any:
    """The supervisor's form: save, or remove when the text is empty."""
    type_, camera, text = _checked(request.form.to_dict(), need_text=False)
    db = get_db()
    if text:
        save(db, g.actor, type_, camera, text)
    else:
        delete(db, g.actor, type_, camera)
    return redirect("/procedures?saved=1", code=303)


@bp.get("/api/v1/procedures")
@roles(*READERS)
@doc("The procedures in force, per event type and camera ('' = every camera)")
def list_procedures() -> Any:
    return jsonify(procedures=_listing(get_db()))


@bp.put("/api/v1/procedures")
@roles("supervisor")
@doc("Write the procedure of an event type, for every camera or one (site/camera); audited",
     body={"type": {"type": "string", "maxLength": 64}, "camera": {"type": "string", "maxLength": 129},
           "text": {"type": "string", "maxLength": MAX_TEXT}}, required=["type", "text"])
def put_procedure() -> Any:
    type_, camera, text = _checked(json_object(), need_text=True)
    save(get_db(), g.actor, type_, camera, text)
    return jsonify(type=type_, camera=camera, text=text)


@bp.delete("/api/v1/procedures")
@roles("supervisor")
@doc("Remove the procedure of an event type (and camera); audited",
     query={"type": {"type": "string", "maxLength": 64}, "camera": {"type": "string", "maxLength": 129}})
def delete_procedure() -> Any:
    type_, camera, _text = _checked(request.args.to_dict(), need_text=False)
    if not delete(get_db(), g.actor, type_, camera):
        abort(404, _("no procedure for %(what)s", what=_subject(type_, camera)))
    return jsonify(deleted=True)
