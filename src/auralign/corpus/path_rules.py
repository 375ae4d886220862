"""Reviewed path rules: which sound file of a package is what.

A package's rules live in `rules/<package>.rules`, one rule a line, columns separated by two or more
spaces: `pattern  label  kind`, or `pattern  -` to leave the matching files out on purpose (music,
interface blips, synthetic or unclear sounds). The pattern is matched with `re.fullmatch` against the
file's path below the package's sound folder, lower-cased, without its extension; the first rule
that matches decides, and a file no rule matches is left out too. A label may use the pattern's
groups (`\\1 footsteps`). `@name = text` defines a piece of pattern that later patterns name as
`@name`; `#` starts a comment. The tables were written from the actual file lists of the Debian
packages (docs/corpus*.md say what was left out and why).

Numbered variants of one sound ("fs_grass1".."fs_grass8", "ow1".."ow4") are often cut from one
recording session, so they share a group (folder + stem without its number): the splits never
put two variants of one sound on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

from auralign.audio.io import AUDIO_EXTENSIONS
from auralign.corpus.sources import DebianPackage, SourceClip
from auralign.errors import AuralignError

Rule = tuple[str, str | None, str]
RULES_DIR = Path(__file__).with_name("rules")
_COLUMNS = re.compile(r"\s{2,}")
_NAME = re.compile(r"@\w+")


@cache
def load_rules(package: str) -> tuple[Rule, ...]:
    """The rules of `rules/<package>.rules`, in order."""
    path = RULES_DIR / f"{package}.rules"
    names: dict[str, str] = {}
    rules: list[Rule] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        cells = [cell for cell in _COLUMNS.split(line.strip()) if cell]
        cells = cells[:next((k for k, cell in enumerate(cells) if cell.startswith("#")), len(cells))]
        if not cells:
            continue
        if cells[0].startswith("@") and " = " in cells[0]:
            name, _, text = cells[0].partition(" = ")
            names[name] = _expand(text, names, f"{path}:{number}")
            continue
        pattern = _expand(cells[0], names, f"{path}:{number}")
        if cells[1:] == ["-"]:
            rules.append((pattern, None, ""))
        elif len(cells) == 3:
            rules.append((pattern, cells[1], cells[2]))
        else:
            raise AuralignError(f"{path}:{number}: expected 'pattern  label  kind' or 'pattern  -', got {line!r}")
    return tuple(rules)


def _expand(text: str, names: dict[str, str], where: str) -> str:
    unknown = [name for name in _NAME.findall(text) if name not in names]
    if unknown:
        raise AuralignError(f"{where}: {unknown[0]} is not defined above")
    return _NAME.sub(lambda m: names[m[0]], text)


class RuleTable:
    """Compiled rules of one package: `label(relative)` -> (label, kind) or None."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = [(re.compile(pattern), label, kind) for pattern, label, kind in rules]

    def label(self, relative: str) -> tuple[str, str] | None:
        key = str(Path(relative.lower()).with_suffix(""))
        for pattern, label, kind in self.rules:
            match = pattern.fullmatch(key)
            if match:
                return (match.expand(label), kind) if label else None
        return None


_VARIANT_NUMBER = re.compile(r"[\s_-]*\d+[a-z]?$")


def variant_group(relative: str, by_folder: bool = True) -> str:
    """Group of a sound file: its stem without a variant number, inside its folder."""
    path = Path(relative.lower())
    stem = _VARIANT_NUMBER.sub("", path.stem) or path.stem
    return f"{path.parent.as_posix()}/{stem}" if by_folder else stem


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def rule_clips(package: DebianPackage, folder: Path, table: RuleTable, group_by_folder: bool = True,
               extra: dict[str, object] | None = None) -> Iterator[SourceClip]:
    """Clips of the audio files under `folder` that `table` labels (each with a copy of `extra`)."""
    for path in audio_files(folder):
        relative = path.relative_to(folder).as_posix()
        found = table.label(relative)
        if found:
            label, kind = found
            yield SourceClip(path=path, labels=[label], source=package.name, kind=kind, extra=dict(extra or {}),
                             group=f"{package.name}:{variant_group(relative, group_by_folder)}")
