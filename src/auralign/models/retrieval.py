"""The retrieval floor of captioning: a clip's caption is the training caption nearest to its embedding.

Any audio-text embedder (`general`, `clap-fsdd`, CoLLAT) becomes a captioner this way, with no
generation at all. Every captioning table reports it beside the generative models, so we see whether
generation adds anything over looking up what people wrote about the most similar-sounding text.

The caption bank's embeddings are computed once per (model, captions) and kept on disk under
`$AURALIGN_HOME/caption-banks/`, keyed by a digest of the captions and of the model's text space (the
embedding of a probe sentence), so a retrained checkpoint at the same path never reuses stale vectors.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor, nn

from auralign.backbones.base import Decoding
from auralign.errors import AuralignError
from auralign.models.base import AudioTextEmbedder
from auralign.paths import auralign_home
from auralign.progress import progress_bar
from auralign.tensors_io import load_tensors

PROBE = "a dog barks in the distance while rain falls"
BANK_BATCH = 512


def bank_digest(model: AudioTextEmbedder, captions: list[str]) -> str:
    """Names the (text space, captions) pair: changes when either does."""
    probe = model.embed_text([PROBE]).float().numpy().round(4).tobytes()
    return hashlib.sha256(probe + "\n".join(captions).encode()).hexdigest()[:32]


@torch.inference_mode()
def caption_bank(model: AudioTextEmbedder, captions: list[str], cache_dir: Path | None = None,
                 progress: bool = True) -> Tensor:
    """(N, E) L2-normalised text embeddings of `captions`, from the on-disk cache when present."""
    if not captions:
        raise AuralignError("the caption bank is empty")
    cache_dir = cache_dir or auralign_home() / "caption-banks"
    path = cache_dir / f"{bank_digest(model, captions)}.safetensors"
    if path.is_file():
        vectors = load_tensors(path)["vectors"]
        if vectors.shape[0] == len(captions):
            return vectors.float()
    parts = []
    with progress_bar(len(captions), "embedding captions", enabled=progress) as advance:
        for start in range(0, len(captions), BANK_BATCH):
            batch = captions[start:start + BANK_BATCH]
            parts.append(F.normalize(model.embed_text(batch).float(), dim=-1))
            advance(len(batch))
    vectors = torch.cat(parts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    save_file({"vectors": vectors.half().contiguous()}, str(partial))
    partial.replace(path)
    return vectors.half().float()


class CaptionRetriever(nn.Module):
    """An `AudioTextGenerator` whose "generation" is nearest-neighbour lookup in a caption bank."""

    def __init__(self, embedder: AudioTextEmbedder, captions: list[str], vectors: Tensor) -> None:
        super().__init__()
        if len(captions) != vectors.shape[0]:
            raise AuralignError(f"{len(captions)} captions but {vectors.shape[0]} vectors")
        self.embedder = embedder
        self.audio_encoder = embedder.audio_encoder
        self.captions = captions
        self.register_buffer("vectors", vectors.float(), persistent=False)

    @classmethod
    def from_captions(cls, embedder: AudioTextEmbedder, captions: list[str], progress: bool = True) -> CaptionRetriever:
        unique = list(dict.fromkeys(captions))
        return cls(embedder, unique, caption_bank(embedder, unique, progress=progress))

    @torch.inference_mode()
    def nearest(self, embeddings: Tensor, k: int = 1) -> tuple[Tensor, Tensor]:
        """(B, k) cosine similarities and caption indices of the `k` nearest captions."""
        similarities = F.normalize(embeddings.float(), dim=-1) @ self.vectors.T
        return similarities.topk(min(k, len(self.captions)), dim=-1)

    @torch.inference_mode()
    def generate(self, tokens: Tensor, mask: Tensor, instruction: str | None = None,
                 decoding: Decoding | None = None) -> list[str]:
        """The nearest training caption of each clip. Retrieval only captions: a question is refused."""
        if instruction is not None:
            raise AuralignError("a retrieval captioner only captions; use a generative model to answer questions")
        _, indices = self.nearest(self.embedder.embed_audio_tokens(tokens, mask))
        return [self.captions[int(i)] for i in indices[:, 0]]

    def nearest_texts(self, embeddings: np.ndarray | Tensor) -> list[str]:
        """The nearest caption of each (already embedded) vector: text-to-text lookup for evaluation."""
        _, indices = self.nearest(torch.as_tensor(embeddings))
        return [self.captions[int(i)] for i in indices[:, 0]]
