"""CLAP baseline: two frozen encoders, small trainable heads, a symmetric contrastive loss.

Audio tower: the frozen audio encoder's frame tokens -> an optional small transformer -> pooling ->
projection. Text tower: the frozen text encoder (optionally its last N layers unlocked) -> mean
pooling -> projection. Both land L2-normalised in one `embed_dim` space; a learnable logit scale
sharpens the similarities.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from auralign.backbones.base import AudioEncoder, TextEncoder, masked_max, masked_mean
from auralign.errors import CheckpointError
from auralign.models.base import PretrainedModel, frozen_backbones
from auralign.models.losses import (
    INIT_LOGIT_SCALE,
    LogitScale,
    contrastive_loss,
    positives_from_labels,
    soft_cross_entropy,
)


@dataclass
class ClapConfig:
    audio_encoder: str = "aisfx"
    text_encoder: str = "minilm-l6-v2"
    embed_dim: int = 256
    audio_layers: int = 1  # transformer layers over the frame tokens; 0 = pooling only
    audio_width: int = 256
    audio_heads: int = 4
    audio_pooling: str = "meanmax"  # "mean" | "max" | "meanmax"
    max_audio_tokens: int = 64  # positional table size of the audio transformer (~12 s of aiSFX tokens)
    projection_hidden: int = 512  # hidden width of the two-layer projections; 0 = linear
    dropout: float = 0.1
    text_unlocked_layers: int = 0
    # "projection" (as the audio side) or "identity": the text encoder's own sentence space is the
    # joint space (LiT-style locked text; embed_dim must equal the text encoder's width), so labels
    # never seen in training keep the geometry the text encoder gives them.
    text_head: Literal["projection", "identity"] = "projection"
    init_logit_scale: float = INIT_LOGIT_SCALE
    # Distillation of the aiSFX classifier heads (docs/teacher.md) into the audio embedding: a linear
    # read-out of the joint embedding is trained to predict the heads' class probabilities, so the
    # embedding keeps the sound-category information the contrastive loss alone may drop. 0: off.
    teacher_weight: float = 0.0
    teacher_heads: list[str] = field(default_factory=lambda: ["prosfx", "soundlyTrain", "ucsMixed"])
    # The teacher's ConSE prior at inference (auralign.evaluation.teacher_prior): the audio embedding
    # becomes normalise((1 - w) * audio + w * sum_k p_k * text(name_k)) over the named head outputs
    # "head:index" below, whose name embeddings the checkpoint keeps. 0: off. Set by attach_prior.
    teacher_prior_weight: float = 0.0
    teacher_prior_outputs: list[str] = field(default_factory=list)


def projection(in_dim: int, hidden: int, out_dim: int, dropout: float) -> nn.Module:
    if hidden <= 0:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim))


def text_head(in_dim: int, config: ClapConfig) -> nn.Module:
    if config.text_head == "identity":
        if config.embed_dim != in_dim:
            raise CheckpointError(f"text_head 'identity' needs embed_dim = the text encoder's width ({in_dim}), "
                                  f"got {config.embed_dim}")
        return nn.Identity()
    if config.text_head != "projection":
        raise CheckpointError(f"unknown text_head {config.text_head!r}; use 'projection' or 'identity'")
    return projection(in_dim, config.projection_hidden, config.embed_dim, config.dropout)


def batch_positives(batch: dict[str, Any]) -> Tensor | None:
    """(B, B_global) positives: items of one label set (`match_ids`), or that drew one text (`text_ids`)."""
    match_ids, text_ids = batch.get("match_ids"), batch.get("text_ids")
    if match_ids is None:
        return None
    targets = positives_from_labels(match_ids)
    return targets if text_ids is None else torch.maximum(targets, positives_from_labels(text_ids))


def teacher_heads(audio_encoder: str) -> nn.Module:
    """The frozen aiSFX classifier heads that ship beside the named (or local) aiSFX encoder."""
    from auralign.backbones.aisfx_heads import AisfxHeads

    return AisfxHeads.from_pretrained(None if audio_encoder == "aisfx" else audio_encoder)


class AudioHead(nn.Module):
    """Frame tokens (B, T, D) -> one vector per clip, with an optional transformer before pooling."""

    def __init__(self, in_dim: int, config: ClapConfig) -> None:
        super().__init__()
        self.pooling = config.audio_pooling
        self.layers = config.audio_layers
        width = in_dim
        if self.layers > 0:
            width = config.audio_width
            self.input = nn.Linear(in_dim, width)
            self.position = nn.Parameter(torch.zeros(1, config.max_audio_tokens, width))
            layer = nn.TransformerEncoderLayer(width, config.audio_heads, 4 * width, config.dropout,
                                               activation="gelu", batch_first=True, norm_first=True)
            self.transformer = nn.TransformerEncoder(layer, config.audio_layers, enable_nested_tensor=False)
        pooled_dim = 2 * width if self.pooling == "meanmax" else width
        self.project = projection(pooled_dim, config.projection_hidden, config.embed_dim, config.dropout)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        if self.layers > 0:
            tokens = tokens[:, : self.position.shape[1]]
            mask = mask[:, : self.position.shape[1]]
            x = self.input(tokens) + self.position[:, : tokens.shape[1]]
            tokens = self.transformer(x, src_key_padding_mask=~mask)
        if self.pooling == "mean":
            pooled = masked_mean(tokens, mask)
        elif self.pooling == "max":
            pooled = masked_max(tokens, mask)
        else:
            pooled = torch.cat([masked_mean(tokens, mask), masked_max(tokens, mask)], dim=-1)
        return self.project(pooled)


class ClapModel(PretrainedModel):
    model_type = "clap"
    config_class = ClapConfig

    def __init__(self, config: ClapConfig, audio_encoder: AudioEncoder | None = None,
                 text_encoder: TextEncoder | None = None) -> None:
        super().__init__(config)
        self.audio_encoder, self.text_encoder = frozen_backbones(config, audio_encoder, text_encoder)
        if config.text_unlocked_layers:
            # The factory shares one encoder per process; a model that trains layers needs its own copy.
            self.text_encoder = copy.deepcopy(self.text_encoder)
            self.text_encoder.unlock_last_layers(config.text_unlocked_layers)
        self.audio_head = AudioHead(self.audio_encoder.dim, config)
        self.text_head = text_head(self.text_encoder.dim, config)
        self.logit_scale = LogitScale(config.init_logit_scale)
        if config.teacher_weight > 0 or config.teacher_prior_outputs:
            self.teacher = teacher_heads(config.audio_encoder)
        if config.teacher_prior_outputs:
            self.register_buffer("teacher_prior_vectors",
                                 torch.zeros(len(config.teacher_prior_outputs), config.embed_dim))
        if config.teacher_weight > 0:
            sizes = [self.teacher.heads[name][-1].out_features for name in config.teacher_heads]
            self.teacher_readout = nn.Linear(config.embed_dim, sum(sizes))
            self.teacher_sizes = sizes

    @cached_property
    def text_is_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.text_encoder.parameters())

    def extra_saved_tensors(self) -> set[str]:
        return {"teacher_prior_vectors"} if self.config.teacher_prior_outputs else set()

    def embed_audio_tokens(self, tokens: Tensor, mask: Tensor) -> Tensor:
        audio = F.normalize(self.audio_head(tokens, mask), dim=-1)
        weight = self.config.teacher_prior_weight
        if self.training or weight == 0 or not self.config.teacher_prior_outputs:
            return audio
        return F.normalize((1 - weight) * audio + weight * self.teacher_prior(tokens, mask), dim=-1)

    def teacher_prior(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B, E) the teacher's prior embedding: its named outputs' text embeddings weighted by their
        probabilities on the clip's tokens."""
        heads = sorted({output.split(":")[0] for output in self.config.teacher_prior_outputs})
        probabilities = self.teacher.from_tokens(tokens, mask, heads)
        weights = torch.stack([probabilities[head][:, int(index)] for head, index in
                               (output.split(":") for output in self.config.teacher_prior_outputs)], dim=1)
        return F.normalize(weights @ self.teacher_prior_vectors.to(weights.dtype), dim=-1)

    def text_features(self, texts: list[str]) -> Tensor:
        """The text encoder's pooled sentence vectors (no gradient when the encoder is locked)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.text_is_frozen):
            return self.text_encoder.encode_texts(texts).pooled

    def embed_text_features(self, features: Tensor) -> Tensor:
        return F.normalize(self.text_head(features), dim=-1)

    def embed_text(self, texts: list[str]) -> Tensor:
        return self.embed_text_features(self.text_features(texts))

    def embed_audio(self, waveforms: Tensor, lengths: Tensor | None = None) -> Tensor:
        encoded = self.audio_encoder(waveforms, lengths)
        return self.embed_audio_tokens(encoded.tokens, encoded.mask)

    def training_loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Batch: `tokens`, `mask`, and either precomputed `text_features` or raw `texts`; optional
        `match_ids` (B,) ints: items with equal ids (same clip, or same label set) are all positives
        of each other instead of negatives."""
        audio = self.embed_audio_tokens(batch["tokens"], batch["mask"])
        features = batch.get("text_features")
        if features is None:
            features = self.text_features(batch["texts"])
        text = self.embed_text_features(features)
        targets = batch_positives(batch)
        loss = contrastive_loss(audio, text, self.logit_scale(), targets)
        out = {"loss": loss, "logit_scale": self.logit_scale().detach()}
        if self.config.teacher_weight > 0:
            out["teacher_loss"] = self.teacher_loss(audio, batch["tokens"], batch["mask"])
            out["loss"] = loss + self.config.teacher_weight * out["teacher_loss"]
        return out

    def teacher_loss(self, audio: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        """Mean over the chosen heads of the cross-entropy between each head's probabilities on the
        clip's tokens and the read-out of its joint embedding."""
        with torch.no_grad():
            targets = self.teacher.from_tokens(tokens, mask, self.config.teacher_heads)
        parts = self.teacher_readout(audio).split(self.teacher_sizes, dim=-1)
        losses = [soft_cross_entropy(logits, targets[name])
                  for logits, name in zip(parts, self.config.teacher_heads, strict=True)]
        return torch.stack(losses).mean()
