"""The aiSFX sound-effects CNN (Ma & Lerch, ISMIR 2022), re-implemented from its published design.

Four conv blocks (two 3x3 conv + BatchNorm + ReLU each; 64/128/256/512 channels; 2x2 max-pool after
blocks 1-3), then a mean over frequency gives one 512-d token per 8 spectrogram frames (~186 ms at
hop 1024 / 44.1 kHz). The package's clip embedding is the max of those tokens over time.
Module names match the original checkpoint so its weights load without renaming.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class AisfxConfig:
    sample_rate: int = 44100
    n_fft: int = 2048
    hop_length: int = 1024
    n_mels: int = 96
    f_min: float = 0.0
    f_max: float = 22050.0
    spec_min: float = 0.0
    spec_max: float = 9.457798957824707
    base_channels: int = 64

    @property
    def dim(self) -> int:
        return self.base_channels * 8

    @property
    def frames_per_token(self) -> int:
        return 8

    def to_dict(self) -> dict:
        return {"model_type": "aisfx", **asdict(self)}


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor, pool: bool) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.max_pool2d(x, 2) if pool else x


class AisfxNet(nn.Module):
    """Spectrogram (B, time, n_mels) -> frame tokens (B, time // 8, 512)."""

    def __init__(self, config: AisfxConfig | None = None) -> None:
        super().__init__()
        config = config or AisfxConfig()
        c = config.base_channels
        self.conv_block1 = ConvBlock(1, c)
        self.conv_block2 = ConvBlock(c, 2 * c)
        self.conv_block3 = ConvBlock(2 * c, 4 * c)
        self.conv_block4 = ConvBlock(4 * c, 8 * c)

    def forward(self, spec: Tensor) -> Tensor:
        x = spec.unsqueeze(1)
        x = self.conv_block1(x, pool=True)
        x = self.conv_block2(x, pool=True)
        x = self.conv_block3(x, pool=True)
        x = self.conv_block4(x, pool=False)
        return x.mean(dim=3).transpose(1, 2)
