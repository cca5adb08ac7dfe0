"""The editor's Flask application: the page, its frames, and its check / save / try-it calls.

Every request passes :class:`~edge.setup.guard.Guard` first (the one-time token, then the
session cookie); a POST must also carry the ``X-Vigie-Setup`` header (a page of another site
cannot set it). The edited layout travels as JSON mirroring the TOML sections; each change is
rendered into the file's text (:func:`edge.setup.save.render`) and checked by
:func:`edge.config.check_text`, the checker of ``vigie edge check-config``.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from flask import Flask, Response, jsonify, redirect, render_template, request

from edge.config import PrivacyMask, Problem, SourceConfig, check_text
from edge.privacy.masks import MaskPainter
from edge.setup import save as saving
from edge.setup.forms import rule_forms
from edge.setup.frames import FrameKeeper, Kept, decode
from edge.setup.guard import COOKIE, Guard
from edge.setup.messages import LANGS, pick, table
from edge.setup.tryit import Trials
from edge.wire.tomlconf import ConfigError, parse_toml, read_text

log = logging.getLogger(__name__)

EDITED = (*saving.TABLE_LISTS, "calibration")
MAX_BODY = 512 * 1024
"""A layout is a few KiB; a larger request body is refused."""
LOOP_FRAMES = 30
LANG_COOKIE = "vigie_setup_lang"


@dataclass
class Session:
    """What one ``vigie edge setup`` run holds: the file, its frames, the guard, the runs."""

    path: Path
    guard: Guard
    keeper: FrameKeeper
    lang: str | None = None
    """``fr`` or ``en``; None follows the browser's Accept-Language (French when neither)."""
    text: str = ""
    masks: MaskPainter = field(default_factory=lambda: MaskPainter([]))
    trials: Trials = field(default_factory=Trials)

    def reload(self) -> None:
        self.text = read_text(self.path)


def source_of(path: Path) -> SourceConfig:
    """The config's ``[source]`` (relative file paths from the file's folder), even when
    other sections have mistakes: the editor is there to fix them."""
    from edge.config import resolve_paths

    text = read_text(path)
    data = parse_toml(text, path)
    resolve_paths(data, path.parent)
    try:
        return SourceConfig.model_validate(data.get("source"))
    except ValueError as exc:
        raise ConfigError(path, [Problem(None, "source", str(exc).splitlines()[-1].strip())]) from None


def layout_of(text: str) -> dict[str, Any]:
    """The edited sections of a config text, as the page handles them."""
    data = tomllib.loads(text)
    out: dict[str, Any] = {k: data.get(k, []) for k in saving.TABLE_LISTS}
    out["calibration"] = data.get("calibration")
    return out


def _problems(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"location": p.location, "message": p.message, "line": p.line} for p in problems]


