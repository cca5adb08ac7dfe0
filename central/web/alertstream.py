"""Live updates of the queue and alert pages: server-sent events saying "something changed".

``GET /api/v1/alerts/stream`` (``?alert=<id>`` for one alert's page) sends an ``change`` event
with a version string whenever the alerts (or that alert and its history) change; the page then
fetches what it shows through the ordinary API. The hub serves requests from a fixed pool of
waitress threads and a stream holds one, so streams are bounded twice: each lasts
``alerts.stream_s`` (25 s by default) and then ends, with ``retry:`` telling the browser to
reconnect a second later; and at most ``alerts.max_streams`` (default half of ``web.threads``)
run at once, beyond which the
hub answers 503 and the page polls instead. A client that does not ask for
``text/event-stream`` gets one event and the end of the response (no thread held).

While it runs, a stream also escalates due critical alerts (:func:`central.triage.escalate_due`),
so an escalation reaches the screens within a tick of falling due.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask_babel import gettext as _

from central import db as hubdb
from central.triage import escalate_due
from central.web.auth import roles
from central.web.openapi import doc

log = logging.getLogger(__name__)

bp = Blueprint("alertstream", __name__)

TICK_S = 0.5
"""How often a stream looks for changes."""
KEEPALIVE_S = 1.0
"""A comment line this often: a closed browser is noticed (the write fails) within it."""
RETRY_MS = 1000
_LOCK = threading.Lock()


def _slots() -> threading.BoundedSemaphore:
    """The app's stream slots (``alerts.max_streams``), made on first use."""
    ext = current_app.extensions
    with _LOCK:
        if "vigie_streams" not in ext:
            ext["vigie_streams"] = threading.BoundedSemaphore(
                max(1, current_app.config["ALERT_STREAMS"]))
        return ext["vigie_streams"]


def version(db: Any, alert_id: str | None) -> str:
    """What the page shows, in one comparable string: the latest change to any alert (or to
    one alert and its history) and how many alerts there are (a purge removes some)."""
    if alert_id:
        row = db.execute("SELECT updated_at FROM events WHERE id = ?", [alert_id]).fetchone()
        last = db.execute("SELECT MAX(id) FROM audit WHERE subject = ?", [alert_id]).fetchone()
        return f"{row[0] if row else 'gone'}:{last[0]}"
    row = db.execute("SELECT MAX(updated_at), COUNT(*) FROM events").fetchone()
    return f"{row[0]}:{row[1]}"


def _frame(v: str) -> str:
    return f"id: {v}\nevent: change\ndata: {json.dumps({'version': v})}\n\n"


class _Stream:
    """The response body: the events, and the stream's slot given back exactly once when the
    server closes it (also when it was never iterated: a client gone at once)."""

    def __init__(self, events: Iterator[bytes], slots: threading.BoundedSemaphore) -> None:
        self.events = events
        self.slots: threading.BoundedSemaphore | None = slots

    def __iter__(self) -> Iterator[bytes]:
        return self.events

    def close(self) -> None:
        try:
            self.events.close()  # type: ignore[attr-defined]
        finally:
            slots, self.slots = self.slots, None
            if slots is not None:
                slots.release()


def _events(database: Any, alert_id: str | None, seconds: float,
            escalate_after_s: float) -> Iterator[bytes]:
    db = hubdb.connect(database)
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        deadline = time.monotonic() + seconds
        sent = None
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            escalate_due(db, escalate_after_s)
            v = version(db, alert_id)
            if v != sent:
                sent = v
                quiet_since = time.monotonic()
                yield _frame(v).encode()
            elif time.monotonic() - quiet_since >= KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield b": keepalive\n\n"
            time.sleep(TICK_S)
    finally:
        db.conn.close()


@bp.get("/api/v1/alerts/stream")
@roles("operator", "supervisor")
@doc("Server-sent events: a 'change' event with a version whenever the alerts (or one alert "
     "and its history, with alert=<id>) change. Each stream ends after alerts.stream_s (the "
     "browser reconnects); 503 when alerts.max_streams are running (poll instead). Without "
     "Accept: text/event-stream, one event and the end of the response",
     query={"alert": {"type": "string", "maxLength": 100}}, produces="text/event-stream")
def stream() -> Any:
    alert_id = request.args.get("alert") or None
    if alert_id is not None and len(alert_id) > 100:
        abort(400, _("alert must be an alert id"))
    cfg = current_app.config["ALERTS"]
    database = current_app.config["DATABASE"]
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if "text/event-stream" not in request.headers.get("Accept", ""):
        db = hubdb.connect(database)
        try:
            once = f"retry: {RETRY_MS}\n\n" + _frame(version(db, alert_id))
        finally:
            db.conn.close()
        return Response(once, mimetype="text/event-stream", headers=headers)
    slots = _slots()
    if current_app.config["ALERT_STREAMS"] == 0 or not slots.acquire(blocking=False):
        resp = jsonify(error="busy", message=_("Too many live pages: this page polls instead."))
        resp.status_code = 503
        return resp
    body = _Stream(_events(database, alert_id, cfg.stream_s, cfg.escalate_after_s), slots)
    return Response(body, mimetype="text/event-stream", headers=headers, direct_passthrough=True)
