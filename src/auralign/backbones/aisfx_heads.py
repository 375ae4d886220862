"""The nine classifier heads of the aiSFX checkpoint, one per sound-effects library it was trained on.

The package's `CrossNet` applies head `fc[index]` (Linear 512-256, ReLU, Linear 256-128, ReLU,
Linear 128-n) to the output of its `EmbeddingNet`: the mean over frequency of the last conv block,
then the max over time, with no normalisation in between. The model is the paper's X-Sequential-CE,
trained with cross-entropy per library, so a head's outputs are class logits and its probabilities are
a softmax over that head alone. The package ships no class names (see docs/teacher.md and
`auralign/resources/teacher_names.json` for names inferred from evidence).

`auralign models fetch` writes the heads beside the embedding network: `heads.safetensors` (keys
`<head>.<layer>.weight|bias`) and `heads.json` ({head: {"index", "n_outputs"}}).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from auralign.backbones.base import masked_max
from auralign.errors import CheckpointError

HEADS_WEIGHTS = "heads.safetensors"
HEADS_CONFIG = "heads.json"
UCS_HEADS = ("prosfx", "soundlyTrain", "ucsMixed")


def head_mlp(in_dim: int, n_outputs: int) -> nn.Sequential:
    """The package's head layout; layer indices 0, 2, 4 match the checkpoint's keys."""
    return nn.Sequential(nn.Linear(in_dim, in_dim // 2), nn.ReLU(), nn.Linear(in_dim // 2, in_dim // 4),
                         nn.ReLU(), nn.Linear(in_dim // 4, n_outputs))


class AisfxHeads(nn.Module):
    """Max-pooled aiSFX clip embeddings (B, 512) -> per-head class probabilities. Frozen."""

    def __init__(self, n_outputs: dict[str, int], in_dim: int = 512) -> None:
        super().__init__()
        self.heads = nn.ModuleDict({name: head_mlp(in_dim, n) for name, n in n_outputs.items()})
        self.requires_grad_(False)
        self.eval()

    @property
    def names(self) -> list[str]:
        return list(self.heads)

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> AisfxHeads:
        """Load heads.json + heads.safetensors from `path` (default: the fetched "aisfx" backbone)."""
        if path is None:
            from auralign.backbones.registry import backbone_path

            path = backbone_path("aisfx")
        folder = Path(path)
        config_file, weights_file = folder / HEADS_CONFIG, folder / HEADS_WEIGHTS
        for required in (config_file, weights_file):
            if not required.is_file():
                raise CheckpointError(
                    f"{folder}: missing {required.name} (fetched by an older auralign? "
                    "run `auralign models fetch` to add the aiSFX heads)"
                )
        config = json.loads(config_file.read_text())
        ordered = sorted(config.items(), key=lambda item: item[1]["index"])
        heads = cls({name: entry["n_outputs"] for name, entry in ordered})
        try:
            heads.heads.load_state_dict(load_file(str(weights_file)))
        except RuntimeError as error:
            raise CheckpointError(f"{weights_file}: weights do not fit the heads in {config_file.name}: "
                                  f"{error}") from error
        return heads

    def logits(self, pooled: Tensor, names: Sequence[str] | None = None) -> dict[str, Tensor]:
        """{head: (B, n) logits} for the heads in `names` (default: all, in checkpoint order)."""
        return {name: self.heads[name](pooled) for name in (names or self.names)}

    def forward(self, pooled: Tensor, names: Sequence[str] | None = None) -> dict[str, Tensor]:
        """{head: (B, n) probabilities}, a softmax over each head's own outputs."""
        return {name: logits.softmax(dim=-1) for name, logits in self.logits(pooled, names).items()}

    def from_tokens(self, tokens: Tensor, mask: Tensor | None = None,
                    names: Sequence[str] | None = None) -> dict[str, Tensor]:
        """Probabilities from the encoder's frame tokens (B, T, 512), pooled as the package does: the max
        over the clip's valid tokens (`mask` (B, T), default all valid)."""
        if mask is None:
            mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return self(masked_max(tokens.float(), mask), names)
