"""The optimisation settings every method shares; each method's run config nests one as `train`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from auralign.config import config_from_dict, config_to_dict, load_config, save_config_json
from auralign.errors import AuralignError

__all__ = ["TrainConfig", "config_from_dict", "config_to_dict", "load_config", "save_config_json"]


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping settings shared by every method.

    `batch_size` is the global batch of one optimizer step, summed over processes and accumulation
    micro-steps: each process sees micro-batches of batch_size / (num_processes * grad_accum_steps),
    so a contrastive loss sees batch_size / grad_accum_steps candidates per micro-step.
    Training runs `max_steps` optimizer steps when set, else `epochs` passes over the data.
    Intervals (`eval_every`, `save_every`, `log_every`) count optimizer steps; 0 means only at the end.
    """

    lr: float = 1e-4
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    warmup_steps: int = 0
    max_steps: int | None = None
    epochs: int = 1
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    batch_size: int = 64
    grad_accum_steps: int = 1
    max_grad_norm: float = 1.0
    mixed_precision: Literal["auto", "no", "bf16"] = "auto"
    seed: int = 0
    eval_every: int = 0
    save_every: int = 1000
    keep_last: int = 3
    log_every: int = 10
    num_workers: int = 0
    output_dir: str = "runs/default"
    tensorboard: bool = False

    def __post_init__(self) -> None:
        positive = {
            "batch_size": self.batch_size,
            "grad_accum_steps": self.grad_accum_steps,
            "epochs": self.epochs,
        }
        if self.max_steps is not None:
            positive["max_steps"] = self.max_steps
        non_negative = {
            "warmup_steps": self.warmup_steps,
            "eval_every": self.eval_every,
            "save_every": self.save_every,
            "log_every": self.log_every,
            "num_workers": self.num_workers,
            "keep_last": self.keep_last,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "max_grad_norm": self.max_grad_norm,
        }
        for name, value in positive.items():
            if value < 1:
                raise AuralignError(f"train config: {name} must be >= 1, got {value}")
        for name, value in non_negative.items():
            if value < 0:
                raise AuralignError(f"train config: {name} must be >= 0, got {value}")

    def resolved_mixed_precision(self) -> str:
        """'auto' means bf16 on a GPU that supports it, else none: bf16 autocast on CPU is slower."""
        if self.mixed_precision != "auto":
            return self.mixed_precision
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
