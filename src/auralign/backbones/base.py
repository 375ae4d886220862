"""The three small interfaces every method builds on: AudioEncoder, TextEncoder, LanguageModel.

Methods (CLAP, CoLLAT, SLIT, MATS) only talk to these, so any backbone that implements them (the
packaged defaults, or a user's bigger Hugging Face checkpoint) plugs in unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class EncoderOutput:
    """Token states, their validity mask and one pooled vector per item.

    tokens: (B, T, D); mask: (B, T) bool, True where the token is real (not padding);
    pooled: (B, D).
    """

    tokens: Tensor
    mask: Tensor
    pooled: Tensor


@dataclass
class TokenBatch:
    input_ids: Tensor  # (B, L) long
    attention_mask: Tensor  # (B, L) long, 1 for real tokens


def masked_mean(tokens: Tensor, mask: Tensor) -> Tensor:
    """Mean over valid tokens: (B, T, D), (B, T) -> (B, D). Rows with no valid token give zeros."""
    weights = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def masked_max(tokens: Tensor, mask: Tensor) -> Tensor:
    """Max over valid tokens: (B, T, D), (B, T) -> (B, D)."""
    filled = tokens.masked_fill(~mask.unsqueeze(-1), torch.finfo(tokens.dtype).min)
    return filled.amax(1)


class AudioEncoder(nn.Module, ABC):
    """Waveforms at `sample_rate` -> frame tokens (B, T, dim), a padding mask and a pooled vector."""

    sample_rate: int
    dim: int

    @abstractmethod
    def forward(self, waveforms: Tensor, lengths: Tensor | None = None) -> EncoderOutput:
        """waveforms: (B, S) float at `self.sample_rate`; lengths: (B,) valid samples per row."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A short string that changes whenever the weights or the front end change (cache key)."""


class TextEncoder(nn.Module, ABC):
    """Tokenizer + encoder that also accepts input embeddings directly (CoLLAT's pseudo tokens)."""

    dim: int
    max_length: int

    @abstractmethod
    def tokenize(self, texts: list[str], max_length: int | None = None) -> TokenBatch: ...

    @abstractmethod
    def input_embeddings(self) -> nn.Embedding:
        """The static token-embedding table E_t (vocab, dim_in)."""

    @abstractmethod
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
    ) -> EncoderOutput:
        """Encode from token ids or from given input embeddings; pooled is the masked mean."""

    def encode_texts(self, texts: list[str]) -> EncoderOutput:
        batch = self.tokenize(texts)
        device = next(self.parameters()).device
        return self(batch.input_ids.to(device), batch.attention_mask.to(device))


class LanguageModel(nn.Module, ABC):
    """A causal LM that accepts a prefix of soft-prompt embeddings before its text."""

    hidden_size: int

    @abstractmethod
    def embed(self, input_ids: Tensor) -> Tensor: ...
