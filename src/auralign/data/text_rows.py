"""(text, instruction, answer) rows, the text-only training data of MATS, and the reader of the
JSONL text corpus (`{"text", "instruction", "answer", "task", "split"}` a line, as MATS Table S8;
`auralign data build-corpus` writes one)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from auralign.errors import AuralignError


@dataclass
class TextRow:
    text: str
    instruction: str
    answer: str
    task: str = ""


def read_text_corpus(path: str | Path, tasks: list[str] | None = None,
                     splits: list[str] | None = None) -> list[TextRow]:
    """The corpus's rows of `tasks` and `splits` (all when None; a row without a split counts as the first)."""
    path = Path(path)
    if not path.is_file():
        raise AuralignError(f"text corpus not found: {path}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        missing = [key for key in ("text", "instruction", "answer") if not record.get(key)]
        if missing:
            raise AuralignError(f"{path}:{number}: missing {', '.join(missing)}")
        if tasks and record.get("task") not in tasks:
            continue
        if splits and record.get("split", splits[0]) not in splits:
            continue
        rows.append(TextRow(record["text"], record["instruction"], record["answer"], record.get("task", "")))
    if not rows:
        raise AuralignError(f"{path}: no usable rows")
    return rows
