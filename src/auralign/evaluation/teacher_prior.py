"""A ConSE-style zero-shot prior from the aiSFX teacher heads (Norouzi et al., ICLR 2014).

The heads classify a clip into a sound-effects library's categories, whose names were inferred from
evidence (`auralign/resources/teacher_names.json`, docs/teacher.md). ConSE turns such a classifier
into a zero-shot one: the clip's prior embedding is the probability-weighted sum of the text
embeddings of its predicted category names, sum_k p_k * text(name_k), normalised; it is then scored
against the user's class embeddings like an audio embedding would be. Only named outputs take part,
so an unnamed output's probability mass is simply dropped.

Model-agnostic: the text tower is any object with `embed_text(list[str]) -> Tensor` (CLAP, CoLLAT,
SLIT stage 1), and the class embeddings are whatever the caller scores CLAP against.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from auralign.errors import AuralignError
from auralign.paths import PACKAGE_DIR, shared_data_dir

NAMES_FILE = PACKAGE_DIR / "resources" / "teacher_names.json"
CONFIDENCE_RANK = {"low": 0, "medium": 1, "high": 2}
CATEGORY_TEMPLATE = "This is a sound of {category}."
SUBCATEGORY_TEMPLATE = "This is a sound of {category}: {subcategory}."
DEFAULT_HEADS = ("prosfx", "soundlyTrain", "ucsMixed")


class TextTower(Protocol):
    def embed_text(self, texts: list[str]) -> Tensor:
        """Texts -> (N, E) embeddings."""
        ...


@dataclass(frozen=True)
class NamedOutput:
    head: str
    output: int
    name: str


def load_named_outputs(heads: Sequence[str] = DEFAULT_HEADS, min_confidence: str = "medium",
                       path: Path = NAMES_FILE) -> list[NamedOutput]:
    """Outputs of `heads` named at `min_confidence` or above in the names JSON."""
    if min_confidence not in CONFIDENCE_RANK:
        raise AuralignError(f"min_confidence must be one of {', '.join(CONFIDENCE_RANK)}")
    table = json.loads(Path(path).read_text())
    unknown = [head for head in heads if head not in table]
    if unknown:
        raise AuralignError(f"{path}: no names for heads {unknown}; known: {', '.join(table)}")
    floor = CONFIDENCE_RANK[min_confidence]
    return [NamedOutput(head, entry["output"], entry["name"]) for head in heads for entry in table[head]
            if entry["name"] and CONFIDENCE_RANK[entry["confidence"]] >= floor]


def load_ucs_subcategories(path: Path | None = None) -> dict[str, list[str]]:
    """{UCS category: its subcategories except MISC} from the shared UCS list; {} when it is absent."""
    path = path or shared_data_dir() / "labels" / "ucs_categories.csv"
    if not path.is_file():
        return {}
    out: dict[str, list[str]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["subcategory"] != "MISC":
                out.setdefault(row["category"], []).append(row["subcategory"])
    return out


def name_embedding(model: TextTower, name: str, subcategories: Sequence[str] = ()) -> Tensor:
    """(E,) normalised text embedding of a category: its own prompt and the mean of its subcategory
    prompts weigh half each, so a category with 40 subcategories is not reduced to their average."""
    category = name.lower()
    vectors = F.normalize(model.embed_text([CATEGORY_TEMPLATE.format(category=category)]).float(), dim=-1)[0]
    if subcategories:
        texts = [SUBCATEGORY_TEMPLATE.format(category=category, subcategory=s.lower()) for s in subcategories]
        subs = F.normalize(model.embed_text(texts).float(), dim=-1).mean(dim=0)
        vectors = 0.5 * vectors + 0.5 * F.normalize(subs, dim=-1)
    return F.normalize(vectors, dim=-1)


class TeacherPrior:
    """Named outputs with their text embeddings; maps head probabilities to prior embeddings and scores."""

    def __init__(self, named: Sequence[NamedOutput], name_vectors: Tensor) -> None:
        if not named:
            raise AuralignError("no named teacher outputs: lower min_confidence or choose other heads")
        if name_vectors.shape[0] != len(named):
            raise AuralignError(f"{len(named)} named outputs but {name_vectors.shape[0]} name embeddings")
        self.named = list(named)
        self.name_vectors = name_vectors

    @classmethod
    def build(cls, model: TextTower, named: Sequence[NamedOutput],
              subcategories: Mapping[str, Sequence[str]] | None = None) -> TeacherPrior:
        """Embed each distinct name once through `model`'s text tower."""
        subcategories = load_ucs_subcategories() if subcategories is None else subcategories
        cache: dict[str, Tensor] = {}
        with torch.no_grad():
            for output in named:
                if output.name not in cache:
                    subs = subcategories.get(output.name, ())
                    cache[output.name] = name_embedding(model, output.name, subs)
        vectors = torch.stack([cache[o.name] for o in named]) if named else torch.zeros(0)
        return cls(named, vectors)

    def weights(self, probabilities: Mapping[str, Tensor]) -> Tensor:
        """(B, K) probability of each named output, gathered from {head: (B, n)} head probabilities."""
        missing = {o.head for o in self.named} - set(probabilities)
        if missing:
            raise AuralignError(f"no probabilities for heads {sorted(missing)}")
        return torch.stack([probabilities[o.head][:, o.output] for o in self.named], dim=1).float()

    def embed(self, probabilities: Mapping[str, Tensor], top_k: int | None = None) -> Tensor:
        """(B, E) normalised sum_k p_k * text(name_k); `top_k` keeps each clip's k likeliest named
        outputs, as ConSE's T (default: all)."""
        weights = self.weights(probabilities)
        if top_k is not None and top_k < weights.shape[1]:
            kept = weights.topk(top_k, dim=1).indices
            weights = torch.zeros_like(weights).scatter(1, kept, weights.gather(1, kept))
        return F.normalize(weights @ self.name_vectors.to(weights.dtype), dim=-1)

    def scores(self, probabilities: Mapping[str, Tensor], class_vectors: Tensor,
               top_k: int | None = None) -> Tensor:
        """(B, C) cosine of each clip's prior embedding with the (C, E) class embeddings."""
        prior = self.embed(probabilities, top_k)
        return prior @ F.normalize(class_vectors.float(), dim=-1).T


