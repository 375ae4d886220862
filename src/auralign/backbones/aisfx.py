"""The aiSFX sound-effects CNN (Ma & Lerch, ISMIR 2022), re-implemented from its published design.

Four conv blocks (two 3x3 conv + BatchNorm + ReLU each; 64/128/256/512 channels; 2x2 max-pool after
blocks 1-3), then a mean over frequency gives one 512-d token per 8 spectrogram frames (~186 ms at
hop 1024 / 44.1 kHz). The package's clip embedding is the max of those tokens over time.
Module names match the original checkpoint so its weights load without renaming.

`AisfxEncoder` wraps the network with the Essentia-matched front end
(`auralign.audio.frontend.EssentiaMelFrontend`) as auralign's default `AudioEncoder`. At inference it
runs the network through the fast path of `auralign.backbones.aisfx_fast` (BatchNorm folded, ONNX
Runtime; exact, on by default); `AURALIGN_ENCODER=eager` or `use_precision(None)` keeps the reference
eager network.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

from auralign.audio.frontend import EssentiaMelFrontend
from auralign.backbones.aisfx_fast import PRECISIONS, TokenFn, fast_network
from auralign.backbones.base import AudioEncoder, EncoderOutput, masked_max
from auralign.errors import AuralignError, CheckpointError


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
    peak_normalize: bool = False
    # Clips with fewer frames are padded with silence frames that count as real (their tokens are
    # valid). 100 (~2.3 s) reproduces the package, which pads a short clip with silence to one
    # 100-frame block and takes the max over all its tokens: that gives the package's embedding for
    # short clips (cosine 1.0 on FSDD digits), where pooling only the clip's own tokens (8, the
    # least that yields one token) gives cosine 0.60-1.0 (mean 0.85).
    min_frames: int = 100

    @property
    def dim(self) -> int:
        return self.base_channels * 8

    @property
    def frames_per_token(self) -> int:
        return 8

    def to_dict(self) -> dict:
        return {"model_type": "aisfx", **asdict(self)}

    @classmethod
    def from_dict(cls, values: dict) -> AisfxConfig:
        """Build from a config.json dict; keys this version does not know (model_type) are ignored."""
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def frontend(self) -> EssentiaMelFrontend:
        return EssentiaMelFrontend(
            sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length,
            n_mels=self.n_mels, f_min=self.f_min, f_max=self.f_max,
            spec_min=self.spec_min, spec_max=self.spec_max, peak_normalize=self.peak_normalize,
        )


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor, pool: bool, lengths: Tensor | None = None) -> Tensor:
        x = F.relu(self.bn1(self.conv1(zero_beyond(x, lengths))))
        x = F.relu(self.bn2(self.conv2(zero_beyond(x, lengths))))
        return F.max_pool2d(x, 2) if pool else x


def zero_beyond(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Zero time steps >= each row's length in (B, C, time, freq) maps.

    A conv then sees exactly the zero padding it would see if the row were run alone, cut to its
    length, which is what makes batched results independent of the other rows.
    """
    if lengths is None:
        return x
    keep = torch.arange(x.shape[2], device=x.device) < lengths.to(x.device)[:, None]
    return x * keep[:, None, :, None].to(x.dtype)


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

    def forward(self, spec: Tensor, frame_lengths: Tensor | None = None) -> Tensor:
        """frame_lengths (B,): real frames per row; later frames are treated as absent, not silent."""
        x = spec.unsqueeze(1)
        lengths = frame_lengths
        for block in (self.conv_block1, self.conv_block2, self.conv_block3):
            x = block(x, pool=True, lengths=lengths)
            lengths = None if lengths is None else torch.div(lengths, 2, rounding_mode="floor")
        x = self.conv_block4(x, pool=False, lengths=lengths)
        return x.mean(dim=3).transpose(1, 2)


