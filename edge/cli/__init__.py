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


@models.command("quantize")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path))
@click.option("--model", default="yolox-nano", show_default=True, help="YOLOX model to quantize.")
@click.option("--frames", "frames_per_video", type=click.IntRange(1, 10000), default=30, show_default=True,
              help="Calibration frames sampled from each video.")
@click.option("--backend", "backends", multiple=True, type=click.Choice(["onnxruntime", "openvino"]),
              help="Build for this runtime only (repeatable; default both). The INT8 ONNX for "
                   "onnxruntime is always built: the OpenVINO IR is converted from it.")
@click.option("--quantize-head", is_flag=True, help="Quantize the detection head too (less accurate).")
@click.argument("videos", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def models_quantize(store: Path | None, model: str, frames_per_video: int, backends: tuple[str, ...],
                    quantize_head: bool, videos: tuple[Path, ...]) -> None:
    """Build INT8 models calibrated on frames of VIDEOS and register them in the store."""
    from edge.modelstore import ModelStore, ModelStoreError
    from edge.tools.frames import MediaError
    from edge.tools.quantize import QuantizeError, quantize_yolox

    try:
        ms = ModelStore(store)
        built = quantize_yolox(ms, list(videos), frames_per_video, model,
                               list(backends) or ["onnxruntime", "openvino"], not quantize_head)
    except (QuantizeError, ModelStoreError, MediaError) as exc:
        raise click.ClickException(str(exc)) from None
    for d in built:
        click.echo(f"{d.name:28} {d.backend:12} {d.sha256}  {d.files[0]}")


@models.command("eval")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path))
@click.option("--frames", "frames_per_video", type=click.IntRange(1, 10000), default=20, show_default=True,
              help="Frames sampled from each video for the agreement score.")
@click.option("--runs", type=click.IntRange(3, 10000), default=30, show_default=True,
              help="Timed detections per pair for the latency percentiles.")
@click.option("--threads", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--skip", type=click.IntRange(0), default=1, show_default=True,
              help="Offset of the sampled video frames (quantize samples at offset 0: this keeps "
                   "evaluation frames apart from calibration frames).")
