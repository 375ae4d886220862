"""Captions for corpus clips: CoLLAT's label template, natural templates, and LLM label descriptions.

Every clip gets CoLLAT's "This is a sound of A, B and C.", two natural templates chosen for its kind
(seeded by the clip id), and, when the packaged language model has described the label, that
description. Descriptions are written once per *label* (never per clip), cached in a JSON file and
bounded in time: labels left undescribed when the budget runs out simply have no description caption.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from auralign.data.pairs import label_caption
from auralign.paths import auralign_home

GENERIC_TEMPLATES = (
    "The sound of {label}.",
    "A recording of {label}.",
    "Audio clip containing {label}.",
    "{Label} can be heard.",
    "A short recording of {label}.",
)
KIND_TEMPLATES: dict[str, tuple[str, ...]] = {
    "instrument": ("A single note played on {label}.", "An isolated {label} note.", "Music: {label} playing one note."),
    "drum": ("A single {label} hit.", "One stroke of {label}.", "A {label} sample from a drum kit."),
    "speech": ("A voice speaking: {label}.", "Someone talking, {label}.", "Recorded speech, {label}."),
    "effect": ("A sound effect of {label}.", "{Label} sound effect.", "The noise of {label}."),
    "ambience": ("Ambient sound of {label}.", "{Label} in the background.", "An atmosphere of {label}."),
    "vocal": ("A vocal sound: {label}.", "Someone makes a sound, {label}.", "The sound of {label} from a voice."),
    "music": ("A short piece of music: {label}.", "{Label} playing.", "A musical loop of {label}."),
}
# Rendered phrases (extra["phrase"]) are no single notes or hits: their own templates.
PHRASE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "instrument": ("{Label} playing a short phrase.", "A few notes played on {label}.", "Music: a short {label} passage."),
    "drum": ("{Label} playing a short pattern.", "A drummer playing: {label}.", "A short passage of {label}."),
}
DESCRIPTION_PROMPT = "In one short sentence, describe what the sound of {label} is like."
_SPOKEN_DIGIT = re.compile(r"^spoken digit (\w+)$")


def _fill(template: str, label: str) -> str:
    return template.format(label=label, Label=label[:1].upper() + label[1:])


def dynamic_word(velocity: int) -> str:
    return "soft" if velocity < 60 else "medium" if velocity < 100 else "loud"


def note_caption(extra: dict) -> str | None:
    """'A loud violin note at A4, held for 1.2 s.' for rendered notes (NSynth-style fields)."""
    if "note" not in extra or "instrument" not in extra:
        return None
    return (f"A {dynamic_word(int(extra['velocity']))} {extra['instrument']} note at {extra['note']}, "
            f"held for {extra['duration']:g} s.")


def phrase_caption(extra: dict) -> str | None:
    """'A violin plays a rising scale, soft and legato.' for rendered phrases."""
    if "phrase" not in extra or "instrument" not in extra:
        return None
    instrument = str(extra["instrument"])
    article = "An" if instrument[:1] in "aeiou" else "A"
    manner = " and ".join(str(word) for word in (extra.get("dynamic"), extra.get("articulation")) if word)
    return f"{article} {instrument} plays {extra['phrase_description']}" + (f", {manner}." if manner else ".")


def _natural_pool(labels: Sequence[str], kind: str, extra: dict) -> tuple[str, ...]:
    joined = label_caption(labels).removeprefix("This is a sound of ").removesuffix(".")
    digit = _SPOKEN_DIGIT.match(labels[0]) if len(labels) == 1 else None
    if digit:
        return (f"Someone says the digit {digit.group(1)}.", f"A voice saying the word {digit.group(1)}.",
                f"The spoken number {digit.group(1)}.")
    kind_templates = (PHRASE_TEMPLATES if "phrase" in extra else KIND_TEMPLATES).get(kind, ())
    return tuple(_fill(t, joined) for t in (*kind_templates, *GENERIC_TEMPLATES))


def template_captions(labels: Sequence[str], kind: str, extra: dict) -> set[str]:
    """Every caption `clip_captions` can write for a clip without an LLM description: any other caption
    of a corpus clip is its label's description."""
    note = note_caption(extra) or phrase_caption(extra)
    return {label_caption(labels), *_natural_pool(labels, kind, extra), *([note] if note else [])}


def natural_captions(labels: Sequence[str], kind: str, extra: dict, rng: np.random.Generator, n: int = 2) -> list[str]:
    pool = _natural_pool(labels, kind, extra)
    chosen = [pool[i] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]
    note = note_caption(extra) or phrase_caption(extra)
    return [note, *chosen[: n - 1]] if note else chosen


def clip_captions(labels: Sequence[str], kind: str, extra: dict, seed_key: str,
                  descriptions: dict[str, str]) -> list[str]:
    """The CoLLAT template, two natural templates and (if available) the LLM description of the label."""
    rng = np.random.default_rng(list(seed_key.encode()))
    captions = [label_caption(labels), *natural_captions(labels, kind, extra, rng)]
    described = [descriptions[label] for label in labels if descriptions.get(label)]
    if described:
        captions.append(" ".join(described))
    return list(dict.fromkeys(captions))


def descriptions_file() -> Path:
    return auralign_home() / "corpus" / "label_descriptions.json"


def clean_description(text: str, max_chars: int = 200) -> str | None:
    """The first complete sentence of a model's answer, or None (empty, cut off, or running on)."""
    match = re.match(r"(.+?[.!?])(\s|$)", " ".join(text.split()))
    sentence = match.group(1).strip(" \"'") if match else ""
    return sentence if 10 <= len(sentence) <= max_chars else None


def describe_labels(labels: Sequence[str], generate: Callable[[list[str]], list[str]] | None,
                    cache_file: Path | None = None, budget_seconds: float = 600.0,
                    batch_size: int = 16) -> tuple[dict[str, str], dict[str, object]]:
    """Descriptions of `labels` from the cache, generating missing ones until the budget is spent.

    `generate` maps prompts to answers (None: use only the cache). Returns the descriptions and a
    record of what happened (for the corpus stats).
    """
    cache_file = cache_file or descriptions_file()
    cached: dict[str, str] = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    missing = [label for label in dict.fromkeys(labels) if label not in cached]
    started = time.monotonic()
    generated = 0
    if generate is not None:
        for start in range(0, len(missing), batch_size):
            if time.monotonic() - started > budget_seconds:
                break
            batch = missing[start:start + batch_size]
            answers = generate([DESCRIPTION_PROMPT.format(label=label) for label in batch])
            for label, answer in zip(batch, answers, strict=True):
                cached[label] = clean_description(answer) or ""  # "" = tried, unusable: not retried
            generated += len(batch)
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(cached, indent=1, ensure_ascii=False, sort_keys=True))
    described = {label: cached[label] for label in labels if cached.get(label)}
    report = {"labels": len(set(labels)), "described": len(described), "generated_now": generated,
              "seconds": round(time.monotonic() - started, 1),
              "left_to_templates": len(set(labels)) - len(described)}
    return described, report
