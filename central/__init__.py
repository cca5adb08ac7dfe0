"""Vigie hub: ingest, storage and the CSU operators' pages and API."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

from central import db as hubdb
from central.config import HubConfig

log = logging.getLogger(__name__)


def create_app(cfg: HubConfig | None = None, **overrides: Any) -> Flask:
    """The Flask application factory. ``overrides`` set Flask config keys (tests)."""
    from central.web.auth import TrustedProxies
    from central.web.httpjson import FiniteJSONProvider

    cfg = cfg or HubConfig()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.json = FiniteJSONProvider(app)
    app.config.update(
        DATABASE=Path(cfg.database),
        API_TOKENS={k: v if isinstance(v, str) else v.model_dump()
                    for k, v in cfg.api_tokens.items()},
        DEVICE_TOKENS={t: (d.site, d.camera) for t, d in cfg.device_tokens.items()},
        CLIPS_DIR=Path(cfg.clips.dir),
        CLIP_MAX_BYTES=cfg.clips.max_bytes,
        CLIP_MAX_DURATION_S=cfg.clips.max_duration_s,
        CLIP_MAX_WIDTH=cfg.clips.max_width,
        CLIP_MAX_HEIGHT=cfg.clips.max_height,
        CLIP_MAX_FPS=cfg.clips.max_fps,
        JSON_SORT_KEYS=False,
        COOKIE_SECURE=cfg.cookie_secure,
        SILENT_AFTER_S=cfg.silent_after_s,
        SIGNING_KEY=cfg.signing_key,
        HUB_BROKER=cfg.broker,
        SEARCH=cfg.search,
        RETENTION_DAYS=cfg.retention_days,
        MAX_CLOCK_SKEW_S=cfg.max_clock_skew_s,
        MAX_CONTENT_LENGTH=cfg.max_body_bytes(),
    )
    app.config.update(overrides)
    app.wsgi_app = TrustedProxies(app.wsgi_app, cfg.trusted_proxies)  # type: ignore[method-assign]

    from central.web import alerts, cameras, clips
    from central.web import health as vitals

    app.register_blueprint(vitals.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(cameras.bp)
    app.register_blueprint(clips.bp)

    from central.web import chrome as web

    web.install(app)

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            db.conn.close()

    @app.errorhandler(HTTPException)
    def _json_errors(exc: HTTPException) -> Any:
        if web.wants_html():
            return web.error_page(exc)
        resp = jsonify(error=(exc.name or "error").lower().replace(" ", "_"),
                       message=exc.description)
        resp.status_code = exc.code or 500
        return resp

    hubdb.connect(app.config["DATABASE"]).conn.close()  # migrate once at start-up
    return app
