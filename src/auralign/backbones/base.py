"""The three small interfaces every method builds on: AudioEncoder, TextEncoder, LanguageModel.

Methods (CLAP, CoLLAT, SLIT, MATS) only talk to these, so any backbone that implements them (the
packaged defaults, or a user's bigger Hugging Face checkpoint) plugs in unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn

# Re-exported: decoding options live in a torch-free module so the CLI can build them cheaply.
from auralign.backbones.decoding import GREEDY as GREEDY
from auralign.backbones.decoding import Decoding as Decoding


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
    """Tokenizer + encoder that also accepts input embeddings directly (CoLLAT's pseudo tokens).

    Frozen by default: every parameter has requires_grad False and the module stays in eval mode
    (dropout off) even under `.train()`, except layers explicitly unlocked with `unlock_last_layers`.
    """

    dim: int
    max_length: int

    @abstractmethod
    def tokenize(self, texts: list[str], max_length: int | None = None) -> TokenBatch:
        """Pad to the longest text and truncate to `max_length` (default `self.max_length`)."""

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

    @abstractmethod
    def unlock_last_layers(self, n: int) -> None:
        """Make the last `n` transformer layers trainable (and follow `.train()`); 0 re-freezes all."""

    def encode_texts(self, texts: list[str]) -> EncoderOutput:
        batch = self.tokenize(texts)
        device = next(self.parameters()).device
        return self(batch.input_ids.to(device), batch.attention_mask.to(device))


@dataclass
class LMInputs:
    """A batch ready for a causal LM: embeddings, attention mask and labels (-100 = no loss)."""

    inputs_embeds: Tensor  # (B, L, H)
    attention_mask: Tensor  # (B, L) long, 1 for real positions (prefix, prompt, target)
    labels: Tensor  # (B, L) long, -100 except on target tokens and their closing EOS


class LanguageModel(nn.Module, ABC):
    """A causal LM that accepts a prefix of soft-prompt embeddings before its text.

    Frozen by default (requires_grad False, eval mode); `add_lora` makes only adapter weights trainable.
    `prefix_embeds` is (B, P, hidden_size) or None everywhere; where it goes relative to the chat
    template is documented by the implementation.
    """

    hidden_size: int

    @abstractmethod
    def embed(self, input_ids: Tensor) -> Tensor:
        """Token ids (B, L) -> the LM's input embeddings (B, L, hidden_size)."""

    @abstractmethod
    def build_inputs(
        self,
        prefix_embeds: Tensor | None,
        prompts: list[str],
        targets: list[str] | None = None,
        chat_template: bool = True,
    ) -> LMInputs:
        """Right-padded [prefix][prompt][target EOS] rows; labels only on target + EOS."""

    @abstractmethod
    def forward(self, inputs: LMInputs) -> Tensor:
        """Mean cross-entropy over the label positions of `inputs`."""

    def loss(
        self,
        prefix_embeds: Tensor | None,
        prompts: list[str],
        targets: list[str],
        chat_template: bool = True,
    ) -> Tensor:
        return self(self.build_inputs(prefix_embeds, prompts, targets, chat_template))

    @abstractmethod
    def generate(
        self,
        prefix_embeds: Tensor | None,
        prompts: list[str],
        decoding: Decoding | None = None,
        chat_template: bool = True,
    ) -> list[str]:
        """One string per prompt, decoded as `decoding` says (default: `Decoding()`)."""

    @abstractmethod
    def score_candidates(
        self,
        prefix_embeds: Tensor | None,
        prompt: str,
        candidates: list[str],
        reduction: str = "sum",
        chat_template: bool = True,
    ) -> Tensor:
        """(n_candidates,) log-likelihood of each candidate (+ EOS) after one prefix (1, P, H) + prompt.

        reduction: "sum" (total log-probability) or "mean" (per token, length-normalised).
        """

    @abstractmethod
    def add_lora(
        self,
        r: int = 8,
        alpha: float = 32.0,
        dropout: float = 0.1,
        target_modules: list[str] | None = None,
    ) -> None: ...

    @abstractmethod
    def lora_state_dict(self) -> dict[str, Tensor]:
        """Only the adapter weights (what a checkpoint needs to store)."""

    @abstractmethod
    def load_lora_state_dict(self, state: dict[str, Tensor]) -> None: ...
