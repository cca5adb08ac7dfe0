"""``vigie index ...``: the box-local track index (vehicle colour evaluation)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("index")
def index() -> None:
    """The box-local track index: forensic search without moving video."""


@index.command("eval-colour")
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
        cross_validate,
        cut_crops,
        default_media,
        load_labels,
        predict,
        prediction_table,
        track_rows,
    )
    from edge.tools.colour_report import confusion_table, contact_sheets, folds_table, tracks_table

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
