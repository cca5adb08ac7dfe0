"""French first: each person's language (French by default, English on request), the site's time
zone, relative ages, and the labels of event types, severities, states and outcomes.

Strings are written in English in the code and templates (``_("…")`` in Jinja, :func:`gettext`
in Python, ``t("…")`` in the pages' scripts) and translated through the gettext catalogues of
:data:`TRANSLATIONS`; ``make translations`` extracts, updates and compiles them.
"""

from __future__ import annotations

import functools
import gettext as gettext_module
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.support import Translations

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
"""The languages a person can choose; the first is the default."""
DEFAULT_LANGUAGE = LANGUAGES[0]
DEFAULT_TIMEZONE = "Europe/Paris"
TRANSLATIONS = Path(__file__).parent / "translations"
STATIC = Path(__file__).parent / "web" / "static"


def N_(message: str) -> str:
    """Mark a string for the catalogue without translating it now (translated where shown)."""
    return message


LABELS: dict[str, dict[str, str]] = {
    "event_type": {
        "intrusion": N_("Intrusion"),
        "wrong_way": N_("Wrong way"),
        "abandoned_object": N_("Abandoned object"),
        "person_down": N_("Person on the ground"),
        "crowd_density": N_("Crowd density"),
        "crowd_movement": N_("Crowd movement"),
        "weapon": N_("Weapon"),
        "fire": N_("Fire or smoke"),
        "gunshot": N_("Gunshot"),
        "camera_tamper": N_("Camera tampering"),
        "camera_silent": N_("Camera silent"),
    },
    "severity": {"critical": N_("Critical"), "warning": N_("Warning"), "info": N_("Information")},
    "status": {"new": N_("New"), "acknowledged": N_("Acknowledged"), "resolved": N_("Resolved")},
    "outcome": {"true_alert": N_("True alert"), "false_alarm": N_("False alarm"),
                "test": N_("Test"), "duplicate": N_("Duplicate")},
    "camera_state": {"online": N_("Online"), "offline": N_("Offline"), "silent": N_("Silent")},
    "clip_state": {"pending": N_("Pending"), "making": N_("Being made"), "uploaded": N_("Uploaded"),
                   "failed": N_("Failed")},
    "role": {"operator": N_("Operator"), "supervisor": N_("Supervisor"),
             "privacy_officer": N_("Privacy officer"), "admin": N_("Administrator"),
             "investigator": N_("Investigator")},
    "language": {"fr": "Français", "en": "English"},
    "egress_status": {"ok": N_("verified"), "unverified": N_("unverified"), "alert": N_("alert")},
    "quarantine": {"invalid": N_("invalid"), "spoof": N_("spoof attempts"),
                   "clock_skew": N_("clock skew"), "unstorable": N_("unstorable"),
                   "search": N_("search answers")},
    "object_class": {"person": N_("Person"), "bicycle": N_("Bicycle"), "car": N_("Car"),
                     "motorcycle": N_("Motorcycle"), "bus": N_("Bus"), "truck": N_("Truck"),
                     "backpack": N_("Backpack"), "handbag": N_("Handbag"),
                     "suitcase": N_("Suitcase"), "knife": N_("Knife"),
                     "static object": N_("Object left still"), "fire": N_("Flames"),
                     "smoke": N_("Smoke")},
    "colour": {"white": N_("White"), "silver/grey": N_("Silver or grey"), "black": N_("Black"),
               "red": N_("Red"), "blue": N_("Blue"), "green": N_("Green"),
               "yellow/orange": N_("Yellow or orange"), "brown/beige": N_("Brown or beige")},
    "direction": {"left": N_("Leftwards"), "right": N_("Rightwards"), "up": N_("Upwards"),
                  "down": N_("Downwards"), "stationary": N_("Stationary")},
    "search_state": {"asked": N_("Asked"), "answered": N_("Answered"), "refused": N_("Refused"),
                     "offline": N_("Offline")},
    "alert_action": {"alert.view": N_("Viewed"), "alert.ack": N_("Acknowledged"),
                     "alert.resolve": N_("Resolved"), "alert.assign": N_("Assigned"),
                     "alert.mute": N_("Sound muted"), "alert.unmute": N_("Sound back on"),
                     "alert.escalated": N_("Escalated: critical, not acknowledged in time"),
                     "clip.view": N_("Clip viewed"), "received": N_("Received")},
    "suppression_state": {"active": N_("Active"), "revoked": N_("Revoked"),
                          "expired": N_("Expired")},
}
"""Every coded value a person sees, by kind; an unknown value is shown as it is."""


