"""Symmetric InfoNCE on one process: hand-computed values, gradients, the multi-positive variant.

The multi-process behaviour (gather with gradients, labels offset by rank) is checked end to end in
test_trainer.py, where 2 processes must reproduce the single-process losses and updates.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from auralign.models.losses import LogitScale, contrastive_loss, positives_from_labels


def test_identical_orthonormal_pairs() -> None:
    # logits = s * I: every row's cross entropy is log(1 + e^-s) in both directions.
    eye = torch.eye(2)
    loss = contrastive_loss(eye, eye, torch.tensor(3.0))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-3.0)), rel=1e-6)


def test_swapped_pairs_are_penalised() -> None:
    eye = torch.eye(2)
    loss = contrastive_loss(eye, eye.flip(0), torch.tensor(2.0))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(2.0)), rel=1e-6)


def test_asymmetric_case_averages_both_directions() -> None:
    audio = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    s = 2.0
    # audio->text rows: [s, 0.6s] (target 0), [0, 0.8s] (target 1)
    a2t = [math.log(1 + math.exp(0.6 * s - s)), math.log(1 + math.exp(0 - 0.8 * s))]
    # text->audio rows: [s, 0] (target 0), [0.6s, 0.8s] (target 1)
    t2a = [math.log(1 + math.exp(0 - s)), math.log(1 + math.exp(0.6 * s - 0.8 * s))]
    expected = (sum(a2t) / 2 + sum(t2a) / 2) / 2
    assert contrastive_loss(audio, text, torch.tensor(s)).item() == pytest.approx(expected, rel=1e-6)


def test_gradients_reach_both_inputs_and_the_scale() -> None:
    generator = torch.Generator().manual_seed(0)
    audio = F.normalize(torch.randn(4, 3, generator=generator), dim=-1).requires_grad_()
    text = F.normalize(torch.randn(4, 3, generator=generator), dim=-1).requires_grad_()
    scale = LogitScale()
    contrastive_loss(audio, text, scale()).backward()
    for grad in (audio.grad, text.grad, scale.log_scale.grad):
        assert grad is not None
        assert torch.isfinite(grad).all()
        assert grad.abs().sum() > 0


def test_identity_targets_reduce_to_the_standard_loss() -> None:
    generator = torch.Generator().manual_seed(1)
    audio = F.normalize(torch.randn(5, 3, generator=generator), dim=-1)
    text = F.normalize(torch.randn(5, 3, generator=generator), dim=-1)
    scale = torch.tensor(10.0)
    standard = contrastive_loss(audio, text, scale)
    multi = contrastive_loss(audio, text, scale, targets=torch.eye(5))
    torch.testing.assert_close(multi, standard)


def test_multi_positive_spreads_the_target() -> None:
    # Two items of the same label: each row's target is 1/2 on both columns.
    audio = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = 2.0
    log_p_hit = -math.log(1 + math.exp(-s))
    log_p_miss = -math.log(1 + math.exp(s))
    expected = -(0.5 * log_p_hit + 0.5 * log_p_miss)
    loss = contrastive_loss(audio, text, torch.tensor(s), targets=torch.ones(2, 2))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_positives_from_labels() -> None:
    targets = positives_from_labels(torch.tensor([3, 1, 3]))
    expected = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    torch.testing.assert_close(targets, expected)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_loss_ignores_the_order_of_pairs(batch: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    audio = F.normalize(torch.randn(batch, 4, generator=generator), dim=-1)
    text = F.normalize(torch.randn(batch, 4, generator=generator), dim=-1)
    order = torch.randperm(batch, generator=generator)
    scale = torch.tensor(7.0)
    torch.testing.assert_close(
        contrastive_loss(audio, text, scale), contrastive_loss(audio[order], text[order], scale)
    )


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="equal shape"):
        contrastive_loss(torch.zeros(2, 3), torch.zeros(3, 3), torch.tensor(1.0))
    with pytest.raises(ValueError, match="targets"):
        contrastive_loss(torch.eye(2), torch.eye(2), torch.tensor(1.0), targets=torch.ones(2, 3))


def test_logit_scale_init_and_clamp() -> None:
    scale = LogitScale()
    assert scale().item() == pytest.approx(1 / 0.07, rel=1e-6)
    with torch.no_grad():
        scale.log_scale.fill_(math.log(1000.0))
    assert scale().item() == pytest.approx(100.0)
