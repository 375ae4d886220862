"""The shared trainer: DDP equivalence, kill-and-resume, accumulation, schedules, config, checkpoints."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from _ddp_worker import PairDataset, ToyDualEncoder, toy_config, train_losses
from auralign.errors import AuralignError
from auralign.training import checkpoint as ckpt
from auralign.training.config import TrainConfig, config_from_dict, config_to_dict, load_config
from auralign.training.logging import read_log
from auralign.training.schedule import WarmupDecay, build_scheduler
from auralign.training.trainer import EpochBatchSampler, Trainer

WORKER = Path(__file__).with_name("_ddp_worker.py")
REPO = Path(__file__).resolve().parents[1]


def _worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"), **extra)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        if name not in extra:
            env.pop(name, None)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_in_process(
    output_dir: Path, resume: bool = False, **overrides: object
) -> tuple[list[dict], nn.Module]:
    model = ToyDualEncoder()
    trainer = Trainer(model, toy_config(output_dir, **overrides), PairDataset(), resume=resume)
    return trainer.fit(), model


def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    port = str(_free_port())
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                "--output-dir",
                str(tmp_path / "ddp"),
                "--result",
                str(tmp_path / "ddp.json"),
            ],
            env=_worker_env(
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                WORLD_SIZE="2",
                LOCAL_WORLD_SIZE="2",
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    single_history, single_model = _run_in_process(tmp_path / "single")  # overlaps with the workers
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output

    result = json.loads((tmp_path / "ddp.json").read_text())
    assert result["num_processes"] == 2, "the workers did not form a process group"
    ddp_losses = result["losses"]
    single_losses = train_losses(single_history)
    assert len(ddp_losses) == len(single_losses) == 6
    assert ddp_losses == pytest.approx(single_losses, abs=1e-5)
    ddp_weights = load_file(tmp_path / "ddp.safetensors")
    initial = ToyDualEncoder().state_dict()
    for name, tensor in single_model.state_dict().items():
        assert not torch.allclose(tensor, initial[name]), (
            f"{name} never moved: the comparison would be vacuous"
        )
        torch.testing.assert_close(ddp_weights[name], tensor, atol=1e-5, rtol=1e-5, msg=name)


@pytest.mark.parametrize("save_every", [3, 2])
def test_killed_run_resumes_with_the_uninterrupted_losses(tmp_path: Path, save_every: int) -> None:
    # 4 steps per epoch: with save_every 3, checkpoint 6 is in the middle of epoch 2; with 2, the run is
    # killed once checkpoint 2 (inside the first epoch) exists.
    max_steps = 10
    kill_after = 6 if save_every == 3 else 2
    killed_dir = tmp_path / "killed"
    arguments = ["--output-dir", str(killed_dir), "--result", str(tmp_path / "killed.json")]
    arguments += ["--max-steps", str(max_steps), "--save-every", str(save_every), "--sleep", "0.25"]
    run = subprocess.Popen(
        [sys.executable, str(WORKER), *arguments],
        env=_worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    reference = {
        row["step"]: row["loss"] for row in _run_in_process(tmp_path / "reference", max_steps=max_steps)[0]
    }

    target = ckpt.checkpoint_dir(killed_dir / "checkpoints", kill_after)
    deadline = time.monotonic() + 120
    while not target.is_dir():
        if run.poll() is not None or time.monotonic() > deadline:
            run.kill()
            pytest.fail(f"worker ended or stalled before checkpoint 6:\n{run.communicate()[0]}")
        time.sleep(0.02)
    assert run.poll() is None, "the run must still be going when it is killed"
    run.send_signal(signal.SIGKILL)
    run.wait()

    resumed_history, _ = _run_in_process(killed_dir, resume=True, max_steps=max_steps, save_every=save_every)
    resumed = {row["step"]: row["loss"] for row in resumed_history}
    assert min(resumed) - 1 in (kill_after - save_every, kill_after), "resumes right after the last checkpoint"
    assert max(resumed) == max_steps
    for step, loss in resumed.items():
        assert loss == pytest.approx(reference[step], abs=1e-6), step
    logged = [row["step"] for row in read_log(killed_dir / "log.jsonl") if row["kind"] == "train"]
    assert logged == list(range(1, max_steps + 1)), "rows after the checkpoint are logged once"


class _Regression(nn.Module):
    """A per-sample loss (MSE), for which accumulating micro-batches is exactly one larger batch."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(6, 1)
        self.micro_batch_sizes: list[int] = []

    def training_loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        self.micro_batch_sizes.append(len(batch["audio"]))
        prediction = self.linear(batch["audio"]).squeeze(-1)
        return {"loss": ((prediction - batch["text"][:, 0]) ** 2).mean()}


