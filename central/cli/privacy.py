"""``vigie hub enrol-box`` and ``vigie privacy ...``: the privacy officer's command line."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

log = logging.getLogger(__name__)

HUB_CONFIG = click.option(
    "--config", "config", required=True, envvar="VIGIE_HUB_CONFIG", show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path), help="The hub's TOML config.")


LANGUAGE = click.option(
    "--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True,
    help="The report's language.")


def _hub(config: Path) -> tuple[Any, Any]:
    from central.cli.users import open_hub

    return open_hub(config)


@click.command("enrol-box")
@HUB_CONFIG
@click.option("--site", required=True, help="The box's site.")
@click.option("--camera", required=True, help="The box's camera.")
@click.option("--public-key", "public_key", required=True,
              help="The box's public key as `vigie edge enrol` printed it (ed25519:<base64>).")
def enrol_box(config: Path, site: str, camera: str, public_key: str) -> None:
    """Register a box's public key: its ledger digests are then verified against it."""
    from central import audit
    from central.ingest.receipts import EnrolError, enrol_device

    _, db = _hub(config)
    try:
        changed = enrol_device(db, site, camera, public_key, "cli")
    except EnrolError as exc:
        raise click.ClickException(str(exc)) from None
    if changed:
        audit.record(db, "cli", "device.enrol", f"{site}/{camera}", public_key.strip())
    click.echo(f"{site}/{camera} {'registered' if changed else 'already registered'} "
               f"with {public_key.strip()}")


@click.group("privacy")
def privacy() -> None:
    """Privacy officer tools: egress verification, processing register."""


def parse_since(text: str | None) -> float | None:
    """``2026-11-24``, ``2026-11-24T10:00:00Z`` or a duration such as ``2h`` / ``3d``."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(text[:-1]) * units[text[-1]]
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r}: give an ISO date/time (UTC) or a duration like 2h, 3d",
                                 param_hint="--since") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def read_export(path: Path) -> list[dict[str, Any]]:
    """The entries of a ledger exported by ``vigie edge ledger export``."""
    out: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise click.ClickException(f"{path} line {n} is not JSON: is it a ledger export?") from None
        if not isinstance(entry, dict):
            raise click.ClickException(f"{path} line {n} is not a ledger entry")
        out.append(entry)
    return out


def export_camera(entries: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The site/camera an exported ledger belongs to (from its MQTT destinations)."""
    from edge.wire.messages import MessageError, parse_topic

    for e in entries:
        if e.get("kind") == "mqtt":
            try:
                t = parse_topic(str(e.get("dest")))
            except MessageError:
                continue
            return t.site, t.camera
    return None


@privacy.command("verify")
@HUB_CONFIG
@click.option("--camera", help="Only this camera (`camera` or `site/camera`).")
@click.option("--since", help="From this UTC date/time, or for the last 2h / 3d ...")
@click.option("--ledger", "ledger_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A ledger exported on a box (`vigie edge ledger export`) to check as well.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("privacy-report"), show_default=True,
              help="Folder for report.json and report.html.")
@click.option("--alerts/--no-alerts", default=True, show_default=True,
              help="Also raise privacy alerts for what is found.")
