"""CoLLAT losses: the greedy matching g against a brute-force optimum, padding, and gradient flow."""

from __future__ import annotations

from itertools import permutations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from auralign.models.losses import (
    contrastive_loss,
    cross_global_loss,
    cross_token_loss,
    greedy_match,
    positives_from_labels,
    reorder,
    uni_token_loss,
)


def brute_force_match(predicted: torch.Tensor, target: torch.Tensor, target_mask: torch.Tensor,
                      ) -> tuple[torch.Tensor, float]:
    """The optimal one-to-one assignment of one item by enumeration: (N,) indices (-1 at padding), cost."""
    real = [n for n in range(target.shape[0]) if bool(target_mask[n])]
    cost = torch.cdist(target, predicted, p=1)
    best, best_cost = (), float("inf")
    for chosen in permutations(range(predicted.shape[0]), len(real)):
        total = float(sum(cost[n, p] for n, p in zip(real, chosen, strict=True)))
        if total < best_cost:
            best, best_cost = chosen, total
    assignment = torch.full((target.shape[0],), -1, dtype=torch.long)
    assignment[real] = torch.tensor(best, dtype=torch.long)
    return assignment, best_cost


def assignment_cost(predicted: torch.Tensor, target: torch.Tensor, assignment: torch.Tensor) -> float:
    real = assignment >= 0
    return float((target[real] - predicted[assignment[real]]).abs().sum())


def right_padded_mask(lengths: list[int], positions: int) -> torch.Tensor:
    return torch.arange(positions)[None, :] < torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("seed", range(20))
def test_greedy_is_optimal_when_tokens_are_distinct(seed: int) -> None:
    """The paper's claim: with distinct concepts, greedy reordering finds the optimum (here exactly
    the hidden permutation, since the pseudo tokens are a noisy shuffle of the text tokens)."""
    generator = torch.Generator().manual_seed(seed)
    batch, positions, extra, dim = 3, 5, 1, 8
    target = torch.randn(batch, positions, dim, generator=generator)
    mask = right_padded_mask([5, 3, 4], positions)
    predicted = torch.randn(batch, positions + extra, dim, generator=generator)
    hidden = torch.stack([torch.randperm(positions + extra, generator=generator) for _ in range(batch)])
    for b in range(batch):
        predicted[b, hidden[b, :positions]] = target[b] + 0.05 * torch.randn(positions, dim, generator=generator)
    assignment = greedy_match(predicted, target, mask)
    for b in range(batch):
        optimum, optimum_cost = brute_force_match(predicted[b], target[b], mask[b])
        assert torch.equal(assignment[b], optimum)
        assert assignment_cost(predicted[b], target[b], assignment[b]) == pytest.approx(optimum_cost, rel=1e-5)
        real = mask[b]
        assert torch.equal(assignment[b][real], hidden[b, :positions][real])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), positions=st.integers(1, 4), extra=st.integers(0, 2),
       length=st.integers(0, 4))
