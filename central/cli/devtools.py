"""``vigie demo`` and ``vigie sim``: the one-machine demo and the load simulator (developer tools)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path),
              help="Video to loop (default ../shared/media/video/one-by-one-person-detection.mp4).")
@click.option("--port", type=int, default=8080, show_default=True, help="Hub HTTP port.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path(".demo"),
              show_default=True, help="Where the demo keeps its configs, data and logs.")
def demo(video: Path | None, port: int, workdir: Path) -> None:
    """Start a broker, the hub and one edge agent on a sample video; Ctrl-C stops all."""
    from central.devtools.demo import DemoError, run_demo

    try:
        run_demo(video, port, workdir)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None



@click.command("sim")
@click.option("--cameras", type=click.IntRange(min=1), required=True, help="Simulated boxes.")
@click.option("--event-rate", type=click.FloatRange(min=0), default=0.1, show_default=True,
              help="Events per camera per second.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds to run.")
@click.option("--broker", "broker_addr", default="127.0.0.1:1883", show_default=True,
              help="host:port of the MQTT broker.")
@click.option("--site", default="sim", show_default=True, help="Site name in the topics.")
@click.option("--keys-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write each simulated box's public key (site/camera ed25519:...) here first.")
def sim(cameras: int, event_rate: float, duration: float, broker_addr: str, site: str,
        keys_out: Path | None = None) -> None:
    """Publish realistic contract traffic as CAMERAS distinct boxes through a real broker."""
    import re

    from central.devtools.sim import SimSettings, Simulator
    from edge.wire.messages import NAME_PATTERN

    host, _, port_text = broker_addr.rpartition(":")
    if not host or not port_text.isdigit():
        raise click.BadParameter(f"expected host:port, got {broker_addr!r}", param_hint="--broker")
    if not re.match(NAME_PATTERN, site):
        raise click.BadParameter(f"{site!r} does not match {NAME_PATTERN}", param_hint="--site")
    settings = SimSettings(cameras=cameras, event_rate=event_rate, duration_s=duration,
                           host=host, port=int(port_text), site=site)
    simulator = Simulator(settings)
    if keys_out is not None:
        keys_out.write_text("".join(f"{k} {v}\n" for k, v in simulator.public_keys().items()))
    try:
        report = simulator.run()
    except ConnectionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"cameras {report.connected}/{report.cameras} connected, published "
               f"{report.published}, acked {report.acked}, failed {report.failed}, "
               f"{report.elapsed_s} s, reconnects {report.reconnects}")
    if report.failed or report.connected < report.cameras:
        sys.exit(1)