def test_gradient_accumulation_matches_the_full_batch(tmp_path: Path) -> None:
    results = {}
    for accum in (1, 2):
        model = _Regression()
        config = toy_config(tmp_path / f"accum{accum}", grad_accum_steps=accum, max_steps=5)
        history = Trainer(model, config, PairDataset()).fit()
        results[accum] = (train_losses(history), model)
        assert set(model.micro_batch_sizes) == {8 // accum}
    assert results[2][0] == pytest.approx(results[1][0], abs=1e-6)
    for name, tensor in results[1][1].state_dict().items():
        torch.testing.assert_close(results[2][1].state_dict()[name], tensor, atol=1e-6, rtol=1e-6)


def test_sampler_shards_one_global_permutation() -> None:
    single = EpochBatchSampler(32, 8, num_processes=1, process_index=0, accum_steps=1, seed=5)
    shards = [
        EpochBatchSampler(32, 8, num_processes=2, process_index=p, accum_steps=2, seed=5) for p in range(2)
    ]
    single_batches = list(single)
    shard_batches = [list(shard) for shard in shards]
    assert all(len(batch) == 2 for batches in shard_batches for batch in batches)
    for step, batch in enumerate(single_batches):
        # micro-step a of process p holds slice a*P + p of the global batch
        pieces = [shard_batches[p][step * 2 + a] for a in range(2) for p in range(2)]
        assert [index for piece in pieces for index in piece] == batch
    single.set_epoch(0, start_step=2)
    assert list(single) == single_batches[2:]
    single.set_epoch(1)
    assert list(single) != single_batches
    assert sorted(index for batch in single for index in batch) == list(range(32))


def test_schedule_values() -> None:
    cosine = WarmupDecay(warmup_steps=2, total_steps=6, kind="cosine")
    assert [cosine(step) for step in (0, 1, 2, 4, 6)] == pytest.approx([0.5, 1.0, 1.0, 0.5, 0.0])
    assert cosine(3) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    linear = WarmupDecay(warmup_steps=2, total_steps=6, kind="linear")
    assert [linear(step) for step in (0, 1, 2, 3, 5, 6)] == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.25, 0.0])
    constant = WarmupDecay(warmup_steps=4, total_steps=6, kind="constant")
    assert [constant(step) for step in (0, 3, 4, 100)] == pytest.approx([0.25, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="unknown schedule"):
        WarmupDecay(1, 2, "step")


def test_scheduler_drives_the_logged_learning_rate(tmp_path: Path) -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = build_scheduler(optimizer, warmup_steps=2, total_steps=6, kind="linear")
    seen = []
    for _ in range(6):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0.05, 0.1, 0.1, 0.075, 0.05, 0.025])
    history, _ = _run_in_process(tmp_path, schedule="linear", max_steps=6)
    assert [row["lr"] for row in history] == pytest.approx([0.005, 0.01, 0.01, 0.0075, 0.005, 0.0025])


@dataclass
class _ModelSection:
    hidden: int = 8
    layers: list[int] = field(default_factory=lambda: [1, 2])
    dropout: float | None = None
    name: str = "tiny"


@dataclass
class _MethodConfig:
    model: _ModelSection = field(default_factory=_ModelSection)
    train: TrainConfig = field(default_factory=TrainConfig)
    tag: str = "run"


