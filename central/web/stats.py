"""Statistics for supervisors: events per hour by type, false-alarm rate per rule and camera.

Charts are rendered on the server as SVG with matplotlib, so the page needs no front-end
build. Counts from ``stats`` messages (line crossings, zone occupancy) are shown when the
hub stores them: the ``stats`` table comes with the ``vigie.stats/1`` message of the event
catalogue issue (one row per box and interval, ``lines`` and ``zones`` as JSON lists);
until it exists the page says so.
"""

from __future__ import annotations

import io
import time
from collections import defaultdict
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from central.db import get_db
from central.i18n import label
from central.web.auth import roles
from central.web.openapi import doc
from edge.wire.messages import utc_iso

bp = Blueprint("stats", __name__)

VIEWERS = ("supervisor", "admin")


def _hours(args: Any) -> int:
    try:
        hours = int(args.get("hours", 48))
    except (TypeError, ValueError):
        abort(400, _("hours must be an integer"))
    if not 1 <= hours <= 24 * 30:
        abort(400, _("hours must be between 1 and 720"))
    return hours


def events_per_hour(hours: int, now: float | None = None) -> dict[str, dict[str, int]]:
    """{type: {hour 'YYYY-MM-DDTHH': count}} for events started in the last ``hours``."""
    now = now or time.time()
    since = utc_iso(now - hours * 3600)
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for t, hour, n in get_db().execute(
            "SELECT type, substr(started_at, 1, 13) AS h, COUNT(*) FROM events "
            "WHERE started_at >= ? GROUP BY type, h ORDER BY h", [since]).fetchall():
        out[t][hour] = n
    return dict(out)


def false_alarm_rates() -> list[dict[str, Any]]:
    """Per rule (event type and zone) and camera: resolved count, false alarms and their rate."""
    rows = get_db().execute(
        "SELECT type, COALESCE(zone, '') AS zone, site, camera, COUNT(*) AS resolved, "
        "SUM(outcome = 'false_alarm') AS false_alarms FROM events WHERE status = 'resolved' "
        "AND outcome IN ('true_alert', 'false_alarm') "
        "GROUP BY type, zone, site, camera ORDER BY type, zone, site, camera").fetchall()
    return [{"type": t, "zone": z or None, "site": s, "camera": c, "resolved": n,
             "false_alarms": fa, "rate": round(fa / n, 3) if n else None}
            for t, z, s, c, n, fa in rows]


