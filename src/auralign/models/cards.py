"""Model cards of the shipped models: each weights folder holds a `README.md` (the Hugging Face
convention), whose first paragraph is the one-line summary `auralign models list` prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auralign.models.factory import DEFAULT_MODEL, shipped_models
from auralign.paths import SHIPPED_WEIGHTS_DIR

CARD_NAME = "README.md"


@dataclass(frozen=True)
class ModelCard:
    name: str
    summary: str
    megabytes: float
    path: Path

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "summary": self.summary, "megabytes": round(self.megabytes, 1),
                "default": self.name == DEFAULT_MODEL, "card": str(self.path)}


def card_summary(text: str) -> str:
    """The first paragraph that is not a heading, joined into one line."""
    for paragraph in text.split("\n\n"):
        lines = [line.strip() for line in paragraph.strip().splitlines() if not line.startswith("#")]
        if any(lines):
            return " ".join(line for line in lines if line)
    return ""


def shipped_cards() -> list[ModelCard]:
    cards = []
    for name in shipped_models():
        folder = SHIPPED_WEIGHTS_DIR / name
        card = folder / CARD_NAME
        summary = card_summary(card.read_text()) if card.is_file() else "(no model card)"
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6
        cards.append(ModelCard(name, summary, size, card))
    return cards