def test_config_from_yaml_and_overrides(tmp_path: Path) -> None:
    yaml_file = tmp_path / "method.yaml"
    yaml_file.write_text(
        "tag: base\nmodel:\n  hidden: 16\ntrain:\n  lr: 1e-4\n  betas: [0.9, 0.95]\n  tensorboard: true\n"
    )
    config = load_config(
        _MethodConfig,
        yaml_file,
        ["train.lr=3e-4", "train.max_steps=100", "model.layers=[4,5,6]", "model.dropout=0.1", "tag=123"],
    )
    assert config.tag == "123"  # typed as str: the override text is kept as is
    assert config.model.hidden == 16 and config.model.layers == [4, 5, 6] and config.model.dropout == 0.1
    assert config.train.lr == 3e-4 and config.train.max_steps == 100
    assert config.train.betas == (0.9, 0.95) and config.train.tensorboard is True
    assert load_config(_MethodConfig, None, ["model.dropout=none", "train.betas=0.8,0.9"]).train.betas == (
        0.8,
        0.9,
    )
    assert config_from_dict(_MethodConfig, config_to_dict(config)) == config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=1", "unknown config key train.lrr"),
        ("modle.hidden=1", "unknown config key modle"),
        ("model.hidden=abc", "model.hidden: expected int"),
        ("model.hidden=1.5", "model.hidden: expected int"),
        ("train.tensorboard=maybe", "train.tensorboard: expected bool"),
        ("train.schedule=step", "train.schedule"),
        ("train.betas=[0.9]", "expected 2 values"),
        ("train.batch_size=0", "batch_size must be >= 1"),
        ("train.max_steps", "key=value"),
        ("model.hidden.x=1", "model.hidden: expected int"),
    ],
)
def test_config_errors_name_the_key(override: str, message: str) -> None:
    with pytest.raises(AuralignError, match=message.replace("[", r"\[")):
        load_config(_MethodConfig, None, [override])


def test_checkpoints_are_safetensors_and_json_and_pruned(tmp_path: Path) -> None:
    _run_in_process(tmp_path, max_steps=6, save_every=2, keep_last=2)
    root = tmp_path / "checkpoints"
    assert sorted(path.name for path in root.iterdir()) == ["ckpt-000004", "ckpt-000006", "latest"]
    assert (root / "latest").read_text().strip() == "ckpt-000006"
    suffixes = {path.suffix for path in (root / "ckpt-000006").iterdir()}
    assert suffixes == {".json", ".safetensors"}
    assert json.loads((root / "ckpt-000006" / "config.json").read_text())["max_steps"] == 6


def test_optimizer_state_round_trips_through_safetensors_and_json() -> None:
    model = ToyDualEncoder()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model.training_loss(PairDataset()[list(range(8))])["loss"].backward()
    optimizer.step()
    tensors, saved_json = ckpt.flatten_optimizer_state(optimizer.state_dict())
    restored = ckpt.unflatten_optimizer_state(tensors, json.loads(json.dumps(saved_json)))
    original = optimizer.state_dict()
    assert restored["state"].keys() == original["state"].keys()
    for index, state in original["state"].items():
        for name, value in state.items():
            torch.testing.assert_close(restored["state"][index][name], value)


def test_resume_ignores_a_leftover_tmp_folder(tmp_path: Path) -> None:
    _run_in_process(tmp_path, max_steps=4, save_every=2)
    root = tmp_path / "checkpoints"
    leftover = ckpt.staging_dir(root, 6)
    leftover.mkdir()
    (leftover / "trainer_state.json").write_text('{"step": 6, "epoch"')  # half-written
    (root / "latest").unlink()  # also exercise the fallback scan
    assert ckpt.find_latest_checkpoint(root) == ckpt.checkpoint_dir(root, 4)

    history, _ = _run_in_process(tmp_path, resume=True, max_steps=6, save_every=2)
    assert [row["step"] for row in history] == [5, 6]
    assert not leftover.exists(), "a later save clears abandoned staging folders"
    assert ckpt.find_latest_checkpoint(root) == ckpt.checkpoint_dir(root, 6)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_resume_falls_back_from_a_damaged_latest_checkpoint(tmp_path: Path, damage: str,
                                                            capsys: pytest.CaptureFixture) -> None:
    _run_in_process(tmp_path, max_steps=4, save_every=2, keep_last=0)
    weights = ckpt.checkpoint_dir(tmp_path / "checkpoints", 4) / "model.safetensors"
    data = weights.read_bytes()
    if damage == "truncate":
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        weights.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    elif damage == "delete":
        weights.unlink()
    else:
        (weights.parent / ckpt.MANIFEST).write_text("{not json")
    with (tmp_path / "log.jsonl").open("a") as log:
        log.write('{"kind": "train", "step": 5, "lo')  # a line cut by the kill
    history, _ = _run_in_process(tmp_path, resume=True, max_steps=6, save_every=2, keep_last=0)
    assert [row["step"] for row in history] == [3, 4, 5, 6], "resumed from checkpoint 2"
    err = capsys.readouterr().err
    assert "skipped checkpoint" in err and "ckpt-000004" in err
    assert [row["step"] for row in read_log(tmp_path / "log.jsonl")] == [1, 2, 3, 4, 5, 6]


