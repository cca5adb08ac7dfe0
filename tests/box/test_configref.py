"""The configuration reference: generated from the config models, committed, never stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from central.config import HubConfig
from edge.config import BoxConfig
from edge.tools.configref import describe, reference, sections

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "reference" / "configuration.md"


def test_committed_reference_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == reference(), (
        "docs/reference/configuration.md is stale: regenerate it with `make docs` "
        "(python -m edge.tools.configref -o docs/reference/configuration.md) and commit it")


def test_every_section_and_key_is_described() -> None:
    text = reference()
    for root in (BoxConfig, HubConfig):
        for sec in sections(root):
            if sec.header:
                assert f"### `{sec.header}" in text
            for name, field in sec.model.model_fields.items():
                if sec.note.startswith("type =") and name == "type":
                    continue  # in the heading
                assert f"| `{name}` |" in text
                assert describe(sec, name, field), f"{sec.header or 'top level'} {name} has no description"


def test_rows_carry_type_default_and_limits() -> None:
    text = reference()
    assert ("| `score_threshold` | number | `0.35` | > 0.0, < 1.0 | Detections scoring below this "
            "are dropped. |") in text
    assert "| `legal_basis` | string | unset | length <= 200 |" in text
    assert "| `site` | string | **required** | pattern `^[a-z0-9][a-z0-9_-]{0,62}$` |" in text
    assert "### `[[rules]] with type = \"crowd_density\"`" in text
    assert "### `[device_tokens.<key>]`" in text
    assert "| `max_bytes` | integer | `16777216` (16 MiB) | >= 65536 (64 KiB)" in text


def test_runs_as_a_module() -> None:
    out = subprocess.run([sys.executable, "-m", "edge.tools.configref"], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=120)
    assert out.stdout == reference()
