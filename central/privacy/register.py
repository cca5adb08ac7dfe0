"""The processing register: the facts a data-protection impact assessment needs, from the live
configuration of every box and of the hub.

The hub does not hold box configs (each box reads its own TOML), so the register is built from
the box config files given on the command line (``--box-config FILE_OR_DIR``, repeatable: the
files Ansible renders for its inventory, or a copy of ``/etc/vigie`` of each box) and, when
given, the hub config and database (retention in force, who may see what).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge.config import BoxConfig, ConfigError, load
from edge.wire.messages import utc_iso

log = logging.getLogger(__name__)

ROLE_SEES = {
    "operator": "live alerts and their anonymised clips (each clip view audited)",
    "supervisor": "alerts, clips, statistics, zones and thresholds; event exports with a reason",
    "privacy_officer": "audit log, egress verification, data inventory, retention, subject-access "
                       "exports; no live alert handling",
    "admin": "users, cameras and enrolment; the audit log",
}


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


def load_boxes(paths: list[Path]) -> list[tuple[Path, BoxConfig]]:
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
    if not boxes:
        raise RegisterError("no box config given (--box-config FILE_OR_DIR)")
    return sorted(boxes, key=lambda b: (b[1].site, b[1].camera))


def _source(cfg: BoxConfig) -> str:
    """The kind and place of the video source, never its credentials."""
    if cfg.source.device is not None:
        return f"local camera device {cfg.source.device}"
    url = cfg.source.url or ""
    if "://" in url:
        u = urlsplit(url)
        return f"{u.scheme} stream from {u.hostname or '?'}" + (f":{u.port}" if u.port else "")
    return f"video file {Path(url).name}"


def _rule(rule: Any) -> dict[str, Any]:
    d = rule.model_dump(exclude_none=True)
    kind = d.pop("type")
    zone = d.pop("zone", None)
    severity = d.pop("severity", None)
    return {"type": kind, "zone": zone, "severity": severity,
            "parameters": ", ".join(f"{k}={v}" for k, v in sorted(d.items()))}


def camera_entry(path: Path, cfg: BoxConfig) -> dict[str, Any]:
    """One camera's facts for the register."""
    alerts = cfg.mode == "alerts"
    clips = alerts and cfg.clips.enabled and cfg.upload is not None
    leaves = ["event messages (type, zone, time, object labels and boxes; no image)"] if alerts else []
    leaves += ["health (frame rates, timings, outbox, disk, whether audio listens)",
               "signed egress-ledger digests (hashes only)"]
    if cfg.stats.enabled and (cfg.lines or cfg.zones):
        leaves.append("statistics (aggregate counts per zone/line and class)")
    if clips:
        leaves.append(f"anonymised clips ({cfg.clips.pre_s:g} s before to {cfg.clips.post_s:g} s "
                      f"after an event; {cfg.clips.anonymize} obscured"
                      f"{', privacy masks blacked out' if cfg.privacy_masks else ''})")
    return {
        "site": cfg.site, "camera": cfg.camera, "config_file": str(path), "mode": cfg.mode,
        "source": _source(cfg),
        "detector": f"{cfg.detector.model} ({cfg.detector.backend}), classes "
                    f"{', '.join(cfg.detector.classes)}",
        "rules": [_rule(r) for r in cfg.rules] if alerts else [],
        "zones": [{"name": z.name, "points": len(z.polygon)} for z in cfg.zones],
        "lines": [ln.name for ln in cfg.lines],
        "masks": [{"name": m.name, "points": len(m.polygon)} for m in cfg.privacy_masks],
        "audio": {"enabled": cfg.audio.enabled, "legal_basis": cfg.audio.legal_basis,
                  "what": "gunshot-like sounds classified on the box (YAMNet); no sound ever leaves"
                  if cfg.audio.enabled else "no microphone is used"},
        "clips": {"enabled": clips, "anonymize": cfg.clips.anonymize if clips else None,
                  "hub": urlsplit(cfg.upload.hub_url).hostname if cfg.upload else None},
        "broker": f"{cfg.broker.host}:{cfg.broker.port}",
        "leaves_the_box": leaves,
        "stays_on_the_box": ["raw video and audio (never stored beyond the "
                             f"{cfg.clips.pre_s:g} s in-memory pre-roll)",
                             "outbox of unsent messages (capped at "
                             f"{cfg.outbox.max_bytes // (1024 * 1024)} MiB)",
                             "egress ledger (hashes of everything sent)",
                             "the hub's false-alarm suppressions for this camera (rule, zone, "
                             "a rectangle of the frame, an expiry; replaced by each new set)"],
    }


def build(boxes: list[tuple[Path, BoxConfig]], hub: Any | None = None, db: Any | None = None,
          controller: str | None = None) -> dict[str, Any]:
    """The register as a JSON-able document."""
    from central.privacy.inventory import LEGAL_MAX_DAYS, retention_days

    cams = [camera_entry(p, c) for p, c in boxes]
    retention = None
    if hub is not None:
        retention = retention_days(db, hub.retention_days) if db is not None else hub.retention_days
    recipients = []
    if db is not None:
        counts = dict(db.execute("SELECT role, COUNT(*) FROM users WHERE disabled = 0 GROUP BY role"
                                 ).fetchall())
        clients = dict(db.execute("SELECT role, COUNT(*) FROM api_clients WHERE disabled = 0 "
                                  "GROUP BY role").fetchall())
        for role, sees in ROLE_SEES.items():
            recipients.append({"role": role, "people": counts.get(role, 0),
                               "machine_clients": clients.get(role, 0), "sees": sees})
    else:
        recipients = [{"role": r, "people": None, "machine_clients": None, "sees": s}
                      for r, s in ROLE_SEES.items()]
    return {
        "generated_at": utc_iso(time.time()), "controller": controller,
        "purpose": "detection of the predetermined events of French decree 2023-828 on video-"
                   "protection images, for the attention of CSU operators; a human decides",
        "legal_framework": "French law 2023-380 art. 10 and decree 2023-828; EU AI Act art. 5(1)(h): "
                           "no biometric identification, no face recognition",
        "sites": sorted({c["site"] for c in cams}),
        "cameras": cams,
        "retention": {"days": retention, "legal_max_days": LEGAL_MAX_DAYS,
                      "applies_to": "events and clips at the hub (statistics and the audit log "
                                    "are kept)"},
        "recipients": recipients,
        "data_flows": [
            "camera -> box (video over the local network; processed in memory)",
            "box -> MQTT broker -> hub ingest: event, health, stats, ledger messages under "
            "vigie/v1/<site>/<camera>/ (per-box credentials, schema-checked and ledgered)",
            "box -> hub HTTPS: anonymised clip upload for an event (device token, ledgered)",
            "hub -> people: web pages and API by role (every clip view, search and export audited)",
            "hub -> requester: subject-access exports (ZIP, others blurred; audited with a reason)",
        ],
    }


def render_html(doc: dict[str, Any]) -> str:
    from central.cli.privacy import render

    return render("privacy/register.html", doc=doc)