@functools.lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext_module.NullTranslations:
    """The compiled catalogue of ``language`` (the identity catalogue for English or when
    missing), for use outside a request: command-line reports, export manifests."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    return Translations.load(str(TRANSLATIONS), [language])


def translator(language: str) -> Callable[[str], str]:
    """``gettext`` of ``language`` (outside a request)."""
    return translations(language).gettext


def label(kind: str, value: Any, gettext: Callable[[str], str] | None = None) -> str:
    """What a person reads for a coded ``value`` of ``kind`` (``event_type``, ``status``…)."""
    if value is None:
        return "—"
    text = LABELS.get(kind, {}).get(str(value))
    if text is None:
        return str(value)
    return (gettext or _gettext)(text)


def _gettext(message: str) -> str:
    from flask_babel import gettext

    return str(gettext(message))


def to_datetime(value: Any) -> datetime | None:
    """A UTC datetime from an epoch (seconds) or an ISO 8601 string; ``None`` when neither."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(value: Any, language: str = DEFAULT_LANGUAGE, tz: str = DEFAULT_TIMEZONE,
         fmt: str = "short") -> str:
    """A date and time in the site's time zone, as people of ``language`` write it."""
    moment = to_datetime(value)
    if moment is None:
        return "—"
    pattern = {"short": "dd/MM/yyyy HH:mm:ss", "time": "HH:mm:ss"}.get(fmt, fmt)
    if language == "en" and fmt == "short":
        pattern = "yyyy-MM-dd HH:mm:ss"
    return format_datetime(moment, pattern, tzinfo=ZoneInfo(tz), locale=language)


def age(value: Any, language: str = DEFAULT_LANGUAGE, now: float | None = None) -> str:
    """How long ago ``value`` was ("il y a 3 minutes")."""
    moment = to_datetime(value)
    if moment is None:
        return "—"
    delta = (now if now is not None else time.time()) - moment.timestamp()
    return format_timedelta(timedelta(seconds=-max(delta, 0.0)), add_direction=True,
                            threshold=1.0, locale=language)


@functools.lru_cache(maxsize=1)
def script_messages() -> tuple[str, ...]:
    """The strings the pages' scripts show (their ``t("…")`` calls), read from the scripts."""
    from babel.messages.extract import extract_from_file

    found: set[str] = set()
    for path in sorted(STATIC.glob("*.js")):
        for _line, message, _comments, _context in extract_from_file(
                "javascript", str(path), keywords={"t": None}):
            if isinstance(message, str):
                found.add(message)
    return tuple(sorted(found))


def install(app: Flask, language: str = DEFAULT_LANGUAGE, tz: str = DEFAULT_TIMEZONE) -> None:
    """Flask-Babel with the person's language and the site's time zone, and the filters
    ``when``, ``age`` and ``label`` for the templates."""
    from flask import g
    from flask_babel import Babel, get_locale

    app.config.setdefault("BABEL_DEFAULT_LOCALE", language)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", tz)
    app.config.setdefault("SITE_TIMEZONE", tz)

    def _language() -> str:
        ident = g.get("identity")
        chosen = getattr(ident, "language", None)
        return chosen if chosen in LANGUAGES else str(app.config["BABEL_DEFAULT_LOCALE"])

    Babel(app, locale_selector=_language,
          default_translation_directories=str(TRANSLATIONS))

    def _lang() -> str:
        return str(get_locale() or language)

    app.jinja_env.filters["when"] = lambda v, fmt="short": when(
        v, _lang(), app.config["SITE_TIMEZONE"], fmt)
    app.jinja_env.filters["age"] = lambda v: age(v, _lang())
    app.jinja_env.filters["label"] = lambda v, kind: label(kind, v)

    @app.context_processor
    def _i18n() -> dict[str, Any]:
        from flask_babel import gettext

        return {"lang": _lang(), "languages": LANGUAGES, "site_timezone": app.config["SITE_TIMEZONE"],
                "script_i18n": {m: str(gettext(m)) for m in script_messages()},
                "labels_i18n": {kind: {k: str(gettext(v)) for k, v in values.items()}
                                for kind, values in LABELS.items()}}
