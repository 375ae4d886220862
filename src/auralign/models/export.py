"""Export a joint-embedding model's towers to ONNX, and check each file against the PyTorch model.

Written to one folder:
- `audio_encoder.onnx`: the aiSFX network with BatchNorm folded, log-mel spectrogram (B, frames, mels)
  + frame lengths (B,) -> frame tokens (B, frames // 8, 512). The front end is the documented Essentia
  log-mel (`auralign.audio.frontend`), left in PyTorch/NumPy because the ONNX STFT is not exact;
- `audio_head.onnx`: frame tokens (B, T, 512) + mask (B, T) -> the model's L2-normalised audio embedding;
- `text_tower.onnx`: token ids + attention mask (B, L) -> the L2-normalised text embedding (text encoder
  and head together), with the text encoder's tokenizer files copied beside it (`tokenizer/`);
- `export.json`: what each file takes and gives, and the parity measured at export.

Parity: every file is run by ONNX Runtime on real-shaped inputs and compared with the PyTorch model;
the export fails if any embedding's cosine is under `MIN_COSINE`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from auralign.backbones.aisfx import AisfxEncoder
from auralign.backbones.aisfx_fast import FoldedAisfxNet, export_onnx
from auralign.errors import AuralignError
from auralign.models.base import AudioTextEmbedder

MIN_COSINE = 0.9999
PARITY_TEXTS = ["a dog barking", "rain on a tin roof at night", "someone typing on a keyboard", "a car horn"]


class _AudioHead(nn.Module):
    def __init__(self, model: AudioTextEmbedder) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        return self.model.embed_audio_tokens(tokens, mask)


class _TextTower(nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.model.embed_text_features(self.model.text_encoder(input_ids, attention_mask).pooled)


def export_model(model: Any, out: Path) -> dict[str, Any]:
    """Write the three ONNX files + tokenizer + export.json to `out`; returns the export.json content."""
    if not isinstance(model, AudioTextEmbedder) or not hasattr(model, "embed_text_features"):
        raise AuralignError(f"{type(model).__name__} has no audio and text towers to export (CLAP-like models only)")
    if not isinstance(model.audio_encoder, AisfxEncoder):
        raise AuralignError("ONNX export supports the aiSFX audio encoder only")
    import onnxruntime as ort

    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    encoder = model.audio_encoder
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        waves = torch.randn(3, encoder.sample_rate * 4, generator=generator) * 0.1
        lengths = torch.tensor([waves.shape[1], waves.shape[1] // 2, waves.shape[1] // 3])
        spec, frame_lengths = encoder.spectrogram(waves, lengths)
        previous = encoder.precision
        try:
            reference = encoder.use_precision(None)(waves, lengths)  # the eager reference network
        finally:
            encoder.use_precision(previous)
        batch = model.text_encoder.tokenize(PARITY_TEXTS)
        text_reference = model.embed_text(PARITY_TEXTS)
        audio_reference = model.embed_audio_tokens(reference.tokens, reference.mask)
    folded = FoldedAisfxNet(encoder.net)
    files = {
        "audio_encoder.onnx": (folded, (spec, frame_lengths), ["spec", "frame_lengths"], ["tokens"],
                               {"spec": {0: "batch", 1: "frames"}, "frame_lengths": {0: "batch"},
                                "tokens": {0: "batch", 1: "tokens"}}),
        "audio_head.onnx": (_AudioHead(model), (reference.tokens, reference.mask), ["tokens", "mask"], ["embedding"],
                            {"tokens": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}}),
        "text_tower.onnx": (_TextTower(model), (batch.input_ids, batch.attention_mask),
                            ["input_ids", "attention_mask"], ["embedding"],
                            {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"}}),
    }
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # its fused transformer kernel has no ONNX form
    try:
        with torch.no_grad():
            for name, (module, inputs, names, outputs, axes) in files.items():
                export_onnx(module, inputs, out / name, names, outputs, axes)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    sessions = {name: ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"]) for name in files}

    def run(name: str, **feeds: Tensor) -> Tensor:
        return torch.from_numpy(sessions[name].run(None, {k: v.numpy() for k, v in feeds.items()})[0])

    tokens = run("audio_encoder.onnx", spec=spec, frame_lengths=frame_lengths)[:, : reference.tokens.shape[1]]
    parity = {
        "audio_encoder_max_abs_diff": float((tokens - reference.tokens).abs().max()),
        "audio_end_to_end_min_cosine": _min_cosine(run("audio_head.onnx", tokens=tokens, mask=reference.mask),
                                                   audio_reference),
        "text_tower_min_cosine": _min_cosine(run("text_tower.onnx", input_ids=batch.input_ids,
                                                 attention_mask=batch.attention_mask), text_reference),
    }
    if min(parity["audio_end_to_end_min_cosine"], parity["text_tower_min_cosine"]) < MIN_COSINE:
        raise AuralignError(f"ONNX export does not match the model: {parity}")
    model.text_encoder.tokenizer.save_pretrained(str(out / "tokenizer"))
    info = {"files": {name: {"inputs": spec_[2], "outputs": spec_[3]} for name, spec_ in files.items()},
            "frontend": encoder.frontend.config_string(), "sample_rate": encoder.sample_rate,
            "frames_per_token": encoder.config.frames_per_token, "min_frames": encoder.config.min_frames,
            "parity": parity}
    (out / "export.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _min_cosine(a: Tensor, b: Tensor) -> float:
    return float(np.round(torch.nn.functional.cosine_similarity(a, b).min().item(), 6))