def _hourly(fig: Any, ax: Any, buckets: list[str], ylabel: str, title: str, has_data: bool,
            empty: str) -> Response:
    """Finish an hourly chart: hour ticks, labels, a legend (or ``empty`` when there is no data)."""
    step = max(1, len(buckets) // 12)
    ax.set_xticks(range(0, len(buckets), step))
    ax.set_xticklabels([_hour_label(b) for b in buckets[::step]], rotation=30, ha="right",
                       fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if has_data:
        ax.legend(fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center")
    return _svg(fig)


def _site_zone() -> str:
    return str(current_app.config.get("SITE_TIMEZONE", "Europe/Paris"))


def _hour_label(bucket: str) -> str:
    """A UTC hour bucket ``YYYY-MM-DDTHH`` as the site reads it: ``01/12 11h``."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(bucket + ":00:00+00:00").astimezone(ZoneInfo(_site_zone()))
    return moment.strftime("%d/%m %Hh")


def _svg(fig: Any) -> Response:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    resp = Response(buf.getvalue(), mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _figure(width: float = 9, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=96)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


@bp.get("/stats/events-per-hour.svg")
@roles(*VIEWERS)
def chart_events_per_hour() -> Response:
    """Stacked bars: events started per hour, by type."""
    hours = _hours(request.args)
    data = events_per_hour(hours)
    now = time.time()
    buckets = [utc_iso(now - (hours - 1 - i) * 3600)[:13] for i in range(hours)]
    fig, ax = _figure()
    bottom = [0] * len(buckets)
    for t in sorted(data):
        counts = [data[t].get(b, 0) for b in buckets]
        ax.bar(range(len(buckets)), counts, bottom=bottom, label=label("event_type", t),
               width=0.85)
        bottom = [a + b for a, b in zip(bottom, counts, strict=True)]
    return _hourly(fig, ax, buckets, _("events"),
                   _("Events per hour by type (last %(hours)d h, %(zone)s)", hours=hours,
                     zone=_site_zone()), bool(data), _("no events in this period"))


@bp.get("/stats/false-alarms.svg")
@roles(*VIEWERS)
def chart_false_alarms() -> Response:
    """Horizontal bars: false-alarm rate per rule and camera, from resolved outcomes."""
    rates = false_alarm_rates()
    fig, ax = _figure(height=max(2.4, 0.45 * len(rates) + 1.2))
    if rates:
        labels = [f"{label('event_type', r['type'])}/{r['zone'] or '-'} @ {r['site']}/"
                  f"{r['camera']} (n={r['resolved']})" for r in rates]
        values = [100 * r["rate"] for r in rates]
        colors = ["#c62828" if v >= 50 else "#ef8f00" if v >= 20 else "#2e7d32" for v in values]
        ax.barh(range(len(rates)), values, color=colors)
        ax.set_yticks(range(len(rates)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
    else:
        ax.text(0.5, 0.5, _("no resolved alerts yet"), transform=ax.transAxes, ha="center")
    ax.set_xlabel(_("false alarms, %% of alerts resolved as %(true)s or %(false)s",
                    true=label("outcome", "true_alert"), false=label("outcome", "false_alarm")))
    ax.set_title(_("False-alarm rate per rule and camera"))
    return _svg(fig)


def stats_counts(hours: int, now: float | None = None) -> dict[str, Any]:
    """Totals from ``stats`` messages over the last ``hours``: line crossings per hour and
    class, and peak zone occupancy per zone and class. Empty when the hub stores none."""
    import json

    out: dict[str, Any] = {"crossings": {}, "occupancy": {}}
    if not stats_table_present():
        return out
    since = utc_iso((now or time.time()) - hours * 3600)
    crossings: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    peak: dict[str, float] = defaultdict(float)
    for start, lines, zones in get_db().execute(
            "SELECT interval_start, lines, zones FROM stats WHERE interval_start >= ? "
            "ORDER BY interval_start", [since]).fetchall():
        hour = str(start)[:13]
        for line in json.loads(lines or "[]"):
            crossings[str(line["class"])][hour] += int(line["forward"]) + int(line["backward"])
        for zone in json.loads(zones or "[]"):
            key = f"{zone['zone']}/{zone['class']}"
            peak[key] = max(peak[key], float(zone["max"]))
    out["crossings"] = {c: dict(h) for c, h in crossings.items()}
    out["occupancy"] = dict(sorted(peak.items()))
    return out


@bp.get("/stats/crossings-per-hour.svg")
@roles(*VIEWERS)
def chart_crossings() -> Response:
    """Line crossings per hour by class, from the boxes' ``stats`` messages."""
    hours = _hours(request.args)
    data = stats_counts(hours)["crossings"]
    now = time.time()
    buckets = [utc_iso(now - (hours - 1 - i) * 3600)[:13] for i in range(hours)]
    fig, ax = _figure()
    for cls in sorted(data):
        ax.plot(range(len(buckets)), [data[cls].get(b, 0) for b in buckets], marker=".",
                label=label("object_class", cls))
    return _hourly(fig, ax, buckets, _("crossings"),
                   _("Line crossings per hour by class (last %(hours)d h, %(zone)s)", hours=hours,
                     zone=_site_zone()), bool(data), _("no statistics messages in this period"))


def stats_table_present() -> bool:
    return bool(get_db().execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stats'").fetchone())


@bp.get("/api/v1/stats/false-alarms")
@roles(*VIEWERS)
@doc("False-alarm rate per rule (type, zone) and camera, from resolved outcomes")
def api_false_alarms() -> Any:
    return jsonify(rates=false_alarm_rates())


@bp.get("/api/v1/stats/events-per-hour")
@roles(*VIEWERS)
@doc("Events started per hour by type", query={"hours": {"type": "integer", "minimum": 1,
                                                          "maximum": 720}})
def api_events_per_hour() -> Any:
    return jsonify(hours=_hours(request.args), by_type=events_per_hour(_hours(request.args)))


@bp.get("/api/v1/stats/counts")
@roles(*VIEWERS)
@doc("Line crossings per hour by class and peak zone occupancy, from stats messages",
     query={"hours": {"type": "integer", "minimum": 1, "maximum": 720}})
def api_counts() -> Any:
    hours = _hours(request.args)
    return jsonify(hours=hours, **stats_counts(hours))


@bp.get("/stats")
@roles(*VIEWERS)
def page() -> str:
    """The statistics page."""
    hours = _hours(request.args)
    return render_template("stats/stats.html", hours=hours, rates=false_alarm_rates(),
                           stats_messages=stats_table_present(), counts=stats_counts(hours))
