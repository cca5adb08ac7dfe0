"""``vigie edge ...``: the agent on a camera's box (check its config, enrol, run, replay, calibrate,
and the zone editor ``setup``)."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from edge.cli.ledger import ledger_group
from edge.cli.stores import stores
from edge.wire.vitals import stop_on_signals

if TYPE_CHECKING:
    from edge.config import BoxConfig

log = logging.getLogger("vigie")


@click.group()
def edge() -> None:
    """The agent that runs on a camera's box."""



def _load_box_config(path: Path) -> BoxConfig:
    from edge.config import ConfigError, load

    try:
        return load(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@edge.command("check-config")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def edge_check_config(config: Path) -> None:
    """Validate a box config; print every mistake with its line and exit non-zero."""
    from edge.config import check_report

    ok, report = check_report(config)
    if not ok:
        raise click.ClickException(report)
    click.echo(report)


@edge.command("enrol")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--hub-key", "hub_key", metavar="KEY|FILE",
              help="The hub's public key (ed25519:<base64>, or a file holding it) to install.")
def edge_enrol(config: Path, hub_key: str | None) -> None:
    """Make this box's Ed25519 key (once) and print its public key for the hub.

    Idempotent: an existing key is kept and its public key printed again. With --hub-key,
    the hub's public key is installed too (it checks search requests and config updates).
    """
    from edge.wire import keys

    cfg = _load_box_config(config)
    kdir = keys.keys_dir(cfg.data_dir)
    key_path = kdir / keys.BOX_KEY
    try:
        key, made = keys.load_or_generate(key_path)
        log.info("made a new Ed25519 key at %s (mode 600)" if made else "keeping the existing key %s",
                 key_path)
        if hub_key is not None:
            text = Path(hub_key).read_text(encoding="ascii") if Path(hub_key).is_file() else hub_key
            keys.write_public(kdir / keys.HUB_PUBLIC_KEY, text)
            log.info("installed the hub's public key at %s", kdir / keys.HUB_PUBLIC_KEY)
    except keys.KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{cfg.site}/{cfg.camera} {keys.public_text(key)}")



@edge.command("run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def edge_run(config: Path) -> None:
    """Run the agent until the source ends or SIGTERM/Ctrl-C."""
    from edge.capture import SourceError
    from edge.detect import DetectorError
    from edge.modelstore import ModelStoreError
    from edge.pipeline import Agent
    from edge.wire.keys import KeyFileError

    cfg = _load_box_config(config)
    try:
        agent = Agent(cfg)
    except (ModelStoreError, DetectorError, SourceError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    stop_on_signals(stop, log)
    def _stopper() -> None:
        stop.wait()
        agent.stop()

    threading.Thread(target=_stopper, daemon=True).start()
    from edge.sdnotify import Watchdog  # systemd's READY=1 and watchdog (no-op outside systemd)

    watchdog = Watchdog(lambda: agent.stats.frames_processed, lambda: not agent.source.connected)
    watchdog.start()
    try:
        agent.run()
    finally:
        watchdog.stop()
        agent.shutdown()
    log.info("agent stopped; %d event message(s) produced", agent.events_emitted)


@edge.command("replay")
@click.argument("video", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The camera's box config (zones, lines, rules, detector).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Annotated video to write (.mp4): zones, lines, tracks, open events.")
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop after this many frames.")
def edge_replay(video: Path, config: Path, out: Path | None, max_frames: int | None) -> None:
    """Run the box pipeline on VIDEO; print events (JSON lines) on stdout, draw them on --out."""
    import json

    from tqdm import tqdm

    from edge.detect import DetectorError
    from edge.modelstore import ModelStoreError
    from edge.tools.replay import ReplayError, frame_count, replay

    cfg = _load_box_config(config)
    total = frame_count(video) if video.is_file() else 0
    if max_frames:
        total = min(total, max_frames) if total else max_frames
    try:
        with tqdm(total=total or None, unit="frame", desc="replay", file=sys.stderr, mininterval=1) as bar:
            result = replay(cfg, video, out, lambda m: click.echo(json.dumps(m, separators=(",", ":"))),
                            progress=bar.update, max_frames=max_frames)
    except (ReplayError, ModelStoreError, DetectorError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{result.frames} frame(s), {result.events} event message(s)"
               + (f"; annotated video {out}" if out else ""), err=True)


@edge.command("calibrate")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--snapshot", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PNG to write: a current frame with zones, lines and a 1 m ground grid.")
def edge_calibrate(config: Path, snapshot: Path) -> None:
    """Draw the config's zones, lines and metric grid over a current frame of its camera."""
    import cv2

    from edge.capture import SourceError, VideoSource
    from edge.tools.annotate import calibration_snapshot

    cfg = _load_box_config(config)
    try:
        source = VideoSource(cfg.source.model_copy(update={"realtime": False, "loop": False})
                             if cfg.source.url and "://" not in cfg.source.url else cfg.source)
        frame = next(iter(source.frames()), None)
        source.stop()
    except (SourceError, OSError) as exc:
        where = cfg.source.url or cfg.source.device
        raise click.ClickException(f"cannot read a frame from {where}: {exc}") from None
    if frame is None:
        raise click.ClickException(f"the source {source.name} gave no frame")
    img = frame.image.copy()
    for note in calibration_snapshot(img, cfg):
        click.echo(note)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(snapshot), img):
        raise click.ClickException(f"cannot write {snapshot} (use a .png name in a writable folder)")
    click.echo(f"snapshot written to {snapshot}")


@edge.command("setup")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --allow-remote-bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--idle-timeout", "idle_s", default=900.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds without a request after which the editor stops by itself.")
@click.option("--lang", type=click.Choice(["fr", "en"]),
              help="Language of the page (default: the browser's, French first).")
@click.option("--keep", "keep_s", default=30.0, show_default=True, type=click.FloatRange(1, 300),
              help="Seconds of recent frames kept in memory for the loop and \"try it\".")
@click.option("--ssh-target", default="tech@box", show_default=True,
              help="user@host shown in the printed SSH tunnel command.")
@click.option("--allow-remote-bind", is_flag=True,
              help="Allow a non-loopback --host (the page shows raw video: avoid).")
def edge_setup(config: Path, host: str, port: int, idle_s: float, lang: str | None, keep_s: float,
               ssh_target: str, allow_remote_bind: bool) -> None:
    """Serve the zone editor of CONFIG on loopback (reach it through an SSH tunnel).

    Draw zones, lines, directions, privacy masks and calibration points on the camera's frames,
    attach rules, try the unsaved config on recent frames, and save (the previous file is kept
    as CONFIG.prev; comments are kept). Prints a one-time token; stops after --idle-timeout.
    """
    from edge.setup.server import BindRefused, Options, serve
    from edge.wire.tomlconf import ConfigError

    stop = threading.Event()
    stop_on_signals(stop, log)
    opts = Options(config, host, port, idle_s, lang, keep_s, allow_remote_bind, ssh_target)
    try:
        serve(opts, stop, echo=lambda s: click.echo(s, err=False))
    except (BindRefused, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


edge.add_command(ledger_group)  # `vigie edge ledger export`: on the box
edge.add_command(stores)  # `vigie edge stores`: what the box keeps, for the privacy officer
