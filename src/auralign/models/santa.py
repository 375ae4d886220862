"""Santa (MATS, section 3.4): move an audio embedding towards the text side of the CLAP space at inference.

A memory holds M noisy text embeddings m_i = E_T(T_i) + eps of training texts, grouped by k-means
into K clusters. For an audio embedding z_a, Santa picks the cluster whose centre is nearest (L2),
takes the L members of that cluster nearest to z_a, weights them by softmax(z_a . m_i / tau) and
blends: (1 - lambda) z_a + lambda sum_i w_i m_i.

The memory, its cluster centres and each member's cluster are buffers, so they are saved with the
model (`MatsModel.extra_saved_tensors`) and never retrained. Turning parts off gives the paper's
ablations: `use_kmeans=False` searches the whole memory; `balance=1` drops the audio embedding
(memory-only, as DRCap); `enabled=False` returns z_a unchanged (noise-only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from auralign.errors import AuralignError


@dataclass
class SantaConfig:
    memory_size: int = 4000  # M: noisy text embeddings kept (about 1 MB at 256-d fp16 per 2000)
    clusters: int = 100  # K
    top_l: int = 32  # L: members of the nearest cluster that are mixed in
    temperature: float = 0.1  # tau of the softmax over z_a . m_i
    balance: float = 0.3  # lambda: 0 = audio embedding only, 1 = memory only
    use_kmeans: bool = True
    enabled: bool = True


class Santa(nn.Module):
    """The memory buffers and the mixing rule of equations (6)-(7)."""

    buffer_names = ("memory", "centroids", "cluster_of", "built")

    def __init__(self, config: SantaConfig, dim: int) -> None:
        super().__init__()
        if config.clusters > config.memory_size:
            raise AuralignError(f"santa: {config.clusters} clusters for a memory of {config.memory_size}")
        self.config = config
        self.register_buffer("memory", torch.zeros(config.memory_size, dim))
        self.register_buffer("centroids", torch.zeros(config.clusters, dim))
        self.register_buffer("cluster_of", torch.zeros(config.memory_size, dtype=torch.long))
        self.register_buffer("built", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def build(self, noisy_text_embeddings: Tensor, seed: int = 0, iterations: int = 25) -> None:
        """Fill the memory with exactly `memory_size` rows and cluster it with faiss k-means."""
        import faiss

        rows = noisy_text_embeddings.detach().float().cpu()
        if rows.shape != self.memory.shape:
            raise AuralignError(f"santa memory expects {tuple(self.memory.shape)} rows, got {tuple(rows.shape)}")
        data = np.ascontiguousarray(rows.numpy(), dtype=np.float32)
        kmeans = faiss.Kmeans(data.shape[1], self.config.clusters, niter=iterations, seed=seed, verbose=False,
                              min_points_per_centroid=1, max_points_per_centroid=100_000)
        kmeans.train(data)
        _, assignment = kmeans.index.search(data, 1)
        self.memory.copy_(rows)
        self.centroids.copy_(torch.from_numpy(kmeans.centroids))
        self.cluster_of.copy_(torch.from_numpy(assignment[:, 0].astype(np.int64)))
        self.built.fill_(True)

    def forward(self, audio_embeddings: Tensor) -> Tensor:
        """(B, E) audio embeddings -> (B, E) embeddings moved towards the memory."""
        config = self.config
        if not config.enabled or config.balance == 0:
            return audio_embeddings
        if not bool(self.built):
            raise AuralignError("the Santa memory is empty: build it (MatsModel.build_memory) before inference")
        z = audio_embeddings.to(self.memory.dtype)
        distances = torch.cdist(z, self.memory).square()  # (B, M)
        if config.use_kmeans:
            nearest_cluster = torch.cdist(z, self.centroids).argmin(dim=1)  # (B,)
            outside = self.cluster_of.unsqueeze(0) != nearest_cluster.unsqueeze(1)
            distances = distances.masked_fill(outside, float("inf"))
        top_l = min(config.top_l, self.memory.shape[0])
        nearest_distances, nearest = distances.topk(top_l, dim=1, largest=False)
        members = self.memory[nearest]  # (B, L, E)
        logits = torch.einsum("be,ble->bl", z, members) / config.temperature
        logits = logits.masked_fill(torch.isinf(nearest_distances), float("-inf"))  # small clusters
        weights = logits.softmax(dim=1)
        mixed = torch.einsum("bl,ble->be", weights, members)
        return ((1 - config.balance) * z + config.balance * mixed).to(audio_embeddings.dtype)
