"""The training losses of every method: the symmetric contrastive loss (CLAP, SLIT's ATC, CoLLAT's
global loss) with the learnable logit scale, and CoLLAT's token losses. SLIT's matching and
generation losses and MATS's are the language model's cross-entropy (in the model classes).

**Symmetric InfoNCE (the CLIP loss) that gives the same gradients on N processes as on one.**

Under data parallelism each process holds a local slice of the global batch. To keep the negatives of
the global batch, every process gathers all processes' features *with gradients* and scores its
local rows against all global columns, with labels offset by its rank (open_clip's ClipLoss with
gather_with_grad=True, local_loss=True). Why the gradients come out right:

* the loss on process r is the mean over its local rows, so the mean over processes is the
  global-batch loss (each process holds the same number of rows: use drop_last);
* the gather's backward sums the gradients that every process's loss sends to the features of
  process r, and DDP then averages parameter gradients over processes, which together give the
  gradient of that mean, i.e. exactly the single-process gradient of the global-batch loss.

**CoLLAT's three training objectives (CoLLAT paper, sections 3.2-3.4) and the greedy matching g.**

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

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

INIT_LOGIT_SCALE = 1 / 0.07  # the contrastive temperature's start, as CLIP


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _rank() -> int:
    return dist.get_rank() if _distributed() else 0


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward hands each process the summed gradient of its own slice.

    Written with all_reduce rather than reduce_scatter/all_to_all so it works on every backend,
    gloo included.
    """

    @staticmethod
    def forward(ctx, local: Tensor) -> Tensor:  # type: ignore[override]
        local = local.contiguous()
        parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, local)
        ctx.local_rows = local.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad_global: Tensor) -> Tensor:  # type: ignore[override]
        grad_global = grad_global.contiguous()
        dist.all_reduce(grad_global, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.local_rows
        return grad_global[start : start + ctx.local_rows]


def gather_with_grad(local: Tensor) -> Tensor:
    """Concatenate `local` (B, ...) from every process along dim 0, keeping autograd; identity on one."""
    return _GatherWithGrad.apply(local) if _distributed() else local


def gather_labels(local: Tensor) -> Tensor:
    """Concatenate integer labels (B,) from every process, without gradients."""
    if not _distributed():
        return local
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local.contiguous())
    return torch.cat(parts, dim=0)


def positives_from_labels(local_labels: Tensor) -> Tensor:
    """Multi-positive targets (B, B_global): 1 where a local item and a global item share a label.

    Labels identify a clip (several captions of one clip) or a class; the relation is symmetric, so
    the same rows serve both directions of the loss.
    """
    global_labels = gather_labels(local_labels)
    return (local_labels[:, None] == global_labels[None, :]).float()


def contrastive_loss(
    audio: Tensor, text: Tensor, logit_scale: Tensor, targets: Tensor | None = None
) -> Tensor:
    """Symmetric InfoNCE between paired (B, D) L2-normalised features of this process's batch slice.

    `logit_scale` multiplies the cosine similarities. Without `targets`, item i of `audio` and item i
    of `text` are the only positive pair. With `targets` (B, B_global, 0/1, at least one 1 per row),
    every marked pair is a positive and the loss is cross entropy against the row-normalised
    targets; the relation must be symmetric (shared clip or shared label), because the same rows are
    used for the audio-to-text and the text-to-audio direction.
    """
    if audio.shape != text.shape or audio.ndim != 2:
        raise ValueError(
            f"expected two (B, D) tensors of equal shape, got {tuple(audio.shape)} and {tuple(text.shape)}"
        )
    all_audio = gather_with_grad(audio)
    all_text = gather_with_grad(text)
    logits_audio_to_text = logit_scale * audio @ all_text.T
    logits_text_to_audio = logit_scale * text @ all_audio.T
    if targets is None:
        labels = torch.arange(audio.shape[0], device=audio.device) + _rank() * audio.shape[0]
        return (
            F.cross_entropy(logits_audio_to_text, labels) + F.cross_entropy(logits_text_to_audio, labels)
        ) / 2
    if targets.shape != logits_audio_to_text.shape:
        raise ValueError(
            f"targets must be (B, B_global) = {tuple(logits_audio_to_text.shape)}, got {tuple(targets.shape)}"
        )
    soft = targets.to(logits_audio_to_text.dtype)
    soft = soft / soft.sum(dim=1, keepdim=True)
    return (
        soft_cross_entropy(logits_audio_to_text, soft) + soft_cross_entropy(logits_text_to_audio, soft)
    ) / 2


def soft_cross_entropy(logits: Tensor, soft_targets: Tensor) -> Tensor:
    """Cross-entropy against a target distribution per row (rows of `soft_targets` sum to 1)."""
    return -(soft_targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


class LogitScale(nn.Module):
    """Learnable temperature, stored as a log so it stays positive: scale = exp(log_scale) <= max_scale.

    Initialised at 1/0.07 as in CLIP. The clamp caps the scale at 100 so training cannot sharpen
    the softmax without bound (beyond the cap the parameter gets no gradient).
    """

    def __init__(self, init_scale: float = INIT_LOGIT_SCALE, max_scale: float = 100.0) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.max_scale = max_scale

    def forward(self) -> Tensor:
        return self.log_scale.exp().clamp(max=self.max_scale)


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

