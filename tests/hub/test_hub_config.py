"""Hub configuration: the shared TOML loader reports every problem of hub.toml with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from central.config import ConfigError, load
from edge.cli import main

GOOD = """\
database = "hub.sqlite"
port = 8080

[broker]
host = "127.0.0.1"

[clips]
dir = "clips"
max_bytes = 1048576

[device_tokens.abcdefghijklmnop0123]
site = "marseille"
camera = "cam-042"
"""


def test_good_hub_config_loads_with_paths_resolved(tmp_path: Path) -> None:
    p = tmp_path / "hub.toml"
    p.write_text(GOOD)
    cfg = load(p)
    assert cfg.database == tmp_path / "hub.sqlite"
    assert cfg.clips.dir == tmp_path / "clips"
    assert cfg.device_tokens["abcdefghijklmnop0123"].camera == "cam-042"


@pytest.mark.parametrize("command", [["hub", "ingest"], ["hub", "serve"]])
def test_hub_toml_syntax_error_shows_its_line(tmp_path: Path, command: list[str]) -> None:
    p = tmp_path / "hub.toml"
    p.write_text(GOOD.replace("[broker]", "[broker"))
    result = CliRunner().invoke(main, [*command, "--config", str(p)])
    assert result.exit_code != 0
    assert "0 problem(s)" not in result.output
    assert "1 problem(s)" in result.output
    assert "hub.toml:line 4, column 8: (syntax): invalid TOML: Expected ']'" in result.output, result.output


def test_every_hub_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace('port = 8080', 'port = 0\nbnid = "0.0.0.0"').replace(
        'camera = "cam-042"', 'camera = "cam/042"') + "\n[web]\nmax_body_bytes = 524288\n"
    p = tmp_path / "hub.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(p)
    found = {(q.line, q.location) for q in err.value.problems}
    assert found == {
        (2, "port"),
        (3, "bnid"),
        (14, "device_tokens.abcdefghijklmnop0123.camera"),
        (17, "web.max_body_bytes"),  # a cross-section check, despite the schema errors above
    }, err.value.problems
    body = next(q for q in err.value.problems if q.location == "web.max_body_bytes")
    assert "must be above clips.max_bytes (1048576)" in body.message
    result = CliRunner().invoke(main, ["hub", "ingest", "--config", str(p)])
    assert result.exit_code != 0 and "4 problem(s)" in result.output
    assert "hub.toml:line 3: bnid: unknown key" in result.output


def test_unreadable_hub_config_is_one_clear_problem(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["hub", "ingest", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code != 0
    assert "1 problem(s)" in result.output and "cannot read" in result.output


@pytest.mark.parametrize("replace, fragment", [
    (("port = 8080", "port = nan"), "line 2: port:"),
    (("port = 8080", f"port = {2**64}"), "line 2: port:"),
    (("max_bytes = 1048576", "max_bytes = 1e400"), "line 9: clips.max_bytes:"),
    (("port = 8080", "port = " + "[" * 5000 + "]" * 5000), "line 2: (syntax): nested deeper than 32 levels"),
    (('host = "127.0.0.1"', "host = [1, 2]"), "line 5: broker.host:"),
])
def test_hub_serve_refuses_extreme_values_with_their_line(tmp_path: Path, replace: tuple[str, str],
                                                         fragment: str) -> None:
    import subprocess
    import sys

    p = tmp_path / "hub.toml"
    p.write_text(GOOD.replace(*replace))
    out = subprocess.run([sys.executable, "-m", "edge.cli", "hub", "serve", "--config", str(p)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert fragment in out.stderr, out.stderr
