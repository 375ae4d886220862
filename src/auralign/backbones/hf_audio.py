"""A local Hugging Face audio model (AST, or anything AutoModel + AutoFeatureExtractor load) as an
`AudioEncoder`.

The feature extractor runs on CPU numpy arrays, so no gradient reaches the waveform; the encoder is
frozen anyway. `pooled` is the model's own pooler output when it has one (AST: mean of its CLS and
distillation tokens), else the masked mean of the tokens. The token mask is all True unless the
feature extractor returns a sample-level attention mask, which is then mapped proportionally onto
the output frames (AST pads every clip to its fixed 1024 frames itself, so all its tokens are valid).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
from torch import Tensor
from transformers import AutoFeatureExtractor, AutoModel, PreTrainedModel

from auralign.backbones.base import AudioEncoder, EncoderOutput, masked_mean


class HFAudioEncoder(AudioEncoder):
    def __init__(self, model: PreTrainedModel, feature_extractor) -> None:
        super().__init__()
        self.model = model
        self.feature_extractor = feature_extractor
        self.sample_rate = int(feature_extractor.sampling_rate)
        self.dim = int(model.config.hidden_size)
        self._fingerprint: str | None = None
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_pretrained(cls, path: str | Path) -> HFAudioEncoder:
        return cls(AutoModel.from_pretrained(path), AutoFeatureExtractor.from_pretrained(path))

    def train(self, mode: bool = True) -> HFAudioEncoder:
        """The frozen model stays in eval mode (no dropout) whatever `mode` is."""
        super().train(mode)
        self.model.eval()
        return self

    def forward(self, waveforms: Tensor, lengths: Tensor | None = None) -> EncoderOutput:
        if lengths is None:
            lengths = torch.full((waveforms.shape[0],), waveforms.shape[1], dtype=torch.long)
        clips = [row[: int(n)].detach().float().cpu().numpy() for row, n in zip(waveforms, lengths, strict=True)]
        features = self.feature_extractor(
            clips, sampling_rate=self.sample_rate, return_tensors="pt", padding=True
        )
        device = next(self.model.parameters()).device
        sample_mask = features.pop("attention_mask", None)
        inputs = {name: value.to(device) for name, value in features.items()}
        output = self.model(**inputs)
        tokens = output.last_hidden_state
        mask = _frame_mask(sample_mask, tokens.shape[0], tokens.shape[1]).to(device)
        pooler = getattr(output, "pooler_output", None)
        pooled = pooler if pooler is not None else masked_mean(tokens, mask)
        return EncoderOutput(tokens=tokens, mask=mask, pooled=pooled)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256(json.dumps(self.feature_extractor.to_dict(), sort_keys=True).encode())
            digest.update(self.model.config.to_json_string(use_diff=False).encode())
            for name, tensor in sorted(self.model.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
            self._fingerprint = f"{self.model.config.model_type}-{digest.hexdigest()[:16]}"
        return self._fingerprint


def _frame_mask(sample_mask: Tensor | None, batch_size: int, n_frames: int) -> Tensor:
    """(B, S) sample mask -> (B, n_frames), keeping the same valid fraction of each row."""
    if sample_mask is None:
        return torch.ones(batch_size, n_frames, dtype=torch.bool)
    fractions = sample_mask.sum(1).double() / sample_mask.shape[1]
    valid = torch.tensor([max(1, math.ceil(f * n_frames)) for f in fractions.tolist()])
    return torch.arange(n_frames) < valid[:, None]
