"""CoLLAT's three training objectives (CoLLAT paper, sections 3.2-3.4) and the greedy matching g.

* `greedy_match` / `cross_token_loss`: L_cross-token, the L1 distance between the text tokens and the
  audio-derived pseudo tokens after reordering the pseudo tokens one-to-one by the paper's greedy g.
* `cross_global_loss`: L_cross-global, the symmetric contrastive loss over global embeddings.
* `uni_token_loss`: L_uni-token, the L1 distance between the pseudo tokens of clean and of noisy audio.

Both token losses are mean absolute errors per element divided by a detached `scale` (the caller
passes the standard deviation of the text-side tokens at the layer where the loss is taken), so
their size does not depend on which text encoder or layer is used and the paper's weights
(1, 0.1, 0.01) keep a comparable meaning.
"""

from __future__ import annotations

import torch
from torch import Tensor

from auralign.models.contrastive import contrastive_loss, positives_from_labels


@torch.no_grad()
def greedy_match(predicted: Tensor, target: Tensor, target_mask: Tensor) -> Tensor:
    """The paper's greedy one-to-one reordering g, batched.

    predicted: (B, P, D) pseudo tokens; target: (B, N, D) text tokens with N <= P; target_mask:
    (B, N) bool, True on real (non-padding) text tokens. Going from the right-most *real* text token
    to the left, each text token takes the closest (L1) pseudo token not yet taken. Returns (B, N)
    long: the pseudo-token index paired with each text position; -1 at padding positions, which take
    no pseudo token (so the P - n_real pseudo tokens left over are not constrained by the loss).

    Computed without gradients: the assignment is fixed before each weight update, as in the paper.
    """
    batch, positions, _ = target.shape
    if predicted.shape[1] < positions:
        raise ValueError(f"{predicted.shape[1]} pseudo tokens cannot cover {positions} text tokens")
    cost = torch.cdist(target.float(), predicted.float(), p=1)  # (B, N, P)
    taken = torch.zeros(batch, predicted.shape[1], dtype=torch.bool, device=predicted.device)
    assignment = torch.full((batch, positions), -1, dtype=torch.long, device=predicted.device)
    rows = torch.arange(batch, device=predicted.device)
    for position in reversed(range(positions)):
        real = target_mask[:, position]
        choice = cost[:, position].masked_fill(taken, float("inf")).argmin(dim=1)
        assignment[:, position] = torch.where(real, choice, -1)
        taken[rows[real], choice[real]] = True
    return assignment


def reorder(predicted: Tensor, assignment: Tensor) -> Tensor:
    """g(predicted): (B, N, D) with row n = the pseudo token assigned to text position n (zeros at -1)."""
    index = assignment.clamp_min(0).unsqueeze(-1).expand(-1, -1, predicted.shape[-1])
    gathered = predicted.gather(1, index)
    return gathered * (assignment >= 0).unsqueeze(-1).to(gathered.dtype)


def cross_token_loss(predicted: Tensor, target: Tensor, target_mask: Tensor, scale: Tensor | float = 1.0,
                     ) -> Tensor:
    """L_cross-token = |g(h^{a-t}) - h^t|_1 over the real text tokens, per element, divided by `scale`.

    Gradients reach `predicted` only (the text tokens are targets from the locked encoder).
    """
    assignment = greedy_match(predicted, target, target_mask)
    difference = (reorder(predicted, assignment) - target.detach()).abs().mean(dim=-1)  # (B, N)
    weights = target_mask.to(difference.dtype)
    return (difference * weights).sum() / weights.sum().clamp_min(1.0) / scale


def cross_global_loss(audio: Tensor, text: Tensor, logit_scale: Tensor, match_ids: Tensor | None = None,
                      ) -> Tensor:
    """L_cross-global: symmetric InfoNCE of L2-normalised (B, E) global embeddings at the learnt
    temperature; with `match_ids`, items sharing an id (the same label set) are positives of each
    other instead of false negatives."""
    targets = None if match_ids is None else positives_from_labels(match_ids)
    return contrastive_loss(audio, text, logit_scale, targets)


def uni_token_loss(clean: Tensor, noisy: Tensor, scale: Tensor | float = 1.0) -> Tensor:
    """L_uni-token = |h^{a-t} - h~^{a-t}|_1 per element, divided by `scale`; both branches get gradients."""
    return (clean - noisy).abs().mean() / scale