@click.argument("media", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def models_eval(store: Path | None, frames_per_video: int, runs: int, threads: int, skip: int,
                media: tuple[Path, ...]) -> None:
    """Latency and agreement with FP32 YOLOX-nano of every detector x backend, as a markdown table."""
    from edge.detect import DetectorError
    from edge.modelstore import ModelStore, ModelStoreError
    from edge.tools.detector_eval import evaluate_all, markdown_table
    from edge.tools.frames import MediaError

    try:
        rows = evaluate_all(ModelStore(store), list(media), frames_per_video, runs, threads, skip=skip)
    except (DetectorError, ModelStoreError, MediaError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(markdown_table(rows))


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
    from edge.wire.keys import KeyFileError

    cfg = _load_box_config(config)
    try:
        agent = Agent(cfg)
    except (ModelStoreError, DetectorError, SourceError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    _stop_on_signals(stop)
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


# -- hub ------------------------------------------------------------------------------------
@main.group()
def hub() -> None:
    """The central hub: ingest and the operators' web application."""


def _register_hub_people_commands() -> None:
    try:  # importing the central package needs Flask: absent on a box (no `hub` extra)
        from central.cli.users import register
    except ModuleNotFoundError as exc:
        log.debug("hub commands unavailable (%s); install vigie[hub] for them", exc)
        return
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
    from central.ingest.subscriber import Ingest

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
    """Serve the operators' pages and the JSON API (waitress: timeouts and a body limit)."""
    from central import create_app
    from central.privacy.retention import PurgeJob
    from central.web.server import HubServer

    cfg = _load_hub_config(config)
    app = create_app(cfg)
    server = HubServer(app, cfg, port=port)
    PurgeJob(cfg.database, cfg.clips.dir, cfg.retention_days).start()  # hourly retention purge
    stop = threading.Event()
    _stop_on_signals(stop)

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

    cfg = _load_hub_config(config)
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


# -- demo -----------------------------------------------------------------------------------
@main.command()
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


# -- audio ----------------------------------------------------------------------------------
@main.group()
def audio() -> None:
    """Gunshot detection (off by default; needs a legal basis in the box config)."""


@audio.command("eval")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--other", "other_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Recordings without shots, for false alarms (default DIRECTORY/../other).")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path),
              help="Model store (default $VIGIE_MODELS or ~/.cache/vigie/models).")
@click.option("--no-gate", is_flag=True, help="Run YAMNet on every window (no impulse gate).")
@click.option("--cv/--no-cv", default=True, show_default=True,
              help="Also cross-validate pooling and threshold, leaving one firing position out.")
def audio_eval(directory: Path, other_dir: Path | None, store: Path | None, no_gate: bool, cv: bool) -> None:
    """Run the detector over DIRECTORY/labels.csv and print a markdown table."""
    from edge.audio.classifier import ClassifierError, Yamnet
    from edge.audio.detector import GunshotDetector
    from edge.audio.listener import burst_params
    from edge.audio.source import AudioSourceError
    from edge.config import AudioConfig
    from edge.modelstore import ModelStore, ModelStoreError
    from edge.tools.audio_eval import EvalError, cross_validate, evaluate_dirs, table

    cfg = AudioConfig()
    try:
        yamnet = Yamnet(ModelStore(store), threads=cfg.threads)
        gate = None if no_gate else cfg.gate_rise_db
        recs, others = evaluate_dirs(directory, other_dir, lambda: GunshotDetector(yamnet, gate))
    except (ModelStoreError, ClassifierError, AudioSourceError, EvalError) as exc:
        raise click.ClickException(str(exc)) from None
    from edge.tools.audio_eval import summarise

    params = burst_params(cfg)
    click.echo(table(summarise(recs, others, params),
                     f"{len(recs)} recordings in {directory}, {len(others)} other; pooling "
                     f"{params.pooling} >= {params.threshold}, gate "
                     f"{'off' if gate is None else f'{gate} dB'}"))
    if cv:
        click.echo("")
        click.echo("**Leave-one-firing-position-out** (pooling and threshold chosen on the other "
                   "positions)")
        click.echo("")
        click.echo(cross_validate(recs, others, cfg.refractory_s))



# -- load simulator ------------------------------------------------------------
@main.command("sim")
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


# -- forensic search ------------------------------------------------------------
@hub.command("keygen")
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
def hub_keygen(config: Path) -> None:
    """Make the hub's Ed25519 signing key (at the config's signing_key, mode 600) once and
    print its public key, to install on each box with `vigie edge enrol CONFIG --hub-key KEY`."""
    from edge.wire.keys import KeyFileError, generate_private, public_text

    cfg = _load_hub_config(config)
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


# -- box-local index: vehicle colour ------------------------------------
def _index_group() -> click.Group:
    """The ``vigie index`` group, made once whichever issue's commands register first."""
    existing = main.commands.get("index")
    if isinstance(existing, click.Group):
        return existing

    @main.group("index")
    def index_group() -> None:
        """The box-local track index: forensic search without moving video."""

    return index_group


@_index_group().command("eval-colour")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Labels CSV (source, frame, x1, y1, x2, y2, colour, vehicle); default "
                   "tests/data/colour_labels.csv of the checkout.")
@click.option("--media", type=click.Path(file_okay=False, path_type=Path),
              help="Directory the labels' sources are under (default $VIGIE_MEDIA or ../shared/media).")
@click.option("--cv/--no-cv", default=True, show_default=True,
              help="Also cross-validate the thresholds (leave one vehicle / one source out).")
@click.option("--sheets", type=click.Path(file_okay=False, path_type=Path),
              help="Also write numbered contact sheets of the crops (label / predicted) here.")
def index_eval_colour(labels_path: Path | None, media: Path | None, cv: bool, sheets: Path | None) -> None:
    """Confusion matrix and accuracy of the vehicle colour classifier on crops labelled by eye."""
    from edge.search.colour import DEFAULT_PARAMS, ColourError
    from edge.tools.colour_eval import (
        DEFAULT_LABELS,
        ColourEvalError,
        Evaluation,
        choose_params,
        confusion_table,
        contact_sheets,
        cross_validate,
        cut_crops,
        default_media,
        folds_table,
        load_labels,
        predict,
        prediction_table,
        track_rows,
        tracks_table,
    )

    labels_path = labels_path or DEFAULT_LABELS
    media = media or default_media()
    try:
        labels = load_labels(labels_path)
        crops = cut_crops(labels, media)
        ev = Evaluation(tuple(lab.colour for lab in labels), tuple(predict(crops)))
    except (ColourEvalError, ColourError) as exc:
        raise click.ClickException(str(exc)) from None
    vehicles = len({lab.vehicle for lab in labels})
    sources = len({lab.source for lab in labels})
    click.echo(confusion_table(ev, f"{len(labels)} crops of {vehicles} vehicles from {sources} "
                                   f"sources in {media}; the box's thresholds"))
    if sheets:
        captions = [lab.colour if lab.colour == got else f"{lab.colour} / {got}"
                    for lab, got in zip(labels, ev.predicted, strict=True)]
        paths = contact_sheets(crops, captions, sheets)
        click.echo(f"\n{len(paths)} contact sheet(s) in {sheets} (caption: label, or label / predicted)")
    if not cv:
        return
    table = prediction_table(crops)
    by_vehicle = None
    for by in ("vehicle", "source"):
        result = cross_validate(crops, labels, by, table=table)
        by_vehicle = by_vehicle or result
        click.echo("")
        click.echo(confusion_table(result.evaluation, f"Held out one {by} at a time (thresholds "
                                                      f"chosen on the others)"))
        click.echo("")
        click.echo(folds_table(result))
    click.echo("")
    click.echo("**Track colour** (what the index stores: the dominant colour of all the "
               "vehicle's crops)")
    click.echo("")
    click.echo(tracks_table(track_rows(crops, labels, by_vehicle)))
    best, score = choose_params(crops, labels, table=table)
    same = all(getattr(best, k) == getattr(DEFAULT_PARAMS, k) for k in best.__dataclass_fields__)
    click.echo("")
    click.echo(f"thresholds chosen on all labels (vehicle-balanced accuracy {score:.3f}) "
               f"{'are' if same else 'differ from'} the box's defaults")
# -- privacy officer tools --------------------------------------------------------
def _register_privacy_commands() -> None:
    from edge.cli.ledger import ledger_group

    edge.add_command(ledger_group)  # `vigie edge ledger export`: on the box
    try:  # the hub's side needs Flask: absent on a box (no `hub` extra)
        from central.cli.privacy import enrol_box, privacy
    except ModuleNotFoundError as exc:
        log.debug("privacy officer commands unavailable (%s); install vigie[hub] for them", exc)
        return
    hub.add_command(enrol_box)
    main.add_command(privacy)


_register_privacy_commands()
