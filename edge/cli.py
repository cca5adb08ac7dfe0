"""The ``vigie`` command line: models, edge agent, hub and demo."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from central.config import HubConfig
    from edge.config import BoxConfig

log = logging.getLogger("vigie")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages too.")
@click.version_option(package_name="vigie")
def main(verbose: bool) -> None:
    """Vigie: privacy-first video analytics. Only events leave the camera."""
    _setup_logging(verbose)


# -- models -------------------------------------------------------------------------------
@main.group()
def models() -> None:
    """Fetch and check the pinned model weights."""


@models.command("fetch")
@click.option("--mirror", type=click.Path(file_okay=False, path_type=Path),
              help="Directory to copy from (default $VIGIE_MODEL_MIRROR or ../shared/models).")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path),
              help="Model store (default $VIGIE_MODELS or ~/.cache/vigie/models).")
@click.option("--no-download", is_flag=True, help="Never download; use the mirror only.")
@click.argument("names", nargs=-1)
def models_fetch(mirror: Path | None, store: Path | None, no_download: bool, names: tuple[str, ...]) -> None:
    """Fill the model store and verify every file's sha256 (all models, or NAMES)."""
    from tqdm import tqdm

    from edge.modelstore import ModelStore, ModelStoreError, default_mirror

    mirror = mirror or default_mirror()
    try:
        ms = ModelStore(store)
        total = sum(len(ms.manifest.get(n).files) for n in names) if names else sum(
            len(s.files) for s in ms.manifest.models.values())
        with tqdm(total=total, unit="file", desc="models", disable=not sys.stderr.isatty()) as bar:
            done = ms.fetch(list(names) or None, mirror=mirror, allow_download=not no_download,
                            progress=lambda _p: bar.update(1))
    except ModelStoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(done)} model file(s) verified in {ms.root}"
               + (f" (mirror {mirror})" if mirror else ""))


@models.command("status")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path))
def models_status(store: Path | None) -> None:
    """List every manifest file and whether the store holds it intact."""
    from edge.modelstore import ModelStore

    ms = ModelStore(store)
    bad = 0
    for name, path, state in ms.status():
        bad += state != "ok"
        click.echo(f"{state:8} {name:32} {path}")
    if bad:
        raise click.ClickException(f"{bad} file(s) missing or corrupt; run `vigie models fetch`")


# -- edge -----------------------------------------------------------------------------------
@main.group()
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
    cfg = _load_box_config(config)
    click.echo(f"{config}: OK ({cfg.site}/{cfg.camera}, {len(cfg.zones)} zone(s), "
               f"{len(cfg.rules)} rule(s))")


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@edge.command("run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
def edge_run(config: Path) -> None:
    """Run the agent until the source ends or SIGTERM/Ctrl-C."""
    from edge.capture import SourceError
    from edge.detect import DetectorError
    from edge.modelstore import ModelStoreError
    from edge.pipeline import Agent

    cfg = _load_box_config(config)
    try:
        agent = Agent(cfg)
    except (ModelStoreError, DetectorError, SourceError) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    _stop_on_signals(stop)
    def _stopper() -> None:
        stop.wait()
        agent.stop()

    threading.Thread(target=_stopper, daemon=True).start()
    try:
        agent.run()
    finally:
        agent.shutdown()
    log.info("agent stopped; %d event message(s) produced", agent.events_emitted)


# -- hub ------------------------------------------------------------------------------------
@main.group()
def hub() -> None:
    """The central hub: ingest and the operators' web application."""


def _register_hub_people_commands() -> None:
    from central.cli import register

    register(hub)


_register_hub_people_commands()


def _load_hub_config(path: Path) -> HubConfig:
    from central.config import load
    from edge.config import ConfigError

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
    from central.ingest import Ingest

    cfg = _load_hub_config(config)
    stop = threading.Event()
    _stop_on_signals(stop)
    ingest = Ingest(cfg)
    ingest.start()
    stop.wait()
    ingest.stop()
    log.info("ingest stopped: %s", ingest.counts)


@hub.command("serve")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--port", type=int, help="Override the configured port.")
def hub_serve(config: Path, port: int | None) -> None:
    """Serve the operators' pages and the JSON API."""
    from werkzeug.serving import make_server

    from central import create_app

    cfg = _load_hub_config(config)
    app = create_app(cfg)
    server = make_server(cfg.bind, port or cfg.port, app, threaded=True)
    log.info("hub serving on http://%s:%d/", cfg.bind, server.server_port)
    stop = threading.Event()
    _stop_on_signals(stop)
    def _stopper() -> None:
        stop.wait()
        server.shutdown()

    threading.Thread(target=_stopper, daemon=True).start()
    server.serve_forever()


# -- demo -----------------------------------------------------------------------------------
@main.command()
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path),
              help="Video to loop (default ../shared/media/video/one-by-one-person-detection.mp4).")
@click.option("--port", type=int, default=8080, show_default=True, help="Hub HTTP port.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".demo"),
              show_default=True, help="Where the demo keeps its configs, data and logs.")
def demo(video: Path | None, port: int, workdir: Path) -> None:
    """Start a broker, the hub and one edge agent on a sample video; Ctrl-C stops all."""
    from central.demo import DemoError, run_demo

    try:
        run_demo(video, port, workdir)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
