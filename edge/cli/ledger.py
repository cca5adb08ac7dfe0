"""``vigie edge ledger ...``: the box's egress ledger for an on-site inspection."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

log = logging.getLogger(__name__)


@click.group("ledger")
def ledger_group() -> None:
    """The box's egress ledger (what left the box, by hash)."""


@ledger_group.command("export")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSON-lines file to write (the ledger entries, unchanged).")
def ledger_export(config: Path, output: Path) -> None:
    """Copy this box's ledger to OUTPUT and say whether its chain holds.

    Check the file at the hub with ``vigie privacy verify --ledger OUTPUT``.
    """
    from edge.config import ConfigError, load
    from edge.outbound.ledger import LedgerError, verify_chain

    try:
        cfg = load(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    src = cfg.data_dir / "egress-ledger.jsonl"
    try:
        data = src.read_bytes()
    except FileNotFoundError:
        raise click.ClickException(f"no ledger at {src}: this box has sent nothing yet") from None
    except OSError as exc:
        raise click.ClickException(f"cannot read {src}: {exc.strerror}") from None
    complete = data[: data.rfind(b"\n") + 1]  # never a torn last line
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_bytes(complete)
    os.replace(tmp, output)
    lines = [ln for ln in complete.splitlines() if ln.strip()]
    from edge.outbound.digests import MAX_LINE_BYTES
    from edge.wire.ledger_entries import LedgerEntry
    from edge.wire.messages import parse_json

    try:
        entries = [LedgerEntry(**parse_json(ln, max_bytes=MAX_LINE_BYTES)) for ln in lines]
        verify_chain(entries)
        verdict = "chain intact"
    except (LedgerError, ValueError, TypeError) as exc:
        verdict = f"CHAIN BROKEN: {exc}"
    click.echo(f"{cfg.site}/{cfg.camera}: {len(lines)} entr{'y' if len(lines) == 1 else 'ies'} "
               f"written to {output} ({verdict})")
