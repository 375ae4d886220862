"""Toy dual encoder + fixed random data for the trainer tests, and a script that trains it once.

Run as a script (one process, or one of several with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set) it
trains with the settings given on the command line, and the main process writes the per-step losses
and final weights to `--result` (JSON) and `<result>.safetensors`. `--sleep` slows every step, so a
test can SIGKILL the run between two checkpoints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor, nn
from torch.utils.data import Dataset

from auralign.models.losses import LogitScale, contrastive_loss
from auralign.training.config import TrainConfig
from auralign.training.trainer import Trainer

AUDIO_DIM, TEXT_DIM, EMBED_DIM = 6, 5, 4


class PairDataset(Dataset):
    """Fixed random (audio, text) feature pairs; the text is a noisy linear map of the audio."""

    def __init__(self, size: int = 32, seed: int = 123) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.audio = torch.randn(size, AUDIO_DIM, generator=generator)
        mixing = torch.randn(AUDIO_DIM, TEXT_DIM, generator=generator)
        self.text = self.audio @ mixing + 0.5 * torch.randn(size, TEXT_DIM, generator=generator)

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"audio": self.audio[index], "text": self.text[index]}


class ToyDualEncoder(nn.Module):
    def __init__(self, seed: int = 0, sleep: float = 0.0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.audio_proj = nn.Linear(AUDIO_DIM, EMBED_DIM)
        self.text_proj = nn.Linear(TEXT_DIM, EMBED_DIM)
        self.logit_scale = LogitScale()
        self.sleep = sleep

    def training_loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.sleep:
            time.sleep(self.sleep)
        audio = F.normalize(self.audio_proj(batch["audio"]), dim=-1)
        text = F.normalize(self.text_proj(batch["text"]), dim=-1)
        scale = self.logit_scale()
        return {"loss": contrastive_loss(audio, text, scale), "logit_scale": scale.detach()}


def toy_config(output_dir: Path, **overrides: object) -> TrainConfig:
    settings: dict = {
        "lr": 0.01,
        "weight_decay": 0.1,
        "warmup_steps": 2,
        "max_steps": 6,
        "batch_size": 8,
        "log_every": 1,
        "save_every": 0,
        "mixed_precision": "no",
        "output_dir": str(output_dir),
        "seed": 7,
    }
    settings.update(overrides)
    return TrainConfig(**settings)  # type: ignore[arg-type]


def train_losses(history: list[dict]) -> list[float]:
    return [row["loss"] for row in history if row["kind"] == "train"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--max-steps", type=int, default=6)
    parser.add_argument("--save-every", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = toy_config(args.output_dir, max_steps=args.max_steps, save_every=args.save_every)
    model = ToyDualEncoder(sleep=args.sleep)
    trainer = Trainer(model, config, PairDataset())
    history = trainer.fit()
    if trainer.is_main_process:
        weights = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
        save_file(weights, args.result.with_suffix(".safetensors"))
        result = {"losses": train_losses(history), "num_processes": trainer.accelerator.num_processes}
        args.result.write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
