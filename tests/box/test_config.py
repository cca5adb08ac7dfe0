"""Box configuration: defaults, strictness, and check-config's report of every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import main
from edge.config import ConfigError, check, check_report, load, parse

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
    (tmp_path / "video.mp4").write_bytes(b"")
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
    (tmp_path / "video.mp4").write_bytes(b"")
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


MIXED = """\
site = "marseille"
camera = "cam-042"

[source]
url = "missing.mp4"

[detector]
treshold = 0.5

[[zones]]
name = "forecourt"
polygon = [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]

[[rules]]
type = "intrusion"
zone = "forecourt"

[[rules]]
type = "person_down"
zone = "platform"
"""


def test_check_config_reports_schema_cross_reference_and_missing_file_in_one_run(tmp_path: Path) -> None:
    p = tmp_path / "box.toml"
    p.write_text(MIXED)
    result = CliRunner().invoke(main, ["edge", "check-config", str(p)])
    assert result.exit_code != 0
    out = result.output
    assert "3 problem(s)" in out, out
    assert "line 5: source.url: the video file source " in out and "missing.mp4 does not exist" in out
    assert "line 8: detector.treshold: unknown key" in out
    assert "line 20: rules[1].zone: rules[1] (person_down) names zone 'platform'" in out
    # in file order
    assert out.index("line 5:") < out.index("line 8:") < out.index("line 20:")


def test_cross_section_findings_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    text = GOOD + '''
[[zones]]
name = "forecourt"
polygon = [[0, 0], [1, 0], [1, 1]]

[[rules]]
type = "crowd_density"
zone = "nowhere"

[stats]
zones = ["forecourt", "gate"]
'''
    with pytest.raises(ConfigError) as err:
        parse(text, tmp_path / "box.toml")
    found = {(p.line, p.location) for p in err.value.problems}
    assert found == {
        (20, "zones[1].name"),  # repeated zone name
        (24, "rules[1].type"),  # crowd_density without calibration
        (25, "rules[1].zone"),  # unknown zone
        (28, "stats.zones[1]"),  # unknown zone in stats
    }, err.value.problems


def test_syntax_error_names_its_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "box.toml"
    p.write_text(GOOD.replace("[[zones]]", "[[zones]"))
    result = CliRunner().invoke(main, ["edge", "check-config", str(p)])
    assert result.exit_code != 0
    assert "1 problem(s)" in result.output
    assert "line 9, column 8: (syntax): invalid TOML: Expected ']]'" in result.output, result.output


def test_only_check_config_requires_the_video_file(tmp_path: Path) -> None:
    """The hub's processing register loads box configs whose video is not on the hub."""
    p = tmp_path / "box.toml"
    p.write_text(GOOD)
    assert load(p).source.url == str(tmp_path / "video.mp4")
    cfg, problems = check(p)
    assert cfg is None and [(q.line, q.location) for q in problems] == [(6, "source.url")]
    p.write_text(GOOD.replace('url = "video.mp4"', 'url = "rtsp://10.0.0.1/stream"'))
    assert check(p)[1] == []
    (tmp_path / "video.mp4").mkdir()
    p.write_text(GOOD)
    assert "is not a file" in check(p)[1][0].message


def test_enabled_audio_file_source_must_exist(tmp_path: Path) -> None:
    (tmp_path / "video.mp4").write_bytes(b"")
    p = tmp_path / "box.toml"
    audio = '[audio]\nenabled = true\nlegal_basis = "AIPD-1"\nfile = "shots.flac"\n'
    p.write_text(GOOD + audio)
    (problem,) = check(p)[1]
    assert problem.location == "audio.file" and problem.line == GOOD.count("\n") + 4
    assert "audio file source" in problem.message
    p.write_text(GOOD + audio.replace("true", "false"))
    assert check(p)[1] == []


