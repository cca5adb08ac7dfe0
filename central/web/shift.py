"""The shift page: what is open now (by severity and type, the oldest open alert's age) and what
happened since a given time, by default the start of the current shift (``[shifts] starts`` in
the site's time zone): alerts raised, acknowledged, resolved by outcome, per camera."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from central.db import get_db
from central.triage import OPEN, SEVERITIES
from central.web.auth import roles
from central.web.openapi import doc
from edge.wire.messages import utc_iso

log = logging.getLogger(__name__)

bp = Blueprint("shift", __name__)

VIEWERS = ("operator", "supervisor")
MAX_LOOKBACK_S = 31 * 86400
"""The furthest back ``since`` may go (events are kept 30 days at most)."""


def shift_start(now: float, starts: tuple[str, ...] | list[str], tz: str) -> float:
    """The Unix time the shift running at ``now`` began: the latest of ``starts`` (``HH:MM``
    in ``tz``) at or before ``now``, yesterday's last one before today's first."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(now, tz=zone)
    best: datetime | None = None
    for day in (local.date(), local.date() - timedelta(days=1)):
        for text in starts:
            hh, mm = (int(p) for p in text.split(":"))
            moment = datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone)
            if moment.timestamp() <= now and (best is None or moment > best):
                best = moment
    assert best is not None, "a shift starts every day"
    return best.timestamp()


def parse_since(value: str | None, now: float, starts: tuple[str, ...], tz: str) -> float:
    """``since`` from the page or API (ISO 8601; without a zone: the site's), or the start of
    the current shift; refuses a future time or one more than 31 days back."""
    if not value:
        return shift_start(now, starts, tz)
    try:
        moment = datetime.fromisoformat(value.strip()[:40].replace("Z", "+00:00"))
    except ValueError:
        abort(400, _("since must be a date and time such as 2026-12-01T06:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    ts = moment.timestamp()
    if ts > now:
        abort(400, _("since must not be in the future"))
    if ts < now - MAX_LOOKBACK_S:
        abort(400, _("since must be within the last 31 days"))
    return ts


def open_now(db: Any) -> dict[str, Any]:
    """Open alerts (new or acknowledged): counts by severity and by type, the oldest's start."""
    rows = db.execute(
        "SELECT severity, type, MIN(started_at), COUNT(*) FROM events WHERE status IN (?, ?) "
        "GROUP BY severity, type", OPEN).fetchall()
    by_severity = dict.fromkeys(SEVERITIES, 0)
    by_type: dict[str, int] = defaultdict(int)
    oldest = None
    for severity, type_, first, n in rows:
        by_severity[severity] = by_severity.get(severity, 0) + n
        by_type[type_] += n
        oldest = first if oldest is None or (first and first < oldest) else oldest
    return {"total": sum(by_severity.values()), "by_severity": by_severity,
            "by_type": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
            "oldest_started_at": oldest}


def since_summary(db: Any, since: float) -> dict[str, Any]:
    """Alerts raised (started), acknowledged and resolved (by outcome) since ``since``, in all
    and per camera."""
    iso = utc_iso(since)
    raised = db.execute("SELECT site, camera, COUNT(*) FROM events WHERE started_at >= ? "
                        "GROUP BY site, camera", [iso]).fetchall()
    acked = db.execute("SELECT site, camera, COUNT(*) FROM events WHERE acked_at >= ? "
                       "GROUP BY site, camera", [since]).fetchall()
    resolved = db.execute("SELECT site, camera, COALESCE(outcome, ''), COUNT(*) FROM events "
                          "WHERE resolved_at >= ? GROUP BY site, camera, outcome",
                          [since]).fetchall()
    still_open = db.execute("SELECT site, camera, COUNT(*) FROM events WHERE status IN (?, ?) "
                            "GROUP BY site, camera", OPEN).fetchall()
    cams: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"raised": 0, "acknowledged": 0, "resolved": 0, "open": 0})
    for site, camera, n in raised:
        cams[f"{site}/{camera}"]["raised"] += n
    for site, camera, n in acked:
        cams[f"{site}/{camera}"]["acknowledged"] += n
    outcomes: dict[str, int] = defaultdict(int)
    for site, camera, outcome, n in resolved:
        cams[f"{site}/{camera}"]["resolved"] += n
        outcomes[outcome or "none"] += n
    for site, camera, n in still_open:
        if f"{site}/{camera}" in cams:
            cams[f"{site}/{camera}"]["open"] += n
    per_camera = [{"camera": k, **v} for k, v in sorted(cams.items())]
    return {"since": utc_iso(since), "raised": sum(n for *_k, n in raised),
            "acknowledged": sum(n for *_k, n in acked),
            "resolved": sum(outcomes.values()), "resolved_by_outcome": dict(sorted(outcomes.items())),
            "per_camera": per_camera}


def _summary() -> dict[str, Any]:
    cfg = current_app.config
    tz = str(cfg.get("SITE_TIMEZONE", "Europe/Paris"))
    starts = tuple(cfg.get("SHIFT_STARTS", ("06:00", "14:00", "22:00")))
    now = time.time()
    since = parse_since(request.args.get("since"), now, starts, tz)
    db = get_db()
    return {"now": utc_iso(now), "shift_start": utc_iso(shift_start(now, starts, tz)),
            "shift_starts": list(starts), "timezone": tz, "open": open_now(db),
            "period": since_summary(db, since)}


@bp.get("/api/v1/shift")
@roles(*VIEWERS)
@doc("What is open now and what happened since a time (default: the current shift's start)",
     query={"since": {"type": "string", "format": "date-time"}})
def api_shift() -> Any:
    return jsonify(_summary())


@bp.get("/shift")
@roles(*VIEWERS)
def page() -> str:
    """The shift page (refreshes every 30 s)."""
    summary = _summary()
    since_local = datetime.fromisoformat(summary["period"]["since"].replace("Z", "+00:00")) \
        .astimezone(ZoneInfo(summary["timezone"])).strftime("%Y-%m-%dT%H:%M")
    return render_template("shift/shift.html", s=summary, since_local=since_local,
                           custom=bool(request.args.get("since")))