def test_resume_with_every_checkpoint_damaged_is_one_error(tmp_path: Path) -> None:
    _run_in_process(tmp_path, max_steps=2, save_every=2)
    (ckpt.checkpoint_dir(tmp_path / "checkpoints", 2) / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(AuralignError, match="no checkpoint could be resumed"):
        _run_in_process(tmp_path, resume=True, max_steps=4)


def test_seeding_before_the_build_gives_identical_runs(tmp_path: Path) -> None:
    weights = []
    for name in ("a", "b"):
        ckpt.prepare_output_dir(tmp_path / name, resume=False, overwrite=False, seed=7)
        model = nn.Linear(4, 4)
        weights.append(model.weight.detach().clone())
    torch.testing.assert_close(weights[0], weights[1])


def test_resume_without_a_checkpoint_starts_fresh(tmp_path: Path) -> None:
    history, _ = _run_in_process(tmp_path, resume=True, max_steps=2)
    assert [row["step"] for row in history] == [1, 2]


def test_rng_state_round_trips(tmp_path: Path) -> None:
    import random

    import numpy as np

    ckpt.write_rng_state(tmp_path, rank=0)
    expected = (random.random(), np.random.rand(), torch.rand(3))
    ckpt.restore_rng_state(tmp_path, rank=0)
    assert random.random() == expected[0]
    assert np.random.rand() == expected[1]
    torch.testing.assert_close(torch.rand(3), expected[2], atol=0, rtol=0)


class _SavingDualEncoder(ToyDualEncoder):
    def save_pretrained(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / "marker.json").write_text("{}")


def test_eval_rows_log_and_save_pretrained(tmp_path: Path) -> None:
    calls: list[tuple[int, bool, bool]] = []

    def eval_fn(model: nn.Module, step: int) -> dict[str, float]:
        calls.append((step, model.training, torch.is_grad_enabled()))
        return {"recall": step / 10}

    model = _SavingDualEncoder()
    history = Trainer(
        model, toy_config(tmp_path, max_steps=5, eval_every=2), PairDataset(), eval_fn=eval_fn
    ).fit()
    assert calls == [(2, False, False), (4, False, False), (5, False, False)]
    assert model.training, "back in train mode after evaluating"
    logged = read_log(tmp_path / "log.jsonl")
    assert logged == history
    assert [row["step"] for row in logged if row["kind"] == "eval"] == [2, 4, 5]
    train_row = next(row for row in logged if row["kind"] == "train")
    assert {"step", "epoch", "loss", "lr", "time", "grad_norm", "logit_scale"} <= set(train_row)
    assert (tmp_path / "final" / "marker.json").is_file()


def test_bf16_autocast_runs_on_cpu(tmp_path: Path) -> None:
    full = train_losses(_run_in_process(tmp_path / "fp32", max_steps=3)[0])
    bf16 = train_losses(_run_in_process(tmp_path / "bf16", max_steps=3, mixed_precision="bf16")[0])
    assert bf16 != full, "autocast was not applied"
    assert bf16 == pytest.approx(full, abs=0.1)


def test_model_without_training_loss_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(AuralignError, match="training_loss"):
        Trainer(nn.Linear(2, 2), toy_config(tmp_path), PairDataset())