def create_app(session: Session) -> Flask:
    """The editor for ``session`` (its frame keeper already started)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    session.reload()

    def lang() -> str:
        asked = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
        if asked in LANGS:
            return str(asked)
        return session.lang or pick(request.headers.get("Accept-Language", ""))

    @app.before_request
    def _door() -> Response | None:
        offered = request.args.get("token")
        if offered is not None:
            if not session.guard.exchange(offered):
                return _refuse(403, table(lang())["token_refused"])
            resp = redirect(request.path)
            resp.set_cookie(COOKIE, session.guard.session, httponly=True, samesite="Strict")
            return resp  # type: ignore[return-value]
        if not session.guard.admits(request.cookies.get(COOKIE)):
            return _refuse(403, table(lang())["token_missing"])
        if request.method == "POST" and request.headers.get("X-Vigie-Setup") != "1":
            return _refuse(403, "missing X-Vigie-Setup header")
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' blob:"
        resp.headers["Referrer-Policy"] = "no-referrer"
        if request.args.get("lang") in LANGS:
            resp.set_cookie(LANG_COOKIE, str(request.args["lang"]), httponly=True, samesite="Strict")
        return resp

    @app.get("/favicon.ico")
    def favicon() -> tuple[str, int]:
        return "", 204

    @app.get("/")
    def page() -> str:
        lg = lang()
        return render_template("setup.html", lang=lg, langs=LANGS, t=table(lg),
                               name=session.path.name)

    _api_routes(app, session, lang)
    return app


def _api_routes(app: Flask, session: Session, lang: Callable[[], str]) -> None:
    """The page's calls: state, frames, check, save, try it."""

    @app.get("/api/state")
    def state() -> Response:
        _cfg, problems = check_text(session.text, session.path)
        frame = session.keeper.latest(wait_s=0.5)
        return jsonify(layout=layout_of(session.text), problems=_problems(problems), forms=rule_forms(),
                       frame=None if frame is None else {"width": frame.width, "height": frame.height},
                       camera_problem=session.keeper.problem(), keep_s=session.keeper.keep_s,
                       messages=table(lang()), lang=lang())

    @app.get("/api/frame")
    def frame() -> Response:
        n = request.args.get("n", type=int)
        kept = session.keeper.get(n) if n is not None else session.keeper.latest()
        if kept is None:
            return _camera_down(session, lang())
        return _jpeg(kept, session.masks)

    @app.get("/api/loop")
    def loop() -> Response:
        seconds = min(max(request.args.get("seconds", 5.0, type=float), 1.0), session.keeper.keep_s)
        frames = session.keeper.recent(seconds)
        step = max(1, len(frames) // LOOP_FRAMES)
        return jsonify(frames=[f.n for f in frames[::step]], camera_problem=session.keeper.problem())

    @app.post("/api/check")
    def check() -> Response:
        text, problems = _checked(session)
        return jsonify(problems=_problems(problems), toml=text)

    @app.post("/api/save")
    def save() -> tuple[Response, int] | Response:
        text, problems = _checked(session)
        if problems:
            return jsonify(problems=_problems(problems), saved=False), 422
        prev = saving.save(session.path, text)
        session.reload()
        return jsonify(problems=[], saved=True, path=str(session.path), previous=str(prev))

    @app.post("/api/try")
    def try_it() -> tuple[Response, int] | Response:
        return _start_try(session)

    @app.get("/api/try/<run_id>")
    def try_status(run_id: str) -> tuple[Response, int] | Response:
        run = session.trials.runs.get(run_id)
        return (jsonify(run.summary()), 200) if run else (jsonify(error="no such run"), 404)

    @app.get("/api/try/<run_id>/shot/<int:i>")
    def try_shot(run_id: str, i: int) -> tuple[Response, int] | Response:
        run = session.trials.runs.get(run_id)
        if run is None or i not in run.shots:
            return jsonify(error="no such frame"), 404
        return Response(run.shots[i], mimetype="image/jpeg")


def _refuse(status: int, message: str) -> Response:
    if request.path.startswith("/api/"):
        resp = jsonify(error=message)
    else:
        resp = Response(f"<!doctype html><meta charset=utf-8><title>Vigie</title><p>{message}</p>",
                        mimetype="text/html")
    resp.status_code = status
    return resp


def _camera_down(session: Session, lang: str) -> Response:
    detail = session.keeper.problem() or "no frame yet"
    resp = jsonify(error=table(lang)["camera_down"], detail=detail)
    resp.status_code = 503
    return resp


def _jpeg(kept: Kept, masks: MaskPainter) -> Response:
    """The frame as the CSU could ever see it: privacy masks blacked out by MaskPainter."""
    if not masks:
        return Response(kept.jpeg, mimetype="image/jpeg")
    ok, buf = cv2.imencode(".jpg", masks.apply(decode(kept)), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return Response(buf.tobytes() if ok else kept.jpeg, mimetype="image/jpeg")


def _layout() -> dict[str, Any]:
    body = request.get_json(silent=True)
    layout = body.get("layout") if isinstance(body, dict) else None
    if not isinstance(layout, dict):
        return {}
    return {k: layout.get(k) for k in EDITED}


def _checked(session: Session) -> tuple[str, list[Problem]]:
    """The file's text with the posted layout, and every problem the checker finds in it;
    the preview's masks follow the layout's valid masks."""
    layout = _layout()
    try:
        text = saving.render(session.text, layout)
    except (ValueError, TypeError) as exc:
        return session.text, [Problem(None, "(layout)", f"cannot be written as TOML: {exc}")]
    masks = []
    for m in layout.get("privacy_masks") or []:
        try:
            masks.append(PrivacyMask.model_validate(m))
        except ValueError:
            continue
    session.masks = MaskPainter(masks)
    _cfg, problems = check_text(text, session.path)
    return text, problems


def _start_try(session: Session) -> tuple[Response, int] | Response:
    from edge.config import parse

    text, problems = _checked(session)
    if problems:
        return jsonify(problems=_problems(problems)), 422
    if session.trials.busy():
        return jsonify(error=table(session.lang or "fr")["try_busy"]), 409  # one run at a time
    body = request.get_json(silent=True) or {}
    cfg = parse(text, session.path)
    max_frames = body.get("max_frames")
    max_frames = int(max_frames) if isinstance(max_frames, int | float) and 0 < max_frames < 100_000 else None
    video = None
    frames = None
    if body.get("file"):
        video = Path(str(body["file"])).expanduser()
        if not video.is_absolute():
            video = session.path.parent / video
        if not video.is_file():
            return jsonify(error=f"{video}: not a file"), 400
    else:
        seconds = body.get("seconds", session.keeper.keep_s)
        if not (isinstance(seconds, int | float) and seconds > 0):
            seconds = session.keeper.keep_s
        frames = session.keeper.recent(seconds)
        if not frames:
            return _camera_down(session, session.lang or "fr")
    run = session.trials.start(cfg, frames, video, max_frames)
    return jsonify(run.summary())