def test_greedy_is_one_to_one_and_never_below_the_optimum(seed: int, positions: int, extra: int,
                                                          length: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    length = min(length, positions)
    target = torch.randn(1, positions, 3, generator=generator)
    predicted = torch.randn(1, positions + extra, 3, generator=generator)
    mask = right_padded_mask([length], positions)
    assignment = greedy_match(predicted, target, mask)[0]
    assert (assignment[~mask[0]] == -1).all()
    used = assignment[mask[0]]
    assert len(set(used.tolist())) == length and ((used >= 0) & (used < positions + extra)).all()
    _, optimum_cost = brute_force_match(predicted[0], target[0], mask[0])
    assert assignment_cost(predicted[0], target[0], assignment) >= optimum_cost - 1e-4


def test_greedy_can_be_worse_than_the_optimum_with_similar_tokens() -> None:
    """Documented limitation (the paper's 'very similar classes'): 1-D text tokens 0 and 1, pseudo
    tokens 0.9 and 2. Greedy serves the right-most text token first, so 1 takes 0.9 (cost 0.1) and 0
    is left with 2 (cost 2): total 2.1, where the optimum (0->0.9, 1->2) costs 1.9."""
    target = torch.tensor([[[0.0], [1.0]]])
    predicted = torch.tensor([[[0.9], [2.0]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    assignment = greedy_match(predicted, target, mask)
    assert assignment.tolist() == [[1, 0]]
    assert assignment_cost(predicted[0], target[0], assignment[0]) == pytest.approx(2.1)
    optimum, optimum_cost = brute_force_match(predicted[0], target[0], mask[0])
    assert optimum.tolist() == [0, 1] and optimum_cost == pytest.approx(1.9)


def test_right_most_text_token_chooses_first() -> None:
    target = torch.tensor([[[0.0], [0.2]]])
    predicted = torch.tensor([[[0.1], [5.0]]])
    assignment = greedy_match(predicted, target, torch.ones(1, 2, dtype=torch.bool))
    assert assignment.tolist() == [[1, 0]]  # position 1 (right-most) wins the shared nearest token


def test_padding_takes_no_pseudo_token_and_does_not_change_the_loss() -> None:
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(2, 4, 6, generator=generator)
    predicted = torch.randn(2, 5, 6, generator=generator)
    mask = right_padded_mask([2, 4], 4)
    assignment = greedy_match(predicted, target, mask)
    assert assignment[0, 2:].tolist() == [-1, -1]
    changed = target.clone()
    changed[0, 2:] = 100.0  # whatever sits at padding positions
    assert cross_token_loss(predicted, changed, mask) == pytest.approx(float(cross_token_loss(predicted, target, mask)))
    assert reorder(predicted, assignment)[0, 2:].abs().sum() == 0


def test_cross_token_loss_is_zero_for_a_shuffled_copy_and_scales() -> None:
    generator = torch.Generator().manual_seed(1)
    target = torch.randn(2, 4, 6, generator=generator)
    mask = right_padded_mask([4, 3], 4)
    predicted = torch.cat([target, torch.randn(2, 2, 6, generator=generator)], dim=1)[:, [5, 2, 0, 4, 1, 3]]
    assert cross_token_loss(predicted, target, mask) == pytest.approx(0.0, abs=1e-6)
    shifted = predicted + 0.5
    assert cross_token_loss(shifted, target, mask) == pytest.approx(0.5, rel=1e-5)
    assert cross_token_loss(shifted, target, mask, scale=2.0) == pytest.approx(0.25, rel=1e-5)


def test_cross_token_gradient_reaches_only_matched_pseudo_tokens() -> None:
    generator = torch.Generator().manual_seed(2)
    target = torch.randn(1, 3, 4, generator=generator).requires_grad_(True)
    predicted = torch.randn(1, 5, 4, generator=generator).requires_grad_(True)
    mask = right_padded_mask([2], 3)
    cross_token_loss(predicted, target, mask).backward()
    assignment = greedy_match(predicted, target, mask)[0]
    touched = predicted.grad[0].abs().sum(dim=-1) > 0
    assert set(touched.nonzero().flatten().tolist()) == set(assignment[:2].tolist())
    assert target.grad is None  # text tokens are targets only


def test_uni_token_loss_gradients_reach_both_branches() -> None:
    clean = torch.randn(2, 3, 4, requires_grad=True)
    noisy = (clean.detach() + 0.1).requires_grad_(True)
    loss = uni_token_loss(clean, noisy, scale=0.5)
    assert loss.item() == pytest.approx(0.2, rel=1e-5)
    loss.backward()
    assert clean.grad.abs().sum() > 0 and noisy.grad.abs().sum() > 0
    assert uni_token_loss(clean, clean).item() == 0.0


def test_cross_global_loss_is_the_shared_contrastive_loss() -> None:
    audio = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1).requires_grad_(True)
    text = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    scale = torch.tensor(10.0)
    plain = cross_global_loss(audio, text, scale).item()
    assert plain == pytest.approx(contrastive_loss(audio, text, scale).item())
    ids = torch.tensor([0, 1, 0, 2])
    expected = contrastive_loss(audio, text, scale, positives_from_labels(ids)).item()
    loss = cross_global_loss(audio, text, scale, ids)
    assert loss.item() == pytest.approx(expected) and loss.item() != pytest.approx(plain)
    loss.backward()
    assert audio.grad.abs().sum() > 0
