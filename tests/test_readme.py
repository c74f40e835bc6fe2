"""The README's KPI reference is generated from the registry: this fails when they drift apart."""
from __future__ import annotations

from pathlib import Path

from chatsales.kpis import kpi_reference_markdown
from pipelines.cli import README_END, README_START

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_kpi_reference_matches_the_registry():
    text = README.read_text()
    assert README_START in text and README_END in text, "run `chatsales docs` to write the KPI reference"
    section = text.split(README_START, 1)[1].split(README_END, 1)[0]
    assert section.strip() == kpi_reference_markdown().strip(), "the README is stale: run `chatsales docs`"


def test_readme_starts_with_the_two_setup_commands_and_ci_runs_the_second():
    text = README.read_text()
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (README.parent / ".ci" / "run").read_text()
    assert "dagster dev" in text


def test_readme_guarantees_name_tests_that_exist():
    """Every `file::test` of the Guarantees section is a test function of that file."""
    import re

    section = README.read_text().split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    named = 0
    for row in section.splitlines():
        file = None
        for ref in re.findall(r"`((?:tests/[\w/]+\.py)?::\w+)`", row):
            path, _, test = ref.partition("::")
            file = path or file
            assert test in re.findall(r"^def (test_\w+)", (README.parent / file).read_text(), re.M), ref
            named += 1
    assert named >= 20
