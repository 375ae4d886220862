"""Learning-rate schedules: linear warmup, then cosine, linear or constant, as a LambdaLR factor."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

SCHEDULES = ("cosine", "linear", "constant")


@dataclass
class WarmupDecay:
    """Multiplier of the base learning rate for optimizer step `step` (0-based).

    Warmup rises as (step + 1) / warmup_steps, so the first step already learns and step
    warmup_steps - 1 reaches the full rate; afterwards the factor decays from 1 towards 0 at
    total_steps. A plain dataclass (not a closure) so LambdaLR can put its fields in state_dict().
    """

    warmup_steps: int
    total_steps: int
    kind: str = "cosine"

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}; choose one of {', '.join(SCHEDULES)}")

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        if self.kind == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: Optimizer, warmup_steps: int, total_steps: int, kind: str) -> LambdaLR:
    return LambdaLR(optimizer, WarmupDecay(warmup_steps, total_steps, kind))