def combine(clap_logits: Tensor, prior_scores: Tensor, weight: float) -> Tensor:
    """(1 - weight) * clap_logits + weight * prior_scores.

    Both must be on the same scale: pass CLAP's cosine similarities (not multiplied by its logit
    scale), as `prior_scores` are cosines. weight 0 is CLAP alone, 1 the prior alone; choose it on a
    validation split.
    """
    if not 0.0 <= weight <= 1.0:
        raise AuralignError(f"weight must lie in [0, 1], got {weight}")
    if clap_logits.shape != prior_scores.shape:
        raise AuralignError(f"shape mismatch: CLAP scores {tuple(clap_logits.shape)}, "
                            f"prior scores {tuple(prior_scores.shape)}")
    return (1.0 - weight) * clap_logits.float() + weight * prior_scores.float()


def attach_prior(model: Any, weight: float, heads: Sequence[str] = DEFAULT_HEADS,
                 min_confidence: str = "medium") -> Any:
    """Make `model`'s audio embedding carry the prior at `weight` (a CLAP model with
    `teacher_prior_*` config fields): the named outputs and their name embeddings, computed now
    through the model's own text tower, are stored in the model, so a saved copy needs neither the
    names file nor the UCS list. Returns a new model; `model` is left as it was."""
    import dataclasses

    if not 0.0 <= weight <= 1.0:
        raise AuralignError(f"weight must lie in [0, 1], got {weight}")
    model.eval()
    named = load_named_outputs(heads, min_confidence)
    config = dataclasses.replace(model.config, teacher_prior_weight=weight,
                                 teacher_prior_outputs=[f"{o.head}:{o.output}" for o in named])
    with torch.inference_mode(False):  # a model built under inference mode could never train again
        prior = TeacherPrior.build(model, named)
        attached = type(model)(config, audio_encoder=model.audio_encoder, text_encoder=model.text_encoder)
        attached.load_weights({k: v for k, v in model.state_dict_for_checkpoint().items()
                               if not k.startswith("teacher_prior_vectors")}
                              | {"teacher_prior_vectors": prior.name_vectors.clone()})
    return attached.eval()
