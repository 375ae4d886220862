"""The one training loop every method shares, on `accelerate` (one process, or DDP over processes/nodes).

A method plugs in by handing over an `nn.Module` with `training_loss(batch) -> {"loss": ..., ...}`;
the trainer owns everything else: optimizer, schedule, data order, accumulation, clipping, mixed
precision, logging, evaluation and resumable checkpoints. Optional model methods:

* `trainable_parameters()` -> the parameters to optimise (default: those with requires_grad);
* `state_dict_for_checkpoint()` -> what a checkpoint stores (default: the full state_dict);
* `save_pretrained(directory)` -> called once at the end to write the final model to `output_dir/final`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device, set_seed
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from auralign.errors import AuralignError, CheckpointError
from auralign.training import checkpoint as ckpt
from auralign.training.config import TrainConfig
from auralign.training.logging import RunLogger
from auralign.training.schedule import build_scheduler

EvalFn = Callable[[nn.Module, int], dict[str, float]]


@runtime_checkable
class Trainable(Protocol):
    """What the trainer needs from a model; see the module docstring for the optional methods."""

    def training_loss(self, batch: Any) -> dict[str, Tensor]: ...


class EpochBatchSampler(Sampler[list[int]]):
    """This process's micro-batches, cut from one global permutation that depends only on (seed, epoch).

    Optimizer step s of an epoch uses items perm[s*B:(s+1)*B] of the global batch size B, whatever
    the number of processes P or accumulation steps A: micro-step a of process p takes the slice
    number a*P + p of size B/(P*A). So the data order survives a resume and a change of world size,
    and `start_step` skips the steps an interrupted run had already done. Incomplete batches at the
    end of an epoch are dropped (the contrastive gather needs equal slices on every process).
    """

    def __init__(
        self,
        dataset_size: int,
        batch_size: int,
        num_processes: int,
        process_index: int,
        accum_steps: int,
        seed: int,
    ) -> None:
        if batch_size % (num_processes * accum_steps):
            raise AuralignError(
                f"batch_size {batch_size} must be divisible by processes x grad_accum_steps = {num_processes * accum_steps}"
            )
        self.steps_per_epoch = dataset_size // batch_size
        if self.steps_per_epoch == 0:
            raise AuralignError(f"the dataset has {dataset_size} items, fewer than one batch of {batch_size}")
        self.dataset_size = dataset_size
        self.batch_size = batch_size
        self.num_processes = num_processes
        self.process_index = process_index
        self.accum_steps = accum_steps
        self.micro_batch_size = batch_size // (num_processes * accum_steps)
        self.seed = seed
        self.epoch = 0
        self.start_step = 0

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        self.epoch = epoch
        self.start_step = start_step

    def __iter__(self) -> Iterator[list[int]]:
        permutation = np.random.default_rng([self.seed, self.epoch]).permutation(self.dataset_size)
        for step in range(self.start_step, self.steps_per_epoch):
            global_batch = permutation[step * self.batch_size : (step + 1) * self.batch_size]
            for micro_step in range(self.accum_steps):
                start = (micro_step * self.num_processes + self.process_index) * self.micro_batch_size
                yield global_batch[start : start + self.micro_batch_size].tolist()

    def __len__(self) -> int:
        return (self.steps_per_epoch - self.start_step) * self.accum_steps


class _TrainingLossForward(nn.Module):
    """Routes `forward` to `training_loss`, so DDP (which only hooks `forward`) syncs gradients."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> dict[str, Tensor]:
        return self.model.training_loss(batch)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    hook = getattr(model, "trainable_parameters", None)
    params = list(hook()) if callable(hook) else [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise AuralignError("the model has no trainable parameters")
    return params


def build_optimizer(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.AdamW:
    """AdamW, with weight decay only on matrices: biases, norms and the logit scale (ndim < 2) are exempt."""
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        [g for g in groups if g["params"]], lr=config.lr, betas=config.betas, eps=config.eps
    )


class Trainer:
    """Trains `model` on `train_dataset` following `config`.

    `run_config` (any dataclass, typically the method's whole config) is stored in checkpoints;
    it defaults to `config`. `eval_fn(model, step)` runs every `eval_every` steps and at the end, on
    every process, in eval mode without gradients; its metrics are logged by the main process.
    `resume=True` continues from the latest checkpoint under `output_dir/checkpoints` if there is
    one; a path resumes from that checkpoint.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        train_dataset: Dataset,
        *,
        eval_fn: EvalFn | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        run_config: Any = None,
        resume: bool | str | Path = False,
    ) -> None:
        if not isinstance(model, Trainable):
            raise AuralignError(f"{type(model).__name__} has no training_loss(batch) method")
        self.config = config
        self.run_config = run_config if run_config is not None else config
        self.eval_fn = eval_fn
        self.output_dir = Path(config.output_dir)
        self.checkpoint_root = self.output_dir / "checkpoints"
        # Autocast is applied here rather than through Accelerator(mixed_precision=...), whose
        # process-wide state would forbid two trainers with different precisions in one process.
        self.accelerator = Accelerator(
            gradient_accumulation_steps=config.grad_accum_steps, cpu=not torch.cuda.is_available()
        )
        self.autocast_bf16 = config.resolved_mixed_precision() == "bf16"
        set_seed(config.seed + self.accelerator.process_index)
        self.model = model.to(self.accelerator.device)
        self.parameters = trainable_parameters(model)
        optimizer = build_optimizer(self.parameters, config)
        self.sampler = EpochBatchSampler(
            len(train_dataset),  # type: ignore[arg-type]
            config.batch_size,
            self.accelerator.num_processes,
            self.accelerator.process_index,
            config.grad_accum_steps,
            config.seed,
        )
        self.total_steps = config.max_steps or config.epochs * self.sampler.steps_per_epoch
        # The scheduler stays unprepared: accelerate would step it once per process per step.
        self.scheduler = build_scheduler(optimizer, config.warmup_steps, self.total_steps, config.schedule)
        self.forward_module, self.optimizer = self.accelerator.prepare(_TrainingLossForward(model), optimizer)
        # Not prepared by accelerate on purpose: the sampler already gives each process its shard of
        # one global permutation, which accelerate's own sharding would reorder.
        # Its own generator: a DataLoader iterator otherwise draws a seed from the global torch RNG at
        # every epoch, so a run resumed mid-epoch would continue with a shifted global RNG.
        self.loader = DataLoader(
            train_dataset, batch_sampler=self.sampler, num_workers=config.num_workers, collate_fn=collate_fn,
            generator=torch.Generator().manual_seed(config.seed),
        )
        self.state = ckpt.TrainingState()
        self.logger = RunLogger(
            self.output_dir, enabled=self.accelerator.is_main_process, tensorboard=config.tensorboard
        )
        if resume:
            self._resume(resume)

    @property
    def is_main_process(self) -> bool:
        return self.accelerator.is_main_process

    def fit(self) -> list[dict[str, Any]]:
        """Train until `total_steps`; return the rows logged by this call (train and eval)."""
        history: list[dict[str, Any]] = []
        window = _MetricWindow()
        started = time.monotonic()
        self.model.train()
        with self._progress() as progress:
            task = progress.add_task("train", total=self.total_steps, completed=self.state.step)
            while self.state.step < self.total_steps:
                self.sampler.set_epoch(self.state.epoch, start_step=self.state.step_in_epoch)
                set_dataset_epoch = getattr(self.loader.dataset, "set_epoch", None)
                if callable(set_dataset_epoch):  # per-epoch draws (captions, crops, tasks) must change
                    set_dataset_epoch(self.state.epoch)
                for batch in self.loader:
                    outputs, grad_norm = self._micro_step(batch)
                    window.add(outputs)
                    if not self.accelerator.sync_gradients:
                        continue
                    lr = self.scheduler.get_last_lr()[0]
                    self.scheduler.step()
                    self._advance()
                    progress.advance(task)
                    if self._due(self.config.log_every):
                        row = self._train_row(window, lr, grad_norm, time.monotonic() - started)
                        history.append(row)
                        self.logger.log(row)
                        progress.update(task, description=f"train loss {row['loss']:.4f}")
                    if self.eval_fn is not None and self._due(self.config.eval_every):
                        history.append(self._evaluate())
                    if self._due(self.config.save_every):
                        self.save_checkpoint()
                    if self.state.step >= self.total_steps:
                        break
        self._save_final()
        self.logger.close()
        return history

    def _micro_step(self, batch: Any) -> tuple[dict[str, Tensor], Tensor | None]:
        batch = send_to_device(batch, self.accelerator.device)
        grad_norm = None
        with self.accelerator.accumulate(self.forward_module):
            with torch.autocast(
                self.accelerator.device.type, dtype=torch.bfloat16, enabled=self.autocast_bf16
            ):
                outputs = self.forward_module(batch)
            if "loss" not in outputs:
                raise AuralignError("training_loss(batch) must return a dict with a 'loss' entry")
            self.accelerator.backward(outputs["loss"])
            if self.accelerator.sync_gradients and self.config.max_grad_norm > 0:
                grad_norm = self.accelerator.clip_grad_norm_(self.parameters, self.config.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        return outputs, grad_norm

    def _advance(self) -> None:
        self.state.step += 1
        self.state.step_in_epoch += 1
        if self.state.step_in_epoch == self.sampler.steps_per_epoch:
            self.state.epoch += 1
            self.state.step_in_epoch = 0

    def _due(self, every: int) -> bool:
        """Whether something done every `every` steps is due now; 0 means only after the last step."""
        step = self.state.step
        return step == self.total_steps or (every > 0 and step % every == 0)

    def _train_row(
        self, window: _MetricWindow, lr: float, grad_norm: Tensor | None, elapsed: float
    ) -> dict[str, Any]:
        means = window.pop_means(self.accelerator)
        row: dict[str, Any] = {"kind": "train", "step": self.state.step, "epoch": self._epoch_progress()}
        row["loss"] = means.pop("loss")
        row["lr"] = lr
        row.update(means)
        if grad_norm is not None:
            row["grad_norm"] = float(grad_norm)
        row["time"] = round(elapsed, 3)
        return row

    def _epoch_progress(self) -> float:
        return round(self.state.step / self.sampler.steps_per_epoch, 4)

    def _evaluate(self) -> dict[str, Any]:
        self.model.eval()
        with torch.no_grad():
            metrics = self.eval_fn(self.model, self.state.step)  # type: ignore[misc]
        self.model.train()
        row = {"kind": "eval", "step": self.state.step, "epoch": self._epoch_progress(), **metrics}
        self.logger.log(row)
        return row

    def save_checkpoint(self) -> Path:
        """Write a checkpoint of the current step (all processes must call this together)."""
        step = self.state.step
        if self.is_main_process:
            ckpt.prepare_staging(self.checkpoint_root, step)
        self.accelerator.wait_for_everyone()
        staging = ckpt.staging_dir(self.checkpoint_root, step)
        ckpt.write_rng_state(staging, self.accelerator.process_index)
        if self.is_main_process:
            ckpt.write_training_files(
                staging, self.model, self.optimizer, self.scheduler, self.state, self.run_config
            )
        self.accelerator.wait_for_everyone()
        if self.is_main_process:
            ckpt.commit_checkpoint(self.checkpoint_root, step, self.config.keep_last)
        self.accelerator.wait_for_everyone()
        return ckpt.checkpoint_dir(self.checkpoint_root, step)

    def _save_final(self) -> None:
        if not ckpt.checkpoint_dir(self.checkpoint_root, self.state.step).is_dir():
            self.save_checkpoint()
        save_pretrained = getattr(self.model, "save_pretrained", None)
        if self.is_main_process and callable(save_pretrained):
            save_pretrained(self.output_dir / "final")
        self.accelerator.wait_for_everyone()

    def _resume(self, resume: bool | str | Path) -> None:
        if resume is True:
            candidates = ckpt.resume_candidates(self.checkpoint_root)
            if not candidates:
                self._notice(f"no checkpoint under {self.checkpoint_root}; starting from scratch")
                return
        else:
            candidates = [Path(resume)]
            if not candidates[0].is_dir():
                raise CheckpointError(f"checkpoint {candidates[0]} does not exist")
        path = self._load_first_usable(candidates)
        self.logger.drop_rows_after(self.state.step)
        self._notice(f"resumed from {path} at step {self.state.step}")

    def _load_first_usable(self, candidates: list[Path]) -> Path:
        """Load the first checkpoint that verifies and loads, saying which were skipped and why."""
        reasons = []
        for path in candidates:
            try:
                problem = ckpt.verify_checkpoint(path)
                if problem is not None:
                    raise CheckpointError(problem)
                self.state = ckpt.load_checkpoint(
                    path, self.model, self.optimizer, self.scheduler, self.accelerator.process_index
                )
                return path
            except CheckpointError as error:
                reasons.append(f"{path.name}: {error}")
                self._notice(f"skipped checkpoint {path}: {error}")
        raise CheckpointError("no checkpoint could be resumed from (" + "; ".join(reasons) + ")")

    def _notice(self, message: str) -> None:
        if self.is_main_process:
            Console(stderr=True).print(escape(message), highlight=False, soft_wrap=True)

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=not (self.is_main_process and sys.stdout.isatty()),
        )


class _MetricWindow:
    """Sums of each `training_loss` entry since the last log row, averaged over processes on pop."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.count = 0

    def add(self, outputs: dict[str, Tensor]) -> None:
        for name, value in outputs.items():
            value = value.detach().float()
            if value.numel() == 1:
                self.sums[name] = self.sums.get(name, 0) + value.reshape(())
        self.count += 1

    def pop_means(self, accelerator: Accelerator) -> dict[str, float]:
        names = sorted(self.sums)
        local = torch.stack([self.sums[name] for name in names]) / self.count
        averaged = accelerator.reduce(local, reduction="mean")
        self.sums, self.count = {}, 0
        return dict(zip(names, averaged.tolist(), strict=True))