class AisfxEncoder(AudioEncoder):
    """Waveforms at 44.1 kHz -> one 512-d token per 8 frames (~186 ms); pooled = max over real tokens.

    Frozen: parameters never require grad and the network stays in eval mode under `.train()`, so
    BatchNorm always uses its pretrained statistics.

    Clips shorter than `config.min_frames` frames (default 100 frames = 100353 samples = 2.28 s, one of
    the package's blocks) are treated as zero-padded to that length and their silence tokens count as
    real, as the package does; every clip, even an empty one, gets a finite vector. Rows of a
    batch are masked to their own length inside the network, so a clip's tokens do not depend on
    what else is in the batch.
    """

    def __init__(self, config: AisfxConfig | None = None) -> None:
        super().__init__()
        self.config = config or AisfxConfig()
        self.sample_rate = self.config.sample_rate
        self.dim = self.config.dim
        self.frontend = self.config.frontend()
        self.net = AisfxNet(self.config)
        self.requires_grad_(False)
        self.eval()
        self.precision: str | None = None if os.environ.get("AURALIGN_ENCODER") == "eager" else "fp32"
        self._fast: TokenFn | None = None
        self._fast_lock = threading.Lock()

    def use_precision(self, precision: str | None) -> AisfxEncoder:
        """"fp32" (the default: folded + ONNX Runtime, exact), "bf16" or "int8" (faster, not exact: see
        docs/performance.md), or None (the eager reference network). Built on the next forward."""
        if precision is not None and precision not in PRECISIONS:
            raise AuralignError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        with self._fast_lock:
            self.precision, self._fast = precision, None
        return self

    def _network(self) -> TokenFn:
        """The network to run: the fast path when a precision is set and no gradient is wanted."""
        if self.precision is None or torch.is_grad_enabled():
            return self.net
        with self._fast_lock:
            if self._fast is None:
                self._fast = fast_network(self.net, self._weights_fingerprint(), self.config.n_mels, self.precision)
            return self._fast

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> AisfxEncoder:
        """Load config.json + model.safetensors from `path` (default: the fetched "aisfx" backbone)."""
        if path is None:
            from auralign.backbones.registry import backbone_path

            path = backbone_path("aisfx")
        folder = Path(path)
        config_file, weights_file = folder / "config.json", folder / "model.safetensors"
        for required in (config_file, weights_file):
            if not required.is_file():
                raise CheckpointError(f"{folder}: missing {required.name} (not an aiSFX backbone folder)")
        encoder = cls(AisfxConfig.from_dict(json.loads(config_file.read_text())))
        try:
            encoder.net.load_state_dict(load_file(str(weights_file)))
        except RuntimeError as error:
            raise CheckpointError(f"{weights_file}: weights do not fit the aiSFX network: {error}") from error
        return encoder

    def train(self, mode: bool = True) -> AisfxEncoder:
        super().train(mode)
        self.net.eval()
        return self

    def spectrogram(self, waveforms: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The network's input: log-mel (B, frames, mels), padded to `min_frames`, and frame lengths (B,)."""
        spec, frame_lengths = self.frontend(waveforms, lengths)
        min_frames = max(self.config.min_frames, self.config.frames_per_token)
        if spec.shape[1] < min_frames:
            spec = F.pad(spec, (0, 0, 0, min_frames - spec.shape[1]), value=self.frontend.silence_value)
        return spec, frame_lengths.clamp_min(min_frames)

    def forward(self, waveforms: Tensor, lengths: Tensor | None = None) -> EncoderOutput:
        spec, frame_lengths = self.spectrogram(waveforms, lengths)
        tokens = self._network()(spec, frame_lengths)
        token_lengths = torch.div(frame_lengths, self.config.frames_per_token, rounding_mode="floor")
        mask = torch.arange(tokens.shape[1], device=tokens.device) < token_lengths[:, None]
        return EncoderOutput(tokens=tokens, mask=mask, pooled=masked_max(tokens, mask))

    def fingerprint(self) -> str:
        """Weights + front end; an inexact precision (bf16, int8) is part of it, so caches keep apart."""
        suffix = f"-{self.precision}" if self.precision not in (None, "fp32") else ""
        return self._weights_fingerprint() + suffix

    def _weights_fingerprint(self) -> str:
        digest = hashlib.sha256(self.frontend.config_string().encode())
        digest.update(json.dumps(self.config.to_dict(), sort_keys=True).encode())
        for name, tensor in sorted(self.net.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return f"aisfx-{digest.hexdigest()[:16]}"
