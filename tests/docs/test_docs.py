"""The docs fail here when they drift from the code: topics, rules, commands, links, length."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from edge.config import Rule
from edge.outbound.egress import ALLOWED_SUFFIXES, SUBSCRIBE_SUFFIXES
from edge.wire.messages import SCHEMAS
from tests.docs.clitree import walk

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
"""Generated from the config models by its own tool: a link to it may land before the file does."""

RULE_HELPERS = {"__init__", "common", "configs", "checks", "foreground", "flame", "ownership"}
"""Modules of edge/rules/ that are not a rule of their own."""


def _section(text: str, heading: str) -> str:
    """The body under ``heading`` (a whole line) up to the next heading of the same level."""
    level = heading.split(" ", 1)[0]
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(level + " ")), len(lines))
    return "\n".join(lines[start:end])


def _acl_suffixes() -> set[str]:
    """The suffix lists the hub role's broker ACL is rendered from."""
    text = (ROOT / "ansible/roles/hub/defaults/main.yml").read_text()
    found: set[str] = set()
    for name in ("hub_box_publish_suffixes", "hub_box_subscribe_suffixes"):
        m = re.search(rf"^{name}:\s*\[(.*)\]\s*$", text, re.M)
        assert m, f"{name} not found as a flow list in the hub role's defaults"
        found |= {s.strip() for s in m.group(1).split(",")}
    return found


def _code_suffixes() -> set[str]:
    from central.ingest.subscriber import ACCEPTED_SUFFIXES, HUB_TO_BOX_SUFFIXES

    return (set(ALLOWED_SUFFIXES) | set(SUBSCRIBE_SUFFIXES) | set(SCHEMAS) | set(ACCEPTED_SUFFIXES)
            | set(HUB_TO_BOX_SUFFIXES) | _acl_suffixes())


def test_every_topic_suffix_has_a_row_in_the_mqtt_contract() -> None:
    text = (DOCS / "mqtt.md").read_text()
    rows = set(re.findall(r"^\| `([a-z/]+)` \|", _section(text, "## Topics"), re.M))
    suffixes = _code_suffixes()
    assert {"event", "state", "health", "stats", "ledger", "search/req", "search/resp", "config"} <= suffixes
    assert suffixes - rows == set(), "topic suffixes the code uses but docs/mqtt.md does not list"
    assert rows - suffixes == set(), "docs/mqtt.md lists topic suffixes the code does not know"


def _rule_classes() -> dict[str, type]:
    union = typing.get_args(Rule)[0]
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in typing.get_args(union)}


def test_every_rule_module_is_a_configurable_rule() -> None:
    modules = {p.stem for p in (ROOT / "edge/rules").glob("*.py")} - RULE_HELPERS
    assert modules == set(_rule_classes())


@pytest.mark.parametrize("rule_type", sorted(_rule_classes()))
def test_every_rule_and_parameter_is_in_the_rules_reference(rule_type: str) -> None:
    text = (DOCS / "reference/rules.md").read_text()
    heading = f"## `{rule_type}`"
    assert heading in text.splitlines(), f"docs/reference/rules.md has no section {heading}"
    body = _section(text, heading)
    fields = set(_rule_classes()[rule_type].model_fields) - {"type"}
    missing = {f for f in fields if f"`{f}`" not in body}
    assert not missing, f"{rule_type}: parameters missing from its section of the rules reference"


def test_every_command_is_in_the_cli_reference() -> None:
    text = (DOCS / "reference/cli.md").read_text()
    documented = set(re.findall(r"^## (vigie(?: [a-z-]+)*)$", text, re.M))
    commands = {name for name, _ in walk()}
    assert len(commands) > 30
    assert commands - documented == set(), (
        "commands missing from docs/reference/cli.md: regenerate it with "
        "`python -m tests.docs.clitree > docs/reference/cli.md`")
    assert documented - commands == set(), "docs/reference/cli.md documents commands that are gone"


def github_anchors(text: str) -> set[str]:
    """The anchors GitHub makes for a page's headings (outside code fences)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"^#{1,6} (.+?)\s*#*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for link in _links(page):
        if re.match(r"^[a-z]+:", link):
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor and target.suffix == ".md" and anchor not in github_anchors(target.read_text()):
            broken.append(f"{link}: no such heading")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_every_guide_is_linked_from_the_readme() -> None:
    links = {(ROOT / link.partition("#")[0]).resolve() for link in _links(README)}
    guides = [DOCS / f"{name}.md" for name in (
        "technician", "operator", "investigator", "privacy-officer", "mqtt", "figures", "development")]
    guides += [DOCS / "reference" / n for n in ("cli.md", "rules.md", "configuration.md")]
    assert [g.name for g in guides if g.resolve() not in links] == []


def test_readme_is_short_and_starts_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) < 220
    assert lines[2:6] == ["```sh", lines[3], lines[4], "```"]
    assert lines[3].startswith("make demo ") and lines[4].startswith("make test ")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_names_a_ticket(page: Path) -> None:
    hits = re.findall(r"\b[Ii]ssue \d+\b|(?<![\w&`/])#\d+\b", page.read_text())
    assert hits == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_source_paths_named_in_the_docs_exist(page: Path) -> None:
    named = set(re.findall(r"`((?:edge|central|tests|benchmarks)/[\w/.-]+?\.py)", page.read_text()))
    assert sorted(p for p in named if not (ROOT / p).exists()) == []