@LANGUAGE
def verify_cmd(config: Path, camera: str | None, since: str | None, ledger_file: Path | None,
               out_dir: Path, alerts: bool, language: str) -> None:
    """Verify the egress of every camera (or one) and write an HTML and a JSON report.

    Exit status 1 when anything is found.
    """
    from central import audit
    from central.privacy.egress_verify import raise_alerts, verify_all, verify_camera

    cfg, db = _hub(config)
    t0 = parse_since(since)
    grace = cfg.privacy.grace_s
    if ledger_file is not None:
        entries = read_export(ledger_file)
        who = export_camera(entries)
        if who is None:
            raise click.ClickException(f"{ledger_file} names no camera (no MQTT entry)")
        if camera and camera not in (who[1], f"{who[0]}/{who[1]}"):
            raise click.ClickException(f"{ledger_file} is the ledger of {who[0]}/{who[1]}, not {camera}")
        reports = [verify_camera(db, who[0], who[1], grace, since=t0, exported=entries)]
    else:
        reports = verify_all(db, grace, since=t0, camera=camera)
    if camera and not reports:
        raise click.ClickException(f"the hub knows no camera {camera!r}")
    findings = [f for r in reports for f in r.findings]
    if alerts:
        raise_alerts(db, findings)
    audit.record(db, "cli", "privacy.verify", camera or "all",
                 f"since {since or 'the start'}; {len(findings)} finding(s)"
                 + (f"; ledger {ledger_file.name}" if ledger_file else ""))
    doc = {"generated_at": _iso(time.time()), "since": _iso(t0) if t0 else None,
           "ledger_file": str(ledger_file) if ledger_file else None, "grace_s": grace,
           "cameras": [r.as_dict() for r in reports]}
    doc["language"] = language
    write_report(out_dir, "report", doc, "privacy/verify_report.html", language)
    from central.i18n import label, translator

    _ = translator(language)
    for r in reports:
        click.echo(_("%(camera)s: %(status)s (%(digests)d digest(s), %(entries)d ledger "
                     "entries, %(receipts)d receipt(s), %(findings)d finding(s))") % {
            "camera": f"{r.site}/{r.camera}", "status": label("egress_status", r.status, _),
            "digests": r.digests, "entries": r.entries, "receipts": r.receipts,
            "findings": len(r.findings)})
        for f in r.findings:
            click.echo(f"  seq {f.seq}: {f.kind}: {f.detail}")
    click.echo(_("report written to %(html)s and %(json)s") % {
        "html": out_dir / "report.html", "json": out_dir / "report.json"})
    if findings:
        raise SystemExit(1)


def _iso(ts: float) -> str:
    from edge.wire.messages import utc_iso

    return utc_iso(ts)


def render(template: str, language: str = "fr", **ctx: Any) -> str:
    """Render one of the hub's templates outside a request (CLI documents), in ``language``."""
    import jinja2

    from central.i18n import DEFAULT_TIMEZONE, label, translations, translator, when

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "web" / "templates"),
        autoescape=jinja2.select_autoescape(["html"]), extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    gettext = translator(language)
    env.filters["when"] = lambda v, fmt="short": when(v, language, DEFAULT_TIMEZONE, fmt)
    env.filters["label"] = lambda v, kind: label(kind, v, gettext)
    return env.get_template(template).render(language=language, **ctx)


def write_report(out_dir: Path, stem: str, doc: dict[str, Any], template: str,
                 language: str = "fr") -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in ((f"{stem}.json", json.dumps(doc, indent=2, ensure_ascii=False)),
                       (f"{stem}.html", render(template, language, doc=doc))):
        tmp = out_dir / (name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out_dir / name)


@privacy.command("register")
@click.option("--box-config", "box_configs", multiple=True, required=True,
              type=click.Path(path_type=Path),
              help="A box's TOML config, or a folder of them (repeatable); e.g. what Ansible "
                   "renders for its inventory.")
@click.option("--config", "config", envvar="VIGIE_HUB_CONFIG", show_envvar=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The hub's TOML config: retention in force, recipients by role, controller.")
@click.option("--controller",
              help="The data controller's name (default: [controller] name of the hub config).")
@LANGUAGE
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("privacy-register"), show_default=True,
              help="Folder for register.html and register.json.")
def register_cmd(box_configs: tuple[Path, ...], config: Path | None, controller: str | None,
                 language: str, out_dir: Path) -> None:
    """Write the processing register (HTML and JSON) from what runs: the hub's tables, the
    boxes' stores, the messages, roles and machine clients, and the live box configuration."""
    from central import audit
    from central.i18n import translator
    from central.privacy.register import RegisterError, build, load_boxes

    _ = translator(language)
    try:
        boxes = load_boxes(list(box_configs))
    except RegisterError as exc:
        raise click.ClickException(str(exc)) from None
    hub = db = None
    if config is not None:
        hub, db = _hub(config)
    doc = build(boxes, hub, db, controller, language)
    write_report(out_dir, "register", doc, "privacy/register.html", language)
    if db is not None:
        audit.record(db, "cli", "privacy.register", "register",
                     f"{len(doc['cameras'])} camera(s) from {len(boxes)} config file(s)")
    for p in doc["processings"]:
        if not p["described"]:
            click.echo(_("warning: %(where)s %(name)s is not described in the register")
                       % {"where": p["where"], "name": p["name"]}, err=True)
    n_rules = sum(len(c["rules"]) for c in doc["cameras"])
    click.echo(_("register of %(cameras)d camera(s) on %(sites)d site(s), %(rules)d rule(s), "
                 "%(items)d processing(s) described: %(html)s, %(json)s") % {
        "cameras": len(doc["cameras"]), "sites": len(doc["sites"]), "rules": n_rules,
        "items": sum(1 for p in doc["processings"] if p["described"]),
        "html": out_dir / "register.html", "json": out_dir / "register.json"})


