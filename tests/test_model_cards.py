"""Every shipped model has a model card (`weights/<name>/README.md`) whose first paragraph is a one-line
summary, `auralign models list` shows it, the card is package data, and `docs/models/<name>.md` links
to it. The list of models comes from `shipped_models()`, so a new model is checked as soon as it ships."""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auralign.cli.main import app
from auralign.models.cards import CARD_NAME, card_summary
from auralign.models.factory import shipped_models
from auralign.paths import PACKAGE_DIR, SHIPPED_WEIGHTS_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
DOCS_MODELS = REPO / "docs" / "models"
MAX_SUMMARY = 140
NAMES = shipped_models()


def test_there_are_shipped_models() -> None:
    assert NAMES, f"no shipped models under {SHIPPED_WEIGHTS_DIR}"


@pytest.mark.parametrize("name", NAMES)
def test_card_has_a_one_sentence_summary(name: str) -> None:
    card = SHIPPED_WEIGHTS_DIR / name / CARD_NAME
    assert card.is_file(), f"{name}: no model card {card}"
    summary = card_summary(card.read_text())
    assert summary, f"{name}: the card has no paragraph before or between its headings"
    assert "\n" not in summary
    assert len(summary) < MAX_SUMMARY, f"{name}: summary is {len(summary)} characters: {summary!r}"
    assert not re.search(r"[.!?]\s+[A-Z]", summary), f"{name}: summary is more than one sentence: {summary!r}"


@pytest.mark.parametrize("name", NAMES)
def test_card_has_the_sections_and_points_to_its_attribution(name: str) -> None:
    text = (SHIPPED_WEIGHTS_DIR / name / CARD_NAME).read_text()
    headings = [line[3:].strip().lower() for line in text.splitlines() if line.startswith("## ")]
    for section in ["what it is", "training data", "recipe", "measured", "known failure modes", "licence"]:
        assert any(heading.startswith(section) for heading in headings), f"{name}: no '## {section}' section"
    assert "ATTRIBUTION.md" in text and (SHIPPED_WEIGHTS_DIR / name / "ATTRIBUTION.md").is_file()
    assert "Apache-2.0" in text


def test_models_list_json_shows_every_card_summary() -> None:
    result = CliRunner().invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.stdout)["models"]}
    assert set(listed) == set(NAMES)
    for name in NAMES:
        card = SHIPPED_WEIGHTS_DIR / name / CARD_NAME
        assert listed[name]["summary"] == card_summary(card.read_text())
        assert Path(listed[name]["card"]) == card


@pytest.mark.parametrize("name", NAMES)
def test_docs_models_link_resolves_to_the_card(name: str) -> None:
    link = DOCS_MODELS / f"{name}.md"
    assert link.is_symlink(), (
        f"{link} is not a symlink (ln -s ../../src/auralign/weights/{name}/README.md {link})"
    )
    assert not os.path.isabs(os.readlink(link)), f"{link} must be a relative link"
    assert link.resolve() == (REPO / "src" / "auralign" / "weights" / name / CARD_NAME).resolve()
    assert link.resolve().is_file()
    assert f"({name}.md)" in (DOCS_MODELS / "README.md").read_text(), (
        f"docs/models/README.md does not list {name}"
    )


def test_cards_are_package_data() -> None:
    """setuptools expands the package-data patterns with recursive glob from the package folder."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["auralign"]
    included = {
        Path(match)
        for pattern in patterns
        for match in glob.glob(pattern, root_dir=PACKAGE_DIR, recursive=True)
    }
    for name in NAMES:
        assert Path("weights") / name / CARD_NAME in included


@pytest.mark.parametrize("name", NAMES)
def test_card_recipe_names_its_config_files(name: str) -> None:
    """The recipe is a file under configs/ (one a stage), not a string of overrides."""
    text = (SHIPPED_WEIGHTS_DIR / name / CARD_NAME).read_text()
    recipe = text[text.lower().index("## recipe"):]
    named = set(re.findall(r"configs/([\w.-]+\.yaml)", recipe))
    assert named, f"{name}: the card's recipe names no configs/*.yaml"
    assert all((REPO / "configs" / file).is_file() for file in named), f"{name}: {sorted(named)}"
