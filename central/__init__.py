"""Vigie hub: ingest, storage and the CSU operators' pages and API.

Importing :mod:`central` (or its database, config, ingest, privacy and forensic service
modules) needs no web framework: Flask is imported by :func:`create_app` and the
:mod:`central.web` modules it registers, nowhere else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from central import db as hubdb
from central.config import HubConfig

if TYPE_CHECKING:
    from flask import Blueprint, Flask

log = logging.getLogger(__name__)


def blueprints() -> tuple[Blueprint, ...]:
    """Every blueprint of the hub, in registration order (a path two of them declare is
    served by the first)."""
    from central.web import (
        access,
        admin,
        alertlist,
        alerts,
        alertstream,
        cameras,
        chrome,
        clips,
        devices,
        events,
        forensic,
        health,
        openapi,
        plan,
        privacy,
        procedures,
        shift,
        stats,
        suppressions,
    )

    return (
        health.bp,     # /healthz: the process's vital threads
        alertstream.bp,  # live updates of the queue and alert pages (server-sent events)
        alertlist.bp,  # alert listings: flat pages and the grouped triage queue
        alerts.bp,     # the operators' alert queue and workflow API
        procedures.bp,  # the supervisors' written procedures per event type and camera
        cameras.bp,    # cameras and their health
        clips.bp,      # event clip upload (devices) and viewing
        chrome.bp,     # login, logout, /api/v1/me
        events.bp,     # event search and CSV export
        stats.bp,      # statistics for supervisors
        shift.bp,      # the shift summary: open now, and since the shift began
        plan.bp,       # the site plan with the cameras on it
        privacy.bp,    # the privacy officer's pages and API
        access.bp,     # subject-access requests
        devices.bp,    # box public keys
        admin.bp,      # users and API clients
        suppressions.bp,  # false-alarm suppressions (supervisors)
        openapi.bp,    # the OpenAPI document of /api/v1
        forensic.bp,   # forensic search: investigators ask the boxes
    )


def create_app(cfg: HubConfig | None = None, **overrides: Any) -> Flask:
    """The Flask application factory. ``overrides`` set Flask config keys (tests)."""
    from flask import Flask, g

    from central import i18n
    from central.web import chrome
    from central.web.auth import TrustedProxies
    from central.web.httpjson import FiniteJSONProvider

    cfg = cfg or HubConfig()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.json = FiniteJSONProvider(app)
    app.config.update(
        DATABASE=Path(cfg.database),
        HUB_CONFIG=cfg,  # the processing register describes it (tokens, retention, controller)
        API_TOKENS={k: v if isinstance(v, str) else v.model_dump()
                    for k, v in cfg.api_tokens.items()},
        DEVICE_TOKENS={t: (d.site, d.camera) for t, d in cfg.device_tokens.items()},
        CLIPS_DIR=Path(cfg.clips.dir),
        CLIP_MAX_BYTES=cfg.clips.max_bytes,
        CLIP_MAX_DURATION_S=cfg.clips.max_duration_s,
        CLIP_MAX_WIDTH=cfg.clips.max_width,
        CLIP_MAX_HEIGHT=cfg.clips.max_height,
        CLIP_MAX_FPS=cfg.clips.max_fps,
        STILL_MAX_BYTES=cfg.clips.still_max_bytes,
        STILL_MAX_WIDTH=cfg.clips.still_max_width,
        STILL_MAX_HEIGHT=cfg.clips.still_max_height,
        JSON_SORT_KEYS=False,
        COOKIE_SECURE=cfg.cookie_secure,
        SILENT_AFTER_S=cfg.silent_after_s,
        SIGNING_KEY=cfg.signing_key,
        HUB_BROKER=cfg.broker,
        SEARCH=cfg.search,
        SUPPRESSIONS=cfg.suppressions,
        RETENTION_DAYS=cfg.retention_days,
        MAX_CLOCK_SKEW_S=cfg.max_clock_skew_s,
        MAX_CONTENT_LENGTH=cfg.max_body_bytes(),
        SHIFT_STARTS=tuple(cfg.shifts.starts),
        PLAN_MAX_BYTES=cfg.plan.max_bytes,
        PLAN_MAX_PIXELS=cfg.plan.max_pixels,
        ALERTS=cfg.alerts,
        ALERT_STREAMS=cfg.alert_streams(),
    )
    app.config.update(overrides)
    app.wsgi_app = TrustedProxies(app.wsgi_app, cfg.trusted_proxies)  # type: ignore[method-assign]

    for bp in blueprints():
        app.register_blueprint(bp)
    chrome.install(app)  # page context, filters, error handlers, security headers
    i18n.install(app, cfg.language, cfg.timezone)  # language per person, site time zone

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            db.conn.close()

    hubdb.connect(app.config["DATABASE"]).conn.close()  # migrate once at start-up
    return app
