"""Box configuration: defaults, strictness, and check-config's report of every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.config import ConfigError, load

GOOD = """\
site = "marseille"
camera = "cam-042"
data_dir = "data"

[source]
url = "video.mp4"
loop = true

[[zones]]
name = "forecourt"
polygon = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]

[[rules]]
type = "intrusion"
zone = "forecourt"
classes = ["person"]
dwell_s = 2
"""

THREE_MISTAKES = """\
site = "marseille"
camera = "cam-042"

[source]
url = "video.mp4"
lop = true

[detector]
score_threshold = 1.5

[[zones]]
name = "forecourt"
polygon = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]

[[rules]]
type = "intrusion"
zone = "forecourt"
dwell_s = "two"
"""


def test_good_config_loads_with_paths_resolved(tmp_path: Path) -> None:
    p = tmp_path / "box.toml"
    p.write_text(GOOD)
    cfg = load(p)
    assert cfg.source.url == str(tmp_path / "video.mp4")
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.rules[0].dwell_s == 2
    assert cfg.detector.model == "yolox-nano"


def test_check_config_reports_all_three_mistakes_with_lines(tmp_path: Path) -> None:
    p = tmp_path / "box.toml"
    p.write_text(THREE_MISTAKES)
    result = CliRunner().invoke(main, ["edge", "check-config", str(p)])
    assert result.exit_code != 0
    out = result.output
    assert "3 problem(s)" in out
    assert "line 6: source.lop: unknown key" in out
    assert "line 9: detector.score_threshold" in out
    assert "line 18: rules[0].dwell_s" in out


def test_check_config_ok(tmp_path: Path) -> None:
    p = tmp_path / "box.toml"
    p.write_text(GOOD)
    result = CliRunner().invoke(main, ["edge", "check-config", str(p)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


@pytest.mark.parametrize(
    "text, fragment",
    [
        (GOOD.replace('zone = "forecourt"', 'zone = "nowhere"'), "names zone 'nowhere'"),
        (GOOD.replace('url = "video.mp4"', 'device = 0\nurl = "x.mp4"'), "exactly one of"),
        (GOOD.replace("[[zones]]", "[zones"), "(syntax)"),
        (GOOD.replace('camera = "cam-042"', 'camera = "cam/042"'), "camera"),
    ],
)
def test_bad_configs_are_refused_clearly(tmp_path: Path, text: str, fragment: str) -> None:
    p = tmp_path / "box.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(p)
    assert fragment in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["edge", "check-config", str(tmp_path / "none.toml")])
    assert result.exit_code != 0
    assert "cannot read" in result.output