def test_a_faulty_required_value_inside_a_list_item_stops_only_the_cross_checks(tmp_path: Path) -> None:
    """A zone without a polygon cannot be checked against the rules: its own error is reported,
    never a spurious 'unknown zone'."""
    text = GOOD.replace("[[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]", "[[0.1, 0.5]]")
    with pytest.raises(ConfigError) as err:
        parse(text + 'mode = "stealth"\n', tmp_path / "box.toml")
    locations = [p.location for p in err.value.problems]
    assert "zones[0].polygon" in locations and "rules[0].mode" in locations
    assert not any("names zone" in p.message for p in err.value.problems)


def test_direct_construction_still_refuses_cross_section_mistakes() -> None:
    from pydantic import ValidationError

    from edge.config import BoxConfig

    with pytest.raises(ValidationError, match="names zone 'nowhere'"):
        BoxConfig.model_validate({"site": "s", "camera": "c", "source": {"device": 0},
                                  "rules": [{"type": "intrusion", "zone": "nowhere"}]})


def test_check_config_fails_on_a_cross_section_mistake_alone(tmp_path: Path) -> None:
    (tmp_path / "video.mp4").write_bytes(b"")
    p = tmp_path / "box.toml"
    p.write_text(GOOD.replace('zone = "forecourt"', 'zone = "nowhere"'))
    result = CliRunner().invoke(main, ["edge", "check-config", str(p)])
    assert result.exit_code != 0 and "OK" not in result.output
    assert "1 problem(s)" in result.output
    assert "line 15: rules[0].zone: rules[0] (intrusion) names zone 'nowhere'" in result.output


def test_several_errors_in_one_list_value_still_let_the_cross_checks_run(tmp_path: Path) -> None:
    text = GOOD.replace('zone = "forecourt"', 'zone = "nowhere"') + "\n[detector]\nclasses = [1, 2]\n"
    with pytest.raises(ConfigError) as err:
        parse(text, tmp_path / "box.toml")
    found = [(p.line, p.location) for p in err.value.problems]
    assert found == [(15, "rules[0].zone"), (20, "detector.classes[0]"), (20, "detector.classes[1]")], found


EXTREME_VALUES = ("nan", "inf", "-inf", str(2**64), "1" * 400, "1e400", '"x"', "[]", "{}", "true",
                  "[" * 40 + "]" * 40)


@pytest.mark.parametrize("value", EXTREME_VALUES)
@pytest.mark.parametrize("key", ["dwell_s", "loop", "polygon"])
def test_extreme_values_in_any_field_are_refused_with_their_line(tmp_path: Path, key: str,
                                                                 value: str) -> None:
    (tmp_path / "video.mp4").write_bytes(b"")
    lines = [f"{key} = {value}" if line.startswith(f"{key} = ") else line for line in GOOD.splitlines()]
    p = tmp_path / "box.toml"
    p.write_text("\n".join(lines) + "\n")
    ok, report = check_report(p)
    if value == "true" and key in ("loop", "dwell_s"):  # a flag; for a number, pydantic reads 1
        assert ok, report
        return
    assert not ok
    line = next(i for i, text in enumerate(lines, 1) if text.startswith(f"{key} = "))
    assert f"line {line}" in report, report


@pytest.mark.parametrize("text, fragment", [
    ('site = "s"\nx = ' + "[" * 5000 + "]" * 5000 + "\n", "line 2: (syntax): nested deeper than 32 levels"),
    ("# " + "x" * (2 * 1024 * 1024) + "\n", "larger than 1048576 bytes"),
    ("\x00\xff garbage", "line 1, column 1: (syntax): invalid TOML"),
])
def test_check_config_process_refuses_hostile_files_clearly(tmp_path: Path, text: str, fragment: str) -> None:
    import subprocess
    import sys

    p = tmp_path / "box.toml"
    p.write_text(text)
    out = subprocess.run([sys.executable, "-m", "edge.cli", "edge", "check-config", str(p)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert fragment in out.stderr, out.stderr
