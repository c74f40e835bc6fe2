"""The README's set-up commands and guarantees, and the KPI reference (docs/kpi-reference.md), which is
generated from the registry: a test fails when they drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatsales.kpis import kpi_reference_markdown
from pipelines.cli import KPI_REFERENCE, REFERENCE_END, REFERENCE_START, kpi_reference_text

README = Path(__file__).resolve().parents[1] / "README.md"


def test_kpi_reference_matches_the_registry():
    text = KPI_REFERENCE.read_text()
    assert REFERENCE_START in text and REFERENCE_END in text, "run `chatsales docs` to write the KPI reference"
    section = text.split(REFERENCE_START, 1)[1].split(REFERENCE_END, 1)[0]
    assert section.strip() == kpi_reference_markdown().strip(), f"{KPI_REFERENCE} is stale: run `chatsales docs`"
    assert kpi_reference_text(text) == text


def test_chatsales_docs_rewrites_only_the_generated_part():
    """A stale block is replaced, the hand-written text around it and the markers stay; a page that lost its
    markers is refused rather than rewritten."""
    stale = f"# intro\n\n{REFERENCE_START}\n| old | table |\n{REFERENCE_END}\n\n## after\nkept\n"
    fresh = kpi_reference_text(stale)
    assert fresh.startswith(f"# intro\n\n{REFERENCE_START}\n\n") and fresh.endswith(
        f"{REFERENCE_END}\n\n## after\nkept\n"
    )
    assert "| old | table |" not in fresh and kpi_reference_markdown() in fresh
    assert kpi_reference_text(fresh) == fresh
    with pytest.raises(ValueError, match="markers"):
        kpi_reference_text("# no markers here\n")


def test_readme_links_the_kpi_reference_instead_of_holding_it():
    text = README.read_text()
    assert REFERENCE_START not in text and REFERENCE_END not in text
    assert "](docs/kpi-reference.md)" in text


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


def test_readme_settings_table_is_the_settings_model():
    """The table is generated from the one settings model (`chatsales.settings.settings_table`): a setting
    added, renamed or given another default without the README fails here."""
    from chatsales.settings import settings_table

    assert settings_table() in README.read_text()


def test_readme_stays_short():
    """The README is the front door (about 200 lines); the details live in docs/."""
    assert len(README.read_text().splitlines()) <= 200
