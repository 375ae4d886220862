"""Santa: k-means memory, nearest-cluster top-L retrieval, softmax weights and the audio/text balance."""

from __future__ import annotations

import pytest
import torch

from auralign.errors import AuralignError
from auralign.models.santa import Santa, SantaConfig


def clustered_memory(per_cluster: int = 20, dim: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three tight, well separated groups around orthogonal directions; returns (memory, centres)."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.eye(dim)[:3] * 5
    rows = [centre + 0.05 * torch.randn(per_cluster, dim, generator=generator) for centre in centres]
    return torch.cat(rows), centres


def built_santa(**overrides) -> tuple[Santa, torch.Tensor]:
    memory, _ = clustered_memory()
    config = SantaConfig(memory_size=len(memory), clusters=3, top_l=5, temperature=0.1, balance=0.3, **overrides)
    santa = Santa(config, memory.shape[1])
    santa.build(memory, seed=0)
    return santa, memory


def reference(z: torch.Tensor, members: torch.Tensor, temperature: float, balance: float) -> torch.Tensor:
    weights = torch.softmax(members @ z / temperature, dim=0)
    return (1 - balance) * z + balance * (weights[:, None] * members).sum(0)


def test_kmeans_recovers_the_three_groups() -> None:
    santa, _ = built_santa()
    groups = santa.cluster_of.view(3, -1)
    assert all(len(set(group.tolist())) == 1 for group in groups)
    assert len(set(groups[:, 0].tolist())) == 3
    assert bool(santa.built)


def test_output_is_the_balanced_softmax_mix_of_the_nearest_members_of_the_nearest_cluster() -> None:
    santa, memory = built_santa()
    z = torch.eye(8)[1] * 0.9 + 0.1 * torch.eye(8)[0]  # nearest to group 1
    distances = (memory - z).norm(dim=1)
    in_group = torch.arange(len(memory)) // 20 == 1
    nearest = distances.masked_fill(~in_group, float("inf")).topk(5, largest=False).indices
    expected = reference(z, memory[nearest], 0.1, 0.3)
    torch.testing.assert_close(santa(z[None])[0], expected)


def test_without_kmeans_the_top_l_come_from_the_whole_memory() -> None:
    memory = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    santa = Santa(SantaConfig(memory_size=4, clusters=2, top_l=3, temperature=1.0, balance=0.5,
                              use_kmeans=False), 2)
    santa.build(memory)
    z = torch.tensor([0.6, 0.5])
    nearest = (memory - z).norm(dim=1).topk(3, largest=False).indices
    torch.testing.assert_close(santa(z[None])[0], reference(z, memory[nearest], 1.0, 0.5))
    santa.config.use_kmeans = True  # clusters {0, 1} and {2, 3}; z is nearer the first centre
    torch.testing.assert_close(santa(z[None])[0], reference(z, memory[:2], 1.0, 0.5))


def test_balance_zero_or_disabled_returns_the_audio_embedding_and_balance_one_drops_it() -> None:
    santa, memory = built_santa()
    z = torch.randn(4, 8)
    santa.config.balance = 0.0
    torch.testing.assert_close(santa(z), z)
    santa.config.balance, santa.config.enabled = 0.3, False
    torch.testing.assert_close(santa(z), z)
    santa.config.enabled, santa.config.balance = True, 1.0
    out = santa(torch.eye(8)[2][None] * 3)
    assert torch.allclose(out[0], memory[40:].mean(0), atol=0.2)  # only group-2 text, no audio left


def test_top_l_larger_than_the_cluster_uses_only_its_members() -> None:
    santa, _ = built_santa()
    santa.config.top_l = 50
    santa.config.balance = 1.0
    out = santa(torch.eye(8)[0][None] * 5)[0]
    assert out[0] > 4.5 and out[1:3].abs().max() < 0.2


def test_unbuilt_memory_is_an_error_and_wrong_sizes_are_refused() -> None:
    santa = Santa(SantaConfig(memory_size=10, clusters=2), 4)
    with pytest.raises(AuralignError, match="empty"):
        santa(torch.randn(1, 4))
    with pytest.raises(AuralignError, match="rows"):
        santa.build(torch.randn(9, 4))
    with pytest.raises(AuralignError, match="clusters"):
        Santa(SantaConfig(memory_size=3, clusters=5), 4)


def test_buffers_survive_a_state_dict_round_trip() -> None:
    santa, _ = built_santa()
    fresh = Santa(santa.config, 8)
    fresh.load_state_dict(santa.state_dict())
    z = torch.randn(3, 8)
    torch.testing.assert_close(fresh(z), santa(z))