@privacy.command("access-export")
@HUB_CONFIG
@click.argument("event_id")
@click.option("--frame", type=click.IntRange(min=0), required=True,
              help="The frame on which the requester is marked.")
@click.option("--point", help="A point on the requester, x,y in fractions of the frame: the person "
                              "box holding it is taken.")
@click.option("--box", help="Or the requester's box x,y,w,h in fractions of the frame.")
@click.option("--reason", required=True, help="The request this export answers (audited).")
@click.option("--models", "models_dir", envvar="VIGIE_MODELS", show_envvar=True,
              type=click.Path(file_okay=False, path_type=Path), help="The model store.")
@LANGUAGE
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The ZIP to write.")
def access_export_cmd(config: Path, event_id: str, frame: int, point: str | None, box: str | None,
                      reason: str, models_dir: Path | None, language: str, out_file: Path) -> None:
    """Export one clip for a subject-access request: the requester kept, everyone else obscured;
    says how long it will take, shows its progress, and prints the time it took."""
    from tqdm import tqdm

    from central import audit
    from central.i18n import translator
    from central.ingest.clipcheck import ClipLimits
    from central.ingest.clipstore import clip_path
    from central.privacy.inventory import retention_days
    from central.privacy.subject_access import AccessError, Mark, Redactor, frame_at, norm, package, person_at

    _ = translator(language)
    cfg, db = _hub(config)
    c = cfg.clips
    limits = ClipLimits(c.max_bytes, c.max_duration_s, c.max_width, c.max_height, c.max_fps)
    keys = ("id", "site", "camera", "type", "severity", "zone", "started_at", "ended_at")
    ev = db.execute(f"SELECT {', '.join(keys)} FROM events WHERE id = ?", [event_id]).fetchone()
    row = db.execute("SELECT sha256 FROM clips WHERE event_id = ?", [event_id]).fetchone()
    if ev is None or row is None:
        raise click.ClickException(f"no clip for event {event_id}")
    event, path = dict(zip(keys, ev, strict=True)), clip_path(Path(c.dir), row[0])
    red = Redactor(models_dir)
    try:
        at = frame_at(path, frame, limits)
        h, w = at.image.shape[:2]
        if point:
            x, y = (float(v) for v in point.split(","))
            found = person_at(red.persons(at.image), x, y, w, h)
            if found is None:
                raise click.ClickException(f"no person at {point} on frame {frame}")
            marked = norm(found, w, h) or []
        elif box:
            marked = [float(v) for v in box.split(",")]
        else:
            raise click.UsageError("give --point or --box")
        mark = Mark(frame, (marked[0], marked[1], marked[2], marked[3]))
        per_frame = red.measure(at.image)
        click.echo(_("Estimated time: about %(s)d s (%(frames)d frames at %(ms)d ms each, both "
                     "passes, measured on this hub).") % {
            "s": max(1, round(per_frame * at.frames)), "frames": at.frames,
            "ms": round(per_frame * 1000)})
        t0 = time.perf_counter()
        with tqdm(total=2 * at.frames, unit="img", desc="export", mininterval=0.5) as bar:
            rendered = red.render(path, mark, limits, progress=lambda d, _t: bar.update(d - bar.n))
    except (AccessError, ValueError, IndexError) as exc:
        raise click.ClickException(str(exc)) from None
    took = time.perf_counter() - t0
    data, manifest = package(event, row[0], rendered, mark, reason.strip(), "cli",
                             retention_days(db, cfg.retention_days), red.models, language)
    out_file.write_bytes(data)
    audit.record(db, "cli", "subject_access.export", event_id,
                 f"{reason.strip()} | frame {frame} box {list(mark.box)} | export "
                 f"{manifest['what']['export_sha256'][:16]}")
    click.echo(_("Done in %(s)s s.") % {"s": f"{took:.1f}"} + f" {rendered.frames} "
               f"frames, {rendered.frames / took:.1f} frames/s -> {out_file}")
