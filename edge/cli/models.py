"""``vigie models ...``: fetch, check, quantize and evaluate the pinned model weights."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
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

