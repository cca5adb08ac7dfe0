"""``vigie audio ...``: gunshot detection tools."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
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
    from edge.config_wings import AudioConfig
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
