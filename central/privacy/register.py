"""The processing register, CNIL-style (finalités, catégories de données et de personnes,
destinataires, durées de conservation, transferts, mesures de sécurité, base légale), generated
from what runs: the tables of the hub database, the stores of the boxes, the message kinds of the
wire contract, the roles and the machine clients, each described once in
:mod:`central.privacy.processings`; and, per camera, the live box configuration.

The hub does not hold box configs (each box reads its own TOML), so the register is built from
the box config files given on the command line (``--box-config FILE_OR_DIR``, repeatable: the
files Ansible renders for its inventory, or a copy of ``/etc/vigie`` of each box) and, when
given, the hub config and database (retention in force, who may see what).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge.config import BoxConfig, ConfigError, load
from edge.wire.messages import utc_iso

log = logging.getLogger(__name__)

Gettext = Callable[[str], str]


class RegisterError(ValueError):
    """Box configs that cannot make a register (the text names the file)."""


def box_config_files(paths: list[Path]) -> list[Path]:
    """The TOML files named, and those in the folders named (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.toml"))
            if not found:
                raise RegisterError(f"{p} holds no *.toml box config")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise RegisterError(f"{p}: no such file or folder")
    return out


def load_boxes(paths: list[Path], allow_none: bool = False) -> list[tuple[Path, BoxConfig]]:
    """Every box config, validated; the same site/camera twice is refused."""
    boxes: list[tuple[Path, BoxConfig]] = []
    seen: dict[tuple[str, str], Path] = {}
    for f in box_config_files(paths):
        try:
            cfg = load(f)
        except ConfigError as exc:
            raise RegisterError(str(exc)) from None
        except OSError as exc:
            raise RegisterError(f"cannot read {f}: {exc.strerror}") from None
        key = (cfg.site, cfg.camera)
        if key in seen:
            raise RegisterError(f"{f} and {seen[key]} both configure {cfg.site}/{cfg.camera}")
        seen[key] = f
        boxes.append((f, cfg))
    if not boxes and not allow_none:
        raise RegisterError("no box config given (--box-config FILE_OR_DIR)")
    return sorted(boxes, key=lambda b: (b[1].site, b[1].camera))


def _source(cfg: BoxConfig, _: Gettext) -> str:
    """The kind and place of the video source, never its credentials."""
    if cfg.source.device is not None:
        return _("local camera device %(n)s") % {"n": cfg.source.device}
    url = cfg.source.url or ""
    if "://" in url:
        u = urlsplit(url)
        where = (u.hostname or "?") + (f":{u.port}" if u.port else "")
        return _("%(scheme)s stream from %(where)s") % {"scheme": u.scheme, "where": where}
    return _("video file %(name)s") % {"name": Path(url).name}


def _rule(rule: Any) -> dict[str, Any]:
    d = rule.model_dump(exclude_none=True)
    kind = d.pop("type")
    zone = d.pop("zone", None)
    severity = d.pop("severity", None)
    return {"type": kind, "zone": zone, "severity": severity,
            "parameters": ", ".join(f"{k}={v}" for k, v in sorted(d.items()))}


def _leaves(cfg: BoxConfig, clips: bool, _: Gettext) -> list[str]:
    alerts = cfg.mode == "alerts"
    leaves = [_("event messages (type, zone, time, object labels and boxes; no image)")] if alerts else []
    leaves += [_("health (frame rates, timings, outbox, disk, whether audio listens)"),
               _("signed egress-ledger digests (hashes only)")]
    if cfg.stats.enabled and (cfg.lines or cfg.zones):
        leaves.append(_("statistics (aggregate counts per zone/line and class)"))
    if cfg.index.enabled:
        leaves.append(_("answers to signed forensic searches (track class, times, zones, "
                        "direction; vehicle colour and anonymised preview)"))
    if clips:
        masks = _(", privacy masks blacked out") if cfg.privacy_masks else ""
        leaves.append(_("anonymised clips (%(pre)s s before to %(post)s s after an event; "
                        "%(what)s obscured%(masks)s)")
                      % {"pre": f"{cfg.clips.pre_s:g}", "post": f"{cfg.clips.post_s:g}",
                         "what": cfg.clips.anonymize, "masks": masks})
        if cfg.clips.still:
            leaves.append(_("one anonymised still of each event start (JPEG at most "
                            "%(width)dx%(height)d, %(what)s obscured, zone and boxes drawn)")
                          % {"width": cfg.clips.still_max_width,
                             "height": cfg.clips.still_max_height, "what": cfg.clips.anonymize})
    return leaves


def _stays(cfg: BoxConfig, _: Gettext) -> list[str]:
    stays = [_("raw video and audio (never stored beyond the %(pre)s s in-memory pre-roll)")
             % {"pre": f"{cfg.clips.pre_s:g}"},
             _("outbox of unsent messages (capped at %(mib)d MiB)")
             % {"mib": cfg.outbox.max_bytes // (1024 * 1024)},
             _("egress ledger (hashes of everything sent)"),
             _("the hub's false-alarm suppressions for this camera (rule, zone, a rectangle of "
               "the frame, an expiry; replaced by each new signed set)")]
    if cfg.index.enabled:
        stays.append(_("track index with vehicle previews, %(days)d days") %
                     {"days": cfg.index.retention_days})
    return stays


def camera_entry(path: Path, cfg: BoxConfig, _: Gettext = str) -> dict[str, Any]:
    """One camera's facts for the register, in the language of ``_``."""
    alerts = cfg.mode == "alerts"
    clips = alerts and cfg.clips.enabled and cfg.upload is not None
    return {
        "site": cfg.site, "camera": cfg.camera, "config_file": str(path), "mode": cfg.mode,
        "source": _source(cfg, _),
        "detector": _("%(model)s (%(backend)s), classes %(classes)s") % {
            "model": cfg.detector.model, "backend": cfg.detector.backend,
            "classes": ", ".join(cfg.detector.classes)},
        "rules": [_rule(r) for r in cfg.rules] if alerts else [],
        "zones": [{"name": z.name, "points": len(z.polygon)} for z in cfg.zones],
        "lines": [ln.name for ln in cfg.lines],
        "masks": [{"name": m.name, "points": len(m.polygon)} for m in cfg.privacy_masks],
        "audio": {"enabled": cfg.audio.enabled, "legal_basis": cfg.audio.legal_basis,
                  "what": _("gunshot-like sounds classified on the box (YAMNet); no sound ever "
                            "leaves") if cfg.audio.enabled else _("no microphone is used")},
        "clips": {"enabled": clips, "anonymize": cfg.clips.anonymize if clips else None,
                  "hub": urlsplit(cfg.upload.hub_url).hostname if cfg.upload else None},
        "index": {"enabled": cfg.index.enabled, "retention_days": cfg.index.retention_days},
        "broker": f"{cfg.broker.host}:{cfg.broker.port}",
        "leaves_the_box": _leaves(cfg, clips, _),
        "stays_on_the_box": _stays(cfg, _),
    }


def build(boxes: list[tuple[Path, BoxConfig]], hub: Any | None = None, db: Any | None = None,
          controller: str | None = None, language: str = "fr") -> dict[str, Any]:
    """The register as a JSON-able document, its texts in ``language``."""
    from central.i18n import translator
    from central.privacy import register_sections as sections
    from central.privacy.inventory import LEGAL_MAX_DAYS, retention_days

    _ = translator(language)
    cams = [camera_entry(p, c, _) for p, c in boxes]
    retention = None
    if hub is not None:
        retention = retention_days(db, hub.retention_days) if db is not None else hub.retention_days
    reg = hub.controller if hub is not None else None
    index_days = sorted({c.index.retention_days for _p, c in boxes if c.index.enabled})
    ctx = sections.Context(_, retention, index_days)
    return {
        "schema": "vigie.register/2", "language": language,
        "generated_at": utc_iso(time.time()),
        "controller": controller or (reg.name if reg else None),
        "dpo": reg.dpo if reg else None,
        "legal_basis": (reg.legal_basis if reg and reg.legal_basis else _(sections.LEGAL_BASIS)),
        "purpose": _(sections.PURPOSE),
        "legal_framework": _(sections.FRAMEWORK),
        "sites": sorted({c["site"] for c in cams}),
        "cameras": cams,
        "retention": {"days": retention, "legal_max_days": LEGAL_MAX_DAYS,
                      "applies_to": _("events, clips, quarantine and search results at the hub "
                                      "(statistics and the audit log are kept)")},
        "subjects": sections.subjects(_),
        "processings": sections.processings(db, ctx),
        "recipients": sections.recipients(db, hub, _),
        "clients": sections.clients(db, hub, _),
        "transfers": _(sections.TRANSFERS),
        "security": [_(m) for m in sections.COMMON_SECURITY],
        "data_flows": [_(f) for f in sections.FLOWS],
    }


def render_html(doc: dict[str, Any]) -> str:
    from central.cli.privacy import render

    return render("privacy/register.html", doc=doc, language=doc.get("language", "fr"))
