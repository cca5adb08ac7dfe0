"""``vigie hub ingest|serve|purge|keygen``: the central hub's processes and its signing key."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from edge.wire.vitals import stop_on_signals

if TYPE_CHECKING:
    from central.config import HubConfig

log = logging.getLogger("vigie")


@click.group()
def hub() -> None:
    """The central hub: ingest and the operators' web application."""



def load_hub_config(path: Path) -> HubConfig:
    """The hub's config; a bad or unreadable file is a clear CLI error."""
    from central.config import load
    from edge.wire.tomlconf import ConfigError

    try:
        return load(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None


@hub.command("ingest")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
def hub_ingest(config: Path) -> None:
    """Subscribe to every box and store what validates."""
    from central.ingest.subscriber import Ingest

    cfg = load_hub_config(config)
    stop = threading.Event()
    stop_on_signals(stop, log)
    ingest = Ingest(cfg)
    ingest.start()
    stop.wait()
    ingest.stop()
    log.info("ingest stopped: %s", ingest.counts)


@hub.command("serve")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--port", type=int, help="Override the configured port.")
def hub_serve(config: Path, port: int | None) -> None:
    """Serve the operators' pages and the JSON API (waitress: timeouts and a body limit)."""
    from central import create_app
    from central.privacy.retention import PurgeJob
    from central.triage import EscalationJob
    from central.web.server import HubServer

    cfg = load_hub_config(config)
    app = create_app(cfg)
    server = HubServer(app, cfg, port=port)
    PurgeJob(cfg.database, cfg.clips.dir, cfg.retention_days).start()  # hourly retention purge
    EscalationJob(cfg.database, cfg.alerts.escalate_after_s).start()  # unacknowledged criticals
    stop = threading.Event()
    stop_on_signals(stop, log)

    def _stopper() -> None:
        stop.wait()
        server.shutdown()

    threading.Thread(target=_stopper, daemon=True).start()
    server.serve_forever()


@hub.command("purge")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def hub_purge(config: Path, dry_run: bool) -> None:
    """Delete events and clips older than the configured retention_days."""
    from central import db as hubdb
    from central.privacy.retention import purge

    cfg = load_hub_config(config)
    from central.privacy.inventory import retention_days

    db = hubdb.connect(cfg.database)
    try:
        days = retention_days(db, cfg.retention_days)  # the privacy officer's setting, if any
        report = purge(db, cfg.clips.dir, days, dry_run=dry_run)
    finally:
        db.conn.close()
    verb = "would delete" if dry_run else "deleted"
    for eid in report.events:
        click.echo(f"{verb} event {eid}")
    for f in report.files:
        click.echo(f"{verb} clip {f}")
    click.echo(f"{verb} {len(report.events)} event(s) and {len(report.clips)} clip(s) "
               f"started before {report.cutoff} (retention {days} days)")


@hub.command("keygen")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
def hub_keygen(config: Path) -> None:
    """Make the hub's Ed25519 signing key (at the config's signing_key, mode 600) once and
    print its public key, to install on each box with `vigie edge enrol CONFIG --hub-key KEY`."""
    from edge.wire.keys import KeyFileError, generate_private, public_text

    cfg = load_hub_config(config)
    if cfg.signing_key is None:
        raise click.ClickException(
            f"{config} sets no signing_key; add e.g. signing_key = \"hub.ed25519\" (a path, "
            "relative to the config file) and run this again")
    try:
        key = generate_private(cfg.signing_key)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {cfg.signing_key}: {exc.strerror}") from None
    click.echo(public_text(key))
