"""Symmetric InfoNCE (the CLIP loss) that gives the same gradients on N processes as on one.

Under data parallelism each process holds a local slice of the global batch. To keep the negatives of
the global batch, every process gathers all processes' features *with gradients* and scores its
local rows against all global columns, with labels offset by its rank (open_clip's ClipLoss with
gather_with_grad=True, local_loss=True). Why the gradients come out right:

* the loss on process r is the mean over its local rows, so the mean over processes is the
  global-batch loss (each process holds the same number of rows: use drop_last);
* the gather's backward sums the gradients that every process's loss sends to the features of
  process r, and DDP then averages parameter gradients over processes, which together give the
  gradient of that mean, i.e. exactly the single-process gradient of the global-batch loss.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


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

    def __init__(self, init_scale: float = 1 / 0.07, max_scale: float = 100.0) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.max_scale = max_scale

    def forward(self) -> Tensor:
        return self.log_scale.exp().clamp(max=self.max_scale)
